//! Stages 10 and 12, the response cache (`cache/`), around the integration:
//! - lookup: after the caller is admitted and metered (a cached answer is still a metered request, and a refused
//!   caller never reads the cache), the route's cached answer if there is one. A client's `Cache-Control:
//!   max-age=0` refreshes the entry only when the caller may invalidate it; otherwise the stage's
//!   `unauthorizedCacheControl` decides (403, a `Warning`, or nothing). Concurrent misses for one key wait for
//!   the first; an entry past its TTL but within stale-while-revalidate is served while one request refreshes it.
//! - store: a 2xx answer of a cached route is kept, unless it is private (`Set-Cookie`, `Cache-Control: private`
//!   or `no-store`, `Vary: *`) or larger than `maxEntryBytes`. Its tags come from the backend's
//!   `X-Tollgate-Cache-Tags` header, which never reaches the client.
//!
//! Answers of cached stages say what happened: `X-Cache: Hit|Miss|Bypass`, and `Age` on hits.

use std::{sync::Arc, time::Duration};

use http::{HeaderName, HeaderValue, header};

use super::{Exchange, Stage};
use crate::{
    cache::{Claim, Entry, FillGuard, Lookup, ResponseCache, key::KeyParts},
    config::{
        Definition,
        caching::{CacheSpec, UnauthorizedRefresh},
    },
    error::GatewayError,
    request::{Authorized, header_has_token},
};

const X_CACHE: HeaderName = HeaderName::from_static("x-cache");
/// The backend names an answer's tags here (comma-separated); the gateway removes it.
pub const CACHE_TAGS: HeaderName = HeaderName::from_static("x-tollgate-cache-tags");
/// How long a request waits for another to fill the key it wants, before calling the backend itself.
const FOLLOW_WAIT: Duration = Duration::from_secs(30);

/// What the cache did for a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheStatus {
    Hit,
    Miss,
    Bypass,
}

impl CacheStatus {
    pub fn label(self) -> &'static str {
        match self {
            Self::Hit => "Hit",
            Self::Miss => "Miss",
            Self::Bypass => "Bypass",
        }
    }
}

/// The cache's part of the exchange.
pub struct CacheStep {
    pub status: CacheStatus,
    key: Option<String>,
    /// Held while this request fills the key.
    guard: Option<FillGuard>,
    /// The client asked for a refresh it may not make; the answer says so (`IgnoreWithWarning`).
    warn_refused_refresh: bool,
}

impl std::fmt::Debug for CacheStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CacheStep").field("status", &self.status).field("key", &self.key).finish()
    }
}

pub(super) struct CacheLookup {
    cache: Option<Arc<ResponseCache>>,
    stage: String,
    per_route: Vec<Option<CacheSpec>>,
}

impl CacheLookup {
    pub(super) fn new(definition: &Definition, cache: Option<Arc<ResponseCache>>) -> Self {
        Self {
            cache,
            stage: definition.stage.clone(),
            per_route: definition.routes.iter().map(|r| r.cache.clone()).collect(),
        }
    }
}

impl Stage for CacheLookup {
    async fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let Some(cache) = &self.cache else { return Ok(()) };
        let matched = ex.matched()?;
        let spec = self.per_route[matched.route].as_ref().filter(|s| s.methods.contains(&ex.request.method));
        let Some(spec) = spec else {
            ex.cache =
                Some(CacheStep { status: CacheStatus::Bypass, key: None, guard: None, warn_refused_refresh: false });
            return Ok(());
        };
        let key = self.key(spec, ex);
        let refresh = wants_refresh(&ex.request.headers);
        let may_refresh =
            !cache.settings.require_authorization || may_invalidate(ex, &cache.settings.invalidation_scopes);
        let mut step =
            CacheStep { status: CacheStatus::Miss, key: Some(key.clone()), guard: None, warn_refused_refresh: false };
        if refresh && !may_refresh {
            match cache.settings.unauthorized {
                UnauthorizedRefresh::FailWith403 => {
                    return Err(GatewayError::Forbidden(
                        "Cache-Control: max-age=0 from a caller that may not invalidate",
                    ));
                }
                UnauthorizedRefresh::IgnoreWithWarning => step.warn_refused_refresh = true,
                UnauthorizedRefresh::Ignore => {}
            }
        }
        if !(refresh && may_refresh) {
            match cache.lookup(&key).await.0 {
                Lookup::Hit { entry, age_secs } => return answer(ex, step, &entry, age_secs, false),
                Lookup::Stale { entry, age_secs } => match cache.claim(&key) {
                    // One request refreshes; everyone else gets the stale answer meanwhile.
                    Claim::Leader(guard) => step.guard = Some(guard),
                    Claim::Follower(_) => return answer(ex, step, &entry, age_secs, true),
                },
                Lookup::Miss => match cache.claim(&key) {
                    Claim::Leader(guard) => step.guard = Some(guard),
                    Claim::Follower(mut done) => {
                        // Until the leader's guard goes (its answer stored, or not), then look once more.
                        let _ = tokio::time::timeout(FOLLOW_WAIT, done.changed()).await;
                        if let Lookup::Hit { entry, age_secs } | Lookup::Stale { entry, age_secs } =
                            cache.lookup(&key).await.0
                        {
                            return answer(ex, step, &entry, age_secs, false);
                        }
                    }
                },
            }
        } else if let Claim::Leader(guard) = cache.claim(&key) {
            step.guard = Some(guard);
        }
        ex.cache = Some(step);
        Ok(())
    }
}

impl CacheLookup {
    fn key(&self, spec: &CacheSpec, ex: &Exchange) -> String {
        let request = &ex.request;
        let route = ex.route.as_ref();
        let query: Vec<(&str, Vec<String>)> = spec
            .key_query_strings
            .iter()
            .map(|name| {
                let values = form_urlencoded::parse(request.raw_query.as_bytes())
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v.into_owned())
                    .collect();
                (name.as_str(), values)
            })
            .collect();
        let headers = spec
            .key_headers
            .iter()
            .map(|name| (name.as_str(), request.headers.get_all(name).iter().filter_map(|v| v.to_str().ok()).collect()))
            .collect();
        let caller = (!spec.shared).then(|| caller(ex)).flatten();
        KeyParts {
            stage: &self.stage,
            route: route.map_or("", |m| &*m.key),
            method: request.method.as_str(),
            path_params: route
                .map(|m| m.params.iter().map(|(n, v)| (n.as_str(), v.as_str())).collect())
                .unwrap_or_default(),
            query,
            headers,
            caller,
        }
        .key()
    }
}

/// Who is asking, as every way the request was authenticated names them.
fn caller(ex: &Exchange) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(caller) = &ex.caller {
        parts.push(format!("key:{}", caller.key.id));
    }
    match &ex.authorized {
        Some(Authorized::Jwt { claims, .. }) => {
            parts.push(format!("sub:{}", claims.get("sub").and_then(|v| v.as_str()).unwrap_or("")));
        }
        Some(Authorized::Lambda { principal_id, .. }) => {
            parts.push(format!("principal:{}", principal_id.as_deref().unwrap_or("")));
        }
        None => {}
    }
    (!parts.is_empty()).then(|| parts.join("\n"))
}

/// `Cache-Control: max-age=0` or `no-cache` from the client.
fn wants_refresh(headers: &http::HeaderMap) -> bool {
    header_has_token(headers, &header::CACHE_CONTROL, &["no-cache", "max-age=0"])
}

/// Whether the caller may refresh entries: a JWT with one of the stage's invalidation scopes, or a Lambda
/// authorizer whose context says `invalidateCache: true`.
fn may_invalidate(ex: &Exchange, scopes: &[String]) -> bool {
    match &ex.authorized {
        Some(Authorized::Jwt { scopes: held, .. }) => held.iter().any(|s| scopes.contains(s)),
        Some(Authorized::Lambda { context, .. }) => {
            matches!(context.get("invalidateCache"), Some(serde_json::Value::Bool(true)))
                || context.get("invalidateCache").and_then(|v| v.as_str()) == Some("true")
        }
        None => false,
    }
}

/// Answers from the cache.
fn answer(
    ex: &mut Exchange,
    mut step: CacheStep,
    entry: &Entry,
    age_secs: u64,
    stale: bool,
) -> Result<(), GatewayError> {
    let mut response = entry.response();
    response.headers.insert(header::AGE, HeaderValue::from(age_secs));
    if stale {
        response.headers.append(header::WARNING, HeaderValue::from_static("110 - \"Response is Stale\""));
    }
    step.status = CacheStatus::Hit;
    ex.response = Some(response);
    ex.cache = Some(step);
    Ok(())
}

/// Stage 12: keeps what the backend answered, and says what the cache did.
pub(super) struct CacheStore {
    pub(super) cache: Option<Arc<ResponseCache>>,
    pub(super) per_route: Vec<Option<CacheSpec>>,
}

impl Stage for CacheStore {
    async fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let tags = ex.response.as_mut().and_then(|r| r.headers.remove(CACHE_TAGS));
        let (Some(cache), Some(step)) = (&self.cache, ex.cache.as_mut()) else { return Ok(()) };
        let Some(response) = ex.response.as_mut() else { return Ok(()) };
        if let (Some(key), Some(guard)) = (step.key.as_deref(), step.guard.take()) {
            let spec = ex.route.as_ref().and_then(|m| self.per_route[m.route].as_ref());
            if let Some(spec) = spec.filter(|_| storable(response, cache.settings.max_entry_bytes)) {
                let tags = tags.and_then(|t| t.to_str().ok().map(str::to_owned)).unwrap_or_default();
                let tags = tags.split(',').map(str::trim).filter(|t| !t.is_empty()).map(str::to_owned).collect();
                cache.store(key, Entry::of(response), spec.ttl, tags).await;
            }
            drop(guard);
        }
        response.headers.insert(X_CACHE, HeaderValue::from_static(step.status.label()));
        if step.warn_refused_refresh {
            response.headers.append(
                header::WARNING,
                HeaderValue::from_static("199 - \"Cache-Control ignored: the caller may not invalidate the cache\""),
            );
        }
        Ok(())
    }
}

/// Whether an answer may be kept for others (or later): a 2xx, not private, not too large.
fn storable(response: &crate::request::GatewayResponse, max_bytes: usize) -> bool {
    let headers = &response.headers;
    let private = headers.contains_key(header::SET_COOKIE)
        || header_has_token(headers, &header::CACHE_CONTROL, &["private", "no-store"])
        || header_has_token(headers, &header::VARY, &["*"]);
    response.status.is_success() && !private && response.body.len() <= max_bytes
}
