//! The feed-neutral alert model: what every weather feed is read into, and all that the poll's
//! decisions ([`super::plan`]) look at. A feed's own format (NWS GeoJSON and VTEC today) stays
//! in its parser.
//!
//! - an [`Alert`] is one message of a feed;
//! - a [`Track`] says which hazard event a message is about ([`EventKey`]) and what it does to
//!   it ([`Action`]): NWS gives one track per P-VTEC string, and a message without VTEC gets
//!   one from its `messageType` and `references`;
//! - a [`Level`] is how dangerous a message says the hazard is, in the terms that make the
//!   service tell people again;
//! - a [`Skip`] is why a message is not announced;
//! - a [`Place`] is where (today a US county).

use chrono::{DateTime, Utc};

pub use super::Severity;
pub use crate::area::Place;

/// The CAP `msgType` of a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Alert,
    Update,
    Cancel,
    /// Ack, Error or anything else: no alert.
    Other,
}

impl MessageKind {
    pub fn parse(text: &str) -> Self {
        match text {
            "Alert" => MessageKind::Alert,
            "Update" => MessageKind::Update,
            "Cancel" => MessageKind::Cancel,
            _ => MessageKind::Other,
        }
    }
}

/// What a message does to its hazard event: NWS's VTEC action codes (NWSI 10-1703), which
/// other feeds' messages map onto.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// NEW: a new event.
    New,
    /// CON: the event continues.
    Continue,
    /// EXT: extended in time.
    ExtendTime,
    /// EXA: extended in area (more places).
    ExtendArea,
    /// EXB: extended in time and area.
    ExtendBoth,
    /// UPG: replaced by another event (its NEW track, in the same message, is the news).
    Upgrade,
    /// CAN: cancelled.
    Cancel,
    /// EXP: expired.
    Expire,
    /// COR: a correction.
    Correct,
    /// ROU: routine.
    Routine,
    /// A message without VTEC that updates earlier ones (`msgType` Update): like EXB, it may
    /// name places the earlier ones did not.
    Update,
}

impl Action {
    /// The VTEC action code, if it is one.
    pub fn from_vtec(code: &str) -> Option<Self> {
        Some(match code {
            "NEW" => Action::New,
            "CON" => Action::Continue,
            "EXT" => Action::ExtendTime,
            "EXA" => Action::ExtendArea,
            "EXB" => Action::ExtendBoth,
            "UPG" => Action::Upgrade,
            "CAN" => Action::Cancel,
            "EXP" => Action::Expire,
            "COR" => Action::Correct,
            "ROU" => Action::Routine,
            _ => return None,
        })
    }

    /// The event ends for the message's places.
    pub fn ends(self) -> bool {
        matches!(self, Action::Upgrade | Action::Cancel | Action::Expire)
    }

    /// The message may announce the event to places that have not heard it.
    pub fn announces(self) -> bool {
        matches!(
            self,
            Action::New | Action::ExtendArea | Action::ExtendBoth | Action::Update
        )
    }
}

/// The identity of a hazard event across the messages about it. NWS: the P-VTEC
/// `office.phenomenon.significance.ETN` and the year (`KOUN.TO.W.0033.2026`); a message
/// without VTEC: its own identifier (`msg:urn:oid:...`), its references naming its chain.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventKey(String);

impl EventKey {
    pub fn vtec(office: &str, phenomenon: &str, significance: &str, etn: &str, year: i32) -> Self {
        EventKey(format!("{office}.{phenomenon}.{significance}.{etn}.{year}"))
    }

    /// The key of a message without VTEC (or of a message as records kept before events were
    /// knew it).
    pub fn message(id: &str) -> Self {
        EventKey(format!("msg:{id}"))
    }

    /// The message identifier, for a [`EventKey::message`] key.
    pub fn message_id(&self) -> Option<&str> {
        self.0.strip_prefix("msg:")
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A key as [`EventKey::as_str`] wrote it.
    pub fn from_raw(raw: &str) -> Self {
        EventKey(raw.to_owned())
    }
}

impl std::fmt::Display for EventKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Which event a message is about, and what it does to it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Track {
    pub key: EventKey,
    pub action: Action,
    /// Other keys the same event may be remembered under: for VTEC, last year's key of an
    /// event that began before January 1; the message's own identifier and its references
    /// (records kept before this release, and chains of messages without VTEC).
    pub aliases: Vec<EventKey>,
    /// When the event ends, if the track says (VTEC's end time).
    pub ends: Option<DateTime<Utc>>,
}

/// How dangerous a message says its hazard is, in the terms that make NWS tell people again.
/// A place that heard an event at one level hears it again when any part rises (see the
/// README's rule table); each part is 0 at its base.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Level {
    /// 1 for a warning (the hazard is happening or imminent), 0 for a watch.
    pub warning: u8,
    /// `tornadoDamageThreat`: 1 CONSIDERABLE (a particularly dangerous situation), 2
    /// CATASTROPHIC (a tornado emergency).
    pub tornado_threat: u8,
    /// `thunderstormDamageThreat`: 1 DESTRUCTIVE (CONSIDERABLE stays 0: NWS does not alert
    /// phones again for it).
    pub storm_threat: u8,
    /// `tornadoDetection`: 1 OBSERVED (a confirmed tornado) on a tornado alert.
    pub tornado_observed: u8,
    /// `severity` Extreme.
    pub extreme: u8,
}

impl Level {
    /// A tornado warning's level in tests: a warning, severity Extreme, no threat tag.
    #[cfg(test)]
    pub const TORNADO_WARNING: Level = Level {
        warning: 1,
        tornado_threat: 0,
        storm_threat: 0,
        tornado_observed: 0,
        extreme: 1,
    };

    /// Above every level: a record kept before levels were is never exceeded (nobody hears
    /// an alert again because a record is old).
    pub const CEILING: Level = Level {
        warning: 9,
        tornado_threat: 9,
        storm_threat: 9,
        tornado_observed: 9,
        extreme: 9,
    };

    fn parts(self) -> [u8; 5] {
        [
            self.warning,
            self.tornado_threat,
            self.storm_threat,
            self.tornado_observed,
            self.extreme,
        ]
    }

    fn from_parts(p: [u8; 5]) -> Level {
        Level {
            warning: p[0],
            tornado_threat: p[1],
            storm_threat: p[2],
            tornado_observed: p[3],
            extreme: p[4],
        }
    }

    /// Whether any part is higher than in `announced`.
    pub fn rises_above(self, announced: Level) -> bool {
        self.parts()
            .iter()
            .zip(announced.parts())
            .any(|(now, then)| *now > then)
    }

    /// The higher of each part.
    pub fn max(self, other: Level) -> Level {
        let (a, b) = (self.parts(), other.parts());
        Level::from_parts(std::array::from_fn(|i| a[i].max(b[i])))
    }

    /// The level a message of this kind has without any threat tag (its warning and
    /// severity parts): what a continuation must rise above to be news to a place that
    /// never heard the event.
    pub fn base(self) -> Level {
        Level {
            warning: self.warning,
            extreme: self.extreme,
            ..Level::default()
        }
    }

    /// Five digits, as kept with the record (`"10201"`).
    pub fn encode(self) -> String {
        self.parts()
            .iter()
            .map(|p| char::from(b'0' + p.min(&9)))
            .collect()
    }

    /// What [`Level::encode`] wrote; `None` for anything else.
    pub fn decode(text: &str) -> Option<Level> {
        let digits: Vec<u8> = text
            .bytes()
            .filter(u8::is_ascii_digit)
            .map(|b| b - b'0')
            .collect();
        match <[u8; 5]>::try_from(digits) {
            Ok(parts) if text.len() == 5 => Some(Level::from_parts(parts)),
            _ => None,
        }
    }
}

/// One message of a feed, as the poll decides it.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// The message identifier (CAP `identifier`).
    pub id: String,
    /// The hazard as the feed names it (`Tornado Warning`), for logs.
    pub event: String,
    /// The Alexa alert type the feed maps the hazard to; `None`: not announced.
    pub alert_type: Option<&'static str>,
    /// CAP `status` is `Actual` (not an exercise, test, system message or draft).
    pub actual: bool,
    /// An advance notice of a hazard not yet warned of (DWD's Vorabinformation, `urgency`
    /// Future): never announced as a warning.
    pub advance: bool,
    pub kind: MessageKind,
    pub severity: Severity,
    /// Who issued it (`NWS Norman OK`): Alexa says it as the alert's source.
    pub sender_name: String,
    pub area_desc: String,
    pub sent: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    pub ends: Option<DateTime<Utc>>,
    /// Identifiers of earlier messages it updates or cancels (NWS's `expiredReferences`
    /// included).
    pub references: Vec<String>,
    pub level: Level,
    /// The places it concerns (places unknown to this function, such as marine zones, are
    /// left out).
    pub places: Vec<Place>,
    /// The events it is about: one per VTEC string, or one from its own identifier.
    pub tracks: Vec<Track>,
}

impl Alert {
    /// When the hazard ends: the track's end, else `ends`, else this message's `expires`
    /// (the message's own end, often hours before the hazard's).
    pub fn hazard_end(&self, track: &Track) -> Option<DateTime<Utc>> {
        track.ends.or(self.ends).or(self.expires)
    }
}

/// A feed read into alerts, with the messages that could not be read (`field: problem`): one
/// broken message must not hold back the others, so it is counted and logged.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Alerts {
    pub alerts: Vec<Alert>,
    pub malformed: Vec<String>,
}

/// Why a message is not announced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Skip {
    /// `status` is Exercise, System, Test or Draft.
    NotActual,
    /// It ends its event (a cancellation, an expiry, an upgrade's old half, an all-clear):
    /// nothing to say.
    Cancel,
    /// An advance notice, not a warning.
    Advance,
    /// `msgType` Ack or Error.
    NotAnAlert,
    /// A hazard with no Alexa alert type.
    OtherEvent,
    BelowMinSeverity,
    /// Every place it names heard its event already, at this level or higher.
    AlreadyTold,
    /// It continues an event (CON, EXT, ROU, COR) that its places never heard, without a rise
    /// in danger: a continuation is not news.
    Continuation,
    /// It names no place this function knows (a marine zone, a DWD sea or lake cell).
    NoPlace,
    Malformed,
}

impl Skip {
    pub fn key(self) -> &'static str {
        match self {
            Skip::NotActual => "notActual",
            Skip::Cancel => "cancel",
            Skip::Advance => "advanceNotice",
            Skip::NotAnAlert => "notAnAlert",
            Skip::OtherEvent => "otherEvent",
            Skip::BelowMinSeverity => "belowMinSeverity",
            Skip::AlreadyTold => "alreadyTold",
            Skip::Continuation => "continuation",
            Skip::NoPlace => "noPlace",
            Skip::Malformed => "malformed",
        }
    }
}
