//! Serde types for Alexa's request and response envelopes: only the parts this skill reads
//! or writes. Everything Alexa may leave out (`session`, `device`, `apiEndpoint`, `locale`,
//! ...) is optional, because skill events and `sam local generate-event` samples lack them.
//!
//! `context.System.apiAccessToken` is read only to ask the Device Address API for the user's
//! country and postal code, and is never logged: it is kept in [`ApiAccessToken`], whose
//! `Debug` prints no part of it, so a logged envelope cannot leak it.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use crate::alexa::address::ApiAccessToken;

/// The notifications permission a user grants in the Alexa app.
pub const NOTIFICATIONS_PERMISSION: &str = "alexa::devices:all:notifications:write";
/// The permission to read the device's country and postal code (Device Address API).
pub const ADDRESS_PERMISSION: &str = "read::alexa:device:all:address:country_and_postal_code";

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestEnvelope {
    pub version: String,
    #[serde(default)]
    pub session: Option<Session>,
    #[serde(default)]
    pub context: Option<Context>,
    pub request: Request,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Session {
    #[serde(default)]
    pub new: Option<bool>,
    #[serde(default)]
    pub session_id: Option<String>,
    #[serde(default)]
    pub user: Option<User>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Context {
    #[serde(rename = "System", default)]
    pub system: Option<System>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct System {
    #[serde(default)]
    pub user: Option<User>,
    #[serde(default)]
    pub api_endpoint: Option<String>,
    #[serde(default)]
    pub api_access_token: Option<ApiAccessToken>,
    #[serde(default)]
    pub device: Option<Device>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Device {
    #[serde(default)]
    pub device_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub user_id: String,
    #[serde(default)]
    pub permissions: Option<Permissions>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Permissions {
    #[serde(default)]
    pub scopes: Option<HashMap<String, ScopeStatus>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ScopeStatus {
    pub status: String,
}

/// The `request` object. Its `type` decides which of the optional fields matter; the
/// skill checks those per type so that a missing one is named precisely.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Request {
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub request_id: Option<String>,
    #[serde(default)]
    pub timestamp: Option<String>,
    #[serde(default)]
    pub locale: Option<String>,
    #[serde(default)]
    pub intent: Option<Intent>,
    /// SessionEndedRequest: USER_INITIATED, ERROR or EXCEEDED_MAX_REPROMPTS.
    #[serde(default)]
    pub reason: Option<String>,
    /// SessionEndedRequest and System.ExceptionEncountered: `{type, message}`.
    #[serde(default)]
    pub error: Option<Value>,
    /// Skill events carry their data here; parsed per event type.
    #[serde(default)]
    pub body: Option<Value>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Intent {
    pub name: String,
    #[serde(default)]
    pub slots: Option<HashMap<String, Slot>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Slot {
    /// Missing when the user did not fill the slot; `"?"` when Alexa did not understand.
    #[serde(default)]
    pub value: Option<String>,
}

impl Intent {
    /// The value of the slot `name`, if the user filled it.
    pub fn slot(&self, name: &str) -> Option<&str> {
        self.slots
            .as_ref()
            .and_then(|s| s.get(name))
            .and_then(|s| s.value.as_deref())
    }
}

/// `AlexaSkillEvent.ProactiveSubscriptionChanged` body.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubscriptionChangedBody {
    #[serde(default)]
    pub subscriptions: Option<Vec<Subscription>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    pub event_name: String,
}

/// `AlexaSkillEvent.SkillPermissionAccepted` / `SkillPermissionChanged` body.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PermissionBody {
    #[serde(default)]
    pub accepted_permissions: Option<Vec<AcceptedPermission>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AcceptedPermission {
    pub scope: String,
}

impl RequestEnvelope {
    /// The user: `context.System.user`, or the session's for older request shapes.
    pub fn user(&self) -> Option<&User> {
        self.context
            .as_ref()
            .and_then(|c| c.system.as_ref())
            .and_then(|s| s.user.as_ref())
            .or_else(|| self.session.as_ref().and_then(|s| s.user.as_ref()))
    }

    /// Where [`RequestEnvelope::user`] was read from, for an error that names it.
    pub fn user_field(&self) -> &'static str {
        if self.system().and_then(|s| s.user.as_ref()).is_some() {
            "context.System.user.userId"
        } else {
            "session.user.userId"
        }
    }

    pub fn api_endpoint(&self) -> Option<&str> {
        self.context
            .as_ref()
            .and_then(|c| c.system.as_ref())
            .and_then(|s| s.api_endpoint.as_deref())
    }

    fn system(&self) -> Option<&System> {
        self.context.as_ref().and_then(|c| c.system.as_ref())
    }

    /// `context.System.apiAccessToken`, for the Device Address API only.
    pub fn api_access_token(&self) -> Option<&ApiAccessToken> {
        self.system().and_then(|s| s.api_access_token.as_ref())
    }

    /// `context.System.device.deviceId`.
    pub fn device_id(&self) -> Option<&str> {
        self.system()
            .and_then(|s| s.device.as_ref())
            .and_then(|d| d.device_id.as_deref())
    }

    /// What the request says of the notifications permission. Amazon does not promise a
    /// scope entry in every request, so an absent one (or a status it does not document) is
    /// [`Permission::Unknown`], not a refusal.
    pub fn notifications_permission(&self) -> Permission {
        self.permission(NOTIFICATIONS_PERMISSION)
    }

    /// What the request says of the permission `scope`.
    pub fn permission(&self, scope: &str) -> Permission {
        let status = self
            .user()
            .and_then(|u| u.permissions.as_ref())
            .and_then(|p| p.scopes.as_ref())
            .and_then(|s| s.get(scope))
            .map(|s| s.status.as_str());
        match status {
            Some("GRANTED") => Permission::Granted,
            Some("DENIED") => Permission::Denied,
            _ => Permission::Unknown,
        }
    }

    /// Whether the request says the notifications permission is granted.
    pub fn notifications_granted(&self) -> bool {
        self.notifications_permission() == Permission::Granted
    }
}

/// A permission's status as a request reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Permission {
    Granted,
    Denied,
    /// The request carries no status for it.
    Unknown,
}

// ---- response ----

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResponseEnvelope {
    pub version: &'static str,
    pub response: Response,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Response {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output_speech: Option<OutputSpeech>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reprompt: Option<Reprompt>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub should_end_session: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum OutputSpeech {
    PlainText { text: String },
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Reprompt {
    pub output_speech: OutputSpeech,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "type")]
pub enum Card {
    /// Shows a button in the Alexa app that asks the user for the listed permissions.
    AskForPermissionsConsent { permissions: Vec<String> },
}

impl ResponseEnvelope {
    /// `{"version":"1.0","response":{}}`: the acknowledgement for skill events and the
    /// answer to SessionEndedRequest (Alexa ignores speech there).
    pub fn empty() -> Self {
        ResponseEnvelope {
            version: "1.0",
            response: Response::default(),
        }
    }

    pub fn speak(text: &str) -> Self {
        ResponseEnvelope {
            version: "1.0",
            response: Response {
                output_speech: Some(plain(text)),
                ..Response::default()
            },
        }
    }

    /// Keeps the microphone open, asking `reprompt` if the user says nothing.
    pub fn ask(mut self, reprompt: &str) -> Self {
        self.response.reprompt = Some(Reprompt {
            output_speech: plain(reprompt),
        });
        self.response.should_end_session = Some(false);
        self
    }

    pub fn end_session(mut self) -> Self {
        self.response.should_end_session = Some(true);
        self
    }

    pub fn with_card(mut self, card: Card) -> Self {
        self.response.card = Some(card);
        self
    }
}

fn plain(text: &str) -> OutputSpeech {
    OutputSpeech::PlainText {
        text: text.to_owned(),
    }
}
