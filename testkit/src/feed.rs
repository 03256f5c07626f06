//! A stand-in for a weather feed on loopback: the NWS alerts API serving fixture files in its
//! format, or any body at any path (a DWD zip, a MeteoAlarm Atom feed and the CAP documents it
//! links to).
//!
//! Like api.weather.gov it answers with an `ETag` and honours `If-None-Match` with a 304. In
//! fixtures, `{{+90m}}` / `{{-2h}}` become times relative to now (RFC 3339), so the alerts are
//! current whenever the test runs. A test can make it fail (status, delay, garbage body) and
//! read what each request carried. Documents ([`FeedServer::document`]) are served as they
//! are, whatever the mode.

use std::collections::HashMap;
use std::convert::Infallible;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// What the next requests get.
#[derive(Debug, Clone)]
pub enum Mode {
    /// The current fixture, 200 (or 304 when the client already has it).
    Serve,
    /// This status with a short text body.
    Status(u16),
    /// The fixture, after this long.
    Slow(Duration),
    /// 200 with a body that is not a feed.
    Garbage(&'static str),
    /// 200 with the first half of the fixture: JSON cut off mid-document.
    Truncated,
}

/// What one request carried.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub path: String,
    pub user_agent: Option<String>,
    pub if_none_match: Option<String>,
    pub status: u16,
}

struct State {
    body: Vec<u8>,
    content_type: String,
    mode: Mode,
    seen: Vec<Seen>,
    /// Other paths (without query) and their bodies.
    documents: HashMap<String, Vec<u8>>,
}

pub struct FeedServer {
    url: String,
    state: Arc<Mutex<State>>,
    server: JoinHandle<()>,
}

/// Replaces `{{+90m}}`, `{{-2h}}`, `{{+1d}}` with now plus that offset (RFC 3339), and
/// `{{vtec+40m}}` with the same as a P-VTEC time (`261206T1215Z`).
pub fn render(template: &str) -> String {
    let now = chrono::Utc::now();
    let mut out = String::with_capacity(template.len());
    let mut rest = template;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let Some(end) = rest[start..].find("}}") else {
            break;
        };
        let token = &rest[start + 2..start + end];
        let (vtec, token) = match token.strip_prefix("vtec") {
            Some(offset) => (true, offset),
            None => (false, token),
        };
        let (number, unit) = token.split_at(token.len().saturating_sub(1));
        let amount: i64 = number.parse().expect("a fixture time offset such as +90m");
        let offset = match unit {
            "m" => chrono::Duration::minutes(amount),
            "h" => chrono::Duration::hours(amount),
            "d" => chrono::Duration::days(amount),
            other => panic!("unknown unit {other:?} in {{{{{token}}}}}"),
        };
        let at = now + offset;
        if vtec {
            out.push_str(&at.format("%y%m%dT%H%MZ").to_string());
        } else {
            out.push_str(&at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
        }
        rest = &rest[start + end + 2..];
    }
    out.push_str(rest);
    out
}

fn etag(body: &[u8]) -> String {
    let mut hash: u64 = 0xcbf29ce484222325;
    for &byte in body {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x100000001b3);
    }
    format!("\"{hash:016x}\"")
}

impl FeedServer {
    pub async fn start(fixture: &Path) -> FeedServer {
        let feed = FeedServer::start_at("/alerts/active?area=OK").await;
        feed.serve(fixture);
        feed
    }

    /// A server whose feed is at `path` (and query), serving nothing until told.
    pub async fn start_at(path: &str) -> FeedServer {
        let state = Arc::new(Mutex::new(State {
            body: Vec::new(),
            content_type: "application/geo+json".to_owned(),
            mode: Mode::Serve,
            seen: Vec::new(),
            documents: HashMap::new(),
        }));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("feed port");
        let url = format!("http://{}{path}", listener.local_addr().expect("bound"));
        let shared = state.clone();
        let server = tokio::spawn(async move {
            let mut connections = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                connections.spawn(async move {
                    let service =
                        hyper::service::service_fn(move |req| answer(req, shared.clone()));
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        FeedServer { url, state, server }
    }

    /// `http://127.0.0.1:port`, for the links of a served document.
    pub fn origin(&self) -> String {
        let rest = self.url.strip_prefix("http://").unwrap_or(&self.url);
        format!("http://{}", rest.split('/').next().unwrap_or_default())
    }

    /// Serves this body as the feed from now on.
    pub fn serve_bytes(&self, body: Vec<u8>, content_type: &str) {
        let mut state = self.state.lock().expect("feed state");
        state.body = body;
        content_type.clone_into(&mut state.content_type);
        state.mode = Mode::Serve;
    }

    /// Serves `body` at `path` (no query) as well, whatever the mode.
    pub fn document(&self, path: &str, body: Vec<u8>) {
        self.state
            .lock()
            .expect("feed state")
            .documents
            .insert(path.to_owned(), body);
    }

    /// For WEATHER_FEED_URL.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Serves this fixture from now on (its times rendered now).
    pub fn serve(&self, fixture: &Path) {
        let template = std::fs::read_to_string(fixture)
            .unwrap_or_else(|e| panic!("fixture {}: {e}", fixture.display()));
        let mut state = self.state.lock().expect("feed state");
        state.body = render(&template).into_bytes();
        state.mode = Mode::Serve;
    }

    pub fn set_mode(&self, mode: Mode) {
        self.state.lock().expect("feed state").mode = mode;
    }

    pub fn seen(&self) -> Vec<Seen> {
        self.state.lock().expect("feed state").seen.clone()
    }

    pub fn stop(self) {
        self.server.abort();
    }
}

async fn answer(
    req: Request<Incoming>,
    state: Arc<Mutex<State>>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let header = |name: &str| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let path = req.uri().path().to_owned();
    let (body, mode, content_type, document) = {
        let state = state.lock().expect("feed state");
        (
            state.body.clone(),
            state.mode.clone(),
            state.content_type.clone(),
            state.documents.get(&path).cloned(),
        )
    };
    let tag = etag(&body);
    let (status, content) = match (document, mode.clone()) {
        (Some(document), _) => (200, document),
        (None, Mode::Serve | Mode::Slow(_))
            if header("if-none-match").as_deref() == Some(tag.as_str()) =>
        {
            (304, Vec::new())
        }
        (None, Mode::Serve | Mode::Slow(_)) => (200, body),
        (None, Mode::Status(code)) => (code, b"Service Unavailable".to_vec()),
        (None, Mode::Garbage(text)) => (200, text.as_bytes().to_vec()),
        // Cut mid-document (a JSON or XML body; a zip loses its directory), never inside a
        // UTF-8 character.
        (None, Mode::Truncated) => {
            let mut cut = body.len() / 2;
            while cut > 0 && body[cut] & 0b1100_0000 == 0b1000_0000 {
                cut -= 1;
            }
            (200, body[..cut].to_vec())
        }
    };
    state.lock().expect("feed state").seen.push(Seen {
        path: req
            .uri()
            .path_and_query()
            .map(|p| p.as_str().to_owned())
            .unwrap_or_default(),
        user_agent: header("user-agent"),
        if_none_match: header("if-none-match"),
        status,
    });
    if let Mode::Slow(delay) = mode {
        tokio::time::sleep(delay).await;
    }
    let mut response = Response::builder()
        .status(status)
        .header("content-type", content_type);
    if status == 200 || status == 304 {
        response = response.header("etag", tag);
    }
    Ok(response
        .body(Full::new(Bytes::from(content)))
        .expect("a valid response"))
}
