//! When to retry a request to Alexa (a send, a token request), and how long to wait: pure
//! decisions, so they can be tested without a clock or a network, and [`run`], the one loop
//! that carries them out for both callers.

use std::time::Duration;

use tokio::time::Instant;

use crate::budget::REPORT_RESERVE;

/// What an events API status means for the client (see the status table in the API notes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    /// 2xx: accepted.
    Accepted,
    /// 409: this referenceId was accepted before, so a redelivery is already delivered.
    Duplicate,
    /// 401/403: get a new token once, then give up (403 on a Unicast: not subscribed).
    Unauthorized,
    /// 429, 500, 502, 503, 504: retry with backoff.
    Transient,
    /// 400, 432 and every other status: retrying cannot help.
    Permanent,
}

pub fn classify(status: u16) -> Class {
    match status {
        200..=299 => Class::Accepted,
        409 => Class::Duplicate,
        401 | 403 => Class::Unauthorized,
        429 | 500 | 502 | 503 | 504 => Class::Transient,
        _ => Class::Permanent,
    }
}

/// Exponential backoff with full jitter, bounded in attempts and by the invocation's deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
    /// Attempts in all, the first one included.
    pub max_attempts: u32,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff {
            base: Duration::from_millis(100),
            cap: Duration::from_secs(5),
            max_attempts: 5,
        }
    }
}

impl Backoff {
    /// The wait before attempt `attempt + 1` (`attempt` counts from 1), given a `Retry-After`
    /// and a `jitter` in [0, 1). `None`: no attempts left.
    pub fn delay(
        &self,
        attempt: u32,
        retry_after: Option<Duration>,
        jitter: f64,
    ) -> Option<Duration> {
        if attempt >= self.max_attempts {
            return None;
        }
        let exponent = attempt.saturating_sub(1).min(16);
        let ceiling = self.base.saturating_mul(1u32 << exponent).min(self.cap);
        let jittered = ceiling.mul_f64(jitter.clamp(0.0, 1.0));
        // Retry-After is the server's floor; jitter only spreads clients above it.
        Some(match retry_after {
            Some(floor) => floor.max(jittered),
            None => jittered,
        })
    }
}

/// Whether waiting `delay` and then one more request of at most `request_timeout` still ends
/// before the invocation's deadline (keeping `reserve` to report the outcome). If not, the
/// send fails now and Lambda's own retry takes over, with the same referenceId.
pub fn fits(
    time_left: Duration,
    delay: Duration,
    request_timeout: Duration,
    reserve: Duration,
) -> bool {
    delay
        .checked_add(request_timeout)
        .and_then(|d| d.checked_add(reserve))
        .is_some_and(|needed| needed <= time_left)
}

/// A number in [0, 1) for full jitter. `RandomState` is seeded randomly per process (and
/// stepped per call), which is all jitter needs; it spares a `rand` dependency.
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// What one attempt ended with.
#[derive(Debug)]
pub enum Step<T> {
    /// Finished, well or badly: nothing to retry.
    Done(T),
    /// Try again at once (a refreshed token, a re-read secret): no backoff.
    Now,
    /// Try again after a backoff, if attempts and time allow.
    Later {
        /// What went wrong, for the error if no attempt is left.
        last: String,
        retry_after: Option<Duration>,
        /// The server's id of the answer (`x-amzn-RequestId`), if any.
        request_id: Option<String>,
    },
}

/// Why [`run`] stopped without a result.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GaveUp {
    pub attempts: u32,
    pub last: String,
    pub request_id: Option<String>,
    pub why: Why,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Why {
    /// The backoff's attempts are used up.
    Attempts,
    /// Waiting `delay` and one more attempt would not end before the deadline.
    Deadline { delay: Duration },
}

/// One request, attempted again and again: implemented by the sender and the token cache.
pub(crate) trait Attempts {
    type Output;
    /// Attempt number `n` (from 1).
    async fn attempt(&mut self, n: u32) -> Step<Self::Output>;
}

/// Runs `attempts` until one is [`Step::Done`], following `backoff` and never past `deadline`
/// (each attempt takes at most `request_timeout`). Returns the result and the attempts made.
pub(crate) async fn run<A: Attempts>(
    attempts: &mut A,
    backoff: &Backoff,
    request_timeout: Duration,
    deadline: Instant,
) -> Result<(A::Output, u32), GaveUp> {
    let mut n = 0;
    loop {
        n += 1;
        let (last, retry_after, request_id) = match attempts.attempt(n).await {
            Step::Done(output) => return Ok((output, n)),
            Step::Now => continue,
            Step::Later {
                last,
                retry_after,
                request_id,
            } => (last, retry_after, request_id),
        };
        let gave_up = |why| GaveUp {
            attempts: n,
            last,
            request_id,
            why,
        };
        let Some(delay) = backoff.delay(n, retry_after, jitter()) else {
            return Err(gave_up(Why::Attempts));
        };
        let left = deadline.saturating_duration_since(Instant::now());
        if !fits(left, delay, request_timeout, REPORT_RESERVE) {
            return Err(gave_up(Why::Deadline { delay }));
        }
        tokio::time::sleep(delay).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_classified_as_the_api_notes_say() {
        assert_eq!(classify(202), Class::Accepted);
        assert_eq!(classify(200), Class::Accepted);
        assert_eq!(classify(409), Class::Duplicate);
        assert_eq!(classify(401), Class::Unauthorized);
        assert_eq!(classify(403), Class::Unauthorized);
        for s in [429, 500, 502, 503, 504] {
            assert_eq!(classify(s), Class::Transient, "{s}");
        }
        for s in [400, 404, 413, 432, 501, 302] {
            assert_eq!(classify(s), Class::Permanent, "{s}");
        }
    }

    #[test]
    fn backoff_grows_exponentially_up_to_the_cap() {
        let b = Backoff::default();
        let full = |attempt| b.delay(attempt, None, 0.999_999).unwrap();
        assert!(full(1) <= Duration::from_millis(100) && full(1) > Duration::from_millis(99));
        assert!(full(2) > Duration::from_millis(199) && full(2) <= Duration::from_millis(200));
        assert!(full(3) > Duration::from_millis(399) && full(3) <= Duration::from_millis(400));
        let capped = Backoff {
            max_attempts: 100,
            ..b
        };
        assert!(capped.delay(40, None, 0.999_999).unwrap() <= Duration::from_secs(5));
        assert_eq!(
            b.delay(1, None, 0.0),
            Some(Duration::ZERO),
            "full jitter reaches zero"
        );
    }

    #[test]
    fn attempts_are_bounded() {
        let b = Backoff::default();
        assert!(b.delay(4, None, 0.5).is_some());
        assert_eq!(b.delay(5, None, 0.5), None);
    }

    #[test]
    fn retry_after_is_a_floor() {
        let b = Backoff::default();
        assert_eq!(
            b.delay(1, Some(Duration::from_secs(2)), 0.5),
            Some(Duration::from_secs(2))
        );
        let small = Some(Duration::from_millis(10));
        assert_eq!(b.delay(3, small, 0.5), Some(Duration::from_millis(200)));
    }

    #[test]
    fn jitter_stays_in_range_and_varies() {
        let draws: Vec<f64> = (0..200).map(|_| jitter()).collect();
        assert!(draws.iter().all(|j| (0.0..1.0).contains(j)));
        let first = draws[0];
        assert!(draws.iter().any(|j| *j != first), "jitter must vary");
    }

    #[test]
    fn a_retry_must_fit_before_the_deadline() {
        let s = Duration::from_secs;
        assert!(fits(s(10), s(2), s(5), s(1)));
        assert!(!fits(s(10), s(5), s(5), s(1)));
        assert!(!fits(s(10), Duration::MAX, s(5), s(1)), "no overflow");
    }

    /// Answers from a script, one per attempt.
    struct Script(Vec<Step<&'static str>>);

    impl Attempts for Script {
        type Output = &'static str;
        async fn attempt(&mut self, _n: u32) -> Step<&'static str> {
            if self.0.is_empty() {
                return Step::Done("script ended");
            }
            self.0.remove(0)
        }
    }

    fn later(last: &str) -> Step<&'static str> {
        Step::Later {
            last: last.into(),
            retry_after: None,
            request_id: Some("req-1".into()),
        }
    }

    const NO_WAIT: Backoff = Backoff {
        base: Duration::ZERO,
        cap: Duration::ZERO,
        max_attempts: 3,
    };

    #[tokio::test]
    async fn the_loop_counts_attempts_until_done() {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut script = Script(vec![later("503"), Step::Now, Step::Done("ok")]);
        let done = run(&mut script, &NO_WAIT, Duration::from_secs(1), deadline).await;
        assert_eq!(done, Ok(("ok", 3)));
    }

    #[tokio::test]
    async fn the_loop_gives_up_when_attempts_run_out() {
        let deadline = Instant::now() + Duration::from_secs(30);
        let mut script = Script(vec![
            later("503"),
            later("502"),
            later("500"),
            Step::Done("never"),
        ]);
        let err = run(&mut script, &NO_WAIT, Duration::from_secs(1), deadline)
            .await
            .unwrap_err();
        assert_eq!(
            err,
            GaveUp {
                attempts: 3,
                last: "500".into(),
                request_id: Some("req-1".into()),
                why: Why::Attempts
            }
        );
    }

    #[tokio::test]
    async fn the_loop_stops_when_another_attempt_would_pass_the_deadline() {
        let deadline = Instant::now() + Duration::from_secs(2);
        let mut script = Script(vec![later("429"), Step::Done("never")]);
        let err = run(&mut script, &NO_WAIT, Duration::from_secs(5), deadline)
            .await
            .unwrap_err();
        assert_eq!(err.attempts, 1);
        assert_eq!(
            err.why,
            Why::Deadline {
                delay: Duration::ZERO
            }
        );
    }
}
