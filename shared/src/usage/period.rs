//! Quota periods. Boundaries are UTC: a DAY starts at midnight, a WEEK on Monday at midnight (ISO 8601), a
//! MONTH on its first day at midnight. API Gateway does not document its boundaries; these are Tollgate's.

use chrono::{DateTime, Datelike as _, Days, Months, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Period {
    Day,
    Week,
    Month,
}

impl Period {
    /// The first day of the period holding `day` (the calendar's first day for a week that began before it).
    pub fn start_of(self, day: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => day,
            Self::Week => day
                .checked_sub_days(Days::new(u64::from(day.weekday().num_days_from_monday())))
                .unwrap_or(NaiveDate::MIN),
            Self::Month => day.with_day(1).unwrap_or(day),
        }
    }

    /// The first day of the next period after the one starting at `start`.
    pub fn next_start(self, start: NaiveDate) -> NaiveDate {
        match self {
            Self::Day => start + Days::new(1),
            Self::Week => start + Days::new(7),
            Self::Month => start + Months::new(1),
        }
    }

    /// The start of the period holding `now_ms`, and when the next one starts (ms since the epoch).
    pub fn bounds(self, now_ms: i64) -> (NaiveDate, i64) {
        let start = self.start_of(day_of(now_ms));
        (start, midnight_ms(self.next_start(start)))
    }
}

/// The UTC day of an instant.
pub fn day_of(ms: i64) -> NaiveDate {
    DateTime::<Utc>::from_timestamp_millis(ms).unwrap_or_default().date_naive()
}

/// Midnight UTC of a day, in ms since the epoch.
pub fn midnight_ms(day: NaiveDate) -> i64 {
    day.and_hms_opt(0, 0, 0).map_or(0, |t| t.and_utc().timestamp_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().expect("date")
    }

    #[test]
    fn periods_start_at_utc_boundaries() {
        // 2026-11-25 is a Wednesday.
        assert_eq!(Period::Day.start_of(d("2026-11-25")), d("2026-11-25"));
        assert_eq!(Period::Week.start_of(d("2026-11-25")), d("2026-11-23"));
        assert_eq!(Period::Week.start_of(d("2026-11-23")), d("2026-11-23"));
        assert_eq!(Period::Month.start_of(d("2026-11-25")), d("2026-11-01"));
        assert_eq!(Period::Month.next_start(d("2026-12-01")), d("2027-01-01"));
        assert_eq!(Period::Month.next_start(d("2027-01-01")), d("2027-02-01"));
        // The calendar's first day is no Monday, and its week's Monday is before the calendar: the week starts there.
        assert_eq!(Period::Week.start_of(NaiveDate::MIN), NaiveDate::MIN, "found through the admin fuzz target");
        let just_before_midnight = midnight_ms(d("2026-11-26")) - 1;
        assert_eq!(Period::Day.bounds(just_before_midnight), (d("2026-11-25"), midnight_ms(d("2026-11-26"))));
        assert_eq!(Period::Day.bounds(just_before_midnight + 1).0, d("2026-11-26"));
    }
}
