//! What a poll announces: a pure decision over the feed's alerts, the severity floor and what
//! each event's places heard before ([`Memory`]), so every rule is tested without a feed, a
//! table or a clock. `docs/nws-research.md` §2.2 is the rule table; the README says which
//! rule decides what.
//!
//! Decisions are by *event*, not by message: every message about one event (its original
//! listed beside its updates, its segments, its continuations after `expires`) is one
//! [`Group`], decided per place against what that place heard:
//!
//! - a place that never heard the event hears it when a message announces it there (NEW,
//!   EXA, EXB; without VTEC, an `Alert` or an `Update`), at the highest level the listed
//!   messages give it; a continuation (CON, EXT, ROU, COR) announces nothing there unless its
//!   level rises above its own base (a tornado emergency is never missed);
//! - a place that heard it hears it again only when the level rises above what it heard
//!   (rules 5, 6, 8, 9 and 13 by [`Level`]'s parts); downgrades, new times, text and
//!   certainty changes never;
//! - a cancellation, expiry or upgrade (CAN, EXP, UPG; `Cancel`) ends the event for its
//!   places, whatever its severity: nothing is announced there again, and a fan-out still
//!   under way stops;
//! - the floor applies to what would be announced, not to endings (NWS cancels carry
//!   `severity: Minor`).
//!
//! Places that heard an event before are left out of an announcement to new places (a user
//! whose ZIP spans two counties hears each event once); an escalation goes to every place
//! whose level rose.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use chrono::{DateTime, Utc};

use super::alert::{Alert, EventKey, Level, MessageKind, Place, Skip, Track};
use super::memory::{Chain, Memory};
use super::Severity;

/// Whether a continuation (CON, EXT, ROU, COR) of an event a place never heard is announced
/// there when its level is only its base. `false`: a continuation is not news, whatever the
/// reason the place did not hear the original (the original came before this function was
/// deployed, or was below the floor then); only a rise in danger is. One-line choice.
pub const ANNOUNCE_PLAIN_CONTINUATIONS: bool = false;

/// Why a place hears an announcement.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The event is new to every place.
    New,
    /// The event is new to these places; others heard it already (an EXA, a later segment).
    Extension,
    /// These places heard the event at a lower level.
    Escalation,
}

/// One announcement: an event, told to some places.
#[derive(Debug, Clone, PartialEq)]
pub struct Announcement<'a> {
    /// Which [`Plan::groups`] entry it belongs to.
    pub group: usize,
    /// The key whose chain records it, and its record number there.
    pub key: EventKey,
    pub record: u32,
    /// The message it speaks for (its sender is the alert's source).
    pub alert: &'a Alert,
    pub alert_type: &'static str,
    pub level: Level,
    pub why: Why,
    /// Where it goes (every place of the event for a Multicast).
    pub places: Vec<Place>,
    /// Users also in these places are left out: they heard the event already.
    pub except: Vec<Place>,
    /// The event's memory once this is sent (kept with its record).
    pub memory: Memory,
    /// When the hazard ends (the Alexa expiry is derived from it).
    pub ends: Option<DateTime<Utc>>,
}

/// A record made without a send: an event ended somewhere, or a message key of a chain
/// without VTEC that must find the chain's memory next time.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub group: usize,
    pub key: EventKey,
    pub record: u32,
    pub memory: Memory,
    pub ends: Option<DateTime<Utc>>,
}

/// What a poll does with its feed.
#[derive(Debug, PartialEq, Default)]
pub struct Plan<'a> {
    /// In feed order; an event's announcements in their record order.
    pub announce: Vec<Announcement<'a>>,
    /// Records to make once the group's announcements are sent.
    pub records: Vec<Record>,
    /// Messages not announced, with why.
    pub skipped: Vec<(&'a Alert, Skip)>,
    /// Messages that could not be read.
    pub malformed: usize,
    /// How many hazard events the feed's messages describe.
    pub events: usize,
    /// Events whose record chain is full ([`super::memory::MAX_RECORDS`]): decided no further,
    /// so that no record number is ever used twice.
    pub full: Vec<EventKey>,
}

impl Plan<'_> {
    /// How many messages were skipped for each reason, as the poll's answer reports it.
    pub fn skipped_counts(&self) -> BTreeMap<&'static str, usize> {
        let mut counts: BTreeMap<&'static str, usize> = BTreeMap::new();
        if self.malformed > 0 {
            counts.insert(Skip::Malformed.key(), self.malformed);
        }
        for (_, skip) in &self.skipped {
            *counts.entry(skip.key()).or_default() += 1;
        }
        counts
    }

    pub fn count(&self, why: Why) -> usize {
        self.announce.iter().filter(|a| a.why == why).count()
    }
}

/// Whether `track` of `alert` takes part in the decisions: an actual alert (not an Ack or an
/// Error) of a hazard Alexa has a word for, or the old half of an upgrade (its message names
/// the new hazard, which may have none, but the old one ends either way), or a cancellation
/// beside another event (a downgrade cancels a hurricane warning in a message about a
/// tropical storm). A lone cancellation of a hazard Alexa has no word for was never heard:
/// it is not looked up.
fn takes_part(alert: &Alert, track: &Track) -> bool {
    alert.actual
        && alert.kind != MessageKind::Other
        && (alert.alert_type.is_some() || (ends(alert, track) && alert.tracks.len() > 1))
}

/// Whether `track` of `alert` ends its event for the alert's places.
fn ends(alert: &Alert, track: &Track) -> bool {
    alert.kind == MessageKind::Cancel || track.action.ends()
}

/// One message's track: indexes into the alerts and the alert's tracks.
type Item = (usize, usize);

/// The events of a feed: items grouped by key, and messages without VTEC joined to the listed
/// messages they reference. In order of first appearance.
fn group_items(alerts: &[Alert]) -> Vec<Vec<Item>> {
    let mut items: Vec<Item> = Vec::new();
    for (ai, alert) in alerts.iter().enumerate() {
        for (ti, track) in alert.tracks.iter().enumerate() {
            if takes_part(alert, track) {
                items.push((ai, ti));
            }
        }
    }
    let key = |(ai, ti): Item| &alerts[ai].tracks[ti].key;
    // Union-find over items.
    let mut parent: Vec<usize> = (0..items.len()).collect();
    fn root(parent: &mut [usize], mut i: usize) -> usize {
        while parent[i] != i {
            parent[i] = parent[parent[i]];
            i = parent[i];
        }
        i
    }
    let mut by_key: HashMap<&EventKey, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        if let Some(&j) = by_key.get(key(*item)) {
            let (a, b) = (root(&mut parent, i), root(&mut parent, j));
            parent[a.max(b)] = a.min(b);
        } else {
            by_key.insert(key(*item), i);
        }
    }
    for (i, &(ai, ti)) in items.iter().enumerate() {
        let track = &alerts[ai].tracks[ti];
        // A message without VTEC joins the messages it references; a VTEC track joins last
        // year's key of its event (an event under way on January 1).
        let vtec = track.key.message_id().is_none();
        for alias in track
            .aliases
            .iter()
            .filter(|a| a.message_id().is_none() == vtec)
        {
            if let Some(&j) = by_key.get(alias) {
                let (a, b) = (root(&mut parent, i), root(&mut parent, j));
                parent[a.max(b)] = a.min(b);
            }
        }
    }
    let mut groups: Vec<Vec<Item>> = Vec::new();
    let mut index: HashMap<usize, usize> = HashMap::new();
    for (i, item) in items.iter().enumerate() {
        let r = root(&mut parent, i);
        let g = *index.entry(r).or_insert_with(|| {
            groups.push(Vec::new());
            groups.len() - 1
        });
        groups[g].push(*item);
    }
    groups
}

/// The distinct keys of a group's items, in order.
fn keys_of(alerts: &[Alert], items: &[Item]) -> Vec<EventKey> {
    let mut keys: Vec<EventKey> = Vec::new();
    for &(ai, ti) in items {
        let key = &alerts[ai].tracks[ti].key;
        if !keys.contains(key) {
            keys.push(key.clone());
        }
    }
    keys
}

/// The keys whose chains the poll reads first: every event's own keys. Sorted, once each.
pub fn keys_to_read(alerts: &[Alert]) -> Vec<EventKey> {
    let mut keys: Vec<EventKey> = group_items(alerts)
        .iter()
        .flat_map(|items| keys_of(alerts, items))
        .collect();
    keys.sort_unstable();
    keys.dedup();
    keys
}

/// The other names under which events whose own keys have no record may be remembered (last
/// year's key, records kept before this release, the earlier messages of a chain without
/// VTEC), given the chains read for [`keys_to_read`]. Sorted, once each, none of those read.
pub fn aliases_to_read(alerts: &[Alert], chains: &HashMap<EventKey, Chain>) -> Vec<EventKey> {
    let known = |k: &EventKey| chains.get(k).is_some_and(|c| c.records > 0);
    let mut aliases: Vec<EventKey> = Vec::new();
    for items in group_items(alerts) {
        let found = keys_of(alerts, &items).iter().any(known);
        for &(ai, ti) in &items {
            aliases.extend(
                alerts[ai].tracks[ti]
                    .aliases
                    .iter()
                    .filter(|a| !found || a.message_id().is_none())
                    .cloned(),
            );
        }
    }
    aliases.retain(|k| !chains.contains_key(k));
    aliases.sort_unstable();
    aliases.dedup();
    aliases
}

/// Decides every event of `alerts`, given the floor, whether places matter (`false`: every
/// announcement is a Multicast to every subscriber) and the chains read for
/// [`keys_to_read`] and [`aliases_to_read`] (a key missing here has no record).
pub fn plan<'a>(
    alerts: &'a [Alert],
    malformed: usize,
    floor: Severity,
    places_matter: bool,
    chains: &HashMap<EventKey, Chain>,
) -> Plan<'a> {
    let mut plan = Plan {
        malformed,
        ..Plan::default()
    };
    let empty = Chain::default();
    let chain = |k: &EventKey| chains.get(k).unwrap_or(&empty);
    // Per message: whether it was heard in an announcement, and the memories it was judged by.
    let mut contributed = vec![false; alerts.len()];
    let mut heard_before = vec![false; alerts.len()];
    for (g, items) in group_items(alerts).into_iter().enumerate() {
        let keys = keys_of(alerts, &items);
        // Announcements are recorded under the event's key; for a chain without VTEC, under
        // its newest message, which later messages will reference.
        let primary = if keys[0].message_id().is_none() {
            keys[0].clone()
        } else {
            let newest = items
                .iter()
                .max_by_key(|&&(ai, _)| (alerts[ai].sent, ai))
                .map_or(0, |&(ai, _)| ai);
            EventKey::message(&alerts[newest].id)
        };
        if chain(&primary).records >= super::memory::MAX_RECORDS {
            plan.full.push(primary);
            continue;
        }
        let mut memory = Memory::default();
        let own: Vec<&Chain> = keys.iter().map(chain).filter(|c| c.records > 0).collect();
        // The event's own records; last year's key of an event under way on January 1
        // always (the same event); records of messages (before this release, or a chain
        // without VTEC) when the event has none of its own.
        for &(ai, ti) in &items {
            for alias in &alerts[ai].tracks[ti].aliases {
                if own.is_empty() || alias.message_id().is_none() {
                    memory.merge(&chain(alias).memory);
                }
            }
        }
        for c in own {
            memory.merge(&c.memory);
        }
        memory.merge(&succeeded(alerts, &items, chains));
        let decided = decide(alerts, &items, &memory, floor, places_matter);
        for &(ai, _) in &items {
            let places = &alerts[ai].places;
            heard_before[ai] |= memory.anywhere.is_some()
                || places.iter().any(|p| memory.told.contains_key(p))
                || (!places_matter && memory.heard());
        }
        for (ai, _) in decided.contributors.iter() {
            contributed[*ai] = true;
        }
        let mut record = chain(&primary).records;
        let mut after = memory.clone();
        // An ending matters only where the event was heard (a fan-out to stop, a place never
        // to tell again); an event never announced leaves no record.
        if memory.heard() {
            after.ended.extend(decided.ended.iter().cloned());
        }
        for told in decided.told {
            if record >= super::memory::MAX_RECORDS {
                plan.full.push(primary.clone());
                break;
            }
            record += 1;
            // Each place at its own level: a county told a plain warning beside another told an
            // emergency still hears the emergency when it comes.
            for (place, level) in &told.places {
                after.told.insert(place.clone(), *level);
            }
            if told.places.is_empty() {
                after.anywhere = Some(after.anywhere.map_or(told.level, |l| l.max(told.level)));
            }
            let alert = &alerts[told.alert];
            plan.announce.push(Announcement {
                group: g,
                key: primary.clone(),
                record,
                alert,
                alert_type: alert.alert_type.unwrap_or_default(),
                level: told.level,
                why: told.why,
                places: if told.places.is_empty() {
                    decided.all_places.clone()
                } else {
                    told.places.into_iter().map(|(p, _)| p).collect()
                },
                except: told.except,
                memory: after.clone(),
                ends: decided.ends,
            });
        }
        // Every listed key must find the event's memory next time (the primary has it from
        // its announcements, if any); and where it changed (an ending), every earlier key of
        // the chain it was read from too: a fan-out started under one of them watches it.
        let worth_keeping = after.heard();
        let mut to_write = keys.clone();
        if after != memory {
            for &(ai, ti) in &items {
                for alias in &alerts[ai].tracks[ti].aliases {
                    if chain(alias).records > 0 && !to_write.contains(alias) {
                        to_write.push(alias.clone());
                    }
                }
            }
        }
        for key in &to_write {
            let announced_here = *key == primary && record > chain(&primary).records;
            if worth_keeping
                && !announced_here
                && chain(key).memory != after
                && chain(key).records < super::memory::MAX_RECORDS
            {
                plan.records.push(Record {
                    group: g,
                    key: key.clone(),
                    record: chain(key).records + 1,
                    memory: after.clone(),
                    ends: decided.ends,
                });
            }
        }
        plan.events += 1;
    }
    for (ai, alert) in alerts.iter().enumerate() {
        let skip = if !alert.actual {
            Some(Skip::NotActual)
        } else if alert.kind == MessageKind::Other {
            Some(Skip::NotAnAlert)
        } else if alert.kind == MessageKind::Cancel
            || (!alert.tracks.is_empty() && alert.tracks.iter().all(|t| t.action.ends()))
        {
            Some(Skip::Cancel)
        } else if alert.advance {
            Some(Skip::Advance)
        } else if alert.alert_type.is_none() {
            Some(Skip::OtherEvent)
        } else if alert.severity < floor {
            Some(Skip::BelowMinSeverity)
        } else if places_matter && alert.places.is_empty() {
            Some(Skip::NoPlace)
        } else if contributed[ai] {
            None
        } else if heard_before[ai] {
            Some(Skip::AlreadyTold)
        } else {
            Some(Skip::Continuation)
        };
        if let Some(skip) = skip {
            plan.skipped.push((alert, skip));
        }
    }
    plan
}

/// What the places of an event's messages heard of the events those messages end beside it:
/// one message that cancels or upgrades an event and starts another (a blizzard warning
/// replaced by a winter storm warning, a watch upgraded to a warning) continues the hazard
/// for its places, which hear the new event only if it is more dangerous than what they heard
/// (a watch turned warning is; a blizzard turned winter storm is not).
fn succeeded(alerts: &[Alert], items: &[Item], chains: &HashMap<EventKey, Chain>) -> Memory {
    let empty = Chain::default();
    let chain = |k: &EventKey| chains.get(k).unwrap_or(&empty);
    let mut inherited = Memory::default();
    for &(ai, ti) in items {
        let alert = &alerts[ai];
        if ends(alert, &alert.tracks[ti]) {
            continue;
        }
        for ended in alert.tracks.iter().filter(|t| ends(alert, t)) {
            let mut before = chain(&ended.key).memory.clone();
            if chain(&ended.key).records == 0 {
                for alias in &ended.aliases {
                    before.merge(&chain(alias).memory);
                }
            }
            let here = Memory {
                told: before
                    .told
                    .into_iter()
                    .filter(|(place, _)| alert.places.contains(place))
                    .collect(),
                anywhere: before.anywhere,
                ended: BTreeSet::new(),
            };
            inherited.merge(&here);
        }
    }
    inherited
}

/// One announcement as [`decide`] makes it.
struct Told {
    /// The message it speaks for (index into the alerts).
    alert: usize,
    /// The highest level among its places.
    level: Level,
    why: Why,
    /// Each place with the level it hears (empty: everywhere, a Multicast, at `level`).
    places: Vec<(Place, Level)>,
    except: Vec<Place>,
}

struct Decided {
    told: Vec<Told>,
    ended: BTreeSet<Place>,
    /// The messages heard in an announcement, with their level.
    contributors: Vec<(usize, Level)>,
    all_places: Vec<Place>,
    ends: Option<DateTime<Utc>>,
}

/// Decides one event given what its places heard.
fn decide(
    alerts: &[Alert],
    items: &[Item],
    memory: &Memory,
    floor: Severity,
    places_matter: bool,
) -> Decided {
    let mut ended: BTreeSet<Place> = BTreeSet::new();
    for &(ai, ti) in items {
        let alert = &alerts[ai];
        if ends(alert, &alert.tracks[ti]) {
            ended.extend(alert.places.iter().cloned());
        }
    }
    let gone = |p: &Place| memory.ended.contains(p) || ended.contains(p);
    // What the listed messages say of each place: the highest level, whether one announces
    // the event there, and the base that a continuation must rise above.
    #[derive(Default, Clone, Copy)]
    struct Said {
        level: Level,
        announced: bool,
        risen: bool,
    }
    let mut said: BTreeMap<Place, Said> = BTreeMap::new();
    let mut everywhere = Said::default();
    let mut live: Vec<Item> = Vec::new();
    let mut ends_at: Option<DateTime<Utc>> = None;
    for &(ai, ti) in items {
        let alert = &alerts[ai];
        let track = &alert.tracks[ti];
        if ends(alert, track)
            || alert.advance
            || alert.alert_type.is_none()
            || alert.severity < floor
        {
            continue;
        }
        let places: Vec<&Place> = alert.places.iter().filter(|p| !gone(p)).collect();
        if places_matter && places.is_empty() {
            continue;
        }
        if !places_matter && !alert.places.is_empty() && places.is_empty() {
            continue;
        }
        live.push((ai, ti));
        let announces = track.action.announces() || ANNOUNCE_PLAIN_CONTINUATIONS;
        let risen = alert.level.rises_above(alert.level.base());
        let add = |s: &mut Said| {
            s.level = s.level.max(alert.level);
            s.announced |= announces;
            s.risen |= risen;
        };
        for place in places {
            add(said.entry(place.clone()).or_default());
        }
        add(&mut everywhere);
        ends_at = ends_at.max(alert.hazard_end(track));
    }
    let mut all_places: Vec<Place> = said.keys().cloned().collect();
    all_places.sort();
    let mut told = Vec::new();
    // The message an announcement speaks for: the first live one at its level that names one
    // of its places.
    let speaker = |level: Level, places: &[Place]| -> usize {
        let names =
            |ai: usize| places.is_empty() || alerts[ai].places.iter().any(|p| places.contains(p));
        live.iter()
            .map(|&(ai, _)| ai)
            .find(|&ai| names(ai) && !level.rises_above(alerts[ai].level))
            .or_else(|| live.iter().map(|&(ai, _)| ai).find(|&ai| names(ai)))
            .unwrap_or(0)
    };
    if places_matter {
        let mut new: Vec<(Place, Level)> = Vec::new();
        let mut new_level = Level::default();
        let mut risen: Vec<(Place, Level)> = Vec::new();
        let mut risen_level = Level::default();
        for (place, s) in &said {
            match memory.told(place) {
                None if s.announced || s.risen => {
                    new.push((place.clone(), s.level));
                    new_level = new_level.max(s.level);
                }
                None => {}
                Some(then) if s.level.rises_above(then) => {
                    risen.push((place.clone(), s.level.max(then)));
                    risen_level = risen_level.max(s.level.max(then));
                }
                Some(_) => {}
            }
        }
        if !new.is_empty() {
            // Users also in a county that heard the event at this level or higher, or that
            // hears its escalation now, are left out; one who heard it lower where they also
            // are hears the higher level here.
            let except: Vec<Place> = memory
                .told
                .iter()
                .filter(|(p, then)| {
                    !new_level.rises_above(**then) || risen.iter().any(|(q, _)| q == *p)
                })
                .map(|(p, _)| p.clone())
                .collect();
            let names: Vec<Place> = new.iter().map(|(p, _)| p.clone()).collect();
            told.push(Told {
                alert: speaker(new_level, &names),
                level: new_level,
                why: if memory.heard() {
                    Why::Extension
                } else {
                    Why::New
                },
                places: new,
                except,
            });
        }
        if !risen.is_empty() {
            let names: Vec<Place> = risen.iter().map(|(p, _)| p.clone()).collect();
            told.push(Told {
                alert: speaker(risen_level, &names),
                level: risen_level,
                why: Why::Escalation,
                places: risen,
                except: Vec::new(),
            });
        }
    } else if !live.is_empty() {
        let s = everywhere;
        match memory.highest() {
            None if s.announced || s.risen => told.push(Told {
                alert: speaker(s.level, &[]),
                level: s.level,
                why: Why::New,
                places: Vec::new(),
                except: Vec::new(),
            }),
            Some(then) if s.level.rises_above(then) => told.push(Told {
                alert: speaker(s.level, &[]),
                level: s.level.max(then),
                why: Why::Escalation,
                places: Vec::new(),
                except: Vec::new(),
            }),
            _ => {}
        }
    }
    // The messages heard: those naming a place (or, for a Multicast, any) of an announcement.
    let contributors = live
        .iter()
        .filter(|&&(ai, _)| {
            told.iter().any(|t| {
                t.places.is_empty()
                    || alerts[ai]
                        .places
                        .iter()
                        .any(|p| t.places.iter().any(|(q, _)| q == p))
            })
        })
        .map(|&(ai, _)| (ai, alerts[ai].level))
        .collect();
    Decided {
        told,
        ended,
        contributors,
        all_places,
        ends: ends_at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::weather::alert::Action;
    use crate::weather::vtec::Vtec;

    const A: &str = "40027";
    const B: &str = "40087";
    const C: &str = "40051";
    const TOR: &str = "KOUN.TO.W.0033.2026";

    const WARNING: Level = Level::TORNADO_WARNING;

    fn at(text: &str) -> Option<DateTime<Utc>> {
        Some(
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    /// A message with these VTEC strings (none: a message without VTEC, its own event), for
    /// these counties, at the tornado warning's level.
    fn msg(id: &str, event: &str, kind: MessageKind, vtec: &[&str], places: &[&str]) -> Alert {
        let sent = at("2026-05-01T20:00:00Z");
        let tracks = if vtec.is_empty() {
            vec![Track {
                key: EventKey::message(id),
                action: match kind {
                    MessageKind::Update => Action::Update,
                    MessageKind::Cancel => Action::Cancel,
                    _ => Action::New,
                },
                aliases: Vec::new(),
                ends: None,
            }]
        } else {
            vtec.iter()
                .map(|v| {
                    let v = Vtec::parse(v).unwrap();
                    Track {
                        key: v.key(sent),
                        action: v.action,
                        aliases: vec![EventKey::message(id)],
                        ends: v.ends,
                    }
                })
                .collect()
        };
        Alert {
            id: id.into(),
            event: event.into(),
            alert_type: crate::weather::nws::alert_type(event),
            actual: true,
            advance: false,
            kind,
            severity: Severity::Extreme,
            sender_name: "NWS Norman OK".into(),
            area_desc: "Cleveland, OK".into(),
            sent,
            expires: at("2026-05-01T21:00:00Z"),
            ends: None,
            references: Vec::new(),
            level: WARNING,
            places: places.iter().map(|c| Place::county(c)).collect(),
            tracks,
        }
    }

    fn tor(id: &str, action: &str, places: &[&str]) -> Alert {
        let kind = if action == "NEW" {
            MessageKind::Alert
        } else {
            MessageKind::Update
        };
        let vtec = format!("/O.{action}.KOUN.TO.W.0033.000000T0000Z-260501T2100Z/");
        msg(id, "Tornado Warning", kind, &[&vtec], places)
    }

    fn with(mut alert: Alert, change: impl FnOnce(&mut Alert)) -> Alert {
        change(&mut alert);
        alert
    }

    fn told(places: &[&str], level: Level) -> Memory {
        Memory {
            told: places.iter().map(|c| (Place::county(c), level)).collect(),
            ..Memory::default()
        }
    }

    fn chains(memories: &[(&str, Memory)]) -> HashMap<EventKey, Chain> {
        memories
            .iter()
            .map(|(key, memory)| {
                (
                    EventKey::from_raw(key),
                    Chain {
                        records: 1,
                        memory: memory.clone(),
                    },
                )
            })
            .collect()
    }

    fn counties(places: &[Place]) -> Vec<String> {
        places
            .iter()
            .map(|p| p.code().trim_start_matches('c').to_owned())
            .collect()
    }

    /// What a plan announced: (why, places, except) per announcement.
    fn heard(plan: &Plan<'_>) -> Vec<(Why, Vec<String>, Vec<String>)> {
        plan.announce
            .iter()
            .map(|a| (a.why, counties(&a.places), counties(&a.except)))
            .collect()
    }

    /// Where the plan's final memory of `key` says the event ended.
    fn ended(plan: &Plan<'_>, key: &str) -> Vec<String> {
        let memory = plan
            .announce
            .iter()
            .filter(|a| a.key.as_str() == key)
            .map(|a| &a.memory)
            .chain(
                plan.records
                    .iter()
                    .filter(|r| r.key.as_str() == key)
                    .map(|r| &r.memory),
            )
            .last();
        memory.map_or(Vec::new(), |m| {
            m.ended
                .iter()
                .map(|p| p.code().trim_start_matches('c').to_owned())
                .collect()
        })
    }

    struct Row {
        rule: &'static str,
        before: Vec<(&'static str, Memory)>,
        feed: Vec<Alert>,
        heard: Vec<(Why, Vec<&'static str>, Vec<&'static str>)>,
        /// (event key, counties where it ended)
        ended: Option<(&'static str, Vec<&'static str>)>,
    }

    fn row(
        rule: &'static str,
        before: Vec<(&'static str, Memory)>,
        feed: Vec<Alert>,
        heard: Vec<(Why, Vec<&'static str>, Vec<&'static str>)>,
    ) -> Row {
        Row {
            rule,
            before,
            feed,
            heard,
            ended: None,
        }
    }

    fn level(change: impl FnOnce(&mut Level)) -> Level {
        let mut level = WARNING;
        change(&mut level);
        level
    }

    #[test]
    fn the_rules_of_the_research_table() {
        let emergency = level(|l| l.tornado_threat = 2);
        let svr = |id: &str, action: &str, lvl: Level| {
            let vtec = format!("/O.{action}.KOUN.SV.W.0101.000000T0000Z-260501T2100Z/");
            with(
                msg(
                    id,
                    "Severe Thunderstorm Warning",
                    MessageKind::Update,
                    &[&vtec],
                    &[A],
                ),
                |m| m.level = lvl,
            )
        };
        let svr_base = level(|l| l.extreme = 0);
        let watch = Level {
            warning: 0,
            ..svr_base
        };
        let rows = vec![
            row("1 NEW announces", vec![], vec![tor("n", "NEW", &[A, B])], vec![(Why::New, vec![A, B], vec![])]),
            row(
                "2 a new warning (a new ETN) for a storm already warned is a new event: announced",
                vec![(TOR, told(&[A], WARNING))],
                vec![msg("n2", "Tornado Warning", MessageKind::Alert,
                    &["/O.NEW.KOUN.TO.W.0034.260501T2055Z-260501T2130Z/"], &[A])],
                vec![(Why::New, vec![A], vec![])],
            ),
            row("3 EXA announces to the new places only", vec![(TOR, told(&[A], WARNING))],
                vec![tor("x", "EXA", &[A, B])], vec![(Why::Extension, vec![B], vec![A])]),
            row("3 EXB as well", vec![(TOR, told(&[A], WARNING))],
                vec![tor("x", "EXB", &[A, C])], vec![(Why::Extension, vec![C], vec![A])]),
            row("4 CON, EXT and EXA for places told, without a rise: not announced",
                vec![(TOR, told(&[A, B], WARNING))],
                vec![tor("c", "CON", &[A, B]), tor("e", "EXT", &[A]), tor("x", "EXA", &[B])], vec![]),
            row("5 tornado damage threat CATASTROPHIC: announced again", vec![(TOR, told(&[A, B], WARNING))],
                vec![with(tor("c", "CON", &[A]), |m| m.level = emergency)],
                vec![(Why::Escalation, vec![A], vec![])]),
            row("5 tornado damage threat CONSIDERABLE: announced again", vec![(TOR, told(&[A], WARNING))],
                vec![with(tor("c", "CON", &[A]), |m| m.level.tornado_threat = 1)],
                vec![(Why::Escalation, vec![A], vec![])]),
            row("6 thunderstorm damage threat DESTRUCTIVE: announced again",
                vec![("KOUN.SV.W.0101.2026", told(&[A], svr_base))],
                vec![svr("s", "CON", level(|l| { l.extreme = 0; l.storm_threat = 1; }))],
                vec![(Why::Escalation, vec![A], vec![])]),
            row("7 thunderstorm damage threat CONSIDERABLE (read as the base): not",
                vec![("KOUN.SV.W.0101.2026", told(&[A], svr_base))],
                vec![svr("s", "CON", svr_base)], vec![]),
            row("8 tornado RADAR INDICATED to OBSERVED: announced again", vec![(TOR, told(&[A], WARNING))],
                vec![with(tor("c", "CON", &[A]), |m| m.level.tornado_observed = 1)],
                vec![(Why::Escalation, vec![A], vec![])]),
            Row {
                rule: "9 a watch upgraded to a warning of a mapped type (UPG + NEW): announced, the watch ends",
                before: vec![("KTSA.WS.A.0004.2026", told(&[A], watch))],
                feed: vec![msg("u", "Winter Storm Warning", MessageKind::Alert, &[
                    "/O.UPG.KTSA.WS.A.0004.000000T0000Z-260502T1800Z/",
                    "/O.NEW.KTSA.WS.W.0002.260501T2000Z-260502T1800Z/"], &[A])],
                // Heard again: the warning is more dangerous than the watch its county heard.
                heard: vec![(Why::Escalation, vec![A], vec![])],
                ended: Some(("KTSA.WS.A.0004.2026", vec![A])),
            },
            Row {
                rule: "9 a watch upgraded where only some counties heard it: the others hear the warning as new",
                before: vec![("KTSA.WS.A.0004.2026", told(&[A], watch))],
                feed: vec![msg("u", "Winter Storm Warning", MessageKind::Alert, &[
                    "/O.UPG.KTSA.WS.A.0004.000000T0000Z-260502T1800Z/",
                    "/O.NEW.KTSA.WS.W.0002.260501T2000Z-260502T1800Z/"], &[A, B])],
                heard: vec![(Why::Extension, vec![B], vec![A]), (Why::Escalation, vec![A], vec![])],
                ended: Some(("KTSA.WS.A.0004.2026", vec![A, B])),
            },
            Row {
                rule: "11 a blizzard warning replaced by a winter storm warning (CAN + NEW): not heard again, the blizzard ends",
                before: vec![("KBIS.BZ.W.0003.2026", told(&[A], svr_base))],
                feed: vec![with(msg("d", "Winter Storm Warning", MessageKind::Update, &[
                    "/O.CAN.KBIS.BZ.W.0003.000000T0000Z-000000T0000Z/",
                    "/O.NEW.KBIS.WS.W.0005.260501T2000Z-260502T1800Z/"], &[A]), |m| {
                        m.severity = Severity::Severe;
                        m.level = svr_base;
                    })],
                heard: vec![],
                ended: Some(("KBIS.BZ.W.0003.2026", vec![A])),
            },
            Row {
                rule: "10 a watch upgraded to an advisory: not announced, the watch ends",
                before: vec![("KTSA.WS.A.0004.2026", told(&[A], watch))],
                feed: vec![msg("u", "Winter Weather Advisory", MessageKind::Alert, &[
                    "/O.UPG.KTSA.WS.A.0004.000000T0000Z-260502T1800Z/",
                    "/O.NEW.KTSA.WW.Y.0007.260501T2000Z-260502T1800Z/"], &[A])],
                heard: vec![],
                ended: Some(("KTSA.WS.A.0004.2026", vec![A])),
            },
            Row {
                rule: "11 a downgrade (hurricane to tropical storm): not announced, the hurricane ends",
                before: vec![("KMFL.HU.W.1009.2026", told(&[A], WARNING))],
                feed: vec![msg("d", "Tropical Storm Warning", MessageKind::Update, &[
                    "/O.CAN.KMFL.HU.W.1009.000000T0000Z-000000T0000Z/",
                    "/O.EXA.KMFL.TR.W.1009.000000T0000Z-000000T0000Z/"], &[A])],
                heard: vec![],
                ended: Some(("KMFL.HU.W.1009.2026", vec![A])),
            },
            row("12 gusts or hail rise without a threat tag: the level is the same, not announced",
                vec![("KOUN.SV.W.0101.2026", told(&[A], svr_base))], vec![svr("s", "CON", svr_base)], vec![]),
            row("13 severity rising to Extreme: announced again",
                vec![("KOUN.SV.W.0101.2026", told(&[A], svr_base))], vec![svr("s", "CON", WARNING)],
                vec![(Why::Escalation, vec![A], vec![])]),
            row("14 certainty or urgency change: not part of the level, not announced",
                vec![(TOR, told(&[A], WARNING))], vec![tor("c", "CON", &[A])], vec![]),
            row("15 a thunderstorm warning with tornado POSSIBLE: no part rises, not announced",
                vec![("KOUN.SV.W.0101.2026", told(&[A], svr_base))], vec![svr("s", "CON", svr_base)], vec![]),
            Row {
                rule: "16 CAN: never announced, ended for its places",
                before: vec![(TOR, told(&[A, B], WARNING))],
                feed: vec![with(tor("x", "CAN", &[A]), |m| { m.severity = Severity::Minor; m.level = Level::default(); })],
                heard: vec![],
                ended: Some((TOR, vec![A])),
            },
            Row {
                rule: "16 EXP: never announced, ended",
                before: vec![(TOR, told(&[A], WARNING))],
                feed: vec![tor("x", "EXP", &[A])],
                heard: vec![],
                ended: Some((TOR, vec![A])),
            },
            Row {
                rule: "16 a Cancel without VTEC, its original no longer listed: ended under the original's key too",
                before: vec![("msg:orig", told(&[A], WARNING))],
                feed: vec![with(msg("cx", "Tornado Warning", MessageKind::Cancel, &[], &[A]), |m| {
                    m.tracks[0].aliases = vec![EventKey::message("orig")];
                    m.references = vec!["orig".into()];
                })],
                heard: vec![],
                ended: Some(("msg:orig", vec![A])),
            },
            Row {
                rule: "16 a Cancel without VTEC: never announced, ended",
                before: vec![("msg:orig", told(&[A], WARNING))],
                feed: vec![with(msg("cx", "Tornado Warning", MessageKind::Cancel, &[], &[A]), |m| {
                    m.tracks[0].aliases = vec![EventKey::message("orig")];
                    m.references = vec!["orig".into()];
                })],
                heard: vec![],
                ended: Some(("msg:cx", vec![A])),
            },
            row("17 COR: not announced", vec![(TOR, told(&[A], WARNING))], vec![tor("c", "COR", &[A])], vec![]),
            row("17 COR of an event never heard: not announced", vec![], vec![tor("c", "COR", &[A])], vec![]),
            row("18 ROU: not announced", vec![], vec![tor("r", "ROU", &[A])], vec![]),
            row("18 a status other than Actual: not announced", vec![],
                vec![with(tor("t", "NEW", &[A]), |m| m.actual = false)], vec![]),
            row("18 the same message twice: announced once", vec![],
                vec![tor("n", "NEW", &[A]), tor("n", "NEW", &[A])], vec![(Why::New, vec![A], vec![])]),
            row("19 a new expires, text edits: not announced", vec![(TOR, told(&[A], WARNING))],
                vec![with(tor("c", "EXT", &[A]), |m| m.expires = at("2026-05-01T23:00:00Z"))], vec![]),
            // The combinations the issue names.
            row("the original beside an escalated update, original heard: the escalation is announced",
                vec![(TOR, told(&[A], WARNING))],
                vec![tor("n", "NEW", &[A]), with(tor("c", "CON", &[A]), |m| m.level = emergency)],
                vec![(Why::Escalation, vec![A], vec![])]),
            row("the original beside a plain update, original heard: not announced",
                vec![(TOR, told(&[A], WARNING))], vec![tor("n", "NEW", &[A]), tor("c", "CON", &[A])], vec![]),
            row("the original and its escalated update first seen together: announced once",
                vec![], vec![tor("n", "NEW", &[A]), with(tor("c", "CON", &[A]), |m| m.level = emergency)],
                vec![(Why::New, vec![A], vec![])]),
            row("CON arriving as Alert with its predecessor in expiredReferences: not announced",
                vec![(TOR, told(&[A], WARNING))],
                vec![with(tor("c", "CON", &[A]), |m| { m.kind = MessageKind::Alert; m.references = vec!["old".into()]; })],
                vec![]),
            row("EXT arriving as Alert: not announced", vec![(TOR, told(&[A], WARNING))],
                vec![with(tor("e", "EXT", &[A]), |m| m.kind = MessageKind::Alert)], vec![]),
            Row {
                rule: "CAN arriving as Alert: not announced, ended",
                before: vec![(TOR, told(&[A], WARNING))],
                feed: vec![with(tor("x", "CAN", &[A]), |m| m.kind = MessageKind::Alert)],
                heard: vec![],
                ended: Some((TOR, vec![A])),
            },
            row("two segments of one event: one announcement to both",
                vec![], vec![tor("s1", "NEW", &[A]), tor("s2", "NEW", &[A, B])], vec![(Why::New, vec![A, B], vec![])]),
            row("a segment seen after the first was heard: its new places only",
                vec![(TOR, told(&[A], WARNING))], vec![tor("s1", "NEW", &[A]), tor("s2", "NEW", &[B])],
                vec![(Why::Extension, vec![B], vec![A])]),
            Row {
                rule: "EXP of an event never heard: nothing, and no record",
                before: vec![],
                feed: vec![tor("x", "EXP", &[A])],
                heard: vec![],
                ended: Some((TOR, vec![])),
            },
            row("CON of an event never heard, at its base: a continuation, not announced",
                vec![], vec![tor("c", "CON", &[A])], vec![]),
            row("CON of an event never heard, with a tornado emergency: announced",
                vec![], vec![with(tor("c", "CON", &[A]), |m| m.level = emergency)], vec![(Why::New, vec![A], vec![])]),
            row("an ended place is not told again", vec![(TOR, Memory {
                    ended: [Place::county(A)].into(), ..told(&[A], WARNING) })],
                vec![with(tor("c", "CON", &[A]), |m| m.level = emergency)], vec![]),
            row("an escalation and an extension together: each to its places",
                vec![(TOR, told(&[A], WARNING))],
                vec![with(tor("x", "EXA", &[A, B]), |m| m.level = emergency)],
                vec![(Why::Extension, vec![B], vec![A]), (Why::Escalation, vec![A], vec![])]),
            row("an extension at a higher level than a county told before: its users hear it",
                vec![(TOR, told(&[A], WARNING))],
                vec![with(tor("x", "EXA", &[B]), |m| m.level = emergency)],
                vec![(Why::Extension, vec![B], vec![])]),
            row("below the floor: not announced", vec![],
                vec![with(tor("n", "NEW", &[A]), |m| m.severity = Severity::Moderate)], vec![]),
        ];
        for r in rows {
            let before = chains(&r.before);
            let plan = plan(&r.feed, 0, Severity::Severe, true, &before);
            if r.before.is_empty() && r.heard.is_empty() {
                assert!(
                    plan.records.is_empty(),
                    "rule {:?}: {:?}",
                    r.rule,
                    plan.records
                );
            }
            let want: Vec<(Why, Vec<String>, Vec<String>)> = r
                .heard
                .iter()
                .map(|(why, places, except)| {
                    (
                        *why,
                        places.iter().map(|p| p.to_string()).collect(),
                        except.iter().map(|p| p.to_string()).collect(),
                    )
                })
                .collect();
            assert_eq!(heard(&plan), want, "rule {:?}", r.rule);
            if let Some((key, places)) = r.ended {
                assert_eq!(ended(&plan, key), places, "rule {:?}", r.rule);
            }
        }
    }

    #[test]
    fn announcements_record_the_memory_after_them_in_order() {
        let emergency = level(|l| l.tornado_threat = 2);
        let before = chains(&[(TOR, told(&[A], WARNING))]);
        let feed = vec![with(tor("x", "EXA", &[A, B]), |m| m.level = emergency)];
        let p = plan(&feed, 0, Severity::Severe, true, &before);
        // Records 2 and 3 of the event's chain; each holds the memory after it, so a poll
        // that sends the first and not the second sends the second next time.
        assert_eq!(
            p.announce.iter().map(|a| a.record).collect::<Vec<_>>(),
            [2, 3]
        );
        assert_eq!(
            p.announce[0].memory,
            told(&[A, B], WARNING).tap(|m| {
                m.told.insert(Place::county(B), emergency);
            })
        );
        assert_eq!(p.announce[1].memory, told(&[A, B], emergency));
        assert_eq!(p.announce[1].level, emergency);
        assert!(p.records.is_empty(), "{:?}", p.records);
        // Unchanged next time: nothing announced, nothing recorded.
        let after = HashMap::from([(
            EventKey::from_raw(TOR),
            Chain {
                records: 3,
                memory: p.announce[1].memory.clone(),
            },
        )]);
        let again = plan(&feed, 0, Severity::Severe, true, &after);
        assert!(again.announce.is_empty() && again.records.is_empty());
        assert_eq!(again.skipped_counts(), BTreeMap::from([("alreadyTold", 1)]));
    }

    #[test]
    fn each_county_is_remembered_at_the_level_it_heard() {
        // First seen together: the NEW for A and B, and A's update to a tornado emergency.
        let emergency = level(|l| l.tornado_threat = 2);
        let feed = vec![
            tor("n", "NEW", &[A, B]),
            with(tor("c", "CON", &[A]), |m| m.level = emergency),
        ];
        let p = plan(&feed, 0, Severity::Severe, true, &HashMap::new());
        assert_eq!(heard(&p), [(Why::New, vec![A.into(), B.into()], vec![])]);
        let memory = p.announce[0].memory.clone();
        assert_eq!(memory.told(&Place::county(A)), Some(emergency));
        assert_eq!(memory.told(&Place::county(B)), Some(WARNING));
        // B's own emergency later is heard there.
        let before = chains(&[(TOR, memory)]);
        let feed = vec![with(tor("d", "CON", &[B]), |m| m.level = emergency)];
        let p = plan(&feed, 0, Severity::Severe, true, &before);
        assert_eq!(heard(&p), [(Why::Escalation, vec![B.into()], vec![])]);
    }

    #[test]
    fn a_full_record_chain_is_decided_no_further() {
        let full = HashMap::from([(
            EventKey::from_raw(TOR),
            Chain {
                records: crate::weather::memory::MAX_RECORDS,
                memory: told(&[A], WARNING),
            },
        )]);
        let feed = vec![tor("x", "EXA", &[A, B])];
        let p = plan(&feed, 0, Severity::Severe, true, &full);
        assert!(p.announce.is_empty() && p.records.is_empty());
        assert_eq!(p.full, [EventKey::from_raw(TOR)]);
        // One short of full: the one announcement it has room for, then full.
        let almost = HashMap::from([(
            EventKey::from_raw(TOR),
            Chain {
                records: crate::weather::memory::MAX_RECORDS - 1,
                memory: told(&[A], WARNING),
            },
        )]);
        let feed = vec![with(tor("x", "EXA", &[A, B]), |m| {
            m.level.tornado_threat = 2
        })];
        let p = plan(&feed, 0, Severity::Severe, true, &almost);
        assert_eq!(p.announce.len(), 1);
        assert_eq!(p.announce[0].record, crate::weather::memory::MAX_RECORDS);
        assert_eq!(p.full, [EventKey::from_raw(TOR)]);
    }

    #[test]
    fn an_event_under_way_on_january_1_is_one_event_across_the_year() {
        // The NEW of December 31 (keyed 2025) and its EXA of January 1 (begins 000000, keyed
        // 2026, last year's key as alias), first seen together: one announcement.
        let new = {
            let mut m = msg(
                "n",
                "Tornado Warning",
                MessageKind::Alert,
                &["/O.NEW.KOUN.TO.W.0099.251231T2350Z-260101T0030Z/"],
                &[A],
            );
            m.sent = at("2025-12-31T23:50:00Z");
            m
        };
        let exa = {
            let mut m = msg("x", "Tornado Warning", MessageKind::Update, &[], &[A, B]);
            let v = Vtec::parse("/O.EXA.KOUN.TO.W.0099.000000T0000Z-260101T0030Z/").unwrap();
            let sent = at("2026-01-01T00:05:00Z");
            m.sent = sent;
            m.tracks = vec![Track {
                key: v.key(sent),
                action: v.action,
                aliases: v.last_years_key(sent).into_iter().collect(),
                ends: v.ends,
            }];
            m
        };
        assert_eq!(exa.tracks[0].key.as_str(), "KOUN.TO.W.0099.2026");
        let feed = vec![new, exa.clone()];
        let p = plan(&feed, 0, Severity::Severe, true, &HashMap::new());
        assert_eq!(heard(&p), [(Why::New, vec![A.into(), B.into()], vec![])]);
        // Heard under last year's key: the EXA alone adds nothing for A, and its ending
        // reaches last year's chain too (a fan-out queued in December watches it).
        let before = chains(&[("KOUN.TO.W.0099.2025", told(&[A, B], WARNING))]);
        let mut read = before.clone();
        read.insert(EventKey::from_raw("KOUN.TO.W.0099.2026"), Chain::default());
        assert!(aliases_to_read(std::slice::from_ref(&exa), &read).is_empty());
        let p = plan(
            std::slice::from_ref(&exa),
            0,
            Severity::Severe,
            true,
            &before,
        );
        assert!(p.announce.is_empty(), "{:?}", heard(&p));
        let mut can = exa.clone();
        can.tracks[0].action = Action::Cancel;
        let feed = [can];
        let p = plan(&feed, 0, Severity::Severe, true, &before);
        assert!(
            p.records
                .iter()
                .any(|r| r.key.as_str() == "KOUN.TO.W.0099.2025"
                    && r.memory.ended.contains(&Place::county(A))),
            "{:?}",
            p.records
        );
    }

    #[test]
    fn a_message_without_vtec_whose_original_is_only_in_expired_references_is_not_news() {
        // NWS sends it as `Alert` with empty references once the original expired; its parser
        // counts expiredReferences as references, which name the original's record.
        let late = with(
            msg("late", "Tornado Warning", MessageKind::Alert, &[], &[A]),
            |m| {
                m.references = vec!["orig".into()];
                m.tracks[0].aliases = vec![EventKey::message("orig")];
            },
        );
        let before = chains(&[("msg:orig", told(&[A], WARNING))]);
        let p = plan(
            std::slice::from_ref(&late),
            0,
            Severity::Severe,
            true,
            &before,
        );
        assert!(p.announce.is_empty(), "{:?}", heard(&p));
        assert_eq!(p.skipped_counts(), BTreeMap::from([("alreadyTold", 1)]));
        // Without that record it would be a new alert.
        let feed = [late];
        let p = plan(&feed, 0, Severity::Severe, true, &HashMap::new());
        assert_eq!(p.announce.len(), 1);
    }

    trait Tap: Sized {
        fn tap(mut self, f: impl FnOnce(&mut Self)) -> Self {
            f(&mut self);
            self
        }
    }
    impl Tap for Memory {}

    #[test]
    fn the_hazard_s_end_not_the_message_s_expires_is_the_alert_s() {
        let feed = vec![tor("n", "NEW", &[A])];
        let p = plan(&feed, 0, Severity::Severe, true, &HashMap::new());
        // VTEC's end (21:00) rather than `expires`; with `ends` given, VTEC's still wins.
        assert_eq!(p.announce[0].ends, at("2026-05-01T21:00:00Z"));
        let open = with(
            msg(
                "w",
                "Winter Storm Warning",
                MessageKind::Alert,
                &["/O.NEW.KTSA.WS.W.0002.260501T2000Z-000000T0000Z/"],
                &[A],
            ),
            |m| m.ends = at("2026-05-03T06:00:00Z"),
        );
        let feed = vec![open];
        let p = plan(&feed, 0, Severity::Severe, true, &HashMap::new());
        assert_eq!(p.announce[0].ends, at("2026-05-03T06:00:00Z"));
    }

    #[test]
    fn records_kept_before_events_keep_active_alerts_from_being_announced_again() {
        // The release before this one recorded the message `orig` (a tornado warning sent to
        // county A). Its continuation names it in references: found, not announced, and the
        // event's own key records what A heard.
        let feed = vec![with(tor("c", "CON", &[A, B]), |m| {
            m.references = vec!["orig".into()];
            m.tracks[0].aliases.push(EventKey::message("orig"));
        })];
        let mut read = HashMap::from([(EventKey::from_raw(TOR), Chain::default())]);
        assert_eq!(keys_to_read(&feed), [EventKey::from_raw(TOR)]);
        assert_eq!(
            aliases_to_read(&feed, &read),
            [EventKey::message("c"), EventKey::message("orig")]
        );
        read.insert(
            EventKey::message("orig"),
            Chain {
                records: 1,
                memory: Memory::decode(Some("10001@40027")),
            },
        );
        let p = plan(&feed, 0, Severity::Severe, true, &read);
        assert!(p.announce.is_empty(), "{:?}", heard(&p));
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].key.as_str(), TOR);
        assert_eq!(p.records[0].record, 1);
        assert_eq!(p.records[0].memory, told(&[A], WARNING));
        // The NEW of that event, still listed, is not news to A either; B hears it.
        let feed = vec![with(tor("orig", "NEW", &[A, B]), |m| {
            m.tracks[0].aliases = vec![EventKey::message("orig")];
        })];
        let p = plan(&feed, 0, Severity::Severe, true, &read);
        assert_eq!(
            heard(&p),
            [(Why::Extension, vec![B.to_string()], vec![A.to_string()])]
        );
    }

    #[test]
    fn a_chain_without_vtec_is_one_event_and_remembered_under_each_message() {
        let original = msg("a", "Tornado Warning", MessageKind::Alert, &[], &[A]);
        let update = with(
            msg("b", "Tornado Warning", MessageKind::Update, &[], &[A, B]),
            |m| {
                m.references = vec!["a".into()];
                m.tracks[0].aliases = vec![EventKey::message("a")];
                m.sent = at("2026-05-01T20:10:00Z");
            },
        );
        // Both in one feed: one announcement, recorded under the newest message (which a
        // later update will reference), and the older one too.
        let feed = vec![original, update.clone()];
        let p = plan(&feed, 0, Severity::Severe, true, &HashMap::new());
        assert_eq!(heard(&p), [(Why::New, vec![A.into(), B.into()], vec![])]);
        assert_eq!(p.announce[0].key, EventKey::message("b"));
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].key, EventKey::message("a"));
        // Only the update listed, its original heard in A: B only.
        let before = chains(&[("msg:a", told(&[A], WARNING))]);
        assert_eq!(
            aliases_to_read(
                std::slice::from_ref(&update),
                &HashMap::from([(EventKey::message("b"), Chain::default())])
            ),
            [EventKey::message("a")]
        );
        let feed = vec![update.clone()];
        let p = plan(&feed, 0, Severity::Severe, true, &before);
        assert_eq!(
            heard(&p),
            [(Why::Extension, vec![B.into()], vec![A.into()])]
        );
        // An update of an update, the original gone from the feed: memory is found through
        // the chain, nothing new, and the newest message keeps it for the next one.
        let next = with(
            msg("c", "Tornado Warning", MessageKind::Update, &[], &[A, B]),
            |m| {
                m.tracks[0].aliases = vec![EventKey::message("b")];
            },
        );
        let before = chains(&[("msg:b", told(&[A, B], WARNING))]);
        let feed = vec![next];
        let p = plan(&feed, 0, Severity::Severe, true, &before);
        assert!(p.announce.is_empty());
        assert_eq!(p.records.len(), 1);
        assert_eq!(p.records[0].key, EventKey::message("c"));
        assert_eq!(p.skipped_counts(), BTreeMap::from([("alreadyTold", 1)]));
    }

    #[test]
    fn when_places_do_not_matter_each_event_is_one_multicast_and_rises_only_are_news() {
        let emergency = level(|l| l.tornado_threat = 2);
        let feed = vec![tor("s1", "NEW", &[A]), tor("s2", "NEW", &[B])];
        let p = plan(&feed, 0, Severity::Severe, false, &HashMap::new());
        assert_eq!(heard(&p), [(Why::New, vec![A.into(), B.into()], vec![])]);
        assert_eq!(p.announce[0].memory.anywhere, Some(WARNING));
        let before = chains(&[(TOR, p.announce[0].memory.clone())]);
        // A later segment: everyone heard the event.
        let feed = vec![tor("s3", "NEW", &[C])];
        let p = plan(&feed, 0, Severity::Severe, false, &before);
        assert!(p.announce.is_empty());
        let feed = vec![with(tor("c", "CON", &[C]), |m| m.level = emergency)];
        let p = plan(&feed, 0, Severity::Severe, false, &before);
        assert_eq!(p.announce.len(), 1);
        assert_eq!(p.announce[0].why, Why::Escalation);
    }

    #[test]
    fn messages_are_counted_by_why_they_were_not_announced() {
        let mut heat = tor("h", "NEW", &[A]);
        heat.event = "Heat Advisory".into();
        heat.alert_type = None;
        heat.tracks[0].key = EventKey::from_raw("KOUN.HT.Y.0001.2026");
        let feed = vec![
            with(tor("t", "NEW", &[A]), |m| m.actual = false),
            heat,
            with(tor("m", "NEW", &[A]), |m| {
                m.severity = Severity::Moderate;
                m.tracks[0].key = EventKey::from_raw("K.TO.W.1.2026");
            }),
            with(tor("x", "CAN", &[A]), |m| {
                m.tracks[0].key = EventKey::from_raw("K.TO.W.2.2026")
            }),
            with(tor("ack", "NEW", &[A]), |m| m.kind = MessageKind::Other),
            tor("marine", "NEW", &[]),
            with(tor("con", "CON", &[A]), |m| {
                m.tracks[0].key = EventKey::from_raw("K.TO.W.3.2026")
            }),
        ];
        let p = plan(&feed, 2, Severity::Severe, true, &HashMap::new());
        assert!(p.announce.is_empty());
        assert_eq!(
            p.skipped_counts(),
            BTreeMap::from([
                ("belowMinSeverity", 1),
                ("cancel", 1),
                ("continuation", 1),
                ("malformed", 2),
                ("noPlace", 1),
                ("notActual", 1),
                ("notAnAlert", 1),
                ("otherEvent", 1),
            ])
        );
    }
}
