use super::*;
use crate::state::AreaKey;
use serde_json::json;

const SKILL: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
const USER: &str = "amzn1.ask.account.TESTUSER";

fn skill() -> Skill {
    Skill::new(SKILL.into())
}

fn request(request: Value) -> Value {
    json!({
        "version": "1.0",
        "session": {"new": true, "sessionId": "s1", "application": {"applicationId": SKILL},
                    "user": {"userId": USER}},
        "context": {"System": {"application": {"applicationId": SKILL}, "user": {"userId": USER},
                               "apiEndpoint": "https://api.amazonalexa.com"}},
        "request": request
    })
}

fn intent(name: &str, locale: &str) -> Value {
    request(
        json!({"type": "IntentRequest", "requestId": "r1", "locale": locale,
                   "intent": {"name": name}}),
    )
}

fn event_payload(kind: &str, body: Option<Value>) -> Value {
    let mut request = json!({"type": kind, "requestId": "r1", "timestamp": "2026-11-24T10:00:00Z"});
    if let Some(body) = body {
        request["body"] = body;
    }
    json!({"version": "1.0",
           "context": {"System": {"application": {"applicationId": SKILL}, "user": {"userId": USER}}},
           "request": request})
}

async fn answer(payload: Value) -> Value {
    match skill().handle(payload).unwrap() {
        Reply::Answer(answer)
        | Reply::Record { answer, .. }
        | Reply::AddressRevoked { answer, .. } => serde_json::to_value(answer).unwrap(),
        // A launch as before areas: nothing known of the user's area.
        Reply::Locate(locate) => serde_json::to_value(Skill::launch_answer(
            locate.language,
            locate.notifications,
            &LaunchArea::Unreadable,
        ))
        .unwrap(),
        other => panic!("expected an answer, got {other:?}"),
    }
}

fn speech(answer: &Value) -> &str {
    answer["response"]["outputSpeech"]["text"]
        .as_str()
        .unwrap_or_default()
}

#[tokio::test]
async fn launch_without_permission_asks_for_it_with_a_card() {
    let a = answer(request(json!({"type": "LaunchRequest", "locale": "en-US"}))).await;
    assert!(speech(&a).contains("severe weather alerts"), "{a}");
    assert!(speech(&a).contains("turn on notifications"), "{a}");
    assert_eq!(
        a["response"]["card"],
        json!({"type": "AskForPermissionsConsent", "permissions": ["alexa::devices:all:notifications:write"]})
    );
    assert_eq!(a["response"]["shouldEndSession"], json!(true));
}

#[tokio::test]
async fn launch_with_permission_offers_a_test_alert() {
    let mut payload = request(json!({"type": "LaunchRequest", "locale": "en-US"}));
    payload["context"]["System"]["user"]["permissions"] =
        json!({"scopes": {"alexa::devices:all:notifications:write": {"status": "GRANTED"}}});
    let a = answer(payload).await;
    assert!(speech(&a).contains("send me a test alert"), "{a}");
    assert!(a["response"].get("card").is_none(), "{a}");
    assert_eq!(a["response"]["shouldEndSession"], json!(false));
    assert!(a["response"]["reprompt"]["outputSpeech"]["text"].is_string());
}

#[tokio::test]
async fn a_denied_permission_is_not_granted() {
    let mut payload = request(json!({"type": "LaunchRequest"}));
    payload["context"]["System"]["user"]["permissions"] =
        json!({"scopes": {"alexa::devices:all:notifications:write": {"status": "DENIED"}}});
    let a = answer(payload).await;
    assert_eq!(
        a["response"]["card"]["type"],
        json!("AskForPermissionsConsent")
    );
}

#[tokio::test]
async fn each_intent_gets_its_answer() {
    let help = answer(intent(intents::HELP, "en-US")).await;
    assert!(
        speech(&help).starts_with("I send you a notification"),
        "{help}"
    );
    assert_eq!(help["response"]["shouldEndSession"], json!(false));

    for name in [intents::STOP, intents::CANCEL] {
        let a = answer(intent(name, "en-US")).await;
        assert_eq!(speech(&a), "Goodbye.");
        assert_eq!(a["response"]["shouldEndSession"], json!(true));
    }

    let home = answer(intent(intents::NAVIGATE_HOME, "en-US")).await;
    assert_eq!(
        home,
        json!({"version": "1.0", "response": {"shouldEndSession": true}})
    );

    let fallback = answer(intent(intents::FALLBACK, "en-US")).await;
    assert!(speech(&fallback).starts_with("Sorry"), "{fallback}");
}

#[tokio::test]
async fn an_unknown_intent_gets_the_fallback_not_an_error() {
    let a = answer(intent("OrderPizzaIntent", "en-US")).await;
    let fallback = answer(intent(intents::FALLBACK, "en-US")).await;
    assert_eq!(a, fallback);
}

#[tokio::test]
async fn answers_follow_the_locale() {
    let de = answer(intent(intents::STOP, "de-DE")).await;
    assert_eq!(speech(&de), "Bis bald.");
    let gb = answer(request(json!({"type": "LaunchRequest", "locale": "en-GB"}))).await;
    assert!(speech(&gb).contains("weather warnings"), "{gb}");
    let fr = answer(intent(intents::STOP, "fr-FR")).await;
    assert_eq!(speech(&fr), "Goodbye.");
}

#[tokio::test]
async fn an_intent_request_without_intent_names_the_field() {
    let err = skill()
        .handle(request(json!({"type": "IntentRequest"})))
        .unwrap_err();
    assert!(err.to_string().contains("`request.intent`"), "{err}");
    let err = skill()
        .handle(request(json!({"type": "IntentRequest", "intent": {}})))
        .unwrap_err();
    assert!(err.to_string().contains("`request.intent.name`"), "{err}");
}

#[tokio::test]
async fn session_end_and_exceptions_get_an_empty_answer() {
    let ended = json!({"type": "SessionEndedRequest", "reason": "ERROR",
                       "error": {"type": "INVALID_RESPONSE", "message": "bad"}});
    assert_eq!(
        answer(request(ended)).await,
        json!({"version": "1.0", "response": {}})
    );
    let exception = json!({"type": "System.ExceptionEncountered", "error": {"type": "X"}});
    assert_eq!(
        answer(request(exception)).await,
        json!({"version": "1.0", "response": {}})
    );
}

#[tokio::test]
async fn skill_events_are_acknowledged() {
    for (kind, body) in [
        (
            "AlexaSkillEvent.ProactiveSubscriptionChanged",
            Some(json!({"subscriptions": [{"eventName": "AMAZON.WeatherAlert.Activated"}]})),
        ),
        ("AlexaSkillEvent.ProactiveSubscriptionChanged", None),
        (
            "AlexaSkillEvent.ProactiveSubscriptionChanged",
            Some(json!({})),
        ),
        ("AlexaSkillEvent.SkillEnabled", None),
        (
            "AlexaSkillEvent.SkillDisabled",
            Some(json!({"userInformationPersistenceStatus": "PERSISTED"})),
        ),
        (
            "AlexaSkillEvent.SkillPermissionAccepted",
            Some(
                json!({"acceptedPermissions": [{"scope": "alexa::devices:all:notifications:write"}]}),
            ),
        ),
        (
            "AlexaSkillEvent.SkillPermissionChanged",
            Some(json!({"acceptedPermissions": []})),
        ),
        ("AlexaSkillEvent.SkillAccountLinked", None),
    ] {
        assert_eq!(
            answer(event_payload(kind, body)).await,
            json!({"version": "1.0", "response": {}}),
            "{kind}"
        );
    }
}

#[test]
fn subscription_events_are_read_into_the_current_subscriptions() {
    let parse = |payload: Value| {
        let envelope: RequestEnvelope = serde_json::from_value(payload).unwrap();
        skill_event(&envelope).unwrap()
    };
    let subscribed = parse(event_payload(
        "AlexaSkillEvent.ProactiveSubscriptionChanged",
        Some(json!({"subscriptions": [{"eventName": "AMAZON.WeatherAlert.Activated"}]})),
    ));
    assert_eq!(
        subscribed,
        SkillEvent::SubscriptionsChanged {
            user_id: USER.into(),
            event_names: vec!["AMAZON.WeatherAlert.Activated".into()],
            timestamp: Some("2026-11-24T10:00:00Z".into())
        }
    );
    let none = parse(event_payload(
        "AlexaSkillEvent.ProactiveSubscriptionChanged",
        None,
    ));
    assert!(
        matches!(none, SkillEvent::SubscriptionsChanged { event_names, .. } if event_names.is_empty())
    );
    let revoked = parse(event_payload(
        "AlexaSkillEvent.SkillPermissionChanged",
        Some(json!({"acceptedPermissions": []})),
    ));
    assert_eq!(
        revoked,
        SkillEvent::PermissionsChanged {
            user_id: USER.into(),
            scopes: vec![]
        }
    );
}

#[tokio::test]
async fn malformed_skill_events_name_the_field() {
    let bad = event_payload(
        "AlexaSkillEvent.ProactiveSubscriptionChanged",
        Some(json!({"subscriptions": [{"name": "x"}]})),
    );
    let err = skill().handle(bad).unwrap_err().to_string();
    assert!(
        err.contains("`request.body.subscriptions[0].eventName`"),
        "{err}"
    );

    let mut no_user = event_payload("AlexaSkillEvent.SkillEnabled", None);
    no_user["context"]["System"]
        .as_object_mut()
        .unwrap()
        .remove("user");
    let err = skill().handle(no_user).unwrap_err().to_string();
    assert!(err.contains("context.System.user.userId"), "{err}");

    let unknown = event_payload("AlexaSkillEvent.SomethingNew", None);
    let err = skill().handle(unknown).unwrap_err();
    assert_eq!(err.error_type(), "UnsupportedAlexaRequest");
}

#[tokio::test]
async fn unknown_request_types_list_the_supported_ones() {
    let err = skill()
        .handle(request(json!({"type": "CanFulfillIntentRequest"})))
        .unwrap_err();
    let text = err.to_string();
    assert!(
        text.contains("\"CanFulfillIntentRequest\"") && text.contains("LaunchRequest"),
        "{text}"
    );
}

#[tokio::test]
async fn another_skill_is_refused_before_anything_is_parsed() {
    // The body is garbage: the refusal must come from the skill id, not from parsing.
    let payload = json!({"context": {"System": {"application": {"applicationId": "amzn1.ask.skill.other"}}},
                         "request": 42});
    let err = skill().handle(payload).unwrap_err();
    assert_eq!(err.error_type(), "WrongSkillId");
    let text = err.to_string();
    assert!(
        text.contains("amzn1.ask.skill.other") && text.contains("ALEXA_SKILL_ID"),
        "{text}"
    );
}

#[test]
fn the_skill_id_is_read_from_context_then_session() {
    let from_session = json!({"session": {"application": {"applicationId": SKILL}}, "request": {}});
    assert_eq!(verify_skill_id(&from_session, SKILL), Ok(()));
    // The context wins when both are present.
    let both = json!({"context": {"System": {"application": {"applicationId": "amzn1.ask.skill.x"}}},
                      "session": {"application": {"applicationId": SKILL}}, "request": {}});
    assert!(matches!(
        verify_skill_id(&both, SKILL),
        Err(SkillError::WrongSkill {
            field: "context.System.application.applicationId",
            ..
        })
    ));
    let neither = json!({"request": {}});
    let err = verify_skill_id(&neither, SKILL).unwrap_err().to_string();
    assert!(
        err.contains("context.System.application.applicationId") && err.contains("missing"),
        "{err}"
    );
    let number =
        json!({"context": {"System": {"application": {"applicationId": 7}}}, "request": {}});
    let err = verify_skill_id(&number, SKILL).unwrap_err().to_string();
    assert!(err.contains("expected a string"), "{err}");
}

#[test]
fn every_skill_id_the_request_carries_must_be_ours() {
    let with_session = |session_id: Value| {
        json!({"context": {"System": {"application": {"applicationId": SKILL}}},
               "session": {"application": {"applicationId": session_id}}, "request": {}})
    };
    assert_eq!(verify_skill_id(&with_session(json!(SKILL)), SKILL), Ok(()));
    for other in [
        json!("amzn1.ask.skill.other"),
        json!(""),
        json!(null),
        json!(7),
    ] {
        let err = verify_skill_id(&with_session(other.clone()), SKILL).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("session.application.applicationId"),
            "{other}: {text}"
        );
    }
    // A session without an application names no skill: nothing to compare.
    let no_application = json!({"context": {"System": {"application": {"applicationId": SKILL}}},
                                "session": {"new": true}, "request": {}});
    assert_eq!(verify_skill_id(&no_application, SKILL), Ok(()));
    // Refused before anything else is looked at.
    let payload = json!({"version": "1.0",
        "context": {"System": {"application": {"applicationId": SKILL}}},
        "session": {"application": {"applicationId": "amzn1.ask.skill.other"}},
        "request": {"type": "LaunchRequest"}});
    assert_eq!(
        skill().handle(payload).unwrap_err().error_type(),
        "WrongSkillId"
    );
}

#[tokio::test]
async fn requests_lacking_optional_parts_still_work() {
    // No session, no device, no apiEndpoint, no locale.
    let bare = json!({"version": "1.0",
                      "context": {"System": {"application": {"applicationId": SKILL}}},
                      "request": {"type": "LaunchRequest"}});
    let a = answer(bare).await;
    assert!(speech(&a).starts_with("Welcome"), "{a}");
}

fn with_notifications(mut payload: Value, endpoint: &str) -> Value {
    payload["context"]["System"]["user"]["permissions"] = json!({"scopes": {
        "alexa::devices:all:notifications:write": {"status": "GRANTED"}}});
    payload["context"]["System"]["apiEndpoint"] = json!(endpoint);
    payload
}

#[tokio::test]
async fn a_test_alert_is_a_unicast_to_the_asking_user_in_their_region() {
    for (endpoint, region) in [
        ("https://api.amazonalexa.com", Some(Region::Na)),
        ("https://api.eu.amazonalexa.com", Some(Region::Eu)),
        ("https://api.fe.amazonalexa.com/", Some(Region::Fe)),
        ("http://127.0.0.1:9100", None),
    ] {
        let payload = with_notifications(intent(intents::TEST_ALERT, "de-DE"), endpoint);
        let Reply::SendTestAlert {
            alert,
            language,
            permission_unknown,
        } = skill().handle(payload).unwrap()
        else {
            panic!("{endpoint}: expected a send")
        };
        assert_eq!(alert.user.as_deref(), Some(USER));
        assert_eq!(alert.region, region, "{endpoint}");
        assert_eq!(
            alert.id.as_deref(),
            Some("r1"),
            "Alexa's requestId: a repeat is a 409"
        );
        assert_eq!(alert.payload["weatherAlert"]["alertType"], TEST_ALERT_TYPE);
        assert_eq!(language, Language::De);
        assert!(!permission_unknown);
        let locales: Vec<&str> = alert
            .localized_attributes
            .iter()
            .filter_map(|l| l["locale"].as_str())
            .collect();
        assert_eq!(locales, ["en-US", "en-GB", "de-DE"]);
    }
}

#[tokio::test]
async fn a_test_alert_with_the_permission_denied_sends_nothing_and_says_how_to_fix_it() {
    let mut payload = intent(intents::TEST_ALERT, "en-US");
    payload["context"]["System"]["user"]["permissions"] =
        json!({"scopes": {"alexa::devices:all:notifications:write": {"status": "DENIED"}}});
    let a = answer(payload).await;
    assert!(speech(&a).contains("notifications are off"), "{a}");
    assert_eq!(a["response"]["card"]["type"], "AskForPermissionsConsent");
}

#[test]
fn a_test_alert_is_tried_when_the_request_does_not_say_whether_notifications_are_allowed() {
    // Amazon does not promise a scope entry: no entry (or no permissions at all) is unknown.
    let mut no_entry = intent(intents::TEST_ALERT, "en-US");
    no_entry["context"]["System"]["user"]["permissions"] = json!({"scopes": {}});
    for payload in [intent(intents::TEST_ALERT, "en-US"), no_entry] {
        match skill().handle(payload).unwrap() {
            Reply::SendTestAlert {
                permission_unknown, ..
            } => assert!(permission_unknown),
            other => panic!("expected a send, got {other:?}"),
        }
    }
}

#[test]
fn each_test_alert_outcome_has_its_own_words() {
    let said = |status| {
        let a = serde_json::to_value(Skill::test_alert_answer(Language::EnUs, status)).unwrap();
        speech(&a).to_owned()
    };
    assert!(said(Status::Accepted).contains("on its way"));
    assert_eq!(said(Status::Duplicate), said(Status::Accepted));
    assert!(said(Status::NotSubscribed).contains("Alexa app"));
    assert!(said(Status::Failed).starts_with("Sorry"));
}

// ---- where the user is ----

const TOKEN: &str = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.the-token";
const DEVICE: &str = "amzn1.ask.device.D1";

/// A launch with the given permissions granted, a device and a token.
fn launch_with(granted: &[&str], locale: &str) -> Value {
    let mut payload =
        request(json!({"type": "LaunchRequest", "requestId": "r1", "locale": locale}));
    let scopes: serde_json::Map<String, Value> = granted
        .iter()
        .map(|scope| (scope.to_string(), json!({"status": "GRANTED"})))
        .collect();
    payload["context"]["System"]["user"]["permissions"] = json!({ "scopes": scopes });
    payload["context"]["System"]["device"] = json!({"deviceId": DEVICE});
    payload["context"]["System"]["apiAccessToken"] = json!(TOKEN);
    payload
}

fn locate(payload: Value) -> Locate {
    match skill().handle(payload).unwrap() {
        Reply::Locate(locate) => *locate,
        other => panic!("expected Locate, got {other:?}"),
    }
}

fn json_of(answer: ResponseEnvelope) -> Value {
    serde_json::to_value(answer).unwrap()
}

fn cleveland() -> UserArea {
    UserArea {
        user_id: USER.into(),
        postal_code: "73019".into(),
        country: "US".into(),
        places: vec![AreaKey::county("40027")],
        region: Some("NA".into()),
        locale: Some("en-US".into()),
        source: crate::state::AreaSource::Voice,
    }
}

#[test]
fn a_launch_with_the_address_permission_looks_the_address_up() {
    let locate = locate(launch_with(&[ADDRESS_PERMISSION], "en-US"));
    assert_eq!(locate.user, USER);
    assert!(locate.address_granted && !locate.notifications);
    assert_eq!(
        locate.lookup,
        Some(AddressQuery {
            endpoint: "https://api.amazonalexa.com".into(),
            device_id: DEVICE.into(),
            token: crate::alexa::address::ApiAccessToken::new(TOKEN),
        })
    );
    assert_eq!(locate.region.as_deref(), Some("NA"));
    assert_eq!(locate.locale.as_deref(), Some("en-US"));
    let printed = format!("{locate:?}");
    assert!(!printed.contains("the-token"), "{printed}");
}

#[test]
fn a_launch_without_the_address_permission_looks_nothing_up() {
    let locate = locate(launch_with(&[NOTIFICATIONS_PERMISSION], "en-US"));
    assert!(!locate.address_granted && locate.notifications);
    assert_eq!(locate.lookup, None);
    // Granted, but no token to ask with: nothing is looked up either.
    let mut payload = launch_with(&[ADDRESS_PERMISSION], "en-US");
    payload["context"]["System"]
        .as_object_mut()
        .unwrap()
        .remove("apiAccessToken");
    let locate = super::tests::locate(payload);
    assert!(locate.address_granted);
    assert_eq!(locate.lookup, None);
}

#[test]
fn an_unknown_area_asks_for_the_zip_code_and_one_card_lists_every_missing_permission() {
    let both = json_of(Skill::launch_answer(
        Language::EnUs,
        false,
        &LaunchArea::Unknown {
            address_granted: false,
        },
    ));
    assert_eq!(
        both["response"]["card"],
        json!({"type": "AskForPermissionsConsent",
               "permissions": [NOTIFICATIONS_PERMISSION, ADDRESS_PERMISSION]})
    );
    let said = speech(&both);
    assert!(
        said.contains("turn on notifications")
            && said.contains("Say, for example: my zip code is 73019")
            && said.contains("allow the skill to use your postal code in the Alexa app"),
        "{said}"
    );
    assert_eq!(both["response"]["shouldEndSession"], json!(false));
    assert!(both["response"]["reprompt"]["outputSpeech"]["text"]
        .as_str()
        .unwrap_or_default()
        .contains("zip code"));

    let address_only = json_of(Skill::launch_answer(
        Language::EnUs,
        true,
        &LaunchArea::Unknown {
            address_granted: false,
        },
    ));
    assert_eq!(
        address_only["response"]["card"]["permissions"],
        json!([ADDRESS_PERMISSION])
    );
    let granted = json_of(Skill::launch_answer(
        Language::EnUs,
        true,
        &LaunchArea::Unknown {
            address_granted: true,
        },
    ));
    assert!(granted["response"].get("card").is_none(), "{granted}");
    assert!(
        speech(&granted).contains("my zip code is 73019"),
        "{granted}"
    );
    assert_eq!(granted["response"]["shouldEndSession"], json!(false));
}

#[test]
fn a_known_area_is_said_in_the_welcome() {
    let a = json_of(Skill::launch_answer(
        Language::EnUs,
        true,
        &LaunchArea::Known(cleveland()),
    ));
    let said = speech(&a);
    assert!(said.starts_with("Welcome"), "{said}");
    assert!(
        said.contains("I announce alerts for Cleveland County, Oklahoma."),
        "{said}"
    );
    assert!(a["response"].get("card").is_none(), "{a}");
    let de = json_of(Skill::launch_answer(
        Language::De,
        true,
        &LaunchArea::Known(cleveland()),
    ));
    assert!(
        speech(&de).contains("Ich melde dir Warnungen für Cleveland County, Oklahoma."),
        "{de}"
    );
    let none = json_of(Skill::launch_answer(
        Language::EnUs,
        true,
        &LaunchArea::NoMemory,
    ));
    assert!(speech(&none).contains("can't remember an area"), "{none}");
}

#[test]
fn an_address_becomes_an_area_in_the_us_and_abroad() {
    let locate = locate(launch_with(&[ADDRESS_PERMISSION], "en-US"));
    let from_device = UserArea {
        source: crate::state::AreaSource::Device,
        ..cleveland()
    };
    assert_eq!(locate.area_at("US", "73019"), Some(from_device.clone()));
    assert_eq!(locate.area_at("US", "73019-0390"), Some(from_device));
    assert_eq!(locate.area_at("US", "00001"), None, "not in the table");
    // A device in a US territory reporting its own code: in the US where the table has the
    // ZIP (Adjuntas, Puerto Rico; Hagåtña, Guam), abroad where it does not.
    for (country, zip) in [("PR", "00601"), ("GU", "96910"), ("VI", "00802")] {
        let area = locate.area_at(country, zip).unwrap();
        assert_eq!(area.country, "US", "{country}");
        assert!(!area.places.is_empty(), "{country} {zip}");
    }
    let elsewhere = locate.area_at("PR", "00001").unwrap();
    assert_eq!(elsewhere.country, "PR");
    assert!(elsewhere.places.is_empty());
    // Served abroad: Germany by district, the United Kingdom by warning region (only the
    // postcode's outward code is kept).
    let berlin = locate.area_at("DE", "10115").unwrap();
    assert_eq!(
        (berlin.country.as_str(), berlin.postal_code.as_str()),
        ("DE", "10115")
    );
    assert_eq!(berlin.places, [AreaKey::parse("d11000").unwrap()]);
    let london = locate.area_at("GB", "sw1a 1aa").unwrap();
    assert_eq!(london.postal_code, "SW1A");
    assert_eq!(
        london.places,
        [
            AreaKey::parse("mUK116").unwrap(),
            AreaKey::parse("mUK258").unwrap()
        ]
    );
    assert_eq!(locate.area_at("DE", "00000"), None, "not in the table");
    let said = |area: UserArea, language| {
        speech(&json_of(Skill::launch_answer(
            language,
            true,
            &LaunchArea::Known(area),
        )))
        .to_owned()
    };
    assert!(said(berlin, Language::De).contains("für Berlin"));
    assert!(said(london, Language::EnGb).contains("for Greater London"));
    // Not served: stored with the sentence saying so.
    let abroad = locate.area_at("FR", "75001").unwrap();
    assert_eq!(
        (abroad.country.as_str(), abroad.postal_code.as_str()),
        ("FR", "75001")
    );
    assert!(abroad.places.is_empty());
    let a = json_of(Skill::launch_answer(
        Language::EnUs,
        true,
        &LaunchArea::Known(abroad),
    ));
    assert!(speech(&a).contains("a country I don't serve yet"), "{a}");
}

#[test]
fn a_german_speaker_says_a_postleitzahl_and_hears_their_district() {
    let Reply::SetArea { area, .. } = skill().handle(zip_intent(Some("50667"), "de-DE")).unwrap()
    else {
        panic!("expected SetArea")
    };
    assert_eq!(
        (area.country.as_str(), area.postal_code.as_str()),
        ("DE", "50667")
    );
    assert_eq!(area.places, [AreaKey::parse("d05315").unwrap()]);
    // Dresden, said with its leading zero, arrives as 1067.
    let Reply::SetArea { area, .. } = skill().handle(zip_intent(Some("1067"), "de-DE")).unwrap()
    else {
        panic!("expected SetArea")
    };
    assert_eq!(area.postal_code, "01067");
    // A US ZIP code is no Postleitzahl for a German speaker: asked again.
    let Reply::Answer(answer) = skill().handle(zip_intent(Some("73019"), "de-DE")).unwrap() else {
        panic!("expected an answer")
    };
    let answer = serde_json::to_value(&answer).unwrap();
    let text = speech(&answer);
    assert!(text.contains("kenne ich leider nicht"), "{text}");
}

#[test]
fn counties_are_joined_as_said() {
    let items = |list: &[&str]| list.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    assert_eq!(join(&items(&["A"]), "and"), "A");
    assert_eq!(join(&items(&["A", "B"]), "and"), "A and B");
    assert_eq!(join(&items(&["A", "B", "C"]), "und"), "A, B und C");
    let two = UserArea {
        places: vec![AreaKey::county("40027"), AreaKey::county("40109")],
        ..cleveland()
    };
    assert_eq!(
        say_area(Language::EnUs.texts(), &two),
        "I announce alerts for Cleveland County, Oklahoma and Oklahoma County, Oklahoma."
    );
}

#[test]
fn an_area_whose_places_the_table_no_longer_knows_is_said_by_its_postal_code_in_the_language() {
    let lost = |country: &str, postal: &str, key: &str| UserArea {
        country: country.into(),
        postal_code: postal.into(),
        places: vec![AreaKey::parse(key).unwrap()],
        ..cleveland()
    };
    assert_eq!(
        say_area(Language::EnUs.texts(), &lost("US", "73019", "c99999")),
        "I announce alerts for zip code 7 3 0 1 9."
    );
    assert_eq!(
        say_area(Language::De.texts(), &lost("DE", "50667", "d99999")),
        "Ich melde dir Warnungen für Postleitzahl 5 0 6 6 7."
    );
    assert_eq!(
        say_area(Language::EnGb.texts(), &lost("GB", "SW1A", "mUK999")),
        "I announce warnings for postcode S W 1 A."
    );
}

fn zip_intent(slot: Option<&str>, locale: &str) -> Value {
    let mut payload = intent(intents::SET_ZIP_CODE, locale);
    if let Some(value) = slot {
        payload["request"]["intent"]["slots"] =
            json!({"zipCode": {"name": "zipCode", "value": value}});
    }
    payload
}

#[test]
fn a_known_zip_code_is_stored_with_its_counties() {
    let Reply::SetArea { area, language } =
        skill().handle(zip_intent(Some("73019"), "en-US")).unwrap()
    else {
        panic!("expected SetArea")
    };
    assert_eq!(area, cleveland());
    assert_eq!(language, Language::EnUs);
    // "zero two one three four" arrives as 2134.
    let Reply::SetArea { area, .. } = skill().handle(zip_intent(Some("2134"), "en-US")).unwrap()
    else {
        panic!("expected SetArea")
    };
    assert_eq!(area.postal_code, "02134");
    assert_eq!(area.places, [AreaKey::county("25025")]);
}

#[tokio::test]
async fn a_missing_or_unknown_zip_code_is_asked_again() {
    for slot in [None, Some("?"), Some("123456")] {
        let a = answer(zip_intent(slot, "en-US")).await;
        assert!(
            speech(&a).starts_with("Sorry, I didn't get your zip code"),
            "{a}"
        );
        assert_eq!(a["response"]["shouldEndSession"], json!(false), "{a}");
    }
    let a = answer(zip_intent(Some("1"), "en-US")).await;
    assert!(
        speech(&a).contains("I don't know the zip code 0 0 0 0 1"),
        "{a}"
    );
    assert_eq!(a["response"]["shouldEndSession"], json!(false));
    let de = answer(zip_intent(Some("?"), "de-DE")).await;
    assert!(speech(&de).contains("meine Postleitzahl ist 50667"), "{de}");
}

#[test]
fn my_area_and_forget_area_ask_the_dispatcher() {
    assert!(matches!(
        skill().handle(intent(intents::MY_AREA, "en-GB")).unwrap(),
        Reply::SayArea { ref user, language: Language::EnGb } if user == USER
    ));
    assert!(matches!(
        skill().handle(intent(intents::FORGET_AREA, "de-DE")).unwrap(),
        Reply::ForgetArea { ref user, language: Language::De } if user == USER
    ));
}

#[test]
fn each_area_outcome_has_its_own_words() {
    let said = |outcome| json_of(Skill::area_answer(Language::EnUs, outcome));
    let area = cleveland();
    let saved = said(AreaOutcome::Saved(&area));
    assert_eq!(
        speech(&saved),
        "Got it. I announce alerts for Cleveland County, Oklahoma."
    );
    assert_eq!(
        speech(&said(AreaOutcome::Stored(Some(&area)))),
        "I announce alerts for Cleveland County, Oklahoma."
    );
    let none = said(AreaOutcome::Stored(None));
    assert!(speech(&none).contains("my zip code is 73019"), "{none}");
    assert_eq!(none["response"]["shouldEndSession"], json!(false));
    assert!(speech(&said(AreaOutcome::Forgotten(true))).contains("forgotten your area"));
    assert!(speech(&said(AreaOutcome::Forgotten(false))).contains("nothing to forget"));
    assert!(speech(&said(AreaOutcome::NoMemory)).contains("can't remember"));
    assert!(speech(&said(AreaOutcome::SaveFailed)).contains("try again later"));
    assert!(speech(&said(AreaOutcome::Failed)).contains("try again later"));
    let gb = json_of(Skill::area_answer(
        Language::EnGb,
        AreaOutcome::Stored(Some(&area)),
    ));
    assert!(speech(&gb).contains("warnings"), "{gb}");
}

#[test]
fn a_permission_change_without_the_address_asks_to_forget_an_area_read_from_the_device() {
    let revoked = event_payload(
        "AlexaSkillEvent.SkillPermissionChanged",
        Some(json!({"acceptedPermissions": [{"scope": "alexa::devices:all:notifications:write"}]})),
    );
    assert!(
        matches!(skill().handle(revoked).unwrap(), Reply::AddressRevoked { user, .. } if user == "amzn1.ask.account.TESTUSER")
    );
    let kept = event_payload(
        "AlexaSkillEvent.SkillPermissionAccepted",
        Some(json!({"acceptedPermissions": [{"scope": ADDRESS_PERMISSION}]})),
    );
    assert!(matches!(skill().handle(kept).unwrap(), Reply::Answer(_)));
}

#[test]
fn a_test_alert_for_a_user_id_alexa_never_sends_is_refused_naming_the_field() {
    for (id, problem) in [
        ("", "is empty"),
        ("   ", "is empty"),
        ("someone", "is not a user id"),
    ] {
        let mut payload = intent(intents::TEST_ALERT, "en-US");
        payload["context"]["System"]["user"]["userId"] = json!(id);
        let err = skill().handle(payload).unwrap_err();
        assert_eq!(err.error_type(), "MalformedInput");
        let text = err.to_string();
        assert!(
            text.contains("context.System.user.userId") && text.contains(problem),
            "{text}"
        );
        assert!(
            id.trim().is_empty() || !text.contains(id),
            "the id is not quoted: {text}"
        );
    }
    // Read from the session when the context has no user.
    let mut payload = intent(intents::TEST_ALERT, "en-US");
    payload["context"]["System"]
        .as_object_mut()
        .unwrap()
        .remove("user");
    payload["session"]["user"]["userId"] = json!("");
    let text = skill().handle(payload).unwrap_err().to_string();
    assert!(text.contains("session.user.userId"), "{text}");
}
