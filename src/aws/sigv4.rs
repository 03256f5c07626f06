//! AWS Signature Version 4 for the JSON protocol's requests: a POST to `/` with no query, a
//! few headers and a JSON body. Only that shape is signed here (it is all this function sends);
//! the test module checks each signature against AWS's own signer, the `aws-sigv4` crate.
//!
//! <https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html>

use chrono::{DateTime, Utc};
use ring::{digest, hmac};

/// The secret half of a key pair never leaves this module's signing key derivation; `Debug`
/// shows only the key id, so a credentials value in a log or an error gives nothing away.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"** redacted **")
            .field(
                "session_token",
                &self.session_token.as_ref().map(|_| "** redacted **"),
            )
            .finish()
    }
}

/// What is signed: the request's headers other than the date and the token (added here), the
/// host it goes to, and the body.
pub struct Request<'a> {
    /// `host` or `host:port` as the request's `Host` header carries it.
    pub host: &'a str,
    /// Names in lower case, values as sent.
    pub headers: &'a [(&'a str, &'a str)],
    pub body: &'a [u8],
}

/// The headers to add to the request: `x-amz-date`, `x-amz-security-token` (with temporary
/// credentials) and `authorization`.
pub fn sign(
    request: &Request<'_>,
    credentials: &Credentials,
    region: &str,
    service: &str,
    at: DateTime<Utc>,
) -> Vec<(&'static str, String)> {
    let amz_date = at.format("%Y%m%dT%H%M%SZ").to_string();
    let day = &amz_date[..8];
    let mut added = vec![("x-amz-date", amz_date.clone())];
    if let Some(token) = &credentials.session_token {
        added.push(("x-amz-security-token", token.clone()));
    }
    let mut headers: Vec<(String, String)> = request
        .headers
        .iter()
        .map(|(name, value)| (name.to_ascii_lowercase(), canonical_value(value)))
        .chain(std::iter::once((
            "host".to_owned(),
            request.host.to_owned(),
        )))
        .chain(added.iter().map(|(n, v)| ((*n).to_owned(), v.clone())))
        .collect();
    headers.sort();
    let signed_headers = headers
        .iter()
        .map(|(name, _)| name.as_str())
        .collect::<Vec<_>>()
        .join(";");
    let mut canonical = String::from("POST\n/\n\n");
    for (name, value) in &headers {
        canonical.push_str(name);
        canonical.push(':');
        canonical.push_str(value);
        canonical.push('\n');
    }
    canonical.push('\n');
    canonical.push_str(&signed_headers);
    canonical.push('\n');
    canonical.push_str(&hex(digest::digest(&digest::SHA256, request.body).as_ref()));

    let scope = format!("{day}/{region}/{service}/aws4_request");
    let to_sign = format!(
        "AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{}",
        hex(digest::digest(&digest::SHA256, canonical.as_bytes()).as_ref())
    );
    let mut key = hmac_sha256(
        format!("AWS4{}", credentials.secret_access_key).as_bytes(),
        day.as_bytes(),
    );
    for part in [region, service, "aws4_request"] {
        key = hmac_sha256(&key, part.as_bytes());
    }
    let signature = hex(&hmac_sha256(&key, to_sign.as_bytes()));
    added.push((
        "authorization",
        format!(
            "AWS4-HMAC-SHA256 Credential={}/{scope}, SignedHeaders={signed_headers}, Signature={signature}",
            credentials.access_key_id
        ),
    ));
    added
}

/// A header value as the canonical request holds it: trimmed, inner runs of spaces as one.
fn canonical_value(value: &str) -> String {
    value.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, key), data)
        .as_ref()
        .to_vec()
}

/// Lower-case hex, as SigV4 writes digests (and DynamoDB's request tokens use).
pub(super) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        out.push(char::from(DIGITS[usize::from(byte >> 4)]));
        out.push(char::from(DIGITS[usize::from(byte & 0xf)]));
    }
    out
}

#[cfg(test)]
pub(in crate::aws) mod tests {
    use super::*;
    use std::time::SystemTime;

    /// The same request signed by AWS's own signer (the `aws-sigv4` crate the AWS SDK uses).
    pub(in crate::aws) fn reference(
        request: &Request<'_>,
        credentials: &Credentials,
        region: &str,
        service: &str,
        at: DateTime<Utc>,
    ) -> Vec<(String, String)> {
        use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
        use aws_sigv4::sign::v4;
        let identity = aws_credential_types::Credentials::new(
            &credentials.access_key_id,
            &credentials.secret_access_key,
            credentials.session_token.clone(),
            None,
            "test",
        )
        .into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region(region)
            .name(service)
            .time(SystemTime::from(at))
            .settings(SigningSettings::default())
            .build()
            .unwrap()
            .into();
        let url = format!("https://{}/", request.host);
        let signable = SignableRequest::new(
            "POST",
            &url,
            request.headers.iter().copied(),
            SignableBody::Bytes(request.body),
        )
        .unwrap();
        let (instructions, _) = sign(signable, &params).unwrap().into_parts();
        let (headers, _) = instructions.into_parts();
        let mut headers: Vec<(String, String)> = headers
            .into_iter()
            .map(|h| (h.name().to_owned(), h.value().to_owned()))
            .collect();
        headers.sort();
        headers
    }

    fn ours(
        request: &Request<'_>,
        credentials: &Credentials,
        region: &str,
        service: &str,
        at: DateTime<Utc>,
    ) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = sign(request, credentials, region, service, at)
            .into_iter()
            .map(|(n, v)| (n.to_owned(), v))
            .collect();
        headers.sort();
        headers
    }

    fn keys(token: Option<&str>) -> Credentials {
        Credentials {
            access_key_id: "AKIDEXAMPLE".into(),
            secret_access_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: token.map(str::to_owned),
        }
    }

    #[test]
    fn signatures_match_aws_own_signer() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T16:27:20Z")
            .unwrap()
            .with_timezone(&Utc);
        // Host, headers, body, region, service, session token.
        type Case<'a> = (
            &'a str,
            Vec<(&'a str, &'a str)>,
            &'a [u8],
            &'a str,
            &'a str,
            Option<&'a str>,
        );
        let cases: Vec<Case> = vec![
            (
                "dynamodb.us-east-1.amazonaws.com",
                vec![
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", "DynamoDB_20120810.GetItem"),
                ],
                br#"{"TableName":"state","Key":{"pk":{"S":"user#amzn1.ask.account.X"}}}"#,
                "us-east-1",
                "dynamodb",
                Some("IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQ=="),
            ),
            (
                "sqs.eu-west-1.amazonaws.com",
                vec![
                    ("content-type", "application/x-amz-json-1.0"),
                    ("x-amz-target", "AmazonSQS.SendMessageBatch"),
                    ("x-amzn-query-mode", "true"),
                ],
                "{\"QueueUrl\":\"https://sqs.eu-west-1.amazonaws.com/1/q\",\"Entries\":[{\"Id\":\"0\",\"MessageBody\":\"Köln  \\n\"}]}".as_bytes(),
                "eu-west-1",
                "sqs",
                None,
            ),
            (
                "127.0.0.1:5000",
                vec![
                    ("content-type", "application/x-amz-json-1.1"),
                    ("x-amz-target", "  secretsmanager.GetSecretValue  "),
                ],
                b"",
                "us-west-2",
                "secretsmanager",
                Some("token"),
            ),
        ];
        for (host, headers, body, region, service, token) in cases {
            let request = Request {
                host,
                headers: &headers,
                body,
            };
            let credentials = keys(token);
            assert_eq!(
                ours(&request, &credentials, region, service, at),
                reference(&request, &credentials, region, service, at),
                "{service} at {host}"
            );
        }
    }

    #[test]
    fn a_change_of_any_signed_part_changes_the_signature() {
        let at = DateTime::parse_from_rfc3339("2026-12-06T00:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        let headers = [("x-amz-target", "DynamoDB_20120810.GetItem")];
        let base = Request {
            host: "dynamodb.us-east-1.amazonaws.com",
            headers: &headers,
            body: b"{}",
        };
        let auth = |request: &Request<'_>, credentials: &Credentials, region: &str| {
            sign(request, credentials, region, "dynamodb", at)
                .into_iter()
                .find(|(n, _)| *n == "authorization")
                .unwrap()
                .1
        };
        let first = auth(&base, &keys(None), "us-east-1");
        let other_body = Request {
            body: b"{ }",
            ..base
        };
        let other_host = Request {
            host: "dynamodb.us-east-2.amazonaws.com",
            ..base
        };
        for changed in [
            auth(&other_body, &keys(None), "us-east-1"),
            auth(&other_host, &keys(None), "us-east-1"),
            auth(&base, &keys(None), "us-east-2"),
            auth(&base, &keys(Some("t")), "us-east-1"),
        ] {
            assert_ne!(changed, first);
        }
        // The secret is in no header.
        for (_, value) in sign(&base, &keys(Some("t")), "us-east-1", "dynamodb", at) {
            assert!(!value.contains("wJalrXUtnFEMI"));
        }
        assert!(!format!("{:?}", keys(Some("t"))).contains("wJalrXUtnFEMI"));
    }
}
