//! The AWS SDK configuration shared by every AWS client of the process.
//!
//! It is loaded on first use, never at start-up: an invocation that only answers Alexa must
//! not pay for the credential chain. Both clients (Secrets Manager, DynamoDB) share one load.

use std::time::Duration;

use aws_config::timeout::TimeoutConfig;
use aws_config::SdkConfig;
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
