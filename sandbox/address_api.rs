//! The Device Address API's country-and-postal-code endpoint
//! (`GET [/na|/eu|/fe]/v1/devices/{deviceId}/settings/address/countryAndPostalCode`), for the
//! devices registered through `POST /sandbox/devices`.
//!
//! It is as strict as Alexa: the bearer must be the `apiAccessToken` Alexa sent with a request
//! from that very device, the customer must have granted the permission, and the token only
//! works in the region the device is in; every such refusal is the same 403, so the function
//! cannot lean on a message Alexa does not promise (the sandbox's state tells the test why).
//! A device without an address answers 204 with no body, or, where the device asks for it,
//! 200 with null fields, as Alexa is reported to do at times: the function must survive both.
//! Every answer carries an `x-amzn-RequestId`, and faults with target `"address"` apply here.

use std::collections::HashMap;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Method, Response, StatusCode};
use serde::Deserialize;
use serde_json::{json, Value};

use crate::faults::{self, Target};
use crate::server::{answer, split_region, with_request_id, Answer};
use crate::state::{lock, Shared};

const SUFFIX: &str = "/settings/address/countryAndPostalCode";

/// The shape `POST /sandbox/devices` expects, named in its 400 answer.
pub const EXPECTED: &str = "expected {\"deviceId\": \"amzn1.ask.device...\", \"apiAccessToken\": \"...\", \"countryCode\": \"US\"|null, \"postalCode\": \"73019\"|null, \"granted\": true, \"region\": \"NA\"|\"EU\"|\"FE\"|\"ANY\", \"empty\": \"204\"|\"null\"}";

/// A customer's device, as a test registers it. The address fields are returned as given
/// (any text), so a test can show what the function does with an odd one.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Device {
    pub device_id: String,
    /// The `context.System.apiAccessToken` Alexa sends with this device's requests.
    pub api_access_token: String,
    /// Absent or null: no country entered.
    pub country_code: Option<String>,
    /// Absent or null: no address entered, answered as `empty` says.
    pub postal_code: Option<String>,
    /// Whether the customer granted the country-and-postal-code permission.
    #[serde(default = "granted")]
    pub granted: bool,
    /// The region whose endpoint the token works at: NA, EU, FE, or ANY for every prefix.
    #[serde(default = "any_region")]
    pub region: String,
    #[serde(default)]
    pub empty: Empty,
}

/// How a device without a postal code is answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
pub enum Empty {
    /// 204 with no body: what Alexa documents.
    #[default]
    #[serde(rename = "204")]
    NoContent,
    /// 200 with the missing fields null: what Alexa is reported to answer in some cases.
    #[serde(rename = "null")]
    Nulls,
}

fn granted() -> bool {
    true
}

fn any_region() -> String {
    "ANY".into()
}

/// Reads a `POST /sandbox/devices` body; `Err` is the 400 message, with the expected shape.
pub fn register(body: &[u8]) -> Result<Device, String> {
    let mut device: Device =
        serde_json::from_slice(body).map_err(|e| format!("{EXPECTED}: {e}"))?;
    device.region = device.region.to_ascii_uppercase();
    if device.device_id.is_empty() || device.device_id.contains(['/', ' ']) {
        return Err(format!(
            "{EXPECTED}: deviceId must be non-empty, without '/' or spaces"
        ));
    }
    if device.api_access_token.is_empty() {
        return Err(format!("{EXPECTED}: apiAccessToken must be non-empty"));
    }
    if !matches!(device.region.as_str(), "NA" | "EU" | "FE" | "ANY") {
        return Err(format!(
            "{EXPECTED}: region must be NA, EU, FE or ANY, not {:?}",
            device.region
        ));
    }
    Ok(device)
}

/// `[/na|/eu|/fe]/v1/devices/{deviceId}/settings/address/countryAndPostalCode` → (region,
/// deviceId, percent-decoded). The path is case-sensitive, as Alexa's is.
pub fn route(path: &str) -> Option<(String, String)> {
    let (region, rest) = split_region(path);
    let raw = rest.strip_prefix("/v1/devices/")?.strip_suffix(SUFFIX)?;
    if raw.is_empty() || raw.contains('/') {
        return None;
    }
    Some((region, percent_decode(raw)?))
}

/// A path segment's `%XX` escapes decoded; `None` for a broken escape or invalid UTF-8.
fn percent_decode(segment: &str) -> Option<String> {
    let bytes = segment.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What the endpoint answers for a request, before any fault.
#[derive(Debug, PartialEq, Eq)]
enum Outcome {
    /// 200 with these fields.
    Found {
        country_code: Option<String>,
        postal_code: Option<String>,
    },
    /// 204, no body.
    NoAddress,
    /// 403 (or 405 for another method); the reason goes to the sandbox's state, not the answer.
    Refused(StatusCode, String),
}

/// Alexa's checks, in its order: the method, a bearer token, the token belongs to this
/// device, the device's region, the permission, then the address itself.
fn decide(
    devices: &HashMap<String, Device>,
    method: &Method,
    region: &str,
    device_id: &str,
    authorization: Option<&str>,
) -> Outcome {
    let forbidden = |reason: String| Outcome::Refused(StatusCode::FORBIDDEN, reason);
    if method != Method::GET {
        return Outcome::Refused(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{method} is not supported, only GET"),
        );
    }
    let Some(token) = authorization.and_then(|a| a.strip_prefix("Bearer ")) else {
        return forbidden("missing Authorization: Bearer <apiAccessToken>".into());
    };
    let owner = devices.values().find(|d| d.api_access_token == token);
    let device = match (devices.get(device_id), owner) {
        (Some(device), _) if device.api_access_token == token => device,
        (_, Some(other)) => {
            return forbidden(format!(
                "the token was issued for device {}",
                other.device_id
            ))
        }
        (None, None) => return forbidden("unknown device and unknown token".into()),
        (Some(_), None) => return forbidden("unknown token".into()),
    };
    if device.region != "ANY" && device.region != region {
        return forbidden(format!(
            "the device's token is for region {}, asked at {region}",
            device.region
        ));
    }
    if !device.granted {
        return forbidden("the customer has not granted the address permission".into());
    }
    match (&device.postal_code, device.empty) {
        (None, Empty::NoContent) => Outcome::NoAddress,
        (postal_code, _) => Outcome::Found {
            country_code: device.country_code.clone(),
            postal_code: postal_code.clone(),
        },
    }
}

pub async fn country_and_postal_code(
    shared: &Shared,
    method: &Method,
    region: String,
    device_id: String,
    authorization: Option<String>,
) -> Answer {
    let request_id = {
        let mut state = lock(shared);
        state.address_requests += 1;
        *state
            .address_requests_by_region
            .entry(region.clone())
            .or_default() += 1;
        state.next_request_id += 1;
        format!("sandbox-{:08}", state.next_request_id)
    };
    if let Some(faulted) = faults::apply(
        faults::take(shared, Target::Address, Some(&region)),
        Some(&request_id),
    )
    .await
    {
        return faulted;
    }
    let mut state = lock(shared);
    let outcome = decide(
        &state.devices,
        method,
        &region,
        &device_id,
        authorization.as_deref(),
    );
    let quiet = state.quiet;
    let response = match outcome {
        Outcome::Found {
            country_code,
            postal_code,
        } => {
            if !quiet {
                println!(
                    "[{region}] address of {device_id}: {} {}",
                    country_code.as_deref().unwrap_or("null"),
                    postal_code.as_deref().unwrap_or("null")
                );
            }
            answer(
                StatusCode::OK,
                json!({"countryCode": country_code, "postalCode": postal_code}),
            )
        }
        Outcome::NoAddress => {
            if !quiet {
                println!("[{region}] address of {device_id}: none entered (204)");
            }
            let mut empty = Response::new(Full::new(Bytes::new()));
            *empty.status_mut() = StatusCode::NO_CONTENT;
            empty
        }
        Outcome::Refused(status, reason) => {
            if !quiet {
                eprintln!(
                    "[{region}] address of {device_id} refused {}: {reason}",
                    status.as_u16()
                );
            }
            state.address_refused.push(json!({
                "region": region, "deviceId": device_id, "status": status.as_u16(),
                "reason": reason, "requestId": request_id,
            }));
            answer(status, refusal_body(status))
        }
    };
    with_request_id(response, &request_id)
}

/// Alexa's error body: a type and a message, the same for every reason of one status.
fn refusal_body(status: StatusCode) -> Value {
    if status == StatusCode::METHOD_NOT_ALLOWED {
        json!({"type": "METHOD_NOT_ALLOWED", "message": "The method is not supported."})
    } else {
        json!({"type": "FORBIDDEN", "message": "The authentication token is not valid."})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn device(body: Value) -> Device {
        register(body.to_string().as_bytes()).expect("a valid device")
    }

    fn devices(list: Vec<Value>) -> HashMap<String, Device> {
        list.into_iter()
            .map(device)
            .map(|d| (d.device_id.clone(), d))
            .collect()
    }

    #[test]
    fn the_route_takes_a_region_prefix_or_none() {
        let path = |p: &str| format!("{p}/v1/devices/amzn1.ask.device.A1{SUFFIX}");
        for (prefix, region) in [("/na", "NA"), ("/eu", "EU"), ("/fe", "FE"), ("", "ANY")] {
            assert_eq!(
                route(&path(prefix)),
                Some((region.to_owned(), "amzn1.ask.device.A1".to_owned()))
            );
        }
        assert_eq!(
            route(&format!("/na/v1/devices/a%2Eb%20c{SUFFIX}")),
            Some(("NA".into(), "a.b c".into()))
        );
        for bad in [
            format!("/v1/devices/{SUFFIX}"),
            format!("/v1/devices/a/b{SUFFIX}"),
            format!("/v1/devices/a%2{SUFFIX}"),
            format!("/v1/devices/a%zz{SUFFIX}"),
            format!("/v1/devices/a%ff{SUFFIX}"),
            "/v1/devices/a/settings/address/countryandpostalcode".into(),
            "/v1/devices/a/settings/address".into(),
            format!("/us/v1/devices/a{SUFFIX}"),
        ] {
            assert_eq!(route(&bad), None, "{bad}");
        }
    }

    #[test]
    fn a_device_body_gets_its_defaults_or_a_400_naming_the_shape() {
        let d = device(json!({"deviceId": "d1", "apiAccessToken": "t1"}));
        assert!(d.granted);
        assert_eq!(d.region, "ANY");
        assert_eq!(d.empty, Empty::NoContent);
        assert_eq!((d.country_code, d.postal_code), (None, None));
        let d = device(
            json!({"deviceId": "d1", "apiAccessToken": "t1", "region": "eu",
            "countryCode": "DE", "postalCode": null, "granted": false, "empty": "null"}),
        );
        assert_eq!(
            (d.region.as_str(), d.granted, d.empty),
            ("EU", false, Empty::Nulls)
        );
        for bad in [
            json!({"apiAccessToken": "t1"}),
            json!({"deviceId": "d1"}),
            json!({"deviceId": "", "apiAccessToken": "t1"}),
            json!({"deviceId": "a/b", "apiAccessToken": "t1"}),
            json!({"deviceId": "d1", "apiAccessToken": ""}),
            json!({"deviceId": "d1", "apiAccessToken": "t1", "region": "US"}),
            json!({"deviceId": "d1", "apiAccessToken": "t1", "empty": 204}),
            json!({"deviceId": "d1", "apiAccessToken": "t1", "granted": "yes"}),
            json!({"deviceId": "d1", "apiAccessToken": "t1", "postcode": "73019"}),
            json!([]),
        ] {
            let message = register(bad.to_string().as_bytes()).expect_err("refused");
            assert!(message.starts_with(EXPECTED), "{bad}: {message}");
        }
    }

    #[test]
    fn only_the_devices_own_token_in_its_region_with_permission_gets_the_address() {
        let all = devices(vec![
            json!({"deviceId": "d1", "apiAccessToken": "t1", "region": "NA",
                "countryCode": "US", "postalCode": "73019"}),
            json!({"deviceId": "d2", "apiAccessToken": "t2", "granted": false,
                "countryCode": "US", "postalCode": "73019"}),
            json!({"deviceId": "d3", "apiAccessToken": "t3", "countryCode": "US"}),
            json!({"deviceId": "d4", "apiAccessToken": "t4", "empty": "null"}),
        ]);
        let ask = |region: &str, id: &str, auth: Option<&str>| {
            decide(&all, &Method::GET, region, id, auth)
        };
        let refused = |outcome: Outcome| match outcome {
            Outcome::Refused(status, reason) => (status.as_u16(), reason),
            other => panic!("expected a refusal, got {other:?}"),
        };
        assert_eq!(
            ask("NA", "d1", Some("Bearer t1")),
            Outcome::Found {
                country_code: Some("US".into()),
                postal_code: Some("73019".into())
            }
        );
        assert_eq!(refused(ask("NA", "d1", None)).0, 403);
        assert_eq!(refused(ask("NA", "d1", Some("t1"))).0, 403);
        assert_eq!(refused(ask("NA", "d1", Some("Bearer nope"))).0, 403);
        let (status, reason) = refused(ask("NA", "d1", Some("Bearer t3")));
        assert_eq!(
            (status, reason.as_str()),
            (403, "the token was issued for device d3")
        );
        assert_eq!(refused(ask("NA", "d9", Some("Bearer t9"))).0, 403);
        assert_eq!(refused(ask("EU", "d1", Some("Bearer t1"))).0, 403);
        assert_eq!(refused(ask("ANY", "d1", Some("Bearer t1"))).0, 403);
        assert_eq!(refused(ask("FE", "d2", Some("Bearer t2"))).0, 403);
        assert_eq!(ask("FE", "d3", Some("Bearer t3")), Outcome::NoAddress);
        assert_eq!(
            ask("EU", "d4", Some("Bearer t4")),
            Outcome::Found {
                country_code: None,
                postal_code: None
            }
        );
        let post = decide(&all, &Method::POST, "NA", "d1", Some("Bearer t1"));
        assert_eq!(refused(post).0, 405);
    }
}
