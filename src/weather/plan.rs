//! Which feed alerts a poll announces: a pure decision over the feed, the severity floor and
//! what was announced before, so every rule is tested without a feed, a table or a clock.
//!
//! An `Update` of an announced alert is announced again only when it escalates: some part of
//! its [`Level`] (warning, tornado or thunderstorm damage threat, confirmed tornado, Extreme
//! severity) rises above what was announced for the alerts it updates. A plain update (a new
//! expiry, the same threat) is recorded as announced, with the higher level, so an update of
//! that update is compared with it. An update whose original arrives in the same poll counts
//! as announced with it.
//!
//! Places, too: each record keeps the counties its chain was announced to. An update that does
//! not raise the danger but names counties the chain was not announced to (NWS extends a
//! winter storm warning to more zones) is announced to those counties only, except to users
//! who are also in a county told before: they heard it already.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};

use super::nws::{self, Alert, Feed, Level, Skip};
use super::Severity;

/// One alert to announce.
#[derive(Debug, PartialEq)]
pub struct Announce<'a> {
    pub alert: &'a Alert,
    /// Its Alexa alert type.
    pub alert_type: &'static str,
    /// The level to keep with its record: its own, or the higher of its own and the one
    /// announced for the alerts it updates.
    pub level: Level,
    /// An update announced again because it raises the danger.
    pub escalation: bool,
    /// The counties it goes to (all of its own, or, for an update that extends the area,
    /// only the new ones).
    pub counties: Vec<String>,
    /// Users in these counties heard the chain already (an extension): they are left out.
    pub except: Vec<String>,
    /// The counties to keep with its record: all that the chain was announced to, with this.
    pub told: Places,
    /// An update announced because it extends the area (not because it raises the danger).
    pub extension: bool,
}

/// The counties a chain was announced to; `None` when not known (a record kept before places
/// were): taken to cover every county, so that nobody hears an alert twice.
pub type Places = Option<BTreeSet<String>>;

/// How a record's tag keeps a level and the counties told: `12001@40027,40087`. A tag
/// without `@` (kept before places were) has no counties.
pub fn encode_tag(level: Level, told: &Places) -> String {
    match told {
        Some(counties) => format!(
            "{}@{}",
            level.encode(),
            counties.iter().cloned().collect::<Vec<_>>().join(",")
        ),
        None => level.encode(),
    }
}

/// What [`encode_tag`] wrote.
pub fn decode_tag(tag: &str) -> (Level, Places) {
    match tag.split_once('@') {
        Some((level, counties)) => (
            Level::decode(level),
            Some(
                counties
                    .split(',')
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect(),
            ),
        ),
        None => (Level::decode(tag), None),
    }
}

/// What a poll does with its feed.
#[derive(Debug, PartialEq)]
pub struct Plan<'a> {
    /// Alerts to announce, in feed order.
    pub announce: Vec<Announce<'a>>,
    /// Updates of announced alerts that do not raise the danger: recorded as announced, with
    /// the level to keep, not announced again.
    pub updates: Vec<(&'a Alert, Level)>,
    /// The counties to keep with each update's record (by alert id).
    pub updates_told: HashMap<&'a str, Places>,
    /// Alerts not announced, with why (updates included).
    pub skipped: Vec<(&'a Alert, Skip)>,
    /// Features that could not be read.
    pub malformed: usize,
}

impl Plan<'_> {
    /// How many alerts were skipped for each reason, as the poll's answer reports it.
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

    /// How many updates are announced again because they raise the danger.
    pub fn escalations(&self) -> usize {
        self.announce.iter().filter(|a| a.escalation).count()
    }

    /// How many updates are announced to new counties only.
    pub fn extensions(&self) -> usize {
        self.announce.iter().filter(|a| a.extension).count()
    }
}

fn verdicts(feed: &Feed, floor: Severity) -> Vec<(&Alert, Result<&'static str, Skip>)> {
    feed.alerts
        .iter()
        .map(|alert| (alert, nws::verdict(alert, floor)))
        .collect()
}

/// The earlier alert ids whose announcement decides this feed's updates: the poll looks them
/// up in the ledger before calling [`plan`]. An id that is itself in the feed (and passes the
/// rules) is decided within the feed. Sorted, without repeats.
pub fn references_to_check(feed: &Feed, floor: Severity) -> Vec<String> {
    let verdicts = verdicts(feed, floor);
    let present: HashSet<&str> = verdicts
        .iter()
        .filter(|(_, verdict)| verdict.is_ok())
        .map(|(alert, _)| alert.id.as_str())
        .collect();
    let mut ids: Vec<String> = verdicts
        .iter()
        .filter(|(alert, verdict)| alert.message_type == "Update" && verdict.is_ok())
        .flat_map(|(alert, _)| alert.references.iter())
        .filter(|r| !present.contains(r.as_str()))
        .cloned()
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// What the plan decided for an alert that passes the rules.
#[derive(Debug, Clone, PartialEq)]
enum Decision {
    /// Announced by this poll, at this level (an escalation?), to the chain's counties.
    Announced(Level, bool, Places),
    /// Announced by this poll to new counties only (the first), except the users of the
    /// chain's earlier ones (the second); the chain's counties are then the third.
    Extended(Level, Vec<String>, Vec<String>, Places),
    /// Recorded as announced (an update that does not raise the danger), at this level.
    Recorded(Level, Places),
}

impl Decision {
    fn level(&self) -> Level {
        match self {
            Decision::Announced(level, ..)
            | Decision::Extended(level, ..)
            | Decision::Recorded(level, _) => *level,
        }
    }

    fn told(&self) -> &Places {
        match self {
            Decision::Announced(_, _, told)
            | Decision::Extended(_, _, _, told)
            | Decision::Recorded(_, told) => told,
        }
    }
}

fn own_places(alert: &Alert) -> Places {
    Some(alert.counties.iter().cloned().collect())
}

/// Decides every alert of `feed`, given the floor and the earlier alerts known to be
/// announced (from [`references_to_check`]), each with the level announced for it (`None`
/// for a record kept before levels were: it is not compared). A chain of messages about one
/// hazard in the same feed (an alert, its update, an update of that) is announced once: the
/// updates are decided after what they update.
pub fn plan<'a>(
    feed: &'a Feed,
    floor: Severity,
    announced: &HashMap<String, Option<Level>>,
) -> Plan<'a> {
    plan_with_places(feed, floor, announced, Some(&HashMap::new()))
}

/// [`plan`], given also the counties each earlier alert's chain was announced to (from its
/// record; an id missing here is taken to have covered every county). `None`: places do not
/// matter (every alert goes to everyone), so no update extends an area.
pub fn plan_with_places<'a>(
    feed: &'a Feed,
    floor: Severity,
    announced: &HashMap<String, Option<Level>>,
    places: Option<&HashMap<String, BTreeSet<String>>>,
) -> Plan<'a> {
    let verdicts = verdicts(feed, floor);
    let by_id: HashMap<&str, (&Alert, &'static str)> = verdicts
        .iter()
        .filter_map(|(alert, verdict)| verdict.ok().map(|t| (alert.id.as_str(), (*alert, t))))
        .collect();
    let mut decided: HashMap<&str, Decision> = HashMap::new();
    for (alert, verdict) in &verdicts {
        if verdict.is_ok() {
            decide(
                alert,
                &by_id,
                announced,
                places,
                &mut decided,
                &mut HashSet::new(),
            );
        }
    }
    let mut plan = Plan {
        announce: Vec::new(),
        updates: Vec::new(),
        updates_told: HashMap::new(),
        skipped: Vec::new(),
        malformed: feed.malformed.len(),
    };
    for (alert, verdict) in verdicts {
        let alert_type = match verdict {
            Ok(alert_type) => alert_type,
            Err(skip) => {
                plan.skipped.push((alert, skip));
                continue;
            }
        };
        match decided.get(alert.id.as_str()) {
            Some(Decision::Announced(level, escalation, told)) => plan.announce.push(Announce {
                alert,
                alert_type,
                level: *level,
                escalation: *escalation,
                counties: alert.counties.clone(),
                except: Vec::new(),
                told: told.clone(),
                extension: false,
            }),
            Some(Decision::Extended(level, new, except, told)) => plan.announce.push(Announce {
                alert,
                alert_type,
                level: *level,
                escalation: false,
                counties: new.clone(),
                except: except.clone(),
                told: told.clone(),
                extension: true,
            }),
            Some(Decision::Recorded(level, told)) => {
                plan.updates.push((alert, *level));
                plan.updates_told.insert(alert.id.as_str(), told.clone());
                plan.skipped.push((alert, Skip::UpdateOfAnnounced));
            }
            None => {}
        }
    }
    plan
}

/// Decides `alert` after the alerts of the feed it updates (memoised in `decided`).
fn decide<'a>(
    alert: &'a Alert,
    by_id: &HashMap<&'a str, (&'a Alert, &'static str)>,
    announced: &HashMap<String, Option<Level>>,
    places: Option<&HashMap<String, BTreeSet<String>>>,
    decided: &mut HashMap<&'a str, Decision>,
    visiting: &mut HashSet<&'a str>,
) -> Decision {
    if let Some(decision) = decided.get(alert.id.as_str()) {
        return decision.clone();
    }
    // A message never references itself or a later one; a feed that says otherwise is cut here.
    if !visiting.insert(alert.id.as_str()) {
        return Decision::Announced(alert.level, false, own_places(alert));
    }
    let decision = if alert.message_type != "Update" {
        Decision::Announced(alert.level, false, own_places(alert))
    } else {
        let mut together = false;
        let mut known: Vec<Level> = Vec::new();
        let mut unlevelled = false;
        // The counties the chain was announced to; `None` once any is not known (or places
        // do not matter).
        let mut then_told: Places = places.map(|_| BTreeSet::new());
        let mut add_told = |told: Option<&BTreeSet<String>>| match (&mut then_told, told) {
            (Some(all), Some(more)) => all.extend(more.iter().cloned()),
            _ => then_told = None,
        };
        for reference in &alert.references {
            if let Some((earlier, _)) = by_id.get(reference.as_str()) {
                let earlier = decide(earlier, by_id, announced, places, decided, visiting);
                // Announced by this very poll: the listener is being told now.
                together |= !matches!(earlier, Decision::Recorded(..));
                known.push(earlier.level());
                add_told(earlier.told().as_ref());
            } else if let Some(level) = announced.get(reference) {
                match level {
                    Some(level) => known.push(*level),
                    None => unlevelled = true,
                }
                add_told(places.and_then(|p| p.get(reference)));
            }
        }
        let then = known.iter().copied().fold(Level::default(), Level::max);
        let level = alert.level.max(then);
        let told = then_told.as_ref().map(|then| {
            then.iter()
                .chain(alert.counties.iter())
                .cloned()
                .collect::<BTreeSet<String>>()
        });
        let new: Vec<String> = match &then_told {
            Some(then) => alert
                .counties
                .iter()
                .filter(|c| !then.contains(*c))
                .cloned()
                .collect(),
            None => Vec::new(),
        };
        if known.is_empty() && !unlevelled {
            // Its original was never announced (below the floor, or before the skill).
            Decision::Announced(alert.level, false, own_places(alert))
        } else if !together && !known.is_empty() && alert.level.rises_above(then) {
            Decision::Announced(level, true, told.or_else(|| own_places(alert)))
        } else if !new.is_empty() {
            let except = then_told
                .map(|t| t.into_iter().collect())
                .unwrap_or_default();
            Decision::Extended(level, new, except, told)
        } else {
            Decision::Recorded(level, told)
        }
    };
    visiting.remove(alert.id.as_str());
    decided.insert(alert.id.as_str(), decision.clone());
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

    #[test]
    fn a_chain_of_updates_in_one_feed_is_announced_once() {
        // The original is gone from the feed; its update and an update of that update remain
        // (a national feed can list both): one announcement, the newest recorded with it.
        let f = feed(vec![
            alert("c", "Update", &["b"]),
            alert("b", "Update", &["a"]),
        ]);
        assert_eq!(references_to_check(&f, Severity::Severe), ["a"]);
        let p = plan(&f, Severity::Severe, &HashMap::new());
        assert_eq!(announced_ids(&p), ["b"]);
        assert_eq!(updated_ids(&p), ["c"]);
        // Its original was announced by an earlier poll: neither is, both are recorded.
        let announced = HashMap::from([("a".to_owned(), Some(WARNING))]);
        let p = plan(&f, Severity::Severe, &announced);
        assert!(p.announce.is_empty());
        assert_eq!(updated_ids(&p), ["c", "b"]);
        // ... unless the newest raises the danger above the chain's.
        let mut emergency = alert("c", "Update", &["b"]);
        emergency.level.tornado_threat = 2;
        let f = feed(vec![emergency, alert("b", "Update", &["a"])]);
        let p = plan(&f, Severity::Severe, &announced);
        assert_eq!(announced_ids(&p), ["c"]);
        assert!(p.announce[0].escalation);
        assert_eq!(updated_ids(&p), ["b"]);
    }

    fn alert(id: &str, message_type: &str, references: &[&str]) -> Alert {
        Alert {
            id: id.into(),
            event: "Tornado Warning".into(),
            status: "Actual".into(),
            message_type: message_type.into(),
            severity: Severity::Extreme,
            sender_name: "NWS Norman OK".into(),
            area_desc: "Cleveland, OK".into(),
            expires: DateTime::parse_from_rfc3339("2026-11-24T19:00:00Z")
                .ok()
                .map(|t| t.with_timezone(&Utc)),
            ends: None,
            references: references.iter().map(|r| r.to_string()).collect(),
            level: Level {
                warning: 1,
                extreme: 1,
                ..Level::default()
            },
            counties: vec!["40027".into()],
        }
    }

    fn feed(alerts: Vec<Alert>) -> Feed {
        Feed {
            alerts,
            malformed: Vec::new(),
        }
    }

    fn announced_ids<'a>(plan: &'a Plan<'_>) -> Vec<&'a str> {
        plan.announce.iter().map(|a| a.alert.id.as_str()).collect()
    }

    fn updated_ids<'a>(plan: &'a Plan<'_>) -> Vec<&'a str> {
        plan.updates.iter().map(|(a, _)| a.id.as_str()).collect()
    }

    /// `a` was announced at `level`; what does its update `b` do?
    fn update_of(level: Level, update: Alert) -> (bool, Level) {
        let f = feed(vec![update]);
        let announced = HashMap::from([("a".to_owned(), Some(level))]);
        let p = plan(&f, Severity::Minor, &announced);
        match (&p.announce[..], &p.updates[..]) {
            ([one], []) => {
                assert!(one.escalation);
                (true, one.level)
            }
            ([], [(_, kept)]) => (false, *kept),
            other => panic!("{other:?}"),
        }
    }

    const WARNING: Level = Level {
        warning: 1,
        tornado_threat: 0,
        storm_threat: 0,
        tornado_observed: 0,
        extreme: 1,
    };

    #[test]
    fn new_alerts_are_announced_with_their_alexa_type() {
        let f = feed(vec![alert("a", "Alert", &[])]);
        let p = plan(&f, Severity::Severe, &HashMap::new());
        assert_eq!(announced_ids(&p), ["a"]);
        assert_eq!(p.announce[0].alert_type, "TORNADO");
        assert!(!p.announce[0].escalation);
        assert_eq!(p.announce[0].level, WARNING);
        assert!(p.updates.is_empty() && p.skipped.is_empty());
    }

    #[test]
    fn a_plain_update_of_an_announced_alert_is_recorded_not_announced() {
        // A new expiry, the same threat.
        let f = feed(vec![alert("b", "Update", &["a"])]);
        assert_eq!(references_to_check(&f, Severity::Severe), ["a"]);
        let announced = HashMap::from([("a".to_owned(), Some(WARNING))]);
        let p = plan(&f, Severity::Severe, &announced);
        assert!(p.announce.is_empty());
        assert_eq!(updated_ids(&p), ["b"]);
        assert_eq!(
            p.skipped_counts(),
            BTreeMap::from([("updateOfAnnounced", 1)])
        );
    }

    #[test]
    fn a_rising_tornado_damage_threat_is_announced_again() {
        let mut pds = alert("b", "Update", &["a"]);
        pds.level.tornado_threat = 1;
        assert_eq!(update_of(WARNING, pds.clone()), (true, pds.level));
        // A tornado emergency after a particularly dangerous situation: again.
        let mut emergency = alert("c", "Update", &["a"]);
        emergency.level.tornado_threat = 2;
        assert!(update_of(pds.level, emergency.clone()).0);
        // Back to CONSIDERABLE after the emergency was announced: not again, and the record
        // keeps the emergency so that a second rise to it is not announced either.
        let (again, kept) = update_of(emergency.level, pds);
        assert!(!again);
        assert_eq!(kept.tornado_threat, 2);
    }

    #[test]
    fn a_destructive_thunderstorm_is_announced_again_a_considerable_one_is_not() {
        let mut destructive = alert("b", "Update", &["a"]);
        destructive.event = "Severe Thunderstorm Warning".into();
        destructive.level.storm_threat = 1;
        assert!(update_of(WARNING, destructive).0);
        // CONSIDERABLE leaves the level as it is (storm_threat stays 0).
        let mut considerable = alert("c", "Update", &["a"]);
        considerable.event = "Severe Thunderstorm Warning".into();
        assert!(!update_of(WARNING, considerable).0);
    }

    #[test]
    fn a_confirmed_tornado_is_announced_again() {
        let mut observed = alert("b", "Update", &["a"]);
        observed.level.tornado_observed = 1;
        assert!(update_of(WARNING, observed).0);
    }

    #[test]
    fn a_watch_replaced_by_a_warning_of_the_same_hazard_is_announced() {
        let watch = Level {
            warning: 0,
            ..WARNING
        };
        let mut warning = alert("b", "Update", &["a"]);
        warning.event = "Winter Storm Warning".into();
        warning.severity = Severity::Severe;
        warning.level = Level {
            warning: 1,
            ..Level::default()
        };
        let (again, kept) = update_of(watch, warning);
        assert!(again);
        assert_eq!((kept.warning, kept.extreme), (1, 1));
    }

    #[test]
    fn severity_rising_to_extreme_is_announced_again_certainty_is_not_compared() {
        let severe = Level {
            extreme: 0,
            ..WARNING
        };
        assert!(update_of(severe, alert("b", "Update", &["a"])).0);
        // Certainty and urgency are fixed per product by NWS: not part of the level.
        assert!(!update_of(WARNING, alert("c", "Update", &["a"])).0);
    }

    #[test]
    fn an_update_of_an_alert_never_announced_is_announced() {
        // Its original was below the floor, or came before the skill existed.
        let f = feed(vec![alert("b", "Update", &["a"])]);
        let p = plan(&f, Severity::Severe, &HashMap::new());
        assert_eq!(announced_ids(&p), ["b"]);
        assert!(!p.announce[0].escalation);
    }

    #[test]
    fn an_update_in_the_same_poll_as_its_alert_is_not_looked_up_or_announced() {
        let mut escalated = alert("b", "Update", &["a"]);
        escalated.level.tornado_threat = 2;
        let f = feed(vec![alert("a", "Alert", &[]), escalated]);
        assert!(references_to_check(&f, Severity::Severe).is_empty());
        let p = plan(&f, Severity::Severe, &HashMap::new());
        assert_eq!(announced_ids(&p), ["a"]);
        assert_eq!(updated_ids(&p), ["b"]);
        assert_eq!(p.updates[0].1.tornado_threat, 2, "recorded at its level");
    }

    #[test]
    fn a_record_kept_before_levels_is_not_compared() {
        let mut emergency = alert("b", "Update", &["a"]);
        emergency.level.tornado_threat = 2;
        let f = feed(vec![emergency]);
        let announced = HashMap::from([("a".to_owned(), None)]);
        let p = plan(&f, Severity::Severe, &announced);
        assert!(p.announce.is_empty());
        assert_eq!(updated_ids(&p), ["b"]);
    }

    #[test]
    fn cancels_and_updates_to_events_without_an_alexa_type_are_never_announced() {
        let mut advisory = alert("b", "Update", &["a"]);
        advisory.event = "Winter Weather Advisory".into();
        let f = feed(vec![alert("c", "Cancel", &["a"]), advisory]);
        let announced = HashMap::from([("a".to_owned(), Some(WARNING))]);
        let p = plan(&f, Severity::Minor, &announced);
        assert!(p.announce.is_empty() && p.updates.is_empty());
        assert_eq!(
            p.skipped_counts(),
            BTreeMap::from([("cancel", 1), ("otherEvent", 1)])
        );
    }

    #[test]
    fn skipped_alerts_are_counted_by_reason() {
        let mut test = alert("t", "Alert", &[]);
        test.status = "Test".into();
        let mut heat = alert("h", "Alert", &[]);
        heat.event = "Heat Advisory".into();
        let mut minor = alert("m", "Alert", &[]);
        minor.severity = Severity::Minor;
        let mut f = feed(vec![test, heat, minor, alert("c", "Cancel", &["x"])]);
        f.malformed
            .push("features[9].properties.id: required field is missing".into());
        let p = plan(&f, Severity::Severe, &HashMap::new());
        assert!(p.announce.is_empty());
        assert_eq!(
            p.skipped_counts(),
            BTreeMap::from([
                ("belowMinSeverity", 1),
                ("cancel", 1),
                ("malformed", 1),
                ("notActual", 1),
                ("otherEvent", 1),
            ])
        );
        // A lower floor lets the minor one through.
        let p = plan(&f, Severity::Minor, &HashMap::new());
        assert_eq!(announced_ids(&p), ["m"]);
    }

    #[test]
    fn updates_that_fail_the_rules_are_not_looked_up() {
        let mut minor = alert("b", "Update", &["a"]);
        minor.severity = Severity::Minor;
        let f = feed(vec![minor, alert("d", "Update", &["c", "a"])]);
        assert_eq!(references_to_check(&f, Severity::Severe), ["a", "c"]);
    }

    fn in_counties(mut alert: Alert, counties: &[&str]) -> Alert {
        alert.counties = counties.iter().map(|c| c.to_string()).collect();
        alert
    }

    fn told(counties: &[&str]) -> Places {
        Some(counties.iter().map(|c| c.to_string()).collect())
    }

    #[test]
    fn an_update_that_names_new_counties_is_announced_to_them_only() {
        let f = feed(vec![in_counties(
            alert("b", "Update", &["a"]),
            &["40027", "40051", "40087"],
        )]);
        let announced = HashMap::from([("a".to_owned(), Some(WARNING))]);
        let places = HashMap::from([("a".to_owned(), told(&["40027"]).unwrap())]);
        let p = plan_with_places(&f, Severity::Severe, &announced, Some(&places));
        assert_eq!(announced_ids(&p), ["b"]);
        let b = &p.announce[0];
        assert!(b.extension && !b.escalation);
        assert_eq!(b.counties, ["40051", "40087"]);
        assert_eq!(b.except, ["40027"]);
        assert_eq!(b.told, told(&["40027", "40051", "40087"]));
        assert_eq!(p.extensions(), 1);
        // The same counties again: recorded, with the chain's counties kept.
        let f = feed(vec![in_counties(
            alert("c", "Update", &["b"]),
            &["40027", "40087"],
        )]);
        let announced = HashMap::from([("b".to_owned(), Some(WARNING))]);
        let places = HashMap::from([("b".to_owned(), told(&["40027", "40051", "40087"]).unwrap())]);
        let p = plan_with_places(&f, Severity::Severe, &announced, Some(&places));
        assert!(p.announce.is_empty());
        assert_eq!(updated_ids(&p), ["c"]);
        assert_eq!(p.updates_told["c"], told(&["40027", "40051", "40087"]));
    }

    #[test]
    fn a_record_without_counties_is_taken_to_cover_the_update() {
        // Kept before places were: nobody is told twice.
        let f = feed(vec![in_counties(
            alert("b", "Update", &["a"]),
            &["40027", "40087"],
        )]);
        let announced = HashMap::from([("a".to_owned(), Some(WARNING))]);
        let p = plan_with_places(&f, Severity::Severe, &announced, Some(&HashMap::new()));
        assert!(p.announce.is_empty());
        assert_eq!(updated_ids(&p), ["b"]);
        assert_eq!(p.updates_told["b"], None);
    }

    #[test]
    fn an_escalation_goes_to_every_county_of_the_update() {
        let mut pds = in_counties(alert("b", "Update", &["a"]), &["40027", "40087"]);
        pds.level.tornado_threat = 2;
        let announced = HashMap::from([("a".to_owned(), Some(WARNING))]);
        let places = HashMap::from([("a".to_owned(), told(&["40027"]).unwrap())]);
        let f = feed(vec![pds]);
        let p = plan_with_places(&f, Severity::Severe, &announced, Some(&places));
        let b = &p.announce[0];
        assert!(b.escalation && !b.extension);
        assert_eq!(b.counties, ["40027", "40087"]);
        assert!(b.except.is_empty());
    }

    #[test]
    fn an_update_in_the_same_poll_that_adds_counties_reaches_only_the_new_ones() {
        let f = feed(vec![
            in_counties(alert("a", "Alert", &[]), &["40027"]),
            in_counties(alert("b", "Update", &["a"]), &["40027", "40087"]),
        ]);
        let p = plan(&f, Severity::Severe, &HashMap::new());
        assert_eq!(announced_ids(&p), ["a", "b"]);
        assert_eq!(p.announce[0].counties, ["40027"]);
        assert_eq!(p.announce[1].counties, ["40087"]);
        assert_eq!(p.announce[1].except, ["40027"]);
        assert!(p.announce[1].extension);
    }

    #[test]
    fn tags_keep_the_level_and_the_counties() {
        let tag = encode_tag(WARNING, &told(&["40087", "40027"]));
        assert_eq!(tag, "10001@40027,40087");
        assert_eq!(decode_tag(&tag), (WARNING, told(&["40027", "40087"])));
        // A tag from before places were.
        assert_eq!(decode_tag("10001"), (WARNING, None));
        assert_eq!(decode_tag(&encode_tag(WARNING, &None)), (WARNING, None));
        assert_eq!(decode_tag("10001@"), (WARNING, Some(BTreeSet::new())));
    }

    #[test]
    fn when_places_do_not_matter_no_update_extends_an_area() {
        // WEATHER_AUDIENCE=everyone: the original's Multicast reached every county.
        let f = feed(vec![
            in_counties(alert("a", "Alert", &[]), &["40027"]),
            in_counties(alert("b", "Update", &["a"]), &["40027", "40087"]),
        ]);
        let p = plan_with_places(&f, Severity::Severe, &HashMap::new(), None);
        assert_eq!(announced_ids(&p), ["a"]);
        assert_eq!(updated_ids(&p), ["b"]);
        assert_eq!(p.extensions(), 0);
    }
}
