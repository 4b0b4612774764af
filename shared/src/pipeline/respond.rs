//! Stage 4, respond: turns the outcome into the response the client gets. Errors become API Gateway's
//! `{"message": ...}` body with `x-amzn-ErrorType`; every response carries the request id under both names
//! API Gateway uses (`x-amzn-RequestId` for REST, `apigw-requestid` for HTTP APIs).

use http::{HeaderMap, HeaderValue, header};

use super::Exchange;
use crate::{error::GatewayError, request::GatewayResponse};

pub(super) fn shape(
    ex: &Exchange,
    outcome: Result<GatewayResponse, GatewayError>,
) -> (GatewayResponse, Option<GatewayError>) {
    let (mut response, error) = match outcome {
        Ok(response) => (response, None),
        Err(error) => (error_response(&error), Some(error)),
    };
    if let Ok(id) = HeaderValue::try_from(ex.request.request_id.as_str()) {
        response.headers.insert("x-amzn-requestid", id.clone());
        response.headers.insert("apigw-requestid", id);
    }
    (response, error)
}

/// API Gateway's answer for an error: status, `{"message": "..."}`, `x-amzn-ErrorType`.
pub fn error_response(error: &GatewayError) -> GatewayResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error.error_type()));
    let body = serde_json::json!({ "message": error.message() }).to_string();
    GatewayResponse::new(error.status(), headers, body)
}
