//! The alexa-sandbox's Device Address API answers as strictly as Alexa's: the country and
//! postal code for the device's own `apiAccessToken`, in its region, with the permission
//! granted; the same 403 otherwise; 204 without an address (or 200 with nulls, where the
//! device asks for it); the faults switched on for target "address"; and an
//! `x-amzn-RequestId` on every answer. The function will be tested against it, so it must
//! first be shown to refuse what Alexa refuses. Each test starts its own sandbox on loopback,
//! bounds every wait and stops it.

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use testkit::project;
use testkit::sandbox::Sandbox;

const DEVICE: &str = "amzn1.ask.device.AEXAMPLEDEVICE1";
const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.device-one";
const OTHER_DEVICE: &str = "amzn1.ask.device.AEXAMPLEDEVICE2";
const OTHER_TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.device-two";

async fn start() -> Sandbox {
    Sandbox::start(&project!().sandbox, None).await
}

fn http() -> reqwest::Client {
    let _ = testkit::http_client();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .no_proxy()
        .build()
        .expect("an HTTP client")
}

#[derive(Debug)]
struct Got {
    status: u16,
    request_id: Option<String>,
    content_type: Option<String>,
    body: String,
}

impl Got {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).expect("a JSON body")
    }
}

/// A GET of `url` with `Authorization: Bearer <token>` (none for `None`).
async fn ask(url: &str, token: Option<&str>) -> Got {
    send(http().get(url), token).await
}

async fn send(request: reqwest::RequestBuilder, token: Option<&str>) -> Got {
    let request = match token {
        Some(token) => request.bearer_auth(token),
        None => request,
    };
    let response = request.send().await.expect("the sandbox answers");
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let (request_id, content_type) = (header("x-amzn-requestid"), header("content-type"));
    Got {
        status: response.status().as_u16(),
        request_id,
        content_type,
        body: response.text().await.expect("a readable body"),
    }
}

fn assert_forbidden(got: &Got) {
    assert_eq!(got.status, 403, "{got:?}");
    assert_eq!(
        got.json(),
        json!({"type": "FORBIDDEN", "message": "The authentication token is not valid."})
    );
    assert!(got.request_id.is_some(), "{got:?}");
}

/// The reasons the sandbox recorded for its refusals, oldest first.
async fn reasons(sandbox: &Sandbox) -> Vec<String> {
    sandbox.state().await["addressRefused"]
        .as_array()
        .expect("addressRefused")
        .iter()
        .map(|r| r["reason"].as_str().unwrap_or_default().to_owned())
        .collect()
}

#[tokio::test]
async fn the_device_gets_its_country_and_postal_code() {
    let sandbox = start().await;
    sandbox
        .device(DEVICE, TOKEN, Some(("US", "73019")), true, "NA")
        .await;
    let got = ask(&sandbox.address_url(Some("na"), DEVICE), Some(TOKEN)).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.content_type.as_deref(), Some("application/json"));
    assert_eq!(got.body, r#"{"countryCode":"US","postalCode":"73019"}"#);
    assert!(
        got.request_id
            .as_deref()
            .is_some_and(|id| id.starts_with("sandbox-")),
        "{got:?}"
    );
    let state = sandbox.state().await;
    assert_eq!(state["devices"], 1);
    assert_eq!(state["addressRequests"], 1);
    assert_eq!(state["addressRequestsByRegion"], json!({"NA": 1}));
    assert_eq!(state["addressRefused"], json!([]));
    sandbox.stop().await;
}

#[tokio::test]
async fn without_the_permission_the_answer_is_403() {
    let sandbox = start().await;
    sandbox
        .device(DEVICE, TOKEN, Some(("US", "73019")), false, "NA")
        .await;
    assert_forbidden(&ask(&sandbox.address_url(Some("na"), DEVICE), Some(TOKEN)).await);
    // Granted later (the customer ticked the box in the Alexa app): the same token now works.
    sandbox
        .device(DEVICE, TOKEN, Some(("US", "73019")), true, "NA")
        .await;
    let got = ask(&sandbox.address_url(Some("na"), DEVICE), Some(TOKEN)).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(
        reasons(&sandbox).await,
        ["the customer has not granted the address permission"]
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn a_missing_unknown_or_other_devices_token_is_403() {
    let sandbox = start().await;
    sandbox
        .device(DEVICE, TOKEN, Some(("US", "73019")), true, "ANY")
        .await;
    sandbox
        .device(
            OTHER_DEVICE,
            OTHER_TOKEN,
            Some(("DE", "10115")),
            true,
            "ANY",
        )
        .await;
    let url = sandbox.address_url(Some("na"), DEVICE);
    assert_forbidden(&ask(&url, None).await);
    assert_forbidden(&ask(&url, Some("not-a-token")).await);
    assert_forbidden(&ask(&url, Some(OTHER_TOKEN)).await);
    // Not "Bearer": the token alone in the header.
    let bare = http().get(&url).header("Authorization", TOKEN);
    assert_forbidden(&send(bare, None).await);
    // A device nobody registered, even with a known token.
    assert_forbidden(
        &ask(
            &sandbox.address_url(Some("na"), "amzn1.ask.device.UNKNOWN"),
            Some("not-a-token"),
        )
        .await,
    );
    // Replaced with a new token: the old one no longer works.
    sandbox
        .device(DEVICE, "a-new-token", Some(("US", "73019")), true, "ANY")
        .await;
    assert_forbidden(&ask(&url, Some(TOKEN)).await);
    assert_eq!(
        reasons(&sandbox).await,
        [
            "missing Authorization: Bearer <apiAccessToken>",
            "unknown token",
            &format!("the token was issued for device {OTHER_DEVICE}"),
            "missing Authorization: Bearer <apiAccessToken>",
            "unknown device and unknown token",
            "unknown token",
        ]
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn the_token_works_only_in_the_devices_region() {
    let sandbox = start().await;
    sandbox
        .device(DEVICE, TOKEN, Some(("US", "73019")), true, "NA")
        .await;
    sandbox
        .device(
            OTHER_DEVICE,
            OTHER_TOKEN,
            Some(("DE", "10115")),
            true,
            "ANY",
        )
        .await;
    for region in [Some("eu"), Some("fe"), None] {
        assert_forbidden(&ask(&sandbox.address_url(region, DEVICE), Some(TOKEN)).await);
    }
    for region in [Some("na"), Some("eu"), Some("fe"), None] {
        let got = ask(
            &sandbox.address_url(region, OTHER_DEVICE),
            Some(OTHER_TOKEN),
        )
        .await;
        assert_eq!(
            (got.status, got.json()),
            (200, json!({"countryCode": "DE", "postalCode": "10115"})),
            "{region:?}"
        );
    }
    assert_eq!(
        reasons(&sandbox).await,
        [
            "the device's token is for region NA, asked at EU",
            "the device's token is for region NA, asked at FE",
            "the device's token is for region NA, asked at ANY",
        ]
    );
    let by_region = &sandbox.state().await["addressRequestsByRegion"];
    assert_eq!(
        *by_region,
        json!({"NA": 1, "EU": 2, "FE": 2, "ANY": 2}),
        "{by_region}"
    );
    sandbox.stop().await;
}

#[tokio::test]
async fn no_address_is_204_with_no_body_or_200_with_nulls_where_asked() {
    let sandbox = start().await;
    sandbox.device(DEVICE, TOKEN, None, true, "EU").await;
    let got = ask(&sandbox.address_url(Some("eu"), DEVICE), Some(TOKEN)).await;
    assert_eq!(got.status, 204, "{got:?}");
    assert_eq!(got.body, "");
    assert_eq!(got.content_type, None);
    assert!(got.request_id.is_some(), "{got:?}");
    sandbox
        .control(
            "devices",
            json!({"deviceId": DEVICE, "apiAccessToken": TOKEN, "region": "EU", "empty": "null",
                "countryCode": null, "postalCode": null}),
        )
        .await;
    let got = ask(&sandbox.address_url(Some("eu"), DEVICE), Some(TOKEN)).await;
    assert_eq!(got.status, 200, "{got:?}");
    assert_eq!(got.body, r#"{"countryCode":null,"postalCode":null}"#);
    sandbox.stop().await;
}

#[tokio::test]
async fn address_faults_fail_or_slow_the_answer() {
    let sandbox = start().await;
    sandbox
        .device(DEVICE, TOKEN, Some(("US", "73019")), true, "ANY")
        .await;
    let url = sandbox.address_url(Some("na"), DEVICE);
    sandbox
        .fault(json!({"target": "address", "status": 503, "times": 1}))
        .await;
    let got = ask(&url, Some(TOKEN)).await;
    assert_eq!(got.status, 503, "{got:?}");
    assert_eq!(
        got.json(),
        json!({"type": "SERVICE_UNAVAILABLE", "message": "sandbox fault"})
    );
    assert!(got.request_id.is_some(), "{got:?}");
    assert_eq!(ask(&url, Some(TOKEN)).await.status, 200, "times: 1 is over");

    // A fault for the events API or for another region leaves the address API alone.
    sandbox
        .fault(json!({"target": "events", "status": 500, "times": 1}))
        .await;
    sandbox
        .fault(json!({"target": "address", "status": 429, "times": 1, "region": "EU"}))
        .await;
    assert_eq!(ask(&url, Some(TOKEN)).await.status, 200);
    let eu = ask(&sandbox.address_url(Some("eu"), DEVICE), Some(TOKEN)).await;
    assert_eq!(
        (eu.status, eu.json()["type"].clone()),
        (429, json!("TOO_MANY_REQUESTS"))
    );
    sandbox.control("clear-faults", json!({})).await;

    // A delay alone: the normal answer, late.
    sandbox
        .fault(json!({"target": "address", "delayMs": 400, "times": 1}))
        .await;
    let started = Instant::now();
    let slow = ask(&url, Some(TOKEN)).await;
    assert_eq!(slow.status, 200, "{slow:?}");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(sandbox.state().await["pendingFaults"], 0);
    sandbox.stop().await;
}

#[tokio::test]
async fn every_answer_carries_its_own_request_id() {
    let sandbox = start().await;
    sandbox
        .device(DEVICE, TOKEN, Some(("US", "73019")), true, "ANY")
        .await;
    sandbox
        .device(OTHER_DEVICE, OTHER_TOKEN, None, true, "ANY")
        .await;
    let url = sandbox.address_url(Some("fe"), DEVICE);
    sandbox
        .fault(json!({"target": "address", "status": 500, "times": 1}))
        .await;
    let answers = [
        ask(&url, Some(TOKEN)).await,
        ask(&url, Some(TOKEN)).await,
        ask(
            &sandbox.address_url(Some("fe"), OTHER_DEVICE),
            Some(OTHER_TOKEN),
        )
        .await,
        ask(&url, None).await,
        send(http().post(&url), Some(TOKEN)).await,
    ];
    let statuses: Vec<u16> = answers.iter().map(|a| a.status).collect();
    assert_eq!(statuses, [500, 200, 204, 403, 405]);
    let mut ids: Vec<&str> = answers
        .iter()
        .map(|a| a.request_id.as_deref().expect("an x-amzn-RequestId"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), answers.len(), "{ids:?}");
    sandbox.stop().await;
}

#[tokio::test]
async fn bad_device_bodies_get_400_and_reset_forgets_the_devices() {
    let sandbox = start().await;
    let post = |body: String| {
        http()
            .post(format!("{}/sandbox/devices", sandbox.url))
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    for bad in [
        "not json".to_owned(),
        json!({"apiAccessToken": TOKEN}).to_string(),
        json!({"deviceId": DEVICE, "apiAccessToken": TOKEN, "region": "US"}).to_string(),
        json!({"deviceId": DEVICE, "apiAccessToken": TOKEN, "zip": "73019"}).to_string(),
    ] {
        let response = post(bad.clone()).await.expect("the sandbox answers");
        assert_eq!(response.status().as_u16(), 400, "{bad}");
        let message = response.json::<Value>().await.expect("JSON")["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(
            message.starts_with(r#"expected {"deviceId": "#),
            "{bad}: {message}"
        );
    }
    assert_eq!(sandbox.state().await["devices"], 0);
    sandbox
        .device(DEVICE, TOKEN, Some(("US", "73019")), true, "ANY")
        .await;
    sandbox.reset().await;
    assert_forbidden(&ask(&sandbox.address_url(Some("na"), DEVICE), Some(TOKEN)).await);
    assert_eq!(
        reasons(&sandbox).await,
        ["unknown device and unknown token"]
    );
    sandbox.stop().await;
}
