//! A loopback proxy in front of the moto server that makes AWS calls fail the way AWS does:
//! throttling (400 ThrottlingException, which the SDK retries), 500, or a connection dropped
//! without an answer. Everything else is forwarded to moto unchanged, so the state the function
//! leaves behind is real moto state.
#![allow(dead_code)] // each test binary uses a different part of this helper

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsFault {
    /// 400 `ThrottlingException`: the SDK backs off and retries.
    Throttle,
    /// 500 `InternalFailure`.
    ServerError,
    /// The connection is closed without an answer: AWS unreachable mid-call.
    Drop,
}

struct Rule {
    /// Matched against the start of `X-Amz-Target` (`DynamoDB_20120810.PutItem`,
    /// `secretsmanager.GetSecretValue`).
    target: String,
    fault: AwsFault,
    left: u32,
}

#[derive(Default)]
struct State {
    rules: Vec<Rule>,
    failed: u32,
    forwarded: u32,
}

pub struct AwsProxy {
    url: String,
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dropped by the fault proxy")
    }
}

impl std::error::Error for Dropped {}

impl AwsProxy {
    pub async fn start(upstream: &str) -> AwsProxy {
        let state = Arc::new(Mutex::new(State::default()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let url = format!("http://{}", listener.local_addr().expect("bound"));
        let shared = state.clone();
        let upstream = upstream.trim_end_matches('/').to_owned();
        let http = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("a client");
        let server = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (shared, upstream, http) = (shared.clone(), upstream.clone(), http.clone());
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        forward(req, shared.clone(), upstream.clone(), http.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        AwsProxy { url, state, server }
    }

    /// For AWS_ENDPOINT_URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next `times` calls whose target starts with `target` fail with `fault`
    /// (`u32::MAX`: until cleared).
    pub fn fail(&self, target: &str, fault: AwsFault, times: u32) {
        self.lock().rules.push(Rule {
            target: target.to_owned(),
            fault,
            left: times,
        });
    }

    pub fn clear(&self) {
        self.lock().rules.clear();
    }

    /// How many calls were failed on purpose.
    pub fn failed(&self) -> u32 {
        self.lock().failed
    }

    pub fn forwarded(&self) -> u32 {
        self.lock().forwarded
    }

    pub fn stop(self) {
        self.server.abort();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().expect("proxy state")
    }
}

async fn forward(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
    upstream: String,
    http: reqwest::Client,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let fault = {
        let mut state = state.lock().expect("proxy state");
        let fault = state
            .rules
            .iter_mut()
            .find(|r| r.left > 0 && target.starts_with(&r.target))
            .map(|rule| {
                rule.left = rule.left.saturating_sub(1);
                rule.fault
            });
        match fault {
            Some(_) => state.failed += 1,
            None => state.forwarded += 1,
        }
        fault
    };
    let (status, error) = match fault {
        Some(AwsFault::Drop) => return Err(Dropped),
        Some(AwsFault::Throttle) => (StatusCode::BAD_REQUEST, "ThrottlingException"),
        Some(AwsFault::ServerError) => (StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"),
        None => return Ok(pass(req, &upstream, &http).await),
    };
    let body =
        serde_json::json!({"__type": error, "message": "injected by the test's fault proxy"});
    Ok(Response::builder()
        .status(status)
        .header("content-type", "application/x-amz-json-1.1")
        .header("x-amzn-errortype", error)
        .body(Full::new(Bytes::from(body.to_string())))
        .expect("a valid response"))
}

async fn pass(
    req: Request<Incoming>,
    upstream: &str,
    http: &reqwest::Client,
) -> Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut request = http.request(parts.method.clone(), format!("{upstream}{path}"));
    for (name, value) in &parts.headers {
        if name != hyper::header::HOST && name != hyper::header::CONTENT_LENGTH {
            request = request.header(name, value);
        }
    }
    let failed = |message: String| {
        Response::builder()
            .status(StatusCode::BAD_GATEWAY)
            .body(Full::new(Bytes::from(message)))
            .expect("a valid response")
    };
    let response = match request.body(body).send().await {
        Ok(r) => r,
        Err(e) => return failed(format!("moto did not answer: {e}")),
    };
    let mut out = Response::builder().status(response.status());
    for (name, value) in response.headers() {
        if name != hyper::header::CONTENT_LENGTH && name != hyper::header::TRANSFER_ENCODING {
            out = out.header(name, value);
        }
    }
    let bytes = response.bytes().await.unwrap_or_default();
    out.body(Full::new(bytes))
        .unwrap_or_else(|e| failed(e.to_string()))
}
