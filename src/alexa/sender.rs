//! Posts events to the Alexa events API: one POST per event and region, retried per
//! [`retry`](super::retry) within the invocation's deadline.
//!
//! Every send ends in a [`Delivery`] rather than an error, so one failed region does not hide
//! what happened to the others; the caller fails the invocation if any delivery failed, and
//! Lambda's retry sends again with the same referenceId (Alexa answers 409 for the ones that
//! got through, which counts as delivered).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::region::{Region, Settings};
use super::retry::{self, Attempts, Backoff, Class, Step, Why};
use super::token::TokenCache;
use super::Post;
use crate::budget::REPORT_RESERVE;
use crate::http;

/// How a send ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Status {
    /// 2xx: Alexa took it.
    Accepted,
    /// 409: Alexa already had this referenceId (an earlier delivery of the same trigger).
    Duplicate,
    /// 403 for a Unicast, also with a fresh token: the user has not turned notifications on.
    NotSubscribed,
    /// Alexa refused the event itself (400 invalid, 413 too large, 432 over the notification
    /// limit): sending the same event again cannot help.
    Refused,
    /// Not delivered: any other refusal (a configuration problem), or retries / time ran out.
    Failed,
}

/// The outcome of one event in one region; this is what the invocation answers with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Delivery {
    pub reference_id: String,
    pub region: &'static str,
    pub status: Status,
    pub attempts: u32,
    /// Alexa's `x-amzn-RequestId` of the last answer (Amazon support asks for it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Failed only for lack of time (not started, or a retry that no longer fit before the
    /// deadline): a caller with work to hand on (the fan-out) hands it on instead of failing.
    #[serde(skip)]
    pub late: bool,
    /// How many answers on the way were 429 or 503 (Alexa asking to slow down): the fan-out
    /// slows its rate down when it sees them.
    #[serde(skip)]
    pub throttled: u32,
}

impl Delivery {
    /// Delivered or known to be undeliverable to this user: nothing for a retry to do.
    pub fn is_settled(&self) -> bool {
        !matches!(self.status, Status::Failed | Status::Refused)
    }

    /// Not delivered, with why.
    pub fn failed(
        reference_id: &str,
        region: Region,
        attempts: u32,
        request_id: Option<String>,
        error: String,
    ) -> Self {
        Delivery {
            reference_id: reference_id.to_owned(),
            region: region.code(),
            status: Status::Failed,
            attempts,
            request_id,
            error: Some(error),
            late: false,
            throttled: 0,
        }
    }

    /// [`Delivery::failed`], for lack of time.
    pub fn late(mut self) -> Self {
        self.late = true;
        self
    }
}

/// What the sender does after an answer: a pure decision over the status, so each branch is
/// tested without a network (the status table is in the API notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Finished with this status (accepted, duplicate, not subscribed).
    Done(Status),
    /// The token was refused: drop it, get a new one, try again at once (once only).
    RenewToken,
    /// Retrying cannot help. `event`: the event itself was refused (see [`Status::Refused`]),
    /// not the client (a wrong URL, a token without the permission).
    Refused { event: bool },
    /// Try again after a backoff.
    Retry,
}

/// `renewed`: this attempt already used a token that replaced a refused one.
pub fn verdict(status: u16, unicast: bool, renewed: bool) -> Verdict {
    match retry::classify(status) {
        Class::Accepted => Verdict::Done(Status::Accepted),
        Class::Duplicate => Verdict::Done(Status::Duplicate),
        // An expired or revoked token: one new token, then a verdict.
        Class::Unauthorized if !renewed => Verdict::RenewToken,
        Class::Unauthorized if unicast && status == 403 => Verdict::Done(Status::NotSubscribed),
        Class::Permanent if matches!(status, 400 | 413 | 432) => Verdict::Refused { event: true },
        Class::Unauthorized | Class::Permanent => Verdict::Refused { event: false },
        Class::Transient => Verdict::Retry,
    }
}

/// The events API's error body; both fields are optional and `code` may be a number or text.
#[derive(Deserialize, Default)]
struct ApiError {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

/// A POST is started only with this much time left before the deadline (less the time kept
/// to answer), so that its answer arrives in time.
pub const MIN_POST_TIME: Duration = Duration::from_secs(1);

/// How many POSTs run at once: enough to hide Alexa's latency, few enough not to open
/// hundreds of connections (or trip Alexa's rate limits) for a large batch.
pub const CONCURRENCY: usize = 32;

pub struct Sender {
    http: reqwest::Client,
    tokens: TokenCache,
    settings: Settings,
    backoff: Backoff,
    request_timeout: Duration,
}

/// One attempt's result, before the retry policy decides.
struct Answer {
    status: u16,
    request_id: Option<String>,
    retry_after: Option<Duration>,
    text: String,
}

impl Sender {
    pub fn new(http: reqwest::Client, tokens: TokenCache, settings: Settings) -> Self {
        Sender {
            http,
            tokens,
            settings,
            backoff: Backoff::default(),
            request_timeout: http::REQUEST_TIMEOUT,
        }
    }

    /// Sends every post to each of its regions, [`CONCURRENCY`] at a time, in order.
    pub async fn send_all(
        &self,
        posts: &[(Post, Vec<Region>)],
        deadline: Instant,
    ) -> Vec<Delivery> {
        use futures_util::stream::{self, StreamExt};
        let sends = posts.iter().flat_map(|(post, regions)| {
            regions
                .iter()
                .map(move |region| self.send(post, *region, deadline))
        });
        stream::iter(sends).buffered(CONCURRENCY).collect().await
    }

    async fn send(&self, post: &Post, region: Region, deadline: Instant) -> Delivery {
        let mut attempts = PostAttempts {
            sender: self,
            post,
            url: self.settings.events_url(region),
            region,
            renewed: false,
            deadline,
            throttled: 0,
            last_status: 0,
        };
        let result = retry::run(&mut attempts, &self.backoff, self.request_timeout, deadline).await;
        let (throttled, last_status) = (attempts.throttled, attempts.last_status);
        match result {
            Ok((delivery, _)) => delivery,
            Err(gave_up) => {
                let attempt = gave_up.attempts;
                let last = gave_up.last;
                // Out of time, or out of attempts against a 429 (Alexa asking to slow down):
                // handed on by a caller that can (the fan-out slows down and tries those users
                // later). A 5xx that outlasts the attempts is an outage: it fails, and SQS
                // brings the work back after its visibility timeout.
                let (error, late) = match gave_up.why {
                    Why::Attempts => (
                        format!("gave up after {attempt} attempts; last: {last}"),
                        last_status == 429,
                    ),
                    Why::Deadline { delay } => (format!("stopped after {attempt} attempt(s): another one (after waiting {} ms) would not end before the invocation's deadline; last: {last}", delay.as_millis()), true),
                };
                let mut failed = Delivery::failed(
                    &post.reference_id,
                    region,
                    attempt,
                    gave_up.request_id,
                    error,
                );
                failed.throttled = throttled;
                if late {
                    failed.late()
                } else {
                    failed
                }
            }
        }
    }
}

/// One POST of one event to one region after another, for [`retry::run`].
struct PostAttempts<'a> {
    sender: &'a Sender,
    post: &'a Post,
    url: String,
    region: Region,
    renewed: bool,
    deadline: Instant,
    /// Answers 429 or 503 so far.
    throttled: u32,
    /// The status of the last answer that is tried again.
    last_status: u16,
}

impl Attempts for PostAttempts<'_> {
    type Output = Delivery;

    async fn attempt(&mut self, attempt: u32) -> Step<Delivery> {
        let (post, region, sender) = (self.post, self.region, self.sender);
        let token = match sender.tokens.get(self.deadline).await {
            Ok(token) => token,
            Err(err) => {
                return Step::Done(Delivery::failed(
                    &post.reference_id,
                    region,
                    attempt - 1,
                    None,
                    format!("no access token: {err}"),
                ))
            }
        };
        // A POST started with almost no time left would reach Alexa and lose its answer to
        // the deadline: the send counts as failed, and the retry would repeat a delivered
        // event. Not starting it keeps the outcome certain.
        let left = self
            .deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(REPORT_RESERVE);
        if left < MIN_POST_TIME {
            return Step::Done(
                Delivery::failed(
                    &post.reference_id,
                    region,
                    attempt - 1,
                    None,
                    format!(
                        "not sent: less than {} ms left before the invocation's deadline",
                        MIN_POST_TIME.as_millis()
                    ),
                )
                .late(),
            );
        }
        let answer = sender
            .http
            .post(&self.url)
            .bearer_auth(token.expose())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(post.body.clone())
            .timeout(http::request_timeout(sender.request_timeout, self.deadline))
            .send()
            .await;
        let response = match answer {
            Err(err) => {
                return Step::Later {
                    last: http::describe_transport_error(&err),
                    retry_after: None,
                    request_id: None,
                }
            }
            Ok(response) => response,
        };
        let answer = read(response).await;
        let done = |status| Delivery {
            reference_id: post.reference_id.clone(),
            region: region.code(),
            status,
            attempts: attempt,
            request_id: answer.request_id.clone(),
            error: None,
            late: false,
            throttled: self.throttled,
        };
        match verdict(answer.status, post.unicast, self.renewed) {
            Verdict::Done(Status::NotSubscribed) => {
                let mut delivery = done(Status::NotSubscribed);
                delivery.error = Some(format!(
                    "the user has not turned on notifications for this skill ({})",
                    answer.describe()
                ));
                Step::Done(delivery)
            }
            Verdict::Done(status) => Step::Done(done(status)),
            Verdict::RenewToken => {
                self.renewed = true;
                sender.tokens.invalidate(&token, answer.status == 403).await;
                Step::Now
            }
            Verdict::Refused { event } => {
                let mut delivery = Delivery::failed(
                    &post.reference_id,
                    region,
                    attempt,
                    answer.request_id.clone(),
                    format!("refused: {}", answer.describe()),
                );
                if event {
                    delivery.status = Status::Refused;
                }
                Step::Done(delivery)
            }
            Verdict::Retry => {
                if matches!(answer.status, 429 | 503) {
                    self.throttled += 1;
                }
                self.last_status = answer.status;
                Step::Later {
                    last: answer.describe(),
                    retry_after: answer.retry_after,
                    request_id: answer.request_id.clone(),
                }
            }
        }
    }
}

/// Reads what matters of an answer; error bodies are short, and a body that breaks off
/// leaves the text empty (the status still decides).
async fn read(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let request_id = response
        .headers()
        .get("x-amzn-requestid")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let retry_after = http::retry_after(response.headers());
    let text = if (200..300).contains(&status) {
        String::new()
    } else {
        response.text().await.unwrap_or_default()
    };
    Answer {
        status,
        request_id,
        retry_after,
        text,
    }
}

impl Answer {
    /// "400 (code INVALID_EXPIRY: expiryTime must be after timestamp), x-amzn-RequestId abc".
    fn describe(&self) -> String {
        let parsed: ApiError = serde_json::from_str(&self.text).unwrap_or_default();
        let code = match parsed.code {
            Some(serde_json::Value::String(c)) => Some(c),
            Some(serde_json::Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let message = match (code, parsed.message) {
            (Some(c), Some(m)) => format!(" (code {c}: {m})"),
            (Some(c), None) => format!(" (code {c})"),
            (None, Some(m)) => format!(" ({m})"),
            (None, None) if self.text.trim().is_empty() => String::new(),
            (None, None) => format!(" ({})", truncate(self.text.trim(), 200)),
        };
        let id = self
            .request_id
            .as_deref()
            .map(|id| format!(", x-amzn-RequestId {id}"))
            .unwrap_or_default();
        format!("answer {}{message}{id}", self.status)
    }
}

fn truncate(text: &str, max: usize) -> &str {
    match text.char_indices().nth(max) {
        Some((i, _)) => &text[..i],
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_status_gets_its_verdict() {
        assert_eq!(verdict(202, false, false), Verdict::Done(Status::Accepted));
        assert_eq!(verdict(409, false, false), Verdict::Done(Status::Duplicate));
        for status in [429, 500, 502, 503, 504] {
            assert_eq!(verdict(status, false, false), Verdict::Retry, "{status}");
        }
        for status in [400, 413, 432] {
            let refused = Verdict::Refused { event: true };
            assert_eq!(verdict(status, true, false), refused, "{status}");
        }
        for status in [404, 501, 302] {
            let refused = Verdict::Refused { event: false };
            assert_eq!(verdict(status, false, false), refused, "{status}");
        }
    }

    #[test]
    fn a_refused_token_is_renewed_once_then_judged() {
        for status in [401, 403] {
            assert_eq!(verdict(status, false, false), Verdict::RenewToken);
            assert_eq!(
                verdict(status, false, true),
                Verdict::Refused { event: false }
            );
        }
        // A Unicast refused with a fresh token: that user has not allowed notifications.
        assert_eq!(
            verdict(403, true, true),
            Verdict::Done(Status::NotSubscribed)
        );
        assert_eq!(verdict(401, true, true), Verdict::Refused { event: false });
    }

    #[test]
    fn error_bodies_read_as_code_message_and_request_id() {
        let answer = |status, text: &str, id: Option<&str>| Answer {
            status,
            request_id: id.map(str::to_owned),
            retry_after: None,
            text: text.to_owned(),
        };
        assert_eq!(
            answer(
                400,
                r#"{"code":"INVALID_EXPIRY","message":"too late"}"#,
                Some("r-1")
            )
            .describe(),
            "answer 400 (code INVALID_EXPIRY: too late), x-amzn-RequestId r-1"
        );
        assert_eq!(
            answer(429, r#"{"code":429}"#, None).describe(),
            "answer 429 (code 429)"
        );
        assert_eq!(answer(503, "", None).describe(), "answer 503");
        assert_eq!(
            answer(500, "plain text", None).describe(),
            "answer 500 (plain text)"
        );
    }
}
