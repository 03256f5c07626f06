//! A small AWS Lambda Runtime API on loopback, to drive the real binary the way Lambda does.
//!
//! Shared by the end-to-end tests, the rig, the cold-start benchmark and `make run`. It
//! implements the four routes a function uses: `next`, `response`, `error` and `init/error`.

use std::collections::HashMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::process::{Child, Command};
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::{JoinHandle, JoinSet};

const PREFIX: &str = "/2018-06-01/runtime";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:alexa-proactive";

/// How an invocation ended, as the function reported it.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Response(Value),
    Error {
        error_type: String,
        error_message: String,
    },
}

struct Pending {
    id: String,
    body: Bytes,
    deadline_ms: u64,
}

struct Shared {
    queue: Mutex<mpsc::UnboundedReceiver<Pending>>,
    waiting: std::sync::Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    init_errors: std::sync::Mutex<Vec<String>>,
    /// When a function first asked for an invocation: its init was done.
    first_next: std::sync::Mutex<Option<std::time::Instant>>,
}

pub struct RuntimeApi {
    addr: SocketAddr,
    shared: Arc<Shared>,
    queue: mpsc::UnboundedSender<Pending>,
    next_id: AtomicU64,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    /// Listens on an ephemeral loopback port.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let (tx, rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            queue: Mutex::new(rx),
            waiting: std::sync::Mutex::new(HashMap::new()),
            init_errors: std::sync::Mutex::new(Vec::new()),
            first_next: std::sync::Mutex::new(None),
        });
        let state = shared.clone();
        let server = tokio::spawn(async move {
            // Dropping the set (when this task is aborted) aborts every connection task.
            let mut connections = JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let state = state.clone();
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |req| route(state.clone(), req));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        Ok(RuntimeApi {
            addr,
            shared,
            queue: tx,
            next_id: AtomicU64::new(1),
            server,
        })
    }

    /// The value for `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an invocation; the receiver yields the function's outcome.
    pub fn enqueue(&self, payload: &Value, timeout: Duration) -> oneshot::Receiver<Outcome> {
        self.enqueue_raw(
            Bytes::from(serde_json::to_vec(payload).unwrap_or_default()),
            timeout,
        )
    }

    /// Queues an invocation whose body is these bytes, JSON or not.
    pub fn enqueue_raw(&self, body: Bytes, timeout: Duration) -> oneshot::Receiver<Outcome> {
        let id = format!("req-{:06}", self.next_id.fetch_add(1, Ordering::Relaxed));
        let (tx, rx) = oneshot::channel();
        if let Ok(mut waiting) = self.shared.waiting.lock() {
            waiting.insert(id.clone(), tx);
        }
        let deadline_ms = now_ms() + timeout.as_millis() as u64;
        let _ = self.queue.send(Pending {
            id,
            body,
            deadline_ms,
        });
        rx
    }

    /// Invokes the function and waits at most `timeout` for its outcome.
    pub async fn invoke(&self, payload: &Value, timeout: Duration) -> Result<Outcome, String> {
        let rx = self.enqueue(payload, timeout);
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(outcome)) => Ok(outcome),
            Ok(Err(_)) => Err("the Runtime API dropped the invocation".into()),
            Err(_) => Err(format!("no answer within {timeout:?}")),
        }
    }

    /// Errors the function reported through `/runtime/init/error`.
    /// When a function first asked for an invocation (`/invocation/next`): the end of its
    /// init, as Lambda counts it.
    pub fn first_next(&self) -> Option<std::time::Instant> {
        self.shared.first_next.lock().ok().and_then(|f| *f)
    }

    pub fn init_errors(&self) -> Vec<String> {
        self.shared
            .init_errors
            .lock()
            .map(|e| e.clone())
            .unwrap_or_default()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or_default()
}

fn reply(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(body.into()));
    *response.status_mut() = status;
    response
}

async fn route(
    state: Arc<Shared>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let body = match req.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => return Ok(reply(StatusCode::BAD_REQUEST, "unreadable body")),
    };
    let Some(rest) = path.strip_prefix(PREFIX) else {
        return Ok(reply(StatusCode::NOT_FOUND, "unknown path"));
    };
    if method == Method::GET && rest == "/invocation/next" {
        if let Ok(mut first) = state.first_next.lock() {
            first.get_or_insert_with(std::time::Instant::now);
        }
        let next = state.queue.lock().await.recv().await;
        let Some(pending) = next else {
            return Ok(reply(
                StatusCode::INTERNAL_SERVER_ERROR,
                "runtime api closed",
            ));
        };
        let mut response = reply(StatusCode::OK, pending.body);
        let headers = response.headers_mut();
        for (name, value) in [
            ("lambda-runtime-aws-request-id", pending.id),
            (
                "lambda-runtime-deadline-ms",
                pending.deadline_ms.to_string(),
            ),
            (
                "lambda-runtime-invoked-function-arn",
                FUNCTION_ARN.to_owned(),
            ),
            (
                "lambda-runtime-trace-id",
                "Root=1-00000000-000000000000000000000000;Sampled=0".to_owned(),
            ),
            ("content-type", "application/json".to_owned()),
        ] {
            if let Ok(value) = value.parse() {
                headers.insert(name, value);
            }
        }
        return Ok(response);
    }
    if method == Method::POST && rest == "/init/error" {
        if let Ok(mut errors) = state.init_errors.lock() {
            errors.push(String::from_utf8_lossy(&body).into_owned());
        }
        return Ok(reply(StatusCode::ACCEPTED, "{}"));
    }
    if method == Method::POST {
        if let Some(id_and_kind) = rest.strip_prefix("/invocation/") {
            let outcome = if let Some(id) = id_and_kind.strip_suffix("/response") {
                let value = serde_json::from_slice(&body)
                    .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
                Some((id, Outcome::Response(value)))
            } else if let Some(id) = id_and_kind.strip_suffix("/error") {
                let value: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
                let field = |k: &str| {
                    value
                        .get(k)
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_owned()
                };
                Some((
                    id,
                    Outcome::Error {
                        error_type: field("errorType"),
                        error_message: field("errorMessage"),
                    },
                ))
            } else {
                None
            };
            if let Some((id, outcome)) = outcome {
                let waiter = state.waiting.lock().ok().and_then(|mut w| w.remove(id));
                return Ok(match waiter {
                    Some(tx) => {
                        let _ = tx.send(outcome);
                        reply(StatusCode::ACCEPTED, "{\"status\":\"OK\"}")
                    }
                    None => reply(StatusCode::BAD_REQUEST, "unknown or finished request id"),
                });
            }
        }
    }
    Ok(reply(StatusCode::NOT_FOUND, "unknown route"))
}

/// The build's profile directory (`target/<profile>/`), found from the running executable
/// (`target/<profile>/deps/x` or `target/<profile>/examples/x`), so that it works whatever
/// `CARGO_TARGET_DIR` is.
pub fn profile_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    exe.parent()
        .and_then(Path::parent)
        .map(Path::to_path_buf)
        .unwrap_or_default()
}

/// A file in the build's profile directory.
pub fn profile_dir_file(relative: &str) -> PathBuf {
    profile_dir().join(relative)
}

/// The function's process, killed when dropped.
pub struct Function {
    child: Child,
    log: Option<PathBuf>,
}

impl Function {
    /// Starts `binary` against `api`, with Lambda's reserved variables set and `env` added
    /// (a `None` value removes the variable). Its stdout and stderr go to `log`.
    pub fn spawn(
        binary: &Path,
        api: &RuntimeApi,
        env: &[(&str, Option<&str>)],
        log: Option<&Path>,
    ) -> std::io::Result<Function> {
        let mut command = Command::new(binary);
        command
            .env("AWS_LAMBDA_RUNTIME_API", api.address())
            .env("AWS_LAMBDA_FUNCTION_NAME", "alexa-proactive")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "local")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", "/aws/lambda/alexa-proactive")
            .stdin(Stdio::null())
            .kill_on_drop(true);
        for (name, value) in env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        match log {
            Some(path) => {
                let file = std::fs::File::create(path)?;
                command.stdout(file.try_clone()?).stderr(file);
            }
            None => {
                command.stdout(Stdio::null()).stderr(Stdio::null());
            }
        }
        Ok(Function {
            child: command.spawn()?,
            log: log.map(Path::to_path_buf),
        })
    }

    /// Where its output goes, if anywhere.
    pub fn log(&self) -> Option<&Path> {
        self.log.as_deref()
    }

    /// The process id (for memory figures).
    pub fn pid(&self) -> Option<u32> {
        self.child.id()
    }

    /// The exit status if the process has ended.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Waits at most `timeout` for the process to end by itself.
    pub async fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        tokio::time::timeout(timeout, self.child.wait())
            .await
            .ok()
            .and_then(Result::ok)
    }

    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}
