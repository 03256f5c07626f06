//! Starts the `alexa-sandbox` binary on an ephemeral loopback port and talks to its control API.

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

pub const CLIENT_ID: &str = "amzn1.application-oa2-client.test";
pub const CLIENT_SECRET: &str = "test-client-secret-Zx81";

pub struct Sandbox {
    child: Child,
    pub url: String,
    api_url: String,
    token_url: String,
    http: reqwest::Client,
}

impl Sandbox {
    /// Starts `binary` (the project's, [`crate::Project::sandbox`]), quiet unless `log` is
    /// given, where it prints what Alexa would say.
    pub async fn start(binary: &Path, log: Option<&Path>) -> Sandbox {
        let mut command = Command::new(binary);
        command
            .args([
                "--port",
                "0",
                "--client-id",
                CLIENT_ID,
                "--client-secret",
                CLIENT_SECRET,
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true);
        if log.is_none() {
            command.arg("--quiet");
        }
        let mut child = command.spawn().expect("alexa-sandbox starts");
        let stdout = child.stdout.take().expect("piped stdout");
        let mut lines = BufReader::new(stdout).lines();
        let first = tokio::time::timeout(Duration::from_secs(10), lines.next_line())
            .await
            .expect("alexa-sandbox prints its address within 10 s")
            .expect("stdout readable")
            .expect("a first line");
        let url = first
            .rsplit(' ')
            .next()
            .expect("the address ends the first line")
            .to_owned();
        // Keep draining stdout (into the log, if any) so the sandbox never blocks on a full pipe.
        let mut file = log.map(|path| std::fs::File::create(path).expect("sandbox log file"));
        tokio::spawn(async move {
            use std::io::Write;
            while let Ok(Some(line)) = lines.next_line().await {
                if let Some(file) = file.as_mut() {
                    let _ = writeln!(file, "{line}");
                }
            }
        });
        Sandbox {
            child,
            api_url: format!("{url}/{{region}}"),
            token_url: format!("{url}/auth/o2/token"),
            url,
            http: crate::http_client(),
        }
    }

    pub fn token_url(&self) -> &str {
        &self.token_url
    }

    /// For ALEXA_API_URL: the sandbox tells the regions apart by this prefix.
    pub fn api_url(&self) -> &str {
        &self.api_url
    }

    /// The environment that points the function at this sandbox and at a moto server
    /// (`aws_endpoint`) holding the credentials secret `secret`.
    pub fn function_env<'a>(
        &'a self,
        skill_id: &'a str,
        secret: &'a str,
        aws_endpoint: &'a str,
    ) -> Vec<(&'static str, Option<&'a str>)> {
        vec![
            ("ALEXA_SKILL_ID", Some(skill_id)),
            ("ALEXA_CREDENTIALS_SECRET", Some(secret)),
            ("ALEXA_API_URL", Some(self.api_url())),
            ("LWA_TOKEN_URL", Some(self.token_url())),
            ("AWS_ENDPOINT_URL", Some(aws_endpoint)),
            ("AWS_ACCESS_KEY_ID", Some("test")),
            ("AWS_SECRET_ACCESS_KEY", Some("test")),
            ("AWS_REGION", Some("us-east-1")),
            // Never ask the EC2 metadata service (not loopback) for credentials or region.
            ("AWS_EC2_METADATA_DISABLED", Some("true")),
            ("AWS_PROFILE", None),
        ]
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let response = self
            .http
            .post(format!("{}/sandbox/{path}", self.url))
            .json(&body)
            .send()
            .await
            .expect("sandbox control answers");
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "sandbox {path}: {status} {value}");
        value
    }

    pub async fn fault(&self, fault: Value) {
        self.control("fault", fault).await;
    }

    /// Per user (the Unicast's audience), the accepted events: (referenceId, region).
    pub async fn unicasts(&self) -> std::collections::BTreeMap<String, Vec<(String, String)>> {
        let state = self.state().await;
        let mut out: std::collections::BTreeMap<String, Vec<(String, String)>> =
            std::collections::BTreeMap::new();
        for accepted in state["accepted"].as_array().into_iter().flatten() {
            out.entry(accepted["audience"].as_str().unwrap_or("-").to_owned())
                .or_default()
                .push((
                    accepted["referenceId"].as_str().unwrap_or("-").to_owned(),
                    accepted["region"].as_str().unwrap_or("-").to_owned(),
                ));
        }
        out
    }

    pub async fn state(&self) -> Value {
        self.http
            .get(format!("{}/sandbox/state", self.url))
            .send()
            .await
            .expect("sandbox state answers")
            .json()
            .await
            .expect("sandbox state is JSON")
    }

    /// Switches Alexa's (assumed) duplicate detection on or off. Off, a repeated referenceId
    /// is accepted and counted, so a test sees every notification sent twice.
    pub async fn dedupe(&self, enabled: bool) {
        self.control("dedupe", json!({"enabled": enabled})).await;
    }

    /// Registers (or replaces) a device for the Device Address API: Alexa sent `token` as the
    /// `apiAccessToken` of its requests, `address` is its (countryCode, postalCode) or `None`
    /// for no address entered (answered 204), `granted` whether the customer gave the skill
    /// the country-and-postal-code permission, and `region` the one prefix its token works at
    /// ("NA", "EU", "FE") or "ANY" for every prefix. Other settings, such as `"empty": "null"`
    /// (200 with null fields instead of 204), go through [`Sandbox::control`]`("devices", ..)`.
    pub async fn device(
        &self,
        device_id: &str,
        token: &str,
        address: Option<(&str, &str)>,
        granted: bool,
        region: &str,
    ) {
        let (country_code, postal_code) = address.unzip();
        self.control(
            "devices",
            json!({
                "deviceId": device_id,
                "apiAccessToken": token,
                "countryCode": country_code,
                "postalCode": postal_code,
                "granted": granted,
                "region": region,
            }),
        )
        .await;
    }

    /// The address API's URL for `device_id` at `region`'s prefix ("na", "eu", "fe"), or
    /// without one for `None`: what the function asks once ALEXA_API_URL is filled in.
    pub fn address_url(&self, region: Option<&str>, device_id: &str) -> String {
        let prefix = region.map(|r| format!("/{r}")).unwrap_or_default();
        format!(
            "{}{prefix}/v1/devices/{device_id}/settings/address/countryAndPostalCode",
            self.url
        )
    }

    pub async fn reset(&self) {
        self.control("reset", json!({})).await;
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
