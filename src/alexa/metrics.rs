//! The notifications of a send as CloudWatch metrics: counted by schema, region and how Alexa
//! answered (`Accepted`, `Duplicate`, `NotSubscribed`, `Refused`, `Failed`), with the totals
//! without dimensions for alarms. The notifier and the fan-out both report through it.

use std::collections::{BTreeMap, HashMap};

use super::{Delivery, Status};
use crate::metrics;

/// The notifications of one send, counted by schema, region and how Alexa answered.
pub fn emit(deliveries: &[Delivery], schemas: &HashMap<String, &'static str>) {
    let mut counts: BTreeMap<(&str, &str), [u64; 5]> = BTreeMap::new();
    for d in deliveries {
        let schema = schemas.get(&d.reference_id).copied().unwrap_or("unknown");
        let slot = match d.status {
            Status::Accepted => 0,
            Status::Duplicate => 1,
            Status::NotSubscribed => 2,
            Status::Refused => 3,
            Status::Failed => 4,
        };
        counts.entry((schema, d.region)).or_default()[slot] += 1;
    }
    // The totals without dimensions too: an alarm needs one metric to watch.
    let mut totals = [0u64; 5];
    for row in counts.values() {
        for (total, n) in totals.iter_mut().zip(row) {
            *total += n;
        }
    }
    let [accepted, duplicate, not_subscribed, refused, failed] = totals;
    metrics::emit(
        &[],
        &[
            ("Accepted", accepted),
            ("Duplicate", duplicate),
            ("NotSubscribed", not_subscribed),
            ("Refused", refused),
            ("Failed", failed),
        ],
    );
    for ((schema, region), [accepted, duplicate, not_subscribed, refused, failed]) in counts {
        metrics::emit(
            &[("Schema", schema), ("Region", region)],
            &[
                ("Accepted", accepted),
                ("Duplicate", duplicate),
                ("NotSubscribed", not_subscribed),
                ("Refused", refused),
                ("Failed", failed),
            ],
        );
    }
}
