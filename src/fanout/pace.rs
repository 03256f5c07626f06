//! How fast an instance sends Unicasts: at most `FANOUT_SEND_RATE` a second, and slower while
//! Alexa says so. Additive increase, multiplicative decrease, as TCP does: a chunk of sends
//! that met a 429 or 503 (retried by the sender, which honours `Retry-After`) halves the rate;
//! a chunk without raises it by a twentieth of the setting, which stays the ceiling. The rate
//! belongs to the instance (it outlives one invocation: the next batch starts where the last
//! one left off).

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// The instance's rate.
pub struct Pace {
    ceiling: f64,
    state: Mutex<State>,
}

struct State {
    rate: f64,
    /// When the rate was last halved: at most once a [`DECREASE_EVERY`], as TCP halves once a
    /// round trip, so the chunks already under way when the first 429 came back do not halve
    /// it again for the same overload.
    decreased: Option<Instant>,
}

/// How often the rate is halved at most.
const DECREASE_EVERY: Duration = Duration::from_secs(1);

/// The slowest an instance goes: one Unicast a second.
const FLOOR: f64 = 1.0;

impl Pace {
    pub fn new(ceiling: u32) -> Self {
        let ceiling = f64::from(ceiling.max(1));
        Pace {
            ceiling,
            state: Mutex::new(State {
                rate: ceiling,
                decreased: None,
            }),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Unicasts a second now.
    pub fn rate(&self) -> f64 {
        self.lock().rate
    }

    /// A chunk's answers: `throttled` of them met a 429 or 503 on the way.
    pub fn observe(&self, answered: usize, throttled: usize) {
        let now = Instant::now();
        let mut state = self.lock();
        if throttled > 0 {
            if state
                .decreased
                .is_none_or(|at| now.duration_since(at) >= DECREASE_EVERY)
            {
                state.rate = (state.rate / 2.0).max(FLOOR);
                state.decreased = Some(now);
            }
        } else if answered > 0 {
            state.rate = (state.rate + self.ceiling / 20.0).min(self.ceiling);
        }
    }
}

/// Spaces one invocation's sends by the instance's [`Pace`], in chunks of about a tenth of a
/// second's worth, shared by every message of the batch.
pub struct Pacer<'a> {
    pace: &'a Pace,
    next: tokio::sync::Mutex<Instant>,
}

impl<'a> Pacer<'a> {
    pub fn new(pace: &'a Pace) -> Self {
        Pacer {
            pace,
            next: tokio::sync::Mutex::new(Instant::now()),
        }
    }

    pub fn chunk(&self) -> usize {
        ((self.pace.rate() / 10.0) as usize).max(1)
    }

    /// Waits for the turn of `n` sends; `false` if that turn comes after `until`.
    pub async fn wait(&self, n: usize, until: Instant) -> bool {
        let start = {
            let mut next = self.next.lock().await;
            let start = (*next).max(Instant::now());
            if start > until {
                return false;
            }
            *next = start + Duration::from_secs_f64(n as f64 / self.pace.rate());
            start
        };
        tokio::time::sleep_until(start).await;
        true
    }

    pub fn observe(&self, answered: usize, throttled: usize) {
        self.pace.observe(answered, throttled);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn throttling_halves_the_rate_and_calm_chunks_bring_it_back_to_the_setting() {
        let pace = Pace::new(100);
        assert_eq!(pace.rate(), 100.0);
        pace.observe(10, 3);
        assert_eq!(pace.rate(), 50.0);
        pace.observe(10, 1);
        assert_eq!(
            pace.rate(),
            50.0,
            "once a second at most: the same overload"
        );
        tokio::time::advance(DECREASE_EVERY).await;
        pace.observe(10, 1);
        assert_eq!(pace.rate(), 25.0);
        for _ in 0..3 {
            pace.observe(10, 0);
        }
        assert_eq!(pace.rate(), 40.0, "+5 (a twentieth of 100) per calm chunk");
        for _ in 0..100 {
            pace.observe(10, 0);
        }
        assert_eq!(pace.rate(), 100.0, "never above the setting");
        for _ in 0..100 {
            tokio::time::advance(DECREASE_EVERY).await;
            pace.observe(10, 10);
        }
        assert_eq!(pace.rate(), 1.0, "never below one a second");
        pace.observe(0, 0);
        assert_eq!(pace.rate(), 1.0, "no answers, no change");
    }

    #[tokio::test(start_paused = true)]
    async fn chunks_are_spaced_by_the_current_rate() {
        let pace = Pace::new(100);
        let pacer = Pacer::new(&pace);
        assert_eq!(pacer.chunk(), 10);
        let start = Instant::now();
        assert!(pacer.wait(10, start + Duration::from_secs(5)).await);
        assert!(pacer.wait(10, start + Duration::from_secs(5)).await);
        assert_eq!(Instant::now() - start, Duration::from_millis(100));
        pacer.observe(10, 10);
        assert_eq!(pacer.chunk(), 5);
        assert!(pacer.wait(5, start + Duration::from_secs(5)).await);
        assert!(pacer.wait(5, start + Duration::from_secs(5)).await);
        // 100 ms for the second chunk of 10, then 5 at 50/s: 100 ms more.
        assert_eq!(Instant::now() - start, Duration::from_millis(300));
        // A turn after `until` is not waited for.
        assert!(!pacer.wait(5, start).await);
    }
}
