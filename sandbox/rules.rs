//! The sandbox's own rules for the eight proactive-event schemas, and the check of a payload
//! and its `localizedAttributes` against them.
//!
//! The rules are data (`schemas.json`, embedded at build time), written from the API notes and
//! Amazon's schema page, not taken from the product's table: if the product's table is wrong,
//! the sandbox refuses what the product builds, and the tests show it. Every object refuses
//! fields its rule does not list, so a misspelt field cannot slip through.

use chrono::DateTime;
use serde::Deserialize;
use serde_json::Value;

/// A localizable string holding this prefix names a key of every `localizedAttributes` object.
pub const LOCALIZED: &str = "localizedattribute:";

const RULES_JSON: &str = include_str!("schemas.json");

/// What a check refused: the path of the field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub field: String,
    pub problem: String,
}

impl Problem {
    fn at(field: impl Into<String>, problem: impl Into<String>) -> Problem {
        Problem {
            field: field.into(),
            problem: problem.into(),
        }
    }
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.field, self.problem)
    }
}

/// The rules of every schema, read from `schemas.json`.
#[derive(Debug)]
pub struct Rules {
    schemas: Vec<Schema>,
}

#[derive(Debug)]
pub struct Schema {
    pub name: String,
    /// The locales Alexa supports for this schema; `None` = any.
    only_locales: Option<Vec<String>>,
    payload: Vec<Rule>,
}

#[derive(Debug)]
struct Rule {
    name: String,
    required: bool,
    shape: Shape,
}

#[derive(Debug)]
enum Shape {
    Text {
        localizable: bool,
    },
    Integer,
    Time,
    OneOf(Vec<String>),
    /// Distinct values of a closed set, 1 to `max` of them.
    SetOf {
        values: Vec<String>,
        max: usize,
    },
    Object(Vec<Rule>),
}

// The file's form, checked field by field: a typo in schemas.json stops the sandbox at start.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RulesFile {
    #[serde(rename = "about")]
    _about: serde::de::IgnoredAny,
    schemas: Vec<SchemaFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct SchemaFile {
    name: String,
    only_locales: Option<Vec<String>>,
    payload: Vec<FieldFile>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct FieldFile {
    name: String,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    optional: bool,
    #[serde(default)]
    localizable: bool,
    values: Option<Vec<String>>,
    max_items: Option<usize>,
    fields: Option<Vec<FieldFile>>,
}

impl Rules {
    /// Reads the embedded `schemas.json`; `Err` says what in it is malformed.
    pub fn load() -> Result<Rules, String> {
        Rules::parse(RULES_JSON)
    }

    fn parse(text: &str) -> Result<Rules, String> {
        let file: RulesFile =
            serde_json::from_str(text).map_err(|e| format!("schemas.json: {e}"))?;
        let mut schemas: Vec<Schema> = Vec::new();
        for s in file.schemas {
            if schemas.iter().any(|known| known.name == s.name) {
                return Err(format!("schemas.json: {} is listed twice", s.name));
            }
            let payload = rules_of(s.payload, &s.name)?;
            schemas.push(Schema {
                name: s.name,
                only_locales: s.only_locales,
                payload,
            });
        }
        Ok(Rules { schemas })
    }

    pub fn schema(&self, name: &str) -> Option<&Schema> {
        self.schemas.iter().find(|s| s.name == name)
    }

    #[cfg(test)]
    pub fn names(&self) -> Vec<&str> {
        self.schemas.iter().map(|s| s.name.as_str()).collect()
    }
}

fn rules_of(fields: Vec<FieldFile>, path: &str) -> Result<Vec<Rule>, String> {
    let mut rules: Vec<Rule> = Vec::new();
    for field in fields {
        let here = format!("{path}.{}", field.name);
        if rules.iter().any(|r| r.name == field.name) {
            return Err(format!("schemas.json: {here} is listed twice"));
        }
        let bad = |what: &str| Err(format!("schemas.json: {here}: {what}"));
        if field.localizable && field.kind != "string" {
            return bad("only a string can be localizable");
        }
        if field.values.is_some() && field.kind != "enum" && field.kind != "enum-list" {
            return bad("values belong to an enum or enum-list");
        }
        if field.max_items.is_some() && field.kind != "enum-list" {
            return bad("maxItems belongs to an enum-list");
        }
        if field.fields.is_some() && field.kind != "object" {
            return bad("fields belong to an object");
        }
        let shape = match field.kind.as_str() {
            "string" => Shape::Text {
                localizable: field.localizable,
            },
            "integer" => Shape::Integer,
            "time" => Shape::Time,
            "enum" => match field.values {
                Some(values) if !values.is_empty() => Shape::OneOf(values),
                _ => return bad("an enum needs values"),
            },
            "enum-list" => match (field.values, field.max_items) {
                (Some(values), Some(max)) if !values.is_empty() && max > 0 => {
                    Shape::SetOf { values, max }
                }
                _ => return bad("an enum-list needs values and maxItems"),
            },
            "object" => match field.fields {
                Some(fields) if !fields.is_empty() => Shape::Object(rules_of(fields, &here)?),
                _ => return bad("an object needs fields"),
            },
            other => return bad(&format!("unknown type {other:?}")),
        };
        rules.push(Rule {
            name: field.name,
            required: !field.optional,
            shape,
        });
    }
    Ok(rules)
}

impl Schema {
    /// Checks `payload` (found at `path`); returns the `localizedattribute:` keys it uses.
    pub fn check_payload(&self, payload: &Value, path: &str) -> Result<Vec<String>, Problem> {
        let mut keys = Vec::new();
        check_object(&self.payload, payload, path, &mut keys)?;
        Ok(keys)
    }

    /// Checks `localizedAttributes` (found at `path`): one object per locale, each locale
    /// once and supported by the schema, every value a string, and every key the payload
    /// uses present and not blank in every locale.
    pub fn check_localized(
        &self,
        attributes: &Value,
        keys: &[String],
        path: &str,
    ) -> Result<(), Problem> {
        let Some(items) = attributes.as_array() else {
            return Err(Problem::at(
                path,
                format!(
                    "must be an array of objects like {{\"locale\": \"en-US\", \"<key>\": \"<text>\"}}, not {}",
                    type_of(attributes)
                ),
            ));
        };
        if let (true, Some(key)) = (items.is_empty(), keys.first()) {
            return Err(Problem::at(
                path,
                format!("is empty, but event.payload uses {LOCALIZED}{key}"),
            ));
        }
        let mut seen: Vec<&str> = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let here = format!("{path}[{i}]");
            let Some(object) = item.as_object() else {
                return Err(Problem::at(
                    here,
                    format!(
                        "must be an object with a locale and its texts, not {}",
                        type_of(item)
                    ),
                ));
            };
            let locale = match object.get("locale") {
                None | Some(Value::Null) => {
                    return Err(Problem::at(
                        format!("{here}.locale"),
                        "is required (a locale such as en-US)",
                    ))
                }
                Some(Value::String(l)) if is_locale(l) => l.as_str(),
                Some(other) => {
                    return Err(Problem::at(
                        format!("{here}.locale"),
                        format!("{other} is not a locale such as en-US"),
                    ))
                }
            };
            if seen.contains(&locale) {
                return Err(Problem::at(
                    format!("{here}.locale"),
                    format!("{locale} is given twice"),
                ));
            }
            if let Some(only) = &self.only_locales {
                if !only.iter().any(|l| l == locale) {
                    return Err(Problem::at(
                        format!("{here}.locale"),
                        format!(
                            "{} is only for {}, not {locale}",
                            self.name,
                            only.join(", ")
                        ),
                    ));
                }
            }
            if let Some((key, value)) = object.iter().find(|(_, v)| !v.is_string()) {
                return Err(Problem::at(
                    format!("{here}.{key}"),
                    format!("must be a string, not {}", type_of(value)),
                ));
            }
            for key in keys {
                let blank = object
                    .get(key)
                    .and_then(Value::as_str)
                    .is_none_or(|t| t.trim().is_empty());
                if blank {
                    return Err(Problem::at(
                        format!("{here}.{key}"),
                        format!(
                            "is missing or empty for {locale}, but event.payload uses {LOCALIZED}{key}"
                        ),
                    ));
                }
            }
            seen.push(locale);
        }
        Ok(())
    }
}

fn check_object(
    rules: &[Rule],
    value: &Value,
    path: &str,
    keys: &mut Vec<String>,
) -> Result<(), Problem> {
    let Some(object) = value.as_object() else {
        return Err(Problem::at(
            path,
            format!(
                "must be an object with {}, not {}",
                names(rules),
                type_of(value)
            ),
        ));
    };
    if let Some(unknown) = object.keys().find(|k| !rules.iter().any(|r| &r.name == *k)) {
        return Err(Problem::at(
            format!("{path}.{unknown}"),
            format!("is not a field of this schema (allowed: {})", names(rules)),
        ));
    }
    for rule in rules {
        let here = format!("{path}.{}", rule.name);
        match object.get(&rule.name) {
            // An absent optional field may also be sent as null.
            None | Some(Value::Null) if rule.required => {
                return Err(Problem::at(
                    here,
                    format!("is required ({})", describe(&rule.shape)),
                ))
            }
            None | Some(Value::Null) => {}
            Some(v) => check_value(&rule.shape, v, &here, keys)?,
        }
    }
    Ok(())
}

fn check_value(
    shape: &Shape,
    value: &Value,
    path: &str,
    keys: &mut Vec<String>,
) -> Result<(), Problem> {
    let wrong_type = || {
        Problem::at(
            path,
            format!("must be {}, not {}", describe(shape), type_of(value)),
        )
    };
    match shape {
        Shape::Text { localizable } => {
            let text = value.as_str().ok_or_else(wrong_type)?;
            if text.trim().is_empty() {
                return Err(Problem::at(path, "must not be empty"));
            }
            if let Some(key) = text.strip_prefix(LOCALIZED) {
                if !localizable {
                    return Err(Problem::at(
                        path,
                        format!("is not localizable: {LOCALIZED} is not allowed here"),
                    ));
                }
                if key.trim().is_empty() {
                    return Err(Problem::at(path, format!("names no key after {LOCALIZED}")));
                }
                if !keys.iter().any(|k| k == key) {
                    keys.push(key.to_owned());
                }
            }
            Ok(())
        }
        Shape::Integer => value.as_i64().map(|_| ()).ok_or_else(wrong_type),
        Shape::Time => {
            let text = value.as_str().ok_or_else(wrong_type)?;
            DateTime::parse_from_rfc3339(text)
                .map(|_| ())
                .map_err(|_| Problem::at(path, format!("{text:?} is not an RFC 3339 time")))
        }
        Shape::OneOf(values) => {
            let text = value.as_str().ok_or_else(wrong_type)?;
            if values.iter().any(|v| v == text) {
                Ok(())
            } else {
                Err(Problem::at(
                    path,
                    format!("{text:?} is not one of {}", values.join(", ")),
                ))
            }
        }
        Shape::SetOf { values, max } => {
            let items = value.as_array().ok_or_else(wrong_type)?;
            if items.is_empty() || items.len() > *max {
                return Err(Problem::at(
                    path,
                    format!("must hold 1 to {max} values, not {}", items.len()),
                ));
            }
            let one_of = Shape::OneOf(values.clone());
            for (i, item) in items.iter().enumerate() {
                let here = format!("{path}[{i}]");
                check_value(&one_of, item, &here, keys)?;
                if items[..i].contains(item) {
                    return Err(Problem::at(here, format!("{item} is listed twice")));
                }
            }
            Ok(())
        }
        Shape::Object(rules) => check_object(rules, value, path, keys),
    }
}

fn names(rules: &[Rule]) -> String {
    rules
        .iter()
        .map(|r| r.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(shape: &Shape) -> String {
    match shape {
        Shape::Text { localizable: true } => format!("a string or \"{LOCALIZED}<key>\""),
        Shape::Text { localizable: false } => "a string".into(),
        Shape::Integer => "a whole number".into(),
        Shape::Time => "an RFC 3339 time".into(),
        Shape::OneOf(values) => format!("one of {}", values.join(", ")),
        Shape::SetOf { values, max } => {
            format!(
                "an array of 1 to {max} distinct values of {}",
                values.join(", ")
            )
        }
        Shape::Object(rules) => format!("an object with {}", names(rules)),
    }
}

fn type_of(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_i64() => "a whole number",
        Value::Number(n) if n.is_u64() => "a whole number beyond 64 bits",
        Value::Number(_) => "a fractional number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `ll-CC`, as Alexa writes locales (en-US, de-DE).
fn is_locale(text: &str) -> bool {
    match text.as_bytes() {
        [a, b, b'-', c, d] => {
            a.is_ascii_lowercase()
                && b.is_ascii_lowercase()
                && c.is_ascii_uppercase()
                && d.is_ascii_uppercase()
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::{Problem, Rules};

    /// Amazon's eight published schemas, in the order of its catalog.
    const PUBLISHED: [&str; 8] = [
        "AMAZON.WeatherAlert.Activated",
        "AMAZON.SportsEvent.Updated",
        "AMAZON.MessageAlert.Activated",
        "AMAZON.OrderStatus.Updated",
        "AMAZON.Occasion.Updated",
        "AMAZON.TrashCollectionAlert.Activated",
        "AMAZON.MediaContent.Available",
        "AMAZON.SocialGameInvite.Available",
    ];

    fn rules() -> Rules {
        Rules::load().expect("sandbox/schemas.json loads")
    }

    /// `tests/fixtures/schema-examples.json`: one valid event per schema.
    fn examples() -> Vec<Value> {
        serde_json::from_str(include_str!("../tests/fixtures/schema-examples.json"))
            .expect("schema-examples.json is JSON")
    }

    fn example(name: &str) -> Value {
        examples()
            .into_iter()
            .find(|e| e["name"] == name)
            .unwrap_or_else(|| panic!("no example of {name}"))
    }

    /// Runs both checks of the rules on one example (`name`, `payload`, `localizedAttributes`).
    fn check(rules: &Rules, example: &Value) -> Result<(), Problem> {
        let name = example["name"].as_str().expect("an example has a name");
        let schema = rules.schema(name).expect("a published schema");
        let keys = schema.check_payload(&example["payload"], "event.payload")?;
        let attributes = example
            .get("localizedAttributes")
            .cloned()
            .unwrap_or(json!([]));
        schema.check_localized(&attributes, &keys, "localizedAttributes")
    }

    /// The example of `name`, changed by `change`, must be refused at `field` for `problem`.
    fn refused(name: &str, change: impl FnOnce(&mut Value), field: &str, problem: &str) {
        let mut broken = example(name);
        change(&mut broken);
        match check(&rules(), &broken) {
            Ok(()) => panic!("{name}: accepted a broken event: {broken}"),
            Err(p) => {
                assert_eq!(p.field, field, "{name}: {p}");
                assert!(p.problem.contains(problem), "{name}: {p} lacks {problem:?}");
            }
        }
    }

    fn at<'a>(value: &'a mut Value, pointer: &str) -> &'a mut Value {
        value
            .pointer_mut(pointer)
            .unwrap_or_else(|| panic!("the example has {pointer}"))
    }

    fn remove(value: &mut Value, pointer: &str, key: &str) {
        at(value, pointer)
            .as_object_mut()
            .expect("an object")
            .remove(key)
            .unwrap_or_else(|| panic!("{pointer} has {key}"));
    }

    #[test]
    fn the_rules_cover_exactly_the_eight_published_schemas() {
        assert_eq!(rules().names(), PUBLISHED);
    }

    #[test]
    fn every_valid_example_is_accepted() {
        let rules = rules();
        let examples = examples();
        let names: Vec<&str> = examples.iter().filter_map(|e| e["name"].as_str()).collect();
        assert_eq!(names, PUBLISHED, "one example per schema");
        for e in &examples {
            if let Err(p) = check(&rules, e) {
                panic!("{}: refused a valid example: {p}", e["name"]);
            }
        }
    }

    #[test]
    fn a_missing_required_field_is_refused_by_name() {
        let w = "AMAZON.WeatherAlert.Activated";
        refused(
            w,
            |e| remove(e, "/payload/weatherAlert", "alertType"),
            "event.payload.weatherAlert.alertType",
            "is required",
        );
        refused(
            w,
            |e| *at(e, "/payload/weatherAlert/source") = Value::Null,
            "event.payload.weatherAlert.source",
            "is required",
        );
        refused(
            "AMAZON.Occasion.Updated",
            |e| remove(e, "/payload/occasion", "bookingTime"),
            "event.payload.occasion.bookingTime",
            "is required",
        );
        refused(
            "AMAZON.SportsEvent.Updated",
            |e| remove(e, "/payload/sportsEvent/awayTeamStatistic/team", "name"),
            "event.payload.sportsEvent.awayTeamStatistic.team.name",
            "is required",
        );
        refused(
            "AMAZON.MessageAlert.Activated",
            |e| remove(e, "/payload", "messageGroup"),
            "event.payload.messageGroup",
            "is required",
        );
    }

    #[test]
    fn an_absent_optional_field_is_accepted() {
        let rules = rules();
        let mut sports = example("AMAZON.SportsEvent.Updated");
        remove(&mut sports, "/payload", "update");
        check(&rules, &sports).expect("update is optional");
        let mut message = example("AMAZON.MessageAlert.Activated");
        *at(&mut message, "/payload/state/freshness") = Value::Null;
        remove(&mut message, "/payload/messageGroup", "urgency");
        check(&rules, &message).expect("freshness and urgency are optional");
    }

    #[test]
    fn a_value_outside_the_closed_set_is_refused_by_name() {
        refused(
            "AMAZON.WeatherAlert.Activated",
            |e| *at(e, "/payload/weatherAlert/alertType") = json!("BLIZZARD"),
            "event.payload.weatherAlert.alertType",
            "\"BLIZZARD\" is not one of TORNADO, HURRICANE, SNOW_STORM, THUNDER_STORM",
        );
        refused(
            "AMAZON.WeatherAlert.Activated",
            |e| *at(e, "/payload/weatherAlert/alertType") = json!("tornado"),
            "event.payload.weatherAlert.alertType",
            "is not one of",
        );
        refused(
            "AMAZON.TrashCollectionAlert.Activated",
            |e| *at(e, "/payload/alert/collectionDayOfWeek") = json!("TUESDAYS"),
            "event.payload.alert.collectionDayOfWeek",
            "is not one of",
        );
        refused(
            "AMAZON.TrashCollectionAlert.Activated",
            |e| *at(e, "/payload/alert/garbageTypes/1") = json!("PAPER"),
            "event.payload.alert.garbageTypes[1]",
            "\"PAPER\" is not one of",
        );
        refused(
            "AMAZON.SocialGameInvite.Available",
            |e| *at(e, "/payload/invite/relationshipToInvitee") = json!("ENEMY"),
            "event.payload.invite.relationshipToInvitee",
            "is not one of FRIEND, CONTACT",
        );
    }

    #[test]
    fn an_enum_list_needs_1_to_5_distinct_values() {
        let trash = "AMAZON.TrashCollectionAlert.Activated";
        refused(
            trash,
            |e| *at(e, "/payload/alert/garbageTypes") = json!([]),
            "event.payload.alert.garbageTypes",
            "must hold 1 to 5 values, not 0",
        );
        refused(
            trash,
            |e| {
                *at(e, "/payload/alert/garbageTypes") = json!([
                    "BOTTLES",
                    "BULKY",
                    "CANS",
                    "GLASS",
                    "LANDFILL",
                    "WASTE_PAPER"
                ])
            },
            "event.payload.alert.garbageTypes",
            "not 6",
        );
        refused(
            trash,
            |e| *at(e, "/payload/alert/garbageTypes") = json!(["GLASS", "CANS", "GLASS"]),
            "event.payload.alert.garbageTypes[2]",
            "listed twice",
        );
    }

    #[test]
    fn a_wrong_type_is_refused_by_name() {
        refused(
            "AMAZON.SportsEvent.Updated",
            |e| *at(e, "/payload/sportsEvent/homeTeamStatistic/score") = json!("21"),
            "event.payload.sportsEvent.homeTeamStatistic.score",
            "must be a whole number, not a string",
        );
        refused(
            "AMAZON.MessageAlert.Activated",
            |e| *at(e, "/payload/messageGroup/count") = json!(2.5),
            "event.payload.messageGroup.count",
            "must be a whole number, not a fractional number",
        );
        refused(
            "AMAZON.SportsEvent.Updated",
            |e| *at(e, "/payload/sportsEvent/eventLeague") = json!("NFL"),
            "event.payload.sportsEvent.eventLeague",
            "must be an object with name, not a string",
        );
        refused(
            "AMAZON.TrashCollectionAlert.Activated",
            |e| *at(e, "/payload/alert/garbageTypes") = json!("GLASS"),
            "event.payload.alert.garbageTypes",
            "not a string",
        );
        refused(
            "AMAZON.Occasion.Updated",
            |e| *at(e, "/payload/occasion/bookingTime") = json!("next Tuesday"),
            "event.payload.occasion.bookingTime",
            "is not an RFC 3339 time",
        );
        refused(
            "AMAZON.MessageAlert.Activated",
            |e| *at(e, "/payload/messageGroup/creator/name") = json!("  "),
            "event.payload.messageGroup.creator.name",
            "must not be empty",
        );
        refused(
            "AMAZON.WeatherAlert.Activated",
            |e| *at(e, "/payload") = json!([]),
            "event.payload",
            "must be an object with weatherAlert, not an array",
        );
    }

    #[test]
    fn an_unknown_field_is_refused_by_name() {
        // The misspellings other libraries ship.
        refused(
            "AMAZON.SportsEvent.Updated",
            |e| *at(e, "/payload/update") = json!({"ScoreEarned": 7, "teamName": "Seahawks"}),
            "event.payload.update.ScoreEarned",
            "is not a field of this schema (allowed: scoreEarned, teamName)",
        );
        refused(
            "AMAZON.TrashCollectionAlert.Activated",
            |e| {
                at(e, "/payload/alert")
                    .as_object_mut()
                    .expect("an object")
                    .insert("garbageType".into(), json!("GLASS"));
            },
            "event.payload.alert.garbageType",
            "is not a field of this schema",
        );
        refused(
            "AMAZON.SocialGameInvite.Available",
            |e| {
                at(e, "/payload/invite/inviter")
                    .as_object_mut()
                    .expect("an object")
                    .insert("relationshipToInvitee".into(), json!("FRIEND"));
            },
            "event.payload.invite.inviter.relationshipToInvitee",
            "is not a field of this schema",
        );
        refused(
            "AMAZON.OrderStatus.Updated",
            |e| {
                at(e, "/payload/state")
                    .as_object_mut()
                    .expect("an object")
                    .insert("enterTimeStamp".into(), json!("2026-11-26T10:00:00Z"));
            },
            "event.payload.state.enterTimeStamp",
            "is not a field of this schema",
        );
    }

    #[test]
    fn an_unknown_schema_name_has_no_rules() {
        let rules = rules();
        assert!(rules.schema("AMAZON.WeatherAlert.Updated").is_none());
        assert!(rules.schema("amazon.weatheralert.activated").is_none());
        assert!(rules.schema("").is_none());
    }

    #[test]
    fn a_bad_localizedattribute_reference_is_refused_by_name() {
        let w = "AMAZON.WeatherAlert.Activated";
        // The payload names a key that the locale object lacks.
        refused(
            w,
            |e| *at(e, "/payload/weatherAlert/source") = json!("localizedattribute:provider"),
            "localizedAttributes[0].provider",
            "is missing or empty for en-US, but event.payload uses localizedattribute:provider",
        );
        // The key is there but blank.
        refused(
            w,
            |e| *at(e, "/localizedAttributes/0/source") = json!(" "),
            "localizedAttributes[0].source",
            "is missing or empty for en-US",
        );
        // The key is missing in the second locale only.
        refused(
            "AMAZON.SportsEvent.Updated",
            |e| remove(e, "/localizedAttributes/1", "league"),
            "localizedAttributes[1].league",
            "for de-DE",
        );
        // No locale objects at all.
        refused(
            w,
            |e| *at(e, "/localizedAttributes") = json!([]),
            "localizedAttributes",
            "is empty, but event.payload uses localizedattribute:source",
        );
        // No key after the prefix.
        refused(
            w,
            |e| *at(e, "/payload/weatherAlert/source") = json!("localizedattribute:"),
            "event.payload.weatherAlert.source",
            "names no key after localizedattribute:",
        );
        // A field that is not localizable.
        refused(
            "AMAZON.MessageAlert.Activated",
            |e| *at(e, "/payload/messageGroup/creator/name") = json!("localizedattribute:who"),
            "event.payload.messageGroup.creator.name",
            "is not localizable",
        );
    }

    #[test]
    fn bad_locale_objects_are_refused_by_name() {
        let w = "AMAZON.WeatherAlert.Activated";
        refused(
            w,
            |e| *at(e, "/localizedAttributes/0/locale") = json!("en_us"),
            "localizedAttributes[0].locale",
            "is not a locale such as en-US",
        );
        refused(
            w,
            |e| remove(e, "/localizedAttributes/0", "locale"),
            "localizedAttributes[0].locale",
            "is required",
        );
        refused(
            w,
            |e| {
                let first = at(e, "/localizedAttributes/0").clone();
                at(e, "/localizedAttributes")
                    .as_array_mut()
                    .expect("an array")
                    .push(first);
            },
            "localizedAttributes[1].locale",
            "en-US is given twice",
        );
        refused(
            w,
            |e| *at(e, "/localizedAttributes/0/source") = json!(7),
            "localizedAttributes[0].source",
            "must be a string, not a whole number",
        );
        refused(
            w,
            |e| *at(e, "/localizedAttributes") = json!({"locale": "en-US"}),
            "localizedAttributes",
            "must be an array",
        );
        // OrderStatus and SocialGameInvite are for en-US only.
        refused(
            "AMAZON.OrderStatus.Updated",
            |e| *at(e, "/localizedAttributes/0/locale") = json!("de-DE"),
            "localizedAttributes[0].locale",
            "AMAZON.OrderStatus.Updated is only for en-US, not de-DE",
        );
        refused(
            "AMAZON.SocialGameInvite.Available",
            |e| *at(e, "/localizedAttributes/0/locale") = json!("en-GB"),
            "localizedAttributes[0].locale",
            "is only for en-US",
        );
    }

    #[test]
    fn a_malformed_rules_file_is_refused_at_load() {
        let with = |field: &str| {
            format!(
                r#"{{"about": [], "schemas": [{{"name": "AMAZON.X.Y", "payload": [{field}]}}]}}"#
            )
        };
        let fails = |text: String, expected: &str| match Rules::parse(&text) {
            Ok(_) => panic!("loaded {text}"),
            Err(e) => assert!(e.contains(expected), "{e} lacks {expected:?}"),
        };
        Rules::parse(&with(r#"{"name": "a", "type": "string"}"#)).expect("a valid file");
        fails(
            with(r#"{"name": "a", "type": "text"}"#),
            "unknown type \"text\"",
        );
        fails(
            with(r#"{"name": "a", "type": "enum"}"#),
            "an enum needs values",
        );
        fails(
            with(r#"{"name": "a", "type": "integer", "localizable": true}"#),
            "only a string can be localizable",
        );
        fails(
            with(r#"{"name": "a", "type": "string", "required": true}"#),
            "unknown field `required`",
        );
        fails(
            with(r#"{"name": "a", "type": "string"}, {"name": "a", "type": "time"}"#),
            "AMAZON.X.Y.a is listed twice",
        );
        fails(
            with(r#"{"name": "a", "type": "object", "fields": []}"#),
            "an object needs fields",
        );
    }
}
