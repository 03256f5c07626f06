//! The Alexa skill: what the function answers when Alexa invokes it.
//!
//! The skill id is checked on the raw payload before anything is parsed, so a request for
//! another skill costs nothing and reveals nothing about how this one would answer.

pub mod envelope;
pub mod speech;

use lambda_runtime::tracing;
use serde_json::Value;

use crate::config::Region;
use crate::error::{parse, HandlerError};
use crate::proactive::{NotificationRequest, Status};
use crate::state::{UserChange, UserChangeKind};
use envelope::{
    Card, PermissionBody, RequestEnvelope, ResponseEnvelope, SubscriptionChangedBody,
    NOTIFICATIONS_PERMISSION,
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
    pub const ALL: [&str; 6] = [HELP, STOP, CANCEL, FALLBACK, NAVIGATE_HOME, TEST_ALERT];
}

/// Request types the skill answers, quoted when an unknown one arrives.
pub const REQUEST_TYPES: &str = "LaunchRequest, IntentRequest, SessionEndedRequest, \
System.ExceptionEncountered, AlexaSkillEvent.ProactiveSubscriptionChanged, \
AlexaSkillEvent.SkillEnabled, AlexaSkillEvent.SkillDisabled, \
AlexaSkillEvent.SkillPermissionAccepted, AlexaSkillEvent.SkillPermissionChanged, \
AlexaSkillEvent.SkillAccountLinked";

const SHAPE: &str = "Alexa request";

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
    },
    /// A skill event that changes what is stored about a user: record `change`, then answer.
    Record {
        change: UserChange,
        answer: ResponseEnvelope,
    },
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

    pub async fn handle(&self, payload: Value) -> Result<Reply, HandlerError> {
        verify_skill_id(&payload, &self.skill_id)?;
        let envelope: RequestEnvelope = parse(SHAPE, "", payload)?;
        let language = Language::from_locale(envelope.request.locale.as_deref());
        self.answer(&envelope, language)
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
            Status::Failed => ResponseEnvelope::speak(texts.test_alert_failed).end_session(),
        }
    }

    fn answer(
        &self,
        envelope: &RequestEnvelope,
        language: Language,
    ) -> Result<Reply, HandlerError> {
        let texts = language.texts();
        let kind = envelope.request.kind.as_str();
        let answer =
            match kind {
                "LaunchRequest" => launch(envelope, texts),
                "IntentRequest" => {
                    let intent = envelope.request.intent.as_ref().ok_or_else(|| {
                        HandlerError::Malformed {
                            shape: SHAPE,
                            field: "request.intent".into(),
                            problem:
                                "required field is missing; an IntentRequest needs intent.name"
                                    .into(),
                        }
                    })?;
                    return Ok(self.intent(envelope, &intent.name, language));
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
                    ResponseEnvelope::empty()
                }
                _ => {
                    return Err(HandlerError::UnsupportedRequest {
                        received: kind.to_owned(),
                        expected: REQUEST_TYPES,
                    })
                }
            };
        Ok(Reply::Answer(answer))
    }

    fn intent(&self, envelope: &RequestEnvelope, name: &str, language: Language) -> Reply {
        let texts = language.texts();
        let answer = match name {
            intents::TEST_ALERT => return test_alert(envelope, language),
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
        Reply::Answer(answer)
    }
}

/// A Unicast test alert to the asking user, in the region of the request's `apiEndpoint`. The
/// Alexa requestId is its id: if Alexa repeats the request, the alert is not sent twice.
/// Without the notifications permission nothing is sent: the user hears how to turn it on.
fn test_alert(envelope: &RequestEnvelope, language: Language) -> Reply {
    let user = envelope.user().map(|u| u.user_id.clone());
    let (Some(user), true) = (user, envelope.notifications_granted()) else {
        return Reply::Answer(Skill::test_alert_answer(language, Status::NotSubscribed));
    };
    let region = envelope.api_endpoint().and_then(Region::from_api_endpoint);
    let sources = crate::proactive::event::SKILL_LOCALES
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
    Reply::SendTestAlert {
        alert: Box::new(NotificationRequest::unicast_weather_alert(
            TEST_ALERT_TYPE,
            sources,
            id,
            user,
            region,
        )),
        language,
    }
}

/// Alexa's `{type, message}` error object as one log field.
fn error_text(error: Option<&Value>) -> String {
    error
        .map(|e| e.to_string())
        .unwrap_or_else(|| "(none)".into())
}

fn launch(envelope: &RequestEnvelope, texts: &Texts) -> ResponseEnvelope {
    if envelope.notifications_granted() {
        let text = format!("{} {}", texts.welcome, texts.notifications_on);
        ResponseEnvelope::speak(&text).ask(texts.reprompt)
    } else {
        let text = format!("{} {}", texts.welcome, texts.notifications_off);
        ResponseEnvelope::speak(&text)
            .with_card(Card::AskForPermissionsConsent {
                permissions: vec![NOTIFICATIONS_PERMISSION.to_owned()],
            })
            .end_session()
    }
}

/// Refuses a request whose skill id is missing or differs from ours, looking only at the
/// two places Alexa puts it.
pub fn verify_skill_id(payload: &Value, expected: &str) -> Result<(), HandlerError> {
    const CONTEXT: &str = "context.System.application.applicationId";
    const SESSION: &str = "session.application.applicationId";
    let (field, value) = match (
        payload.pointer("/context/System/application/applicationId"),
        payload.pointer("/session/application/applicationId"),
    ) {
        (Some(v), _) => (CONTEXT, v),
        (None, Some(v)) => (SESSION, v),
        (None, None) => {
            return Err(HandlerError::Malformed {
                shape: SHAPE,
                field: CONTEXT.into(),
                problem: format!(
                    "required field is missing (and so is {SESSION}); every Alexa request names its skill there"
                ),
            })
        }
    };
    let Some(received) = value.as_str() else {
        return Err(HandlerError::Malformed {
            shape: SHAPE,
            field: field.into(),
            problem: "expected a string (the skill id)".into(),
        });
    };
    if received != expected {
        return Err(HandlerError::WrongSkill {
            received: received.to_owned(),
            expected: expected.to_owned(),
            field,
        });
    }
    Ok(())
}

fn skill_event(envelope: &RequestEnvelope) -> Result<SkillEvent, HandlerError> {
    let user_id = envelope
        .context
        .as_ref()
        .and_then(|c| c.system.as_ref())
        .and_then(|s| s.user.as_ref())
        .map(|u| u.user_id.clone())
        .ok_or_else(|| HandlerError::Malformed {
            shape: SHAPE,
            field: "context.System.user.userId".into(),
            problem: "required field is missing; skill events name the user there".into(),
        })?;
    let body = envelope.request.body.clone().filter(|b| !b.is_null());
    Ok(match envelope.request.kind.as_str() {
        "AlexaSkillEvent.ProactiveSubscriptionChanged" => {
            // A missing body or missing `subscriptions` means: unsubscribed from everything.
            let body: SubscriptionChangedBody = match body {
                Some(b) => parse(SHAPE, "request.body", b)?,
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
                Some(b) => parse(SHAPE, "request.body", b)?,
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
            return Err(HandlerError::UnsupportedRequest {
                received: other.to_owned(),
                expected: REQUEST_TYPES,
            })
        }
    })
}

impl SkillEvent {
    /// What the state table keeps of this event, if anything: subscriptions and whether the
    /// skill is enabled, ordered by the event's timestamp (skill events arrive out of order).
    pub fn user_change(&self) -> Result<Option<UserChange>, HandlerError> {
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
        let malformed = |problem: String| HandlerError::Malformed {
            shape: SHAPE,
            field: "request.timestamp".into(),
            problem,
        };
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
