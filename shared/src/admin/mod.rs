//! Key and plan administration over any store: what the meter function's API and the `tollgate` CLI both do.

use std::collections::BTreeMap;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

pub mod api;
pub mod dashboard;
pub mod pages;
mod reports;

use crate::{
    store::{Kind, Page, Store, StoreError, decode, encode},
    usage::{ApiKey, FailMode, KeyHash, KeyValueRef, Plan, Quota, Throttle, check_name, key_value, new_id},
};

/// Records stay well under DynamoDB's 1 KB write unit.
pub const MAX_RECORD_BYTES: usize = 900;
/// Longest a rolled-away value may keep working: one week.
pub const MAX_GRACE_SECS: u64 = 7 * 86_400;
/// API Gateway's limit on usage plans per key.
pub const MAX_PLANS_PER_KEY: usize = 10;
/// Longest usage report, in days (API Gateway allows 90 days back).
pub const MAX_REPORT_DAYS: u64 = 90;

#[derive(Debug, thiserror::Error)]
pub enum AdminError {
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    NotFound(String),
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Store(StoreError),
}

impl From<StoreError> for AdminError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Conflict(m) => Self::Conflict(m),
            StoreError::NotFound(m) => Self::NotFound(m),
            other => Self::Store(other),
        }
    }
}

type Result<T> = std::result::Result<T, AdminError>;

/// A new key's settings.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct NewKey {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub expires_at_ms: Option<i64>,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
    /// Import this value instead of generating one.
    #[serde(default)]
    pub value: Option<String>,
    #[serde(default)]
    pub plans: Vec<String>,
}

fn yes() -> bool {
    true
}

/// A field that is present, even as `null`, is `Some`: `Some(None)` clears it, absence leaves it alone.
fn present<'de, D: serde::Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> std::result::Result<Option<Option<T>>, D::Error> {
    Option::<T>::deserialize(d).map(Some)
}

/// A change to a key: only the fields given change.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KeyPatch {
    pub name: Option<String>,
    pub description: Option<String>,
    pub enabled: Option<bool>,
    /// `Some(None)` (JSON `null`) removes the expiry.
    #[serde(default, deserialize_with = "present")]
    pub expires_at_ms: Option<Option<i64>>,
    pub tags: Option<BTreeMap<String, String>>,
}

/// A plan's settings, for create and for replace.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PlanInput {
    #[serde(default)]
    pub id: Option<String>,
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub stages: Vec<String>,
    #[serde(default)]
    pub throttle: Option<Throttle>,
    #[serde(default)]
    pub route_throttles: BTreeMap<String, Throttle>,
    #[serde(default)]
    pub quota: Option<Quota>,
    #[serde(default)]
    pub max_connections: Option<u32>,
    #[serde(default)]
    pub on_store_error: FailMode,
}

/// API Gateway's GetUsage answer: per key, one `[used, remaining]` pair per day.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageReport {
    pub usage_plan_id: String,
    pub start_date: NaiveDate,
    pub end_date: NaiveDate,
    pub values: BTreeMap<String, Vec<(i64, Option<i64>)>>,
}

pub struct Admin<'s> {
    store: &'s dyn Store,
    now_ms: i64,
}

impl<'s> Admin<'s> {
    pub fn new(store: &'s dyn Store, now_ms: i64) -> Self {
        Self { store, now_ms }
    }

    // ===== keys =====

    /// Creates a key and returns it with its value, which is shown this once and never stored.
    pub async fn create_key(&self, new: NewKey) -> Result<(ApiKey, String)> {
        check_name(&new.name).map_err(AdminError::BadRequest)?;
        let value = value_or_new(new.value)?;
        if new.plans.len() > MAX_PLANS_PER_KEY {
            return Err(AdminError::BadRequest(format!("a key may be in at most {MAX_PLANS_PER_KEY} plans")));
        }
        let mut key = ApiKey {
            id: new_id(),
            name: new.name,
            description: new.description,
            enabled: new.enabled,
            expires_at_ms: new.expires_at_ms,
            tags: new.tags,
            plans: Vec::new(),
            created_at_ms: self.now_ms,
            values: vec![KeyValueRef { hash: KeyHash::of(&value), not_after_ms: None }],
            version: 1,
        };
        for plan in &new.plans {
            self.check_can_join(&key, plan).await?;
            key.plans.push(plan.clone());
        }
        let doc = sized(&key)?;
        let hash = KeyHash::of(&value);
        // The value first: if the record write then fails, an orphan value opens nothing.
        self.insert_value(&hash, &key.id).await?;
        if let Err(e) = self.store.put_record(Kind::Key, &key.id, &doc, key.version, None).await {
            let _ = self.store.delete_key_value(&hash).await;
            return Err(e.into());
        }
        Ok((key, value))
    }

    pub async fn key(&self, id: &str) -> Result<ApiKey> {
        self.store.get_key(id).await?.ok_or_else(|| AdminError::NotFound(format!("no API key {id}")))
    }

    pub async fn list_keys(&self, limit: u32, after: Option<&str>) -> Result<Page<ApiKey>> {
        self.list(Kind::Key, limit, after).await
    }

    pub async fn update_key(&self, id: &str, patch: KeyPatch) -> Result<ApiKey> {
        self.change_key(id, |key| {
            if let Some(name) = patch.name {
                check_name(&name).map_err(AdminError::BadRequest)?;
                key.name = name;
            }
            if let Some(d) = patch.description {
                key.description = d;
            }
            if let Some(e) = patch.enabled {
                key.enabled = e;
            }
            if let Some(x) = patch.expires_at_ms {
                key.expires_at_ms = x;
            }
            if let Some(t) = patch.tags {
                key.tags = t;
            }
            Ok(())
        })
        .await
    }

    /// Gives the key a new value. The old values keep working for `grace_secs`; usage and quota carry over,
    /// since they belong to the key, not to a value.
    pub async fn roll_key(&self, id: &str, grace_secs: u64, value: Option<String>) -> Result<(ApiKey, String)> {
        if grace_secs > MAX_GRACE_SECS {
            return Err(AdminError::BadRequest(format!("graceSeconds must be at most {MAX_GRACE_SECS}")));
        }
        let value = value_or_new(value)?;
        let key = self.key(id).await?;
        let hash = KeyHash::of(&value);
        let not_after = self.now_ms + i64::try_from(grace_secs * 1_000).unwrap_or(i64::MAX);
        // Order matters for a crash midway: new value, then old values' end, then the record.
        self.insert_value(&hash, id).await?;
        for old in key.values.iter().filter(|v| v.not_after_ms.is_none_or(|at| at > not_after)) {
            match self.store.expire_key_value(&old.hash, not_after).await {
                Ok(()) | Err(StoreError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
        let now = self.now_ms;
        let mut gone = Vec::new();
        let key = self
            .change_key(id, |key| {
                for v in &mut key.values {
                    v.not_after_ms = Some(v.not_after_ms.map_or(not_after, |at| at.min(not_after)));
                }
                // Values past their grace are forgotten here, so the record stays small.
                key.values.retain(|v| {
                    let keep = v.not_after_ms.is_none_or(|at| at > now);
                    if !keep {
                        gone.push(v.hash.clone());
                    }
                    keep
                });
                key.values.push(KeyValueRef { hash: hash.clone(), not_after_ms: None });
                Ok(())
            })
            .await?;
        for old in gone {
            self.store.delete_key_value(&old).await?;
        }
        Ok((key, value))
    }

    pub async fn delete_key(&self, id: &str) -> Result<()> {
        let key = self.key(id).await?;
        // The record first: a value without its record opens nothing.
        self.store.delete_record(Kind::Key, id).await?;
        for value in &key.values {
            self.store.delete_key_value(&value.hash).await?;
        }
        Ok(())
    }

    /// Adds a key to a plan. A key may be in one plan per stage, as in API Gateway.
    pub async fn add_key_to_plan(&self, key_id: &str, plan_id: &str) -> Result<ApiKey> {
        let key = self.key(key_id).await?;
        if key.plans.iter().any(|p| p == plan_id) {
            return Ok(key);
        }
        self.check_can_join(&key, plan_id).await?;
        self.change_key(key_id, |key| {
            if key.plans.len() >= MAX_PLANS_PER_KEY {
                return Err(AdminError::BadRequest(format!("a key may be in at most {MAX_PLANS_PER_KEY} plans")));
            }
            key.plans.push(plan_id.to_owned());
            Ok(())
        })
        .await
    }

    pub async fn remove_key_from_plan(&self, key_id: &str, plan_id: &str) -> Result<ApiKey> {
        self.change_key(key_id, |key| {
            let before = key.plans.len();
            key.plans.retain(|p| p != plan_id);
            if key.plans.len() == before {
                return Err(AdminError::NotFound(format!("key {key_id} is not in plan {plan_id}")));
            }
            Ok(())
        })
        .await
    }

    /// Records a new value for a key; values are unique across all keys.
    async fn insert_value(&self, hash: &KeyHash, key_id: &str) -> Result<()> {
        self.store.insert_key_value(hash, key_id).await.map_err(|e| match e {
            StoreError::Conflict(_) => AdminError::Conflict("an API key with that value already exists".into()),
            other => other.into(),
        })
    }

    async fn check_can_join(&self, key: &ApiKey, plan_id: &str) -> Result<()> {
        let plan = self.plan(plan_id).await?;
        for other in &key.plans {
            let Some(other) = self.store.get_plan(other).await? else { continue };
            if let Some(stage) = other.stages.iter().find(|s| plan.stages.contains(s)) {
                return Err(AdminError::Conflict(format!(
                    "key {} is already in plan {} for stage {stage}; a key may be in one plan per stage",
                    key.id, other.id
                )));
            }
        }
        Ok(())
    }

    async fn change_key(&self, id: &str, change: impl FnOnce(&mut ApiKey) -> Result<()>) -> Result<ApiKey> {
        let mut key = self.key(id).await?;
        let expected = key.version;
        change(&mut key)?;
        key.version = expected + 1;
        let doc = sized(&key)?;
        self.store.put_record(Kind::Key, id, &doc, key.version, Some(expected)).await?;
        Ok(key)
    }

    // ===== plans =====

    pub async fn create_plan(&self, input: PlanInput) -> Result<Plan> {
        let id = match input.id.clone() {
            Some(id) => {
                check_id(&id)?;
                id
            }
            None => new_id(),
        };
        let plan = plan_from(input, id, self.now_ms, 1)?;
        self.store.put_record(Kind::Plan, &plan.id, &sized(&plan)?, 1, None).await?;
        Ok(plan)
    }

    pub async fn plan(&self, id: &str) -> Result<Plan> {
        self.store.get_plan(id).await?.ok_or_else(|| AdminError::NotFound(format!("no usage plan {id}")))
    }

    pub async fn list_plans(&self, limit: u32, after: Option<&str>) -> Result<Page<Plan>> {
        self.list(Kind::Plan, limit, after).await
    }

    async fn list<T: serde::de::DeserializeOwned>(
        &self,
        kind: Kind,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<T>> {
        let page = self.store.list_records(kind, limit, after).await?;
        let items = page.items.iter().map(|d| decode(d)).collect::<std::result::Result<_, _>>()?;
        Ok(Page { items, next: page.next })
    }

    /// Replaces a plan's settings (its id and creation time stay).
    pub async fn update_plan(&self, id: &str, input: PlanInput) -> Result<Plan> {
        let old = self.plan(id).await?;
        let plan = plan_from(input, id.to_owned(), old.created_at_ms, old.version + 1)?;
        self.store.put_record(Kind::Plan, id, &sized(&plan)?, plan.version, Some(old.version)).await?;
        Ok(plan)
    }

    /// Deletes a plan. Keys that named it are refused on its stages until added to another plan.
    pub async fn delete_plan(&self, id: &str) -> Result<()> {
        Ok(self.store.delete_record(Kind::Plan, id).await?)
    }
}

/// The value a user brought (checked), or a new one.
fn value_or_new(value: Option<String>) -> Result<String> {
    match value {
        Some(v) => {
            key_value::check_imported(&v).map_err(AdminError::BadRequest)?;
            Ok(v)
        }
        None => Ok(key_value::generate()),
    }
}

fn plan_from(input: PlanInput, id: String, created_at_ms: i64, version: u64) -> Result<Plan> {
    let plan = Plan {
        id,
        name: input.name,
        description: input.description,
        stages: input.stages,
        throttle: input.throttle,
        route_throttles: input.route_throttles,
        quota: input.quota,
        max_connections: input.max_connections,
        on_store_error: input.on_store_error,
        created_at_ms,
        version,
    };
    plan.check().map_err(AdminError::BadRequest)?;
    Ok(plan)
}

/// Ids are part of store keys: letters, digits, `-` and `_`, at most 64.
fn check_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 64 || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_') {
        return Err(AdminError::BadRequest("an id is 1-64 letters, digits, '-' or '_'".into()));
    }
    Ok(())
}

fn sized<T: Serialize>(record: &T) -> Result<String> {
    let doc = encode(record)?;
    if doc.len() > MAX_RECORD_BYTES {
        return Err(AdminError::BadRequest(format!(
            "the record would be {} bytes; records stay under {MAX_RECORD_BYTES} (shorten names, descriptions or tags)",
            doc.len()
        )));
    }
    Ok(doc)
}

#[cfg(test)]
mod tests {
    use chrono::NaiveDate;

    use super::{Admin, PlanInput};
    use crate::{
        store::embedded::EmbeddedStore,
        usage::{Period, Quota},
    };

    /// Found writing the `admin` fuzz target (and confirmed through it): a report ending on the last day chrono
    /// knows panicked stepping past it, and a weekly plan's report from the first day panicked looking for
    /// that week's Monday.
    #[test]
    fn reports_at_the_ends_of_the_calendar_are_answered() {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let store = EmbeddedStore::in_memory();
        let admin = Admin::new(&store, 1_700_000_000_000);
        rt.block_on(async {
            let quota = Some(Quota { limit: 5, period: Period::Week, offset: 0 });
            let plan = PlanInput { id: Some("w".into()), name: "w".into(), quota, ..PlanInput::default() };
            admin.create_plan(plan).await.expect("plan");
            let last = admin.usage("w", NaiveDate::MAX, NaiveDate::MAX, Some("k")).await.expect("a report");
            assert_eq!(last.values["k"], [(0, Some(5))]);
            let first = admin.usage("w", NaiveDate::MIN, NaiveDate::MIN, Some("k")).await.expect("a report");
            assert_eq!(first.values["k"].len(), 1);
        });
    }

    /// Found while reviewing the `admin` fuzz target's reach: a grant as large as a quota counter holds
    /// overflowed the counter (a panic with overflow checks, a negative "remaining" without), and so did the
    /// report of a plan whose limit is that large.
    #[test]
    fn grants_and_reports_saturate_instead_of_overflowing() {
        let rt = tokio::runtime::Builder::new_current_thread().build().expect("runtime");
        let store = EmbeddedStore::in_memory();
        let now = 1_700_000_000_000;
        let admin = Admin::new(&store, now);
        rt.block_on(async {
            let quota = Some(Quota { limit: u64::MAX, period: Period::Day, offset: 0 });
            let plan = PlanInput { id: Some("big".into()), name: "big".into(), quota, ..PlanInput::default() };
            admin.create_plan(plan).await.expect("plan");
            let key = super::NewKey { name: "k".into(), plans: vec!["big".into()], ..super::NewKey::default() };
            let (key, _) = admin.create_key(key).await.expect("key");
            assert_eq!(admin.grant("big", &key.id, u64::MAX).await.expect("grant"), i64::MAX);
            assert_eq!(admin.grant("big", &key.id, 1).await.expect("again"), i64::MAX);
            let today = crate::usage::period::day_of(now);
            let report = admin.usage("big", today, today, None).await.expect("a report");
            assert_eq!(report.values[&key.id], [(0, Some(i64::MAX))]);
        });
    }
}
