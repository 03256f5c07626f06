//! The skill's client credentials ("Alexa Client" id and secret), kept in AWS Secrets Manager.
//!
//! The secret is read on the first send, never at start-up: an Alexa request must not pay for
//! an AWS call, and a function that only answers Alexa works without the secret.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde::Deserialize;
use tokio::time::Instant;

use crate::budget;

use crate::vars;

/// A value that must never be printed: `Debug` and `Display` show a placeholder, and the
/// only way to the text is [`Redacted::expose`], which is easy to find in a review.
#[derive(Clone, PartialEq, Eq)]
pub struct Redacted(String);

impl Redacted {
    pub fn new(value: impl Into<String>) -> Self {
        Redacted(value.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Display for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The Login-with-Amazon client credentials of the skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientCredentials {
    pub client_id: String,
    pub client_secret: Redacted,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum CredentialsError {
    #[error("{var} is not set: set it to the id or ARN of the Secrets Manager secret that holds {{\"clientId\": \"...\", \"clientSecret\": \"...\"}} (the skill's Alexa Client credentials from the developer console's Permissions tab)", var = vars::CREDENTIALS_SECRET)]
    NotConfigured,
    #[error("secret {secret:?} (from {var}) does not exist in this account and region: create it with `aws secretsmanager create-secret --name {secret} --secret-string '{{\"clientId\":\"...\",\"clientSecret\":\"...\"}}'` or fix {var}", var = vars::CREDENTIALS_SECRET)]
    NotFound { secret: String },
    #[error("reading secret {secret:?} was refused ({detail}): the function's role needs secretsmanager:GetSecretValue on it (and kms:Decrypt if it uses its own KMS key)")]
    AccessDenied { secret: String, detail: String },
    #[error("Secrets Manager could not be reached to read secret {secret:?}: {detail}")]
    Unavailable { secret: String, detail: String },
    #[error("secret {secret:?} is malformed: {problem}; expected its SecretString to be JSON {{\"clientId\": \"...\", \"clientSecret\": \"...\"}} (client_id / client_secret also accepted)")]
    Malformed { secret: String, problem: String },
}

pub type LoadFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ClientCredentials, CredentialsError>> + 'a>>;

/// Where the credentials come from. Each call reads them anew: caching is the caller's job,
/// so that a rotated secret can be re-read on demand.
pub trait CredentialSource: Send + Sync {
    /// Reads the credentials, giving up at the invocation's `deadline` (less the time kept to
    /// answer): a slow Secrets Manager must not hold an answer Alexa is waiting for.
    fn load(&self, deadline: Instant) -> LoadFuture<'_>;
}

/// Reads the credentials from Secrets Manager (GetSecretValue, [`crate::aws`]).
/// `AWS_ENDPOINT_URL` points it at a local moto server in tests.
pub struct SecretsManager {
    secret_id: Option<String>,
}

impl SecretsManager {
    pub fn new(secret_id: Option<String>) -> Self {
        SecretsManager { secret_id }
    }

    async fn read(&self) -> Result<ClientCredentials, CredentialsError> {
        #[derive(serde::Serialize)]
        #[serde(rename_all = "PascalCase")]
        struct Request<'a> {
            secret_id: &'a str,
        }
        #[derive(serde::Deserialize)]
        #[serde(rename_all = "PascalCase")]
        struct Answer {
            secret_string: Option<String>,
        }

        let secret = self
            .secret_id
            .as_deref()
            .ok_or(CredentialsError::NotConfigured)?;
        let answer: Answer = crate::aws::call(
            &crate::aws::SECRETS_MANAGER,
            "GetSecretValue",
            &Request { secret_id: secret },
        )
        .await
        .map_err(|err| {
            let detail = err.to_string();
            let secret = secret.to_owned();
            match err.code() {
                Some("ResourceNotFoundException") => CredentialsError::NotFound { secret },
                Some(
                    "AccessDeniedException"
                    | "AccessDenied"
                    | "UnrecognizedClientException"
                    | "InvalidSignatureException"
                    | "DecryptionFailure",
                ) => CredentialsError::AccessDenied { secret, detail },
                Some("InvalidRequestException" | "InvalidParameterException") => {
                    CredentialsError::Malformed {
                        secret,
                        problem: format!("Secrets Manager refused to return it ({detail})"),
                    }
                }
                _ => CredentialsError::Unavailable { secret, detail },
            }
        })?;
        let text = answer
            .secret_string
            .as_deref()
            .ok_or_else(|| CredentialsError::Malformed {
                secret: secret.to_owned(),
                problem: "it has no SecretString (a binary secret?)".into(),
            })?;
        parse_secret(secret, text)
    }
}

impl CredentialSource for SecretsManager {
    fn load(&self, deadline: Instant) -> LoadFuture<'_> {
        Box::pin(async move {
            match budget::bounded(deadline, self.read()).await {
                Some(read) => read,
                None => Err(CredentialsError::Unavailable {
                    secret: self.secret_id.clone().unwrap_or_default(),
                    detail: "no answer before the invocation's deadline".into(),
                }),
            }
        })
    }
}

/// Credentials held in memory: for tests and for embedding the sender elsewhere.
pub struct Fixed(pub ClientCredentials);

impl CredentialSource for Fixed {
    fn load(&self, _deadline: Instant) -> LoadFuture<'_> {
        let credentials = self.0.clone();
        Box::pin(async move { Ok(credentials) })
    }
}

#[derive(Deserialize)]
struct SecretJson {
    #[serde(alias = "client_id")]
    #[serde(rename = "clientId")]
    client_id: Option<String>,
    #[serde(alias = "client_secret")]
    #[serde(rename = "clientSecret")]
    client_secret: Option<String>,
}

/// Parses a SecretString. Errors name the missing keys but never quote the text: it holds
/// the client secret.
pub fn parse_secret(secret: &str, text: &str) -> Result<ClientCredentials, CredentialsError> {
    let malformed = |problem: &str| CredentialsError::Malformed {
        secret: secret.to_owned(),
        problem: problem.to_owned(),
    };
    let parsed: SecretJson = match serde_json::from_str::<serde_json::Value>(text) {
        Ok(serde_json::Value::Object(map)) => {
            serde_json::from_value(serde_json::Value::Object(map))
                .map_err(|_| malformed("clientId and clientSecret must be strings"))?
        }
        Ok(_) => return Err(malformed("its SecretString is JSON but not an object")),
        Err(_) => {
            return Err(malformed(
                "its SecretString is not JSON (a plain-text secret?)",
            ))
        }
    };
    let non_empty = |v: Option<String>| v.filter(|s| !s.trim().is_empty());
    match (non_empty(parsed.client_id), non_empty(parsed.client_secret)) {
        (Some(id), Some(client_secret)) => Ok(ClientCredentials {
            client_id: id.trim().to_owned(),
            client_secret: Redacted::new(client_secret.trim()),
        }),
        (None, None) => Err(malformed(
            "key clientId and key clientSecret are missing or empty",
        )),
        (None, Some(_)) => Err(malformed("key clientId is missing or empty")),
        (Some(_), None) => Err(malformed("key clientSecret is missing or empty")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_spellings_of_the_keys_are_accepted() {
        for text in [
            r#"{"clientId": "amzn1.application-oa2-client.abc", "clientSecret": "s3cr3t"}"#,
            r#"{"client_id": "amzn1.application-oa2-client.abc", "client_secret": "s3cr3t"}"#,
        ] {
            let creds = parse_secret("alexa/creds", text).unwrap();
            assert_eq!(creds.client_id, "amzn1.application-oa2-client.abc");
            assert_eq!(creds.client_secret.expose(), "s3cr3t");
        }
    }

    #[test]
    fn errors_name_the_missing_key_and_never_quote_the_secret() {
        for (text, says) in [
            (r#"{"clientId": "id"}"#, "key clientSecret is missing"),
            (r#"{"clientSecret": "s3cr3t"}"#, "key clientId is missing"),
            (
                r#"{"clientId": "id", "clientSecret": "  "}"#,
                "clientSecret is missing or empty",
            ),
            (
                r#"{"clientId": 1, "clientSecret": "s3cr3t"}"#,
                "must be strings",
            ),
            ("s3cr3t", "not JSON"),
            (r#"["s3cr3t"]"#, "not an object"),
        ] {
            let err = parse_secret("alexa/creds", text).unwrap_err().to_string();
            assert!(err.contains(says), "{text}: {err}");
            assert!(err.contains("\"alexa/creds\""), "{err}");
            assert!(!err.contains("s3cr3t"), "{err}");
        }
    }

    #[test]
    fn the_client_secret_is_never_formatted() {
        let creds = parse_secret("x", r#"{"clientId": "id", "clientSecret": "s3cr3t"}"#).unwrap();
        let shown = format!("{creds:?} {}", creds.client_secret);
        assert!(!shown.contains("s3cr3t"), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }

    #[tokio::test]
    async fn a_missing_secret_name_is_reported_before_any_aws_call() {
        let err = SecretsManager::new(None)
            .load(Instant::now() + std::time::Duration::from_secs(5))
            .await
            .unwrap_err();
        assert_eq!(err, CredentialsError::NotConfigured);
        assert!(err.to_string().contains("ALEXA_CREDENTIALS_SECRET"));
    }
}
