//! Reading JSON so that every error names the field: the one error shape every layer uses for
//! "this field is wrong", and the deserialiser that fills it in.
//!
//! The layers wrap [`FieldError`] with what they know (the Lambda adapter adds which input it
//! was: "SNS event", "notification request", "Alexa request"); this module knows no input.

use serde_json::Value;

/// A field that is missing or wrong: its full path (`request.intent.name`,
/// `detail.payload.alert.garbageTypes[0]`) and what was expected there.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("field `{field}`: {problem}")]
pub struct FieldError {
    pub field: String,
    pub problem: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, problem: impl Into<String>) -> Self {
        FieldError {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

/// Deserialises `value` into `T`, with errors naming the field's path below `prefix`.
pub fn parse<T: serde::de::DeserializeOwned>(prefix: &str, value: Value) -> Result<T, FieldError> {
    serde_path_to_error::deserialize(value).map_err(|e| from_serde(prefix, e))
}

/// Turns a `serde_path_to_error` failure into the full path of the offending field and a
/// problem that reads without the JSON position (a value we re-serialised has no line).
fn from_serde(prefix: &str, err: serde_path_to_error::Error<serde_json::Error>) -> FieldError {
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
    FieldError { field, problem }
}

/// "an object", "a string"...: what a value is, for "expected X, got Y" messages.
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Object(_) => "an object",
        Value::Array(_) => "an array",
        Value::String(_) => "a string",
        Value::Number(_) => "a number",
        Value::Bool(_) => "a boolean",
        Value::Null => "null",
    }
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
        let err = parse::<Outer>("request", json!({"inner": {"count": 1}})).unwrap_err();
        assert_eq!(
            err,
            FieldError::new("request.inner.name", "required field is missing")
        );
    }

    #[test]
    fn a_wrong_type_is_named_with_what_was_expected() {
        let err = parse::<Outer>("", json!({"inner": {"name": "a", "count": "x"}})).unwrap_err();
        let text = err.to_string();
        assert!(text.contains("`inner.count`"), "{text}");
        assert!(text.contains("expected u32"), "{text}");
        assert!(!text.contains("line 1"), "{text}");
    }

    #[test]
    fn json_types_read_as_words() {
        assert_eq!(json_type(&json!([1])), "an array");
        assert_eq!(json_type(&json!(null)), "null");
        assert_eq!(json_type(&json!({})), "an object");
    }
}
