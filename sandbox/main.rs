//! alexa-sandbox: a local stand-in for Alexa's token endpoint and events API, on loopback.
//!
//! It checks every request as strictly as the API notes describe, records what it accepted,
//! and prints each notification as the sentence Alexa would speak. Faults (429 with
//! Retry-After, 500, 503, 401, slow answers, a rotated client secret, unsubscribed users) are
//! switched on through its control API, so tests and the local loop can show what the
//! function does when Alexa misbehaves. It is a development tool: never deployed.
//!
//! ```text
//! alexa-sandbox [--port 9100] [--client-id ID] [--client-secret SECRET] [--token-ttl SECONDS] [--quiet]
//!
//! POST /auth/o2/token                                   Login with Amazon (client_credentials)
//! POST [/na|/eu|/fe]/v1/proactiveEvents[/stages/development]   the events API
//! GET  /sandbox/state                                   counters, accepted and refused events
//! POST /sandbox/fault   {"target":"events"|"token","status":429,"retryAfter":"1","delayMs":0,"times":1,"region":"NA"}
//!                       also "close":true (drop the connection, no answer: a reset) and
//!                       "location":"http://..." (sent with the status, e.g. a 307),
//!                       "every":10 (only each 10th matching request, until cleared)
//! POST /sandbox/rotate  {"clientSecret":"new"}          the old secret now gets invalid_client
//! POST /sandbox/clear-faults                            drop every pending fault
//! POST /sandbox/revoke-tokens                           issued tokens now get 401
//! POST /sandbox/unsubscribe {"user":"amzn1.ask.account..."}   a Unicast to them gets 403
//! POST /sandbox/reset                                   forget everything but the credentials
//! ```

mod events;

use std::collections::{HashMap, HashSet, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::net::TcpListener;

const USAGE: &str = "usage: alexa-sandbox [--port 9100] [--client-id ID] [--client-secret SECRET] [--token-ttl SECONDS] [--quiet]";

struct Options {
    port: u16,
    client_id: String,
    client_secret: String,
    token_ttl: u64,
    quiet: bool,
}

fn options() -> Result<Options, String> {
    let mut o = Options {
        port: 9100,
        client_id: "amzn1.application-oa2-client.sandbox".into(),
        client_secret: "sandbox-client-secret".into(),
        token_ttl: 3600,
        quiet: false,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value; {USAGE}"));
        match arg.as_str() {
            "--port" => {
                o.port = value("--port")?
                    .parse()
                    .map_err(|_| format!("--port expects a number; {USAGE}"))?
            }
            "--client-id" => o.client_id = value("--client-id")?,
            "--client-secret" => o.client_secret = value("--client-secret")?,
            "--token-ttl" => {
                o.token_ttl = value("--token-ttl")?
                    .parse()
                    .map_err(|_| format!("--token-ttl expects seconds; {USAGE}"))?
            }
            "--quiet" => o.quiet = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    Ok(o)
}

/// A switched-on fault: answers the next `times` matching requests.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Fault {
    target: Target,
    /// The status to answer with; absent = answer normally (after `delay_ms`).
    status: Option<u16>,
    retry_after: Option<String>,
    #[serde(default)]
    delay_ms: u64,
    #[serde(default = "one")]
    times: u32,
    /// Only requests for this region (NA, EU, FE); absent = any.
    region: Option<String>,
    /// Drop the connection without answering (after `delay_ms`): what a reset looks like.
    #[serde(default)]
    close: bool,
    /// A Location header to send with `status` (a redirect).
    location: Option<String>,
    /// Only every n-th matching request, until cleared (`times` is then ignored): a share of
    /// the traffic, as under sustained throttling.
    every: Option<u32>,
    #[serde(skip)]
    seen: u32,
}

/// Marks an answer that must not be sent: the connection is dropped instead.
#[derive(Debug, Clone, Copy)]
struct DropConnection;

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a sandbox fault")
    }
}

impl std::error::Error for Dropped {}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
enum Target {
    Token,
    Events,
}

struct Token {
    expires: Instant,
    generation: u32,
}

#[derive(Default)]
struct State {
    client_id: String,
    client_secret: String,
    token_ttl: u64,
    quiet: bool,
    faults: VecDeque<Fault>,
    tokens: HashMap<String, Token>,
    /// Tokens issued before a revoke are refused.
    generation: u32,
    unsubscribed: HashSet<String>,
    /// (region, stage, referenceId, audience) already accepted: a repeat is a 409.
    seen: HashSet<(String, String, String, String)>,
    token_requests: u64,
    event_requests: u64,
    event_requests_by_region: HashMap<String, u64>,
    duplicates: u64,
    accepted: Vec<Value>,
    refused: Vec<Value>,
    next_request_id: u64,
}

type Shared = Arc<Mutex<State>>;
type Answer = Response<Full<Bytes>>;

fn answer(status: StatusCode, body: Value) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

fn lock(shared: &Shared) -> std::sync::MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the counters half-written in a way that
    // matters here: keep serving.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = match options() {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    let listener = match TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], options.port))).await {
        Ok(l) => l,
        Err(err) => {
            eprintln!(
                "alexa-sandbox: cannot listen on 127.0.0.1:{}: {err}",
                options.port
            );
            std::process::exit(1);
        }
    };
    let address = listener
        .local_addr()
        .map(|a| a.to_string())
        .unwrap_or_default();
    // The first line is read by scripts and tests to learn the port.
    println!("alexa-sandbox listening on http://{address}");
    let shared: Shared = Arc::new(Mutex::new(State {
        client_id: options.client_id,
        client_secret: options.client_secret,
        token_ttl: options.token_ttl,
        quiet: options.quiet,
        ..State::default()
    }));
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| route(shared.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A failed service makes hyper close the connection without an answer.
async fn route(shared: Shared, req: Request<Incoming>) -> Result<Answer, Dropped> {
    let answer = match serve(shared, req).await {
        Ok(answer) => answer,
        Err(never) => match never {},
    };
    if answer.extensions().get::<DropConnection>().is_some() {
        return Err(Dropped);
    }
    Ok(answer)
}

async fn serve(shared: Shared, req: Request<Incoming>) -> Result<Answer, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let headers = req.headers().clone();
    let body = match req.into_body().collect().await {
        Ok(b) => b.to_bytes(),
        Err(_) => {
            return Ok(answer(
                StatusCode::BAD_REQUEST,
                json!({"message": "the body broke off"}),
            ))
        }
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    Ok(match (method, path.as_str()) {
        (Method::POST, "/auth/o2/token" | "/auth/O2/token") => {
            token(&shared, header("content-type"), &body).await
        }
        (Method::GET, "/sandbox/state") => answer(StatusCode::OK, state(&lock(&shared))),
        (Method::POST, p) if p.starts_with("/sandbox/") => control(&shared, p, &body),
        (Method::POST, p) => match events_route(p) {
            Some((region, stage)) => {
                events(
                    &shared,
                    region,
                    stage,
                    header("authorization"),
                    header("content-type"),
                    &body,
                )
                .await
            }
            None => answer(
                StatusCode::NOT_FOUND,
                json!({"message": format!("no such endpoint: POST {p}")}),
            ),
        },
        (m, p) => answer(
            StatusCode::NOT_FOUND,
            json!({"message": format!("no such endpoint: {m} {p}")}),
        ),
    })
}

/// `[/na|/eu|/fe]/v1/proactiveEvents[/stages/development]` → (region, stage).
fn events_route(path: &str) -> Option<(String, &'static str)> {
    let (region, rest) = match path.get(..4) {
        Some(p @ ("/na/" | "/eu/" | "/fe/")) => (p[1..3].to_ascii_uppercase(), &path[3..]),
        _ => ("ANY".to_owned(), path),
    };
    match rest {
        "/v1/proactiveEvents/stages/development" => Some((region, "development")),
        "/v1/proactiveEvents" => Some((region, "live")),
        _ => None,
    }
}

/// Takes the first fault for `target` (and `region`), if any.
fn take_fault(shared: &Shared, target: Target, region: Option<&str>) -> Option<Fault> {
    let mut state = lock(shared);
    let index = state.faults.iter().position(|f| {
        f.target == target
            && f.region
                .as_deref()
                .is_none_or(|wanted| region.is_some_and(|r| r.eq_ignore_ascii_case(wanted)))
    })?;
    let fault = state.faults.get_mut(index)?;
    if let Some(every) = fault.every.filter(|n| *n > 0) {
        fault.seen += 1;
        return (fault.seen % every == 0).then(|| fault.clone());
    }
    fault.times = fault.times.saturating_sub(1);
    let taken = fault.clone();
    if fault.times == 0 {
        state.faults.remove(index);
    }
    Some(taken)
}

/// Applies a fault: waits, then answers with its status if it has one.
async fn apply(fault: Option<Fault>, request_id: Option<&str>) -> Option<Answer> {
    let fault = fault?;
    if fault.delay_ms > 0 {
        tokio::time::sleep(Duration::from_millis(fault.delay_ms)).await;
    }
    if fault.close {
        let mut dropped = answer(StatusCode::INTERNAL_SERVER_ERROR, Value::Null);
        dropped.extensions_mut().insert(DropConnection);
        return Some(dropped);
    }
    let status = StatusCode::from_u16(fault.status?).ok()?;
    let mut response = answer(
        status,
        json!({"code": status.as_u16(), "message": "sandbox fault"}),
    );
    if let Some(location) = fault.location.and_then(|l| l.parse().ok()) {
        response
            .headers_mut()
            .insert(hyper::header::LOCATION, location);
    }
    if let Some(after) = fault.retry_after.and_then(|a| a.parse().ok()) {
        response
            .headers_mut()
            .insert(hyper::header::RETRY_AFTER, after);
    }
    if let Some(id) = request_id.and_then(|id| id.parse().ok()) {
        response.headers_mut().insert("x-amzn-RequestId", id);
    }
    Some(response)
}

async fn token(shared: &Shared, content_type: Option<String>, body: &[u8]) -> Answer {
    lock(shared).token_requests += 1;
    if let Some(faulted) = apply(take_fault(shared, Target::Token, None), None).await {
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
        alexa_proactive::alexa::retry::jitter().to_bits()
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

async fn events(
    shared: &Shared,
    region: String,
    stage: &'static str,
    authorization: Option<String>,
    content_type: Option<String>,
    body: &[u8],
) -> Answer {
    let request_id = {
        let mut state = lock(shared);
        state.event_requests += 1;
        *state
            .event_requests_by_region
            .entry(region.clone())
            .or_default() += 1;
        state.next_request_id += 1;
        format!("sandbox-{:08}", state.next_request_id)
    };
    if let Some(faulted) = apply(
        take_fault(shared, Target::Events, Some(&region)),
        Some(&request_id),
    )
    .await
    {
        return faulted;
    }
    let mut state = lock(shared);
    let refuse = |state: &mut State, status: StatusCode, code: &str, message: String| {
        state.refused.push(
            json!({"region": region, "status": status.as_u16(), "code": code, "message": message}),
        );
        if !state.quiet {
            eprintln!("[{region}/{stage}] refused {}: {message}", status.as_u16());
        }
        let mut response = answer(status, json!({"code": code, "message": message}));
        if let Ok(id) = request_id.parse() {
            response.headers_mut().insert("x-amzn-RequestId", id);
        }
        response
    };
    let bearer = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Bearer "));
    let valid = bearer
        .and_then(|t| state.tokens.get(t))
        .is_some_and(|t| t.expires > Instant::now() && t.generation == state.generation);
    if !valid {
        let message = if bearer.is_none() {
            "missing Authorization: Bearer <token>"
        } else {
            "the access token is invalid or expired"
        };
        return refuse(
            &mut state,
            StatusCode::UNAUTHORIZED,
            "UNAUTHORIZED",
            message.into(),
        );
    }
    if !content_type.is_some_and(|c| c.starts_with("application/json")) {
        return refuse(
            &mut state,
            StatusCode::BAD_REQUEST,
            "INVALID_REQUEST",
            "Content-Type must be application/json".into(),
        );
    }
    let accepted = match events::check(body, chrono::Utc::now()) {
        Ok(a) => a,
        Err(message) => {
            return refuse(
                &mut state,
                StatusCode::BAD_REQUEST,
                "INVALID_REQUEST",
                message,
            )
        }
    };
    let audience = accepted.user.clone().unwrap_or_else(|| "Multicast".into());
    if let Some(user) = accepted
        .user
        .as_ref()
        .filter(|u| state.unsubscribed.contains(*u))
    {
        let message = format!("user {user} is not subscribed to {}", accepted.name);
        return refuse(&mut state, StatusCode::FORBIDDEN, "FORBIDDEN", message);
    }
    let key = (
        region.clone(),
        stage.to_owned(),
        accepted.reference_id.clone(),
        audience.clone(),
    );
    if !state.seen.insert(key) {
        state.duplicates += 1;
        let message = format!("referenceId {} was already used", accepted.reference_id);
        return refuse(&mut state, StatusCode::CONFLICT, "CONFLICT", message);
    }
    if !state.quiet {
        for (locale, sentence) in &accepted.spoken {
            println!("[{region}/{stage}] {audience} {locale}: {sentence}");
        }
    }
    state.accepted.push(json!({
        "region": region, "stage": stage, "referenceId": accepted.reference_id,
        "name": accepted.name, "audience": audience, "requestId": request_id,
        "spoken": accepted.spoken.iter().map(|(l, s)| json!({"locale": l, "text": s})).collect::<Vec<_>>(),
    }));
    let mut response = Response::new(Full::new(Bytes::new()));
    *response.status_mut() = StatusCode::ACCEPTED;
    if let Ok(id) = request_id.parse() {
        response.headers_mut().insert("x-amzn-RequestId", id);
    }
    response
}

fn state(state: &State) -> Value {
    json!({
        "tokenRequests": state.token_requests,
        "tokensIssued": state.tokens.len(),
        "eventRequests": state.event_requests,
        "eventRequestsByRegion": state.event_requests_by_region,
        "duplicates": state.duplicates,
        "pendingFaults": state.faults.len(),
        "accepted": state.accepted,
        "refused": state.refused,
    })
}

fn control(shared: &Shared, path: &str, body: &[u8]) -> Answer {
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
                json!({"message": format!("expected {{\"target\": \"token\"|\"events\", \"status\": 503, \"retryAfter\": \"1\", \"delayMs\": 0, \"times\": 1}}: {e}")}),
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
        "/sandbox/reset" => {
            let kept = State {
                client_id: std::mem::take(&mut state.client_id),
                client_secret: std::mem::take(&mut state.client_secret),
                token_ttl: state.token_ttl,
                quiet: state.quiet,
                ..State::default()
            };
            *state = kept;
            answer(StatusCode::OK, json!({"reset": true}))
        }
        other => answer(
            StatusCode::NOT_FOUND,
            json!({"message": format!("no such control: {other}")}),
        ),
    }
}
