//! Stage 3, route: selects the route (see `route_table`) and gives its path parameters.
//!
//! Routes are matched on the decoded path, so a static segment matches however the client encoded it
//! (`/users/%40me` is `GET /users/@me`). Only `%2F` and `%25` stay encoded while matching, so an encoded slash
//! never splits a segment; parameters are then decoded whole. A path the front door decoded already (an HTTP
//! API's) is not decoded again. A REST API also matches a path with a trailing slash to the route without it.

use std::{borrow::Cow, sync::Arc};

use http::Method;
use percent_encoding::percent_decode_str;

use super::{Exchange, SyncStage};
use crate::{
    config::{RouteSpec, Segment},
    error::GatewayError,
    request::{ApiType, GatewayRequest, Matched},
    route_key::RouteKey,
    route_table::{RouteMatch, RouteTable, RouteTableError},
};

pub(super) struct MatchRoute {
    table: RouteTable,
    api: ApiType,
    /// Per route, in definition order: its key as written, shared with every request that matches it.
    keys: Vec<Arc<str>>,
    /// Per route: where its parameters are, as (segment index, greedy).
    positions: Vec<Vec<(usize, bool)>>,
}

impl MatchRoute {
    pub(super) fn new(routes: &[RouteSpec], api: ApiType) -> Result<Self, RouteTableError> {
        let positions = routes
            .iter()
            .map(|r| match &r.key {
                RouteKey::Default => Vec::new(),
                RouteKey::Path { segments, .. } => segments
                    .iter()
                    .enumerate()
                    .filter_map(|(i, s)| match s {
                        Segment::Static(_) => None,
                        Segment::Param(_) => Some((i, false)),
                        Segment::Greedy(_) => Some((i, true)),
                    })
                    .collect(),
            })
            .collect();
        Ok(Self {
            table: RouteTable::new(routes)?,
            api,
            keys: routes.iter().map(|r| Arc::from(r.key_text.as_str())).collect(),
            positions,
        })
    }
}

impl MatchRoute {
    /// The route `request` would take if its method were `method` (a CORS preflight names the method of the
    /// request it prepares): the same rules as the stage, without its parameters.
    pub(super) fn route_for(&self, method: &Method, request: &GatewayRequest) -> Option<usize> {
        let path = matching_path_of(request).ok()?;
        self.find(method, &path).map(|found| found.route)
    }

    fn find<'a>(&'a self, method: &Method, path: &'a str) -> Option<RouteMatch<'a>> {
        self.table.find(method, path).or_else(|| {
            // REST: `/pets/` is `GET /pets`.
            let trimmed = path.strip_suffix('/').filter(|p| self.api == ApiType::Rest && !p.is_empty())?;
            self.table.find(method, trimmed)
        })
    }
}

/// The path routes are matched against, decoded unless the front door decoded it already.
fn matching_path_of(request: &GatewayRequest) -> Result<Cow<'_, str>, GatewayError> {
    if request.path_decoded { Ok(Cow::Borrowed(request.raw_path.as_str())) } else { matching_path(&request.raw_path) }
}

impl SyncStage for MatchRoute {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let request = &ex.request;
        let decoded = request.path_decoded;
        let path = matching_path_of(request)?;
        let found = self.find(&request.method, &path).ok_or(GatewayError::NotFound)?;
        let mut params = Vec::with_capacity(found.params.len());
        for (name, value) in &found.params {
            // API Gateway hands integrations decoded parameters.
            let value = if decoded {
                Cow::Borrowed(*value)
            } else {
                percent_decode_str(value)
                    .decode_utf8()
                    .map_err(|_| GatewayError::BadRequest(format!("path parameter {name} is not UTF-8 once decoded")))?
            };
            params.push(((*name).to_owned(), value.into_owned()));
        }
        // The same parameters as the client sent them: only a REST API's events carry these.
        let raw_params = match self.api {
            ApiType::Rest => as_sent(&request.raw_path, &self.positions[found.route]),
            ApiType::Http => Vec::new(),
        };
        let key = Arc::clone(&self.keys[found.route]);
        ex.route = Some(Matched { route: found.route, key, params, raw_params });
        Ok(())
    }
}

/// The segments of `raw_path` at `positions` (segment index, greedy), as the client encoded them; a greedy
/// one is the rest of the path.
fn as_sent(raw_path: &str, positions: &[(usize, bool)]) -> Vec<String> {
    let rest = raw_path.strip_prefix('/').unwrap_or(raw_path);
    // Segment `at` starts past the `at`-th slash.
    let start = |at: usize| match at {
        0 => Some(0),
        _ => rest.match_indices('/').nth(at - 1).map(|(i, _)| i + 1),
    };
    positions
        .iter()
        .map(|&(at, greedy)| {
            let tail = start(at).and_then(|i| rest.get(i..)).unwrap_or("");
            let value = if greedy { tail } else { tail.split('/').next().unwrap_or("") };
            value.to_owned()
        })
        .collect()
}

/// The path routes are matched against: percent-escapes decoded, but for `%2F` (a slash inside a segment)
/// and `%25` (a percent sign), which stay encoded until the parameters are decoded.
fn matching_path(raw: &str) -> Result<Cow<'_, str>, GatewayError> {
    if !raw.contains('%') {
        return Ok(Cow::Borrowed(raw));
    }
    let bytes = raw.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let escape = (bytes[i] == b'%').then(|| raw.get(i + 1..i + 3)).flatten();
        match escape.and_then(|hex| u8::from_str_radix(hex, 16).ok()) {
            Some(b'/' | b'%') | None => {
                out.push(bytes[i]);
                i += 1;
            }
            Some(byte) => {
                out.push(byte);
                i += 3;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| GatewayError::BadRequest(format!("path {raw:?} is not UTF-8 once decoded")))
}

#[cfg(test)]
mod tests {
    use super::{as_sent, matching_path};

    #[test]
    fn parameters_as_the_client_sent_them() {
        let positions = [(1, false), (3, true)];
        assert_eq!(as_sent("/pets/caf%C3%A9/files/a%2Fb/c", &positions), ["caf%C3%A9", "a%2Fb/c"]);
        assert_eq!(as_sent("/x", &[(0, false)]), ["x"]);
        assert_eq!(as_sent("/x", &[(2, false)]), [""], "no such segment");
    }

    #[test]
    fn matching_decodes_all_but_slashes_and_percents() {
        assert_eq!(matching_path("/users/%40me").expect("ok"), "/users/@me");
        assert_eq!(matching_path("/files/a%2Fb/c%2fd").expect("ok"), "/files/a%2Fb/c%2fd");
        assert_eq!(matching_path("/a%2540").expect("ok"), "/a%2540", "%25 stays, so %40 after it is not decoded twice");
        assert_eq!(matching_path("/caf%C3%A9%20au%20lait").expect("ok"), "/café au lait");
        assert!(matching_path("/pets/%FF%FE").is_err());
    }
}
