//! Usage reports per key per day, and extra quota grants: API Gateway's GetUsage and UpdateUsage.

use std::collections::BTreeMap;

use chrono::NaiveDate;

use super::{Admin, AdminError, MAX_REPORT_DAYS, Result, UsageReport};
use crate::{store::QuotaCounter, usage::period};

impl Admin<'_> {
    /// Per key of the plan (or just `key_id`), per day from `start` to `end`: `[used, remaining]`.
    pub async fn usage(
        &self,
        plan_id: &str,
        start: NaiveDate,
        end: NaiveDate,
        key_id: Option<&str>,
    ) -> Result<UsageReport> {
        if end < start {
            return Err(AdminError::BadRequest("endDate is before startDate".into()));
        }
        if (end - start).num_days() >= i64::try_from(MAX_REPORT_DAYS).unwrap_or(90) {
            return Err(AdminError::BadRequest(format!("a report covers at most {MAX_REPORT_DAYS} days")));
        }
        let plan = self.plan(plan_id).await?;
        let keys = match key_id {
            Some(id) => vec![id.to_owned()],
            None => self.keys_of_plan(plan_id).await?,
        };
        let quota_period = plan.quota.map_or(period::Period::Day, |q| q.period);
        let first_period = quota_period.start_of(start);
        let mut values = BTreeMap::new();
        for key in keys {
            let records = self.store.quota_records(plan_id, &key, first_period, end).await?;
            let mut days = Vec::new();
            // Up to the calendar's last day (chrono's) included, never a step past it.
            for day in std::iter::successors(Some(start), |day| day.succ_opt()).take_while(|day| *day <= end) {
                let period_start = quota_period.start_of(day);
                let record = records.iter().find(|r| r.period_start == Some(period_start));
                let used_on = |d: NaiveDate| record.and_then(|r| r.used_by_day.get(&d).copied()).unwrap_or(0);
                let used_through: i64 = record
                    .map(|r| r.used_by_day.iter().filter(|(d, _)| **d <= day).map(|(_, n)| *n).sum())
                    .unwrap_or(0);
                let remaining = plan.allowance(period_start).map(|allow| {
                    let extra = record.map_or(0, |r| r.extra);
                    i64::try_from(allow).unwrap_or(i64::MAX).saturating_add(extra).saturating_sub(used_through)
                });
                days.push((used_on(day), remaining));
            }
            values.insert(key, days);
        }
        Ok(UsageReport { usage_plan_id: plan_id.to_owned(), start_date: start, end_date: end, values })
    }

    /// Grants a key `extra` requests on top of this period's quota (API Gateway's UpdateUsage).
    pub async fn grant(&self, plan_id: &str, key_id: &str, extra: u64) -> Result<i64> {
        let plan = self.plan(plan_id).await?;
        let Some(quota) = plan.quota else {
            return Err(AdminError::BadRequest(format!("plan {plan_id} has no quota to add to")));
        };
        self.key(key_id).await?;
        let (start, _) = quota.period.bounds(self.now_ms);
        let counter = QuotaCounter { plan: plan_id, key: key_id, period_start: start };
        Ok(self.store.grant_quota(counter, plan.allowance(start), extra).await?)
    }

    async fn keys_of_plan(&self, plan_id: &str) -> Result<Vec<String>> {
        let mut ids = Vec::new();
        let mut after: Option<String> = None;
        loop {
            let page = self.list_keys(100, after.as_deref()).await?;
            ids.extend(page.items.into_iter().filter(|k| k.plans.iter().any(|p| p == plan_id)).map(|k| k.id));
            match page.next {
                Some(next) => after = Some(next),
                None => return Ok(ids),
            }
        }
    }
}
