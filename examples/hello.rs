//! The baseline for the cold-start benchmark: the smallest lambda_runtime function, as in
//! the runtime's own basic example.

use lambda_runtime::{run, service_fn, tracing, Error, LambdaEvent};
use serde_json::{json, Value};

#[tokio::main]
async fn main() -> Result<(), Error> {
    tracing::init_default_subscriber();
    run(service_fn(|_event: LambdaEvent<Value>| async move {
        Ok::<Value, Error>(json!({"message": "hello"}))
    }))
    .await
}
