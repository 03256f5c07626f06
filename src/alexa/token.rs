//! The Login-with-Amazon access token for the events API, cached for the life of the process.
//!
//! One token serves every send until 60 s before it expires. The cache is behind an async
//! mutex held across the token request, so concurrent sends wait for one request instead of
//! each making their own. A token endpoint that says `invalid_client` makes the credentials be
//! read again once (the secret may have been rotated since the process started).

use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;
use tokio::sync::Mutex;
use tokio::time::Instant;

use super::retry::{self, Attempts, Backoff, Step, Why};
use crate::credentials::{ClientCredentials, CredentialSource, CredentialsError, Redacted};
use crate::http;

/// The scope proactive events need.
pub const SCOPE: &str = "alexa::proactive_events";
/// A token is replaced this long before it expires, as Amazon's own SDKs do.
pub const REFRESH_MARGIN: Duration = Duration::from_secs(60);
/// LWA tokens last an hour; a longer lifetime than this is not believed (and an absurd one
/// must not overflow the clock).
pub const MAX_LIFETIME: Duration = Duration::from_secs(24 * 3600);

/// How long a token lives: `expires_in` seconds (an hour when absent), at most [`MAX_LIFETIME`].
fn lifetime(expires_in: Option<u64>) -> Duration {
    Duration::from_secs(expires_in.unwrap_or(3600)).min(MAX_LIFETIME)
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum TokenError {
    #[error(transparent)]
    Credentials(#[from] CredentialsError),
    /// The endpoint refused the client credentials, even after they were read again.
    #[error("the token endpoint {url} refused the client credentials with {status} {error}{description}: check that the secret holds the skill's Alexa Client id and secret (developer console, Permissions tab) and that the skill has the notifications permission")]
    Refused {
        url: String,
        status: u16,
        error: String,
        description: String,
    },
    #[error("the token endpoint {url} could not be used after {attempts} attempt(s): {last}")]
    Unavailable {
        url: String,
        attempts: u32,
        last: String,
    },
}

/// An access token; it prints as `<redacted>`.
pub type AccessToken = Arc<Redacted>;

struct Cached {
    token: AccessToken,
    refresh_at: Instant,
    /// When it was fetched: a token younger than [`MIN_AGE_TO_DROP`] is not dropped.
    fetched_at: Instant,
}

/// A refused token is dropped (and a new one fetched) only if it is at least this old: a 403
/// on every send (a configuration fault) must not turn into a token request per send, and a
/// token fetched moments ago is as good as the next one would be.
pub const MIN_AGE_TO_DROP: Duration = Duration::from_secs(5);

/// What the cache keeps. The credentials are only needed to get a token, so one lock serves
/// both.
#[derive(Default)]
struct Slot {
    credentials: Option<Arc<ClientCredentials>>,
    token: Option<Cached>,
}

pub struct TokenCache {
    http: reqwest::Client,
    url: String,
    source: Arc<dyn CredentialSource>,
    slot: Mutex<Slot>,
    backoff: Backoff,
    request_timeout: Duration,
}

/// One token request after another, for [`retry::run`]. An `invalid_client` answer makes the
/// secret be read once more (it may have been rotated after we read it), then a second one is
/// final.
struct TokenAttempts<'a> {
    cache: &'a TokenCache,
    kept: &'a mut Option<Arc<ClientCredentials>>,
    credentials: Arc<ClientCredentials>,
    reread: bool,
    deadline: Instant,
}

impl Attempts for TokenAttempts<'_> {
    type Output = Result<(AccessToken, Duration), TokenError>;

    async fn attempt(&mut self, _n: u32) -> Step<Self::Output> {
        match self.cache.attempt(&self.credentials, self.deadline).await {
            Attempt::Token(token, lifetime) => Step::Done(Ok((token, lifetime))),
            Attempt::Refused(err) => Step::Done(Err(err)),
            Attempt::InvalidClient {
                status,
                error,
                description,
            } if self.reread => Step::Done(Err(TokenError::Refused {
                url: self.cache.url.clone(),
                status,
                error,
                description,
            })),
            Attempt::InvalidClient { .. } => {
                self.reread = true;
                match self.cache.credentials(self.kept, true, self.deadline).await {
                    Ok(credentials) => {
                        self.credentials = credentials;
                        Step::Now
                    }
                    Err(err) => Step::Done(Err(err.into())),
                }
            }
            Attempt::Transient { last, retry_after } => Step::Later {
                last,
                retry_after,
                request_id: None,
            },
        }
    }
}

/// What one token request ended with.
enum Attempt {
    Token(AccessToken, Duration),
    InvalidClient {
        status: u16,
        error: String,
        description: String,
    },
    Refused(TokenError),
    Transient {
        last: String,
        retry_after: Option<Duration>,
    },
}

#[derive(Deserialize)]
struct TokenAnswer {
    access_token: String,
    expires_in: Option<u64>,
    token_type: Option<String>,
}

#[derive(Deserialize, Default)]
struct OAuthError {
    error: Option<String>,
    error_description: Option<String>,
}

impl TokenCache {
    pub fn new(http: reqwest::Client, url: String, source: Arc<dyn CredentialSource>) -> Self {
        TokenCache {
            http,
            url,
            source,
            slot: Mutex::new(Slot::default()),
            backoff: Backoff::default(),
            request_timeout: http::REQUEST_TIMEOUT,
        }
    }

    /// A valid token, from the cache or from one request shared by all callers.
    pub async fn get(&self, deadline: Instant) -> Result<AccessToken, TokenError> {
        let mut slot = self.slot.lock().await;
        if let Some(c) = slot
            .token
            .as_ref()
            .filter(|c| Instant::now() < c.refresh_at)
        {
            return Ok(c.token.clone());
        }
        let (token, lifetime) = self.request(&mut slot.credentials, deadline).await?;
        slot.token = Some(Cached {
            token: token.clone(),
            refresh_at: Instant::now() + lifetime.saturating_sub(REFRESH_MARGIN),
            fetched_at: Instant::now(),
        });
        Ok(token)
    }

    /// Drops `used` after the events API refused it (`forbidden`: with a 403, else a 401),
    /// unless another caller already replaced it. A 401 says the token is no good; a 403 may
    /// say the token lacks the permission, or only that a user has not allowed the skill: the
    /// token is then dropped only if it is at least [`MIN_AGE_TO_DROP`] old. The one lock makes
    /// the refresh one at a time.
    pub async fn invalidate(&self, used: &AccessToken, forbidden: bool) {
        let mut slot = self.slot.lock().await;
        if slot.token.as_ref().is_some_and(|c| {
            Arc::ptr_eq(&c.token, used) && (!forbidden || c.fetched_at.elapsed() >= MIN_AGE_TO_DROP)
        }) {
            slot.token = None;
        }
    }

    /// The kept credentials, or (first use, or `fresh`) a new read of the secret.
    async fn credentials(
        &self,
        kept: &mut Option<Arc<ClientCredentials>>,
        fresh: bool,
        deadline: Instant,
    ) -> Result<Arc<ClientCredentials>, CredentialsError> {
        if let Some(c) = kept.as_ref().filter(|_| !fresh) {
            return Ok(c.clone());
        }
        crate::metrics::emit(&[], &[("SecretReads", 1)]);
        let loaded = Arc::new(self.source.load(deadline).await?);
        *kept = Some(loaded.clone());
        Ok(loaded)
    }

    async fn request(
        &self,
        kept: &mut Option<Arc<ClientCredentials>>,
        deadline: Instant,
    ) -> Result<(AccessToken, Duration), TokenError> {
        let credentials = self.credentials(kept, false, deadline).await?;
        let mut attempts = TokenAttempts {
            cache: self,
            kept,
            credentials,
            reread: false,
            deadline,
        };
        match retry::run(&mut attempts, &self.backoff, self.request_timeout, deadline).await {
            Ok((result, _)) => result,
            Err(gave_up) => Err(TokenError::Unavailable {
                url: self.url.clone(),
                attempts: gave_up.attempts,
                last: match gave_up.why {
                    Why::Attempts => gave_up.last,
                    Why::Deadline { .. } => format!(
                        "{}; no time left in this invocation for another attempt",
                        gave_up.last
                    ),
                },
            }),
        }
    }

    async fn attempt(&self, credentials: &ClientCredentials, deadline: Instant) -> Attempt {
        crate::metrics::emit(&[], &[("TokenRequests", 1)]);
        let timeout = http::request_timeout(self.request_timeout, deadline);
        let form = [
            ("grant_type", "client_credentials"),
            ("client_id", credentials.client_id.as_str()),
            ("client_secret", credentials.client_secret.expose()),
            ("scope", SCOPE),
        ];
        let answer = match self
            .http
            .post(&self.url)
            .form(&form)
            .timeout(timeout)
            .send()
            .await
        {
            Ok(answer) => answer,
            Err(err) => {
                return Attempt::Transient {
                    last: http::describe_transport_error(&err),
                    retry_after: None,
                }
            }
        };
        let status = answer.status().as_u16();
        let retry_after = http::retry_after(answer.headers());
        // The body of a 200 holds the token: it is parsed, never quoted.
        let body = match answer.bytes().await {
            Ok(body) => body,
            Err(err) => {
                return Attempt::Transient {
                    last: http::describe_transport_error(&err),
                    retry_after,
                }
            }
        };
        if (200..300).contains(&status) {
            return match serde_json::from_slice::<TokenAnswer>(&body) {
                Ok(t)
                    if !t.access_token.is_empty()
                        && t.token_type
                            .as_deref()
                            .is_none_or(|k| k.eq_ignore_ascii_case("bearer")) =>
                {
                    let lifetime = lifetime(t.expires_in);
                    Attempt::Token(Arc::new(Redacted::new(t.access_token)), lifetime)
                }
                _ => Attempt::Transient {
                    last: format!("answer {status} without a usable bearer access_token"),
                    retry_after,
                },
            };
        }
        let oauth: OAuthError = serde_json::from_slice(&body).unwrap_or_default();
        let error = oauth.error.unwrap_or_else(|| "(no error code)".into());
        let description = oauth
            .error_description
            .map(|d| format!(" ({d})"))
            .unwrap_or_default();
        match (status, error.as_str()) {
            (_, "invalid_client") | (401, _) => Attempt::InvalidClient {
                status,
                error,
                description,
            },
            (429 | 500..=599, _) => Attempt::Transient {
                last: format!("answer {status} {error}{description}"),
                retry_after,
            },
            _ => Attempt::Refused(TokenError::Refused {
                url: self.url.clone(),
                status,
                error,
                description,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::credentials::Fixed;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    /// A token endpoint on loopback that answers every request with `body`; returns its URL.
    async fn endpoint(body: &'static str) -> String {
        answering(200, body.to_owned()).await
    }

    /// A token endpoint on loopback that answers every request with `status` and `body`.
    async fn answering(status: u16, body: String) -> String {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/auth/o2/token", listener.local_addr().unwrap());
        tokio::spawn(async move {
            while let Ok((mut socket, _)) = listener.accept().await {
                let mut request = vec![0u8; 4096];
                let _ = socket.read(&mut request).await;
                let answer = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(answer.as_bytes()).await;
            }
        });
        url
    }

    /// Token endpoint answers as they might come: any status, bodies with every field missing,
    /// mistyped or out of range. None may panic the function, and a token is only ever taken
    /// from a 2xx with a usable bearer `access_token`.
    #[test]
    fn any_token_endpoint_answer_is_handled_without_a_panic() {
        use proptest::prelude::*;
        use proptest::test_runner::{Config, RngSeed, TestRunner};
        let number = prop_oneof![
            Just("0".to_owned()),
            Just("-1".to_owned()),
            Just("3600".to_owned()),
            Just("1.5e300".to_owned()),
            Just("18446744073709551615".to_owned()),
            Just("99999999999999999999999".to_owned()),
            Just("\"3600\"".to_owned()),
            Just("null".to_owned()),
            any::<u64>().prop_map(|n| n.to_string()),
        ];
        let text = prop_oneof![
            Just("\"Atza|token\"".to_owned()),
            Just("\"\"".to_owned()),
            Just("null".to_owned()),
            Just("42".to_owned()),
            Just("[]".to_owned()),
            "[a-zA-Z|]{0,12}".prop_map(|t| format!("{t:?}")),
        ];
        let kind = prop_oneof![
            Just("\"bearer\"".to_owned()),
            Just("\"Bearer\"".to_owned()),
            Just("\"mac\"".to_owned()),
            Just("1".to_owned()),
        ];
        let field = |name: &'static str, value: BoxedStrategy<String>| {
            proptest::option::of(value).prop_map(move |v| v.map(|v| format!("\"{name}\": {v}")))
        };
        let body = (
            field("access_token", text.clone().boxed()),
            field("expires_in", number.boxed()),
            field("token_type", kind.boxed()),
            field("error", text.boxed()),
        )
            .prop_map(|(a, b, c, d)| {
                let fields: Vec<String> = [a, b, c, d].into_iter().flatten().collect();
                format!("{{{}}}", fields.join(", "))
            });
        let body = prop_oneof![
            8 => body,
            1 => Just("not json".to_owned()),
            1 => Just(String::new()),
        ];
        let status = prop_oneof![
            6 => Just(200u16),
            1 => Just(400u16),
            1 => Just(401u16),
            1 => Just(429u16),
            1 => Just(503u16),
        ];
        let cases = std::env::var("PROPTEST_CASES")
            .ok()
            .and_then(|c| c.parse().ok())
            .unwrap_or(100);
        // The same cases on every run, so CI is repeatable.
        let mut runner = TestRunner::new(Config {
            cases,
            failure_persistence: None,
            rng_seed: RngSeed::Fixed(7),
            ..Config::default()
        });
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runner
            .run(&(status, body), |(status, body)| {
                runtime.block_on(async {
                    let url = answering(status, body.clone()).await;
                    let tokens = cache(url);
                    // A short budget: retries of a 429 or 503 stop quickly.
                    let deadline = Instant::now() + Duration::from_millis(400);
                    let got = tokens.get(deadline).await;
                    if let Ok(token) = &got {
                        prop_assert!((200..300).contains(&status), "{status} {body}");
                        prop_assert!(!token.expose().is_empty(), "{body}");
                    }
                    Ok(())
                })
            })
            .unwrap();
    }

    fn cache(url: String) -> TokenCache {
        let credentials = Fixed(ClientCredentials {
            client_id: "id".into(),
            client_secret: Redacted::new("secret"),
        });
        TokenCache::new(reqwest::Client::new(), url, Arc::new(credentials))
    }

    #[tokio::test]
    async fn an_absurd_lifetime_is_clamped_not_a_panic() {
        let url = endpoint(
            r#"{"access_token":"Atza|t","token_type":"bearer","expires_in":18446744073709551615}"#,
        )
        .await;
        let tokens = cache(url);
        let deadline = Instant::now() + Duration::from_secs(10);
        let first = tokens.get(deadline).await.unwrap();
        let second = tokens.get(deadline).await.unwrap();
        assert!(Arc::ptr_eq(&first, &second), "cached");
        let refresh_at = tokens.slot.lock().await.token.as_ref().unwrap().refresh_at;
        assert!(refresh_at <= Instant::now() + MAX_LIFETIME);
    }

    #[tokio::test]
    async fn a_refused_token_is_dropped_only_once_it_is_a_few_seconds_old() {
        // A 403 on every send must not become a token request per send.
        let url =
            endpoint(r#"{"access_token":"Atza|t","token_type":"bearer","expires_in":3600}"#).await;
        let tokens = cache(url);
        let deadline = Instant::now() + Duration::from_secs(10);
        let first = tokens.get(deadline).await.unwrap();
        tokens.invalidate(&first, true).await;
        let again = tokens.get(deadline).await.unwrap();
        assert!(
            Arc::ptr_eq(&first, &again),
            "kept after a 403: fetched moments ago"
        );
        // A few seconds later, a refusal drops it.
        if let Some(cached) = tokens.slot.lock().await.token.as_mut() {
            cached.fetched_at = Instant::now() - MIN_AGE_TO_DROP;
        }
        tokens.invalidate(&first, true).await;
        let fresh = tokens.get(deadline).await.unwrap();
        assert!(!Arc::ptr_eq(&first, &fresh), "a new token");
        // A 401 drops it at once, however young.
        tokens.invalidate(&fresh, false).await;
        let newest = tokens.get(deadline).await.unwrap();
        assert!(!Arc::ptr_eq(&fresh, &newest));
    }

    #[test]
    fn lifetimes_are_taken_as_given_within_bounds() {
        assert_eq!(lifetime(Some(3600)), Duration::from_secs(3600));
        assert_eq!(lifetime(None), Duration::from_secs(3600));
        assert_eq!(lifetime(Some(0)), Duration::ZERO);
        assert_eq!(lifetime(Some(u64::MAX)), MAX_LIFETIME);
    }

    /// A secret store that answers after `delay`.
    struct Slow(Duration);

    impl CredentialSource for Slow {
        fn load(&self, deadline: Instant) -> crate::credentials::LoadFuture<'_> {
            let delay = self.0;
            Box::pin(async move {
                match crate::budget::bounded(deadline, tokio::time::sleep(delay)).await {
                    Some(()) => Ok(ClientCredentials {
                        client_id: "id".into(),
                        client_secret: Redacted::new("secret"),
                    }),
                    None => Err(CredentialsError::Unavailable {
                        secret: "slow".into(),
                        detail: "no answer before the invocation's deadline".into(),
                    }),
                }
            })
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_secret_store_costs_no_more_than_the_deadline() {
        let tokens = TokenCache::new(
            reqwest::Client::new(),
            "http://127.0.0.1:9/unused".into(),
            Arc::new(Slow(Duration::from_secs(30))),
        );
        let started = Instant::now();
        let err = tokens
            .get(started + Duration::from_secs(6))
            .await
            .unwrap_err();
        assert!(
            started.elapsed() < Duration::from_secs(6),
            "{:?}",
            started.elapsed()
        );
        assert!(
            err.to_string().contains("before the invocation's deadline"),
            "{err}"
        );
    }
}
