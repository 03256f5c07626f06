//! The Alexa skill: what the function answers when Alexa invokes it.
//!
//! The skill id is checked on the raw payload before anything is parsed, so a request for
//! another skill costs nothing and reveals nothing about how this one would answer.

pub mod conversation;
pub mod envelope;
pub mod speech;

use serde_json::Value;

use crate::alexa::address::AddressQuery;
use crate::alexa::{Region, Status};
use crate::area::{self, Located, Place};
use crate::event::NotificationRequest;
use crate::json::{self, FieldError};
use crate::state::{AreaSource, UserArea, UserChange, UserChangeKind};
use envelope::{
    Card, Intent, Permission, PermissionBody, RequestEnvelope, ResponseEnvelope,
    SubscriptionChangedBody, ADDRESS_PERMISSION, NOTIFICATIONS_PERMISSION,
};
use speech::{Language, Texts};

/// Intents the skill handles; the interaction models declare exactly these.
pub mod intents {
    pub const HELP: &str = "AMAZON.HelpIntent";
    pub const STOP: &str = "AMAZON.StopIntent";
    pub const CANCEL: &str = "AMAZON.CancelIntent";
    pub const FALLBACK: &str = "AMAZON.FallbackIntent";
    pub const NAVIGATE_HOME: &str = "AMAZON.NavigateHomeIntent";
    pub const TEST_ALERT: &str = "TestAlertIntent";
    pub const SET_ZIP_CODE: &str = "SetZipCodeIntent";
    pub const MY_AREA: &str = "MyAreaIntent";
    pub const FORGET_AREA: &str = "ForgetAreaIntent";
    pub const ALL: [&str; 9] = [
        HELP,
        STOP,
        CANCEL,
        FALLBACK,
        NAVIGATE_HOME,
        TEST_ALERT,
        SET_ZIP_CODE,
        MY_AREA,
        FORGET_AREA,
    ];
    /// SetZipCodeIntent's slot (`AMAZON.NUMBER`).
    pub const ZIP_CODE_SLOT: &str = "zipCode";
}

/// Request types the skill answers, quoted when an unknown one arrives.
pub const REQUEST_TYPES: &str = "LaunchRequest, IntentRequest, SessionEndedRequest, \
System.ExceptionEncountered, AlexaSkillEvent.ProactiveSubscriptionChanged, \
AlexaSkillEvent.SkillEnabled, AlexaSkillEvent.SkillDisabled, \
AlexaSkillEvent.SkillPermissionAccepted, AlexaSkillEvent.SkillPermissionChanged, \
AlexaSkillEvent.SkillAccountLinked";

/// Why the skill refused a request.
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum SkillError {
    /// A field of the request is missing or has the wrong type.
    #[error("malformed Alexa request: {0}")]
    Malformed(FieldError),

    /// A request for another skill. Nothing else is done with it.
    #[error(
        "refused: the request is for skill {received:?} (from `{field}`), \
         but this function serves only ALEXA_SKILL_ID {expected:?}"
    )]
    WrongSkill {
        received: String,
        expected: String,
        field: &'static str,
    },

    /// A request type this skill does not handle.
    #[error("unsupported Alexa request: field `request.type` is {received:?}; expected one of {REQUEST_TYPES}")]
    Unsupported { received: String },
}

impl SkillError {
    /// The stable name Lambda reports as `errorType`.
    pub fn error_type(&self) -> &'static str {
        match self {
            SkillError::Malformed(_) => "MalformedInput",
            SkillError::WrongSkill { .. } => "WrongSkillId",
            SkillError::Unsupported { .. } => "UnsupportedAlexaRequest",
        }
    }
}

fn malformed(field: &str, problem: impl Into<String>) -> SkillError {
    SkillError::Malformed(FieldError::new(field, problem))
}

fn parse<T: serde::de::DeserializeOwned>(prefix: &str, value: Value) -> Result<T, SkillError> {
    json::parse(prefix, value).map_err(SkillError::Malformed)
}

/// A skill event, reduced to what the product keeps about users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SkillEvent {
    /// The events this user is subscribed to now (empty: unsubscribed from all).
    SubscriptionsChanged {
        user_id: String,
        event_names: Vec<String>,
        timestamp: Option<String>,
    },
    Enabled {
        user_id: String,
        timestamp: Option<String>,
    },
    Disabled {
        user_id: String,
        timestamp: Option<String>,
    },
    /// The full list of permissions the user has granted now (empty: all revoked).
    PermissionsChanged {
        user_id: String,
        scopes: Vec<String>,
    },
    AccountLinked {
        user_id: String,
    },
}

/// What the skill makes of a request.
#[derive(Debug)]
pub enum Reply {
    Answer(ResponseEnvelope),
    /// TestAlertIntent: send `alert`, then answer with [`Skill::test_alert_answer`]. The skill
    /// decides what to send and what to say; the dispatcher does the sending.
    SendTestAlert {
        alert: Box<NotificationRequest>,
        language: Language,
        /// The request did not say whether notifications are allowed: send unless the user's
        /// stored subscriptions say they are not (a 403 then tells them how).
        permission_unknown: bool,
    },
    /// A skill event that changes what is stored about a user: record `change`, then answer.
    Record {
        change: UserChange,
        answer: ResponseEnvelope,
    },
    /// The user's permissions no longer include the address: an area read from the device
    /// is deleted (one the user said is kept), then answer.
    AddressRevoked {
        user: String,
        answer: ResponseEnvelope,
    },
    /// LaunchRequest of a known user: read their stored area; without one, look it up with
    /// the Device Address API (if [`Locate::lookup`]) and store it ([`Locate::area_at`]); then
    /// answer with [`Skill::launch_answer`].
    Locate(Box<Locate>),
    /// SetZipCodeIntent with a ZIP the table knows: store `area`, then answer with
    /// [`Skill::area_answer`] ([`AreaOutcome::Saved`] or what went wrong).
    SetArea {
        area: UserArea,
        language: Language,
    },
    /// MyAreaIntent: read the user's area, then answer with [`AreaOutcome::Stored`].
    SayArea {
        user: String,
        language: Language,
    },
    /// ForgetAreaIntent: delete the user's area, then answer with [`AreaOutcome::Forgotten`].
    ForgetArea {
        user: String,
        language: Language,
    },
}

/// What a launch needs to place the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Locate {
    pub user: String,
    pub language: Language,
    /// The request says notifications are granted.
    pub notifications: bool,
    /// The request says the country-and-postal-code permission is granted.
    pub address_granted: bool,
    /// What the Device Address API needs, when the permission is granted and the request
    /// carries an endpoint, a device and a token.
    pub lookup: Option<AddressQuery>,
    /// The region code of the request's `apiEndpoint` (`"NA"`), stored with the area.
    pub region: Option<String>,
    pub locale: Option<String>,
}

pub use crate::area::locate::US_TERRITORIES;

impl Locate {
    /// The area to store for an address the Device Address API gave: the code's places in a
    /// served country, or the code alone where no feed serves the country (said so at
    /// launch). `None` for a code a served country's table does not know.
    pub fn area_at(&self, country: &str, postal: &str) -> Option<UserArea> {
        let (country, postal, places) = match area::locate(country, postal) {
            Located::Placed {
                country,
                postal,
                places,
            } => (country.to_owned(), postal, places),
            Located::Unknown => return None,
            Located::NotServed => (
                country.trim().to_owned(),
                postal.trim().to_owned(),
                Vec::new(),
            ),
        };
        Some(UserArea {
            user_id: self.user.clone(),
            postal_code: postal,
            country,
            places: places.iter().map(Place::key).collect(),
            region: self.region.clone(),
            locale: self.locale.clone(),
            source: AreaSource::Device,
        })
    }
}

/// Where a launch found the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LaunchArea {
    /// Stored before, or just looked up and stored.
    Known(UserArea),
    /// Read from the device before, and the device's address is elsewhere now: moved there.
    Moved(UserArea),
    /// Not known: the user is asked for a ZIP code; `address_granted` false adds the address
    /// permission to the card.
    Unknown { address_granted: bool },
    /// No state table: nothing can be remembered.
    NoMemory,
    /// The stored area could not be read: say nothing about it.
    Unreadable,
}

/// How an area intent's I/O ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AreaOutcome<'a> {
    /// SetZipCodeIntent: stored.
    Saved(&'a UserArea),
    /// MyAreaIntent: what is stored (`None`: nothing).
    Stored(Option<&'a UserArea>),
    /// ForgetAreaIntent: deleted; whether there was one.
    Forgotten(bool),
    /// No state table.
    NoMemory,
    /// Storing failed.
    SaveFailed,
    /// Reading or deleting failed.
    Failed,
}

/// The test alert's type: a real one, so the user hears exactly what an alert sounds like.
pub const TEST_ALERT_TYPE: &str = "THUNDER_STORM";

pub struct Skill {
    skill_id: String,
}

impl Skill {
    pub fn new(skill_id: String) -> Self {
        Skill { skill_id }
    }

    pub fn handle(&self, payload: Value) -> Result<Reply, SkillError> {
        verify_skill_id(&payload, &self.skill_id)?;
        let envelope: RequestEnvelope = parse("", payload)?;
        let language = Language::from_locale(envelope.request.locale.as_deref());
        self.answer(&envelope, language)
    }

    /// What to say at launch, once the user's area is known (or not): the welcome, the area,
    /// whether notifications are on, and the ZIP code question when the area is unknown. One
    /// card asks for every permission that is missing.
    pub fn launch_answer(
        language: Language,
        notifications: bool,
        area: &LaunchArea,
    ) -> ResponseEnvelope {
        let texts = language.texts();
        let mut said = vec![texts.welcome.to_owned()];
        let mut missing = Vec::new();
        match area {
            LaunchArea::Known(area) => said.push(say_area(texts, area)),
            LaunchArea::Moved(area) => {
                said.push(texts.area_moved.to_owned());
                said.push(say_area(texts, area));
            }
            _ => {}
        }
        if notifications {
            said.push(texts.notifications_on.to_owned());
        } else {
            said.push(texts.notifications_off.to_owned());
            missing.push(NOTIFICATIONS_PERMISSION.to_owned());
        }
        // The question comes last, so the user's next words answer it.
        let ask_zip = match area {
            LaunchArea::Unknown { address_granted } => {
                if *address_granted {
                    said.push(texts.area_ask.to_owned());
                } else {
                    said.push(texts.area_permission.to_owned());
                    missing.push(ADDRESS_PERMISSION.to_owned());
                }
                true
            }
            LaunchArea::NoMemory => {
                said.push(texts.area_no_memory.to_owned());
                false
            }
            LaunchArea::Known(_) | LaunchArea::Moved(_) | LaunchArea::Unreadable => false,
        };
        let mut answer = ResponseEnvelope::speak(&said.join(" "));
        if !missing.is_empty() {
            answer = answer.with_card(Card::AskForPermissionsConsent {
                permissions: missing,
            });
        }
        if ask_zip {
            answer.ask(texts.area_reprompt)
        } else if notifications {
            answer.ask(texts.reprompt)
        } else {
            answer.end_session()
        }
    }

    /// What to say once an area intent's I/O is done.
    pub fn area_answer(language: Language, outcome: AreaOutcome<'_>) -> ResponseEnvelope {
        let texts = language.texts();
        let text = match outcome {
            AreaOutcome::Saved(area) => format!("{} {}", texts.area_saved, say_area(texts, area)),
            AreaOutcome::Stored(Some(area)) => say_area(texts, area),
            AreaOutcome::Stored(None) => {
                // Keep listening: the user will likely say their ZIP code next.
                return ResponseEnvelope::speak(texts.area_none).ask(texts.area_reprompt);
            }
            AreaOutcome::Forgotten(true) => texts.area_forgotten.to_owned(),
            AreaOutcome::Forgotten(false) => texts.area_nothing_to_forget.to_owned(),
            AreaOutcome::NoMemory => texts.area_no_memory.to_owned(),
            AreaOutcome::SaveFailed => texts.area_save_failed.to_owned(),
            AreaOutcome::Failed => texts.area_failed.to_owned(),
        };
        ResponseEnvelope::speak(&text).end_session()
    }

    /// What to say once the test alert was (or was not) sent.
    pub fn test_alert_answer(language: Language, status: Status) -> ResponseEnvelope {
        let texts = language.texts();
        match status {
            Status::Accepted | Status::Duplicate => {
                ResponseEnvelope::speak(texts.test_alert_sent).end_session()
            }
            Status::NotSubscribed => ResponseEnvelope::speak(texts.test_alert_not_subscribed)
                .with_card(Card::AskForPermissionsConsent {
                    permissions: vec![NOTIFICATIONS_PERMISSION.to_owned()],
                })
                .end_session(),
            Status::Failed | Status::Refused => {
                ResponseEnvelope::speak(texts.test_alert_failed).end_session()
            }
        }
    }

    fn answer(&self, envelope: &RequestEnvelope, language: Language) -> Result<Reply, SkillError> {
        let kind = envelope.request.kind.as_str();
        let answer = match kind {
            "LaunchRequest" => return Ok(launch(envelope, language)),
            "IntentRequest" => {
                let intent = envelope.request.intent.as_ref().ok_or_else(|| {
                    malformed(
                        "request.intent",
                        "required field is missing; an IntentRequest needs intent.name",
                    )
                })?;
                return self.intent(envelope, intent, language);
            }
            "SessionEndedRequest" => {
                tracing::info!(
                    reason = envelope.request.reason.as_deref().unwrap_or("(none)"),
                    error = %error_text(envelope.request.error.as_ref()),
                    "session ended"
                );
                ResponseEnvelope::empty()
            }
            "System.ExceptionEncountered" => {
                // Alexa reports here that our previous answer was invalid; it ignores any reply.
                tracing::error!(
                    error = %error_text(envelope.request.error.as_ref()),
                    "Alexa could not use a previous response of this skill"
                );
                ResponseEnvelope::empty()
            }
            _ if kind.starts_with("AlexaSkillEvent.") => {
                let event = skill_event(envelope)?;
                log_skill_event(&event);
                if let Some(change) = event.user_change()? {
                    return Ok(Reply::Record {
                        change,
                        answer: ResponseEnvelope::empty(),
                    });
                }
                if let SkillEvent::PermissionsChanged { user_id, scopes } = &event {
                    if !scopes.iter().any(|s| s == ADDRESS_PERMISSION) {
                        return Ok(Reply::AddressRevoked {
                            user: user_id.clone(),
                            answer: ResponseEnvelope::empty(),
                        });
                    }
                }
                ResponseEnvelope::empty()
            }
            _ => {
                return Err(SkillError::Unsupported {
                    received: kind.to_owned(),
                })
            }
        };
        Ok(Reply::Answer(answer))
    }

    fn intent(
        &self,
        envelope: &RequestEnvelope,
        intent: &Intent,
        language: Language,
    ) -> Result<Reply, SkillError> {
        let texts = language.texts();
        let user = envelope.user().map(|u| u.user_id.clone());
        let answer = match intent.name.as_str() {
            intents::TEST_ALERT => return test_alert(envelope, language),
            intents::SET_ZIP_CODE => return Ok(set_zip_code(envelope, intent, language)),
            intents::MY_AREA | intents::FORGET_AREA if user.is_none() => {
                // Alexa always names the user; without one there is nobody to look up.
                ResponseEnvelope::speak(texts.area_failed).end_session()
            }
            intents::MY_AREA => {
                return Ok(Reply::SayArea {
                    user: user.unwrap_or_default(),
                    language,
                })
            }
            intents::FORGET_AREA => {
                return Ok(Reply::ForgetArea {
                    user: user.unwrap_or_default(),
                    language,
                })
            }
            intents::HELP => ResponseEnvelope::speak(texts.help).ask(texts.reprompt),
            intents::STOP | intents::CANCEL => ResponseEnvelope::speak(texts.goodbye).end_session(),
            // The user asked to go home: leave quietly.
            intents::NAVIGATE_HOME => ResponseEnvelope::empty().end_session(),
            intents::FALLBACK => ResponseEnvelope::speak(texts.fallback).ask(texts.reprompt),
            unknown => {
                // An intent added to the model but not to the code: answer, and tell the developer.
                tracing::warn!(
                    intent = unknown,
                    "unknown intent answered with the fallback"
                );
                ResponseEnvelope::speak(texts.fallback).ask(texts.reprompt)
            }
        };
        Ok(Reply::Answer(answer))
    }
}

/// The prefix of every user id Alexa sends.
const USER_ID_PREFIX: &str = "amzn1.ask.account.";

/// A Unicast test alert to the asking user, in the region of the request's `apiEndpoint`. The
/// Alexa requestId is its id: if Alexa repeats the request, the alert is not sent twice.
/// With the notifications permission denied nothing is sent: the user hears how to turn it on.
/// When the request does not say, the send is tried (a 403 leads to the same words).
/// A user id that is not one Alexa sends (empty, say) is refused naming its field: a Unicast to
/// it would only be refused by Alexa. The id itself is not quoted (personal data).
fn test_alert(envelope: &RequestEnvelope, language: Language) -> Result<Reply, SkillError> {
    let permission = envelope.notifications_permission();
    let user = envelope.user().map(|u| u.user_id.clone());
    if let Some(id) = &user {
        if id.len() <= USER_ID_PREFIX.len() || !id.starts_with(USER_ID_PREFIX) {
            let problem = if id.trim().is_empty() {
                "is empty"
            } else {
                "is not a user id"
            };
            return Err(malformed(
                envelope.user_field(),
                format!("{problem}; expected the id Alexa sends, starting with {USER_ID_PREFIX}"),
            ));
        }
    }
    let (Some(user), false) = (user, permission == Permission::Denied) else {
        return Ok(Reply::Answer(Skill::test_alert_answer(
            language,
            Status::NotSubscribed,
        )));
    };
    let region = envelope.api_endpoint().and_then(Region::from_api_endpoint);
    let sources = speech::LOCALES
        .iter()
        .map(|locale| {
            let text = Language::from_locale(Some(locale))
                .texts()
                .test_alert_source;
            (locale.to_string(), text.to_owned())
        })
        .collect();
    let id = envelope
        .request
        .request_id
        .clone()
        .unwrap_or_else(|| format!("test-{user}"));
    Ok(Reply::SendTestAlert {
        alert: Box::new(NotificationRequest::unicast_weather_alert(
            TEST_ALERT_TYPE,
            sources,
            id,
            user,
            region,
        )),
        language,
        permission_unknown: permission == Permission::Unknown,
    })
}

/// Alexa's `{type, message}` error object as one log field.
fn error_text(error: Option<&Value>) -> String {
    error
        .map(|e| e.to_string())
        .unwrap_or_else(|| "(none)".into())
}

/// A launch: the dispatcher finds the user's area ([`Reply::Locate`]). A request naming no
/// user (a hand-made sample) gets the welcome without an area.
fn launch(envelope: &RequestEnvelope, language: Language) -> Reply {
    let notifications = envelope.notifications_granted();
    let Some(user) = envelope.user().map(|u| u.user_id.clone()) else {
        return Reply::Answer(Skill::launch_answer(
            language,
            notifications,
            &LaunchArea::Unreadable,
        ));
    };
    let address_granted = envelope.permission(ADDRESS_PERMISSION) == Permission::Granted;
    let endpoint = envelope.api_endpoint();
    let lookup = match (address_granted, endpoint, envelope.device_id()) {
        (true, Some(endpoint), Some(device)) => {
            envelope.api_access_token().map(|token| AddressQuery {
                endpoint: endpoint.to_owned(),
                device_id: device.to_owned(),
                token: token.clone(),
            })
        }
        _ => None,
    };
    Reply::Locate(Box::new(Locate {
        user,
        language,
        notifications,
        address_granted,
        lookup,
        region: endpoint
            .and_then(Region::from_api_endpoint)
            .map(|r| r.code().to_owned()),
        locale: envelope.request.locale.clone(),
    }))
}

/// SetZipCodeIntent: a ZIP the table knows becomes [`Reply::SetArea`]; anything else is
/// asked again, with the session kept open.
fn set_zip_code(envelope: &RequestEnvelope, intent: &Intent, language: Language) -> Reply {
    let texts = language.texts();
    let Some(user) = envelope.user().map(|u| u.user_id.clone()) else {
        return Reply::Answer(ResponseEnvelope::speak(texts.area_failed).end_session());
    };
    let Some(zip) = intent
        .slot(intents::ZIP_CODE_SLOT)
        .and_then(area::zip_from_number)
    else {
        return Reply::Answer(ResponseEnvelope::speak(texts.zip_missing).ask(texts.area_reprompt));
    };
    // A German speaker's five digits are a Postleitzahl; anyone else's a US ZIP code.
    let country = match language {
        Language::De => "DE",
        Language::EnUs | Language::EnGb => "US",
    };
    let Located::Placed {
        country,
        postal,
        places,
    } = area::locate(country, &zip)
    else {
        // Digit by digit: "7 3 0 1 9" is read as a code, not "seventy-three thousand".
        let spoken: Vec<String> = zip.chars().map(String::from).collect();
        let text = texts.zip_unknown.replace("{zip}", &spoken.join(" "));
        return Reply::Answer(ResponseEnvelope::speak(&text).ask(texts.area_reprompt));
    };
    let endpoint = envelope.api_endpoint();
    Reply::SetArea {
        area: UserArea {
            user_id: user,
            postal_code: postal,
            country: country.into(),
            places: places.iter().map(Place::key).collect(),
            region: endpoint
                .and_then(Region::from_api_endpoint)
                .map(|r| r.code().to_owned()),
            locale: envelope.request.locale.clone(),
            source: AreaSource::Voice,
        },
        language,
    }
}

/// The area as said: its counties ("Cleveland County, Oklahoma"), or that alerts cover the
/// United States only.
fn say_area(texts: &Texts, area: &UserArea) -> String {
    if area.places.is_empty() && area.country != "US" {
        return texts.area_abroad.to_owned();
    }
    let places: Vec<Place> = area
        .places
        .iter()
        .filter_map(|key| Place::parse(key.as_str()))
        .collect();
    let mut names = area::locate::say_all(&places);
    if names.is_empty() {
        // Places the table no longer knows: the postal code still names the area.
        let spoken: Vec<String> = area.postal_code.chars().map(String::from).collect();
        names.push(texts.postal_code_named.replace("{code}", &spoken.join(" ")));
    }
    texts.area_is.replace("{area}", &join(&names, texts.and))
}

/// "A", "A and B", "A, B and C".
fn join(items: &[String], and: &str) -> String {
    match items {
        [] => String::new(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} {and} {last}", rest.join(", ")),
    }
}

/// Refuses a request unless it names a skill id and every skill id it carries (the context's
/// and the session's, where Alexa puts them) is ours: a request assembled from two skills'
/// parts is not ours either.
pub fn verify_skill_id(payload: &Value, expected: &str) -> Result<(), SkillError> {
    const CONTEXT: &str = "context.System.application.applicationId";
    const SESSION: &str = "session.application.applicationId";
    let carried = [
        (
            CONTEXT,
            payload.pointer("/context/System/application/applicationId"),
        ),
        (
            SESSION,
            payload.pointer("/session/application/applicationId"),
        ),
    ];
    if carried.iter().all(|(_, value)| value.is_none()) {
        return Err(malformed(
            CONTEXT,
            format!(
                "required field is missing (and so is {SESSION}); every Alexa request names its skill there"
            ),
        ));
    }
    for (field, value) in carried {
        let Some(value) = value else { continue };
        let Some(received) = value.as_str() else {
            return Err(malformed(field, "expected a string (the skill id)"));
        };
        if received != expected {
            return Err(SkillError::WrongSkill {
                received: received.to_owned(),
                expected: expected.to_owned(),
                field,
            });
        }
    }
    Ok(())
}

fn skill_event(envelope: &RequestEnvelope) -> Result<SkillEvent, SkillError> {
    let user_id = envelope
        .context
        .as_ref()
        .and_then(|c| c.system.as_ref())
        .and_then(|s| s.user.as_ref())
        .map(|u| u.user_id.clone())
        .ok_or_else(|| {
            malformed(
                "context.System.user.userId",
                "required field is missing; skill events name the user there",
            )
        })?;
    let body = envelope.request.body.clone().filter(|b| !b.is_null());
    Ok(match envelope.request.kind.as_str() {
        "AlexaSkillEvent.ProactiveSubscriptionChanged" => {
            // A missing body or missing `subscriptions` means: unsubscribed from everything.
            let body: SubscriptionChangedBody = match body {
                Some(b) => parse("request.body", b)?,
                None => SubscriptionChangedBody::default(),
            };
            SkillEvent::SubscriptionsChanged {
                user_id,
                event_names: body
                    .subscriptions
                    .unwrap_or_default()
                    .into_iter()
                    .map(|s| s.event_name)
                    .collect(),
                timestamp: envelope.request.timestamp.clone(),
            }
        }
        "AlexaSkillEvent.SkillEnabled" => SkillEvent::Enabled {
            user_id,
            timestamp: envelope.request.timestamp.clone(),
        },
        "AlexaSkillEvent.SkillDisabled" => SkillEvent::Disabled {
            user_id,
            timestamp: envelope.request.timestamp.clone(),
        },
        "AlexaSkillEvent.SkillAccountLinked" => SkillEvent::AccountLinked { user_id },
        "AlexaSkillEvent.SkillPermissionAccepted" | "AlexaSkillEvent.SkillPermissionChanged" => {
            let body: PermissionBody = match body {
                Some(b) => parse("request.body", b)?,
                None => PermissionBody::default(),
            };
            SkillEvent::PermissionsChanged {
                user_id,
                scopes: body
                    .accepted_permissions
                    .unwrap_or_default()
                    .into_iter()
                    .map(|p| p.scope)
                    .collect(),
            }
        }
        other => {
            return Err(SkillError::Unsupported {
                received: other.to_owned(),
            })
        }
    })
}

impl SkillEvent {
    /// What the state table keeps of this event, if anything: subscriptions and whether the
    /// skill is enabled, ordered by the event's timestamp (skill events arrive out of order).
    pub fn user_change(&self) -> Result<Option<UserChange>, SkillError> {
        let (user_id, timestamp, kind) = match self {
            SkillEvent::SubscriptionsChanged {
                user_id,
                event_names,
                timestamp,
            } => (
                user_id,
                timestamp,
                UserChangeKind::Subscriptions(event_names.clone()),
            ),
            SkillEvent::Enabled { user_id, timestamp } => {
                (user_id, timestamp, UserChangeKind::Enabled)
            }
            SkillEvent::Disabled { user_id, timestamp } => {
                (user_id, timestamp, UserChangeKind::Disabled)
            }
            SkillEvent::PermissionsChanged { .. } | SkillEvent::AccountLinked { .. } => {
                return Ok(None)
            }
        };
        let malformed = |problem: String| malformed("request.timestamp", problem);
        let text = timestamp.as_deref().ok_or_else(|| {
            malformed("required field is missing; skill events are ordered by it".into())
        })?;
        let at = chrono::DateTime::parse_from_rfc3339(text)
            .map_err(|_| {
                malformed(format!(
                    "is {text:?}; expected an ISO 8601 time such as 2026-11-24T10:00:00Z"
                ))
            })?
            .with_timezone(&chrono::Utc);
        Ok(Some(UserChange {
            user_id: user_id.clone(),
            at,
            kind,
        }))
    }
}

fn log_skill_event(event: &SkillEvent) {
    match event {
        SkillEvent::SubscriptionsChanged {
            user_id,
            event_names,
            timestamp,
        } => tracing::info!(
            user_id,
            subscriptions = ?event_names,
            unsubscribed_from_all = event_names.is_empty(),
            timestamp = timestamp.as_deref().unwrap_or("(none)"),
            "proactive subscription changed"
        ),
        SkillEvent::Enabled { user_id, .. } => tracing::info!(user_id, "skill enabled"),
        SkillEvent::Disabled { user_id, .. } => tracing::info!(user_id, "skill disabled"),
        SkillEvent::AccountLinked { user_id } => tracing::info!(user_id, "account linked"),
        SkillEvent::PermissionsChanged { user_id, scopes } => {
            tracing::info!(user_id, scopes = ?scopes, "permissions changed")
        }
    }
}

#[cfg(test)]
mod tests;
