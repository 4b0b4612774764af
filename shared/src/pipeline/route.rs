//! Stage 2, route: selects the route (see `route_table`) and decodes its path parameters.

use std::sync::Arc;

use super::{Exchange, SyncStage};
use crate::{
    config::RouteSpec,
    error::GatewayError,
    request::Matched,
    route_table::{RouteTable, RouteTableError},
};

pub(super) struct MatchRoute {
    table: RouteTable,
    /// Per route, in definition order: its key as written, shared with every request that matches it.
    keys: Vec<Arc<str>>,
}

impl MatchRoute {
    pub(super) fn new(routes: &[RouteSpec]) -> Result<Self, RouteTableError> {
        Ok(Self {
            table: RouteTable::new(routes)?,
            keys: routes.iter().map(|r| Arc::from(r.key_text.as_str())).collect(),
        })
    }
}

impl SyncStage for MatchRoute {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let found = self.table.find(&ex.request.method, &ex.request.raw_path).ok_or(GatewayError::NotFound)?;
        let mut params = Vec::with_capacity(found.params.len());
        for (name, raw) in found.params {
            // API Gateway hands integrations decoded parameters.
            let value = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| GatewayError::BadRequest(format!("path parameter {name} is not UTF-8 once decoded")))?;
            params.push((name.to_owned(), value.into_owned()));
        }
        let key = Arc::clone(&self.keys[found.route]);
        ex.route = Some(Matched { route: found.route, key, params });
        Ok(())
    }
}
