//! Configuration, read once at start-up from the environment.
//!
//! Every error names the variable and what was expected, because a Lambda that fails at
//! init shows nothing but its log: the message has to be enough to fix the deployment.

use std::fmt;

/// Names of the environment variables this function reads (and the ones reserved for the
/// sender, so nobody reuses them for something else).
pub mod vars {
    pub const SKILL_ID: &str = "ALEXA_SKILL_ID";
    pub const CREDENTIALS_SECRET: &str = "ALEXA_CREDENTIALS_SECRET";
    pub const STAGE: &str = "ALEXA_STAGE";
    pub const REGIONS: &str = "ALEXA_REGIONS";
    pub const API_URL: &str = "ALEXA_API_URL";
    pub const LWA_TOKEN_URL: &str = "LWA_TOKEN_URL";
}

/// Skill ids start with one of these (the second is the pre-2017 format that old skills and
/// `sam local generate-event alexa-skills-kit` still use).
const SKILL_ID_PREFIXES: [&str; 2] = ["amzn1.ask.skill.", "amzn1.echo-sdk-ams.app."];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// The only skill allowed to talk to this function.
    pub skill_id: String,
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("environment variable {var} is not set: {expected}")]
    Missing { var: &'static str, expected: String },
    #[error("environment variable {var} has the value {value:?}: {expected}")]
    Invalid {
        var: &'static str,
        value: String,
        expected: String,
    },
}

impl Config {
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads the configuration through `lookup`, so tests need not touch the process
    /// environment (which is shared between test threads).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let skill_id = lookup(vars::SKILL_ID)
            .map(|v| v.trim().to_owned())
            .filter(|v| !v.is_empty())
            .ok_or_else(|| ConfigError::Missing {
                var: vars::SKILL_ID,
                expected: skill_id_expectation(),
            })?;
        if !SKILL_ID_PREFIXES.iter().any(|p| skill_id.starts_with(p)) {
            return Err(ConfigError::Invalid {
                var: vars::SKILL_ID,
                value: skill_id,
                expected: skill_id_expectation(),
            });
        }
        Ok(Config { skill_id })
    }
}

fn skill_id_expectation() -> String {
    format!(
        "expected the skill id from the Alexa developer console, starting with {}",
        SKILL_ID_PREFIXES.join(" or ")
    )
}

impl fmt::Display for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "skill {}", self.skill_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn lookup(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name| map.get(name).cloned()
    }

    #[test]
    fn reads_the_skill_id() {
        let id = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
        let config = Config::from_lookup(lookup(&[(vars::SKILL_ID, id)])).unwrap();
        assert_eq!(config.skill_id, id);
    }

    #[test]
    fn a_missing_skill_id_names_the_variable() {
        let err = Config::from_lookup(lookup(&[])).unwrap_err();
        assert!(matches!(
            err,
            ConfigError::Missing {
                var: "ALEXA_SKILL_ID",
                ..
            }
        ));
        assert!(err.to_string().contains("ALEXA_SKILL_ID"), "{err}");
        let blank = Config::from_lookup(lookup(&[(vars::SKILL_ID, "  ")])).unwrap_err();
        assert!(matches!(blank, ConfigError::Missing { .. }));
    }

    #[test]
    fn a_malformed_skill_id_says_what_is_expected() {
        let err = Config::from_lookup(lookup(&[(vars::SKILL_ID, "my-skill")])).unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("ALEXA_SKILL_ID") && text.contains("\"my-skill\""),
            "{text}"
        );
        assert!(text.contains("amzn1.ask.skill."), "{text}");
    }
}
