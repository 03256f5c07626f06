//! The trigger payloads the suites send: SNS and EventBridge alerts, the scheduled poll.

use serde_json::{json, Value};

/// An SNS-delivered weather alert; `message_id` is its referenceId.
pub fn sns_alert(message_id: &str) -> Value {
    let message = json!({"alertType": "TORNADO", "source": "National Weather Service"});
    json!({"Records": [{"EventSource": "aws:sns", "EventVersion": "1.0",
        "EventSubscriptionArn": "arn:aws:sns:us-east-1:123456789012:alerts:1",
        "Sns": {"Type": "Notification", "MessageId": message_id,
                "TopicArn": "arn:aws:sns:us-east-1:123456789012:alerts", "Subject": null,
                "Message": message.to_string(), "Timestamp": "2026-11-25T10:00:00.000Z",
                "SignatureVersion": "1", "Signature": "x", "SigningCertUrl": "https://x",
                "UnsubscribeUrl": "https://x", "MessageAttributes": {}}}]})
}

/// The scheduled rule's event: a poll of the feed.
pub fn scheduled(id: &str) -> Value {
    json!({"version": "0", "id": id, "detail-type": "Scheduled Event", "source": "aws.events",
           "account": "123456789012", "time": "2026-11-25T10:00:00Z", "region": "us-east-1",
           "resources": ["arn:aws:events:us-east-1:123456789012:rule/alexa-proactive-poll"],
           "detail": {}})
}

/// An EventBridge `WeatherAlert` event with this id and detail.
pub fn weather_alert(id: &str, detail: Value) -> Value {
    json!({"version": "0", "id": id, "detail-type": "WeatherAlert", "source": "com.example.weather",
           "account": "123456789012", "time": "2026-11-24T18:00:00Z", "region": "us-east-1",
           "resources": [], "detail": detail})
}

/// An EventBridge tornado alert from the National Weather Service with this id.
pub fn eventbridge_alert(id: &str) -> Value {
    weather_alert(
        id,
        json!({"alertType": "TORNADO", "source": "National Weather Service", "id": id}),
    )
}
