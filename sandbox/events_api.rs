//! The events endpoint (`POST [/na|/eu|/fe]/v1/proactiveEvents[/stages/development]`): checks
//! the bearer token, the Content-Type and the body, refuses a Unicast to an unsubscribed user
//! (403) and a referenceId already used for the same audience (409), then records the event
//! and prints what Alexa would say. Every answer carries an `x-amzn-RequestId`.

use std::time::Instant;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Response, StatusCode};
use serde_json::json;

use crate::envelope;
use crate::faults::{self, Target};
use crate::rules::Rules;
use crate::server::{answer, split_region, with_request_id, Answer};
use crate::state::{lock, Shared, State};

/// `[/na|/eu|/fe]/v1/proactiveEvents[/stages/development]` → (region, stage).
pub fn route(path: &str) -> Option<(String, &'static str)> {
    let (region, rest) = split_region(path);
    match rest {
        "/v1/proactiveEvents/stages/development" => Some((region, "development")),
        "/v1/proactiveEvents" => Some((region, "live")),
        _ => None,
    }
}

pub async fn receive(
    shared: &Shared,
    rules: &Rules,
    region: String,
    stage: &'static str,
    authorization: Option<String>,
    content_type: Option<String>,
    body: &[u8],
) -> Answer {
    let request_id = {
        let mut state = lock(shared);
        state.event_requests += 1;
        *state
            .event_requests_by_region
            .entry(region.clone())
            .or_default() += 1;
        state.next_request_id += 1;
        format!("sandbox-{:08}", state.next_request_id)
    };
    if let Some(faulted) = faults::apply(
        faults::take(shared, Target::Events, Some(&region)),
        Some(&request_id),
    )
    .await
    {
        return faulted;
    }
    let mut state = lock(shared);
    let refuse = |state: &mut State, status: StatusCode, code: &str, message: String| {
        state.refused.push(
            json!({"region": region, "status": status.as_u16(), "code": code, "message": message}),
        );
        if !state.quiet {
            eprintln!("[{region}/{stage}] refused {}: {message}", status.as_u16());
        }
        with_request_id(
            answer(status, json!({"code": code, "message": message})),
            &request_id,
        )
    };
    let bearer = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "));
    let valid = bearer
        .and_then(|t| state.tokens.get(t))
        .is_some_and(|t| t.expires > Instant::now() && t.generation == state.generation);
    if !valid {
        let message = if bearer.is_none() {
            "missing Authorization: Bearer <token>"
        } else {
            "the access token is invalid or expired"
        };
        return refuse(
            &mut state,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            message.into(),
        );
    }
    if !content_type.is_some_and(|c| c.starts_with("application/json")) {
        return refuse(
            &mut state,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "Content-Type must be application/json".into(),
        );
    }
    let accepted = match envelope::check(rules, body, chrono::Utc::now()) {
        Ok(a) => a,
        Err(message) => {
            return refuse(
                &mut state,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                message,
            )
        }
    };
    let audience = accepted.user.clone().unwrap_or_else(|| "Multicast".into());
    if let Some(user) = accepted
        .user
        .as_ref()
        .filter(|u| state.unsubscribed.contains(*u))
    {
        let message = format!("user {user} is not subscribed to {}", accepted.name);
        return refuse(&mut state, StatusCode::FORBIDDEN, "FORBIDDEN", message);
    }
    let key = (
        region.clone(),
        stage.to_owned(),
        accepted.reference_id.clone(),
        audience.clone(),
    );
    if !state.seen.insert(key) {
        if state.dedupe {
            state.duplicates += 1;
            let message = format!("referenceId {} was already used", accepted.reference_id);
            return refuse(&mut state, StatusCode::CONFLICT, "CONFLICT", message);
        }
        // No duplicate detection: the user would hear it twice.
        state.repeats += 1;
    }
    if !state.quiet {
        for (locale, sentence) in &accepted.spoken {
            println!("[{region}/{stage}] {audience} {locale}: {sentence}");
        }
    }
    state.accepted.push(json!({
        "region": region, "stage": stage, "referenceId": accepted.reference_id,
        "name": accepted.name, "audience": audience, "requestId": request_id,
        "spoken": accepted.spoken.iter().map(|(l, s)| json!({"locale": l, "text": s})).collect::<Vec<_>>(),
    }));
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::ACCEPTED;
    with_request_id(response, &request_id)
}
