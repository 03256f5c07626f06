//! Sends built events to the Alexa events API: one POST per event and region, retried per
//! [`retry`](super::retry) within the invocation's deadline.
//!
//! Every send ends in a [`Delivery`] rather than an error, so one failed region does not hide
//! what happened to the others; the caller fails the invocation if any delivery failed, and
//! Lambda's retry sends again with the same referenceId (Alexa answers 409 for the ones that
//! got through, which counts as delivered).

use std::time::Duration;

use serde::{Deserialize, Serialize};
use tokio::time::Instant;

use super::http;
use super::retry::{self, Backoff, Class};
use super::token::TokenCache;
use super::{Audience, ProactiveEvent};
use crate::config::{Config, Region};

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
    /// Not delivered: permanent refusal, or retries / time ran out.
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
}

impl Delivery {
    /// Delivered or known to be undeliverable to this user: nothing for a retry to do.
    pub fn is_settled(&self) -> bool {
        self.status != Status::Failed
    }
}

/// The events API's error body; both fields are optional and `code` may be a number or text.
#[derive(Deserialize, Default)]
struct ApiError {
    code: Option<serde_json::Value>,
    message: Option<String>,
}

pub struct Sender {
    http: reqwest::Client,
    tokens: TokenCache,
    config: Config,
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
    pub fn new(http: reqwest::Client, tokens: TokenCache, config: Config) -> Self {
        Sender {
            http,
            tokens,
            config,
            backoff: Backoff::default(),
            request_timeout: http::REQUEST_TIMEOUT,
        }
    }

    /// Where an event goes: every configured region for a Multicast, one for a Unicast.
    pub fn regions(&self, event: &ProactiveEvent, unicast_region: Option<Region>) -> Vec<Region> {
        match (&event.relevant_audience, unicast_region) {
            (Audience::Multicast(_), _) => self.config.regions.clone(),
            (Audience::Unicast { .. }, Some(region)) => vec![region],
            (Audience::Unicast { .. }, None) => {
                self.config.regions.iter().take(1).copied().collect()
            }
        }
    }

    /// Sends every event to its regions, all concurrently.
    pub async fn send_all(
        &self,
        events: &[(ProactiveEvent, Vec<Region>)],
        deadline: Instant,
    ) -> Vec<Delivery> {
        let sends = events.iter().flat_map(|(event, regions)| {
            // Serialised once per event: every region gets the same bytes.
            let body = serde_json::to_vec(event).map_err(|e| e.to_string());
            regions.iter().map(move |region| {
                let body = body.clone();
                async move {
                    match body {
                        Ok(body) => self.send(event, *region, body, deadline).await,
                        Err(problem) => failed(
                            event,
                            *region,
                            0,
                            None,
                            format!("the event could not be serialised: {problem}"),
                        ),
                    }
                }
            })
        });
        futures_util::future::join_all(sends).await
    }

    async fn send(
        &self,
        event: &ProactiveEvent,
        region: Region,
        body: Vec<u8>,
        deadline: Instant,
    ) -> Delivery {
        let url = self.config.events_url(region);
        let unicast = matches!(event.relevant_audience, Audience::Unicast { .. });
        let mut refreshed = false;
        let mut attempt = 0;
        loop {
            attempt += 1;
            let token = match self.tokens.get(deadline).await {
                Ok(token) => token,
                Err(err) => {
                    return failed(
                        event,
                        region,
                        attempt - 1,
                        None,
                        format!("no access token: {err}"),
                    )
                }
            };
            let answer = self
                .http
                .post(&url)
                .bearer_auth(token.expose())
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(body.clone())
                .timeout(http::request_timeout(self.request_timeout, deadline))
                .send()
                .await;
            let (retry_after, last, request_id) = match answer {
                Err(err) => (None, http::describe_transport_error(&err), None),
                Ok(response) => {
                    let answer = read(response).await;
                    let done = |status| Delivery {
                        reference_id: event.reference_id.clone(),
                        region: region.code(),
                        status,
                        attempts: attempt,
                        request_id: answer.request_id.clone(),
                        error: None,
                    };
                    match retry::classify(answer.status) {
                        Class::Accepted => return done(Status::Accepted),
                        Class::Duplicate => return done(Status::Duplicate),
                        Class::Unauthorized if !refreshed => {
                            // An expired or revoked token: one new token, then a verdict.
                            refreshed = true;
                            self.tokens.invalidate(&token).await;
                            continue;
                        }
                        Class::Unauthorized if unicast && answer.status == 403 => {
                            let mut delivery = done(Status::NotSubscribed);
                            delivery.error = Some(format!(
                                "the user has not turned on notifications for this skill ({})",
                                answer.describe()
                            ));
                            return delivery;
                        }
                        Class::Unauthorized | Class::Permanent => {
                            return failed(
                                event,
                                region,
                                attempt,
                                answer.request_id.clone(),
                                format!("refused: {}", answer.describe()),
                            )
                        }
                        Class::Transient => (
                            answer.retry_after,
                            answer.describe(),
                            answer.request_id.clone(),
                        ),
                    }
                }
            };
            let Some(delay) = self.backoff.delay(attempt, retry_after, retry::jitter()) else {
                return failed(
                    event,
                    region,
                    attempt,
                    request_id,
                    format!("gave up after {attempt} attempts; last: {last}"),
                );
            };
            let left = deadline.saturating_duration_since(Instant::now());
            if !retry::fits(left, delay, self.request_timeout, retry::REPORT_RESERVE) {
                return failed(event, region, attempt, request_id, format!("stopped after {attempt} attempt(s): another one (after waiting {} ms) would not end before the invocation's deadline; last: {last}", delay.as_millis()));
            }
            tokio::time::sleep(delay).await;
        }
    }
}

fn failed(
    event: &ProactiveEvent,
    region: Region,
    attempts: u32,
    request_id: Option<String>,
    error: String,
) -> Delivery {
    Delivery {
        reference_id: event.reference_id.clone(),
        region: region.code(),
        status: Status::Failed,
        attempts,
        request_id,
        error: Some(error),
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
