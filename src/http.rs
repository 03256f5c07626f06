//! The HTTP client shared by the token request, the events API and the weather feed, how its
//! failures read, and the headers all three care about.

use std::time::Duration;

use chrono::{DateTime, Utc};
use reqwest::header::{HeaderMap, RETRY_AFTER};
use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::budget::REPORT_RESERVE;

/// Longest wait for one answer; the invocation's deadline may cut it shorter.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(5);
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);

/// One client for the process: it keeps connections (and their TLS sessions) alive between
/// invocations, which is most of what makes a warm send fast.
fn client() -> Result<reqwest::Client, reqwest::Error> {
    // reqwest is built without a crypto provider of its own: ring, which also signs the AWS
    // calls (src/aws/sigv4.rs). Installing it twice is harmless (the first one stays).
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("alexa-proactive/", env!("CARGO_PKG_VERSION")))
        // A redirect would carry the bearer token to wherever it points: never follow one.
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(CONNECT_TIMEOUT)
        .timeout(REQUEST_TIMEOUT)
        .pool_idle_timeout(Duration::from_secs(50))
        .build()
}

static SHARED: OnceCell<reqwest::Client> = OnceCell::const_new();

/// The process's client, built on first use (loading the TLS roots is the costly part).
pub async fn shared() -> Result<reqwest::Client, reqwest::Error> {
    SHARED.get_or_try_init(|| async { client() }).await.cloned()
}

/// The timeout for one request: `max`, or less when the invocation ends sooner.
pub fn request_timeout(max: Duration, deadline: Instant) -> Duration {
    let left = deadline
        .saturating_duration_since(Instant::now())
        .saturating_sub(REPORT_RESERVE);
    max.min(left).max(Duration::from_millis(1))
}

pub fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get(RETRY_AFTER)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| parse_retry_after(v, Utc::now()))
}

/// A transport failure in a few words, with its cause (reqwest's own text stops at
/// "error sending request").
pub fn describe_transport_error(err: &reqwest::Error) -> String {
    use std::error::Error as _;
    let what = if err.is_timeout() {
        "no answer in time"
    } else if err.is_connect() {
        "connection failed"
    } else if err.is_body() || err.is_decode() {
        "the answer broke off"
    } else {
        "request failed"
    };
    let mut causes = Vec::new();
    let mut source = err.source();
    while let Some(cause) = source {
        causes.push(cause.to_string());
        source = cause.source();
    }
    let url = err.url().map(|u| format!(" ({u})")).unwrap_or_default();
    if causes.is_empty() {
        format!("{what}{url}")
    } else {
        format!("{what}{url}: {}", causes.join(": "))
    }
}

/// `Retry-After` as seconds (`"3"`) or as an HTTP date; `None` when absent or unreadable.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 18:00:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 17:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
    }
}
