//! Security, end to end: only the owner's skill gets an answer, and before any work; an Alexa
//! request never becomes a Multicast; certificates are verified; a redirect never carries the
//! client secret or the bearer token anywhere. (That no secret or token reaches a log line, an
//! error or an answer is checked for every case of the fault suite, tests/faults.rs.)

use std::process::Stdio;
use std::time::Duration;

use serde_json::{json, Value};
use testkit::events::sns_alert;
use testkit::runtime_api::Outcome;
use testkit::tripwire::Tripwire;
use testkit::{project, Rig};

const BUDGET: Duration = Duration::from_secs(10);

fn samples() -> Vec<(String, Value)> {
    project!().samples()
}

fn error_of(outcome: Option<Outcome>) -> (String, String) {
    match outcome {
        Some(Outcome::Error {
            error_type,
            error_message,
        }) => (error_type, error_message),
        other => panic!("expected a failed invocation, got {other:?}"),
    }
}

#[tokio::test]
async fn another_skill_is_refused_before_any_work() {
    let mut rig = Rig::builder(project!(), "security-skill").start().await;
    let mut test_alert = samples()
        .into_iter()
        .find(|(n, _)| n == "intent-test-alert.json")
        .expect("the test alert sample")
        .1;
    let other = "amzn1.ask.skill.99999999-9999-9999-9999-999999999999";
    test_alert["context"]["System"]["application"]["applicationId"] = json!(other);
    test_alert["session"]["application"]["applicationId"] = json!(other);
    let wrong = samples()
        .into_iter()
        .find(|(n, _)| n == "wrong-skill-id.json")
        .expect("the wrong-skill sample")
        .1;
    for payload in [wrong, test_alert] {
        let (kind, message) = error_of(rig.invoke(&payload, BUDGET).await);
        assert_eq!(kind, "WrongSkillId", "{message}");
        assert!(message.contains(other), "{message}");
    }
    let state = rig.sandbox.state().await;
    assert_eq!(state["tokenRequests"], 0, "no token was fetched");
    assert_eq!(state["eventRequests"], 0, "nothing was sent");
    assert_eq!(rig.moto.total(), 0, "no AWS call was made");
    rig.stop().await;
}

#[tokio::test]
async fn alexa_requests_never_become_a_multicast() {
    let mut rig = Rig::builder(project!(), "security-multicast").start().await;
    let mut alexa = 0;
    for (name, payload) in samples() {
        if payload.get("request").is_none() {
            continue;
        }
        alexa += 1;
        let outcome = rig.invoke(&payload, BUDGET).await;
        assert!(outcome.is_some(), "{name}: no answer");
    }
    let accepted = rig.sandbox.state().await["accepted"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let audiences: Vec<&str> = accepted
        .iter()
        .filter_map(|a| a["audience"].as_str())
        .collect();
    assert!(alexa >= 15, "the Alexa samples: {alexa}");
    assert!(
        !audiences.is_empty()
            && audiences
                .iter()
                .all(|a| a.starts_with("amzn1.ask.account.")),
        "only Unicasts to the asking user: {audiences:?}"
    );
    rig.stop().await;
}

#[tokio::test]
async fn certificates_are_verified() {
    let dir = project!().tmp_file("security-tls");
    std::fs::create_dir_all(&dir).expect("a directory");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    let made = std::process::Command::new("openssl")
        .args([
            "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
        ])
        .args([
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl (apt-get install openssl) makes a self-signed certificate");
    assert!(made.success(), "openssl req failed");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port");
    let mut server = tokio::process::Command::new("openssl")
        .args(["s_server", "-quiet", "-www", "-accept", &port.to_string()])
        .arg("-cert")
        .arg(&cert)
        .arg("-key")
        .arg(&key)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("openssl s_server starts");
    let mut up = false;
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "openssl s_server did not listen on {port}");
    let token_url = format!("https://localhost:{port}/auth/o2/token");
    let mut rig = Rig::builder(project!(), "security-tls")
        .env("LWA_TOKEN_URL", Some(&token_url))
        .regions("NA")
        .start()
        .await;
    let (kind, message) = error_of(rig.invoke(&sns_alert("tls-1"), BUDGET).await);
    assert_eq!(kind, "SendFailed", "{message}");
    assert!(
        message.to_lowercase().contains("certificate"),
        "the error names the certificate problem: {message}"
    );
    assert_eq!(rig.sandbox.state().await["eventRequests"], 0);
    assert!(rig.leaks(&[]).is_empty());
    rig.stop().await;
    let _ = server.kill().await;
}

#[tokio::test]
async fn redirects_never_carry_the_secret_or_the_token() {
    // Where a followed redirect would go: it only counts who connects.
    let tripwire = Tripwire::start().await;
    let elsewhere = format!("{}/collect", tripwire.url);
    let mut rig = Rig::builder(project!(), "security-redirect")
        .regions("NA")
        .start()
        .await;
    // The token endpoint redirects: following it would post the client secret elsewhere.
    rig.sandbox
        .fault(json!({"target": "token", "status": 307, "location": elsewhere, "times": 100}))
        .await;
    let (kind, message) = error_of(rig.invoke(&sns_alert("redirect-1"), BUDGET).await);
    assert_eq!(kind, "SendFailed", "{message}");
    rig.sandbox.control("clear-faults", json!({})).await;
    // With a token: the events API redirects; following it would send the bearer token.
    let warm = rig.invoke(&sns_alert("redirect-2"), BUDGET).await;
    assert!(matches!(warm, Some(Outcome::Response(_))), "{warm:?}");
    rig.sandbox
        .fault(json!({"target": "events", "status": 307, "location": elsewhere, "times": 100}))
        .await;
    let (kind, message) = error_of(rig.invoke(&sns_alert("redirect-3"), BUDGET).await);
    assert_eq!(kind, "SendFailed", "{message}");
    assert!(message.contains("307"), "{message}");
    assert_eq!(tripwire.hits(), 0, "nothing went to the redirect target");
    assert!(rig.leaks(&[]).is_empty());
    rig.stop().await;
}
