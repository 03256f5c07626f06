//! The eight proactive-event schemas Amazon publishes, as data, and a validator for them.
//!
//! Alexa answers a malformed event with a bare 400. Checking here first lets the error name
//! the exact field and the values Alexa accepts, and unknown fields are refused so that the
//! misspellings other libraries ship (`ScoreEarned`, `garbageType`) cannot get through.

use serde_json::Value;

use crate::json::{json_type, FieldError};

/// The prefix that points a localizable field at `localizedAttributes`.
pub const LOCALIZED_PREFIX: &str = "localizedattribute:";

#[derive(Debug, Clone, Copy)]
pub enum Kind {
    /// A plain string.
    Text,
    /// A string that may be `localizedattribute:<key>`.
    Localized,
    /// A whole number.
    Int,
    /// An RFC 3339 time.
    Time,
    /// One of a closed set of strings.
    OneOf(&'static [&'static str]),
    /// A non-empty array of distinct values from a closed set, at most `max` of them.
    ManyOf(&'static [&'static str], usize),
    Object(&'static [Field]),
}

#[derive(Debug, Clone, Copy)]
pub struct Field {
    pub name: &'static str,
    pub kind: Kind,
    pub required: bool,
}

const fn req(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: true,
    }
}

const fn opt(name: &'static str, kind: Kind) -> Field {
    Field {
        name,
        kind,
        required: false,
    }
}

#[derive(Debug)]
pub struct Schema {
    pub name: &'static str,
    /// Locales Alexa supports for this schema; `None` = every locale.
    pub locales: Option<&'static [&'static str]>,
    pub payload: &'static [Field],
}

pub const WEATHER_ALERT: &str = "AMAZON.WeatherAlert.Activated";
pub const ALERT_TYPES: &[&str] = &["TORNADO", "HURRICANE", "SNOW_STORM", "THUNDER_STORM"];

const NAMED: &[Field] = &[req("name", Kind::Text)];
const NAMED_L10N: &[Field] = &[req("name", Kind::Localized)];
const TEAM_STATISTIC: &[Field] = &[req("team", Kind::Object(NAMED)), req("score", Kind::Int)];
const DAYS: &[&str] = &[
    "MONDAY",
    "TUESDAY",
    "WEDNESDAY",
    "THURSDAY",
    "FRIDAY",
    "SATURDAY",
    "SUNDAY",
];
const GARBAGE_TYPES: &[&str] = &[
    "BOTTLES",
    "BULKY",
    "BURNABLE",
    "CANS",
    "CLOTHING",
    "COMPOSTABLE",
    "CRUSHABLE",
    "GARDEN_WASTE",
    "GLASS",
    "HAZARDOUS",
    "HOME_APPLIANCES",
    "KITCHEN_WASTE",
    "LANDFILL",
    "PET_BOTTLES",
    "RECYCLABLE_PLASTICS",
    "WASTE_PAPER",
];

pub static SCHEMAS: [Schema; 8] = [
    Schema {
        name: WEATHER_ALERT,
        locales: None,
        payload: &[req(
            "weatherAlert",
            Kind::Object(&[
                req("source", Kind::Localized),
                req("alertType", Kind::OneOf(ALERT_TYPES)),
            ]),
        )],
    },
    Schema {
        name: "AMAZON.SportsEvent.Updated",
        locales: None,
        payload: &[
            req(
                "sportsEvent",
                Kind::Object(&[
                    req("eventLeague", Kind::Object(NAMED_L10N)),
                    req("homeTeamStatistic", Kind::Object(TEAM_STATISTIC)),
                    req("awayTeamStatistic", Kind::Object(TEAM_STATISTIC)),
                ]),
            ),
            opt(
                "update",
                Kind::Object(&[req("scoreEarned", Kind::Int), req("teamName", Kind::Text)]),
            ),
        ],
    },
    Schema {
        name: "AMAZON.MessageAlert.Activated",
        locales: None,
        payload: &[
            req(
                "state",
                Kind::Object(&[
                    req("status", Kind::OneOf(&["UNREAD", "FLAGGED"])),
                    opt("freshness", Kind::OneOf(&["NEW", "OVERDUE"])),
                ]),
            ),
            req(
                "messageGroup",
                Kind::Object(&[
                    req("creator", Kind::Object(NAMED)),
                    req("count", Kind::Int),
                    opt("urgency", Kind::OneOf(&["URGENT"])),
                ]),
            ),
        ],
    },
    Schema {
        name: "AMAZON.OrderStatus.Updated",
        locales: Some(&["en-US"]),
        payload: &[
            req(
                "state",
                Kind::Object(&[
                    req(
                        "status",
                        Kind::OneOf(&[
                            "PREORDER_RECEIVED",
                            "ORDER_RECEIVED",
                            "ORDER_PREPARING",
                            "ORDER_SHIPPED",
                            "ORDER_OUT_FOR_DELIVERY",
                            "ORDER_DELIVERED",
                        ]),
                    ),
                    opt("enterTimestamp", Kind::Time),
                    opt(
                        "deliveryDetails",
                        Kind::Object(&[opt("expectedArrival", Kind::Time)]),
                    ),
                ]),
            ),
            req(
                "order",
                Kind::Object(&[req("seller", Kind::Object(NAMED_L10N))]),
            ),
        ],
    },
    Schema {
        name: "AMAZON.Occasion.Updated",
        locales: None,
        payload: &[
            req(
                "state",
                Kind::Object(&[req(
                    "confirmationStatus",
                    Kind::OneOf(&[
                        "CONFIRMED",
                        "CANCELED",
                        "RESCHEDULED",
                        "REQUESTED",
                        "CREATED",
                        "UPDATED",
                    ]),
                )]),
            ),
            req(
                "occasion",
                Kind::Object(&[
                    req(
                        "occasionType",
                        Kind::OneOf(&[
                            "RESERVATION_REQUEST",
                            "RESERVATION",
                            "APPOINTMENT_REQUEST",
                            "APPOINTMENT",
                        ]),
                    ),
                    req("subject", Kind::Localized),
                    req("provider", Kind::Object(NAMED_L10N)),
                    req("bookingTime", Kind::Time),
                    opt("broker", Kind::Object(NAMED_L10N)),
                ]),
            ),
        ],
    },
    Schema {
        name: "AMAZON.TrashCollectionAlert.Activated",
        locales: None,
        payload: &[req(
            "alert",
            Kind::Object(&[
                req("garbageTypes", Kind::ManyOf(GARBAGE_TYPES, 5)),
                req("collectionDayOfWeek", Kind::OneOf(DAYS)),
            ]),
        )],
    },
    Schema {
        name: "AMAZON.MediaContent.Available",
        locales: None,
        payload: &[
            req(
                "availability",
                Kind::Object(&[
                    req("startTime", Kind::Time),
                    req(
                        "method",
                        Kind::OneOf(&["STREAM", "AIR", "RELEASE", "PREMIERE", "DROP"]),
                    ),
                    opt("provider", Kind::Object(NAMED_L10N)),
                ]),
            ),
            req(
                "content",
                Kind::Object(&[
                    req("name", Kind::Localized),
                    req(
                        "contentType",
                        Kind::OneOf(&["BOOK", "EPISODE", "ALBUM", "SINGLE", "MOVIE", "GAME"]),
                    ),
                ]),
            ),
        ],
    },
    Schema {
        name: "AMAZON.SocialGameInvite.Available",
        locales: Some(&["en-US"]),
        payload: &[
            req(
                "invite",
                Kind::Object(&[
                    req("inviter", Kind::Object(NAMED)),
                    req("relationshipToInvitee", Kind::OneOf(&["FRIEND", "CONTACT"])),
                    req("inviteType", Kind::OneOf(&["CHALLENGE", "INVITE"])),
                ]),
            ),
            req(
                "game",
                Kind::Object(&[
                    req("offer", Kind::OneOf(&["MATCH", "REMATCH", "GAME"])),
                    req("name", Kind::Localized),
                ]),
            ),
        ],
    },
];

impl PartialEq for Schema {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// The weather schema, which the short-form alert request builds.
pub static WEATHER_ALERT_SCHEMA: &Schema = &SCHEMAS[0];

pub fn find(name: &str) -> Option<&'static Schema> {
    SCHEMAS.iter().find(|s| s.name == name)
}

pub fn names() -> Vec<&'static str> {
    SCHEMAS.iter().map(|s| s.name).collect()
}

/// Checks `payload` against `schema`; returns the `localizedattribute:` keys it uses.
pub fn validate_payload(
    schema: &Schema,
    payload: &Value,
    path: &str,
) -> Result<Vec<String>, FieldError> {
    let mut keys = Vec::new();
    check_object(schema.payload, payload, path, &mut keys)?;
    Ok(keys)
}

fn check_object(
    fields: &[Field],
    value: &Value,
    path: &str,
    keys: &mut Vec<String>,
) -> Result<(), FieldError> {
    let Some(object) = value.as_object() else {
        return Err(FieldError::new(
            path,
            format!("expected an object with {}", field_list(fields)),
        ));
    };
    for name in object.keys() {
        if !fields.iter().any(|f| f.name == name) {
            return Err(FieldError::new(
                format!("{path}.{name}"),
                format!("unknown field; expected only {}", field_list(fields)),
            ));
        }
    }
    for field in fields {
        let child = format!("{path}.{}", field.name);
        match object.get(field.name) {
            None | Some(Value::Null) if field.required => {
                return Err(FieldError::new(
                    child,
                    format!(
                        "required field is missing; expected {}",
                        describe(&field.kind)
                    ),
                ))
            }
            None | Some(Value::Null) => {}
            Some(v) => check_value(&field.kind, v, &child, keys)?,
        }
    }
    Ok(())
}

fn check_value(
    kind: &Kind,
    value: &Value,
    path: &str,
    keys: &mut Vec<String>,
) -> Result<(), FieldError> {
    let wrong = || {
        FieldError::new(
            path,
            format!("expected {}, got {}", describe(kind), json_type(value)),
        )
    };
    match kind {
        Kind::Text | Kind::Localized => {
            let text = value.as_str().ok_or_else(wrong)?;
            if text.trim().is_empty() {
                return Err(FieldError::new(path, "expected a non-empty string"));
            }
            if let Some(key) = text.strip_prefix(LOCALIZED_PREFIX) {
                if matches!(kind, Kind::Text) {
                    return Err(FieldError::new(
                        path,
                        "this field cannot be localized; expected the text itself",
                    ));
                }
                if key.is_empty() {
                    return Err(FieldError::new(
                        path,
                        "expected a key after \"localizedattribute:\"",
                    ));
                }
                keys.push(key.to_owned());
            }
            Ok(())
        }
        Kind::Int => value.as_i64().map(|_| ()).ok_or_else(wrong),
        Kind::Time => {
            let text = value.as_str().ok_or_else(wrong)?;
            chrono::DateTime::parse_from_rfc3339(text)
                .map(|_| ())
                .map_err(|_| {
                    FieldError::new(
                        path,
                        format!(
                            "is {text:?}; expected an RFC 3339 time such as 2026-11-24T18:00:00Z"
                        ),
                    )
                })
        }
        Kind::OneOf(allowed) => {
            let text = value.as_str().ok_or_else(wrong)?;
            if allowed.contains(&text) {
                Ok(())
            } else {
                Err(FieldError::new(
                    path,
                    format!("is {text:?}; expected one of {}", allowed.join(", ")),
                ))
            }
        }
        Kind::ManyOf(allowed, max) => {
            let items = value.as_array().ok_or_else(wrong)?;
            if items.is_empty() || items.len() > *max {
                return Err(FieldError::new(
                    path,
                    format!("has {} items; expected 1 to {max}", items.len()),
                ));
            }
            let mut seen = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let item_path = format!("{path}[{i}]");
                check_value(&Kind::OneOf(allowed), item, &item_path, keys)?;
                if seen.contains(item) {
                    return Err(FieldError::new(item_path, "is listed twice"));
                }
                seen.push(item.clone());
            }
            Ok(())
        }
        Kind::Object(fields) => check_object(fields, value, path, keys),
    }
}

fn field_list(fields: &[Field]) -> String {
    fields.iter().map(|f| f.name).collect::<Vec<_>>().join(", ")
}

fn describe(kind: &Kind) -> String {
    match kind {
        Kind::Text => "a string".into(),
        Kind::Localized => "a string or \"localizedattribute:<key>\"".into(),
        Kind::Int => "a whole number".into(),
        Kind::Time => "an RFC 3339 time".into(),
        Kind::OneOf(allowed) => format!("one of {}", allowed.join(", ")),
        Kind::ManyOf(allowed, max) => format!("an array of 1 to {max} of {}", allowed.join(", ")),
        Kind::Object(fields) => format!("an object with {}", field_list(fields)),
    }
}

/// Checks `localizedAttributes`: one object per locale, every value a string, every key the
/// payload references present in every locale. Returns the locales.
pub fn validate_localized(
    schema: &Schema,
    attributes: &Value,
    referenced: &[String],
    path: &str,
) -> Result<Vec<String>, FieldError> {
    let Some(items) = attributes.as_array() else {
        return Err(FieldError::new(
            path,
            "expected an array of objects such as {\"locale\": \"en-US\", \"<key>\": \"<text>\"}",
        ));
    };
    if items.is_empty() && !referenced.is_empty() {
        return Err(FieldError::new(
            path,
            format!(
                "is empty, but the payload references localizedattribute:{}",
                referenced[0]
            ),
        ));
    }
    let mut locales: Vec<String> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let item_path = format!("{path}[{i}]");
        let Some(object) = item.as_object() else {
            return Err(FieldError::new(
                item_path,
                "expected an object with locale and the localized texts",
            ));
        };
        let locale = match object.get("locale").and_then(Value::as_str) {
            Some(l) if is_locale(l) => l.to_owned(),
            Some(l) => {
                return Err(FieldError::new(
                    format!("{item_path}.locale"),
                    format!("is {l:?}; expected a locale such as en-US"),
                ))
            }
            None => {
                return Err(FieldError::new(
                    format!("{item_path}.locale"),
                    "required field is missing; expected a locale such as en-US",
                ))
            }
        };
        if locales.contains(&locale) {
            return Err(FieldError::new(
                format!("{item_path}.locale"),
                format!("{locale} is listed twice"),
            ));
        }
        if let Some(allowed) = schema.locales {
            if !allowed.contains(&locale.as_str()) {
                return Err(FieldError::new(
                    format!("{item_path}.locale"),
                    format!(
                        "is {locale}; {} supports only {}",
                        schema.name,
                        allowed.join(", ")
                    ),
                ));
            }
        }
        for (key, value) in object {
            if !value.is_string() {
                return Err(FieldError::new(
                    format!("{item_path}.{key}"),
                    "expected a string",
                ));
            }
        }
        for key in referenced {
            let text = object.get(key).and_then(Value::as_str).unwrap_or_default();
            if text.trim().is_empty() {
                return Err(FieldError::new(
                    format!("{item_path}.{key}"),
                    format!("required for locale {locale}: the payload references localizedattribute:{key}"),
                ));
            }
        }
        locales.push(locale);
    }
    Ok(locales)
}

/// `ll-CC`, as Alexa spells locales.
pub fn is_locale(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() == 5
        && b[0].is_ascii_lowercase()
        && b[1].is_ascii_lowercase()
        && b[2] == b'-'
        && b[3].is_ascii_uppercase()
        && b[4].is_ascii_uppercase()
}
