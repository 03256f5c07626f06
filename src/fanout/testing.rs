//! The fan-out's in-memory rig, shared by its tests and the poll's: a notifier hands an
//! area's alert to the fan-out, and [`drain`] plays Lambda's event source mapping (take
//! messages, consume, keep the failed ones).

use std::collections::HashMap;
use std::sync::Arc;

use chrono::Utc;
use tokio::time::Instant;

use super::*;
use crate::alexa::fake::FakeAlexa;
use crate::clock::SystemClock;
use crate::event::NotificationRequest;
use crate::notifier::Notifier;
use crate::queue::MemoryQueue;
use crate::state::{AreaIndex, MemoryStore, UserArea, UserChange, UserChangeKind, Users};

pub(crate) struct Rig {
    pub notifier: Notifier,
    pub fanout: Arc<Fanout>,
    pub ledger: Ledger,
    pub alexa: Arc<FakeAlexa>,
    pub store: Arc<MemoryStore>,
    pub queue: Arc<MemoryQueue>,
}

pub(crate) fn rig() -> Rig {
    rig_with(10_000, Arc::new(crate::weather::memory::Ended))
}

/// A rig whose fan-out sends `rate` Unicasts a second and asks `status` where events ended.
pub(crate) fn rig_with(rate: u32, status: Arc<dyn EventStatus>) -> Rig {
    rig_at(rate, status, Arc::new(SystemClock))
}

/// [`rig_with`], every part telling the time by `clock`.
pub(crate) fn rig_at(rate: u32, status: Arc<dyn EventStatus>, clock: Arc<dyn Clock>) -> Rig {
    let alexa = Arc::new(FakeAlexa::new());
    let store = Arc::new(MemoryStore::with_clock(clock.clone()));
    let queue = Arc::new(MemoryQueue::new());
    let ledger = Ledger::new(store.clone());
    let fanout = Arc::new(
        Fanout::new(
            Some(queue.clone()),
            alexa.clone(),
            Region::Na,
            rate,
            clock.clone(),
        )
        .with_status(status),
    );
    let notifier = Notifier::new(vec![Region::Na], alexa.clone(), Some(ledger.clone()))
        .with_fanout(fanout.clone())
        .with_clock(clock);
    Rig {
        notifier,
        fanout,
        ledger,
        alexa,
        store,
        queue,
    }
}

pub(crate) fn user(i: usize) -> String {
    format!("amzn1.ask.account.USER{i:06}")
}

/// A user in `zip` (its counties), subscribed to `events`, in `region`.
pub(crate) async fn add_user(
    store: &MemoryStore,
    id: &str,
    zip: &str,
    events: &[&str],
    region: &str,
) {
    add_user_in(store, id, "US", zip, events, region).await;
}

/// A user at `postal` in `country` (placed as the skill places them), subscribed to `events`,
/// in `region`.
pub(crate) async fn add_user_in(
    store: &MemoryStore,
    id: &str,
    country: &str,
    postal: &str,
    events: &[&str],
    region: &str,
) {
    let crate::area::Located::Placed {
        country, places, ..
    } = crate::area::locate(country, postal)
    else {
        panic!("{country} {postal} is not placed")
    };
    let locale = match country {
        "DE" => "de-DE",
        "GB" => "en-GB",
        _ => "en-US",
    };
    store
        .set_area(&UserArea {
            user_id: id.into(),
            postal_code: postal.into(),
            country: country.into(),
            places: places.iter().map(crate::area::Place::key).collect(),
            region: Some(region.into()),
            locale: Some(locale.into()),
            source: crate::state::AreaSource::Voice,
        })
        .await
        .unwrap();
    store
        .record_user(&UserChange {
            user_id: id.into(),
            at: Utc::now(),
            kind: UserChangeKind::Subscriptions(events.iter().map(|e| e.to_string()).collect()),
        })
        .await
        .unwrap();
}

pub(crate) fn deadline() -> Instant {
    Instant::now() + std::time::Duration::from_secs(30)
}

pub(crate) fn tornado(id: &str, counties: &[&str]) -> (NotificationRequest, Option<String>) {
    let mut request = NotificationRequest::multicast_weather_alert(
        "TORNADO",
        "NWS Norman OK",
        id.into(),
        None,
        &["en-US"],
    );
    request.area = Some(
        counties
            .iter()
            .map(|c| crate::area::Place::county(c))
            .collect(),
    );
    (request, None)
}

/// Plays the event source mapping until the queue is empty (or `rounds` batches): batches of
/// `batch` messages, failed ones put back. Returns every batch's report.
pub(crate) async fn drain(rig: &Rig, batch: usize, rounds: usize) -> Vec<Consumed> {
    let mut reports = Vec::new();
    let mut next = 0;
    for _ in 0..rounds {
        let mut waiting = rig.queue.take();
        if waiting.is_empty() {
            break;
        }
        let rest = waiting.split_off(waiting.len().min(batch));
        let records: Vec<Message> = waiting
            .iter()
            .map(|body| {
                next += 1;
                Message {
                    id: format!("m{next}"),
                    body: body.clone(),
                }
            })
            .collect();
        let bodies: HashMap<String, String> = records
            .iter()
            .map(|r| (r.id.clone(), r.body.clone()))
            .collect();
        let report = rig
            .fanout
            .consume(&rig.ledger, records, deadline(), &format!("holder{next}"))
            .await;
        let mut back: Vec<String> = report.failed.iter().map(|id| bodies[id].clone()).collect();
        back.extend(rest);
        // What was queued while consuming comes after.
        back.extend(rig.queue.take());
        rig.queue.send_all(&back).await.unwrap();
        reports.push(report);
    }
    reports
}

/// How many Unicasts each user received.
pub(crate) fn per_user(alexa: &FakeAlexa) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for r in alexa.received() {
        assert!(
            r.unicast,
            "only Unicasts: {:?}",
            r.event["relevantAudience"]
        );
        let user = r.event["relevantAudience"]["payload"]["user"]
            .as_str()
            .unwrap()
            .to_owned();
        *counts.entry(user).or_default() += 1;
    }
    counts
}
