//! The AWS SDK configuration shared by every AWS client of the process.
//!
//! It is loaded on first use, never at start-up: an invocation that only answers Alexa must
//! not pay for the credential chain. Both clients (Secrets Manager, DynamoDB) share one load.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

static SDK_CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();

/// The SDK's default chain (environment, Lambda's role...). `AWS_ENDPOINT_URL` points every
/// client at a local moto server in tests and `make run`.
///
/// The SDK sets no operation timeout by default: a hung AWS endpoint would hold the invocation
/// until Lambda kills it. These bounds leave room for the SDK's own retries (3 attempts)
/// inside a 30 s invocation.
pub async fn sdk_config() -> &'static SdkConfig {
    SDK_CONFIG
        .get_or_init(|| async {
            aws_config::from_env()
                .timeout_config(
                    TimeoutConfig::builder()
                        .connect_timeout(Duration::from_secs(2))
                        .operation_attempt_timeout(Duration::from_secs(2))
                        .operation_timeout(Duration::from_secs(6))
                        .build(),
                )
                .load()
                .await
        })
        .await
}

/// An SDK error in a few words, for messages that say what to fix: the service's code and
/// message when it answered, else the whole chain of causes (the SDK's own `Display` stops at
/// "service error" or "dispatch failure").
pub fn describe_error<E>(err: &SdkError<E>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let service = err.as_service_error();
    match service.and_then(|e| e.code()) {
        Some(code) => format!(
            "{code}: {}",
            service.and_then(|e| e.message()).unwrap_or("no message")
        ),
        None => DisplayErrorContext(err).to_string(),
    }
}
