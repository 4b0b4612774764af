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
    /// The body cannot be read as its headers say (a compressed body that does not decompress).
    #[error("bad request body: {0}")]
    BadRequestBody(String),
    /// A required request parameter is missing or blank (REST's `BAD_REQUEST_PARAMETERS`).
    #[error("missing required request parameters: {}", .0.detail)]
    MissingParameters(Box<Invalid>),
    /// The body does not match its route's model, is not JSON, or is over the validation limits
    /// (`BAD_REQUEST_BODY`).
    #[error("invalid request body: {}", .0.detail)]
    InvalidBody(Box<Invalid>),
    /// The body is in an encoding the gateway cannot read (`Content-Encoding: br` without br support, `zstd`).
    #[error("unsupported media type: {0}")]
    UnsupportedMediaType(String),
    /// Body over 10 MB (compressed or once decompressed), headers over 10 240 bytes, or a Lambda payload over
    /// 6 MB.
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
    /// A client's `Cache-Control: max-age=0` from a caller that may not invalidate the cache, under
    /// `FAIL_WITH_403`.
    #[error("the caller may not invalidate the cache")]
    CacheRefreshDenied,
    /// WebSocket `$connect`: the key's plan caps its open connections, and all are taken.
    #[error("the key's connections are all taken")]
    ConnectionLimit,
    /// WebSocket `$connect`: the integration failed, so the handshake is refused (502, whatever the API type).
    #[error("$connect integration failed: {0}")]
    HandshakeFailed(String),
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
    /// A REST non-proxy integration needs the body as JSON and it is not: a request template reads it with
    /// `$input.json` or `$input.path`, or it would be a Lambda function's event. The parser's reason is told.
    #[error("the request body is not JSON: {0}")]
    BodyNotJson(String),
    /// A mapping template failed at run time, or no integration response matches and none is the default (API
    /// Gateway's configuration error). Why goes to the log; the template never reaches the client.
    #[error("mapping failed: {0}")]
    MappingFailed(String),
}

/// The answer an error gets from the API type it happens in: status, `x-amzn-ErrorType` (REST APIs only; HTTP
/// APIs send none) and the JSON body, byte for byte.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAnswer {
    pub status: StatusCode,
    pub error_type: Option<&'static str>,
    /// `application/json`, or `application/problem+json` for a validator's problem details.
    pub content_type: &'static str,
    pub body: String,
}

impl GatewayError {
    /// API Gateway's answer for this error in an API of type `api`.
    pub fn answer(&self, api: ApiType) -> ErrorAnswer {
        let status = self.status(api);
        let mut content_type = "application/json";
        let body = match (api, self) {
            (_, Self::MissingParameters(invalid) | Self::InvalidBody(invalid)) if invalid.problem_details => {
                content_type = PROBLEM_JSON;
                invalid.problem(status, self.response_type(api))
            }
            // REST keeps an authorizer's own words, under a capitalised key; a broken one says nothing.
            (ApiType::Rest, Self::AuthorizerDenied { .. }) => json_object("Message", Some(&self.message(api)), false),
            (ApiType::Rest, Self::AuthorizerFailure(_)) => json_object("message", None, false),
            // WebSocket APIs' own answer, the same under either type.
            (_, Self::HandshakeFailed(_)) => json_object("message", Some(&self.message(api)), false),
            // REST's 5xx bodies have a space after the colon; its 4xx bodies and HTTP APIs' have none.
            (ApiType::Rest, _) => json_object("message", Some(&self.message(api)), status.is_server_error()),
            (ApiType::Http, _) => json_object("message", Some(&self.message(api)), false),
        };
        let error_type = (api == ApiType::Rest).then(|| self.error_type());
        ErrorAnswer { status, error_type, content_type, body }
    }

    /// The HTTP status API Gateway answers with.
    pub fn status(&self, api: ApiType) -> StatusCode {
        let rest = api == ApiType::Rest;
        match self {
            Self::NotFound if rest => StatusCode::FORBIDDEN,
            Self::NotFound => StatusCode::NOT_FOUND,
            Self::BadRequest(_)
            | Self::BadRequestBody(_)
            | Self::MissingParameters(_)
            | Self::InvalidBody(_)
            | Self::BodyNotJson(_) => StatusCode::BAD_REQUEST,
            Self::RequestTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::UnsupportedMediaType(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Forbidden(_)
            | Self::CacheRefreshDenied
            | Self::InsufficientScope
            | Self::AuthorizerDenied { .. }
            | Self::PolicyDenied { .. } => StatusCode::FORBIDDEN,
            Self::Unauthorized { .. } => StatusCode::UNAUTHORIZED,
            Self::AuthorizerFailure(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Throttled(_) | Self::QuotaExceeded(_) | Self::ConnectionLimit => StatusCode::TOO_MANY_REQUESTS,
            Self::HandshakeFailed(_) => StatusCode::BAD_GATEWAY,
            Self::IntegrationTimeout(_) if rest => StatusCode::GATEWAY_TIMEOUT,
            Self::IntegrationTimeout(_) => StatusCode::SERVICE_UNAVAILABLE,
            Self::IntegrationFailure(_) | Self::IntegrationUnreachable(_) if rest => StatusCode::BAD_GATEWAY,
            Self::IntegrationFailure(_) | Self::IntegrationUnreachable(_) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::Internal(_) | Self::MappingFailed(_) => StatusCode::INTERNAL_SERVER_ERROR,
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
            Self::InsufficientScope | Self::CacheRefreshDenied => "Forbidden",
            Self::AuthorizerDenied { explicit: true } if rest => {
                "User is not authorized to access this resource with an explicit deny"
            }
            Self::AuthorizerDenied { .. } if rest => "User is not authorized to access this resource",
            Self::AuthorizerDenied { .. } => "Forbidden",
            Self::NotFound if rest => "Missing Authentication Token",
            Self::NotFound => "Not Found",
            Self::BadRequest(_) => "Bad Request",
            Self::MissingParameters(invalid) => return Cow::Owned(invalid.detail.clone()),
            Self::BodyNotJson(why) => return Cow::Owned(format!("Could not parse request body into json: {why}")),
            Self::BadRequestBody(_) | Self::InvalidBody(_) => "Invalid request body",
            Self::UnsupportedMediaType(_) => "Unsupported Media Type",
            Self::RequestTooLarge(_) => "Request Too Long",
            Self::Forbidden(_) => "Forbidden",
            Self::Throttled(_) => "Too Many Requests",
            Self::QuotaExceeded(_) => "Limit Exceeded",
            Self::ConnectionLimit => "Too many connections for this API key",
            Self::HandshakeFailed(_) => "Internal server error",
            Self::IntegrationTimeout(_) if rest => "Endpoint request timed out",
            Self::IntegrationTimeout(_) => "Service Unavailable",
            Self::IntegrationFailure(_)
            | Self::IntegrationUnreachable(_)
            | Self::Internal(_)
            | Self::MappingFailed(_)
            | Self::AuthorizerFailure(_)
                if rest =>
            {
                "Internal server error"
            }
            Self::IntegrationFailure(_)
            | Self::IntegrationUnreachable(_)
            | Self::Internal(_)
            | Self::MappingFailed(_)
            | Self::AuthorizerFailure(_) => "Internal Server Error",
        })
    }

    /// The `x-amzn-ErrorType` a REST API sends with the answer.
    pub fn error_type(&self) -> &'static str {
        match self {
            Self::NotFound => "MissingAuthenticationTokenException",
            Self::BadRequest(_)
            | Self::BadRequestBody(_)
            | Self::MissingParameters(_)
            | Self::InvalidBody(_)
            | Self::BodyNotJson(_) => "BadRequestException",
            Self::UnsupportedMediaType(_) => "UnsupportedMediaTypeException",
            Self::RequestTooLarge(_) => "RequestEntityTooLargeException",
            Self::Forbidden(_) => "ForbiddenException",
            Self::Unauthorized { .. } => "UnauthorizedException",
            Self::InsufficientScope
            | Self::AuthorizerDenied { .. }
            | Self::PolicyDenied { .. }
            | Self::CacheRefreshDenied => "AccessDeniedException",
            Self::AuthorizerFailure(_) => "AuthorizerConfigurationException",
            Self::Throttled(_) => "TooManyRequestsException",
            Self::QuotaExceeded(_) | Self::ConnectionLimit => "LimitExceededException",
            Self::HandshakeFailed(_) => "InternalServerErrorException",
            Self::IntegrationTimeout(_)
            | Self::IntegrationFailure(_)
            | Self::IntegrationUnreachable(_)
            | Self::Internal(_)
            | Self::MappingFailed(_) => "InternalServerErrorException",
        }
    }
}

/// A REST API's gateway response types: which answer an error is, for `gatewayResponses` to customise. A type
/// without settings of its own takes `DEFAULT_4XX` or `DEFAULT_5XX`'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ResponseType {
    AccessDenied,
    ApiConfigurationError,
    AuthorizerConfigurationError,
    AuthorizerFailure,
    BadRequestParameters,
    BadRequestBody,
    Default4xx,
    Default5xx,
    ExpiredToken,
    IntegrationFailure,
    IntegrationTimeout,
    InvalidApiKey,
    InvalidSignature,
    MissingAuthenticationToken,
    QuotaExceeded,
    RequestTooLarge,
    ResourceNotFound,
    Throttled,
    Unauthorized,
    UnsupportedMediaType,
}

impl ResponseType {
    pub const ALL: [Self; 20] = [
        Self::AccessDenied,
        Self::ApiConfigurationError,
        Self::AuthorizerConfigurationError,
        Self::AuthorizerFailure,
        Self::BadRequestParameters,
        Self::BadRequestBody,
        Self::Default4xx,
        Self::Default5xx,
        Self::ExpiredToken,
        Self::IntegrationFailure,
        Self::IntegrationTimeout,
        Self::InvalidApiKey,
        Self::InvalidSignature,
        Self::MissingAuthenticationToken,
        Self::QuotaExceeded,
        Self::RequestTooLarge,
        Self::ResourceNotFound,
        Self::Throttled,
        Self::Unauthorized,
        Self::UnsupportedMediaType,
    ];

    /// The name as API Gateway spells it (`$context.error.responseType`).
    pub fn name(self) -> &'static str {
        match self {
            Self::AccessDenied => "ACCESS_DENIED",
            Self::ApiConfigurationError => "API_CONFIGURATION_ERROR",
            Self::AuthorizerConfigurationError => "AUTHORIZER_CONFIGURATION_ERROR",
            Self::AuthorizerFailure => "AUTHORIZER_FAILURE",
            Self::BadRequestParameters => "BAD_REQUEST_PARAMETERS",
            Self::BadRequestBody => "BAD_REQUEST_BODY",
            Self::Default4xx => "DEFAULT_4XX",
            Self::Default5xx => "DEFAULT_5XX",
            Self::ExpiredToken => "EXPIRED_TOKEN",
            Self::IntegrationFailure => "INTEGRATION_FAILURE",
            Self::IntegrationTimeout => "INTEGRATION_TIMEOUT",
            Self::InvalidApiKey => "INVALID_API_KEY",
            Self::InvalidSignature => "INVALID_SIGNATURE",
            Self::MissingAuthenticationToken => "MISSING_AUTHENTICATION_TOKEN",
            Self::QuotaExceeded => "QUOTA_EXCEEDED",
            Self::RequestTooLarge => "REQUEST_TOO_LARGE",
            Self::ResourceNotFound => "RESOURCE_NOT_FOUND",
            Self::Throttled => "THROTTLED",
            Self::Unauthorized => "UNAUTHORIZED",
            Self::UnsupportedMediaType => "UNSUPPORTED_MEDIA_TYPE",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.name() == name)
    }
}

impl GatewayError {
    /// The gateway response type this error is answered as in an API of type `api`.
    pub fn response_type(&self, api: ApiType) -> ResponseType {
        match self {
            Self::NotFound if api == ApiType::Rest => ResponseType::MissingAuthenticationToken,
            Self::NotFound => ResponseType::ResourceNotFound,
            Self::BadRequest(_) | Self::BodyNotJson(_) => ResponseType::Default4xx,
            Self::BadRequestBody(_) | Self::InvalidBody(_) => ResponseType::BadRequestBody,
            Self::MissingParameters(_) => ResponseType::BadRequestParameters,
            Self::UnsupportedMediaType(_) => ResponseType::UnsupportedMediaType,
            Self::RequestTooLarge(_) => ResponseType::RequestTooLarge,
            Self::Forbidden(_) => ResponseType::InvalidApiKey,
            Self::Unauthorized { .. } => ResponseType::Unauthorized,
            Self::InsufficientScope
            | Self::AuthorizerDenied { .. }
            | Self::PolicyDenied { .. }
            | Self::CacheRefreshDenied => ResponseType::AccessDenied,
            Self::AuthorizerFailure(_) => ResponseType::AuthorizerConfigurationError,
            Self::Throttled(_) | Self::ConnectionLimit => ResponseType::Throttled,
            Self::HandshakeFailed(_) => ResponseType::IntegrationFailure,
            Self::QuotaExceeded(_) => ResponseType::QuotaExceeded,
            Self::IntegrationTimeout(_) => ResponseType::IntegrationTimeout,
            Self::IntegrationFailure(_) | Self::IntegrationUnreachable(_) => ResponseType::IntegrationFailure,
            Self::Internal(_) => ResponseType::Default5xx,
            Self::MappingFailed(_) => ResponseType::ApiConfigurationError,
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

    /// What `$context.error.validationErrorString` says: a validator's findings, empty for any other error.
    pub fn validation_error_string(&self) -> &str {
        match self {
            Self::MissingParameters(invalid) | Self::InvalidBody(invalid) => &invalid.detail,
            _ => "",
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

/// The media type of RFC 9457 problem details.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// What a route's request validator found wrong (`docs/validation.md` has the formats).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid {
    /// `$context.error.validationErrorString`: API Gateway's rendering of the findings.
    pub detail: String,
    /// The problem details' `detail`: one sentence.
    pub summary: String,
    /// Each failing field, the first `validate::MAX_REPORTED` found.
    pub errors: Vec<FieldError>,
    /// More fields failed than `errors` lists.
    pub truncated: bool,
    /// Answer with RFC 9457 problem details rather than API Gateway's body.
    pub problem_details: bool,
}

/// One failing field: a JSON pointer (into the body, or into `/path`, `/querystring` and `/header` for
/// parameters) and why it failed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct FieldError {
    pub pointer: String,
    pub reason: String,
}

impl Invalid {
    /// The RFC 9457 body: `type`, `title`, `status`, `detail`, and the extension member `errors`.
    fn problem(&self, status: StatusCode, kind: ResponseType) -> String {
        #[derive(serde::Serialize)]
        struct Problem<'a> {
            #[serde(rename = "type")]
            kind: &'a str,
            title: &'a str,
            status: u16,
            detail: &'a str,
            errors: &'a [FieldError],
        }
        let (kind, title) = match kind {
            ResponseType::BadRequestParameters => {
                ("tag:tollgate,2026:missing-request-parameters", "Missing required request parameters")
            }
            _ => ("tag:tollgate,2026:invalid-request-body", "Invalid request body"),
        };
        let problem = Problem { kind, title, status: status.as_u16(), detail: &self.summary, errors: &self.errors };
        serde_json::to_string(&problem).unwrap_or_default()
    }
}
