//! Stage 8, respond: turns what the exchange holds into the response the client gets. An error becomes API
//! Gateway's `{"message": ...}` body with `x-amzn-ErrorType`; every response carries the request id under both
//! names API Gateway uses (`x-amzn-RequestId` for REST, `apigw-requestid` for HTTP APIs).

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};

use super::{Exchange, SyncStage};
use crate::{
    error::{GatewayError, RateLimit},
    request::GatewayResponse,
};

/// The request id under REST's name and HTTP API's; parsed once, not per response.
const X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const APIGW_REQUESTID: HeaderName = HeaderName::from_static("apigw-requestid");

pub(super) struct Respond;

impl SyncStage for Respond {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let mut response = match (&ex.error, ex.response.take()) {
            (Some(error), _) => error_response(error),
            (None, Some(response)) => response,
            // Every path sets one or the other; answer as for an internal fault if not.
            (None, None) => GatewayResponse::new(StatusCode::INTERNAL_SERVER_ERROR, HeaderMap::new(), ""),
        };
        if let Some(limit) = ex.rate_limit.filter(|_| ex.error.is_none()) {
            rate_limit_headers(&mut response.headers, limit);
        }
        if let Ok(id) = HeaderValue::try_from(ex.request.request_id.as_str()) {
            response.headers.insert(X_AMZN_REQUESTID, id.clone());
            response.headers.insert(APIGW_REQUESTID, id);
        }
        ex.response = Some(response);
        Ok(())
    }
}

/// API Gateway's answer for an error: status, `{"message": "..."}`, `x-amzn-ErrorType`.
pub fn error_response(error: &GatewayError) -> GatewayResponse {
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    headers.insert("x-amzn-errortype", HeaderValue::from_static(error.error_type()));
    if let Some(challenge) = error.challenge().and_then(|c| HeaderValue::try_from(c).ok()) {
        headers.insert(header::WWW_AUTHENTICATE, challenge);
    }
    if let Some(limit) = error.rate_limit() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(limit.reset_secs.max(1)));
        rate_limit_headers(&mut headers, limit);
    }
    let body = serde_json::json!({ "message": error.message() }).to_string();
    GatewayResponse::new(error.status(), headers, body)
}

/// The IETF `RateLimit-*` fields (draft-ietf-httpapi-ratelimit-headers), as separate headers.
fn rate_limit_headers(headers: &mut HeaderMap, limit: RateLimit) {
    headers.insert("ratelimit-limit", HeaderValue::from(limit.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(limit.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(limit.reset_secs));
}
