//! `gatewayResponses` (REST's `x-amazon-apigateway-gateway-responses`): per response type, the status, headers
//! and body templates of the answers the gateway gives itself. Parsed and checked here, at load; the `respond`
//! stage renders them per request.
//!
//! Templates substitute `$context.*` and `$stageVariables.*` (also as `${...}`). Velocity directives and other
//! references (`#if`, `$input`, `$util`) are refused at load, naming the line, rather than rendered wrongly.
//! Header values follow REST's quoting: `'text'` is literal text, `method.request.header.x`,
//! `method.request.querystring.x`, `method.request.path.x`, `context.x` and `stageVariables.x` are values.

use std::{borrow::Cow, collections::BTreeMap};

use http::{HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;

use crate::{
    error::ResponseType,
    request::{ApiContext, GatewayRequest},
};

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct GatewayResponseFile {
    /// The status to answer with; default: the type's own (for `DEFAULT_4XX`/`DEFAULT_5XX`, each type's).
    #[serde(default)]
    pub status_code: Option<StatusCodeFile>,
    /// `gatewayresponse.header.Name` to a value: `'literal'` or a mapping expression.
    #[serde(default)]
    pub response_parameters: BTreeMap<String, String>,
    /// Content type to body template.
    #[serde(default)]
    pub response_templates: BTreeMap<String, String>,
}

/// API Gateway writes statuses as strings (`"429"`); numbers are accepted too.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum StatusCodeFile {
    Number(u16),
    Text(String),
}

/// A `$context` variable a gateway response may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContextVar {
    ErrorMessage,
    /// The message as a JSON string, quotes included.
    ErrorMessageString,
    ErrorResponseType,
    ErrorValidationErrorString,
    RequestId,
    ExtendedRequestId,
    Stage,
    ResourcePath,
    HttpMethod,
    ApiId,
    DomainName,
    Path,
    Protocol,
    SourceIp,
    UserAgent,
    RequestTimeEpoch,
    RouteKey,
    DomainPrefix,
}

/// `$context` variables by name: what gateway responses and HTTP API parameter mapping read.
pub const CONTEXT_VARS: [(&str, ContextVar); 18] = [
    ("error.message", ContextVar::ErrorMessage),
    ("error.messageString", ContextVar::ErrorMessageString),
    ("error.responseType", ContextVar::ErrorResponseType),
    ("error.validationErrorString", ContextVar::ErrorValidationErrorString),
    ("requestId", ContextVar::RequestId),
    ("extendedRequestId", ContextVar::ExtendedRequestId),
    ("stage", ContextVar::Stage),
    ("resourcePath", ContextVar::ResourcePath),
    ("httpMethod", ContextVar::HttpMethod),
    ("apiId", ContextVar::ApiId),
    ("domainName", ContextVar::DomainName),
    ("path", ContextVar::Path),
    ("protocol", ContextVar::Protocol),
    ("identity.sourceIp", ContextVar::SourceIp),
    ("identity.userAgent", ContextVar::UserAgent),
    ("requestTimeEpoch", ContextVar::RequestTimeEpoch),
    ("routeKey", ContextVar::RouteKey),
    ("domainPrefix", ContextVar::DomainPrefix),
];

pub fn context_var(name: &str) -> Result<ContextVar, String> {
    CONTEXT_VARS.iter().find(|(n, _)| *n == name).map(|(_, v)| *v).ok_or_else(|| {
        let known: Vec<_> = CONTEXT_VARS.iter().map(|(n, _)| *n).collect();
        format!("$context.{name} is not available in gateway responses (known: {})", known.join(", "))
    })
}

/// What the request-derived `$context` variables are read from.
#[derive(Debug, Clone, Copy)]
pub struct ContextScope<'a> {
    pub request: &'a GatewayRequest,
    /// The matched route's key as written (`GET /pets/{id}`); `None` before routing.
    pub route_key: Option<&'a str>,
    pub api: &'a ApiContext,
}

impl ContextVar {
    /// The variable's value for a request, the one place each is worked out; `None` for the `error.*`
    /// variables, which only the gateway's own error answers have.
    pub fn request_value<'a>(self, scope: ContextScope<'a>) -> Option<Cow<'a, str>> {
        let request = scope.request;
        let domain = request.domain_name.as_deref().unwrap_or("");
        Some(match self {
            Self::ErrorMessage
            | Self::ErrorMessageString
            | Self::ErrorResponseType
            | Self::ErrorValidationErrorString => return None,
            Self::RequestId => Cow::Borrowed(&request.request_id),
            Self::ExtendedRequestId => Cow::Owned(request.extended_request_id()),
            Self::Stage => Cow::Borrowed(&scope.api.stage),
            Self::ResourcePath => {
                Cow::Borrowed(scope.route_key.map_or("", |key| key.split_once(' ').map_or(key, |(_, path)| path)))
            }
            Self::HttpMethod => Cow::Borrowed(request.method.as_str()),
            Self::ApiId => Cow::Borrowed(&scope.api.api_id),
            Self::DomainName => Cow::Borrowed(domain),
            Self::Path => Cow::Borrowed(&request.raw_path),
            Self::Protocol => Cow::Borrowed(&request.protocol),
            Self::SourceIp => Cow::Borrowed(&request.source_ip),
            Self::UserAgent => Cow::Borrowed(request.user_agent.as_deref().unwrap_or("")),
            Self::RequestTimeEpoch => Cow::Owned(request.time_epoch_ms.to_string()),
            Self::RouteKey => Cow::Borrowed(scope.route_key.unwrap_or("")),
            Self::DomainPrefix => Cow::Borrowed(domain.split('.').next().unwrap_or(domain)),
        })
    }
}

/// A piece of a body template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Context(ContextVar),
}

/// Where a header's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ValueSource {
    Literal(HeaderValue),
    RequestHeader(HeaderName),
    Query(String),
    PathParam(String),
    Context(ContextVar),
}

/// One response type's settings, checked.
#[derive(Debug, Clone, Default)]
pub struct GatewayResponseSpec {
    pub status: Option<StatusCode>,
    pub headers: Vec<(HeaderName, ValueSource)>,
    /// Content type and template, in the file's order.
    pub templates: Vec<(String, Vec<Piece>)>,
}

/// Every customised response type.
#[derive(Debug, Clone, Default)]
pub struct GatewayResponses {
    by_type: BTreeMap<ResponseType, GatewayResponseSpec>,
}

impl GatewayResponses {
    pub fn compile(
        file: &BTreeMap<String, GatewayResponseFile>,
        vars: &BTreeMap<String, String>,
    ) -> Result<Self, String> {
        let mut by_type = BTreeMap::new();
        for (name, settings) in file {
            let kind = ResponseType::from_name(name).ok_or_else(|| {
                let known: Vec<_> = ResponseType::ALL.iter().map(|t| t.name()).collect();
                format!("gatewayResponses: {name:?} is not a response type (known: {})", known.join(", "))
            })?;
            let spec = compile_one(settings, vars).map_err(|e| format!("gatewayResponses.{name}: {e}"))?;
            by_type.insert(kind, spec);
        }
        Ok(Self { by_type })
    }

    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }

    /// The settings that apply to an answer of type `kind` and default status `status`, and the status to
    /// send: the type's own settings, else `DEFAULT_4XX`/`DEFAULT_5XX`'s (whose status, when set, overrides
    /// every type of its class).
    pub fn for_answer(&self, kind: ResponseType, status: StatusCode) -> Option<(&GatewayResponseSpec, StatusCode)> {
        if let Some(own) = self.by_type.get(&kind) {
            return Some((own, own.status.unwrap_or(status)));
        }
        let class = if status.is_server_error() { ResponseType::Default5xx } else { ResponseType::Default4xx };
        let fallback = self.by_type.get(&class)?;
        Some((fallback, fallback.status.unwrap_or(status)))
    }
}

fn compile_one(file: &GatewayResponseFile, vars: &BTreeMap<String, String>) -> Result<GatewayResponseSpec, String> {
    let status = match &file.status_code {
        None => None,
        Some(code) => {
            let number = match code {
                StatusCodeFile::Number(n) => Some(*n),
                StatusCodeFile::Text(t) => t.parse().ok(),
            };
            let status = number.and_then(|n| StatusCode::from_u16(n).ok()).filter(|s| (200..600).contains(&s.as_u16()));
            Some(status.ok_or_else(|| format!("statusCode {code:?} is not an HTTP status (200-599)"))?)
        }
    };
    let mut headers = Vec::new();
    for (key, value) in &file.response_parameters {
        let name = key
            .strip_prefix("gatewayresponse.header.")
            .ok_or_else(|| format!("{key:?}: only gatewayresponse.header.<name> may be set"))?;
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{key:?}: not a header name"))?;
        headers.push((name, value_source(value, vars).map_err(|e| format!("{key}: {e}"))?));
    }
    let mut templates = Vec::new();
    for (content_type, text) in &file.response_templates {
        let pieces = parse_template(text, vars).map_err(|e| format!("template for {content_type}: {e}"))?;
        templates.push((content_type.clone(), pieces));
    }
    Ok(GatewayResponseSpec { status, headers, templates })
}

fn value_source(text: &str, vars: &BTreeMap<String, String>) -> Result<ValueSource, String> {
    let literal = |s: &str| HeaderValue::try_from(s).map_err(|_| format!("{s:?} is not a header value"));
    if let Some(inner) = text.strip_prefix('\'').and_then(|t| t.strip_suffix('\'')) {
        return Ok(ValueSource::Literal(literal(inner)?));
    }
    if let Some(name) = text.strip_prefix("method.request.header.") {
        let name = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a header name"))?;
        return Ok(ValueSource::RequestHeader(name));
    }
    if let Some(name) = text.strip_prefix("method.request.querystring.") {
        return Ok(ValueSource::Query(name.to_owned()));
    }
    if let Some(name) = text.strip_prefix("method.request.path.") {
        return Ok(ValueSource::PathParam(name.to_owned()));
    }
    if let Some(name) = text.strip_prefix("context.") {
        return Ok(ValueSource::Context(context_var(name)?));
    }
    if let Some(name) = text.strip_prefix("stageVariables.") {
        return Ok(ValueSource::Literal(literal(stage_variable(name, vars)?)?));
    }
    Err(format!(
        "{text:?} is neither 'quoted text' nor a mapping (method.request.header|querystring|path.<name>, \
         context.<name>, stageVariables.<name>)"
    ))
}

fn stage_variable<'a>(name: &str, vars: &'a BTreeMap<String, String>) -> Result<&'a str, String> {
    vars.get(name).map(String::as_str).ok_or_else(|| format!("stage variable {name:?} is not defined in this stage"))
}

/// Velocity directives: a template using one needs the mapping-template engine, which gateway responses do
/// not have.
const DIRECTIVES: [&str; 13] = [
    "set", "if", "elseif", "else", "end", "foreach", "macro", "include", "parse", "break", "stop", "define", "evaluate",
];

/// Splits a template into text and `$context` pieces; stage variables become text.
pub fn parse_template(text: &str, vars: &BTreeMap<String, String>) -> Result<Vec<Piece>, String> {
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    let mut pieces = Vec::new();
    let mut literal = String::new();
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let rest = &text[i..];
        if let Some(after) = rest.strip_prefix('#') {
            let word: String = after.trim_start_matches('{').chars().take_while(char::is_ascii_alphabetic).collect();
            if DIRECTIVES.contains(&word.as_str()) {
                return Err(format!(
                    "line {}: the directive #{word} is not supported in gateway response templates \
                     (only $context and $stageVariables references)",
                    line_of(i)
                ));
            }
        }
        let Some(after) = rest.strip_prefix('$') else {
            let c = rest.chars().next().unwrap_or_default();
            literal.push(c);
            i += c.len_utf8();
            continue;
        };
        let (braced, body) = match after.strip_prefix('{') {
            Some(b) => (true, b),
            None => (false, after.strip_prefix('!').unwrap_or(after)),
        };
        let silent = !braced && after.starts_with('!');
        let len = body.bytes().take_while(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'.').count();
        // A trailing dot ends a sentence, not the reference.
        let name = body[..len].trim_end_matches('.');
        if name.is_empty() || !name.starts_with(|c: char| c.is_ascii_alphabetic()) {
            literal.push('$');
            i += 1;
            continue;
        }
        let consumed = 1 + usize::from(braced || silent) + name.len();
        if braced && !body[name.len()..].starts_with('}') {
            return Err(format!("line {}: unclosed \"${{\"", line_of(i)));
        }
        let (root, path) = name.split_once('.').unwrap_or((name, ""));
        match root {
            "context" => {
                pieces.push(Piece::Text(std::mem::take(&mut literal)));
                pieces.push(Piece::Context(context_var(path).map_err(|e| format!("line {}: {e}", line_of(i)))?));
            }
            "stageVariables" => {
                literal.push_str(stage_variable(path, vars).map_err(|e| format!("line {}: {e}", line_of(i)))?);
            }
            other => {
                return Err(format!(
                    "line {}: ${other} is not available in gateway response templates (only $context and \
                     $stageVariables)",
                    line_of(i)
                ));
            }
        }
        i += consumed + usize::from(braced);
    }
    pieces.push(Piece::Text(literal));
    pieces.retain(|p| !matches!(p, Piece::Text(t) if t.is_empty()));
    Ok(pieces)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([("team".to_owned(), "pets".to_owned())])
    }

    #[test]
    fn templates_split_into_text_and_context_references() {
        let pieces = parse_template(
            r#"{"m":$context.error.messageString,"id":"${context.requestId}","t":"$stageVariables.team"}"#,
            &vars(),
        )
        .expect("valid");
        assert_eq!(
            pieces,
            vec![
                Piece::Text(r#"{"m":"#.into()),
                Piece::Context(ContextVar::ErrorMessageString),
                Piece::Text(r#","id":""#.into()),
                Piece::Context(ContextVar::RequestId),
                Piece::Text(r#"","t":"pets"}"#.into()),
            ]
        );
        // A dollar that starts no reference, and a sentence's full stop, stay text.
        assert_eq!(
            parse_template("costs $5 in $context.stage.", &vars()).expect("valid"),
            vec![Piece::Text("costs $5 in ".into()), Piece::Context(ContextVar::Stage), Piece::Text(".".into())]
        );
    }

    #[test]
    fn what_the_subset_lacks_is_refused_with_its_line() {
        for (template, problem) in [
            ("{\n#if($context.x)\n}", "line 2: the directive #if"),
            ("{\n\n #set($a = 1)}", "line 3: the directive #set"),
            ("$input.json('$')", "line 1: $input"),
            ("$util.escapeJavaScript($context.error.message)", "$util"),
            ("$context.nope", "$context.nope is not available"),
            ("$stageVariables.missing", "not defined"),
            ("${context.requestId", "unclosed"),
        ] {
            let err = parse_template(template, &vars()).expect_err(template);
            assert!(err.contains(problem), "{template}: {err}");
        }
    }

    #[test]
    fn types_statuses_and_header_values_are_checked() {
        let file =
            |yaml: &str| -> BTreeMap<String, GatewayResponseFile> { serde_yaml_ng::from_str(yaml).expect("yaml") };
        let ok = GatewayResponses::compile(
            &file(
                r#"
DEFAULT_4XX:
  responseParameters:
    gatewayresponse.header.Access-Control-Allow-Origin: "'*'"
    gatewayresponse.header.X-Echo: method.request.header.x-request
QUOTA_EXCEEDED: { statusCode: "503" }
"#,
            ),
            &vars(),
        )
        .expect("valid");
        let (spec, status) = ok.for_answer(ResponseType::Unauthorized, StatusCode::UNAUTHORIZED).expect("4xx default");
        assert_eq!((spec.headers.len(), status), (2, StatusCode::UNAUTHORIZED));
        let (_, status) = ok.for_answer(ResponseType::QuotaExceeded, StatusCode::TOO_MANY_REQUESTS).expect("own");
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
        assert!(ok.for_answer(ResponseType::IntegrationFailure, StatusCode::BAD_GATEWAY).is_none());
        for (yaml, problem) in [
            ("NOT_A_TYPE: {}", "not a response type"),
            ("THROTTLED: { statusCode: 99 }", "statusCode"),
            ("THROTTLED: { statusCode: abc }", "statusCode"),
            (
                "THROTTLED: { responseParameters: { gatewayresponse.querystring.x: \"'a'\" } }",
                "only gatewayresponse.header",
            ),
            ("THROTTLED: { responseParameters: { gatewayresponse.header.X: \"unquoted\" } }", "neither"),
            ("THROTTLED: { responseParameters: { gatewayresponse.header.X: context.nope } }", "not available"),
            ("THROTTLED: { responseTemplates: { application/json: \"#foreach($x in $y)#end\" } }", "#foreach"),
        ] {
            let err = GatewayResponses::compile(&file(yaml), &vars()).expect_err(yaml);
            assert!(err.contains(problem), "{yaml}: {err}");
        }
    }
}
