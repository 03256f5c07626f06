//! A moto server (Secrets Manager, DynamoDB...) on loopback, behind a counting proxy.
//!
//! The proxy counts requests by `X-Amz-Target`, so a test can assert how many times the
//! function really read its secret, and forwards them unchanged, unless a test made calls fail
//! the way AWS does: throttling (400 ThrottlingException, which the function retries), 500, or a
//! connection dropped without an answer. The state the function leaves is real moto state.

use std::collections::HashMap;
use std::path::Path;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

pub struct Moto {
    child: Child,
    proxy: JoinHandle<()>,
    proxy_url: String,
    upstream: String,
    state: Arc<Mutex<ProxyState>>,
    http: reqwest::Client,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AwsFault {
    /// 400 `ThrottlingException`: the function backs off and retries.
    Throttle,
    /// 500 `InternalFailure`.
    ServerError,
    /// The connection is closed without an answer: AWS unreachable mid-call.
    Drop,
    /// The answer comes this much later (a slow region, a cold endpoint).
    Slow(std::time::Duration),
}

struct Rule {
    /// Matched against the start of `X-Amz-Target` (`DynamoDB_20120810.PutItem`,
    /// `secretsmanager.GetSecretValue`).
    target: String,
    fault: AwsFault,
    left: u32,
}

#[derive(Default)]
struct ProxyState {
    /// Every request that reached the proxy, by `X-Amz-Target`, failed on purpose or not.
    counts: HashMap<String, u32>,
    /// How long moto took to answer them, by `X-Amz-Target` (the upstream call only: not the
    /// wait for the one-DynamoDB-call-at-a-time lock, nor injected faults).
    times: HashMap<String, Duration>,
    rules: Vec<Rule>,
}

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("dropped by the proxy: an injected fault")
    }
}

impl std::error::Error for Dropped {}

fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("bound").port()
}

impl Moto {
    /// Starts `binary` (see [`crate::Project::moto_server`]) and waits at most 30 s for it.
    pub async fn start(binary: &Path) -> Moto {
        let port = free_port();
        let child = Command::new(binary)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("moto_server starts");
        let upstream = format!("http://127.0.0.1:{port}");
        let http = crate::http_client();
        let mut ready = false;
        for _ in 0..300 {
            if http
                .get(format!("{upstream}/moto-api/"))
                .send()
                .await
                .is_ok()
            {
                ready = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(
            ready,
            "moto_server did not answer on {upstream} within 30 s"
        );
        let state = Arc::new(Mutex::new(ProxyState::default()));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("proxy port");
        let proxy_url = format!("http://{}", listener.local_addr().expect("bound"));
        let (to, tally, client) = (upstream.clone(), state.clone(), http.clone());
        let proxy = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let (to, tally, client) = (to.clone(), tally.clone(), client.clone());
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| {
                        forward(req, to.clone(), tally.clone(), client.clone())
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Moto {
            child,
            proxy,
            proxy_url,
            upstream,
            state,
            http,
        }
    }

    /// For AWS_ENDPOINT_URL: the counting proxy.
    pub fn endpoint(&self) -> &str {
        &self.proxy_url
    }

    /// Points this process's AWS calls at this server (test credentials, region), for tests
    /// that call the product's AWS edges in process. Only for a test alone in its process:
    /// the function reads the environment once.
    pub fn serve_this_process(&self) {
        for (name, value) in [
            ("AWS_ENDPOINT_URL", self.endpoint()),
            ("AWS_ACCESS_KEY_ID", "test"),
            ("AWS_SECRET_ACCESS_KEY", "test"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ] {
            std::env::set_var(name, value);
        }
        std::env::remove_var("AWS_PROFILE");
    }

    /// How many requests with this `X-Amz-Target` (e.g. `secretsmanager.GetSecretValue`)
    /// reached the proxy.
    pub fn count(&self, target: &str) -> u32 {
        self.lock().counts.get(target).copied().unwrap_or(0)
    }

    /// How many requests whose `X-Amz-Target` starts with `prefix` (`DynamoDB`: every
    /// DynamoDB operation) reached the proxy.
    pub fn count_prefixed(&self, prefix: &str) -> u32 {
        self.lock()
            .counts
            .iter()
            .filter(|(target, _)| target.starts_with(prefix))
            .map(|(_, n)| n)
            .sum()
    }

    /// How long moto took, in all, to answer the requests with this `X-Amz-Target`.
    pub fn time(&self, target: &str) -> Duration {
        self.lock().times.get(target).copied().unwrap_or_default()
    }

    /// How many requests of any kind reached the proxy.
    pub fn total(&self) -> u32 {
        self.lock().counts.values().sum()
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

    pub fn clear_faults(&self) {
        self.lock().rules.clear();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ProxyState> {
        self.state.lock().expect("proxy state")
    }

    /// Calls moto directly (not counted), as the AWS CLI would.
    pub async fn call(&self, target: &str, body: Value) -> Value {
        // DynamoDB and SQS speak JSON 1.0; Secrets Manager JSON 1.1.
        let (service, content_type) = if target.starts_with("DynamoDB_") {
            ("dynamodb", "application/x-amz-json-1.0")
        } else if target.starts_with("AmazonSQS.") {
            // SQS's JSON protocol, as the function speaks it.
            ("sqs", "application/x-amz-json-1.0")
        } else {
            (
                target.split('.').next().unwrap_or_default(),
                "application/x-amz-json-1.1",
            )
        };
        let response = self
            .http
            .post(&self.upstream)
            .header("X-Amz-Target", target)
            .header("Content-Type", content_type)
            .header(
                "Authorization",
                format!("AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{service}/aws4_request, SignedHeaders=host, Signature=0"),
            )
            .body(body.to_string())
            .send()
            .await
            .expect("moto answers");
        let status = response.status();
        let value: Value = response.json().await.unwrap_or(Value::Null);
        assert!(status.is_success(), "{target}: {status} {value}");
        value
    }

    pub async fn create_secret(&self, name: &str, value: &str) {
        self.call(
            "secretsmanager.CreateSecret",
            json!({"Name": name, "SecretString": value}),
        )
        .await;
    }

    pub async fn put_secret_value(&self, name: &str, value: &str) {
        self.call(
            "secretsmanager.PutSecretValue",
            json!({"SecretId": name, "SecretString": value}),
        )
        .await;
    }

    /// The state table as the SAM template creates it: key `pk`, TTL on `expireAt`, the
    /// keys-only index `area` (`areaKey`, `areaUser`).
    pub async fn create_state_table(&self, name: &str) {
        self.call(
            "DynamoDB_20120810.CreateTable",
            json!({"TableName": name, "BillingMode": "PAY_PER_REQUEST",
                   "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                            {"AttributeName": "areaKey", "AttributeType": "S"},
                                            {"AttributeName": "areaUser", "AttributeType": "S"}],
                   "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
                   "GlobalSecondaryIndexes": [{"IndexName": "area",
                       "KeySchema": [{"AttributeName": "areaKey", "KeyType": "HASH"},
                                     {"AttributeName": "areaUser", "KeyType": "RANGE"}],
                       "Projection": {"ProjectionType": "KEYS_ONLY"}}]}),
        )
        .await;
        self.call(
            "DynamoDB_20120810.UpdateTimeToLive",
            json!({"TableName": name,
                   "TimeToLiveSpecification": {"Enabled": true, "AttributeName": "expireAt"}}),
        )
        .await;
    }

    /// One item of a table (DynamoDB JSON), `Null` when absent.
    pub async fn get_item(&self, table: &str, pk: &str) -> Value {
        let answer = self
            .call(
                "DynamoDB_20120810.GetItem",
                json!({"TableName": table, "Key": {"pk": {"S": pk}}, "ConsistentRead": true}),
            )
            .await;
        answer.get("Item").cloned().unwrap_or(Value::Null)
    }

    /// Every item's `pk`, sorted.
    pub async fn keys(&self, table: &str) -> Vec<String> {
        let answer = self
            .call("DynamoDB_20120810.Scan", json!({"TableName": table}))
            .await;
        let mut keys: Vec<String> = answer["Items"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|item| item["pk"]["S"].as_str().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }

    pub async fn stop(mut self) {
        self.proxy.abort();
        let _ = self.child.kill().await;
    }
}

static DYNAMODB_CALLS: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

async fn forward(
    req: Request<Incoming>,
    upstream: String,
    state: Arc<Mutex<ProxyState>>,
    client: reqwest::Client,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let (parts, body) = req.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let target = parts
        .headers
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let fault = {
        let mut state = state.lock().expect("proxy state");
        if !target.is_empty() {
            *state.counts.entry(target.to_owned()).or_default() += 1;
        }
        state
            .rules
            .iter_mut()
            .find(|r| r.left > 0 && target.starts_with(&r.target))
            .map(|rule| {
                rule.left = rule.left.saturating_sub(1);
                rule.fault
            })
    };
    let injected = match fault {
        None => None,
        Some(AwsFault::Slow(by)) => {
            tokio::time::sleep(by).await;
            None
        }
        Some(AwsFault::Drop) => return Err(Dropped),
        Some(AwsFault::Throttle) => Some((hyper::StatusCode::BAD_REQUEST, "ThrottlingException")),
        Some(AwsFault::ServerError) => {
            Some((hyper::StatusCode::INTERNAL_SERVER_ERROR, "InternalFailure"))
        }
    };
    if let Some((status, error)) = injected {
        let body = json!({"__type": error, "message": "injected by the test's proxy"});
        let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
        *response.status_mut() = status;
        let headers = response.headers_mut();
        headers.insert(
            "content-type",
            hyper::header::HeaderValue::from_static("application/x-amz-json-1.1"),
        );
        headers.insert(
            "x-amzn-errortype",
            hyper::header::HeaderValue::from_static(error),
        );
        return Ok(response);
    }
    let path = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str())
        .unwrap_or("/");
    let mut request = client.request(parts.method, format!("{upstream}{path}"));
    for (name, value) in parts.headers.iter().filter(|(n, _)| *n != "host") {
        request = request.header(name, value);
    }
    // DynamoDB applies a conditional write to an item atomically; moto applies an UpdateItem
    // in steps, so two concurrent claims can both pass `attribute_not_exists(pk)`. One
    // DynamoDB call at a time through the proxy makes the stand-in as strict as the service.
    let _one_at_a_time = if target.starts_with("DynamoDB") {
        Some(DYNAMODB_CALLS.lock().await)
    } else {
        None
    };
    let mut response = Response::new(Full::new(Bytes::new()));
    let started = std::time::Instant::now();
    match request.body(body).send().await {
        Ok(answer) => {
            *response.status_mut() = answer.status();
            *response.headers_mut() = answer.headers().clone();
            let bytes = answer.bytes().await.unwrap_or_default();
            response.headers_mut().remove("content-length");
            response.headers_mut().remove("transfer-encoding");
            *response.body_mut() = Full::new(bytes);
        }
        Err(_) => *response.status_mut() = hyper::StatusCode::BAD_GATEWAY,
    }
    if !target.is_empty() {
        let took = started.elapsed();
        let mut state = state.lock().expect("proxy state");
        *state.times.entry(target.to_owned()).or_default() += took;
    }
    Ok(response)
}
