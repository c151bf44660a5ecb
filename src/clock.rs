//! Time comes from a clock that can be swapped: the system clock in production, a manual one in
//! tests, so a test moves a day forward in a microsecond instead of waiting for it.

use std::sync::Arc;

use chrono::{DateTime, Utc};
use futures::future::BoxFuture;
use tokio::sync::watch;

pub trait Clock: Send + Sync + 'static {
    fn now(&self) -> DateTime<Utc>;

    /// Resolves at `deadline` or earlier; callers look at `now()` again after it resolves.
    /// `observed` is the time the caller last acted on: a clock that jumps (a manual one) also
    /// wakes the caller as soon as it is no longer at that time, so a caller can never miss a
    /// move that happened between reading the time and going to sleep.
    fn sleep_until(
        &self,
        deadline: DateTime<Utc>,
        observed: DateTime<Utc>,
    ) -> BoxFuture<'static, ()>;
}

pub struct SystemClock;

/// The system clock can jump (NTP, suspend): never trust one long sleep to land on time.
const LONGEST_SLEEP: std::time::Duration = std::time::Duration::from_secs(60);

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }

    fn sleep_until(
        &self,
        deadline: DateTime<Utc>,
        _observed: DateTime<Utc>,
    ) -> BoxFuture<'static, ()> {
        let wait = (deadline - Utc::now())
            .to_std()
            .unwrap_or_default()
            .min(LONGEST_SLEEP);
        Box::pin(tokio::time::sleep(wait))
    }
}

/// A clock that moves only when told to.
#[derive(Clone)]
pub struct ManualClock {
    now: Arc<watch::Sender<DateTime<Utc>>>,
}

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> ManualClock {
        ManualClock {
            now: Arc::new(watch::Sender::new(start)),
        }
    }

    pub fn advance(&self, by: chrono::Duration) {
        self.now.send_modify(|now| *now += by);
    }

    pub fn set(&self, to: DateTime<Utc>) {
        self.now.send_replace(to);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        *self.now.borrow()
    }

    fn sleep_until(
        &self,
        deadline: DateTime<Utc>,
        observed: DateTime<Utc>,
    ) -> BoxFuture<'static, ()> {
        let mut changes = self.now.subscribe();
        Box::pin(async move {
            // The sender lives as long as the clock; if it is gone, nothing will ever wake us.
            let _ = changes
                .wait_for(|now| *now >= deadline || *now != observed)
                .await;
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_clock_wakes_sleepers_whenever_it_moves() {
        let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        let deadline = start + chrono::Duration::hours(2);
        let sleeper = tokio::spawn(clock.sleep_until(deadline, start));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(chrono::Duration::hours(1));
        sleeper.await.unwrap();
        let sleeper = tokio::spawn(clock.sleep_until(deadline, clock.now()));
        tokio::task::yield_now().await;
        assert!(!sleeper.is_finished());
        clock.advance(chrono::Duration::hours(1));
        sleeper.await.unwrap();
    }

    /// Each sleep below must resolve at once; a timeout turns a hang into a failure.
    async fn resolves_at_once(sleep: BoxFuture<'static, ()>) -> bool {
        tokio::time::timeout(std::time::Duration::from_secs(5), sleep)
            .await
            .is_ok()
    }

    #[tokio::test]
    async fn a_deadline_already_passed_resolves_at_once() {
        let start: DateTime<Utc> = "2026-01-01T00:00:00Z".parse().unwrap();
        let clock = ManualClock::new(start);
        assert!(
            resolves_at_once(clock.sleep_until(start - chrono::Duration::hours(1), start)).await
        );
        let now = Utc::now();
        assert!(
            resolves_at_once(SystemClock.sleep_until(now - chrono::Duration::hours(1), now)).await
        );
        // A move that happened before the sleep began still wakes it.
        clock.advance(chrono::Duration::minutes(1));
        assert!(
            resolves_at_once(clock.sleep_until(start + chrono::Duration::hours(5), start)).await
        );
        // And one that has not happened yet does not.
        let waiting = clock.sleep_until(start + chrono::Duration::hours(5), clock.now());
        assert!(
            tokio::time::timeout(std::time::Duration::from_millis(50), waiting)
                .await
                .is_err()
        );
    }
}
