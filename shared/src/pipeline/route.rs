//! Stage 2, route: selects the route (see `route_table`) and gives its path parameters.
//!
//! Routes are matched on the decoded path, so a static segment matches however the client encoded it
//! (`/users/%40me` is `GET /users/@me`). Only `%2F` and `%25` stay encoded while matching, so an encoded slash
//! never splits a segment; parameters are then decoded whole. A path the front door decoded already (an HTTP
//! API's) is not decoded again. A REST API also matches a path with a trailing slash to the route without it.

use std::{borrow::Cow, sync::Arc};

use percent_encoding::percent_decode_str;

use super::{Exchange, SyncStage};
use crate::{
    config::{RouteSpec, Segment},
    error::GatewayError,
    request::{ApiType, Matched},
    route_key::RouteKey,
    route_table::{RouteTable, RouteTableError},
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

impl SyncStage for MatchRoute {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let request = &ex.request;
        let decoded = request.path_decoded;
        let path = if decoded { Cow::Borrowed(request.raw_path.as_str()) } else { matching_path(&request.raw_path)? };
        let method = &request.method;
        let found = self.table.find(method, &path).or_else(|| {
            // REST: `/pets/` is `GET /pets`.
            let trimmed = path.strip_suffix('/').filter(|p| self.api == ApiType::Rest && !p.is_empty())?;
            self.table.find(method, trimmed)
        });
        let found = found.ok_or(GatewayError::NotFound)?;
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
        // The same parameters as the client sent them (a REST API's events carry these).
        let segments: Vec<&str> = request.raw_path.split('/').skip(1).collect();
        let raw_params = self.positions[found.route]
            .iter()
            .map(|&(at, greedy)| match greedy {
                true => segments.get(at..).map(|s| s.join("/")).unwrap_or_default(),
                false => segments.get(at).map(|s| (*s).to_owned()).unwrap_or_default(),
            })
            .collect();
        let key = Arc::clone(&self.keys[found.route]);
        ex.route = Some(Matched { route: found.route, key, params, raw_params });
        Ok(())
    }
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
    use super::matching_path;

    #[test]
    fn matching_decodes_all_but_slashes_and_percents() {
        assert_eq!(matching_path("/users/%40me").expect("ok"), "/users/@me");
        assert_eq!(matching_path("/files/a%2Fb/c%2fd").expect("ok"), "/files/a%2Fb/c%2fd");
        assert_eq!(matching_path("/a%2540").expect("ok"), "/a%2540", "%25 stays, so %40 after it is not decoded twice");
        assert_eq!(matching_path("/caf%C3%A9%20au%20lait").expect("ok"), "/café au lait");
        assert!(matching_path("/pets/%FF%FE").is_err());
    }
}
