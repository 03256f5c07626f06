use super::*;
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
    move |name: &str| {
        pairs
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| (*v).to_owned())
    }
}

#[test]
fn the_settings_come_from_lambdas_environment() {
    let settings = from_env(env(&[
        ("AWS_REGION", "eu-west-1"),
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_ACCESS_KEY_ID", "AKID"),
        ("AWS_SECRET_ACCESS_KEY", "secret"),
        ("AWS_SESSION_TOKEN", "token"),
        ("AWS_ENDPOINT_URL", "http://127.0.0.1:5000"),
        ("AWS_ENDPOINT_URL_SQS", "http://127.0.0.1:5001"),
    ]));
    assert_eq!(settings.region.as_deref(), Some("eu-west-1"));
    let credentials = settings.credentials.clone().unwrap();
    assert_eq!(credentials.access_key_id, "AKID");
    assert_eq!(credentials.session_token.as_deref(), Some("token"));
    assert_eq!(
        settings.endpoint(&DYNAMODB, "eu-west-1"),
        "http://127.0.0.1:5000"
    );
    assert_eq!(
        settings.endpoint(&SQS, "eu-west-1"),
        "http://127.0.0.1:5001"
    );

    let fallback = from_env(env(&[
        ("AWS_DEFAULT_REGION", "us-east-1"),
        ("AWS_REGION", " "),
        ("AWS_ACCESS_KEY_ID", "AKID"),
    ]));
    assert_eq!(fallback.region.as_deref(), Some("us-east-1"));
    // Half a key pair is no credentials.
    assert_eq!(fallback.credentials, None);
    assert_eq!(
        fallback.endpoint(&SECRETS_MANAGER, "us-east-1"),
        "https://secretsmanager.us-east-1.amazonaws.com"
    );
    for (region, url) in [
        ("cn-north-1", "https://dynamodb.cn-north-1.amazonaws.com.cn"),
        (
            "us-gov-west-1",
            "https://dynamodb.us-gov-west-1.amazonaws.com",
        ),
        (
            "us-isob-east-1",
            "https://dynamodb.us-isob-east-1.sc2s.sgov.gov",
        ),
        ("us-iso-east-1", "https://dynamodb.us-iso-east-1.c2s.ic.gov"),
        (
            "eusc-de-east-1",
            "https://dynamodb.eusc-de-east-1.amazonaws.eu",
        ),
    ] {
        assert_eq!(fallback.endpoint(&DYNAMODB, region), url);
    }
}

fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.insert(*name, value.parse().unwrap());
    }
    map
}

#[test]
fn errors_read_the_code_and_message_however_the_service_writes_them() {
    let e = service_error(
        400,
        &HeaderMap::new(),
        br#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#,
    );
    assert_eq!(e.code(), Some("ResourceNotFoundException"));
    assert_eq!(
        e.to_string(),
        "ResourceNotFoundException: Requested resource not found"
    );
    // Secrets Manager: `Message`; a code with a URL after a colon.
    let e = service_error(
        400,
        &HeaderMap::new(),
        br#"{"__type":"AccessDeniedException:http://internal.amazon.com/coral/","Message":"not allowed"}"#,
    );
    assert_eq!(e.to_string(), "AccessDeniedException: not allowed");
    // SQS, asked for its query codes: the header's code wins.
    let e = service_error(
        400,
        &headers(&[("x-amzn-query-error", "AWS.SimpleQueueService.NonExistentQueue;Sender")]),
        br#"{"__type":"com.amazonaws.sqs#QueueDoesNotExist","message":"The specified queue does not exist."}"#,
    );
    assert_eq!(e.code(), Some("AWS.SimpleQueueService.NonExistentQueue"));
    // A proxy's page: the status stands for the code.
    let e = service_error(502, &HeaderMap::new(), b"<html>Bad Gateway</html>");
    assert_eq!(e.code(), Some("HTTP 502"));
    assert_eq!(e.to_string(), "HTTP 502: <html>Bad Gateway</html>");
    let e = service_error(
        500,
        &headers(&[("x-amzn-errortype", "InternalServerError:")]),
        b"",
    );
    assert_eq!(e.to_string(), "InternalServerError: no message");
    // Two spellings of one key: `code` wins, as in the SDKs, and nothing is lost.
    let e = service_error(
        400,
        &HeaderMap::new(),
        br#"{"__type":"a#Other","code":"ConditionalCheckFailedException","message":"m","Message":"M"}"#,
    );
    assert_eq!(e.to_string(), "ConditionalCheckFailedException: m");
    // A JSON answer without a message is not quoted.
    let e = service_error(
        400,
        &HeaderMap::new(),
        br#"{"__type":"X","Item":{"pk":{"S":"user#someone"}}}"#,
    );
    assert_eq!(e.to_string(), "X: no message");
}

#[test]
fn retries_are_for_what_may_pass_on_its_own() {
    let service = |status, code: &str| AwsError::Service {
        status,
        code: code.into(),
        message: String::new(),
        body: String::new(),
    };
    assert!(AwsError::Transport("connection failed".into()).retryable());
    assert!(service(503, "ServiceUnavailable").retryable());
    assert!(service(400, "ProvisionedThroughputExceededException").retryable());
    assert!(service(400, "ThrottlingException").retryable());
    assert!(!service(400, "ConditionalCheckFailedException").retryable());
    assert!(!service(400, "ResourceNotFoundException").retryable());
    assert!(!service(403, "AccessDeniedException").retryable());
    assert!(!AwsError::Setup("no region".into()).retryable());
    for attempt in 1..=3 {
        let ceiling = INITIAL_BACKOFF * 2u32.pow(attempt - 1);
        assert!(backoff(attempt) <= ceiling);
    }
}

/// A loopback stand-in for an AWS endpoint: answers each request with the next of `answers`
/// (status, body) and keeps what it was sent.
async fn endpoint(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let kept = seen.clone();
    tokio::spawn(async move {
        for (status, body) in answers {
            let Ok((mut socket, _)) = listener.accept().await else {
                return;
            };
            let mut request = Vec::new();
            let mut buf = [0u8; 4096];
            // Headers, then the body by its length.
            loop {
                let n = socket.read(&mut buf).await.unwrap_or(0);
                if n == 0 {
                    break;
                }
                request.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&request).to_string();
                if let Some(end) = text.find("\r\n\r\n") {
                    let length = text
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    if request.len() >= end + 4 + length {
                        break;
                    }
                }
            }
            kept.lock()
                .unwrap()
                .push(String::from_utf8_lossy(&request).to_string());
            let reply = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/x-amz-json-1.0\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = socket.write_all(reply.as_bytes()).await;
            let _ = socket.shutdown().await;
        }
    });
    (url, seen)
}

fn local(url: &str) -> Settings {
    Settings {
        region: Some("us-east-1".into()),
        credentials: Some(Credentials {
            access_key_id: "AKID".into(),
            secret_access_key: "very-secret".into(),
            session_token: Some("session".into()),
        }),
        endpoint_url: Some(url.to_owned()),
        service_endpoints: Vec::new(),
    }
}

#[tokio::test]
async fn a_throttled_call_is_tried_again_and_a_refused_one_is_not() {
    let (url, seen) = endpoint(vec![
        (400, r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#),
        (503, ""),
        (200, r#"{"Item":{"pk":{"S":"user#a"}}}"#),
    ])
    .await;
    let answer = call_raw(
        &local(&url),
        &DYNAMODB,
        "GetItem",
        b"{\"TableName\":\"t\"}".to_vec(),
    )
    .await
    .unwrap();
    assert_eq!(answer, br#"{"Item":{"pk":{"S":"user#a"}}}"#);
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    for request in &seen {
        let lower = request.to_ascii_lowercase();
        assert!(lower.starts_with("post / http/1.1"), "{request}");
        assert!(lower.contains("x-amz-target: dynamodb_20120810.getitem"));
        assert!(lower.contains("content-type: application/x-amz-json-1.0"));
        assert!(lower.contains("x-amz-security-token: session"));
        assert!(lower.contains(&format!("host: {}", url.trim_start_matches("http://"))));
        assert!(lower.contains("authorization: aws4-hmac-sha256 credential=akid/"));
        assert!(!request.contains("very-secret"));
        assert!(request.ends_with("{\"TableName\":\"t\"}"));
    }

    let (url, seen) = endpoint(vec![
        (400, r#"{"__type":"com.amazonaws.dynamodb.v20120810#ResourceNotFoundException","message":"Requested resource not found"}"#),
        (200, "{}"),
    ])
    .await;
    let err = call_raw(&local(&url), &DYNAMODB, "GetItem", b"{}".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ResourceNotFoundException"));
    assert_eq!(seen.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn three_failures_are_the_end_and_say_the_last() {
    let (url, seen) = endpoint(vec![
        (500, "{}"),
        (500, "{}"),
        (500, r#"{"message":"still down"}"#),
        (200, "{}"),
    ])
    .await;
    let err = call_raw(&local(&url), &SQS, "SendMessageBatch", b"{}".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.to_string(), "HTTP 500: still down");
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen.len(), 3);
    assert!(seen[0]
        .to_ascii_lowercase()
        .contains("x-amzn-query-mode: true"));
}

#[tokio::test]
async fn without_region_or_credentials_a_call_says_which_variable_is_missing() {
    let mut settings = local("http://127.0.0.1:9");
    settings.region = None;
    let err = call_raw(&settings, &DYNAMODB, "GetItem", Vec::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AWS_REGION"), "{err}");
    let mut settings = local("http://127.0.0.1:9");
    settings.credentials = None;
    let err = call_raw(&settings, &DYNAMODB, "GetItem", Vec::new())
        .await
        .unwrap_err();
    assert!(err.to_string().contains("AWS_ACCESS_KEY_ID"), "{err}");
    let err = call_raw(&local("not a url"), &DYNAMODB, "GetItem", Vec::new())
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("AWS_ENDPOINT_URL_DYNAMODB"),
        "{err}"
    );
    let err = call_raw(
        &local("http://127.0.0.1:9/dynamodb"),
        &DYNAMODB,
        "GetItem",
        Vec::new(),
    )
    .await
    .unwrap_err();
    assert!(err.to_string().contains("has a path"), "{err}");
}

#[test]
fn a_debug_print_of_an_error_leaves_the_answer_out() {
    let err = AwsError::Service {
        status: 400,
        code: "ConditionalCheckFailedException".into(),
        message: "The conditional request failed".into(),
        body: r#"{"Item":{"pk":{"S":"user#amzn1.ask.account.SECRETUSER"}}}"#.into(),
    };
    let debug = format!("{err:?}");
    assert!(!debug.contains("SECRETUSER"), "{debug}");
    assert!(debug.contains("ConditionalCheckFailedException"));
}

#[test]
fn an_answer_that_is_not_the_operations_says_where_not_what() {
    #[derive(serde::Deserialize, Debug)]
    #[serde(rename_all = "PascalCase")]
    struct Secret {
        #[allow(dead_code)]
        secret_string: Option<String>,
    }
    let err = read_answer::<Secret>(
        &SECRETS_MANAGER,
        "GetSecretValue",
        br#"{"SecretString": 987654321}"#,
    )
    .unwrap_err();
    assert!(matches!(err, AwsError::Answer(_)), "{err:?}");
    assert!(err.to_string().contains("GetSecretValue"), "{err}");
    // serde's own text would quote the value ("invalid type: integer `987654321`").
    assert!(!err.to_string().contains("987654321"), "{err}");
    // Nothing at all, where an operation has nothing to say, reads as `{}`.
    let empty: Secret = read_answer(&SECRETS_MANAGER, "GetSecretValue", b" ").unwrap();
    assert!(empty.secret_string.is_none());
}

/// One request as it arrived: lower-case header names, values as sent.
struct OnTheWire {
    request_line: String,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

fn parse_wire(raw: &str) -> OnTheWire {
    let (head, body) = raw.split_once("\r\n\r\n").expect("a request head");
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    OnTheWire {
        request_line,
        headers,
        body: body.as_bytes().to_vec(),
    }
}

impl OnTheWire {
    fn header(&self, name: &str) -> &str {
        let mut values = self.headers.iter().filter(|(n, _)| n == name);
        let value = values.next().map(|(_, v)| v.as_str());
        assert!(values.next().is_none(), "{name} sent twice");
        value.unwrap_or_else(|| panic!("no {name} header"))
    }
}

/// Moto takes any signature, AWS only the one that covers what was sent. So: the request as it
/// arrived on the wire (after reqwest added and ordered its headers) is signed again by AWS's
/// own signer, from the wire's values, and must carry exactly that signature.
#[tokio::test]
async fn the_request_on_the_wire_is_the_request_signed() {
    let cases = [
        (
            &DYNAMODB,
            "TransactWriteItems",
            r#"{"TransactItems":[],"ClientRequestToken":"t"}"#,
        ),
        (
            &SQS,
            "SendMessageBatch",
            r#"{"QueueUrl":"https://sqs.us-east-1.amazonaws.com/1/q","Entries":[]}"#,
        ),
        (
            &SECRETS_MANAGER,
            "GetSecretValue",
            r#"{"SecretId":"alexa  skill"}"#,
        ),
    ];
    for (service, operation, body) in cases {
        let (url, seen) = endpoint(vec![(200, "{}")]).await;
        let settings = Settings {
            endpoint_url: None,
            service_endpoints: vec![(service.name, url.clone())],
            ..local(&url)
        };
        call_raw(&settings, service, operation, body.as_bytes().to_vec())
            .await
            .unwrap();
        let raw = seen.lock().unwrap().pop().expect("one request");
        let wire = parse_wire(&raw);
        assert_eq!(wire.request_line, "POST / HTTP/1.1");
        assert_eq!(wire.body, body.as_bytes());
        let authorization = wire.header("authorization");
        let signed: Vec<&str> = authorization
            .split("SignedHeaders=")
            .nth(1)
            .and_then(|rest| rest.split(',').next())
            .expect("SignedHeaders")
            .split(';')
            .collect();
        // What AWS needs signed, and what tells it the operation and the body's format.
        for needed in [
            "content-type",
            "host",
            "x-amz-date",
            "x-amz-security-token",
            "x-amz-target",
        ] {
            assert!(
                signed.contains(&needed),
                "{operation}: {needed} not signed: {signed:?}"
            );
        }
        assert_eq!(wire.header("host"), url.trim_start_matches("http://"));
        assert_eq!(
            wire.header("x-amz-target"),
            format!("{}.{operation}", service.target)
        );
        assert_eq!(wire.header("content-type"), service.content_type);
        // The signed headers as they arrived, minus those the signer adds itself.
        let headers: Vec<(&str, &str)> = signed
            .iter()
            .filter(|n| !["host", "x-amz-date", "x-amz-security-token"].contains(n))
            .map(|n| (*n, wire.header(n)))
            .collect();
        let at = chrono::NaiveDateTime::parse_from_str(wire.header("x-amz-date"), "%Y%m%dT%H%M%SZ")
            .expect("x-amz-date")
            .and_utc();
        let host = wire.header("host");
        let expected = sigv4::tests::reference(
            &sigv4::Request {
                host,
                headers: &headers,
                body: &wire.body,
            },
            local(&url).credentials.as_ref().unwrap(),
            "us-east-1",
            service.name,
            at,
        );
        let expected = expected
            .iter()
            .find(|(n, _)| n == "authorization")
            .map(|(_, v)| v.as_str());
        assert_eq!(
            Some(authorization),
            expected,
            "{operation}: the signature does not cover what was sent"
        );
        assert_eq!(wire.header("x-amz-security-token"), "session");
    }
}

#[tokio::test]
async fn retries_are_paid_from_the_quota_and_a_spent_quota_retries_nothing() {
    const THROTTLED: &str = r#"{"__type":"com.amazonaws.dynamodb.v20120810#ThrottlingException","message":"slow down"}"#;
    // A 503 then a pass: the retry drew 10, the pass gave them back.
    let (url, seen) = endpoint(vec![(503, ""), (200, "{}")]).await;
    let quota = RetryQuota::with_tokens(100);
    call_within(&local(&url), &DYNAMODB, &quota, "GetItem", b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(quota.tokens(), 100);

    // A 503 costs 10: 9 tokens pay no retry.
    let (url, seen) = endpoint(vec![(503, ""), (200, "{}")]).await;
    let quota = RetryQuota::with_tokens(9);
    let err = call_within(&local(&url), &DYNAMODB, &quota, "GetItem", b"{}".to_vec())
        .await
        .unwrap_err();
    assert!(
        matches!(err, AwsError::Service { status: 503, .. }),
        "{err}"
    );
    assert_eq!(seen.lock().unwrap().len(), 1);
    assert_eq!(quota.tokens(), 9);

    // 7 tokens pay one throttled retry (5), not a second: the call ends after two attempts
    // with the service's error, though a third would have passed.
    let (url, seen) = endpoint(vec![(400, THROTTLED), (400, THROTTLED), (200, "{}")]).await;
    let quota = RetryQuota::with_tokens(7);
    let err = call_within(&local(&url), &DYNAMODB, &quota, "GetItem", b"{}".to_vec())
        .await
        .unwrap_err();
    assert_eq!(err.code(), Some("ThrottlingException"));
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(quota.tokens(), 2);

    // A first-attempt pass adds one token.
    let (url, _) = endpoint(vec![(200, "{}")]).await;
    call_within(&local(&url), &DYNAMODB, &quota, "GetItem", b"{}".to_vec())
        .await
        .unwrap();
    assert_eq!(quota.tokens(), 3);
}
