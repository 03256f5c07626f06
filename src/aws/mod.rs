//! The AWS services this function calls (DynamoDB, SQS, Secrets Manager), over their JSON
//! protocol: a signed POST to the service's endpoint, retried as the AWS SDKs' standard mode
//! retries, within fixed time bounds.
//!
//! Why not the AWS SDK: this function makes eight kinds of call to three services, and the
//! SDK crates (their generated operations, the smithy runtime, a second HTTP client beside
//! reqwest) were more than a quarter of the binary: 2.1 MB of 7.6 (docs/figures.md, "Binary
//! size"). What the SDK did for these calls is here, each part tested: [`sigv4`] signs
//! (checked against AWS's own signer), [`call`] retries and bounds the time (the retries paid
//! from a retry quota, `quota.rs`, as the SDKs' standard mode pays them), [`AwsError`]
//! reads the service's error, [`dynamodb`] is DynamoDB's item format.
//!
//! Credentials, region and endpoint come from the environment, as Lambda sets them
//! (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_SESSION_TOKEN`, `AWS_REGION`); there is
//! no profile file, SSO or instance metadata to read on Lambda. `AWS_ENDPOINT_URL` (or
//! `AWS_ENDPOINT_URL_DYNAMODB`, `_SQS`, `_SECRETS_MANAGER`) points the calls at a local moto
//! server in tests and `make run`. Nothing is read before the first call: an invocation that
//! only answers Alexa never pays for it.

pub mod dynamodb;
mod quota;
pub mod sigv4;

use std::time::Duration;

use reqwest::header::HeaderMap;
use serde::de::DeserializeOwned;
use serde::Serialize;
use tokio::sync::OnceCell;
use tokio::time::Instant;

use quota::{Draw, RetryQuota};
pub use sigv4::Credentials;

/// One AWS service as the JSON protocol addresses it.
#[derive(Debug)]
pub struct Service {
    /// The name in the signature's scope and the endpoint's host.
    pub name: &'static str,
    /// `X-Amz-Target` is this, a dot, and the operation.
    target: &'static str,
    content_type: &'static str,
    /// `AWS_ENDPOINT_URL_<this>` overrides the endpoint for this service alone.
    endpoint_variable: &'static str,
    /// Services moved from the query protocol (SQS) answer with the query protocol's error
    /// codes (`AWS.SimpleQueueService.NonExistentQueue`) when asked to.
    query_compatible: bool,
    /// The process's retry quota for this service.
    quota: &'static RetryQuota,
}

static DYNAMODB_QUOTA: RetryQuota = RetryQuota::full();
static SQS_QUOTA: RetryQuota = RetryQuota::full();
static SECRETS_MANAGER_QUOTA: RetryQuota = RetryQuota::full();

pub const DYNAMODB: Service = Service {
    name: "dynamodb",
    target: "DynamoDB_20120810",
    content_type: "application/x-amz-json-1.0",
    endpoint_variable: "AWS_ENDPOINT_URL_DYNAMODB",
    query_compatible: false,
    quota: &DYNAMODB_QUOTA,
};

pub const SQS: Service = Service {
    name: "sqs",
    target: "AmazonSQS",
    content_type: "application/x-amz-json-1.0",
    endpoint_variable: "AWS_ENDPOINT_URL_SQS",
    query_compatible: true,
    quota: &SQS_QUOTA,
};

pub const SECRETS_MANAGER: Service = Service {
    name: "secretsmanager",
    target: "secretsmanager",
    content_type: "application/x-amz-json-1.1",
    endpoint_variable: "AWS_ENDPOINT_URL_SECRETS_MANAGER",
    query_compatible: false,
    quota: &SECRETS_MANAGER_QUOTA,
};

const SERVICES: [&Service; 3] = [&DYNAMODB, &SQS, &SECRETS_MANAGER];

/// Region prefixes whose partition has its own domain; every other region (aws, aws-us-gov)
/// is under `amazonaws.com`. Longer prefixes first.
const PARTITION_DOMAINS: &[(&str, &str)] = &[
    ("us-isob-", "sc2s.sgov.gov"),
    ("us-isof-", "csp.hci.ic.gov"),
    ("us-iso-", "c2s.ic.gov"),
    ("eu-isoe-", "cloud.adc-e.uk"),
    ("eusc-", "amazonaws.eu"),
    ("cn-", "amazonaws.com.cn"),
];

/// The AWS SDKs' standard retry mode: 3 attempts, a random pause of up to 1 s, then 2 s, paid
/// from its retry quota ([`quota`]). Not copied: closing the connection after a server error
/// (a retry may reuse it, as AWS's newer retry behaviour does; a timed-out HTTP/1.1 request
/// drops its connection anyway).
const MAX_ATTEMPTS: u32 = 3;
const INITIAL_BACKOFF: Duration = Duration::from_secs(1);
/// One attempt's bound, and the whole call's (retries included): a hung endpoint must not
/// hold the invocation until Lambda kills it.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);
const OPERATION_TIMEOUT: Duration = Duration::from_secs(6);

/// Where and as whom the calls go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub region: Option<String>,
    pub credentials: Option<Credentials>,
    /// `AWS_ENDPOINT_URL`.
    pub endpoint_url: Option<String>,
    /// `AWS_ENDPOINT_URL_<SERVICE>`, by service name.
    pub service_endpoints: Vec<(&'static str, String)>,
}

static SETTINGS: OnceCell<Settings> = OnceCell::const_new();

/// The process's settings, read from the environment on the first call.
pub async fn settings() -> &'static Settings {
    SETTINGS
        .get_or_init(|| async { from_env(|name| std::env::var(name).ok()) })
        .await
}

/// The settings for an environment (`lookup` reads a variable).
pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> Settings {
    let text = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let credentials = match (text("AWS_ACCESS_KEY_ID"), text("AWS_SECRET_ACCESS_KEY")) {
        (Some(access_key_id), Some(secret_access_key)) => Some(Credentials {
            access_key_id,
            secret_access_key,
            session_token: text("AWS_SESSION_TOKEN"),
        }),
        _ => None,
    };
    Settings {
        region: text("AWS_REGION").or_else(|| text("AWS_DEFAULT_REGION")),
        credentials,
        endpoint_url: text("AWS_ENDPOINT_URL"),
        service_endpoints: SERVICES
            .iter()
            .filter_map(|s| Some((s.name, text(s.endpoint_variable)?)))
            .collect(),
    }
}

impl Settings {
    /// The URL calls to `service` go to.
    pub fn endpoint(&self, service: &Service, region: &str) -> String {
        if let Some((_, url)) = self
            .service_endpoints
            .iter()
            .find(|(n, _)| *n == service.name)
        {
            return url.clone();
        }
        if let Some(url) = &self.endpoint_url {
            return url.clone();
        }
        // Partitions with a domain of their own (the SDKs' partition table).
        let domain = PARTITION_DOMAINS
            .iter()
            .find(|(prefix, _)| region.starts_with(prefix))
            .map_or("amazonaws.com", |(_, domain)| domain);
        format!("https://{}.{region}.{domain}", service.name)
    }
}

/// Why a call failed. `Debug` leaves out the service's answer: it can hold an item (user ids).
#[derive(Clone, PartialEq, Eq, thiserror::Error)]
pub enum AwsError {
    /// The service answered with an error: its code (`ResourceNotFoundException`), message and
    /// whole answer (DynamoDB puts more in it: the item a condition failed on, the reasons a
    /// transaction was cancelled).
    #[error("{code}: {message}")]
    Service {
        status: u16,
        code: String,
        message: String,
        body: String,
    },
    /// No answer, or not all of it: the connection, a timeout, a broken body.
    #[error("{0}")]
    Transport(String),
    /// The function's environment lacks what a call needs.
    #[error("{0}")]
    Setup(String),
    /// An answer that is not what the operation answers.
    #[error("{0}")]
    Answer(String),
}

impl std::fmt::Debug for AwsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AwsError::Service {
                status,
                code,
                message,
                body,
            } => f
                .debug_struct("Service")
                .field("status", status)
                .field("code", code)
                .field("message", message)
                .field("body", &format_args!("{} bytes", body.len()))
                .finish(),
            AwsError::Transport(text) => f.debug_tuple("Transport").field(text).finish(),
            AwsError::Setup(text) => f.debug_tuple("Setup").field(text).finish(),
            AwsError::Answer(text) => f.debug_tuple("Answer").field(text).finish(),
        }
    }
}

impl AwsError {
    /// The service's error code, when it answered with one.
    pub fn code(&self) -> Option<&str> {
        match self {
            AwsError::Service { code, .. } => Some(code),
            _ => None,
        }
    }

    /// Whether the SDKs' standard mode would try again: no answer in time or at all, a server
    /// error, throttling.
    fn retryable(&self) -> bool {
        match self {
            AwsError::Transport(_) => true,
            AwsError::Service { status, code, .. } => {
                matches!(status, 429 | 500 | 502 | 503 | 504)
                    || THROTTLING.contains(&code.as_str())
                    || TRANSIENT.contains(&code.as_str())
            }
            AwsError::Setup(_) | AwsError::Answer(_) => false,
        }
    }

    /// What the SDKs classify as a transient error, whose retry draws more of the retry
    /// quota: a timeout, a lost connection, a 5xx that is not throttling, a request-timeout
    /// code. Throttling and other retryable codes (a write conflict) draw the usual cost.
    fn transient(&self) -> bool {
        match self {
            AwsError::Transport(_) => true,
            AwsError::Service { status, code, .. } => {
                (matches!(status, 500 | 502 | 503 | 504) && !THROTTLING.contains(&code.as_str()))
                    || TIMEOUT_CODES.contains(&code.as_str())
            }
            AwsError::Setup(_) | AwsError::Answer(_) => false,
        }
    }
}

/// The error codes the AWS SDKs' standard retry mode treats as throttling.
const THROTTLING: &[&str] = &[
    "Throttling",
    "ThrottlingException",
    "ThrottledException",
    "RequestThrottledException",
    "TooManyRequestsException",
    "ProvisionedThroughputExceededException",
    "TransactionInProgressException",
    "RequestLimitExceeded",
    "BandwidthLimitExceeded",
    "LimitExceededException",
    "RequestThrottled",
    "SlowDown",
    "PriorRequestNotComplete",
    "EC2ThrottledException",
    "AWS.SimpleQueueService.RequestThrottled",
];

/// ...and as transient; and DynamoDB's write conflict on a multi-region strongly consistent
/// table, which its model marks retryable.
const TRANSIENT: &[&str] = &[
    "RequestTimeout",
    "RequestTimeoutException",
    "InternalError",
    "ReplicatedWriteConflictException",
];

/// The codes the SDKs classify as transient (a retry after them costs the retry quota more).
const TIMEOUT_CODES: &[&str] = &["RequestTimeout", "RequestTimeoutException"];

/// Calls `operation` of `service` with `input`, and reads its answer.
pub async fn call<T: DeserializeOwned>(
    service: &Service,
    operation: &str,
    input: &impl Serialize,
) -> Result<T, AwsError> {
    let body = serde_json::to_vec(input)
        .map_err(|e| AwsError::Setup(format!("{operation}'s request could not be written: {e}")))?;
    let answer = call_raw(settings().await, service, operation, body).await?;
    read_answer(service, operation, &answer)
}

/// An accepted call's answer, as `T`.
fn read_answer<T: DeserializeOwned>(
    service: &Service,
    operation: &str,
    answer: &[u8],
) -> Result<T, AwsError> {
    // An operation with nothing to say answers `{}`; some stand-ins answer nothing at all.
    let answer: &[u8] = if answer.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        answer
    };
    // Where, not what: serde's text can quote a value (an item, the secret's text).
    serde_json::from_slice(answer).map_err(|e| {
        AwsError::Answer(format!(
            "{} {operation} answered what is not its answer (line {}, column {})",
            service.name,
            e.line(),
            e.column()
        ))
    })
}

/// The signed call, retried: the answer's body when the service accepted the request.
async fn call_raw(
    settings: &Settings,
    service: &Service,
    operation: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, AwsError> {
    call_within(settings, service, service.quota, operation, body).await
}

/// `call_raw`, its retries paid from `quota`.
async fn call_within(
    settings: &Settings,
    service: &Service,
    quota: &RetryQuota,
    operation: &str,
    body: Vec<u8>,
) -> Result<Vec<u8>, AwsError> {
    let region = settings.region.as_deref().ok_or_else(|| {
        AwsError::Setup("no AWS region: AWS_REGION is not set (Lambda sets it)".into())
    })?;
    let credentials = settings.credentials.as_ref().ok_or_else(|| {
        AwsError::Setup(
            "no AWS credentials: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY are not set (Lambda sets them from the function's role)".into(),
        )
    })?;
    let url = reqwest::Url::parse(&settings.endpoint(service, region)).map_err(|e| {
        AwsError::Setup(format!(
            "the {} endpoint URL (from {} or AWS_ENDPOINT_URL) is not a URL: {e}",
            service.name, service.endpoint_variable
        ))
    })?;
    // Signed as the `Host` header reqwest sends (the port only when not the scheme's own).
    if url.path() != "/" || url.query().is_some() {
        return Err(AwsError::Setup(format!(
            "the {} endpoint URL {url} has a path or query: an AWS endpoint is a scheme, a host and a port only",
            service.name
        )));
    }
    let host = match (url.host_str(), url.port()) {
        (Some(host), Some(port)) => format!("{host}:{port}"),
        (Some(host), None) => host.to_owned(),
        (None, _) => {
            return Err(AwsError::Setup(format!(
                "the {} endpoint URL {url} names no host",
                service.name
            )))
        }
    };
    let client = crate::http::shared()
        .await
        .map_err(|e| AwsError::Setup(crate::http::describe_transport_error(&e)))?;
    let target = format!("{}.{operation}", service.target);
    let mut headers = vec![
        ("content-type", service.content_type),
        ("x-amz-target", &target),
    ];
    if service.query_compatible {
        headers.push(("x-amzn-query-mode", "true"));
    }

    let deadline = Instant::now() + OPERATION_TIMEOUT;
    let mut attempt = 1;
    let mut last_draw = 0;
    loop {
        let signed = sigv4::sign(
            &sigv4::Request {
                host: &host,
                headers: &headers,
                body: &body,
            },
            credentials,
            region,
            service.name,
            chrono::Utc::now(),
        );
        let mut request = client
            .post(url.clone())
            .timeout(ATTEMPT_TIMEOUT.min(deadline.saturating_duration_since(Instant::now())))
            .body(body.clone());
        for (name, value) in headers.iter().copied() {
            request = request.header(name, value);
        }
        for (name, value) in &signed {
            request = request.header(*name, value);
        }
        let error = match attempt_once(request).await {
            Ok(answer) => {
                quota.refill(last_draw);
                return Ok(answer);
            }
            Err(error) => error,
        };
        let pause = backoff(attempt);
        if attempt >= MAX_ATTEMPTS || !error.retryable() || Instant::now() + pause >= deadline {
            return Err(error);
        }
        match quota.draw(error.transient()) {
            Draw::Paid(draw) => last_draw = draw,
            Draw::Refused { first } => {
                if first {
                    tracing::warn!(
                        service = service.name,
                        operation,
                        %error,
                        "calls are no longer retried until calls pass again: the retry quota is spent (the service failed call after call); what failed comes back later"
                    );
                }
                return Err(error);
            }
        }
        tracing::debug!(service = service.name, operation, attempt, %error, "retrying");
        tokio::time::sleep(pause).await;
        attempt += 1;
    }
}

async fn attempt_once(request: reqwest::RequestBuilder) -> Result<Vec<u8>, AwsError> {
    let transport =
        |e: reqwest::Error| AwsError::Transport(crate::http::describe_transport_error(&e));
    let response = request.send().await.map_err(transport)?;
    let status = response.status();
    let headers = response.headers().clone();
    let body = response.bytes().await.map_err(transport)?;
    if status.is_success() {
        return Ok(body.to_vec());
    }
    Err(service_error(status.as_u16(), &headers, &body))
}

/// The error an answer carries: the JSON protocol puts the code in `__type` (or `code`), as
/// `namespace#Code`; a service moved from the query protocol puts its old code in
/// `x-amzn-query-error` (`Code;Sender`), which is the one its documentation lists.
fn service_error(status: u16, headers: &HeaderMap, body: &[u8]) -> AwsError {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    // Read key by key, as the SDKs do (`code` before `__type`; a value that is not text is
    // passed over): a body with two spellings of one key still gives its code.
    let fields = serde_json::from_slice::<serde_json::Map<String, serde_json::Value>>(body).ok();
    let first = |keys: &[&str]| {
        let fields = fields.as_ref()?;
        keys.iter()
            .find_map(|k| fields.get(*k).and_then(serde_json::Value::as_str))
            .map(str::to_owned)
    };
    let code = header("x-amzn-query-error")
        .and_then(|v| v.split(';').next())
        .or(header("x-amzn-errortype"))
        .map(str::to_owned)
        .or_else(|| first(&["code", "__type", "Code"]))
        .map(|c| {
            let c = c.split(':').next().unwrap_or_default();
            c.rsplit('#').next().unwrap_or_default().to_owned()
        })
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| format!("HTTP {status}"));
    let text = String::from_utf8_lossy(body);
    let message = first(&["message", "Message", "errorMessage"]).unwrap_or_else(|| {
        // A page from something in between (a proxy's 502) says what happened; a JSON answer
        // without a message is not quoted (it may hold an item).
        let short: String = text.chars().take(200).collect();
        if short.trim().is_empty() || fields.is_some() {
            "no message".to_owned()
        } else {
            short
        }
    });
    AwsError::Service {
        status,
        code,
        message,
        body: text.into_owned(),
    }
}

/// A random part of the attempt's pause (full jitter): callers throttled together do not
/// come back together.
fn backoff(attempt: u32) -> Duration {
    let ceiling = INITIAL_BACKOFF * 2u32.pow(attempt.saturating_sub(1).min(4));
    let fraction = random_bytes::<4>().map_or(0.5, |bytes| {
        f64::from(u32::from_le_bytes(bytes)) / f64::from(u32::MAX)
    });
    ceiling.mul_f64(fraction)
}

/// `N` bytes from the system's random source (ring's, already linked for TLS); `None` if it
/// fails, which each caller covers.
fn random_bytes<const N: usize>() -> Option<[u8; N]> {
    let mut bytes = [0u8; N];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).ok()?;
    Some(bytes)
}

#[cfg(test)]
mod tests;
