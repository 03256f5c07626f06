//! Telling a user's 403 from a systemic one.
//!
//! Alexa answers a Unicast 403 when that user has not allowed the skill's notifications, and
//! the fan-out then drops the event from the user's stored subscriptions. But a 403 on every
//! send means the configuration is wrong (`Stage=live` before certification, another skill's
//! client credentials in the secret, the publication removed from the manifest): dropping
//! would wipe every user's subscription, and fixing the configuration would bring nobody back.
//!
//! So a 403 counts as the user's own only where other Unicasts are being accepted: when most
//! of a range's answers, or most of the instance's answers of the last minute, are 403 (two or
//! more), the 403s are systemic: every subscription is kept, the range fails so that it is
//! retried later, and one error a minute names the likely causes. A lone 403 with nothing to
//! compare it with is taken as the user's own.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// How far back the instance's answers are compared.
pub const WINDOW: Duration = Duration::from_secs(60);
/// How often the systemic error is logged at most, per instance.
const LOG_EVERY: Duration = Duration::from_secs(60);

/// What the likely causes are, for the log and the failed range's reason.
pub const LIKELY_CAUSES: &str = "Alexa refused most Unicasts with 403: the skill's configuration, not its users (ALEXA_STAGE=live before the skill is certified, the client id and secret of another skill in ALEXA_CREDENTIALS_SECRET, or the event's publication missing from skill.json's permissions and events); no subscription is dropped, and the users are retried once it is fixed";

/// Answers counted: how many were 403, of how many answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counts {
    pub forbidden: usize,
    pub answered: usize,
}

impl Counts {
    fn mostly_forbidden(self) -> bool {
        self.forbidden >= 2 && self.forbidden * 2 > self.answered
    }
}

/// Whether a range's 403s are systemic, given its own answers and the instance's recent ones
/// (which include the range's).
pub fn systemic(range: Counts, recent: Counts) -> bool {
    range.forbidden > 0 && (range.mostly_forbidden() || recent.mostly_forbidden())
}

/// The instance's Unicast answers of the last [`WINDOW`], by second.
#[derive(Default)]
pub struct Recent {
    inner: Mutex<RecentInner>,
}

#[derive(Default)]
struct RecentInner {
    /// (second it started, counts of that second), oldest first.
    seconds: VecDeque<(Instant, Counts)>,
    logged_at: Option<Instant>,
}

impl Recent {
    fn lock(&self) -> std::sync::MutexGuard<'_, RecentInner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Counts answers given now.
    pub fn add(&self, answers: Counts) {
        let now = Instant::now();
        let mut inner = self.lock();
        inner.prune(now);
        match inner.seconds.back_mut() {
            Some((start, counts)) if now.duration_since(*start) < Duration::from_secs(1) => {
                counts.forbidden += answers.forbidden;
                counts.answered += answers.answered;
            }
            _ => inner.seconds.push_back((now, answers)),
        }
    }

    /// The answers of the last [`WINDOW`].
    pub fn counts(&self) -> Counts {
        let mut inner = self.lock();
        inner.prune(Instant::now());
        inner
            .seconds
            .iter()
            .fold(Counts::default(), |sum, (_, c)| Counts {
                forbidden: sum.forbidden + c.forbidden,
                answered: sum.answered + c.answered,
            })
    }

    /// Whether the systemic error is due to be logged (at most once a [`LOG_EVERY`]).
    pub fn due_to_log(&self) -> bool {
        let now = Instant::now();
        let mut inner = self.lock();
        let due = inner
            .logged_at
            .is_none_or(|at| now.duration_since(at) >= LOG_EVERY);
        if due {
            inner.logged_at = Some(now);
        }
        due
    }
}

impl RecentInner {
    fn prune(&mut self, now: Instant) {
        while self
            .seconds
            .front()
            .is_some_and(|(start, _)| now.duration_since(*start) >= WINDOW)
        {
            self.seconds.pop_front();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn c(forbidden: usize, answered: usize) -> Counts {
        Counts {
            forbidden,
            answered,
        }
    }

    #[test]
    fn most_answers_403_is_systemic_a_few_are_the_users() {
        // A whole range refused: the configuration.
        assert!(systemic(c(100, 100), c(100, 100)));
        assert!(systemic(c(3, 4), c(3, 4)));
        // A few users of a range who turned notifications off.
        assert!(!systemic(c(3, 100), c(3, 100)));
        // A lone 403 on a healthy instance, or with nothing to compare: the user's.
        assert!(!systemic(c(1, 1), c(1, 500)));
        assert!(!systemic(c(1, 1), c(1, 1)));
        // Small ranges one after another, each refused: the instance's minute says so.
        assert!(systemic(c(1, 1), c(2, 2)));
        // No 403 at all.
        assert!(!systemic(c(0, 10), c(50, 60)));
    }

    #[tokio::test(start_paused = true)]
    async fn the_window_forgets_after_a_minute_and_logs_once_a_minute() {
        let recent = Recent::default();
        recent.add(c(5, 5));
        tokio::time::advance(Duration::from_millis(500)).await;
        recent.add(c(0, 5));
        assert_eq!(recent.counts(), c(5, 10));
        assert!(recent.due_to_log());
        assert!(!recent.due_to_log());
        tokio::time::advance(WINDOW).await;
        assert_eq!(recent.counts(), c(0, 0));
        assert!(recent.due_to_log());
    }
}
