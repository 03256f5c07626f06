//! Which feed alerts a poll announces: a pure decision over the feed, the severity floor and
//! what was announced before, so every rule is tested without a feed, a table or a clock.
//!
//! An `Update` of an announced alert is not announced again (its hazard was announced); it is
//! recorded as announced, so an update of that update is recognised even if it names only it.
//! An update whose original arrives in the same poll counts as announced with it.

use std::collections::{BTreeMap, HashSet};

use super::nws::{self, Alert, Feed, Skip};
use super::Severity;

/// What a poll does with its feed.
#[derive(Debug, PartialEq)]
pub struct Plan<'a> {
    /// Alerts to announce, each with its Alexa alert type, in feed order.
    pub announce: Vec<(&'a Alert, &'static str)>,
    /// Updates of announced alerts: recorded as announced, not announced again.
    pub updates: Vec<&'a Alert>,
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
}

/// The alerts this poll would announce as new (`Alert` messages that pass the rules).
fn announcing(verdicts: &[(&Alert, Result<&'static str, Skip>)]) -> HashSet<String> {
    verdicts
        .iter()
        .filter(|(alert, verdict)| alert.message_type == "Alert" && verdict.is_ok())
        .map(|(alert, _)| alert.id.clone())
        .collect()
}

fn verdicts(feed: &Feed, floor: Severity) -> Vec<(&Alert, Result<&'static str, Skip>)> {
    feed.alerts
        .iter()
        .map(|alert| (alert, nws::verdict(alert, floor)))
        .collect()
}

/// The earlier alert ids whose announcement decides this feed's updates: the poll looks them
/// up in the ledger before calling [`plan`]. Sorted, without repeats.
pub fn references_to_check(feed: &Feed, floor: Severity) -> Vec<String> {
    let verdicts = verdicts(feed, floor);
    let in_this_poll = announcing(&verdicts);
    let mut ids: Vec<String> = verdicts
        .iter()
        .filter(|(alert, verdict)| alert.message_type == "Update" && verdict.is_ok())
        .filter(|(alert, _)| !alert.references.iter().any(|r| in_this_poll.contains(r)))
        .flat_map(|(alert, _)| alert.references.iter().cloned())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Decides every alert of `feed`, given the floor and the earlier alert ids known to be
/// announced (from [`references_to_check`]).
pub fn plan<'a>(feed: &'a Feed, floor: Severity, announced: &HashSet<String>) -> Plan<'a> {
    let verdicts = verdicts(feed, floor);
    let in_this_poll = announcing(&verdicts);
    let mut plan = Plan {
        announce: Vec::new(),
        updates: Vec::new(),
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
        let update_of_announced = alert.message_type == "Update"
            && alert
                .references
                .iter()
                .any(|r| in_this_poll.contains(r) || announced.contains(r));
        if update_of_announced {
            plan.updates.push(alert);
            plan.skipped.push((alert, Skip::UpdateOfAnnounced));
        } else {
            plan.announce.push((alert, alert_type));
        }
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{DateTime, Utc};

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
        }
    }

    fn feed(alerts: Vec<Alert>) -> Feed {
        Feed {
            alerts,
            malformed: Vec::new(),
        }
    }

    fn ids<'a>(alerts: impl IntoIterator<Item = &'a Alert>) -> Vec<&'a str> {
        alerts.into_iter().map(|a| a.id.as_str()).collect()
    }

    #[test]
    fn new_alerts_are_announced_with_their_alexa_type() {
        let f = feed(vec![alert("a", "Alert", &[])]);
        let p = plan(&f, Severity::Severe, &HashSet::new());
        assert_eq!(p.announce.len(), 1);
        assert_eq!(
            (p.announce[0].0.id.as_str(), p.announce[0].1),
            ("a", "TORNADO")
        );
        assert!(p.updates.is_empty() && p.skipped.is_empty());
    }

    #[test]
    fn an_update_of_an_announced_alert_is_recorded_not_announced() {
        let f = feed(vec![alert("b", "Update", &["a"])]);
        assert_eq!(references_to_check(&f, Severity::Severe), ["a"]);
        let announced = HashSet::from(["a".to_owned()]);
        let p = plan(&f, Severity::Severe, &announced);
        assert!(p.announce.is_empty());
        assert_eq!(ids(p.updates.iter().copied()), ["b"]);
        assert_eq!(
            p.skipped_counts(),
            BTreeMap::from([("updateOfAnnounced", 1)])
        );
    }

    #[test]
    fn an_update_of_an_alert_never_announced_is_announced() {
        // Its original was below the floor, or came before the skill existed.
        let f = feed(vec![alert("b", "Update", &["a"])]);
        let p = plan(&f, Severity::Severe, &HashSet::new());
        assert_eq!(ids(p.announce.iter().map(|(a, _)| *a)), ["b"]);
    }

    #[test]
    fn an_update_in_the_same_poll_as_its_alert_is_not_looked_up_or_announced() {
        let f = feed(vec![alert("a", "Alert", &[]), alert("b", "Update", &["a"])]);
        assert!(references_to_check(&f, Severity::Severe).is_empty());
        let p = plan(&f, Severity::Severe, &HashSet::new());
        assert_eq!(ids(p.announce.iter().map(|(a, _)| *a)), ["a"]);
        assert_eq!(ids(p.updates.iter().copied()), ["b"]);
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
        let p = plan(&f, Severity::Severe, &HashSet::new());
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
        let p = plan(&f, Severity::Minor, &HashSet::new());
        assert_eq!(ids(p.announce.iter().map(|(a, _)| *a)), ["m"]);
    }

    #[test]
    fn updates_that_fail_the_rules_are_not_looked_up() {
        let mut minor = alert("b", "Update", &["a"]);
        minor.severity = Severity::Minor;
        let f = feed(vec![minor, alert("d", "Update", &["c", "a"])]);
        assert_eq!(references_to_check(&f, Severity::Severe), ["a", "c"]);
    }
}
