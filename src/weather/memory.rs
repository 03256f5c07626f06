//! What each hazard event's places have heard: the poll's memory between invocations, kept
//! in the ledger as a short chain of records per [`EventKey`].
//!
//! Record `n` of an event (`<key>#n`, the first record of a message key being the message's
//! own id, as records were kept before events were) is an announcement claimed, sent and
//! recorded through the ledger like any notification, or a record made without a send (an
//! event ended, a chain continued). Each record's tag holds the whole memory after it, so the
//! newest one is all a poll needs; the chain is read until its first gap. A claim is the one
//! atomic step: two polls deciding the same event cannot both write record `n`, and a retry
//! after a crash finds what the first attempt sent under the same referenceId.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::future::Future;
use std::pin::Pin;

use tokio::time::Instant;

use super::alert::{EventKey, Level, Place};
use crate::event::schemas::WEATHER_ALERT;
use crate::event::{reference_id, Watch};
use crate::fanout::EventStatus;
use crate::ledger::Ledger;
use crate::state::StateError;

/// The most records an event's chain holds. An event is recorded a handful of times (new, a
/// few escalations, extensions and partial cancellations; a watch updated hourly by one
/// office a few dozen): a chain that reaches this is decided no further rather than ever
/// reusing a record number (logged as an error).
pub const MAX_RECORDS: u32 = 256;

/// What an event's places heard.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Memory {
    /// The level each place heard the event at.
    pub told: BTreeMap<Place, Level>,
    /// Heard everywhere at this level: a Multicast (every subscriber heard it), or a record
    /// kept before places were.
    pub anywhere: Option<Level>,
    /// Places where the event was cancelled, expired or replaced: never announced there again,
    /// and a fan-out still under way stops there.
    pub ended: BTreeSet<Place>,
}

impl Memory {
    /// What `place` heard, if anything.
    pub fn told(&self, place: &Place) -> Option<Level> {
        match (self.told.get(place), self.anywhere) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.copied().or(b),
        }
    }

    /// Whether any place heard the event.
    pub fn heard(&self) -> bool {
        self.anywhere.is_some() || !self.told.is_empty()
    }

    /// The highest level any place heard.
    pub fn highest(&self) -> Option<Level> {
        self.told
            .values()
            .copied()
            .chain(self.anywhere)
            .reduce(Level::max)
    }

    /// Both memories at once (an event remembered under two keys).
    pub fn merge(&mut self, other: &Memory) {
        for (place, level) in &other.told {
            let merged = self.told.get(place).map_or(*level, |l| l.max(*level));
            self.told.insert(place.clone(), merged);
        }
        self.anywhere = match (self.anywhere, other.anywhere) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        self.ended.extend(other.ended.iter().cloned());
    }

    /// As kept in a record's tag: `v2;10001=c40027,c40087;12001=c40051;*=10001;x=c40027`.
    pub fn encode(&self) -> String {
        let mut by_level: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for (place, level) in &self.told {
            by_level
                .entry(level.encode())
                .or_default()
                .push(place.code());
        }
        let mut parts = vec!["v2".to_owned()];
        parts.extend(
            by_level
                .into_iter()
                .map(|(level, places)| format!("{level}={}", places.join(","))),
        );
        if let Some(level) = self.anywhere {
            parts.push(format!("*={}", level.encode()));
        }
        if !self.ended.is_empty() {
            let ended: Vec<String> = self.ended.iter().map(Place::code).collect();
            parts.push(format!("x={}", ended.join(",")));
        }
        parts.join(";")
    }

    /// What [`Memory::encode`] wrote, or a record kept before this release: `10001@c40027`
    /// style tags (a level and the counties an alert went to, as bare FIPS codes), `10001`
    /// (a level, every place), or no tag at all (every place, never exceeded).
    pub fn decode(tag: Option<&str>) -> Memory {
        let Some(tag) = tag else {
            return Memory {
                anywhere: Some(Level::CEILING),
                ..Memory::default()
            };
        };
        let Some(rest) = tag.strip_prefix("v2") else {
            return legacy(tag);
        };
        let mut memory = Memory::default();
        for part in rest.split(';').filter(|p| !p.is_empty()) {
            let Some((head, list)) = part.split_once('=') else {
                continue;
            };
            let places = || list.split(',').filter_map(Place::parse);
            match head {
                "*" => memory.anywhere = Some(Level::decode(list).unwrap_or(Level::CEILING)),
                "x" => memory.ended.extend(places()),
                level => {
                    let level = Level::decode(level).unwrap_or(Level::CEILING);
                    memory.told.extend(places().map(|p| (p, level)));
                }
            }
        }
        memory
    }
}

/// A tag of the release before events were: `LLLLL@fips,fips` or `LLLLL`.
fn legacy(tag: &str) -> Memory {
    let (level, counties) = match tag.split_once('@') {
        Some((level, counties)) => (level, Some(counties)),
        None => (tag, None),
    };
    let level = Level::decode(level).unwrap_or(Level::CEILING);
    match counties {
        Some(counties) => Memory {
            told: counties
                .split(',')
                .filter(|c| !c.is_empty())
                .map(|c| (Place::county(c), level))
                .collect(),
            ..Memory::default()
        },
        None => Memory {
            anywhere: Some(level),
            ..Memory::default()
        },
    }
}

/// What a key's chain holds: how many records, and the memory of the newest.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Chain {
    pub records: u32,
    pub memory: Memory,
}

/// The id record `n` (from 1) of `key`'s chain is sent under (its referenceId is derived from
/// it as from any request's `id`).
pub fn record_id(key: &EventKey, n: u32) -> String {
    match key.message_id() {
        // A message's first record is the one the release before events kept for it.
        Some(id) if n == 1 => id.to_owned(),
        _ => format!("{key}#{n}"),
    }
}

/// The referenceId of record `n` (from 1) of `key`'s chain.
pub fn record_reference(key: &EventKey, n: u32) -> String {
    reference_id(WEATHER_ALERT, &record_id(key, n))
}

/// How long an event's records are kept at least, past the ledger's own retention: an event
/// that lasts longer than its messages say (an extended winter storm) must not lose its
/// memory while it is still listed.
pub const KEEP_AT_LEAST: chrono::Duration = chrono::Duration::days(23);

/// Reads `key`'s chain from record `after + 1` on, to its first gap.
pub async fn read(
    ledger: &Ledger,
    key: &EventKey,
    after: u32,
    deadline: Instant,
) -> Result<Chain, StateError> {
    let mut chains = read_many(ledger, std::slice::from_ref(key), after, deadline).await?;
    Ok(chains.remove(key).unwrap_or_default())
}

/// Reads the chains of many keys at once, from record `after + 1` on, record by record:
/// that record of every key in one batch, the next of those that had it in the next, and so
/// on (a poll of a national feed reads a few batches of a hundred, not a read per record).
pub async fn read_many(
    ledger: &Ledger,
    keys: &[EventKey],
    after: u32,
    deadline: Instant,
) -> Result<HashMap<EventKey, Chain>, StateError> {
    let start = Chain {
        records: after,
        memory: Memory::default(),
    };
    let mut chains: HashMap<EventKey, Chain> =
        keys.iter().map(|k| (k.clone(), start.clone())).collect();
    let mut open: Vec<&EventKey> = keys.iter().collect();
    for n in after + 1..=MAX_RECORDS {
        if open.is_empty() {
            break;
        }
        let references: Vec<String> = open.iter().map(|k| record_reference(k, n)).collect();
        let found = ledger.announced_many(&references, deadline).await?;
        let mut next = Vec::new();
        for (key, reference) in open.into_iter().zip(&references) {
            if let (Some(record), Some(chain)) = (found.get(reference), chains.get_mut(key)) {
                chain.records = n;
                // Each record holds the whole memory after it; the newest wins.
                chain.memory = Memory::decode(record.tag.as_deref());
                next.push(key);
            }
        }
        open = next;
    }
    Ok(chains)
}

/// Answers the fan-out's question: where has the event of a queued announcement ended since
/// its record? Reads the records after it (usually one read that finds none).
pub struct Ended;

impl EventStatus for Ended {
    fn ended<'a>(
        &'a self,
        ledger: &'a Ledger,
        watch: &'a Watch,
        deadline: Instant,
    ) -> Pin<Box<dyn Future<Output = Result<BTreeSet<Place>, StateError>> + 'a>> {
        Box::pin(async move {
            let key = EventKey::from_raw(&watch.key);
            Ok(read(ledger, &key, watch.record, deadline)
                .await?
                .memory
                .ended)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WARNING: Level = Level::TORNADO_WARNING;

    #[test]
    fn a_memory_survives_its_tag() {
        let emergency = Level {
            tornado_threat: 2,
            ..WARNING
        };
        let memory = Memory {
            told: BTreeMap::from([
                (Place::county("40027"), WARNING),
                (Place::county("40087"), WARNING),
                (Place::county("40051"), emergency),
            ]),
            anywhere: Some(WARNING),
            ended: BTreeSet::from([Place::county("40027")]),
        };
        let tag = memory.encode();
        assert_eq!(tag, "v2;10001=c40027,c40087;12001=c40051;*=10001;x=c40027");
        assert_eq!(Memory::decode(Some(&tag)), memory);
        assert_eq!(Memory::decode(Some("v2")), Memory::default());
    }

    #[test]
    fn records_kept_before_events_read_as_what_they_said() {
        // A level and the counties an alert went to.
        let m = Memory::decode(Some("10001@40027,40087"));
        assert_eq!(m.told(&Place::county("40087")), Some(WARNING));
        assert_eq!(m.told(&Place::county("40051")), None);
        // A level, no counties: every place heard it.
        let m = Memory::decode(Some("10001"));
        assert_eq!(m.told(&Place::county("40051")), Some(WARNING));
        // No tag at all: every place, and no level rises above it.
        let m = Memory::decode(None);
        assert!(!Level::CEILING.rises_above(m.told(&Place::county("1")).unwrap()));
        assert!(Level {
            tornado_threat: 2,
            ..WARNING
        }
        .rises_above(WARNING));
    }

    #[test]
    fn a_message_key_s_first_record_is_the_message_s_old_record() {
        let key = EventKey::message("urn:oid:a");
        assert_eq!(
            record_reference(&key, 1),
            reference_id(WEATHER_ALERT, "urn:oid:a")
        );
        assert_ne!(record_reference(&key, 2), record_reference(&key, 1));
        let vtec = EventKey::vtec("KOUN", "TO", "W", "0033", 2026);
        assert_eq!(
            record_reference(&vtec, 1),
            reference_id(WEATHER_ALERT, "KOUN.TO.W.0033.2026#1")
        );
    }
}
