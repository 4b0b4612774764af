//! Stage 13, respond: turns what the exchange holds into the response the client gets, in the API type's
//! answer. An error becomes API Gateway's JSON body (REST APIs add `x-amzn-ErrorType`). A REST API's responses
//! carry `x-amzn-RequestId`, `x-amz-apigw-id` and `X-Amzn-Trace-Id`, and `Content-Type: application/json` when
//! the integration gave none; an HTTP API's carry `apigw-requestid`. Rate-limit and `WWW-Authenticate` headers
//! go on as the error or the metering says; `gatewayResponses` customise errors' answers (`gateway_responses.rs`).

use http::{HeaderMap, HeaderName, HeaderValue, header};

use super::{Exchange, SyncStage, gateway_responses::Customise};
use crate::{
    error::{GatewayError, RateLimit},
    event::body::is_text_media_type,
    request::{ApiType, GatewayRequest, GatewayResponse},
};

/// Header names, parsed once rather than per response.
const X_AMZN_REQUESTID: HeaderName = HeaderName::from_static("x-amzn-requestid");
const X_AMZ_APIGW_ID: HeaderName = HeaderName::from_static("x-amz-apigw-id");
const X_AMZN_TRACE_ID: HeaderName = HeaderName::from_static("x-amzn-trace-id");
const X_AMZN_ERRORTYPE: HeaderName = HeaderName::from_static("x-amzn-errortype");
const APIGW_REQUESTID: HeaderName = HeaderName::from_static("apigw-requestid");

pub(super) struct Respond {
    pub(super) api: ApiType,
    /// The definition's `gatewayResponses`.
    pub(super) customise: Customise,
}

impl SyncStage for Respond {
    fn run(&self, ex: &mut Exchange) -> Result<(), GatewayError> {
        let mut response = match ex.response.take() {
            Some(response) if ex.error.is_none() && !fits_in_lambda_reply(&response) => {
                let why = format!("a response body of {} bytes does not fit Lambda's 6 MB reply", response.body.len());
                ex.error = Some(GatewayError::IntegrationFailure(why));
                None
            }
            response => response.filter(|_| ex.error.is_none()),
        };
        // Every path sets a response or an error; answer as for an internal fault if not.
        if response.is_none() && ex.error.is_none() {
            ex.error = Some(GatewayError::Internal("no response".into()));
        }
        if let Some(error) = &ex.error {
            let mut answer = error_response(error, self.api);
            self.customise.apply(error, ex, &mut answer);
            response = Some(answer);
        }
        let Some(mut response) = response else { return Ok(()) };
        if let Some(limit) = ex.rate_limit.filter(|_| ex.error.is_none()) {
            rate_limit_headers(&mut response.headers, limit);
        }
        identify(&mut response.headers, &ex.request, self.api);
        ex.response = Some(response);
        Ok(())
    }
}

/// Lambda's limit on what a function returns: the router's reply, the rendered response included, must fit.
pub const MAX_REPLY_BYTES: usize = 6 * 1024 * 1024;

/// Whether `response`, rendered into a reply event (JSON-escaped text or base64), stays under
/// [`MAX_REPLY_BYTES`]. A larger reply would fail the invocation and the Function URL would answer its own 502,
/// so the gateway answers as for a failed integration instead (`docs/api-gateway-differences.md`).
fn fits_in_lambda_reply(response: &GatewayResponse) -> bool {
    // Room for the envelope and the headers; no escape can grow a body under 1 MB past the limit.
    const ENVELOPE: usize = 64 * 1024;
    let body = &response.body;
    if body.len() <= 1024 * 1024 {
        return true;
    }
    let content_type = response.headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let encoded = if is_text_media_type(content_type) && std::str::from_utf8(body).is_ok() {
        // JSON escapes: two bytes for a quote or backslash, six for a control character.
        body.iter()
            .map(|&b| {
                if b == b'"' || b == b'\\' {
                    2
                } else if b < 0x20 {
                    6
                } else {
                    1
                }
            })
            .sum()
    } else {
        body.len().div_ceil(3) * 4
    };
    encoded + ENVELOPE <= MAX_REPLY_BYTES
}

/// The ids a response of the API type carries, and a REST API's default content type.
pub fn identify(headers: &mut HeaderMap, request: &GatewayRequest, api: ApiType) {
    let Ok(id) = HeaderValue::try_from(request.request_id.as_str()) else { return };
    match api {
        ApiType::Http => {
            headers.insert(APIGW_REQUESTID, id);
        }
        ApiType::Rest => {
            headers.insert(X_AMZN_REQUESTID, id);
            if let Ok(extended) = HeaderValue::try_from(request.extended_request_id()) {
                headers.insert(X_AMZ_APIGW_ID, extended);
            }
            if let Some(trace) = request.headers.get(&X_AMZN_TRACE_ID) {
                headers.insert(X_AMZN_TRACE_ID, trace.clone());
            }
            if !headers.contains_key(header::CONTENT_TYPE) {
                headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
            }
        }
    }
}

/// API Gateway's answer for an error in an API of type `api`: status, JSON body, and for REST `x-amzn-ErrorType`.
pub fn error_response(error: &GatewayError, api: ApiType) -> GatewayResponse {
    let answer = error.answer(api);
    let mut headers = HeaderMap::new();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(answer.content_type));
    if let Some(kind) = answer.error_type {
        headers.insert(X_AMZN_ERRORTYPE, HeaderValue::from_static(kind));
    }
    if let Some(challenge) = error.challenge().and_then(|c| HeaderValue::try_from(c).ok()) {
        headers.insert(header::WWW_AUTHENTICATE, challenge);
    }
    if let Some(limit) = error.rate_limit() {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(limit.reset_secs.max(1)));
        rate_limit_headers(&mut headers, limit);
    }
    GatewayResponse::new(answer.status, headers, answer.body)
}

/// The IETF `RateLimit-*` fields (draft-ietf-httpapi-ratelimit-headers), as separate headers.
fn rate_limit_headers(headers: &mut HeaderMap, limit: RateLimit) {
    headers.insert("ratelimit-limit", HeaderValue::from(limit.limit));
    headers.insert("ratelimit-remaining", HeaderValue::from(limit.remaining));
    headers.insert("ratelimit-reset", HeaderValue::from(limit.reset_secs));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_api_type_answers_in_its_own_words() {
        let rest = |e: GatewayError| {
            let r = error_response(&e, ApiType::Rest);
            (
                r.status.as_u16(),
                String::from_utf8_lossy(&r.body).into_owned(),
                r.headers.get("x-amzn-errortype").cloned(),
            )
        };
        let http = |e: GatewayError| {
            let r = error_response(&e, ApiType::Http);
            (
                r.status.as_u16(),
                String::from_utf8_lossy(&r.body).into_owned(),
                r.headers.get("x-amzn-errortype").cloned(),
            )
        };
        let errortype = |s: &'static str| Some(HeaderValue::from_static(s));
        assert_eq!(http(GatewayError::NotFound), (404, r#"{"message":"Not Found"}"#.into(), None));
        assert_eq!(
            rest(GatewayError::NotFound),
            (
                403,
                r#"{"message":"Missing Authentication Token"}"#.into(),
                errortype("MissingAuthenticationTokenException")
            )
        );
        assert_eq!(
            http(GatewayError::IntegrationFailure("x".into())),
            (500, r#"{"message":"Internal Server Error"}"#.into(), None)
        );
        assert_eq!(
            rest(GatewayError::IntegrationFailure("x".into())),
            (502, r#"{"message": "Internal server error"}"#.into(), errortype("InternalServerErrorException"))
        );
        assert_eq!(
            http(GatewayError::IntegrationTimeout(30)),
            (503, r#"{"message":"Service Unavailable"}"#.into(), None)
        );
        assert_eq!(
            rest(GatewayError::IntegrationTimeout(30)),
            (504, r#"{"message": "Endpoint request timed out"}"#.into(), errortype("InternalServerErrorException"))
        );
        assert_eq!(
            rest(GatewayError::AuthorizerDenied { explicit: true }).1,
            r#"{"Message":"User is not authorized to access this resource with an explicit deny"}"#
        );
        assert_eq!(
            rest(GatewayError::AuthorizerDenied { explicit: false }).1,
            r#"{"Message":"User is not authorized to access this resource"}"#
        );
        assert_eq!(http(GatewayError::AuthorizerDenied { explicit: true }).1, r#"{"message":"Forbidden"}"#);
        assert_eq!(rest(GatewayError::AuthorizerFailure("x".into())).1, r#"{"message":null}"#);
        assert_eq!(http(GatewayError::AuthorizerFailure("x".into())).1, r#"{"message":"Internal Server Error"}"#);
        assert_eq!(rest(GatewayError::Forbidden("no key")).1, r#"{"message":"Forbidden"}"#, "4xx: no space");
    }

    #[test]
    fn replies_lambda_cannot_return_are_refused_by_their_encoded_size() {
        let response = |content_type: &'static str, body: Vec<u8>| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
            GatewayResponse::new(http::StatusCode::OK, headers, body)
        };
        let just_under = MAX_REPLY_BYTES - 100 * 1024;
        assert!(fits_in_lambda_reply(&response("text/plain", vec![b'a'; just_under])));
        // The same bytes, base64 in the reply, grow by a third.
        assert!(!fits_in_lambda_reply(&response("application/octet-stream", vec![b'a'; just_under])));
        assert!(fits_in_lambda_reply(&response(
            "application/octet-stream",
            vec![0; MAX_REPLY_BYTES / 4 * 3 - 100 * 1024]
        )));
        // Quotes are escaped: half as many of them fill the reply.
        assert!(!fits_in_lambda_reply(&response("application/json", vec![b'"'; just_under / 2 + 64 * 1024])));
        assert!(!fits_in_lambda_reply(&response("text/plain", vec![b'a'; MAX_REPLY_BYTES])));
    }
}
