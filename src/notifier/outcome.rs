//! What happened to each notification: the shape of every answer's `results` list. The wire
//! shape is this type's: tests and the README rely on it.

use serde::Serialize;

use crate::alexa::Delivery;

/// One entry of `results`: a delivery to one region, or why nothing was sent.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(untagged)]
pub enum Outcome {
    /// Sent (or tried) to one region: `status` is `accepted`, `duplicate` (Alexa's 409),
    /// `notSubscribed`, `refused` (the event itself, finally) or `failed`.
    Sent(Delivery),
    NotSent(NotSent),
    /// Handed to the fan-out: each subscribed user of its places gets a Unicast.
    Queued(Queued),
}

/// A notification for the users of an area, queued for the fan-out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Queued {
    pub reference_id: String,
    /// Always `queued`.
    pub status: &'static str,
    /// The counties (`c` + FIPS) and ZIP codes (`z` + ZIP) whose users get it.
    pub places: Vec<String>,
}

/// Why a notification was not sent by this invocation; `status` names the case.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(
    tag = "status",
    rename_all = "camelCase",
    rename_all_fields = "camelCase"
)]
pub enum NotSent {
    /// Not sendable (expired, or too close to expiring for Alexa).
    Skipped {
        reference_id: String,
        reason: String,
    },
    /// An earlier request of the same trigger has the same referenceId: one event.
    Duplicate {
        reference_id: String,
        reason: String,
    },
    /// Sent before: by an earlier delivery of this trigger, or an earlier poll. With
    /// `region`: that region got it from an earlier attempt that did not reach every region
    /// (this one sends only to the rest).
    AlreadySent {
        reference_id: String,
        sent_at: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        region: Option<&'static str>,
    },
    /// Another invocation is sending it now (the invocation fails, so it is retried).
    InProgress {
        reference_id: String,
        lease_until: Option<String>,
    },
    /// Alexa refused this event before (a feed alert): it is not tried again.
    AlreadyRefused {
        reference_id: String,
        refused_at: Option<String>,
        reason: Option<String>,
    },
}

/// The answer to a trigger (SNS, EventBridge).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    pub results: Vec<Outcome>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::alexa::Status;
    use serde_json::json;

    #[test]
    fn every_outcome_keeps_its_wire_shape() {
        let report = Report {
            results: vec![
                Outcome::Sent(Delivery {
                    reference_id: "r1".into(),
                    region: "NA",
                    status: Status::Accepted,
                    attempts: 1,
                    request_id: Some("q".into()),
                    error: None,
                    late: false,
                    throttled: 0,
                }),
                Outcome::NotSent(NotSent::Skipped {
                    reference_id: "r2".into(),
                    reason: "expired".into(),
                }),
                Outcome::NotSent(NotSent::Duplicate {
                    reference_id: "r3".into(),
                    reason: "same".into(),
                }),
                Outcome::NotSent(NotSent::AlreadySent {
                    reference_id: "r4".into(),
                    sent_at: None,
                    region: None,
                }),
                Outcome::NotSent(NotSent::InProgress {
                    reference_id: "r5".into(),
                    lease_until: Some("2026-11-30T00:00:00Z".into()),
                }),
                Outcome::NotSent(NotSent::AlreadyRefused {
                    reference_id: "r6".into(),
                    refused_at: Some("2026-11-29T00:00:00Z".into()),
                    reason: Some("refused: answer 400".into()),
                }),
            ],
        };
        assert_eq!(
            serde_json::to_value(&report).unwrap(),
            json!({"results": [
                {"referenceId": "r1", "region": "NA", "status": "accepted", "attempts": 1, "requestId": "q"},
                {"referenceId": "r2", "status": "skipped", "reason": "expired"},
                {"referenceId": "r3", "status": "duplicate", "reason": "same"},
                {"referenceId": "r4", "status": "alreadySent", "sentAt": null},
                {"referenceId": "r5", "status": "inProgress", "leaseUntil": "2026-11-30T00:00:00Z"},
                {"referenceId": "r6", "status": "alreadyRefused", "refusedAt": "2026-11-29T00:00:00Z",
                 "reason": "refused: answer 400"},
            ]})
        );
    }
}
