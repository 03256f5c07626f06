//! What the poll is configured with: which feed, what is announced, who hears it. Read from the
//! environment by `config`; the poll itself never reads a variable.

use super::Severity;

/// Who hears a feed alert (`WEATHER_AUDIENCE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// The subscribed users whose county the alert names, as Unicasts through the fan-out.
    Located,
    /// Every subscribed user, as one Multicast (a skill serving exactly the feed's area).
    Everyone,
}

impl Audience {
    pub const ALLOWED: &'static str = "located (each alert to the subscribed users of the counties it names) or everyone (one Multicast to every subscriber)";

    /// As `WEATHER_AUDIENCE` spells it.
    pub fn parse(text: &str) -> Option<Audience> {
        match text.trim() {
            "located" => Some(Audience::Located),
            "everyone" => Some(Audience::Everyone),
            _ => None,
        }
    }
}

/// A feed's format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FeedKind {
    /// The US National Weather Service's `/alerts/active` (GeoJSON, VTEC).
    Nws,
    /// Deutscher Wetterdienst: a zip of CAP 1.2 documents (the open-data `…LATEST…zip`).
    Dwd,
    /// MeteoAlarm: one country's Atom feed of CAP entries.
    MeteoAlarm,
}

impl FeedKind {
    pub const ALLOWED: &'static str = "nws, dwd, meteoalarm";

    /// As `WEATHER_FEEDS` spells it.
    pub fn parse(text: &str) -> Option<FeedKind> {
        match text.trim() {
            "nws" => Some(FeedKind::Nws),
            "dwd" => Some(FeedKind::Dwd),
            "meteoalarm" => Some(FeedKind::MeteoAlarm),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            FeedKind::Nws => "nws",
            FeedKind::Dwd => "dwd",
            FeedKind::MeteoAlarm => "meteoalarm",
        }
    }
}

/// One feed to poll: its format, its URL, and the variable it was configured in (errors name
/// it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeedSpec {
    pub kind: FeedKind,
    pub url: String,
    pub var: &'static str,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    /// The skill's id, sent in the feed's User-Agent.
    pub skill_id: String,
    /// The feeds every scheduled poll reads; none = no polling.
    pub feeds: Vec<FeedSpec>,
    /// Alerts below this severity are not announced.
    pub min_severity: Severity,
    /// A website or email address for the feed's operator to reach the skill's owner.
    pub contact: Option<String>,
    pub audience: Audience,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn audiences_read_as_spelled() {
        assert_eq!(Audience::parse("located"), Some(Audience::Located));
        assert_eq!(Audience::parse(" everyone "), Some(Audience::Everyone));
        assert_eq!(Audience::parse("Everyone"), None);
        assert_eq!(Audience::parse(""), None);
    }

    #[test]
    fn feed_kinds_read_as_spelled() {
        for kind in [FeedKind::Nws, FeedKind::Dwd, FeedKind::MeteoAlarm] {
            assert_eq!(FeedKind::parse(kind.name()), Some(kind));
        }
        assert_eq!(FeedKind::parse("NWS"), None);
    }
}
