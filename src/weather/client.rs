//! The HTTP side of a feed ([`FeedClient`]): a descriptive User-Agent (the NWS API refuses requests without
//! one), a bounded wait and size, and conditional requests so an unchanged feed costs a 304.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::{ACCEPT, ETAG, IF_MODIFIED_SINCE, IF_NONE_MATCH, LAST_MODIFIED, USER_AGENT};
use reqwest::StatusCode;
use tokio::time::Instant;

use super::settings::{FeedKind, FeedSpec};
use crate::http;

/// Longest wait for the feed; the invocation's deadline may cut it shorter.
pub const FEED_TIMEOUT: Duration = Duration::from_secs(10);
/// A state's active alerts are a few hundred kB; the whole country's a few MB (500 alerts with
/// their polygons and descriptions: 4.6 MiB). A poll peaks at about 2.5 times the body (make
/// bench), so 32 MiB still fits the template's 128 MB.
pub const MAX_BODY: usize = 32 * 1024 * 1024;

/// Why a feed could not be read. `feed` names it as configured: "the nws feed
/// https://api.weather.gov/alerts/active?area=OK (WEATHER_FEED_URL)".
/// The largest body read of each kind of feed, so that a feed cannot make the function run
/// out of memory: NWS's national feed is a few MB ([`MAX_BODY`] leaves room for 3,000 alerts);
/// DWD's national zip is about 2 MB (16 MiB inflates to far more than the 256 MiB its reader
/// takes); a MeteoAlarm country's Atom feed is tens of kB, and its XML tree is many times its
/// text, so 4 MiB.
pub fn max_body(kind: FeedKind) -> usize {
    match kind {
        FeedKind::Nws => MAX_BODY,
        FeedKind::Dwd => 16 * 1024 * 1024,
        FeedKind::MeteoAlarm => 4 * 1024 * 1024,
    }
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum FeedError {
    #[error("{feed} did not answer within {} s", *millis as f64 / 1000.0)]
    Timeout { feed: String, millis: u64 },
    #[error("{feed} could not be reached: {detail}")]
    Unreachable { feed: String, detail: String },
    #[error("{feed} answered HTTP {status}: {hint}")]
    Status {
        feed: String,
        status: u16,
        hint: String,
    },
    #[error("{feed} is not {expected}: {problem}")]
    Malformed {
        feed: String,
        expected: &'static str,
        problem: String,
    },
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
    spec: FeedSpec,
    label: String,
    user_agent: String,
    last: Mutex<Option<Validators>>,
}

impl FeedClient {
    /// NWS asks every client for a User-Agent that names the application and a contact
    /// (website or email): the skill id names the application, `contact` is the owner's. The
    /// other services get the same courtesy.
    pub fn new(spec: FeedSpec, skill_id: &str, contact: Option<&str>) -> Self {
        let contact = contact.map(|c| format!("; {c}")).unwrap_or_default();
        FeedClient {
            label: format!("the {} feed {} ({})", spec.kind.name(), spec.url, spec.var),
            spec,
            user_agent: format!(
                "alexa-proactive/{} (Alexa skill {skill_id}{contact})",
                env!("CARGO_PKG_VERSION")
            ),
            last: Mutex::new(None),
        }
    }

    /// How errors name the feed: its kind, URL and variable.
    pub fn label(&self) -> &str {
        &self.label
    }

    /// A body that is not this feed's format.
    pub fn malformed(&self, problem: String) -> FeedError {
        FeedError::Malformed {
            feed: self.label.clone(),
            expected: match self.spec.kind {
                FeedKind::Nws => "an NWS alerts feed",
                FeedKind::Dwd => "a DWD CAP zip",
                FeedKind::MeteoAlarm => "a MeteoAlarm Atom feed",
            },
            problem,
        }
    }

    pub fn user_agent(&self) -> &str {
        &self.user_agent
    }

    pub fn url(&self) -> &str {
        &self.spec.url
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
        self.get(
            &self.spec.url,
            self.validators(),
            max_body(self.spec.kind),
            deadline,
        )
        .await
    }

    /// A document the feed links to (a MeteoAlarm entry's CAP document): unconditional, at
    /// most `max` bytes.
    pub async fn document(
        &self,
        url: &str,
        max: usize,
        deadline: Instant,
    ) -> Result<Vec<u8>, FeedError> {
        match self.get(url, None, max, deadline).await? {
            Fetched::Changed { body, .. } => Ok(body),
            // Not asked conditionally: a 304 is no answer.
            Fetched::NotModified => Err(FeedError::Status {
                feed: format!("{} (document {url})", self.label),
                status: 304,
                hint: "not modified, to a request that was not conditional".into(),
            }),
        }
    }

    async fn get(
        &self,
        url: &str,
        known: Option<Validators>,
        max: usize,
        deadline: Instant,
    ) -> Result<Fetched, FeedError> {
        // Half of what is left at most: the sends need time after the feed.
        let left = deadline.saturating_duration_since(Instant::now());
        let timeout = FEED_TIMEOUT.min(left / 2).max(Duration::from_millis(100));
        let client = http::shared().await.map_err(|e| FeedError::Unreachable {
            feed: self.label.clone(),
            detail: e.to_string(),
        })?;
        let accept = match self.spec.kind {
            FeedKind::Nws => "application/geo+json, application/json",
            FeedKind::Dwd => "application/zip, application/octet-stream",
            FeedKind::MeteoAlarm => {
                "application/atom+xml, application/cap+xml, application/xml, text/xml"
            }
        };
        let mut request = client
            .get(url)
            .timeout(timeout)
            .header(USER_AGENT, &self.user_agent)
            .header(ACCEPT, accept);
        if let Some(v) = &known {
            if let Some(etag) = &v.etag {
                request = request.header(IF_NONE_MATCH, etag);
            }
            if let Some(at) = &v.last_modified {
                request = request.header(IF_MODIFIED_SINCE, at);
            }
        }
        let label = || {
            if url == self.spec.url {
                self.label.clone()
            } else {
                format!("{} (document {url})", self.label)
            }
        };
        let transport = |err: reqwest::Error| {
            if err.is_timeout() {
                FeedError::Timeout {
                    feed: label(),
                    millis: u64::try_from(timeout.as_millis()).unwrap_or(u64::MAX),
                }
            } else {
                FeedError::Unreachable {
                    feed: label(),
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
                feed: label(),
                status: status.as_u16(),
                hint: status_hint(&self.spec, status, response.headers()),
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
            .filter(|n| *n <= max);
        let mut body = Vec::with_capacity(known_length.unwrap_or(0));
        while let Some(chunk) = response.chunk().await.map_err(transport)? {
            if body.len() + chunk.len() > max {
                let hint = match self.spec.kind {
                    FeedKind::Nws => "; point the URL at one area (?area=XX)",
                    FeedKind::Dwd | FeedKind::MeteoAlarm => "",
                };
                return Err(FeedError::Malformed {
                    feed: label(),
                    expected: "a document of a size this function reads",
                    problem: format!("the body is larger than {} KiB{hint}", max / 1024),
                });
            }
            body.extend_from_slice(&chunk);
        }
        Ok(Fetched::Changed { body, validators })
    }
}

fn status_hint(
    spec: &FeedSpec,
    status: StatusCode,
    headers: &reqwest::header::HeaderMap,
) -> String {
    let var = spec.var;
    let example = match spec.kind {
        FeedKind::Nws => "https://api.weather.gov/alerts/active?area=OK",
        FeedKind::Dwd => "https://opendata.dwd.de/weather/alerts/cap/COMMUNEUNION_DWD_STAT/Z_CAP_C_EDZW_LATEST_PVW_STATUS_PREMIUMDWD_COMMUNEUNION_DE.zip",
        FeedKind::MeteoAlarm => "https://feeds.meteoalarm.org/feeds/meteoalarm-legacy-atom-united-kingdom",
    };
    match status.as_u16() {
        300..=399 => {
            let to = headers
                .get(reqwest::header::LOCATION)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("(no Location)");
            format!("redirects are not followed; set {var} to {to}")
        }
        403 if spec.kind == FeedKind::Nws => "refused; the NWS API refuses clients without a User-Agent or that poll too often (keep the rate at one poll a minute or slower)".into(),
        404 => format!("not found; check {var} (e.g. {example})"),
        400..=499 => format!("the request was refused; check {var}"),
        _ => "the feed is unavailable right now".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_agent_names_the_skill_and_the_contact() {
        let spec = |url: &str| FeedSpec {
            kind: FeedKind::Nws,
            url: url.into(),
            var: "WEATHER_FEED_URL",
        };
        let feed = FeedClient::new(
            spec("https://api.weather.gov/alerts/active"),
            "amzn1.ask.skill.x",
            Some("weather@example.com"),
        );
        assert_eq!(
            feed.label(),
            "the nws feed https://api.weather.gov/alerts/active (WEATHER_FEED_URL)"
        );
        assert!(
            feed.user_agent()
                .ends_with("(Alexa skill amzn1.ask.skill.x; weather@example.com)"),
            "{}",
            feed.user_agent()
        );
        let anonymous = FeedClient::new(spec("https://example.com"), "amzn1.ask.skill.x", None);
        assert!(anonymous
            .user_agent()
            .ends_with("(Alexa skill amzn1.ask.skill.x)"));
    }
}
