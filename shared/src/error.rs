//! The errors a request can end in, each carrying the answer API Gateway gives for it in each API type (REST
//! and HTTP APIs answer the same fault differently; `docs/api-gateway-differences.md` lists both).
//! Bodies never carry internal detail: that goes to the access log, the client gets API Gateway's words.

use std::borrow::Cow;

use http::StatusCode;

use crate::request::ApiType;

/// What the `RateLimit-*` and `Retry-After` headers say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub limit: u64,
    pub remaining: u64,
    /// Seconds until the limit resets (a token conforms again, or the quota period ends).
    pub reset_secs: u64,
}

/// Why a request did not reach a normal integration response.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// No route matched: an HTTP API's 404, a REST API's 403 "Missing Authentication Token".
    #[error("no route matches the request")]
    NotFound,
    /// The request itself is malformed: bad percent-encoding, bad base64 body, bad header.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// Body over 10 MB, headers over 10 240 bytes, or a Lambda payload over 6 MB.
    #[error("request too large: {0}")]
    RequestTooLarge(String),
    /// Missing, unknown, disabled or expired API key, or none of its plans covers the stage. The reason is for
    /// the log; the client only hears "Forbidden", as from API Gateway.
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    /// No credential, or an invalid one. `challenge` is the `WWW-Authenticate` value (JWT authorizers).
    #[error("unauthorized: {detail}")]
    Unauthorized { challenge: Option<String>, detail: String },
    /// A valid JWT without any of the route's scopes.
    #[error("the token has none of the route's scopes")]
    InsufficientScope,
    /// A Lambda authorizer's policy does not allow the method ARN.
    #[error("authorizer policy denies ({})", if *explicit { "explicit" } else { "implicit" })]
    AuthorizerDenied { explicit: bool },
    /// A Lambda authorizer failed, timed out, or answered something unreadable.
    #[error("authorizer failure: {0}")]
    AuthorizerFailure(String),
    /// The resource policy refuses the source IP.
    #[error("resource policy denies {arn}")]
    PolicyDenied { arn: String, explicit: bool },
    /// A throttle refused the request.
    #[error("throttled")]
    Throttled(RateLimit),
    /// The key's quota for the period is spent.
    #[error("quota exceeded")]
    QuotaExceeded(RateLimit),
    /// The integration did not answer within its timeout.
    #[error("integration timed out after {0} ms")]
    IntegrationTimeout(u64),
    /// The integration answered, but with a function error or a reply API Gateway cannot map.
    #[error("integration failed: {0}")]
    IntegrationFailure(String),
    /// The integration could not be reached at all (connection refused, DNS, TLS).
    #[error("integration unreachable: {0}")]
    IntegrationUnreachable(String),
    /// A fault of Tollgate's own or of its configuration found only at request time.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The answer an error gets from the API type it happens in: status, `x-amzn-ErrorType` (REST APIs only; HTTP
/// APIs send none) and the JSON body, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAnswer {
    pub status: StatusCode,
    pub error_type: Option<&'static str>,
    pub body: String,
}

impl GatewayError {
    /// API Gateway's answer for this error in an API of type `api`.
    pub fn answer(&self, api: ApiType) -> ErrorAnswer {
        let status = self.status(api);
        let body = match (api, self) {
            // REST keeps an authorizer's own words, under a capitalised key; a broken one says nothing.
            (ApiType::Rest, Self::AuthorizerDenied { .. }) => json_object("Message", Some(&self.message(api)), false),
            (ApiType::Rest, Self::AuthorizerFailure(_)) => json_object("message", None, false),
            // REST's 5xx bodies have a space after the colon; its 4xx bodies and HTTP APIs' have none.
            (ApiType::Rest, _) => json_object("message", Some(&self.message(api)), status.is_server_error()),
            (ApiType::Http, _) => json_object("message", Some(&self.message(api)), false),
        };
        let error_type = (api == ApiType::Rest).then(|| self.error_type());
        ErrorAnswer { status, error_type, body }
    }

    /// The HTTP status API Gateway answers with.
    pub fn status(&self, api: ApiType) -> StatusCode {
        let rest = api == ApiType::Rest;
        match self {
            Self::NotFound if rest => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_) => StatusCode::BAD_REQUEST,
            Self::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Forbidden(_)
            | Self::InsufficientScope
            | Self::AuthorizerDenied { .. }
            | Self::PolicyDenied { .. } => StatusCode::FORBIDDEN,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::AuthorizerFailure(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Throttled(_) | Self::QuotaExceeded(_) => StatusCode::TOO_MANY_REQUESTS,
            Self::IntegrationTimeout(_) if rest => StatusCode::GATEWAY_TIMEOUT,
            Self::IntegrationTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::IntegrationFailure(_) | Self::IntegrationUnreachable(_) if rest => StatusCode::BAD_GATEWAY,
            Self::IntegrationFailure(_) | Self::IntegrationUnreachable(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `message` of the JSON body, in API Gateway's words.
    pub fn message(&self, api: ApiType) -> Cow<'static, str> {
        let rest = api == ApiType::Rest;
        Cow::Borrowed(match self {
            Self::PolicyDenied { arn, explicit } => {
                return Cow::Owned(format!(
                    "User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn}{}",
                    if *explicit { " with an explicit deny" } else { "" }
                ));
            }
            Self::Unauthorized { .. } => "Unauthorized",
            Self::InsufficientScope => "Forbidden",
            Self::AuthorizerDenied { explicit: true } if rest => {
                "User is not authorized to access this resource with an explicit deny"
            }
            Self::AuthorizerDenied { .. } if rest => "User is not authorized to access this resource",
            Self::AuthorizerDenied { .. } => "Forbidden",
            Self::NotFound if rest => "Missing Authentication Token",
            Self::NotFound => "Not Found",
            Self::BadRequest(_) => "Bad Request",
            Self::RequestTooLarge(_) => "Request Too Long",
            Self::Forbidden(_) => "Forbidden",
            Self::Throttled(_) => "Too Many Requests",
            Self::QuotaExceeded(_) => "Limit Exceeded",
            Self::IntegrationTimeout(_) if rest => "Endpoint request timed out",
            Self::IntegrationTimeout(_) => "Service Unavailable",
            Self::IntegrationFailure(_)
            | Self::IntegrationUnreachable(_)
            | Self::Internal(_)
            | Self::AuthorizerFailure(_)
                if rest =>
            {
                "Internal server error"
            }
            Self::IntegrationFailure(_)
            | Self::IntegrationUnreachable(_)
            | Self::Internal(_)
            | Self::AuthorizerFailure(_) => "Internal Server Error",
        })
    }

    /// The `x-amzn-ErrorType` a REST API sends with the answer.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::NotFound => "MissingAuthenticationTokenException",
            Self::BadRequest(_) => "BadRequestException",
            Self::RequestTooLarge(_) => "RequestEntityTooLargeException",
            Self::Forbidden(_) => "ForbiddenException",
            Self::Unauthorized { .. } => "UnauthorizedException",
            Self::InsufficientScope | Self::AuthorizerDenied { .. } | Self::PolicyDenied { .. } => {
                "AccessDeniedException"
            }
            Self::AuthorizerFailure(_) => "AuthorizerConfigurationException",
            Self::Throttled(_) => "TooManyRequestsException",
            Self::QuotaExceeded(_) => "LimitExceededException",
            Self::IntegrationTimeout(_)
            | Self::IntegrationFailure(_)
            | Self::IntegrationUnreachable(_)
            | Self::Internal(_) => "InternalServerErrorException",
        }
    }
}

/// `{"key":"value"}`, `{"key": "value"}` with `spaced`, or `{"key":null}`; the value JSON-escaped.
fn json_object(key: &str, value: Option<&str>, spaced: bool) -> String {
    let value = value.map_or_else(|| "null".to_owned(), |v| serde_json::Value::from(v).to_string());
    format!("{{\"{key}\":{}{value}}}", if spaced { " " } else { "" })
}

impl GatewayError {
    /// The `WWW-Authenticate` value a JWT refusal carries.
    pub fn challenge(&self) -> Option<&str> {
        match self {
            Self::Unauthorized { challenge, .. } => challenge.as_deref(),
            Self::InsufficientScope => Some(r#"Bearer error="insufficient_scope""#),
            _ => None,
        }
    }

    /// The rate-limit facts a 429 carries.
    pub fn rate_limit(&self) -> Option<RateLimit> {
        match self {
            Self::Throttled(r) | Self::QuotaExceeded(r) => Some(*r),
            _ => None,
        }
    }
}
