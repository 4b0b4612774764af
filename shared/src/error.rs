//! The errors a request can end in, each carrying the answer API Gateway gives for it.
//!
//! Where REST and HTTP APIs differ, Tollgate picks one answer per case (`docs/api-gateway-differences.md` lists
//! each choice).
//! Bodies never carry internal detail: that goes to the access log, the client gets API Gateway's words.

use std::borrow::Cow;

use http::StatusCode;

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
    /// No route matched (HTTP API's answer; REST would say 403 Missing Authentication Token).
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

impl GatewayError {
    /// The HTTP status API Gateway answers with.
    pub fn status(&self) -> StatusCode {
        match self {
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
            Self::IntegrationTimeout(_) => StatusCode::GATEWAY_TIMEOUT,
            Self::IntegrationFailure(_) | Self::IntegrationUnreachable(_) => StatusCode::BAD_GATEWAY,
            Self::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `message` of the JSON body, in API Gateway's words.
    pub fn message(&self) -> Cow<'static, str> {
        Cow::Borrowed(match self {
            Self::PolicyDenied { arn, explicit } => {
                return Cow::Owned(format!(
                    "User: anonymous is not authorized to perform: execute-api:Invoke on resource: {arn}{}",
                    if *explicit { " with an explicit deny" } else { "" }
                ));
            }
            Self::Unauthorized { .. } => "Unauthorized",
            Self::InsufficientScope => "Forbidden",
            Self::AuthorizerDenied { explicit: true } => {
                "User is not authorized to access this resource with an explicit deny"
            }
            Self::AuthorizerDenied { explicit: false } => "User is not authorized to access this resource",
            Self::NotFound => "Not Found",
            Self::BadRequest(_) => "Bad Request",
            Self::RequestTooLarge(_) => "Request Too Long",
            Self::Forbidden(_) => "Forbidden",
            Self::Throttled(_) => "Too Many Requests",
            Self::QuotaExceeded(_) => "Limit Exceeded",
            Self::IntegrationTimeout(_) => "Endpoint request timed out",
            Self::IntegrationFailure(_)
            | Self::IntegrationUnreachable(_)
            | Self::Internal(_)
            | Self::AuthorizerFailure(_) => "Internal server error",
        })
    }

    /// The `x-amzn-ErrorType` header value.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::NotFound => "NotFoundException",
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
            Self::IntegrationTimeout(_) => "IntegrationTimeoutException",
            Self::IntegrationFailure(_) | Self::IntegrationUnreachable(_) | Self::Internal(_) => {
                "InternalServerErrorException"
            }
        }
    }
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
