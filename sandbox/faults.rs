//! Fault injection: what `POST /sandbox/fault` switches on, and how a matching request is then
//! answered (a status with Retry-After or Location, a delay, a dropped connection).
//!
//! Tests and the local loop use it to show what the function does when Alexa misbehaves.

use std::time::Duration;

use hyper::StatusCode;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::server::{answer, with_request_id, Answer, DropConnection};
use crate::state::{lock, Shared};

/// A switched-on fault: answers the next `times` matching requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Fault {
    target: Target,
    /// The status to answer with; absent = answer normally (after `delay_ms`).
    status: Option<u16>,
    retry_after: Option<String>,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default = "one")]
    times: u32,
    /// Only requests for this region (NA, EU, FE); absent = any.
    region: Option<String>,
    /// Drop the connection without answering (after `delay_ms`): what a reset looks like.
    #[serde(default)]
    close: bool,
    /// A Location header to send with `status` (a redirect).
    location: Option<String>,
    /// Only every n-th matching request, until cleared (`times` is then ignored): a share of
    /// the traffic, as under sustained throttling.
    every: Option<u32>,
    #[serde(skip)]
    seen: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum Target {
    Token,
    Events,
    /// The Device Address API (country and postal code).
    Address,
}

/// Takes the first fault for `target` (and `region`), if any.
pub fn take(shared: &Shared, target: Target, region: Option<&str>) -> Option<Fault> {
    let mut state = lock(shared);
    let index = state.faults.iter().position(|f| {
        f.target == target
            && f.region
                .as_deref()
                .is_none_or(|wanted| region.is_some_and(|r| r.eq_ignore_ascii_case(wanted)))
    })?;
    let fault = state.faults.get_mut(index)?;
    if let Some(every) = fault.every.filter(|n| *n > 0) {
        fault.seen += 1;
        return (fault.seen % every == 0).then(|| fault.clone());
    }
    fault.times = fault.times.saturating_sub(1);
    let taken = fault.clone();
    if fault.times == 0 {
        state.faults.remove(index);
    }
    Some(taken)
}

/// Applies a fault: waits, then answers with its status if it has one.
pub async fn apply(fault: Option<Fault>, request_id: Option<&str>) -> Option<Answer> {
    let fault = fault?;
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if fault.close {
        let mut dropped = answer(StatusCode::INTERNAL_SERVER_ERROR, Value::Null);
        dropped.extensions_mut().insert(DropConnection);
        return Some(dropped);
    }
    let status = StatusCode::from_u16(fault.status?).ok()?;
    // Each API's own error shape, so the function's parsing of it is exercised too.
    let body = match fault.target {
        Target::Address => json!({"type": error_type(status), "message": "sandbox fault"}),
        Target::Token | Target::Events => {
            json!({"code": status.as_u16(), "message": "sandbox fault"})
        }
    };
    let mut response = answer(status, body);
    if let Some(location) = fault.location.and_then(|l| l.parse().ok()) {
        response
            .headers_mut()
            .insert(hyper::header::LOCATION, location);
    }
    if let Some(after) = fault.retry_after.and_then(|a| a.parse().ok()) {
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, after);
    }
    if let Some(id) = request_id {
        response = with_request_id(response, id);
    }
    Some(response)
}

/// The `type` of an address API error: the status's reason in capitals, as Alexa writes
/// them (`SERVICE_UNAVAILABLE`, `TOO_MANY_REQUESTS`).
fn error_type(status: StatusCode) -> String {
    status
        .canonical_reason()
        .unwrap_or("ERROR")
        .to_ascii_uppercase()
        .replace([' ', '-'], "_")
}
