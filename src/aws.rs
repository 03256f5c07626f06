//! The AWS SDK configuration shared by every AWS client of the process.
//!
//! It is built on first use, never at start-up: an invocation that only answers Alexa must
//! not pay for it. Every client (Secrets Manager, DynamoDB, SQS) shares it.
//!
//! Built by hand from the environment, not by aws-config's loader: Lambda gives a function its
//! credentials and region in the environment (`AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`,
//! `AWS_SESSION_TOKEN`, `AWS_REGION`), so the loader's default chain (profile files, SSO, STS
//! web identity, the container and instance metadata endpoints) would only add code: about 0.4
//! MB of the binary (docs/figures.md). Tests and `make run` set the same variables for moto.

use std::time::Duration;

use aws_config::environment::EnvironmentVariableCredentialsProvider;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_sdk_dynamodb::config::retry::RetryConfig;
use aws_sdk_dynamodb::config::SharedCredentialsProvider;
use aws_sdk_dynamodb::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use tokio::sync::OnceCell;

static SDK_CONFIG: OnceCell<SdkConfig> = OnceCell::const_new();

/// The configuration every client is built from. `AWS_ENDPOINT_URL` points every client at a
/// local moto server in tests and `make run`.
///
/// The SDK sets no operation timeout by default: a hung AWS endpoint would hold the invocation
/// until Lambda kills it. These bounds leave room for the SDK's own retries (3 attempts)
/// inside a 30 s invocation.
pub async fn sdk_config() -> &'static SdkConfig {
    SDK_CONFIG
        .get_or_init(|| async { from_env(|name| std::env::var(name).ok()) })
        .await
}

/// The configuration for an environment (`lookup` reads a variable).
pub fn from_env(lookup: impl Fn(&str) -> Option<String>) -> SdkConfig {
    let text = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
    let region = text("AWS_REGION")
        .or_else(|| text("AWS_DEFAULT_REGION"))
        .map(Region::new);
    let mut config = SdkConfig::builder()
        .behavior_version(BehaviorVersion::latest())
        .http_client(https_client())
        .credentials_provider(SharedCredentialsProvider::new(
            EnvironmentVariableCredentialsProvider::new(),
        ))
        .retry_config(RetryConfig::standard())
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(2))
                .operation_attempt_timeout(Duration::from_secs(2))
                .operation_timeout(Duration::from_secs(6))
                .build(),
        );
    config.set_region(region);
    config.set_endpoint_url(text("AWS_ENDPOINT_URL"));
    config.build()
}

/// The SDK's HTTPS client on rustls with ring, the crypto provider reqwest uses too (the
/// SDK's default would bring aws-lc beside it).
fn https_client() -> aws_sdk_dynamodb::config::SharedHttpClient {
    use aws_smithy_http_client::tls;
    aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(
            tls::rustls_provider::CryptoMode::Ring,
        ))
        .build_https()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_configuration_comes_from_lambdas_environment() {
        let env = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        let config = from_env(env(&[
            ("AWS_REGION", "eu-west-1"),
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ]));
        assert_eq!(config.region().map(|r| r.as_ref()), Some("eu-west-1"));
        assert_eq!(config.endpoint_url(), Some("http://127.0.0.1:5000"));
        assert!(config.credentials_provider().is_some());
        assert!(config.http_client().is_some());
        let fallback = from_env(env(&[
            ("AWS_DEFAULT_REGION", "us-east-1"),
            ("AWS_REGION", " "),
        ]));
        assert_eq!(fallback.region().map(|r| r.as_ref()), Some("us-east-1"));
        assert_eq!(fallback.endpoint_url(), None);
        let timeouts = fallback.timeout_config().expect("timeouts");
        assert_eq!(timeouts.operation_timeout(), Some(Duration::from_secs(6)));
    }
}
