//! Usage plans and API keys as records: keys (this file), key values and their hashes, plans with their
//! throttles and quotas, and quota periods. What enforces them per request is `metering`; what edits them is
//! `admin`.

pub mod key_value;
pub mod period;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use key_value::KeyHash;
pub use period::Period;

/// An API key's record. The key's value is never stored: only hashes of its values (see [`KeyHash`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    pub enabled: bool,
    /// After this instant (ms since the epoch) the key is refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at_ms: Option<i64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub tags: BTreeMap<String, String>,
    /// Usage plans the key belongs to (at most one per stage; checked when associating).
    #[serde(default)]
    pub plans: Vec<String>,
    pub created_at_ms: i64,
    /// The hashes of the values that open this key; a rolled-away value keeps working until its `not_after`.
    #[serde(default)]
    pub values: Vec<KeyValueRef>,
    /// Bumped on every write; writes are conditional on it, so two admins cannot lose each other's change.
    #[serde(default)]
    pub version: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyValueRef {
    pub hash: KeyHash,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_after_ms: Option<i64>,
}

impl ApiKey {
    /// Whether the key may be used at `now_ms` (enabled, not expired).
    pub fn usable_at(&self, now_ms: i64) -> bool {
        self.enabled && self.expires_at_ms.is_none_or(|at| now_ms < at)
    }
}

/// A token bucket: `rate_limit` tokens per second refill a bucket of `burst_limit`; one token per request.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Throttle {
    pub rate_limit: f64,
    pub burst_limit: u32,
}

impl Throttle {
    pub fn check(&self) -> Result<(), String> {
        if !(self.rate_limit.is_finite() && self.rate_limit > 0.0 && self.rate_limit <= 1_000_000.0) {
            return Err(format!("rateLimit {} must be above 0 and at most 1000000", self.rate_limit));
        }
        if self.burst_limit == 0 {
            return Err("burstLimit must be at least 1".to_owned());
        }
        Ok(())
    }
}

/// How many requests a key may make per period.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Quota {
    pub limit: u64,
    pub period: Period,
    /// Requests subtracted from the limit in the plan's first period (API Gateway's `offset`).
    #[serde(default)]
    pub offset: u64,
}

/// What the meter does when the store cannot be reached or is throttling.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum FailMode {
    /// Serve the request unmetered, log it, and charge it to the quota once the store answers again
    /// (API Gateway's behaviour).
    #[default]
    Open,
    /// Refuse with API Gateway's 500 `{"message":"Internal server error"}`.
    Closed,
}

/// A usage plan.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Plan {
    pub id: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Stages of the API the plan applies to.
    #[serde(default)]
    pub stages: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub throttle: Option<Throttle>,
    /// Per-route throttles for keys of this plan, by route key (`GET /pets/{id}`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub route_throttles: BTreeMap<String, Throttle>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota: Option<Quota>,
    /// WebSocket APIs: how many connections one key of the plan may hold open at once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_connections: Option<u32>,
    #[serde(default)]
    pub on_store_error: FailMode,
    pub created_at_ms: i64,
    #[serde(default)]
    pub version: u64,
}

/// The most connections a plan may let one key hold (its slots are one DynamoDB item, under 400 KB).
pub const MAX_CONNECTIONS_PER_KEY: u32 = 10_000;

/// API Gateway's limit: at most 20 per-route throttles per plan and stage.
pub const MAX_ROUTE_THROTTLES: usize = 20;

impl Plan {
    /// A period's allowance: the limit, less the offset in the plan's first period. `None`: no quota.
    pub fn allowance(&self, period_start: chrono::NaiveDate) -> Option<u64> {
        let quota = self.quota?;
        let first = quota.period.start_of(period::day_of(self.created_at_ms));
        Some(if period_start == first { quota.limit - quota.offset } else { quota.limit })
    }

    pub fn check(&self) -> Result<(), String> {
        check_name(&self.name)?;
        if let Some(t) = &self.throttle {
            t.check()?;
        }
        if self.route_throttles.len() > MAX_ROUTE_THROTTLES {
            return Err(format!("at most {MAX_ROUTE_THROTTLES} route throttles"));
        }
        for (route, t) in &self.route_throttles {
            // An HTTP route key (`GET /pets`), or a WebSocket one (an action name, `$default`).
            if route.contains(' ') {
                crate::route_key::RouteKey::parse(route).map_err(|e| format!("route throttle {route:?}: {e}"))?;
            } else if route.is_empty() || route.len() > 128 || route.chars().any(char::is_control) {
                return Err(format!("route throttle {route:?}: a WebSocket route key is 1-128 printable characters"));
            }
            t.check().map_err(|e| format!("route throttle {route:?}: {e}"))?;
        }
        if let Some(q) = &self.quota {
            if q.limit == 0 {
                return Err("quota limit must be at least 1".to_owned());
            }
            if q.offset >= q.limit {
                return Err("quota offset must be below the limit".to_owned());
            }
        }
        if self.max_connections.is_some_and(|m| !(1..=MAX_CONNECTIONS_PER_KEY).contains(&m)) {
            return Err(format!("maxConnections must be 1-{MAX_CONNECTIONS_PER_KEY}"));
        }
        for stage in &self.stages {
            if stage.is_empty() || stage.len() > 128 {
                return Err(format!("stage name {stage:?} must be 1-128 characters"));
            }
        }
        Ok(())
    }
}

pub(crate) fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() || name.chars().count() > 128 {
        return Err("name must be 1-128 characters".to_owned());
    }
    Ok(())
}

/// A record's id: 10 characters of lowercase letters and digits, like API Gateway's.
pub fn new_id() -> String {
    const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = key_value::random_bytes::<10>();
    bytes.iter().map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char).collect()
}
