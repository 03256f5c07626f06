//! The control API under `/sandbox/`: switch faults on and off, rotate the client secret,
//! revoke issued tokens, unsubscribe a user, register a device for the address API, reset.
//! Tests drive the sandbox through it; Alexa has no such thing.

use hyper::StatusCode;
use serde_json::{json, Value};

use crate::address_api;
use crate::faults::Fault;
use crate::server::{answer, Answer};
use crate::state::{lock, Shared};

pub fn handle(shared: &Shared, path: &str, body: &[u8]) -> Answer {
    let json_body = || serde_json::from_slice::<Value>(body).unwrap_or(Value::Null);
    let mut state = lock(shared);
    match path {
        "/sandbox/fault" => match serde_json::from_slice::<Fault>(body) {
            Ok(fault) => {
                state.faults.push_back(fault);
                answer(StatusCode::OK, json!({"pendingFaults": state.faults.len()}))
            }
            Err(e) => answer(
                StatusCode::BAD_REQUEST,
                json!({"message": format!("expected {{\"target\": \"token\"|\"events\"|\"address\", \"status\": 503, \"retryAfter\": \"1\", \"delayMs\": 0, \"times\": 1}}: {e}")}),
            ),
        },
        "/sandbox/rotate" => match json_body().get("clientSecret").and_then(Value::as_str) {
            Some(secret) if !secret.is_empty() => {
                state.client_secret = secret.to_owned();
                answer(StatusCode::OK, json!({"rotated": true}))
            }
            _ => answer(
                StatusCode::BAD_REQUEST,
                json!({"message": "expected {\"clientSecret\": \"...\"}"}),
            ),
        },
        "/sandbox/clear-faults" => {
            state.faults.clear();
            answer(StatusCode::OK, json!({"pendingFaults": 0}))
        }
        "/sandbox/revoke-tokens" => {
            state.generation += 1;
            answer(StatusCode::OK, json!({"revoked": true}))
        }
        "/sandbox/unsubscribe" => match json_body().get("user").and_then(Value::as_str) {
            Some(user) => {
                state.unsubscribed.insert(user.to_owned());
                answer(StatusCode::OK, json!({"unsubscribed": user}))
            }
            None => answer(
                StatusCode::BAD_REQUEST,
                json!({"message": "expected {\"user\": \"amzn1.ask.account...\"}"}),
            ),
        },
        "/sandbox/dedupe" => match json_body().get("enabled").and_then(Value::as_bool) {
            Some(enabled) => {
                state.dedupe = enabled;
                answer(StatusCode::OK, json!({"dedupe": enabled}))
            }
            None => answer(
                StatusCode::BAD_REQUEST,
                json!({"message": "expected {\"enabled\": true|false}"}),
            ),
        },
        // Registers a device, or replaces the one with the same deviceId (and its token).
        "/sandbox/devices" => match address_api::register(body) {
            Ok(device) => {
                let id = device.device_id.clone();
                state.devices.insert(id.clone(), device);
                answer(
                    StatusCode::OK,
                    json!({"deviceId": id, "devices": state.devices.len()}),
                )
            }
            Err(message) => answer(StatusCode::BAD_REQUEST, json!({"message": message})),
        },
        "/sandbox/reset" => {
            state.reset();
            answer(StatusCode::OK, json!({"reset": true}))
        }
        other => answer(
            StatusCode::NOT_FOUND,
            json!({"message": format!("no such control: {other}")}),
        ),
    }
}
