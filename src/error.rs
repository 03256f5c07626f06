//! The errors an invocation can end with.
//!
//! An invocation that returns an error is reported to Lambda with `errorType` set to
//! [`HandlerError::error_type`], so CloudWatch metric filters and failure destinations can
//! tell a wrong skill id from a malformed trigger without parsing the message.

use lambda_runtime::Diagnostic;

use crate::state::StateError;
use crate::weather::FeedError;

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

    /// An Alexa request for another skill. Nothing else is done with it.
    #[error(
        "refused: the request is for skill {received:?} (from `{field}`), \
         but this function serves only ALEXA_SKILL_ID {expected:?}"
    )]
    WrongSkill {
        received: String,
        expected: String,
        field: &'static str,
    },

    /// An Alexa request type this skill does not handle.
    #[error("unsupported Alexa request: field `request.type` is {received:?}; expected one of {expected}")]
    UnsupportedRequest {
        received: String,
        expected: &'static str,
    },

    /// Some events were not delivered (refused, or retries and time ran out). The invocation
    /// fails so that Lambda retries it; a retry is safe, the referenceIds are the same.
    #[error("{failed} of {total} send(s) not delivered; the invocation fails so Lambda retries it (safe: the same referenceIds, Alexa answers 409 for those already delivered): {detail}")]
    SendFailed {
        failed: usize,
        total: usize,
        detail: String,
    },

    /// Another invocation holds the claim on these events (the same trigger delivered twice at
    /// once). This one fails so that Lambda retries it after that one ends: by then the events
    /// are sent (the retry skips them) or released (the retry sends them).
    #[error("referenceId(s) {} are being sent by another invocation; this invocation fails so Lambda retries it once that one has ended (its retry skips what was sent)", reference_ids.join(", "))]
    SendInProgress { reference_ids: Vec<String> },

    /// The state table could not be read or written; nothing was sent without its record.
    #[error("{0}; nothing was sent, the invocation fails so Lambda retries it")]
    State(#[from] StateError),

    /// The weather feed could not be read; nothing was announced or marked as sent.
    #[error("{0}; nothing was announced, the invocation fails so it is retried (the next scheduled poll tries again as well)")]
    Feed(#[from] FeedError),

    /// A part of the function that this invocation needs is not configured.
    #[error("{what} needs {var}: {fix}")]
    NotConfigured {
        what: &'static str,
        var: &'static str,
        fix: &'static str,
    },

    /// The HTTP client could not be built (no usable TLS set-up on this host).
    #[error("the HTTP client could not be set up: {0}")]
    Setup(String),
}

impl HandlerError {
    /// A stable, machine-readable name for the error (Lambda's `errorType`).
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::UnrecognisedInput { .. } => "UnrecognisedInput",
            HandlerError::Malformed { .. } => "MalformedInput",
            HandlerError::WrongSkill { .. } => "WrongSkillId",
            HandlerError::UnsupportedRequest { .. } => "UnsupportedAlexaRequest",
            HandlerError::SendFailed { .. } => "SendFailed",
            HandlerError::SendInProgress { .. } => "SendInProgress",
            HandlerError::State(_) => "StateUnavailable",
            HandlerError::Feed(_) => "FeedUnavailable",
            HandlerError::NotConfigured { .. } => "NotConfigured",
            HandlerError::Setup(_) => "SetupFailed",
        }
    }

    /// Turns a `serde_path_to_error` failure into an error that names the full path of the
    /// offending field, e.g. `request.intent.name`.
    pub fn from_serde(
        shape: &'static str,
        prefix: &str,
        err: serde_path_to_error::Error<serde_json::Error>,
    ) -> Self {
        let inner = err.path().to_string();
        let mut field = match (prefix.is_empty(), inner.as_str()) {
            (_, ".") => prefix.to_owned(),
            (true, _) => inner.clone(),
            (false, _) => format!("{prefix}.{inner}"),
        };
        let mut problem = err.into_inner().to_string();
        // serde_json says "missing field `x` at line 1 column 2"; the position in a JSON
        // value we re-serialised means nothing to the sender, the field name does.
        if let Some(pos) = problem.find(" at line ") {
            problem.truncate(pos);
        }
        if let Some(missing) = problem
            .strip_prefix("missing field `")
            .and_then(|s| s.strip_suffix('`'))
        {
            field = if field.is_empty() || field == "." {
                missing.to_owned()
            } else {
                format!("{field}.{missing}")
            };
            problem = "required field is missing".to_owned();
        }
        if field.is_empty() {
            field = ".".to_owned();
        }
        HandlerError::Malformed {
            shape,
            field,
            problem,
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

/// Deserialises `value` into `T`, with errors naming the field's path below `prefix`.
pub fn parse<T: serde::de::DeserializeOwned>(
    shape: &'static str,
    prefix: &str,
    value: serde_json::Value,
) -> Result<T, HandlerError> {
    serde_path_to_error::deserialize(value).map_err(|e| HandlerError::from_serde(shape, prefix, e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;
    use serde_json::json;

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Outer {
        inner: Inner,
    }
    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Inner {
        name: String,
        count: u32,
    }

    #[test]
    fn a_missing_field_is_named_with_its_full_path() {
        let err =
            parse::<Outer>("test input", "request", json!({"inner": {"count": 1}})).unwrap_err();
        assert_eq!(
            err,
            HandlerError::Malformed {
                shape: "test input",
                field: "request.inner.name".into(),
                problem: "required field is missing".into()
            }
        );
    }

    #[test]
    fn a_wrong_type_is_named_with_what_was_expected() {
        let err = parse::<Outer>(
            "test input",
            "",
            json!({"inner": {"name": "a", "count": "x"}}),
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`inner.count`"), "{text}");
        assert!(text.contains("expected u32"), "{text}");
        assert!(!text.contains("line 1"), "{text}");
    }

    #[test]
    fn diagnostics_carry_a_stable_error_type() {
        let d: Diagnostic = HandlerError::UnrecognisedInput {
            received: "a string".into(),
        }
        .into();
        assert_eq!(d.error_type, "UnrecognisedInput");
        assert!(d.error_message.contains("an SNS event"));
    }
}
