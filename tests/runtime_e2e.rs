//! The built binary, driven through a Lambda Runtime API exactly as Lambda drives it.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::{json, Value};
use testkit::project;
use testkit::runtime_api::{Function, Outcome, RuntimeApi};

const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
const WAIT: Duration = Duration::from_secs(20);

fn binary() -> PathBuf {
    project!().function
}

fn event(name: &str) -> Value {
    project!().event(name)
}

fn log_file(test: &str) -> PathBuf {
    project!().tmp_file(&format!("{test}-{}.log", std::process::id()))
}

#[tokio::test]
async fn real_invocations_answer_and_errors_do_not_stop_the_function() {
    let api = RuntimeApi::start().await.unwrap();
    let log = log_file("e2e");
    let mut function = Function::spawn(
        &binary(),
        &api,
        &[
            ("ALEXA_SKILL_ID", Some(SKILL_ID)),
            ("RUST_LOG", Some("info")),
        ],
        Some(&log),
    )
    .unwrap();

    let launch = api.invoke(&event("launch.json"), WAIT).await.unwrap();
    let Outcome::Response(answer) = launch else {
        panic!("{launch:?}")
    };
    assert_eq!(
        answer["response"]["card"]["type"],
        "AskForPermissionsConsent"
    );

    let wrong = api
        .invoke(&event("wrong-skill-id.json"), WAIT)
        .await
        .unwrap();
    let Outcome::Error {
        error_type,
        error_message,
    } = wrong
    else {
        panic!("{wrong:?}")
    };
    assert_eq!(error_type, "WrongSkillId");
    assert!(
        error_message.contains("amzn1.ask.skill.99999999"),
        "{error_message}"
    );

    let garbage = api.invoke(&json!("not an event"), WAIT).await.unwrap();
    let Outcome::Error {
        error_type,
        error_message,
    } = garbage
    else {
        panic!("{garbage:?}")
    };
    assert_eq!(error_type, "UnrecognisedInput");
    assert!(error_message.contains("a JSON string"), "{error_message}");

    // Bodies that are not JSON at all, or JSON cut off: the runtime refuses them before the
    // handler, with an error, and the function lives on.
    for body in [
        &b"TORNADO!"[..],
        &br#"{"version": "1.0", "request": {"type": "Launch"#[..],
    ] {
        let outcome = tokio::time::timeout(
            WAIT,
            api.enqueue_raw(bytes::Bytes::copy_from_slice(body), WAIT),
        )
        .await
        .expect("an answer in time")
        .expect("an outcome");
        let Outcome::Error { error_message, .. } = &outcome else {
            panic!("{outcome:?}")
        };
        assert!(
            !error_message.is_empty() && function.exited().is_none(),
            "{outcome:?}"
        );
    }

    let subscription = api
        .invoke(&event("skill-event-subscription-changed.json"), WAIT)
        .await
        .unwrap();
    assert_eq!(
        subscription,
        Outcome::Response(json!({"version": "1.0", "response": {}}))
    );

    let sns = api
        .invoke(&event("sns-weather-alert.json"), WAIT)
        .await
        .unwrap();
    // No ALEXA_CREDENTIALS_SECRET here: the send fails, naming what to set.
    assert!(
        matches!(&sns, Outcome::Error { error_type, error_message }
            if error_type == "SendFailed" && error_message.contains("ALEXA_CREDENTIALS_SECRET is not set")),
        "{sns:?}"
    );

    // Fan-out work without a state table: the whole batch fails (SQS brings it back) and is
    // counted for the template's FanoutFailed alarm.
    let record = |id: &str| {
        json!({"messageId": id, "eventSource": "aws:sqs", "body": "{}",
               "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:fanout"})
    };
    let sqs = api
        .invoke(&json!({"Records": [record("m-1"), record("m-2")]}), WAIT)
        .await
        .unwrap();
    assert!(
        matches!(&sqs, Outcome::Error { error_message, .. } if error_message.contains("STATE_TABLE")),
        "{sqs:?}"
    );

    // Still serving after the errors.
    let help = api.invoke(&event("intent-help.json"), WAIT).await.unwrap();
    let Outcome::Response(answer) = help else {
        panic!("{help:?}")
    };
    assert!(answer["response"]["outputSpeech"]["text"]
        .as_str()
        .unwrap()
        .contains("notification"));
    assert!(function.exited().is_none(), "the function died");
    function.stop().await;

    let logs = std::fs::read_to_string(&log).unwrap();
    assert!(logs.contains("proactive subscription changed"), "{logs}");
    assert!(
        logs.contains("amzn1.ask.account.AHVVDYK7EAEXAMPLEUSER"),
        "{logs}"
    );
    assert!(logs.contains("WrongSkillId"), "{logs}");
    assert!(
        logs.lines()
            .any(|l| l.contains("\"_aws\"") && l.contains("\"FanoutFailed\":2")),
        "the refused batch is counted: {logs}"
    );
}

/// Variables to set (or, with `None`, remove) for the function.
type Env<'a> = &'a [(&'a str, Option<&'a str>)];

#[tokio::test]
async fn bad_configuration_stops_the_function_at_start_with_the_variable_named() {
    let cases: [(Env, &str); 3] = [
        (&[("ALEXA_SKILL_ID", None)], "ALEXA_SKILL_ID is not set"),
        (
            &[
                ("ALEXA_SKILL_ID", Some(SKILL_ID)),
                ("ALEXA_STAGE", Some("prod")),
            ],
            "expected one of development, live",
        ),
        (
            &[
                ("ALEXA_SKILL_ID", Some(SKILL_ID)),
                ("ALEXA_REGIONS", Some("US")),
            ],
            "\\\"US\\\" is not a region",
        ),
    ];
    for (i, (env, says)) in cases.into_iter().enumerate() {
        let api = RuntimeApi::start().await.unwrap();
        let log = log_file(&format!("bad-config-{i}"));
        let mut function = Function::spawn(&binary(), &api, env, Some(&log)).unwrap();
        let status = function
            .wait_exit(WAIT)
            .await
            .expect("the function kept running");
        assert!(!status.success());
        let logs = std::fs::read_to_string(&log).unwrap();
        assert!(logs.contains(says), "{says:?} not in {logs}");
    }
}
