use alexa_proactive::{handler, logging, App, Config};
use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use serde_json::Value;

// A Lambda sandbox runs one invocation at a time, so a single-threaded runtime is enough
// and starts faster than a pool of worker threads; concurrent sends still run concurrently.
#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    logging::init();
    let config = Config::from_env().inspect_err(|err| {
        tracing::error!(error = %err, "invalid configuration; the function cannot start");
    })?;
    tracing::debug!(%config, "configuration loaded");
    let app = App::new(config);
    let app = &app;
    run(service_fn(move |event: LambdaEvent<Value>| async move {
        handler(app, event).await
    }))
    .await
}
