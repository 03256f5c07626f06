//! The sentence Alexa would speak for an accepted event, per locale: what the sandbox prints
//! and records, so a developer reads the notification as a listener would hear it.

use serde_json::{Map, Value};

use crate::rules::LOCALIZED;

/// Reads a payload field, resolving `localizedattribute:` from the locale's object.
fn field(payload: &Value, pointer: &str, locale: Option<&Map<String, Value>>) -> String {
    let raw = match payload.pointer(pointer) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(words)
            .collect::<Vec<_>>()
            .join(" and "),
        _ => return String::new(),
    };
    match raw.strip_prefix(LOCALIZED) {
        Some(key) => locale
            .and_then(|l| l.get(key))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned(),
        None => raw,
    }
}

/// `THUNDER_STORM` → `thunder storm`.
fn words(code: &str) -> String {
    code.to_ascii_lowercase().replace('_', " ")
}

/// Close to what Alexa reads out for each schema (the weather one is Amazon's own wording).
pub fn sentence(
    name: &str,
    payload: &Value,
    locale: Option<&Map<String, Value>>,
    tag: &str,
) -> String {
    let f = |pointer: &str| field(payload, pointer, locale);
    match name {
        "AMAZON.WeatherAlert.Activated" if tag.starts_with("de") => format!(
            "Für deine Region gibt es eine {}warnung. Bereitgestellt von {}.",
            match f("/weatherAlert/alertType").as_str() {
                "TORNADO" => "Tornado",
                "HURRICANE" => "Hurrikan",
                "SNOW_STORM" => "Schneesturm",
                "THUNDER_STORM" => "Gewitter",
                _ => "Unwetter",
            },
            f("/weatherAlert/source")
        ),
        "AMAZON.WeatherAlert.Activated" => format!(
            "There is a {} alert for your area. Provided by {}.",
            words(&f("/weatherAlert/alertType")),
            f("/weatherAlert/source")
        ),
        "AMAZON.SportsEvent.Updated" => format!(
            "{} update: {} {}, {} {}.",
            f("/sportsEvent/eventLeague/name"),
            f("/sportsEvent/homeTeamStatistic/team/name"),
            f("/sportsEvent/homeTeamStatistic/score"),
            f("/sportsEvent/awayTeamStatistic/team/name"),
            f("/sportsEvent/awayTeamStatistic/score")
        ),
        "AMAZON.MessageAlert.Activated" => format!(
            "You have {} {} message(s) from {}.",
            f("/messageGroup/count"),
            words(&f("/state/status")),
            f("/messageGroup/creator/name")
        ),
        "AMAZON.OrderStatus.Updated" => format!(
            "Your order from {}: {}.",
            f("/order/seller/name"),
            words(&f("/state/status"))
        ),
        "AMAZON.Occasion.Updated" => format!(
            "Your {} {} with {} on {} is {}.",
            words(&f("/occasion/occasionType")),
            f("/occasion/subject"),
            f("/occasion/provider/name"),
            f("/occasion/bookingTime"),
            words(&f("/state/confirmationStatus"))
        ),
        "AMAZON.TrashCollectionAlert.Activated" => format!(
            "Your {} collection is on {}.",
            f("/alert/garbageTypes"),
            words(&f("/alert/collectionDayOfWeek"))
        ),
        "AMAZON.MediaContent.Available" => format!(
            "{} ({}) will be available ({}) on {}.",
            f("/content/name"),
            words(&f("/content/contentType")),
            words(&f("/availability/method")),
            f("/availability/startTime")
        ),
        "AMAZON.SocialGameInvite.Available" => format!(
            "{} invited you to a {} of {}.",
            f("/invite/inviter/name"),
            words(&f("/game/offer")),
            f("/game/name")
        ),
        other => format!("A notification of {other}."),
    }
}
