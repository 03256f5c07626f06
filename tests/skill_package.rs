//! The skill package (`skill-package/`, ASK CLI layout) and the code agree: every intent of
//! every interaction model is handled, every intent the code handles is in every model, every
//! published schema is one the code sends, every subscribed skill event is answered, and what
//! the skill tells users to say is an utterance of the model.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use alexa_proactive::event::schemas;
use alexa_proactive::skill::envelope::{ADDRESS_PERMISSION, NOTIFICATIONS_PERMISSION};
use alexa_proactive::skill::speech::Language;
use alexa_proactive::skill::{intents, Reply, Skill};
use serde_json::{json, Value};

const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";

fn package() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("skill-package")
}

fn read(path: &Path) -> Value {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

fn manifest() -> Value {
    read(&package().join("skill.json"))["manifest"].clone()
}

fn models() -> Vec<(String, Value)> {
    let dir = package().join("interactionModels/custom");
    let mut out: Vec<(String, Value)> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .map(|p| {
            let locale = p.file_stem().unwrap().to_string_lossy().into_owned();
            (locale, read(&p))
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn intent_names(model: &Value) -> BTreeSet<String> {
    model["interactionModel"]["languageModel"]["intents"]
        .as_array()
        .expect("intents")
        .iter()
        .map(|i| i["name"].as_str().expect("intent name").to_owned())
        .collect()
}

fn samples(model: &Value, intent: &str) -> Vec<String> {
    model["interactionModel"]["languageModel"]["intents"]
        .as_array()
        .expect("intents")
        .iter()
        .filter(|i| i["name"] == intent)
        .flat_map(|i| i["samples"].as_array().cloned().unwrap_or_default())
        .filter_map(|s| s.as_str().map(str::to_lowercase))
        .collect()
}

#[test]
fn every_locale_of_the_manifest_has_a_model_and_texts_of_its_own() {
    let manifest = manifest();
    let listed: BTreeSet<String> = manifest["publishingInformation"]["locales"]
        .as_object()
        .expect("locales")
        .keys()
        .cloned()
        .collect();
    let modelled: BTreeSet<String> = models().into_iter().map(|(l, _)| l).collect();
    assert_eq!(listed, modelled);
    assert_eq!(
        listed,
        BTreeSet::from(["de-DE".into(), "en-GB".into(), "en-US".into()])
    );
    // Each has its own texts, not a fallback.
    let languages: BTreeSet<_> = listed
        .iter()
        .map(|l| format!("{:?}", Language::from_locale(Some(l))))
        .collect();
    assert_eq!(languages.len(), listed.len(), "{languages:?}");
}

#[test]
fn models_and_code_handle_the_same_intents() {
    let handled: BTreeSet<String> = intents::ALL.iter().map(|s| s.to_string()).collect();
    for (locale, model) in models() {
        assert_eq!(
            intent_names(&model),
            handled,
            "{locale}: the model's intents differ from skill::intents::ALL"
        );
    }
}

#[tokio::test]
async fn every_modelled_intent_gets_its_own_answer_not_the_fallback() {
    let skill = Skill::new(SKILL_ID.into());
    for (locale, model) in models() {
        for intent in intent_names(&model) {
            let payload = json!({"version": "1.0",
                "context": {"System": {"application": {"applicationId": SKILL_ID},
                                       "user": {"userId": "amzn1.ask.account.X"},
                                       "apiEndpoint": "https://api.amazonalexa.com"}},
                "request": {"type": "IntentRequest", "requestId": "amzn1.echo-api.request.1",
                            "timestamp": "2026-11-25T10:00:00Z", "locale": locale,
                            "intent": {"name": intent}}});
            let reply = skill
                .handle(payload)
                .unwrap_or_else(|e| panic!("{locale} {intent}: {e}"));
            if intent == intents::FALLBACK {
                continue;
            }
            // The intents that need I/O say so in their own variant; the others answer now.
            let answer = match reply {
                Reply::Answer(answer) => answer,
                Reply::SendTestAlert { .. } => {
                    assert_eq!(intent, intents::TEST_ALERT, "{locale}");
                    continue;
                }
                Reply::SayArea { .. } => {
                    assert_eq!(intent, intents::MY_AREA, "{locale}");
                    continue;
                }
                Reply::ForgetArea { .. } => {
                    assert_eq!(intent, intents::FORGET_AREA, "{locale}");
                    continue;
                }
                other => panic!("{locale} {intent}: an intent got {other:?}"),
            };
            let text = serde_json::to_value(answer).unwrap()["response"]["outputSpeech"]["text"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            let fallback = Language::from_locale(Some(&locale)).texts().fallback;
            assert_ne!(
                text, fallback,
                "{locale} {intent} is answered by the fallback"
            );
        }
    }
}

#[test]
fn what_the_skill_tells_users_to_say_is_in_the_model() {
    for (locale, model) in models() {
        let texts = Language::from_locale(Some(&locale)).texts();
        let phrases = samples(&model, intents::TEST_ALERT);
        // "... say: send me a test alert." / "... sag: schick mir eine Testwarnung."
        for text in [texts.reprompt, texts.notifications_on, texts.help] {
            let said = text
                .split_once(": ")
                .map(|(_, rest)| rest)
                .and_then(|rest| rest.split(['.', ',']).next())
                .unwrap_or_else(|| panic!("{locale}: no phrase in {text:?}"))
                .trim()
                .to_lowercase();
            assert!(
                phrases.contains(&said),
                "{locale}: the skill says {said:?}, which is not a TestAlertIntent sample"
            );
        }
    }
}

#[test]
fn the_zip_code_phrase_the_skill_suggests_is_in_the_model() {
    for (locale, model) in models() {
        let texts = Language::from_locale(Some(&locale)).texts();
        let phrases = samples(&model, intents::SET_ZIP_CODE);
        // "... Say, for example: my zip code is 73019." → "my zip code is {zipcode}"
        for text in [
            texts.area_ask,
            texts.area_permission,
            texts.area_reprompt,
            texts.area_none,
        ] {
            let said = text
                .split_once("example: ")
                .or_else(|| text.split_once("Beispiel: "))
                .map(|(_, rest)| rest)
                .and_then(|rest| rest.split(['.', ',']).next())
                .unwrap_or_else(|| panic!("{locale}: no phrase in {text:?}"))
                .trim()
                .to_lowercase()
                .replace("73019", "{zipcode}")
                .replace("50667", "{zipcode}");
            assert!(
                phrases.contains(&said),
                "{locale}: the skill says {said:?}, which is not a SetZipCodeIntent sample"
            );
        }
    }
}

#[test]
fn published_schemas_permissions_and_endpoints_match_the_code() {
    let manifest = manifest();
    let events = &manifest["events"];
    let published: Vec<&str> = events["publications"]
        .as_array()
        .expect("publications")
        .iter()
        .map(|p| p["eventName"].as_str().expect("eventName"))
        .collect();
    assert!(!published.is_empty());
    for name in &published {
        assert!(
            schemas::find(name).is_some(),
            "{name} is published but the code cannot send it"
        );
    }
    // The skill itself (test alert) and the weather poll send this one.
    assert!(published.contains(&schemas::WEATHER_ALERT));
    let permissions: Vec<&str> = manifest["permissions"]
        .as_array()
        .expect("permissions")
        .iter()
        .filter_map(|p| p["name"].as_str())
        .collect();
    assert_eq!(permissions, [NOTIFICATIONS_PERMISSION, ADDRESS_PERMISSION]);
    assert_eq!(
        events["endpoint"]["uri"], manifest["apis"]["custom"]["endpoint"]["uri"],
        "skill events go to the same function"
    );
}

/// The schema each sample in events/ asks to send: a request naming one (`detail.name`, or the
/// SNS message's `name`), else a weather alert (`alertType`, or the scheduled poll).
fn sample_schemas() -> BTreeSet<(String, String)> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut out = BTreeSet::new();
    for entry in std::fs::read_dir(root.join("events")).expect("events/") {
        let path = entry.expect("an entry").path();
        let file = path.file_name().unwrap().to_string_lossy().into_owned();
        let sample = read(&path);
        let mut requests: Vec<Value> = Vec::new();
        if sample.get("detail-type").is_some() {
            requests.push(sample["detail"].clone());
        }
        for record in sample["Records"].as_array().into_iter().flatten() {
            if let Some(message) = record["Sns"]["Message"].as_str() {
                requests.push(serde_json::from_str(message).expect("an SNS message of JSON"));
            }
        }
        for request in requests {
            let name = match request["name"].as_str() {
                Some(name) => name.to_owned(),
                // A scheduled poll (no request body) announces weather alerts, as does a
                // request with an alertType.
                None if request.get("alertType").is_some()
                    || sample["detail-type"] == "Scheduled Event" =>
                {
                    schemas::WEATHER_ALERT.to_owned()
                }
                None => continue,
            };
            out.insert((file.clone(), name));
        }
    }
    out
}

#[test]
fn every_schema_a_sample_sends_is_published() {
    let manifest = manifest();
    let published: BTreeSet<&str> = manifest["events"]["publications"]
        .as_array()
        .expect("publications")
        .iter()
        .filter_map(|p| p["eventName"].as_str())
        .collect();
    let sent = sample_schemas();
    assert!(sent.len() >= 5, "{sent:?}");
    for (file, name) in &sent {
        // A sample made to be refused names no real schema, or none at all.
        if schemas::find(name).is_none() {
            continue;
        }
        assert!(
            published.contains(name.as_str()),
            "events/{file} sends {name}, which skill-package/skill.json does not publish: Alexa would refuse it"
        );
    }
}

#[tokio::test]
async fn every_subscribed_skill_event_is_answered() {
    let manifest = manifest();
    let subscribed: BTreeSet<&str> = manifest["events"]["subscriptions"]
        .as_array()
        .expect("subscriptions")
        .iter()
        .map(|s| s["eventName"].as_str().expect("eventName"))
        .collect();
    assert!(subscribed.contains("SKILL_PROACTIVE_SUBSCRIPTION_CHANGED"));
    let request_type = |name: &str| match name {
        "SKILL_PROACTIVE_SUBSCRIPTION_CHANGED" => "AlexaSkillEvent.ProactiveSubscriptionChanged",
        "SKILL_ENABLED" => "AlexaSkillEvent.SkillEnabled",
        "SKILL_DISABLED" => "AlexaSkillEvent.SkillDisabled",
        "SKILL_PERMISSION_ACCEPTED" => "AlexaSkillEvent.SkillPermissionAccepted",
        "SKILL_PERMISSION_CHANGED" => "AlexaSkillEvent.SkillPermissionChanged",
        "SKILL_ACCOUNT_LINKED" => "AlexaSkillEvent.SkillAccountLinked",
        other => panic!("{other} is not a skill event Alexa sends"),
    };
    let skill = Skill::new(SKILL_ID.into());
    for name in subscribed {
        let payload = json!({"version": "1.0",
            "context": {"System": {"application": {"applicationId": SKILL_ID},
                                   "user": {"userId": "amzn1.ask.account.X"}}},
            "request": {"type": request_type(name), "requestId": "amzn1.echo-api.request.1",
                        "timestamp": "2026-11-25T10:00:00Z"}});
        let reply = skill.handle(payload);
        assert!(reply.is_ok(), "{name}: {:?}", reply.err());
    }
}
