//! `accessLog`: which line the gateway writes per request, and for which requests. The format is one of API
//! Gateway's console presets (`json`, `clf`, `csv`, `xml`), Tollgate's `compact`, the built-in `default` line,
//! or a template of `$context` variables as API Gateway's `accessLogSettings.format` takes it. Templates are
//! parsed here, at load: an unknown variable stops the cold start, naming it.

use serde_json::Value;

/// The file shape (`accessLog: { format, sampleRate }`).
#[derive(Debug, Clone, Default)]
pub struct AccessLogFile {
    /// A preset name or a `$context` template; default: `default`.
    pub format: Option<String>,
    /// The share of successful requests logged, 0-1 (default 1). Errors and throttles are always logged.
    pub sample_rate: Option<f64>,
}

impl AccessLogFile {
    /// Reads the section as the file holds it (see `GatewayFile::access_log`); unknown fields are refused.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        let map = super::section::fields(value, "accessLog", &["format", "sampleRate"])?;
        Ok(Self {
            format: super::section::string(map, "accessLog", "format")?,
            sample_rate: super::section::number(map, "accessLog", "sampleRate")?,
        })
    }
}

/// API Gateway's console presets (HTTP APIs' wording: the route key where REST names the resource path).
pub const CLF: &str = "$context.identity.sourceIp - - [$context.requestTime] \"$context.httpMethod $context.routeKey \
                       $context.protocol\" $context.status $context.responseLength $context.requestId \
                       $context.extendedRequestId";
pub const JSON: &str = "{ \"requestId\":\"$context.requestId\", \"ip\": \"$context.identity.sourceIp\", \
                        \"requestTime\":\"$context.requestTime\", \"httpMethod\":\"$context.httpMethod\",\
                        \"routeKey\":\"$context.routeKey\", \"status\":\"$context.status\",\
                        \"protocol\":\"$context.protocol\", \"responseLength\":\"$context.responseLength\", \
                        \"extendedRequestId\": \"$context.extendedRequestId\" }";
pub const XML: &str = "<request id=\"$context.requestId\"> <ip>$context.identity.sourceIp</ip> \
                       <requestTime>$context.requestTime</requestTime> <httpMethod>$context.httpMethod</httpMethod> \
                       <routeKey>$context.routeKey</routeKey> <status>$context.status</status> \
                       <protocol>$context.protocol</protocol> <responseLength>$context.responseLength</responseLength> \
                       <extendedRequestId>$context.extendedRequestId</extendedRequestId> </request>";
pub const CSV: &str = "$context.identity.sourceIp,$context.requestTime,$context.httpMethod,$context.routeKey,\
                       $context.protocol,$context.status,$context.responseLength,$context.requestId,\
                       $context.extendedRequestId";
/// Tollgate's own: what an operator needs to find a request and see how it went, in the fewest bytes.
pub const COMPACT: &str = "{\"id\":\"$context.requestId\",\"st\":$context.status,\"ms\":$context.responseLatency,\
                           \"rk\":\"$context.routeKey\",\"err\":\"$context.error.responseType\"}";

/// A `$context` variable the gateway knows the value of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Var {
    AccountId,
    ApiId,
    ApiKeyId,
    AuthorizerError,
    AuthorizerPrincipalId,
    CacheStatus,
    DomainName,
    ErrorMessage,
    ErrorMessageString,
    ErrorResponseType,
    ExtendedRequestId,
    HttpMethod,
    IdentityCaller,
    IdentityUser,
    IntegrationLatency,
    IntegrationStatus,
    Path,
    Protocol,
    RequestId,
    RequestTime,
    RequestTimeEpoch,
    ResourcePath,
    ResponseLatency,
    ResponseLength,
    RouteKey,
    SourceIp,
    Stage,
    Status,
    UserAgent,
}

/// Variable names (after `$context.`), longest first where one is a prefix of another, so the scan takes the
/// whole name.
const VARS: &[(&str, Var)] = &[
    ("accountId", Var::AccountId),
    ("apiId", Var::ApiId),
    ("identity.apiKeyId", Var::ApiKeyId),
    ("authorizer.error", Var::AuthorizerError),
    ("authorizer.principalId", Var::AuthorizerPrincipalId),
    ("cacheStatus", Var::CacheStatus),
    ("domainName", Var::DomainName),
    ("error.messageString", Var::ErrorMessageString),
    ("error.message", Var::ErrorMessage),
    ("error.responseType", Var::ErrorResponseType),
    ("extendedRequestId", Var::ExtendedRequestId),
    ("httpMethod", Var::HttpMethod),
    ("identity.caller", Var::IdentityCaller),
    ("identity.user", Var::IdentityUser),
    ("identity.sourceIp", Var::SourceIp),
    ("identity.userAgent", Var::UserAgent),
    ("integrationLatency", Var::IntegrationLatency),
    ("integration.latency", Var::IntegrationLatency),
    ("integrationStatus", Var::IntegrationStatus),
    ("integration.status", Var::IntegrationStatus),
    ("path", Var::Path),
    ("protocol", Var::Protocol),
    ("requestId", Var::RequestId),
    ("requestTimeEpoch", Var::RequestTimeEpoch),
    ("requestTime", Var::RequestTime),
    ("resourcePath", Var::ResourcePath),
    ("responseLatency", Var::ResponseLatency),
    ("responseLength", Var::ResponseLength),
    ("routeKey", Var::RouteKey),
    ("stage", Var::Stage),
    ("status", Var::Status),
];

/// How values are escaped: by what the template writes (a JSON object, an XML element, or plain text).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Escape {
    Json,
    Xml,
    Plain,
}

/// One piece of a template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Text(String),
    Var(Var),
}

/// A parsed template.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Template {
    pub parts: Vec<Part>,
    pub escape: Escape,
}

/// What the access-log stage writes.
#[derive(Debug, Clone, PartialEq)]
pub enum AccessLogFormat {
    /// The built-in JSON line through `tracing` (target `tollgate::access`), as before formats existed.
    Default,
    Template(Template),
}

/// `accessLog`, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct AccessLogSpec {
    pub format: AccessLogFormat,
    /// 0-1; errors and throttles are logged whatever it is. `None`: the definition sets none, and the
    /// deployment's default applies ([`AccessLogSpec::rate`]).
    pub sample_rate: Option<f64>,
}

impl Default for AccessLogSpec {
    fn default() -> Self {
        Self { format: AccessLogFormat::Default, sample_rate: None }
    }
}

impl AccessLogSpec {
    /// The share of successful requests logged: the definition's, else every one.
    pub fn rate(&self) -> f64 {
        self.sample_rate.unwrap_or(1.0)
    }

    /// Checks the file's settings; the message names the field and the problem.
    pub fn compile(file: &AccessLogFile) -> Result<Self, String> {
        let sample_rate = file.sample_rate;
        if let Some(rate) = sample_rate.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err(format!("accessLog.sampleRate must be 0-1, not {rate}"));
        }
        let text = match file.format.as_deref() {
            None | Some("default") => return Ok(Self { format: AccessLogFormat::Default, sample_rate }),
            Some("json") => JSON,
            Some("clf") => CLF,
            Some("csv") => CSV,
            Some("xml") => XML,
            Some("compact") => COMPACT,
            Some(other) if other.contains("$context.") => other,
            Some(other) => {
                return Err(format!(
                    "accessLog.format {other:?} is neither a preset (default, json, clf, csv, xml, compact) nor a \
                     template of $context variables"
                ));
            }
        };
        let template = parse(text).map_err(|e| format!("accessLog.format: {e}"))?;
        Ok(Self { format: AccessLogFormat::Template(template), sample_rate })
    }
}

/// Splits a template into text and variables. Unknown variables are refused, all of them named; like API
/// Gateway, a format must log `$context.requestId` or `$context.extendedRequestId`.
pub fn parse(text: &str) -> Result<Template, String> {
    let mut parts = Vec::new();
    let mut unknown = Vec::new();
    let mut rest = text;
    let mut literal = String::new();
    while let Some(at) = rest.find("$context.") {
        literal.push_str(&rest[..at]);
        let after = &rest[at + "$context.".len()..];
        let name_len =
            after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '_')).unwrap_or(after.len());
        // A sentence may end right after a variable: the dot belongs to the text.
        let name = after[..name_len].trim_end_matches('.');
        match VARS.iter().find(|(n, _)| *n == name) {
            Some((_, var)) => {
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(Part::Var(*var));
            }
            None => unknown.push(format!("$context.{name}")),
        }
        rest = &after[name.len()..];
    }
    literal.push_str(rest);
    if !literal.is_empty() {
        parts.push(Part::Text(literal));
    }
    if !unknown.is_empty() {
        return Err(format!("unknown variables: {}", unknown.join(", ")));
    }
    if !parts.iter().any(|p| matches!(p, Part::Var(Var::RequestId | Var::ExtendedRequestId))) {
        return Err("a format must include $context.requestId or $context.extendedRequestId".to_owned());
    }
    let escape = match text.trim_start().as_bytes().first() {
        Some(b'{') => Escape::Json,
        Some(b'<') => Escape::Xml,
        _ => Escape::Plain,
    };
    Ok(Template { parts, escape })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(format: &str, rate: Option<f64>) -> Result<AccessLogSpec, String> {
        AccessLogSpec::compile(&AccessLogFile { format: Some(format.to_owned()), sample_rate: rate })
    }

    #[test]
    fn every_preset_parses() {
        for preset in ["json", "clf", "csv", "xml", "compact"] {
            let spec = compile(preset, None).expect(preset);
            assert!(matches!(spec.format, AccessLogFormat::Template(_)), "{preset}");
        }
        assert_eq!(compile("default", Some(0.5)).expect("default").format, AccessLogFormat::Default);
    }

    #[test]
    fn unknown_variables_are_refused_by_name() {
        let err = compile("$context.requestId $context.nope $context.identity.what", None).expect_err("unknown");
        assert!(err.contains("$context.nope") && err.contains("$context.identity.what"), "{err}");
        let err = compile("$context.status only", None).expect_err("no id");
        assert!(err.contains("requestId"), "{err}");
        assert!(compile("plain text", None).expect_err("no vars").contains("neither a preset"));
        for rate in [-0.1, 1.5, f64::NAN] {
            assert!(compile("json", Some(rate)).expect_err("rate").contains("sampleRate"), "{rate}");
        }
    }

    #[test]
    fn a_variable_ends_where_its_name_does() {
        let t = parse("id=$context.requestId. ($context.status)").expect("valid");
        assert_eq!(
            t.parts,
            vec![
                Part::Text("id=".into()),
                Part::Var(Var::RequestId),
                Part::Text(". (".into()),
                Part::Var(Var::Status),
                Part::Text(")".into())
            ]
        );
        assert_eq!(t.escape, Escape::Plain);
        assert_eq!(parse(JSON).expect("json").escape, Escape::Json);
        assert_eq!(parse(XML).expect("xml").escape, Escape::Xml);
    }
}
