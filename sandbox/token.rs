//! The Login with Amazon token endpoint (`POST /auth/o2/token`, client_credentials grant,
//! scope alexa::proactive_events): checks the form and the client credentials as LWA does and
//! issues bearer tokens that the events endpoint accepts until they expire or are revoked.

use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::time::{Duration, Instant, SystemTime};

use hyper::StatusCode;
use serde_json::json;

use crate::faults::{self, Target};
use crate::server::{answer, Answer};
use crate::state::{lock, Shared, Token};

pub async fn issue(shared: &Shared, content_type: Option<String>, body: &[u8]) -> Answer {
    lock(shared).token_requests += 1;
    if let Some(faulted) = faults::apply(faults::take(shared, Target::Token, None), None).await {
        return faulted;
    }
    let oauth = |status: StatusCode, error: &str, description: &str| {
        answer(
            status,
            json!({"error": error, "error_description": description}),
        )
    };
    if !content_type.is_some_and(|c| c.starts_with("application/x-www-form-urlencoded")) {
        return oauth(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "Content-Type must be application/x-www-form-urlencoded",
        );
    }
    let form: HashMap<String, String> = form_urlencoded::parse(body).into_owned().collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or("");
    if field("grant_type") != "client_credentials" {
        return oauth(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "grant_type must be client_credentials",
        );
    }
    if field("scope") != "alexa::proactive_events" {
        return oauth(
            StatusCode::BAD_REQUEST,
            "invalid_scope",
            "scope must be alexa::proactive_events",
        );
    }
    let mut state = lock(shared);
    if field("client_id") != state.client_id || field("client_secret") != state.client_secret {
        return oauth(
            StatusCode::UNAUTHORIZED,
            "invalid_client",
            "Client authentication failed",
        );
    }
    let value = format!(
        "Atza|sandbox.{}.{:016x}",
        state.tokens.len() + 1,
        random_bits()
    );
    let ttl = state.token_ttl;
    let generation = state.generation;
    state.tokens.insert(
        value.clone(),
        Token {
            expires: Instant::now() + Duration::from_secs(ttl),
            generation,
        },
    );
    answer(
        StatusCode::OK,
        json!({"access_token": value, "expires_in": ttl, "scope": "alexa::proactive_events", "token_type": "bearer"}),
    )
}

/// 64 unpredictable bits for the token text, from the standard library alone (each
/// `RandomState` is seeded from the OS and differs from the last): a token cannot be guessed
/// from the number of tokens issued.
fn random_bits() -> u64 {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    hasher.write_u128(now);
    hasher.finish()
}
