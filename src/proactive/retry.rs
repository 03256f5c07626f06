//! When to retry a send, and how long to wait: pure decisions, so they can be tested
//! without a clock or a network, and the sender only carries them out.

use std::time::Duration;

use chrono::{DateTime, Utc};

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

/// Kept free at the end of an invocation to report the outcome.
pub const REPORT_RESERVE: Duration = Duration::from_millis(300);

/// A number in [0, 1) for full jitter. `RandomState` is seeded randomly per process (and
/// stepped per call), which is all jitter needs; it spares a `rand` dependency.
pub fn jitter() -> f64 {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u8(0);
    (hasher.finish() >> 11) as f64 / (1u64 << 53) as f64
}

/// `Retry-After` as seconds (`"3"`) or as an HTTP date; `None` when absent or unreadable.
pub fn parse_retry_after(value: &str, now: DateTime<Utc>) -> Option<Duration> {
    let value = value.trim();
    if let Ok(seconds) = value.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let at = DateTime::parse_from_rfc2822(value)
        .ok()?
        .with_timezone(&Utc);
    Some((at - now).to_std().unwrap_or(Duration::ZERO))
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
    fn retry_after_reads_seconds_and_http_dates() {
        let now = DateTime::parse_from_rfc3339("2026-11-24T18:00:00Z")
            .unwrap()
            .with_timezone(&Utc);
        assert_eq!(parse_retry_after("3", now), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 18:00:07 GMT", now),
            Some(Duration::from_secs(7))
        );
        assert_eq!(
            parse_retry_after("Tue, 24 Nov 2026 17:00:00 GMT", now),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-1", now), None);
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
}
