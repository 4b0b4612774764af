//! GCRA, the arithmetic of a throttle bucket: both stores grant slices of a bucket's timeline by it (the
//! embedded store under its lock, the DynamoDB store to decide its conditional write).

use super::{Cadence, Slice};
use crate::clock::Micros;

/// GCRA on one bucket: as many of `want` tokens as conform now, or when the next one will.
pub(crate) fn take(tat: Option<Micros>, cadence: Cadence, want: u32, now: Micros) -> (Slice, Option<Micros>) {
    let start = tat.map_or(now, |t| t.max(now));
    let horizon = now + cadence.tolerance_us;
    if start > horizon {
        return (Slice::Refused { retry_at_us: start - cadence.tolerance_us }, tat);
    }
    let fit = (horizon - start) / cadence.interval_us + 1;
    let count = u32::try_from(fit).unwrap_or(u32::MAX).min(want).max(1);
    let new_tat = start + i64::from(count) * cadence.interval_us;
    (Slice::Granted { start_us: start, count }, Some(new_tat))
}
