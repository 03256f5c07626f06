//! The adapter layer: everything that knows Lambda's event shapes. It tells what kind of input
//! arrived ([`dispatch`]), unwraps SNS, EventBridge and scheduled events into domain calls
//! ([`triggers`]), and turns every layer's error into the one Lambda reports ([`error`]).

pub mod dispatch;
pub mod error;
pub mod triggers;

use std::time::{Duration, SystemTime};

use lambda_runtime::{Context, LambdaEvent};
use serde_json::Value;
use tokio::time::Instant;

use dispatch::{App, DEFAULT_BUDGET};
use error::HandlerError;

/// Epoch milliseconds below this (September 2001) are not a deadline Lambda would send.
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// The invocation's deadline as an `Instant`; Lambda gives it in epoch milliseconds. Without
/// one (tests, local runs) or with a value that is no epoch time (`cargo lambda watch` 1.9
/// sends `600000`), the invocation gets [`DEFAULT_BUDGET`].
pub fn deadline_of(context: &Context) -> Instant {
    let now = Instant::now();
    if context.deadline < EPOCH_MS_FLOOR {
        return now + DEFAULT_BUDGET;
    }
    let left = context
        .deadline()
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    now + left
}

/// The function `lambda_runtime::service_fn` wraps.
pub async fn handler(app: &App, event: LambdaEvent<Value>) -> Result<Value, HandlerError> {
    let request_id = event.context.request_id.clone();
    let deadline = deadline_of(&event.context);
    tracing::debug!(
        request_id,
        budget_ms = deadline
            .saturating_duration_since(Instant::now())
            .as_millis(),
        "invocation received"
    );
    let result = app.handle_as(event.payload, deadline, &request_id).await;
    if let Err(err) = &result {
        tracing::warn!(request_id, error_type = err.error_type(), error = %err, "invocation failed");
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadlines_that_are_no_epoch_time_get_the_default_budget() {
        let budget = |deadline: u64| {
            let mut context = Context::default();
            context.deadline = deadline;
            deadline_of(&context).saturating_duration_since(Instant::now())
        };
        let epoch_ms = |t: SystemTime| {
            t.duration_since(SystemTime::UNIX_EPOCH)
                .unwrap()
                .as_millis() as u64
        };
        assert!(budget(0) > Duration::from_secs(29));
        assert!(
            budget(600_000) > Duration::from_secs(29),
            "cargo lambda watch's value"
        );
        let in_5s = budget(epoch_ms(SystemTime::now() + Duration::from_secs(5)));
        assert!(
            in_5s > Duration::from_secs(4) && in_5s <= Duration::from_secs(5),
            "{in_5s:?}"
        );
        assert_eq!(
            budget(epoch_ms(SystemTime::now()) - 1_000),
            Duration::ZERO,
            "already past"
        );
    }
}
