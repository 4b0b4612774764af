//! Response caching settings: the stage's `caching` section and a route's override, checked at load into one
//! [`CacheSpec`] per route. The cache itself is `cache/`; the pipeline's `cache` stage reads these.

use std::time::Duration;

use http::{HeaderName, Method};
use serde::Deserialize;

/// API Gateway's TTL range for cached responses, in seconds.
pub const MAX_TTL_SECS: u64 = 3600;
/// API Gateway's default TTL.
pub const DEFAULT_TTL_SECS: u64 = 300;
/// API Gateway caches responses up to about 1 MB.
pub const DEFAULT_MAX_ENTRY_BYTES: usize = 1024 * 1024;
/// Per-instance memory for cached responses, by default.
pub const DEFAULT_INSTANCE_BYTES: usize = 32 * 1024 * 1024;

/// What a client's `Cache-Control: max-age=0` gets when it may not refresh the entry (API Gateway's
/// `unauthorizedCacheControlHeaderStrategy`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum UnauthorizedRefresh {
    /// 403, as API Gateway's `FAIL_WITH_403`.
    #[serde(rename = "FAIL_WITH_403")]
    FailWith403,
    /// The cached answer, with a `Warning` header (API Gateway's `SUCCEED_WITH_RESPONSE_HEADER`, its default).
    #[default]
    #[serde(alias = "SUCCEED_WITH_RESPONSE_HEADER")]
    IgnoreWithWarning,
    /// The cached answer, silently (API Gateway's `SUCCEED_WITHOUT_RESPONSE_HEADER`).
    #[serde(alias = "SUCCEED_WITHOUT_RESPONSE_HEADER")]
    Ignore,
}

/// The stage's `caching` section.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct CachingFile {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default = "default_ttl")]
    pub ttl_seconds: u64,
    /// Methods whose responses are cached; GET by default, others opt in.
    #[serde(default = "default_methods")]
    pub methods: Vec<String>,
    /// Responses with larger bodies are not stored.
    #[serde(default = "default_max_entry")]
    pub max_entry_bytes: usize,
    /// Memory each router instance gives its own tier, by the bytes of what it holds; 0 turns the tier off.
    #[serde(default = "default_instance")]
    pub instance_bytes: usize,
    /// Whether entries are also kept in the store, for every instance to see (false: each instance caches
    /// alone, and caching costs no store operations).
    #[serde(default = "yes")]
    pub shared_tier: bool,
    /// How long past its TTL an entry is still served while one request refreshes it; 0: never.
    #[serde(default)]
    pub stale_while_revalidate_seconds: u64,
    /// A client's `Cache-Control: max-age=0` refreshes the entry only when the caller may invalidate it.
    #[serde(default = "yes")]
    pub require_authorization_for_cache_control: bool,
    #[serde(default)]
    pub unauthorized_cache_control: UnauthorizedRefresh,
    /// JWT scopes that allow a caller to refresh entries (a Lambda authorizer allows it with the context value
    /// `invalidateCache: true`).
    #[serde(default)]
    pub invalidation_scopes: Vec<String>,
}

/// A route's `caching` override: what it sets replaces the stage's.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RouteCachingFile {
    #[serde(default)]
    pub enabled: Option<bool>,
    #[serde(default)]
    pub ttl_seconds: Option<u64>,
    /// Query-string parameters that are part of the cache key.
    #[serde(default)]
    pub key_query_strings: Vec<String>,
    /// Request headers that are part of the cache key.
    #[serde(default)]
    pub key_headers: Vec<String>,
    /// Entries are shared by every caller. Without it the caller (API key, JWT `sub`, authorizer principal)
    /// is part of the key, so no caller can read another's answers.
    #[serde(default)]
    pub shared: bool,
}

/// The stage's cache, checked.
#[derive(Debug, Clone)]
pub struct StageCache {
    pub instance_bytes: usize,
    pub shared_tier: bool,
    pub max_entry_bytes: usize,
    pub stale_while_revalidate: Duration,
    pub require_authorization: bool,
    pub unauthorized: UnauthorizedRefresh,
    pub invalidation_scopes: Vec<String>,
}

/// How one route is cached.
#[derive(Debug, Clone)]
pub struct CacheSpec {
    pub ttl: Duration,
    pub methods: Vec<Method>,
    pub key_query_strings: Vec<String>,
    pub key_headers: Vec<HeaderName>,
    pub shared: bool,
}

impl StageCache {
    /// The stage's settings, when caching is on for the stage.
    pub fn compile(file: &CachingFile) -> Result<Self, String> {
        check_ttl(file.ttl_seconds)?;
        if file.max_entry_bytes == 0 {
            return Err("caching.maxEntryBytes must be at least 1 byte".to_owned());
        }
        if file.instance_bytes == 0 && !file.shared_tier {
            return Err("caching needs a tier: instanceBytes is 0 and sharedTier is false".to_owned());
        }
        if file.stale_while_revalidate_seconds > MAX_TTL_SECS {
            return Err(format!("caching.staleWhileRevalidateSeconds must be 0-{MAX_TTL_SECS}"));
        }
        methods(&file.methods)?;
        Ok(Self {
            instance_bytes: file.instance_bytes,
            shared_tier: file.shared_tier,
            max_entry_bytes: file.max_entry_bytes,
            stale_while_revalidate: Duration::from_secs(file.stale_while_revalidate_seconds),
            require_authorization: file.require_authorization_for_cache_control,
            unauthorized: file.unauthorized_cache_control,
            invalidation_scopes: file.invalidation_scopes.clone(),
        })
    }
}

impl CacheSpec {
    /// A route's cache: the stage's settings with the route's override; `None` when it is not cached.
    pub fn compile(stage: Option<&CachingFile>, route: Option<&RouteCachingFile>) -> Result<Option<Self>, String> {
        let enabled = route.and_then(|r| r.enabled).unwrap_or_else(|| stage.is_some_and(|s| s.enabled));
        if !enabled {
            return Ok(None);
        }
        let Some(stage) = stage else {
            return Err("caching needs the stage's caching section (its memory and limits)".to_owned());
        };
        let default = RouteCachingFile::default();
        let route = route.unwrap_or(&default);
        let ttl = route.ttl_seconds.unwrap_or(stage.ttl_seconds);
        check_ttl(ttl)?;
        let key_headers = route
            .key_headers
            .iter()
            .map(|h| {
                HeaderName::from_bytes(h.as_bytes())
                    .map_err(|_| format!("caching.keyHeaders: {h:?} is not a header name"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Some(Self {
            ttl: Duration::from_secs(ttl),
            methods: methods(&stage.methods)?,
            key_query_strings: route.key_query_strings.clone(),
            key_headers,
            shared: route.shared,
        }))
    }
}

fn check_ttl(ttl: u64) -> Result<(), String> {
    if ttl > MAX_TTL_SECS {
        return Err(format!("caching.ttlSeconds must be 0-{MAX_TTL_SECS}, not {ttl}"));
    }
    Ok(())
}

fn methods(list: &[String]) -> Result<Vec<Method>, String> {
    list.iter()
        .map(|m| match m.to_ascii_uppercase().as_str() {
            "GET" | "HEAD" | "POST" | "PUT" | "PATCH" | "DELETE" | "OPTIONS" => {
                Method::from_bytes(m.to_ascii_uppercase().as_bytes()).map_err(|e| e.to_string())
            }
            _ => Err(format!("caching.methods: {m:?} is not a method")),
        })
        .collect()
}

fn default_ttl() -> u64 {
    DEFAULT_TTL_SECS
}
fn default_methods() -> Vec<String> {
    vec!["GET".to_owned()]
}
fn default_max_entry() -> usize {
    DEFAULT_MAX_ENTRY_BYTES
}
fn default_instance() -> usize {
    DEFAULT_INSTANCE_BYTES
}
fn yes() -> bool {
    true
}
