//! CloudWatch metrics without a client: each figure is one line of Embedded Metric Format
//! (EMF) JSON on standard output, which Lambda sends to CloudWatch Logs, where CloudWatch turns
//! it into metrics. No SDK, no call, no permission beyond writing the log, no latency.
//!
//! Namespace `AlexaProactive` (`METRICS_NAMESPACE` overrides it). The metrics:
//!
//! | metric | dimensions | what |
//! |---|---|---|
//! | `Accepted`, `Duplicate`, `NotSubscribed`, `Refused`, `Failed` | `Schema`, `Region`; and none (the totals, for alarms) | notifications, by how Alexa answered ([`crate::alexa::metrics`]) |
//! | `Polls` | none | 1 per scheduled poll that ran to an answer (failed or not): its absence means polling stopped |
//! | `AlertsSeen`, `AlertsAnnounced`, `AlertsSkipped`, `Escalations`, `Extensions`, `AlertsRefused`, `AlertsDeferred` | none | per feed, per poll |
//! | `TokenRequests`, `SecretReads` | none | Login-with-Amazon token requests, Secrets Manager reads |
//! | `FanoutFailed` | none | fan-out records of an SQS batch reported failed (SQS brings them back) |
//! | `FanoutAudience`, `FanoutUnicasts`, `FanoutBuckets`, `FanoutCancelled` | none | the fan-out: users in an alert's area, Unicasts accepted, ranges sent, users not sent an alert whose event ended (a range stopped before its users are read counts 1) |
//! | `Forbidden`, `Throttled` | none | Unicasts refused with 403 as a configuration fault; 429/503 answers met |
//!
//! Off the Lambda service (tests, `make run`) the lines go to the same output as the log.

use std::io::Write;

use serde_json::{json, Map, Value};

/// The namespace when `METRICS_NAMESPACE` is not set.
pub const NAMESPACE: &str = "AlexaProactive";

fn namespace() -> String {
    std::env::var("METRICS_NAMESPACE")
        .ok()
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| NAMESPACE.to_owned())
}

/// One EMF document: `values` (name, count) under `dimensions` (name, value), at `timestamp_ms`.
pub fn document(
    namespace: &str,
    dimensions: &[(&str, &str)],
    values: &[(&str, u64)],
    timestamp_ms: i64,
) -> Value {
    let mut root = Map::new();
    root.insert(
        "_aws".into(),
        json!({
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [{
                "Namespace": namespace,
                "Dimensions": [dimensions.iter().map(|(name, _)| *name).collect::<Vec<_>>()],
                "Metrics": values.iter().map(|(name, _)| json!({"Name": name, "Unit": "Count"})).collect::<Vec<_>>(),
            }],
        }),
    );
    for (name, value) in dimensions {
        root.insert((*name).to_owned(), json!(value));
    }
    for (name, value) in values {
        root.insert((*name).to_owned(), json!(value));
    }
    Value::Object(root)
}

/// Writes one EMF line to standard output. Values of zero are left out; nothing is written
/// when all are zero.
pub fn emit(dimensions: &[(&str, &str)], values: &[(&str, u64)]) {
    let values: Vec<(&str, u64)> = values.iter().copied().filter(|(_, v)| *v > 0).collect();
    if values.is_empty() {
        return;
    }
    let line = document(
        &namespace(),
        dimensions,
        &values,
        chrono::Utc::now().timestamp_millis(),
    );
    // One write of one line, so that it is not interleaved with the log's own lines.
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_document_follows_the_embedded_metric_format() {
        let doc = document(
            "AlexaProactive",
            &[
                ("Schema", "AMAZON.WeatherAlert.Activated"),
                ("Region", "NA"),
            ],
            &[("Accepted", 3), ("Failed", 1)],
            1_764_460_800_000,
        );
        assert_eq!(
            doc,
            json!({
                "_aws": {
                    "Timestamp": 1_764_460_800_000_i64,
                    "CloudWatchMetrics": [{
                        "Namespace": "AlexaProactive",
                        "Dimensions": [["Schema", "Region"]],
                        "Metrics": [{"Name": "Accepted", "Unit": "Count"}, {"Name": "Failed", "Unit": "Count"}]
                    }]
                },
                "Schema": "AMAZON.WeatherAlert.Activated",
                "Region": "NA",
                "Accepted": 3,
                "Failed": 1
            })
        );
        let none = document("N", &[], &[("SecretReads", 1)], 0);
        assert_eq!(
            none["_aws"]["CloudWatchMetrics"][0]["Dimensions"],
            json!([[]])
        );
    }
}
