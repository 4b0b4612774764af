//! Time as an input. The gateway reads the time, and waits for it, only through a [`Clock`]: metering decides
//! by it, authorizers check token expiry by it, and `tollgate serve` times WebSocket idle and lifetime limits by
//! it. Tests hand every part the same [`ManualClock`] and move it forward (period roll-over, token refill,
//! expiry) without sleeping. This is the one file that reads the wall clock (`.clippy.toml` bans it elsewhere).

use std::{
    future::Future,
    pin::Pin,
    sync::{
        Arc,
        atomic::{AtomicI64, Ordering},
    },
};

/// Microseconds since the Unix epoch.
pub type Micros = i64;

pub const MICROS_PER_SEC: i64 = 1_000_000;

/// A wait for a moment on a clock.
pub type Sleep = Pin<Box<dyn Future<Output = ()> + Send + 'static>>;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_us(&self) -> Micros;

    /// Resolves once the clock reads `at_us` or later.
    fn sleep_until(&self, at_us: Micros) -> Sleep;

    fn now_ms(&self) -> i64 {
        self.now_us() / 1_000
    }
}

/// The system's wall clock; waits are tokio timers.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    #[allow(clippy::disallowed_methods)] // the one wall-clock read
    fn now_us(&self) -> Micros {
        chrono::Utc::now().timestamp_micros()
    }

    fn sleep_until(&self, at_us: Micros) -> Sleep {
        let wait = u64::try_from(at_us - self.now_us()).unwrap_or(0);
        Box::pin(tokio::time::sleep(std::time::Duration::from_micros(wait)))
    }
}

/// A clock that moves only when told to. Clones share the same time, and a move wakes every wait it reaches.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<Manual>);

#[derive(Debug)]
struct Manual {
    now: AtomicI64,
    moved: tokio::sync::Notify,
}

impl ManualClock {
    pub fn at(now_us: Micros) -> Self {
        Self(Arc::new(Manual { now: AtomicI64::new(now_us), moved: tokio::sync::Notify::new() }))
    }

    pub fn advance_us(&self, by: Micros) {
        self.0.now.fetch_add(by, Ordering::SeqCst);
        self.0.moved.notify_waiters();
    }

    pub fn set_us(&self, to: Micros) {
        self.0.now.store(to, Ordering::SeqCst);
        self.0.moved.notify_waiters();
    }
}

impl Clock for ManualClock {
    fn now_us(&self) -> Micros {
        self.0.now.load(Ordering::SeqCst)
    }

    fn sleep_until(&self, at_us: Micros) -> Sleep {
        let clock = Arc::clone(&self.0);
        Box::pin(async move {
            loop {
                // Registered before the check, so a move between the check and the wait is not missed.
                let moved = clock.moved.notified();
                if clock.now.load(Ordering::SeqCst) >= at_us {
                    return;
                }
                moved.await;
            }
        })
    }
}

/// The shared handle the gateway keeps.
pub type SharedClock = Arc<dyn Clock>;

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_manual_wait_ends_when_the_clock_gets_there() {
        let clock = ManualClock::at(1_000);
        let wait = tokio::spawn(clock.sleep_until(1_500));
        tokio::task::yield_now().await;
        clock.advance_us(499);
        tokio::task::yield_now().await;
        assert!(!wait.is_finished(), "not there yet");
        clock.advance_us(1);
        wait.await.expect("woken");
        // A moment already past resolves at once.
        clock.sleep_until(10).await;
    }
}
