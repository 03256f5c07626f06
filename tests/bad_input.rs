//! The bad-input suite, in process against the dispatch entry point (`App::handle`), the one
//! Lambda calls: hand-written inputs, every field of every sample removed or given the wrong
//! type, and a property test over generated JSON and mutated samples.
//!
//! Each rejected input must get an error that names the field (or the shape it expected), no
//! panic, and nothing sent: the token endpoint and the events API are a tripwire on loopback
//! that counts every connection. `make reliability` prints the counts.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use alexa_proactive::credentials::{ClientCredentials, Fixed, Redacted};
use alexa_proactive::{App, Config, Edges};
use proptest::prelude::*;
use proptest::test_runner::{Config as PropConfig, RngSeed, TestRunner};
use serde_json::{json, Value};
use testkit::tripwire::Tripwire;
use tokio::time::Instant;

const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
const CLIENT_SECRET: &str = "bad-input-client-secret-Jq27";
/// Generated cases in CI; PROPTEST_CASES overrides it for longer local runs.
const PROPERTY_CASES: u32 = 3000;

fn app(tripwire: &Tripwire) -> App {
    let vars: BTreeMap<&str, String> = [
        ("ALEXA_SKILL_ID", SKILL_ID.to_owned()),
        ("ALEXA_CREDENTIALS_SECRET", "alexa/bad-input".to_owned()),
        ("ALEXA_REGIONS", "NA".to_owned()),
        ("ALEXA_API_URL", tripwire.url.clone()),
        ("LWA_TOKEN_URL", format!("{}/auth/o2/token", tripwire.url)),
    ]
    .into_iter()
    .collect();
    let config = Config::from_lookup(|name| vars.get(name).cloned()).expect("a valid config");
    let credentials = Arc::new(Fixed(ClientCredentials {
        client_id: "amzn1.application-oa2-client.bad-input".into(),
        client_secret: Redacted::new(CLIENT_SECRET),
    }));
    let edges = Edges::with_credentials(&config, credentials);
    App::with_edges(config, edges)
}

/// Error types that mean "this input is wrong", as opposed to "it passed validation and the
/// send failed at the tripwire" or "not configured here".
const REJECTIONS: [&str; 4] = [
    "UnrecognisedInput",
    "MalformedInput",
    "WrongSkillId",
    "UnsupportedAlexaRequest",
];

#[derive(Debug)]
enum Verdict {
    /// Rejected with this error type and message.
    Rejected(&'static str, String),
    /// Passed validation: an answer (with how many requests went out), or a send that
    /// reached the tripwire.
    Passed(String, usize),
}

async fn judge(app: &App, tripwire: &Tripwire, payload: Value) -> Result<Verdict, String> {
    let before = tripwire.hits();
    let outcome = app
        .handle(payload, Instant::now() + Duration::from_secs(2))
        .await;
    let sent = tripwire.hits() - before;
    match outcome {
        Ok(answer) => {
            let text = answer.to_string();
            if text.contains(CLIENT_SECRET) {
                return Err(format!("the answer carries the client secret: {text}"));
            }
            Ok(Verdict::Passed(text, sent))
        }
        Err(err) => {
            let kind = err.error_type();
            let message = err.to_string();
            if message.contains(CLIENT_SECRET) || format!("{err:?}").contains(CLIENT_SECRET) {
                return Err(format!("the error carries the client secret: {message}"));
            }
            if REJECTIONS.contains(&kind) {
                if sent > 0 {
                    return Err(format!(
                        "rejected ({kind}: {message}) yet {sent} request(s) went out"
                    ));
                }
                Ok(Verdict::Rejected(kind, message))
            } else {
                Ok(Verdict::Passed(message, sent))
            }
        }
    }
}

fn samples() -> Vec<(String, Value)> {
    testkit::project!().samples()
}

/// Every path to a value inside `value`, as JSON pointer segments.
fn paths(value: &Value, prefix: &mut Vec<String>, out: &mut Vec<Vec<String>>) {
    let children: Vec<(String, &Value)> = match value {
        Value::Object(map) => map.iter().map(|(k, v)| (k.clone(), v)).collect(),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .map(|(i, v)| (i.to_string(), v))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        prefix.push(key);
        out.push(prefix.clone());
        paths(child, prefix, out);
        prefix.pop();
    }
}

fn pointer(path: &[String]) -> String {
    path.iter().map(|p| format!("/{p}")).collect()
}

/// The same document with the value at `path` replaced (`None`: removed).
fn mutate(doc: &Value, path: &[String], with: Option<Value>) -> Value {
    let mut out = doc.clone();
    let Some((last, parent)) = path.split_last() else {
        return out;
    };
    if let Some(parent) = out.pointer_mut(&pointer(parent)) {
        match (parent, with) {
            (Value::Object(map), Some(v)) => {
                map.insert(last.clone(), v);
            }
            (Value::Object(map), None) => {
                map.remove(last);
            }
            (Value::Array(items), with) => {
                if let Ok(i) = last.parse::<usize>() {
                    if i < items.len() {
                        match with {
                            Some(v) => items[i] = v,
                            None => {
                                items.remove(i);
                            }
                        }
                    }
                }
            }
            _ => {}
        }
    }
    out
}

/// A value of another JSON type than `value`.
fn wrong_type(value: &Value) -> Value {
    match value {
        Value::String(_) => json!(42),
        Value::Number(_) | Value::Bool(_) | Value::Null => json!("not-the-right-type"),
        Value::Array(_) => json!({"unexpected": "object"}),
        Value::Object(_) => json!([1, 2, 3]),
    }
}

/// Whether `message` says which field was wrong: its name, an array index above it, or (for
/// an input whose kind could not be told) the keys it expected.
fn names_field(message: &str, path: &[String]) -> bool {
    path.iter()
        .rev()
        .find(|seg| seg.parse::<usize>().is_err())
        .is_some_and(|field| message.contains(field.as_str()))
        || message.contains("expected an Alexa request envelope")
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

struct Tally {
    tried: usize,
    rejected: usize,
    passed: usize,
}

#[test]
fn every_bad_input_is_refused_naming_the_field_and_nothing_is_sent() {
    let rt = rt();
    let tripwire = rt.block_on(Tripwire::start());
    let app = app(&tripwire);
    let mut failures = Vec::new();
    let mut tally = Tally {
        tried: 0,
        rejected: 0,
        passed: 0,
    };

    // 1. Hand-written: (input, text the error must contain).
    let long = "x".repeat(20_000);
    let many: Vec<Value> = (0..5_000)
        .map(|i| json!({"locale": "en-US", "text": i}))
        .collect();
    let sns = |message: &str| {
        json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
            "EventSubscriptionArn": "arn:aws:sns:us-east-1:1:t:1",
            "Sns": {"Type": "Notification", "MessageId": "m-1", "TopicArn": "arn:aws:sns:us-east-1:1:t",
                    "Message": message, "Timestamp": "2026-11-25T10:00:00.000Z",
                    "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://x",
                    "UnsubscribeUrl": "https://x", "MessageAttributes": {}}}]})
    };
    let eb = |detail_type: &str, detail: Value| {
        json!({"version": "0", "id": "e-1", "detail-type": detail_type, "source": "com.example",
               "account": "1", "time": "2026-11-25T10:00:00Z", "region": "us-east-1",
               "resources": [], "detail": detail})
    };
    let proactive = |name: &str, localized: Value| {
        eb(
            "ProactiveEvent",
            json!({"name": name, "id": "ref-1",
                   "payload": {"weatherAlert": {"source": "localizedattribute:source", "alertType": "TORNADO"}},
                   "localizedAttributes": localized}),
        )
    };
    let weather = |detail: Value| eb("WeatherAlert", detail);
    let test_alert: Value = serde_json::from_str(
        &std::fs::read_to_string(
            testkit::project!()
                .root
                .join("events/intent-test-alert.json"),
        )
        .expect("the test alert sample"),
    )
    .expect("JSON");
    let hand_written: Vec<(&str, Value, &str)> = vec![
        (
            "a JSON string instead of an object",
            json!("{\"version\": \"1.0\""),
            "a JSON string",
        ),
        ("null", Value::Null, "null"),
        (
            "an empty object",
            json!({}),
            "expected an Alexa request envelope",
        ),
        ("an array", json!([1, 2]), "a JSON array"),
        (
            "SNS message that is not JSON",
            sns("TORNADO in Norman!"),
            "Records[0].Sns.Message",
        ),
        (
            "SNS message that is truncated JSON",
            sns("{\"alertType\": \"TORN"),
            "Records[0].Sns.Message",
        ),
        (
            "unknown schema name",
            proactive(
                "AMAZON.Unknown.Thing",
                json!([{"locale": "en-US", "source": "NWS"}]),
            ),
            "AMAZON.Unknown.Thing",
        ),
        (
            "alertType outside the enumeration",
            weather(json!({"alertType": "TSUNAMI", "source": "NWS"})),
            "alertType",
        ),
        (
            "alertType of the wrong type",
            weather(json!({"alertType": 7, "source": "NWS"})),
            "alertType",
        ),
        (
            "source missing",
            weather(json!({"alertType": "TORNADO"})),
            "source",
        ),
        (
            "oversized source",
            weather(json!({"alertType": "TORNADO", "source": long})),
            "source",
        ),
        (
            "expiry that is no time",
            weather(json!({"alertType": "TORNADO", "source": "NWS", "expiresAt": "tomorrow"})),
            "expiresAt",
        ),
        (
            "oversized localizedAttributes",
            proactive("AMAZON.WeatherAlert.Activated", Value::Array(many)),
            "localizedAttributes",
        ),
        (
            "Unicode text over the size limit",
            weather(json!({"alertType": "TORNADO", "source": {"de-DE": "Ü".repeat(1_001)}})),
            "source.de-DE",
        ),
        (
            "unknown detail-type",
            eb("Surprise", json!({})),
            "detail-type",
        ),
        (
            "wrong skill id",
            json!({"version": "1.0", "context": {"System": {"application": {"applicationId": "amzn1.ask.skill.other"}, "apiEndpoint": "https://api.amazonalexa.com"}}, "request": {"type": "LaunchRequest", "requestId": "r", "timestamp": "2026-11-25T10:00:00Z", "locale": "en-US"}}),
            "amzn1.ask.skill.other",
        ),
        (
            "a test alert for an empty user id",
            {
                let mut request = test_alert.clone();
                request["context"]["System"]["user"]["userId"] = json!("");
                request
            },
            "context.System.user.userId",
        ),
        (
            "Alexa request without a request type",
            json!({"version": "1.0", "context": {"System": {"application": {"applicationId": SKILL_ID}}}, "request": {"requestId": "r"}}),
            "request.type",
        ),
    ];
    for (name, input, expected) in hand_written {
        tally.tried += 1;
        match rt.block_on(judge(&app, &tripwire, input)) {
            Ok(Verdict::Rejected(_, message)) if message.contains(expected) => tally.rejected += 1,
            Ok(other) => failures.push(format!(
                "{name}: expected an error naming {expected:?}, got {other:?}"
            )),
            Err(problem) => failures.push(format!("{name}: {problem}")),
        }
    }
    // An alert that has expired is not an error (a late delivery of a real alert): it is
    // skipped, the answer says why, and nothing is sent.
    tally.tried += 1;
    let expired = weather(
        json!({"alertType": "TORNADO", "source": "NWS", "expiresAt": "2020-01-01T00:00:00Z"}),
    );
    match rt.block_on(judge(&app, &tripwire, expired)) {
        Ok(Verdict::Passed(answer, 0))
            if answer.contains("skipped") && answer.contains("expired at 2020-01-01") =>
        {
            tally.rejected += 1
        }
        other => failures.push(format!(
            "expiry in the past: expected a skipped answer and no request, got {other:?}"
        )),
    }
    // Not bad input, so they must pass: an expiry beyond 24 h (clamped to Alexa's window);
    // Unicode in localized texts; ids that are no valid referenceId (too long, characters
    // Alexa refuses), since the referenceId is derived from them (1-100 alphanumerics: a unit
    // test in src/proactive checks that).
    let far = json!({"alertType": "TORNADO", "source": "NWS", "expiresAt": "2099-01-01T00:00:00Z"});
    let unicode = json!({"alertType": "TORNADO",
        "source": {"de-DE": "Deutscher Wetterdienst – Sturmböen 🌪️", "ja-JP": "気象庁 東京"}});
    let long_id = json!({"alertType": "TORNADO", "source": "NWS", "id": "r".repeat(200)});
    let odd_id = json!({"alertType": "TORNADO", "source": "NWS", "id": "a b/c ü"});
    for (name, detail) in [
        ("expiry beyond 24 h", far),
        ("Unicode sources", unicode),
        ("a 200-character id", long_id),
        ("an id with spaces, slashes and Unicode", odd_id),
    ] {
        tally.tried += 1;
        match rt.block_on(judge(&app, &tripwire, weather(detail))) {
            Ok(Verdict::Passed(..)) => tally.passed += 1,
            other => failures.push(format!(
                "{name}: expected it to pass validation, got {other:?}"
            )),
        }
    }

    // 2. Generated: every field of every valid sample removed, and given the wrong type.
    // (The samples that are bad on purpose, a wrong skill id, an invalid alert, stay refused
    // whatever else changes.)
    let mut generated = 0;
    for (sample, doc) in samples() {
        if !matches!(
            rt.block_on(judge(&app, &tripwire, doc.clone())),
            Ok(Verdict::Passed(..))
        ) {
            continue;
        }
        let mut all = Vec::new();
        paths(&doc, &mut Vec::new(), &mut all);
        for path in all {
            let original = doc.pointer(&pointer(&path)).cloned().unwrap_or(Value::Null);
            for (how, mutated) in [
                ("removed", mutate(&doc, &path, None)),
                (
                    "wrong type",
                    mutate(&doc, &path, Some(wrong_type(&original))),
                ),
            ] {
                generated += 1;
                tally.tried += 1;
                match rt.block_on(judge(&app, &tripwire, mutated)) {
                    Ok(Verdict::Rejected(kind, message)) => {
                        tally.rejected += 1;
                        if !names_field(&message, &path) {
                            failures.push(format!(
                                "{sample} {} {how}: {kind} does not name the field: {message}",
                                pointer(&path)
                            ));
                        }
                    }
                    Ok(Verdict::Passed(..)) => tally.passed += 1,
                    Err(problem) => {
                        failures.push(format!("{sample} {} {how}: {problem}", pointer(&path)))
                    }
                }
            }
        }
    }
    println!(
        "bad input: {} inputs ({} hand-written, {generated} generated from events/), {} refused naming the field, {} harmless (an optional field), {} failures, 0 panics, {} requests reached the tripwire in total",
        tally.tried,
        tally.tried - generated,
        tally.rejected,
        tally.passed,
        failures.len(),
        tripwire.hits(),
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(
        tally.rejected > 200,
        "the generator found too little to reject: {}",
        tally.rejected
    );
}

/// Any JSON at all.
fn any_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(Value::from),
        ".{0,40}".prop_map(Value::from),
        prop::sample::select(vec![
            "LaunchRequest",
            "IntentRequest",
            "aws:sns",
            "WeatherAlert",
            "ProactiveEvent",
            "Scheduled Event",
            "TORNADO",
            SKILL_ID,
            "en-US",
            "2026-11-25T10:00:00Z",
        ])
        .prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 64, 8, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::Array),
            prop::collection::btree_map(
                prop::sample::select(vec![
                    "version",
                    "context",
                    "request",
                    "session",
                    "Records",
                    "Sns",
                    "Message",
                    "EventSource",
                    "detail-type",
                    "source",
                    "detail",
                    "type",
                    "intent",
                    "name",
                    "alertType",
                    "System",
                    "application",
                    "applicationId",
                    "locale",
                    "x",
                ])
                .prop_map(str::to_owned),
                inner,
                0..6,
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

#[test]
fn generated_inputs_never_panic_and_rejections_send_nothing() {
    let rt = rt();
    let tripwire = rt.block_on(Tripwire::start());
    let app = app(&tripwire);
    let samples: Vec<Value> = samples().into_iter().map(|(_, v)| v).collect();
    let cases = std::env::var("PROPTEST_CASES")
        .ok()
        .and_then(|c| c.parse().ok())
        .unwrap_or(PROPERTY_CASES);
    let config = PropConfig {
        cases,
        failure_persistence: None,
        // The same cases on every run, so CI is repeatable; PROPTEST_RNG_SEED explores others.
        rng_seed: RngSeed::Fixed(
            std::env::var("PROPTEST_RNG_SEED")
                .ok()
                .and_then(|s| s.parse().ok())
                .unwrap_or(0x0a1e_7a5e),
        ),
        ..PropConfig::default()
    };
    let mut runner = TestRunner::new(config);
    // Half the cases: arbitrary JSON; half: a sample with one value replaced by arbitrary JSON.
    let strategy = prop_oneof![
        any_json(),
        (0..samples.len(), any::<prop::sample::Index>(), any_json()).prop_map(
            move |(which, at, value)| {
                let doc = &samples[which];
                let mut all = Vec::new();
                paths(doc, &mut Vec::new(), &mut all);
                if all.is_empty() {
                    return doc.clone();
                }
                mutate(doc, &all[at.index(all.len())], Some(value))
            }
        ),
    ];
    let seen = std::cell::Cell::new((0usize, 0usize));
    let result = runner.run(&strategy, |input| {
        let verdict = rt
            .block_on(judge(&app, &tripwire, input.clone()))
            .map_err(|problem| TestCaseError::fail(format!("{problem}\ninput: {input}")))?;
        let (rejected, passed) = seen.get();
        match verdict {
            Verdict::Rejected(..) => seen.set((rejected + 1, passed)),
            Verdict::Passed(..) => seen.set((rejected, passed + 1)),
        }
        Ok(())
    });
    let (rejected, passed) = seen.get();
    println!(
        "property test: {cases} generated inputs, {rejected} refused, {passed} passed validation, 0 panics"
    );
    if let Err(e) = result {
        panic!("{e}");
    }
}
