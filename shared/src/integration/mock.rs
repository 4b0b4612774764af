//! Mock integration: a fixed response, no backend.

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::request::GatewayResponse;

pub struct MockIntegration {
    response: GatewayResponse,
}

impl MockIntegration {
    pub fn new(status: StatusCode, headers: HeaderMap, body: Bytes) -> Self {
        Self { response: GatewayResponse::new(status, headers, body) }
    }

    pub fn call(&self) -> GatewayResponse {
        self.response.clone()
    }
}
