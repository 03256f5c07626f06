//! The errors an invocation can end with: the one Lambda-facing error type, at the top.
//!
//! Each layer has its own error ([`SkillError`], [`SendError`], [`PollError`], the state
//! table's [`StateError`]) with its own message; this type wraps them through `From` and adds
//! what only the adapter knows (the input did not parse as any accepted shape). An invocation
//! that returns an error is reported to Lambda with `errorType` set to
//! [`HandlerError::error_type`], so CloudWatch metric filters and failure destinations can
//! tell a wrong skill id from a malformed trigger without parsing the message.

use lambda_runtime::Diagnostic;

use crate::json::FieldError;
use crate::notifier::SendError;
use crate::skill::SkillError;
use crate::state::StateError;
use crate::weather::PollError;

/// Shapes the function accepts, quoted in every "what is this?" error.
pub const ACCEPTED_SHAPES: &str = "an Alexa request envelope (keys version, context, request), \
an SNS event (Records[].EventSource = \"aws:sns\") or an EventBridge event (keys detail-type, source, detail)";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum HandlerError {
    /// The payload matched none of the accepted shapes.
    #[error("unrecognised input: received {received}; expected {ACCEPTED_SHAPES}")]
    UnrecognisedInput { received: String },

    /// The payload is one of the known shapes but a field is missing or has the wrong type.
    #[error("malformed {shape}: field `{field}`: {problem}")]
    Malformed {
        shape: &'static str,
        field: String,
        problem: String,
    },

    /// The skill refused an Alexa request.
    #[error(transparent)]
    Skill(#[from] SkillError),

    /// A trigger's notifications were not (all) sent.
    #[error(transparent)]
    Send(#[from] SendError),

    /// The scheduled poll failed.
    #[error(transparent)]
    Poll(#[from] PollError),

    /// A skill event could not be recorded in the state table.
    #[error("{0}; nothing was sent, the invocation fails so Lambda retries it")]
    State(#[from] StateError),
}

impl From<crate::skill::conversation::AnswerError> for HandlerError {
    fn from(err: crate::skill::conversation::AnswerError) -> Self {
        use crate::skill::conversation::AnswerError;
        match err {
            AnswerError::Skill(err) => HandlerError::Skill(err),
            AnswerError::State(err) => HandlerError::State(err),
        }
    }
}

impl HandlerError {
    /// A field error found in the input taken for `shape` ("SNS event", "notification
    /// request"...).
    pub fn malformed(shape: &'static str, error: FieldError) -> Self {
        HandlerError::Malformed {
            shape,
            field: error.field,
            problem: error.problem,
        }
    }

    /// A stable, machine-readable name for the error (Lambda's `errorType`).
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::UnrecognisedInput { .. } => "UnrecognisedInput",
            HandlerError::Malformed { .. } => "MalformedInput",
            HandlerError::Skill(err) => err.error_type(),
            HandlerError::Send(err) => err.error_type(),
            HandlerError::Poll(err) => err.error_type(),
            HandlerError::State(_) => "StateUnavailable",
        }
    }
}

impl From<HandlerError> for Diagnostic {
    fn from(err: HandlerError) -> Self {
        Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn diagnostics_carry_a_stable_error_type() {
        let d: Diagnostic = HandlerError::UnrecognisedInput {
            received: "a string".into(),
        }
        .into();
        assert_eq!(d.error_type, "UnrecognisedInput");
        assert!(d.error_message.contains("an SNS event"));
    }

    #[test]
    fn wrapped_errors_keep_their_type_and_message() {
        let err: HandlerError = SendError::InProgress {
            reference_ids: vec!["r1".into()],
        }
        .into();
        assert_eq!(err.error_type(), "SendInProgress");
        assert!(
            err.to_string()
                .starts_with("referenceId(s) r1 are being sent"),
            "{err}"
        );
        let err: HandlerError = PollError::Send(SendError::State(StateError::TableNotFound {
            table: "t".into(),
        }))
        .into();
        assert_eq!(err.error_type(), "StateUnavailable");
        let err = HandlerError::malformed(
            "notification request",
            FieldError::new("detail.alertType", "required field is missing"),
        );
        assert_eq!(
            err.to_string(),
            "malformed notification request: field `detail.alertType`: required field is missing"
        );
    }
}
