//! How an invocation's time is shared out. Lambda stops the function at its deadline, so
//! every wait is bounded by it, and two slices are kept free at the end:
//!
//! ```text
//! |-- claims, sends and their retries --|-- RECORD_RESERVE --|-- REPORT_RESERVE --| deadline
//!                                          record the sends     answer Lambda
//! ```
//!
//! A send that could not be recorded would be sent again by the next retry or poll once its
//! lease lapses; the record reserve makes sure there is time to record it.

use std::time::Duration;

use tokio::time::Instant;

/// Kept free at the end of an invocation to report the outcome.
pub const REPORT_RESERVE: Duration = Duration::from_millis(300);

/// Kept free after the sends, when there is a state table, to record what they did.
pub const RECORD_RESERVE: Duration = Duration::from_millis(1500);

/// When every call to an outside service must have ended: the deadline less
/// [`REPORT_RESERVE`].
pub fn cutoff(deadline: Instant) -> Instant {
    earlier(deadline, REPORT_RESERVE)
}

/// `deadline` less `by`, never before now.
pub fn earlier(deadline: Instant, by: Duration) -> Instant {
    deadline
        .checked_sub(by)
        .unwrap_or(deadline)
        .max(Instant::now())
}

/// Runs `work` until [`cutoff`]`(deadline)`; `None` if it did not end by then.
pub async fn bounded<T>(
    deadline: Instant,
    work: impl std::future::Future<Output = T>,
) -> Option<T> {
    tokio::time::timeout_at(cutoff(deadline), work).await.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn work_past_the_cutoff_is_given_up() {
        let deadline = Instant::now() + Duration::from_secs(2);
        let slow = tokio::time::sleep(Duration::from_secs(10));
        let started = Instant::now();
        assert_eq!(bounded(deadline, slow).await, None);
        assert_eq!(started.elapsed(), Duration::from_millis(1700));
        assert_eq!(bounded(deadline, async { 7 }).await, Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn a_deadline_in_the_past_cuts_at_once() {
        let past = Instant::now();
        tokio::time::advance(Duration::from_secs(1)).await;
        assert!(earlier(past, RECORD_RESERVE) >= Instant::now());
    }
}
