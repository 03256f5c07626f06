//! Configuration, read once at start-up from the environment.
//!
//! Every error names the variable and what was expected, because a Lambda that fails at
//! init shows nothing but its log: the message has to be enough to fix the deployment.

use std::fmt;

use crate::alexa::{self, Region, Stage};
use crate::vars;
use crate::weather::{self, Audience, FeedKind, FeedSpec, Severity};

/// Unicasts per second one function instance sends by default (`FANOUT_SEND_RATE`).
pub const DEFAULT_SEND_RATE: u32 = 50;

/// Skill ids start with one of these (the second is the pre-2017 format that old skills and
/// `sam local generate-event alexa-skills-kit` still use).
const SKILL_ID_PREFIXES: [&str; 2] = ["amzn1.ask.skill.", "amzn1.echo-sdk-ams.app."];

/// Amazon's default Login-with-Amazon token endpoint.
pub const DEFAULT_LWA_TOKEN_URL: &str = "https://api.amazon.com/auth/o2/token";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The only skill allowed to talk to this function.
    pub skill_id: String,
    /// Secrets Manager id or ARN of the skill's client credentials; only sending needs it,
    /// so its absence is reported by the first send, not at start-up.
    pub credentials_secret: Option<String>,
    pub stage: Stage,
    /// Where a Multicast goes; never empty.
    pub regions: Vec<Region>,
    /// Replaces the regional hosts (local runs and tests), without a trailing slash.
    pub api_url: Option<String>,
    pub lwa_token_url: String,
    /// The DynamoDB table of sends and users; without it nothing is remembered.
    pub state_table: Option<String>,
    /// The feeds the scheduled rule polls (`WEATHER_FEEDS`, and `WEATHER_FEED_URL` as one
    /// NWS feed); none = no polling.
    pub weather_feeds: Vec<FeedSpec>,
    /// Feed alerts below this severity are not announced.
    pub weather_min_severity: Severity,
    /// A website or email address for the feed's operator to reach the skill's owner; sent in
    /// the User-Agent, as NWS asks.
    pub weather_feed_contact: Option<String>,
    /// Who hears a feed alert (`WEATHER_AUDIENCE`).
    pub weather_audience: Audience,
    /// The SQS queue of per-user work (`FANOUT_QUEUE_URL`); needed to target by place.
    pub fanout_queue_url: Option<String>,
    /// Unicasts per second per function instance.
    pub fanout_send_rate: u32,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {var} is not set: {expected}")]
    Missing { var: &'static str, expected: String },
    #[error("environment variable {var} has the value {value:?}: {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: String,
    },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process
    /// environment (which is shared between test threads).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let text = |name: &str| {
            lookup(name)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty())
        };
        let skill_id = text(vars::SKILL_ID).ok_or_else(|| ConfigError::Missing {
            var: vars::SKILL_ID,
            expected: skill_id_expectation(),
        })?;
        if !SKILL_ID_PREFIXES.iter().any(|p| skill_id.starts_with(p)) {
            return Err(ConfigError::Invalid {
                var: vars::SKILL_ID,
                value: skill_id,
                expected: skill_id_expectation(),
            });
        }
        let stage = match text(vars::STAGE) {
            None => Stage::Development,
            Some(value) => Stage::parse(&value).ok_or_else(|| ConfigError::Invalid {
                var: vars::STAGE,
                value,
                expected: format!("expected one of {}", Stage::ALLOWED),
            })?,
        };
        let regions = match text(vars::REGIONS) {
            None => vec![Region::Na],
            Some(list) => parse_regions(&list)?,
        };
        let api_url = text(vars::API_URL)
            .map(|url| token_bearing_url(vars::API_URL, url))
            .transpose()?
            .map(|url| url.trim_end_matches('/').to_owned());
        let lwa_token_url = token_bearing_url(
            vars::LWA_TOKEN_URL,
            text(vars::LWA_TOKEN_URL).unwrap_or_else(|| DEFAULT_LWA_TOKEN_URL.to_owned()),
        )?;
        let mut weather_feeds = match text(vars::WEATHER_FEEDS) {
            None => Vec::new(),
            Some(list) => parse_feeds(&list)?,
        };
        if let Some(url) = text(vars::WEATHER_FEED_URL) {
            let url = http_url(vars::WEATHER_FEED_URL, url)?;
            // The older single-feed setting is one NWS entry (once, if listed in both).
            if !weather_feeds.iter().any(|f| f.url == url) {
                weather_feeds.insert(
                    0,
                    FeedSpec {
                        kind: FeedKind::Nws,
                        url,
                        var: vars::WEATHER_FEED_URL,
                    },
                );
            }
        }
        let weather_min_severity = match text(vars::WEATHER_MIN_SEVERITY) {
            None => Severity::Severe,
            Some(value) => match Severity::parse(&value) {
                Some(severity) if severity != Severity::Unknown => severity,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: vars::WEATHER_MIN_SEVERITY,
                        value,
                        expected: format!("expected one of {}", Severity::ALLOWED),
                    })
                }
            },
        };
        let weather_feed_contact = text(vars::WEATHER_FEED_CONTACT)
            .map(|contact| header_text(vars::WEATHER_FEED_CONTACT, contact))
            .transpose()?;
        let weather_audience = match text(vars::WEATHER_AUDIENCE) {
            None => Audience::Located,
            Some(value) => Audience::parse(&value).ok_or_else(|| ConfigError::Invalid {
                var: vars::WEATHER_AUDIENCE,
                value,
                expected: format!("expected {}", Audience::ALLOWED),
            })?,
        };
        // One Multicast per alert reaches every subscriber: right for a skill serving exactly
        // one feed's area, wrong for several countries' feeds (everyone would hear all).
        if weather_audience == Audience::Everyone && weather_feeds.len() > 1 {
            return Err(ConfigError::Invalid {
                var: vars::WEATHER_AUDIENCE,
                value: "everyone".into(),
                expected: format!(
                    "expected located with {} feeds: everyone sends each alert to every subscriber, so each user would hear every feed's warnings",
                    weather_feeds.len()
                ),
            });
        }
        let fanout_queue_url = text(vars::FANOUT_QUEUE_URL)
            .map(|url| http_url(vars::FANOUT_QUEUE_URL, url))
            .transpose()?;
        // Caught here rather than at the first poll with an alert: a feed polled for users
        // by place needs the queue their Unicasts go through.
        if !weather_feeds.is_empty()
            && weather_audience == Audience::Located
            && fanout_queue_url.is_none()
        {
            return Err(ConfigError::Missing {
                var: vars::FANOUT_QUEUE_URL,
                expected: format!(
                    "{} is set and WEATHER_AUDIENCE is located (the default), so each feed alert goes to the users of its places through the fan-out queue: set it to that SQS queue's URL (the SAM template's FanoutQueue), or set WEATHER_AUDIENCE=everyone to announce every alert to every subscriber",
                    weather_feeds.first().map_or(vars::WEATHER_FEEDS, |f| f.var)
                ),
            });
        }
        let fanout_send_rate = match text(vars::FANOUT_SEND_RATE) {
            None => DEFAULT_SEND_RATE,
            Some(value) => match value.parse::<u32>() {
                Ok(rate @ 1..=1_000) => rate,
                _ => {
                    return Err(ConfigError::Invalid {
                        var: vars::FANOUT_SEND_RATE,
                        value,
                        expected: "expected Unicasts per second per function instance, a whole number from 1 to 1000".into(),
                    })
                }
            },
        };
        Ok(Config {
            weather_audience,
            fanout_queue_url,
            fanout_send_rate,
            skill_id,
            credentials_secret: text(vars::CREDENTIALS_SECRET),
            stage,
            regions,
            api_url,
            lwa_token_url,
            state_table: text(vars::STATE_TABLE),
            weather_feeds,
            weather_min_severity,
            weather_feed_contact,
        })
    }

    /// What the weather poll needs of this configuration.
    pub fn weather_settings(&self) -> weather::Settings {
        weather::Settings {
            skill_id: self.skill_id.clone(),
            feeds: self.weather_feeds.clone(),
            min_severity: self.weather_min_severity,
            contact: self.weather_feed_contact.clone(),
            audience: self.weather_audience,
        }
    }

    /// What the Alexa client needs of this configuration.
    pub fn alexa_settings(&self) -> alexa::Settings {
        alexa::Settings {
            stage: self.stage,
            api_url: self.api_url.clone(),
            lwa_token_url: self.lwa_token_url.clone(),
        }
    }
}

/// `kind=URL` entries separated by commas (`nws=https://api.weather.gov/alerts/active?area=OK,
/// dwd=https://opendata.dwd.de/…zip`); a URL with a comma of its own must encode it (`%2C`).
fn parse_feeds(list: &str) -> Result<Vec<FeedSpec>, ConfigError> {
    let invalid = |expected: String| ConfigError::Invalid {
        var: vars::WEATHER_FEEDS,
        value: list.to_owned(),
        expected,
    };
    let mut feeds: Vec<FeedSpec> = Vec::new();
    for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
        let Some((kind, url)) = entry.split_once('=') else {
            return Err(invalid(format!(
                "{entry:?} has no kind; expected kind=URL entries separated by commas, kinds {}, e.g. nws=https://api.weather.gov/alerts/active?area=OK",
                FeedKind::ALLOWED
            )));
        };
        let Some(kind) = FeedKind::parse(kind) else {
            return Err(invalid(format!(
                "{:?} is not a feed kind; expected one of {}",
                kind.trim(),
                FeedKind::ALLOWED
            )));
        };
        let url = http_url(vars::WEATHER_FEEDS, url.trim().to_owned())?;
        if feeds.iter().any(|f| f.url == url) {
            return Err(invalid(format!("{url} is listed twice")));
        }
        feeds.push(FeedSpec {
            kind,
            url,
            var: vars::WEATHER_FEEDS,
        });
    }
    if feeds.is_empty() {
        return Err(invalid(format!(
            "expected kind=URL entries separated by commas, kinds {}",
            FeedKind::ALLOWED
        )));
    }
    Ok(feeds)
}

fn parse_regions(list: &str) -> Result<Vec<Region>, ConfigError> {
    let mut regions = Vec::new();
    for item in list.split(',').map(str::trim).filter(|i| !i.is_empty()) {
        let Some(region) = Region::from_code(item) else {
            return Err(ConfigError::Invalid {
                var: vars::REGIONS,
                value: list.to_owned(),
                expected: format!(
                    "{item:?} is not a region; expected a comma-separated list of {}",
                    Region::ALLOWED
                ),
            });
        };
        if !regions.contains(&region) {
            regions.push(region);
        }
    }
    if regions.is_empty() {
        return Err(ConfigError::Invalid {
            var: vars::REGIONS,
            value: list.to_owned(),
            expected: format!("expected a comma-separated list of {}", Region::ALLOWED),
        });
    }
    Ok(regions)
}

fn http_url(var: &'static str, url: String) -> Result<String, ConfigError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(url),
        _ => Err(ConfigError::Invalid {
            var,
            value: url,
            expected: "expected an http:// or https:// URL with a host".into(),
        }),
    }
}

/// Text that goes into an HTTP header: visible ASCII and spaces, at most 200 characters.
fn header_text(var: &'static str, text: String) -> Result<String, ConfigError> {
    if text.len() <= 200 && text.chars().all(|c| c == ' ' || c.is_ascii_graphic()) {
        return Ok(text);
    }
    Err(ConfigError::Invalid {
        var,
        value: text,
        expected: "expected a website or email address such as weather-skill@example.com (ASCII, at most 200 characters)".into(),
    })
}

/// A URL that is sent the client secret or an access token: HTTPS, or plain HTTP to a
/// loopback host only (tests, `make run`), so a typo cannot send them in clear text.
fn token_bearing_url(var: &'static str, url: String) -> Result<String, ConfigError> {
    let url = http_url(var, url)?;
    match url.strip_prefix("http://") {
        Some(rest) if !is_loopback(authority_host(rest)) => Err(ConfigError::Invalid {
            var,
            value: url,
            expected: "expected an https:// URL (it is sent the client secret or an access token; plain http:// is allowed only for a loopback host such as 127.0.0.1 or localhost)".into(),
        }),
        _ => Ok(url),
    }
}

/// The host of `host[:port][/path]`, after any `user@`.
fn authority_host(rest: &str) -> &str {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let host_port = authority.rsplit('@').next().unwrap_or_default();
    match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or_default(),
        None => host_port.split(':').next().unwrap_or_default(),
    }
}

fn is_loopback(host: &str) -> bool {
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

fn skill_id_expectation() -> String {
    format!(
        "expected the skill id from the Alexa developer console, starting with {}",
        SKILL_ID_PREFIXES.join(" or ")
    )
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let regions: Vec<&str> = self.regions.iter().map(|r| r.code()).collect();
        write!(
            f,
            "skill {}, stage {:?}, regions {}, credentials secret {}, state table {}, weather feeds {} (minimum severity {}, contact {})",
            self.skill_id,
            self.stage,
            regions.join(","),
            self.credentials_secret.as_deref().unwrap_or("(not set)"),
            self.state_table.as_deref().unwrap_or("(not set)"),
            if self.weather_feeds.is_empty() {
                "(not set)".to_owned()
            } else {
                self.weather_feeds
                    .iter()
                    .map(|f| format!("{}={}", f.kind.name(), f.url))
                    .collect::<Vec<_>>()
                    .join(",")
            },
            self.weather_min_severity.name(),
            self.weather_feed_contact.as_deref().unwrap_or("(not set)"),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_the_skill_id() {
        let id = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
        let config = Config::from_lookup(lookup(&[(vars::SKILL_ID, id)])).unwrap();
        assert_eq!(config.skill_id, id);
    }

    #[test]
    fn a_missing_skill_id_names_the_variable() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Missing {
                var: "ALEXA_SKILL_ID",
                ..
            }
        ));
        assert!(err.to_string().contains("ALEXA_SKILL_ID"), "{err}");
        let blank = Config::from_lookup(lookup(&[(vars::SKILL_ID, "  ")])).unwrap_err();
        assert!(matches!(blank, ConfigError::Missing { .. }));
    }

    #[test]
    fn a_malformed_skill_id_says_what_is_expected() {
        let err = Config::from_lookup(lookup(&[(vars::SKILL_ID, "my-skill")])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ALEXA_SKILL_ID") && text.contains("\"my-skill\""),
            "{text}"
        );
        assert!(text.contains("amzn1.ask.skill."), "{text}");
    }

    const ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";

    #[test]
    fn feeds_are_a_list_of_kinds_and_urls_and_the_older_variable_is_one_nws_feed() {
        let queue = (
            vars::FANOUT_QUEUE_URL,
            "https://sqs.eu-west-1.amazonaws.com/1/q",
        );
        let config = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            queue,
            (
                vars::WEATHER_FEEDS,
                " dwd=https://opendata.dwd.de/a.zip , meteoalarm=https://feeds.meteoalarm.org/feeds/uk,",
            ),
            (vars::WEATHER_FEED_URL, "https://api.weather.gov/alerts/active?area=OK"),
        ]))
        .unwrap();
        let kinds: Vec<(FeedKind, &str, &str)> = config
            .weather_feeds
            .iter()
            .map(|f| (f.kind, f.url.as_str(), f.var))
            .collect();
        assert_eq!(
            kinds,
            [
                (
                    FeedKind::Nws,
                    "https://api.weather.gov/alerts/active?area=OK",
                    vars::WEATHER_FEED_URL
                ),
                (
                    FeedKind::Dwd,
                    "https://opendata.dwd.de/a.zip",
                    vars::WEATHER_FEEDS
                ),
                (
                    FeedKind::MeteoAlarm,
                    "https://feeds.meteoalarm.org/feeds/uk",
                    vars::WEATHER_FEEDS
                ),
            ]
        );
        assert_eq!(config.weather_settings().feeds, config.weather_feeds);
        // Listed in both: once.
        let both = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            queue,
            (vars::WEATHER_FEEDS, "nws=https://api.weather.gov/x"),
            (vars::WEATHER_FEED_URL, "https://api.weather.gov/x"),
        ]))
        .unwrap();
        assert_eq!(both.weather_feeds.len(), 1);

        for (value, says) in [
            ("https://api.weather.gov/x", "has no kind"),
            (
                "metoffice=https://x.example/feed",
                "\"metoffice\" is not a feed kind",
            ),
            ("dwd=ftp://x.example/a.zip", "http:// or https://"),
            (
                "dwd=https://x.example/a,dwd=https://x.example/a",
                "listed twice",
            ),
            (" , ", "expected kind=URL"),
        ] {
            let err = Config::from_lookup(lookup(&[
                (vars::SKILL_ID, ID),
                queue,
                (vars::WEATHER_FEEDS, value),
            ]))
            .unwrap_err()
            .to_string();
            assert!(
                err.contains("WEATHER_FEEDS") && err.contains(says),
                "{value}: {err}"
            );
        }
        // Feeds for users by place need the fan-out queue.
        let err = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            (vars::WEATHER_FEEDS, "dwd=https://opendata.dwd.de/a.zip"),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("FANOUT_QUEUE_URL") && err.contains("WEATHER_FEEDS"),
            "{err}"
        );
        // Everyone hears every feed's warnings with a Multicast: refused for several feeds.
        let err = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            (vars::WEATHER_AUDIENCE, "everyone"),
            (
                vars::WEATHER_FEEDS,
                "dwd=https://opendata.dwd.de/a.zip,meteoalarm=https://feeds.meteoalarm.org/x",
            ),
        ]))
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("WEATHER_AUDIENCE") && err.contains("2 feeds"),
            "{err}"
        );
    }

    #[test]
    fn sender_settings_default_to_development_in_north_america() {
        let config = Config::from_lookup(lookup(&[(vars::SKILL_ID, ID)])).unwrap();
        assert_eq!(config.stage, Stage::Development);
        assert_eq!(config.regions, vec![Region::Na]);
        assert_eq!(config.lwa_token_url, DEFAULT_LWA_TOKEN_URL);
        assert_eq!(config.credentials_secret, None);
        assert_eq!(config.state_table, None);
        assert!(config.weather_feeds.is_empty());
        assert_eq!(config.weather_min_severity, Severity::Severe);
        assert_eq!(
            config.alexa_settings().events_url(Region::Na),
            "https://api.amazonalexa.com/v1/proactiveEvents/stages/development"
        );
    }

    #[test]
    fn sender_settings_are_read_and_checked() {
        let config = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            (vars::STAGE, "live"),
            (vars::REGIONS, "eu, FE,eu"),
            (vars::API_URL, "http://127.0.0.1:9000/"),
            (vars::CREDENTIALS_SECRET, "alexa/credentials"),
        ]))
        .unwrap();
        assert_eq!(config.stage, Stage::Live);
        assert_eq!(config.regions, vec![Region::Eu, Region::Fe]);
        assert_eq!(
            config.alexa_settings().events_url(Region::Fe),
            "http://127.0.0.1:9000/v1/proactiveEvents"
        );
        assert_eq!(
            config.credentials_secret.as_deref(),
            Some("alexa/credentials")
        );
        let live =
            Config::from_lookup(lookup(&[(vars::SKILL_ID, ID), (vars::STAGE, "live")])).unwrap();
        assert_eq!(
            live.alexa_settings().events_url(Region::Eu),
            "https://api.eu.amazonalexa.com/v1/proactiveEvents"
        );
        let per_region = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            (vars::API_URL, "http://127.0.0.1:9000/{region}"),
        ]))
        .unwrap();
        assert_eq!(
            per_region.alexa_settings().events_url(Region::Eu),
            "http://127.0.0.1:9000/eu/v1/proactiveEvents/stages/development"
        );
    }

    #[test]
    fn targeting_settings_are_read_and_a_located_feed_needs_the_queue() {
        let config = Config::from_lookup(lookup(&[(vars::SKILL_ID, ID)])).unwrap();
        assert_eq!(config.weather_audience, Audience::Located);
        assert_eq!(config.fanout_send_rate, DEFAULT_SEND_RATE);
        let feed = (
            vars::WEATHER_FEED_URL,
            "https://api.weather.gov/alerts/active?area=OK",
        );
        let err = Config::from_lookup(lookup(&[(vars::SKILL_ID, ID), feed])).unwrap_err();
        assert!(
            matches!(
                err,
                ConfigError::Missing {
                    var: "FANOUT_QUEUE_URL",
                    ..
                }
            ),
            "{err}"
        );
        assert!(
            err.to_string().contains("WEATHER_AUDIENCE=everyone"),
            "{err}"
        );
        let queue = (
            vars::FANOUT_QUEUE_URL,
            "https://sqs.us-east-1.amazonaws.com/123456789012/fanout",
        );
        let config = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            feed,
            queue,
            (vars::FANOUT_SEND_RATE, "200"),
        ]))
        .unwrap();
        assert_eq!(config.fanout_send_rate, 200);
        let everyone = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            feed,
            (vars::WEATHER_AUDIENCE, "everyone"),
        ]))
        .unwrap();
        assert_eq!(everyone.weather_audience, Audience::Everyone);
        for (var, value) in [
            (vars::WEATHER_AUDIENCE, "nearby"),
            (vars::FANOUT_SEND_RATE, "0"),
            (vars::FANOUT_SEND_RATE, "1001"),
            (vars::FANOUT_SEND_RATE, "fast"),
            (vars::FANOUT_QUEUE_URL, "fanout"),
        ] {
            let err =
                Config::from_lookup(lookup(&[(vars::SKILL_ID, ID), (var, value)])).unwrap_err();
            assert!(err.to_string().contains(var), "{var}={value}: {err}");
        }
    }

    #[test]
    fn the_feed_contact_is_read_and_must_fit_a_header() {
        let config = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            (vars::WEATHER_FEED_CONTACT, " weather@example.com "),
        ]))
        .unwrap();
        assert_eq!(
            config.weather_feed_contact.as_deref(),
            Some("weather@example.com")
        );
        let err = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            (vars::WEATHER_FEED_CONTACT, "me\r\nX-Evil: 1"),
        ]))
        .unwrap_err();
        assert!(err.to_string().contains("WEATHER_FEED_CONTACT"), "{err}");
    }

    #[test]
    fn urls_that_carry_secrets_are_https_unless_on_loopback() {
        for (var, value) in [
            (vars::API_URL, "http://api.example.com"),
            (vars::LWA_TOKEN_URL, "http://api.amazon.com/auth/o2/token"),
            (vars::LWA_TOKEN_URL, "http://127.0.0.1.example.com/token"),
            (vars::LWA_TOKEN_URL, "http://127.0.0.1@example.com/token"),
            (vars::API_URL, "http://[2001:db8::1]:9000"),
        ] {
            let err =
                Config::from_lookup(lookup(&[(vars::SKILL_ID, ID), (var, value)])).unwrap_err();
            let text = err.to_string();
            assert!(
                text.contains(var) && text.contains("https://") && text.contains("loopback"),
                "{value}: {text}"
            );
        }
        for (var, value) in [
            (vars::API_URL, "http://127.0.0.1:9100/{region}"),
            (vars::API_URL, "http://localhost:9100"),
            (vars::LWA_TOKEN_URL, "http://[::1]:9100/auth/o2/token"),
            (
                vars::LWA_TOKEN_URL,
                "https://api.amazon.co.jp/auth/o2/token",
            ),
        ] {
            Config::from_lookup(lookup(&[(vars::SKILL_ID, ID), (var, value)]))
                .unwrap_or_else(|e| panic!("{value}: {e}"));
        }
    }

    #[test]
    fn unknown_sender_values_name_the_variable_and_the_allowed_values() {
        for (var, value, says) in [
            (vars::STAGE, "prod", "development, live"),
            (vars::REGIONS, "NA,US", "\"US\" is not a region"),
            (vars::REGIONS, " , ", "NA, EU, FE"),
            (vars::API_URL, "localhost:9000", "http:// or https://"),
            (vars::LWA_TOKEN_URL, "https://", "with a host"),
        ] {
            let err =
                Config::from_lookup(lookup(&[(vars::SKILL_ID, ID), (var, value)])).unwrap_err();
            let text = err.to_string();
            assert!(text.contains(var) && text.contains(says), "{text}");
        }
    }

    #[test]
    fn regions_are_found_from_a_requests_api_endpoint() {
        assert_eq!(
            Region::from_api_endpoint("https://api.eu.amazonalexa.com"),
            Some(Region::Eu)
        );
        assert_eq!(
            Region::from_api_endpoint("https://api.amazonalexa.com/"),
            Some(Region::Na)
        );
        assert_eq!(Region::from_api_endpoint("https://example.com"), None);
    }

    #[test]
    fn weather_settings_are_checked_at_start_up() {
        let config = Config::from_lookup(lookup(&[
            (vars::SKILL_ID, ID),
            (vars::STATE_TABLE, "alexa-state"),
            (
                vars::WEATHER_FEED_URL,
                "https://api.weather.gov/alerts/active?area=OK",
            ),
            (vars::WEATHER_MIN_SEVERITY, "moderate"),
            (vars::WEATHER_AUDIENCE, "everyone"),
        ]))
        .unwrap();
        assert_eq!(config.state_table.as_deref(), Some("alexa-state"));
        assert_eq!(config.weather_min_severity, Severity::Moderate);
        for (var, value, says) in [
            (
                vars::WEATHER_MIN_SEVERITY,
                "Bad",
                "Minor, Moderate, Severe, Extreme",
            ),
            (
                vars::WEATHER_MIN_SEVERITY,
                "Unknown",
                "Minor, Moderate, Severe, Extreme",
            ),
            (
                vars::WEATHER_FEED_URL,
                "api.weather.gov/alerts",
                "http:// or https://",
            ),
        ] {
            let err = Config::from_lookup(lookup(&[(vars::SKILL_ID, ID), (var, value)]))
                .unwrap_err()
                .to_string();
            assert!(err.contains(var) && err.contains(says), "{err}");
        }
    }
}
