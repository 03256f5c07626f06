//! The HTTP side of a feed ([`FeedClient`]): a descriptive User-Agent (the NWS API refuses requests without
//! one), a bounded wait and size, and conditional requests so an unchanged feed costs a 304.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ACCEPT, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, USER_AGENT};
use reqwest::StatusCode;
use tokio::time::Instant;

use crate::http;

/// Longest wait for the feed; the invocation's deadline may cut it shorter.
pub const FEED_TIMEOUT: Duration = Duration::from_secs(10);
/// A state's active alerts are a few hundred kB; the whole country's a few MB (500 alerts with
/// their polygons and descriptions: 4.6 MiB). A poll peaks at about 2.5 times the body (make
/// bench), so 32 MiB still fits the template's 128 MB.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FeedError {
    #[error("the weather feed {url} (WEATHER_FEED_URL) did not answer within {} s", *millis as f64 / 1000.0)]
    Timeout { url: String, millis: u64 },
    #[error("the weather feed {url} (WEATHER_FEED_URL) could not be reached: {detail}")]
    Unreachable { url: String, detail: String },
    #[error("the weather feed {url} (WEATHER_FEED_URL) answered HTTP {status}: {hint}")]
    Status {
        url: String,
        status: u16,
        hint: String,
    },
    #[error("the weather feed {url} (WEATHER_FEED_URL) is not an NWS alerts feed: {problem}")]
    Malformed { url: String, problem: String },
}

/// The validators of the last feed that was fully handled.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Validators {
    etag: Option<String>,
    last_modified: Option<String>,
}

impl Validators {
    /// Validators with only an ETag (an in-memory feed's version).
    pub fn etag(etag: impl Into<String>) -> Self {
        Validators {
            etag: Some(etag.into()),
            last_modified: None,
        }
    }
}

pub enum Fetched {
    Changed {
        body: Vec<u8>,
        validators: Validators,
    },
    /// 304: the feed is the one the last successful poll handled.
    NotModified,
}

/// Fetches one feed URL; what the body means is the feed format's business ([`super::feed`]).
pub struct FeedClient {
    url: String,
    user_agent: String,
    last: Mutex<Option<Validators>>,
}

impl FeedClient {
    /// NWS asks every client for a User-Agent that names the application and a contact
    /// (website or email): the skill id names the application, `contact` is the owner's.
    pub fn new(url: String, skill_id: &str, contact: Option<&str>) -> Self {
        let contact = contact.map(|c| format!("; {c}")).unwrap_or_default();
        FeedClient {
            url,
            user_agent: format!(
                "alexa-proactive/{} (Alexa skill {skill_id}{contact})",
                env!("CARGO_PKG_VERSION")
            ),
            last: Mutex::new(None),
        }
    }

    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    /// Remembers the feed version once every alert in it was handled: the next poll then
    /// asks "changed since?", and a 304 means there is nothing to do.
    pub fn remember(&self, validators: Validators) {
        if let Ok(mut last) = self.last.lock() {
            *last = Some(validators);
        }
    }

    fn validators(&self) -> Option<Validators> {
        self.last.lock().ok().and_then(|last| last.clone())
    }

    pub async fn fetch(&self, deadline: Instant) -> Result<Fetched, FeedError> {
        // Half of what is left at most: the sends need time after the feed.
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = FEED_TIMEOUT.min(left / 2).max(Duration::from_millis(100));
        let client = http::shared().await.map_err(|e| FeedError::Unreachable {
            url: self.url.clone(),
            detail: e.to_string(),
        })?;
        let mut request = client
            .get(&self.url)
            .timeout(timeout)
            .header(USER_AGENT, &self.user_agent)
            .header(ACCEPT, "application/geo+json, application/json");
        let known = self.validators();
        if let Some(v) = &known {
            if let Some(etag) = &v.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(at) = &v.last_modified {
                request = request.header(IF_MODIFIED_SINCE, at);
            }
        }
        let transport = |err: reqwest::Error| {
            if err.is_timeout() {
                FeedError::Timeout {
                    url: self.url.clone(),
                    millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                }
            } else {
                FeedError::Unreachable {
                    url: self.url.clone(),
                    detail: http::describe_transport_error(&err),
                }
            }
        };
        let mut response = request.send().await.map_err(transport)?;
        let status = response.status();
        if status == StatusCode::NOT_MODIFIED && known.is_some() {
            return Ok(Fetched::NotModified);
        }
        if status != StatusCode::OK {
            return Err(FeedError::Status {
                url: self.url.clone(),
                status: status.as_u16(),
                hint: status_hint(status, response.headers()),
            });
        }
        let header = |name| {
            response
                .headers()
                .get(name)
                .and_then(|v: &reqwest::header::HeaderValue| v.to_str().ok())
                .map(str::to_owned)
        };
        let validators = Validators {
            etag: header(ETAG),
            last_modified: header(LAST_MODIFIED),
        };
        // Sized once when the length is known (not for a compressed body), so a large feed is
        // not copied over and over as the buffer grows.
        let known_length = response
            .content_length()
            .and_then(|n| usize::try_from(n).ok())
            .filter(|n| *n <= MAX_BODY);
        let mut body = Vec::with_capacity(known_length.unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(FeedError::Malformed {
                    url: self.url.clone(),
                    problem: format!(
                        "the body is larger than {} MiB; point WEATHER_FEED_URL at one area (?area=XX)",
                        MAX_BODY / 1024 / 1024
                    ),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Changed { body, validators })
    }
}

fn status_hint(status: StatusCode, headers: &reqwest::header::HeaderMap) -> String {
    match status.as_u16() {
        300..=399 => {
            let to = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location)");
            format!("redirects are not followed; set WEATHER_FEED_URL to {to}")
        }
        403 => "refused; the NWS API refuses clients without a User-Agent or that poll too often (keep the rate at one poll a minute or slower)".into(),
        404 => "not found; check WEATHER_FEED_URL (e.g. https://api.weather.gov/alerts/active?area=OK)".into(),
        400..=499 => "the request was refused; check WEATHER_FEED_URL".into(),
        _ => "the feed is unavailable right now".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_names_the_skill_and_the_contact() {
        let feed = FeedClient::new(
            "https://api.weather.gov/alerts/active".into(),
            "amzn1.ask.skill.x",
            Some("weather@example.com"),
        );
        assert!(
            feed.user_agent()
                .ends_with("(Alexa skill amzn1.ask.skill.x; weather@example.com)"),
            "{}",
            feed.user_agent()
        );
        let anonymous = FeedClient::new("https://example.com".into(), "amzn1.ask.skill.x", None);
        assert!(anonymous
            .user_agent()
            .ends_with("(Alexa skill amzn1.ask.skill.x)"));
    }
}
