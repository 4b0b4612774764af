//! Stage 2, route: selects the route (see `route_table`) and decodes its path parameters.

use super::{Exchange, Flow, Matched};
use crate::{config::RouteSpec, error::GatewayError, route_table::RouteTable};

pub(super) struct Route {
    table: RouteTable,
}

impl Route {
    pub(super) fn new(routes: &[RouteSpec]) -> Result<Self, crate::route_table::RouteTableError> {
        Ok(Self { table: RouteTable::new(routes)? })
    }

    pub(super) fn run(&self, ex: &mut Exchange) -> Result<Flow, GatewayError> {
        let found = self.table.find(&ex.request.method, &ex.request.raw_path).ok_or(GatewayError::NotFound)?;
        let mut params = Vec::with_capacity(found.params.len());
        for (name, raw) in found.params {
            // API Gateway hands integrations decoded parameters.
            let value = percent_encoding::percent_decode_str(raw)
                .decode_utf8()
                .map_err(|_| GatewayError::BadRequest(format!("path parameter {name} is not UTF-8 once decoded")))?;
            params.push((name.to_owned(), value.into_owned()));
        }
        ex.matched = Some(Matched { route: found.route, params });
        Ok(Flow::Continue)
    }
}
