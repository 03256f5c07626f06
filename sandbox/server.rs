//! The HTTP side: listens on loopback, serves each connection with hyper, and routes a request
//! to the token endpoint, the events endpoint, the address API or the control API. A fault
//! that asks for a dropped connection makes the service fail, which closes the connection
//! without an answer.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;

use crate::cli::Options;
use crate::rules::Rules;
use crate::state::{self, lock, Shared};
use crate::{address_api, control, events_api, token};

pub type Answer = Response<Full<Bytes>>;

/// Marks an answer that must not be sent: the connection is dropped instead.
#[derive(Debug, Clone, Copy)]
pub struct DropConnection;

#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by a sandbox fault")
    }
}

impl std::error::Error for Dropped {}

/// A JSON answer.
pub fn answer(status: StatusCode, body: Value) -> Answer {
    let mut response = Response::new(Full::new(Bytes::from(body.to_string())));
    *response.status_mut() = status;
    response.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    response
}

/// Adds the `x-amzn-RequestId` header that every events API answer carries.
pub fn with_request_id(mut response: Answer, request_id: &str) -> Answer {
    if let Ok(id) = request_id.parse() {
        response.headers_mut().insert("x-amzn-RequestId", id);
    }
    response
}

/// `/na/...`, `/eu/...`, `/fe/...` → ("NA" | "EU" | "FE", the rest of the path); a path without
/// a region prefix is region "ANY", for a function configured without `{region}`.
pub fn split_region(path: &str) -> (String, &str) {
    match path.get(..4) {
        Some(p @ ("/na/" | "/eu/" | "/fe/")) => (p[1..3].to_ascii_uppercase(), &path[3..]),
        _ => ("ANY".to_owned(), path),
    }
}

/// Listens on 127.0.0.1:`port` and serves until the process is stopped.
pub async fn run(options: Options, rules: Rules) {
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
    let shared = state::shared(options);
    let rules = Arc::new(rules);
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let shared = shared.clone();
        let rules = rules.clone();
        tokio::spawn(async move {
            let service =
                hyper::service::service_fn(move |req| route(shared.clone(), rules.clone(), req));
            let _ = hyper::server::conn::http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

/// A failed service makes hyper close the connection without an answer.
async fn route(
    shared: Shared,
    rules: Arc<Rules>,
    req: Request<Incoming>,
) -> Result<Answer, Dropped> {
    let answer = match serve(shared, &rules, req).await {
        Ok(answer) => answer,
        Err(never) => match never {},
    };
    if answer.extensions().get::<DropConnection>().is_some() {
        return Err(Dropped);
    }
    Ok(answer)
}

async fn serve(
    shared: Shared,
    rules: &Rules,
    req: Request<Incoming>,
) -> Result<Answer, Infallible> {
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
    // The address route answers every method (405 but for GET), as Alexa's does.
    if let Some((region, device_id)) = address_api::route(&path) {
        return Ok(address_api::country_and_postal_code(
            &shared,
            &method,
            region,
            device_id,
            header("authorization"),
        )
        .await);
    }
    Ok(match (method, path.as_str()) {
        (Method::POST, "/auth/o2/token" | "/auth/O2/token") => {
            token::issue(&shared, header("content-type"), &body).await
        }
        (Method::GET, "/sandbox/state") => answer(StatusCode::OK, lock(&shared).snapshot()),
        (Method::POST, p) if p.starts_with("/sandbox/") => control::handle(&shared, p, &body),
        (Method::POST, p) => match events_api::route(p) {
            Some((region, stage)) => {
                events_api::receive(
                    &shared,
                    rules,
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
