//! Time as an input. Metering decides by the clock it is given, so tests move time forward (period roll-over,
//! token refill) without sleeping, and several gateway instances can share one test clock.

use std::sync::{
    Arc,
    atomic::{AtomicI64, Ordering},
};

/// Microseconds since the Unix epoch.
pub type Micros = i64;

pub const MICROS_PER_SEC: i64 = 1_000_000;

pub trait Clock: Send + Sync + std::fmt::Debug {
    fn now_us(&self) -> Micros;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_us(&self) -> Micros {
        chrono::Utc::now().timestamp_micros()
    }
}

/// A clock that moves only when told to. Clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock(Arc<AtomicI64>);

impl ManualClock {
    pub fn at(now_us: Micros) -> Self {
        Self(Arc::new(AtomicI64::new(now_us)))
    }

    pub fn advance_us(&self, by: Micros) {
        self.0.fetch_add(by, Ordering::SeqCst);
    }

    pub fn set_us(&self, to: Micros) {
        self.0.store(to, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now_us(&self) -> Micros {
        self.0.load(Ordering::SeqCst)
    }
}

/// The shared handle the gateway keeps.
pub type SharedClock = Arc<dyn Clock>;
