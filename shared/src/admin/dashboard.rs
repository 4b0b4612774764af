//! What the usage pages show, read from the store: each key's requests per day and its quota standing, and
//! the operator's totals: requests granted to keys (the quota counters), and every answer by status class
//! (the traffic rows instances add once a minute, `metrics/traffic.rs`).

use chrono::{Days, NaiveDate};

use super::{Admin, Result};
use crate::{
    store::{Kind, Traffic},
    usage::{ApiKey, Plan, Quota},
};

/// Days a chart covers, today included.
pub const CHART_DAYS: u64 = 14;
/// A key is near its quota when at most this percentage of its limit is left.
pub const NEAR_QUOTA_PERCENT: i128 = 20;

/// One key's standing in one plan, today.
#[derive(Debug, Clone, PartialEq)]
pub struct KeyUsage {
    pub key_id: String,
    pub key_name: String,
    pub plan_id: String,
    pub plan_name: String,
    pub quota: Option<Quota>,
    /// Requests counted in the quota period holding today.
    pub used_in_period: i64,
    /// What is left of this period's quota (extra grants included); `None` without a quota.
    pub remaining: Option<i64>,
    /// Requests per day over the chart's window, oldest first.
    pub days: Vec<(NaiveDate, i64)>,
}

impl KeyUsage {
    /// Whether little of the quota is left (or none).
    pub fn near_quota(&self) -> bool {
        match (self.quota, self.remaining) {
            (Some(q), Some(left)) => i128::from(left) * 100 <= i128::from(q.limit) * NEAR_QUOTA_PERCENT,
            _ => false,
        }
    }
}

/// The operator's view: every key in every plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Dashboard {
    pub today: NaiveDate,
    /// Requests granted per day over all keys and plans, oldest first.
    pub totals: Vec<(NaiveDate, i64)>,
    /// Every answer per day over all stages (requests, 4xx, 5xx, 429), oldest first.
    pub traffic: Vec<(NaiveDate, Traffic)>,
    /// Most used in the current period first.
    pub keys: Vec<KeyUsage>,
}

impl Admin<'_> {
    /// `key`'s usage in `plan` up to `today`: the chart's days, and the whole quota period for its totals.
    pub async fn key_usage(&self, key: &ApiKey, plan: &Plan, today: NaiveDate) -> Result<KeyUsage> {
        let chart_start = today.checked_sub_days(Days::new(CHART_DAYS - 1)).unwrap_or(today);
        let period_start = plan.quota.map_or(today, |q| q.period.start_of(today));
        let start = chart_start.min(period_start);
        let mut report = self.usage(&plan.id, start, today, Some(&key.id)).await?;
        let values = report.values.remove(&key.id).unwrap_or_default();
        let dated = std::iter::successors(Some(start), |d| d.succ_opt()).zip(values);
        let (mut days, mut used_in_period, mut remaining) = (Vec::new(), 0, None);
        for (day, (used, left)) in dated {
            if day >= period_start {
                used_in_period += used;
            }
            if day >= chart_start {
                days.push((day, used));
            }
            remaining = left;
        }
        Ok(KeyUsage {
            key_id: key.id.clone(),
            key_name: key.name.clone(),
            plan_id: plan.id.clone(),
            plan_name: plan.name.clone(),
            quota: plan.quota,
            used_in_period,
            remaining,
            days,
        })
    }

    /// Every key's usage in each of its plans, and the totals per day.
    pub async fn dashboard(&self, today: NaiveDate) -> Result<Dashboard> {
        let plans: Vec<Plan> = self.all(Kind::Plan).await?;
        let keys: Vec<ApiKey> = self.all(Kind::Key).await?;
        let mut usages = Vec::new();
        for key in &keys {
            for plan in plans.iter().filter(|p| key.plans.contains(&p.id)) {
                usages.push(self.key_usage(key, plan, today).await?);
            }
        }
        usages.sort_by(|a, b| b.used_in_period.cmp(&a.used_in_period).then_with(|| a.key_id.cmp(&b.key_id)));
        let chart_start = today.checked_sub_days(Days::new(CHART_DAYS - 1)).unwrap_or(today);
        let mut totals: Vec<(NaiveDate, i64)> = std::iter::successors(Some(chart_start), |d| d.succ_opt())
            .take_while(|d| *d <= today)
            .map(|d| (d, 0))
            .collect();
        for usage in &usages {
            for (day, used) in &usage.days {
                if let Some(total) = totals.iter_mut().find(|(d, _)| d == day) {
                    total.1 += used;
                }
            }
        }
        let mut traffic: Vec<(NaiveDate, Traffic)> = totals.iter().map(|(d, _)| (*d, Traffic::default())).collect();
        for row in self.store.traffic(chart_start, today).await? {
            if let Some(day) = traffic.iter_mut().find(|(d, _)| *d == row.day) {
                day.1.add(row.traffic);
            }
        }
        Ok(Dashboard { today, totals, traffic, keys: usages })
    }

    /// Every record of a kind, page by page.
    async fn all<T: serde::de::DeserializeOwned>(&self, kind: Kind) -> Result<Vec<T>> {
        let mut items = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list::<T>(kind, 100, after.as_deref()).await?;
            items.extend(page.items);
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(items),
            }
        }
    }
}
