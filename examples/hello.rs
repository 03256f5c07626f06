//! The baseline for the cold-start benchmark: the smallest lambda_runtime function, as in
//! the runtime's own basic example (a log subscriber, then `run`). This package builds
//! lambda_runtime without its `tracing` feature, so the subscriber is installed here as that
//! feature's `init_default_subscriber` would (formatted lines to standard output).

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing_subscriber::fmt()
        .with_target(false)
        .without_time()
        .with_max_level(tracing::Level::INFO)
        .init();
    run(service_fn(|_event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!({"message": "hello"}))
    }))
    .await
}
