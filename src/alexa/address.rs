//! The Device Address API: the country and postal code a user entered for their device, so the
//! skill knows which alerts are theirs without asking.
//!
//! `GET {apiEndpoint}/v1/devices/{deviceId}/settings/address/countryAndPostalCode` with the
//! request's `apiAccessToken` as bearer token. The skill asks it while Alexa waits for the
//! launch's answer, so every lookup is short ([`ADDRESS_BUDGET`]) and ends in an [`Address`],
//! never an error: a slow or failing API costs the user a question, not the launch.
//!
//! The token is a credential for the user's device: it lives in [`ApiAccessToken`] (redacted
//! `Debug`) and goes into the `Authorization` header only, never into a URL, a log or an error.

use std::sync::Mutex;
use std::time::Duration;

use serde::Deserialize;
use tokio::time::Instant;

use super::{ApiFuture, Region, Settings};
use crate::http;

/// The longest a lookup may take: Alexa waits 8 s for the whole answer, and the launch still
/// has to store the area and answer.
pub const ADDRESS_BUDGET: Duration = Duration::from_millis(1500);

/// `context.System.apiAccessToken`: a bearer token for the user's device. Its `Debug` is
/// redacted so that no log line or error made from an envelope or a query can carry it.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct ApiAccessToken(String);

impl ApiAccessToken {
    pub fn new(token: impl Into<String>) -> Self {
        ApiAccessToken(token.into())
    }

    /// The token itself, for the `Authorization` header only.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for ApiAccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ApiAccessToken(redacted)")
    }
}

/// What one lookup needs, all from the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressQuery {
    /// `context.System.apiEndpoint` (`https://api.amazonalexa.com`).
    pub endpoint: String,
    /// `context.System.device.deviceId`.
    pub device_id: String,
    pub token: ApiAccessToken,
}

/// What the Device Address API said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `countryCode` (ISO, `"US"`) and `postalCode` (`"73019"`). Personal data: never logged.
    Found { country: String, postal: String },
    /// 403: the user has not granted the country-and-postal-code permission (or the token is
    /// no longer valid, which Alexa answers the same way).
    NotGranted,
    /// 204, or 200 without a postal code: the user entered no address for the device.
    NoAddress,
    /// Anything else (another status, a timeout, an unreadable answer), with the reason.
    Unavailable(String),
}

/// Looks up a device's country and postal code; never waits past `deadline`.
pub trait AddressLookup: Send + Sync {
    fn lookup<'a>(&'a self, query: &'a AddressQuery, deadline: Instant) -> ApiFuture<'a, Address>;
}

/// The real Device Address API, over the process's shared HTTP client (built on first use).
pub struct AddressApi {
    settings: Settings,
}

impl AddressApi {
    pub fn new(settings: Settings) -> Self {
        AddressApi { settings }
    }

    /// The URL for `query`: the request's `apiEndpoint`, or `ALEXA_API_URL` for the same region.
    /// Only a known Alexa host gets the token: an `apiEndpoint` that is none is refused.
    pub fn url(&self, query: &AddressQuery) -> Result<reqwest::Url, String> {
        let region = Region::from_api_endpoint(&query.endpoint).ok_or_else(|| {
            format!(
                "context.System.apiEndpoint is {:?}; expected one of the Alexa API hosts ({}, {}, {})",
                query.endpoint,
                Region::Na.host(),
                Region::Eu.host(),
                Region::Fe.host()
            )
        })?;
        let base = self.settings.api_base(region);
        let mut url = reqwest::Url::parse(&base)
            .map_err(|e| format!("the Alexa API URL {base:?} is not a URL: {e}"))?;
        // Segments are escaped one by one: a device id cannot change the path.
        url.path_segments_mut()
            .map_err(|()| format!("the Alexa API URL {base:?} cannot have a path"))?
            .pop_if_empty()
            .extend([
                "v1",
                "devices",
                &query.device_id,
                "settings",
                "address",
                "countryAndPostalCode",
            ]);
        Ok(url)
    }

    async fn ask(&self, query: &AddressQuery, deadline: Instant) -> Address {
        let url = match self.url(query) {
            Ok(url) => url,
            Err(reason) => return Address::Unavailable(reason),
        };
        let client = match http::shared().await {
            Ok(client) => client,
            Err(e) => return Address::Unavailable(format!("no HTTP client: {e}")),
        };
        let response = client
            .get(url)
            .bearer_auth(query.token.secret())
            .header(reqwest::header::ACCEPT, "application/json")
            .timeout(http::request_timeout(ADDRESS_BUDGET, deadline))
            .send()
            .await;
        let response = match response {
            Ok(response) => response,
            // Without the URL: it holds the device id.
            Err(e) => {
                return Address::Unavailable(http::describe_transport_error(&e.without_url()))
            }
        };
        let status = response.status().as_u16();
        match status {
            200 => {}
            204 => return Address::NoAddress,
            403 => return Address::NotGranted,
            other => return Address::Unavailable(format!("the address API answered {other}")),
        }
        let body = match response.bytes().await {
            Ok(body) => body,
            Err(e) => {
                return Address::Unavailable(http::describe_transport_error(&e.without_url()))
            }
        };
        read_address(&body)
    }
}

/// A 200's body: `{"countryCode":"US","postalCode":"73019"}`; either may be null.
fn read_address(body: &[u8]) -> Address {
    #[derive(Deserialize)]
    #[serde(rename_all = "camelCase")]
    struct Body {
        #[serde(default)]
        country_code: Option<String>,
        #[serde(default)]
        postal_code: Option<String>,
    }
    let body: Body = match serde_json::from_slice(body) {
        Ok(body) => body,
        // serde's message can quote the value (a postal code sent as a number): only its
        // category and position are kept.
        Err(e) => {
            return Address::Unavailable(format!(
                "the address API's answer is not {{countryCode, postalCode}} as strings ({:?} error at line {} column {})",
                e.classify(),
                e.line(),
                e.column()
            ))
        }
    };
    let clean = |v: Option<String>| v.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty());
    match (clean(body.country_code), clean(body.postal_code)) {
        (Some(country), Some(postal)) => Address::Found {
            country: country.to_ascii_uppercase(),
            postal,
        },
        // A postal code of no known country cannot be placed: as good as none.
        _ => Address::NoAddress,
    }
}

impl AddressLookup for AddressApi {
    fn lookup<'a>(&'a self, query: &'a AddressQuery, deadline: Instant) -> ApiFuture<'a, Address> {
        Box::pin(async move {
            let until = deadline.min(Instant::now() + ADDRESS_BUDGET);
            tokio::time::timeout_at(until, self.ask(query, until))
                .await
                .unwrap_or_else(|_| Address::Unavailable("no answer in time".into()))
        })
    }
}

/// An in-memory Device Address API for unit tests: answers as told, records each query.
pub struct FakeAddress {
    answer: Mutex<Address>,
    queries: Mutex<Vec<AddressQuery>>,
}

impl FakeAddress {
    pub fn new(answer: Address) -> Self {
        FakeAddress {
            answer: Mutex::new(answer),
            queries: Mutex::new(Vec::new()),
        }
    }

    pub fn answer(&self, answer: Address) {
        *self.answer.lock().unwrap_or_else(|e| e.into_inner()) = answer;
    }

    pub fn queries(&self) -> Vec<AddressQuery> {
        self.queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl AddressLookup for FakeAddress {
    fn lookup<'a>(&'a self, query: &'a AddressQuery, _: Instant) -> ApiFuture<'a, Address> {
        self.queries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(query.clone());
        let answer = self
            .answer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        Box::pin(async move { answer })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alexa::Stage;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.secret";

    fn api(api_url: Option<String>) -> AddressApi {
        AddressApi::new(Settings {
            stage: Stage::Development,
            api_url,
            lwa_token_url: "http://127.0.0.1:1/token".into(),
        })
    }

    fn query(endpoint: &str) -> AddressQuery {
        AddressQuery {
            endpoint: endpoint.into(),
            device_id: "amzn1.ask.device.D1".into(),
            token: ApiAccessToken::new(TOKEN),
        }
    }

    #[test]
    fn the_url_follows_the_endpoint_or_the_api_url_of_its_region() {
        let url = api(None)
            .url(&query("https://api.eu.amazonalexa.com/"))
            .unwrap();
        assert_eq!(
            url.as_str(),
            "https://api.eu.amazonalexa.com/v1/devices/amzn1.ask.device.D1/settings/address/countryAndPostalCode"
        );
        let local = api(Some("http://127.0.0.1:9000/{region}".into()));
        let url = local.url(&query("https://api.fe.amazonalexa.com")).unwrap();
        assert_eq!(
            url.as_str(),
            "http://127.0.0.1:9000/fe/v1/devices/amzn1.ask.device.D1/settings/address/countryAndPostalCode"
        );
        let mut odd = query("https://api.amazonalexa.com");
        odd.device_id = "../x?y".into();
        let url = api(None).url(&odd).unwrap();
        assert!(url.path().contains("..%2Fx%3Fy"), "{url}");
        assert_eq!(url.query(), None);
    }

    #[test]
    fn an_unknown_endpoint_gets_no_token() {
        let err = api(None).url(&query("https://evil.example")).unwrap_err();
        assert!(
            err.contains("context.System.apiEndpoint") && err.contains("api.amazonalexa.com"),
            "{err}"
        );
    }

    #[test]
    fn the_token_is_never_printed() {
        let text = format!("{:?}", query("https://api.amazonalexa.com"));
        assert!(!text.contains("secret") && !text.contains("eyJ"), "{text}");
    }

    #[test]
    fn bodies_are_read_with_nulls_as_no_address() {
        assert_eq!(
            read_address(br#"{"countryCode":"us","postalCode":"73019"}"#),
            Address::Found {
                country: "US".into(),
                postal: "73019".into()
            }
        );
        for body in [
            r#"{"countryCode":"US","postalCode":null}"#,
            r#"{"countryCode":"US","postalCode":""}"#,
            r#"{"countryCode":null,"postalCode":null}"#,
            r#"{}"#,
        ] {
            assert_eq!(read_address(body.as_bytes()), Address::NoAddress, "{body}");
        }
        assert!(matches!(read_address(b"<html>"), Address::Unavailable(_)));
        // A postal code of the wrong type is not quoted in the reason (it is logged).
        let Address::Unavailable(reason) =
            read_address(br#"{"countryCode": "US", "postalCode": 73019}"#)
        else {
            panic!("a number is not a postal code")
        };
        assert!(!reason.contains("73019"), "{reason}");
    }

    /// A one-shot HTTP server on loopback: answers `status` and `body` to the first request,
    /// and hands back what it received.
    async fn serve(
        status: &'static str,
        body: &'static str,
        delay: Duration,
    ) -> (String, tokio::task::JoinHandle<String>) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/{{region}}", listener.local_addr().unwrap());
        let task = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut got = Vec::new();
            let mut buf = [0u8; 4096];
            while !got.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = socket.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                got.extend_from_slice(&buf[..n]);
            }
            tokio::time::sleep(delay).await;
            let answer = format!(
                "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(answer.as_bytes()).await;
            String::from_utf8_lossy(&got).into_owned()
        });
        (url, task)
    }

    async fn lookup(status: &'static str, body: &'static str) -> (Address, String) {
        let (url, server) = serve(status, body, Duration::ZERO).await;
        let answer = api(Some(url))
            .lookup(
                &query("https://api.eu.amazonalexa.com"),
                Instant::now() + Duration::from_secs(5),
            )
            .await;
        (answer, server.await.unwrap())
    }

    #[tokio::test]
    async fn each_answer_has_its_meaning() {
        let (found, request) =
            lookup("200 OK", r#"{"countryCode":"US","postalCode":"02134"}"#).await;
        assert_eq!(
            found,
            Address::Found {
                country: "US".into(),
                postal: "02134".into()
            }
        );
        let request = request.to_ascii_lowercase();
        assert!(
            request.starts_with(
                "get /eu/v1/devices/amzn1.ask.device.d1/settings/address/countryandpostalcode "
            ),
            "{request}"
        );
        assert!(
            request.contains(&format!(
                "authorization: bearer {}",
                TOKEN.to_ascii_lowercase()
            )),
            "{request}"
        );
        assert!(request.contains("accept: application/json"), "{request}");

        assert_eq!(lookup("403 Forbidden", "{}").await.0, Address::NotGranted);
        assert_eq!(lookup("204 No Content", "").await.0, Address::NoAddress);
        let (null, _) = lookup("200 OK", r#"{"countryCode":null,"postalCode":null}"#).await;
        assert_eq!(null, Address::NoAddress);
        let (failed, _) = lookup("503 Service Unavailable", "{}").await;
        assert_eq!(
            failed,
            Address::Unavailable("the address API answered 503".into())
        );
    }

    #[tokio::test]
    async fn a_slow_api_is_given_up_on_in_time_and_the_error_has_no_token() {
        let (url, _server) = serve("200 OK", "{}", Duration::from_secs(5)).await;
        let started = Instant::now();
        let answer = api(Some(url))
            .lookup(
                &query("https://api.amazonalexa.com"),
                Instant::now() + Duration::from_millis(300),
            )
            .await;
        assert!(
            started.elapsed() < Duration::from_secs(1),
            "{:?}",
            started.elapsed()
        );
        let Address::Unavailable(reason) = answer else {
            panic!("expected Unavailable, got {answer:?}")
        };
        assert!(!reason.contains(TOKEN), "{reason}");
        assert!(
            !reason.contains("amzn1.ask.device"),
            "no device id: {reason}"
        );
    }
}
