//! The checks a definition passes at load, each naming what is wrong, and the typed settings they produce:
//! stages (API Gateway's rules for names and variables), routes and their integrations, authorizers.

use std::{collections::BTreeMap, sync::Arc, time::Duration};

use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

use super::{
    MAX_TIMEOUT_MS, MIN_TIMEOUT_MS,
    cors::CorsSpec,
    file::{AuthorizerFile, IntegrationFile, ResourcePolicyFile, RouteFile, StageFile},
    identity::IdentitySource,
    mapping, parameter_mapping,
    spec::{
        AuthorizerSpec, EventKind, IntegrationSpec, IpRules, JwtAuthorizerSpec, LambdaAuthorizerSpec, PayloadVersion,
        RouteSpec,
    },
    template::{self, Piece},
};
use crate::{request::ApiType, route_key::RouteKey};

/// API Gateway's rules for stage names and variables.
pub(super) fn check_stage(name: &str, stage: &StageFile) -> Result<(), String> {
    let name_ok = name == "$default"
        || (!name.is_empty()
            && name.len() <= 128
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if !name_ok {
        return Err("a stage name is 1-128 letters, digits, '-' or '_' (or $default)".to_owned());
    }
    for throttle in stage.throttle.iter().chain(&stage.route_throttle) {
        throttle.check()?;
    }
    if stage.variables.len() > 100 {
        return Err("more than 100 stage variables".to_owned());
    }
    for (key, value) in &stage.variables {
        if key.is_empty() || key.len() > 64 || !key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
            return Err(format!("variable name {key:?} must be 1-64 letters, digits or '_'"));
        }
        let value_ok = !value.is_empty()
            && value.len() <= 512
            && value.chars().all(|c| c.is_ascii_alphanumeric() || "-._~:/?#&=,".contains(c));
        if !value_ok {
            return Err(format!("variable {key:?}: a value is 1-512 characters of A-Za-z0-9-._~:/?#&=,"));
        }
    }
    Ok(())
}

/// The payload format a Lambda integration or authorizer uses: as written, else the API type's own. A REST API
/// speaks 1.0 only.
fn payload_version(written: Option<&str>, api: ApiType) -> Result<PayloadVersion, String> {
    match (written, api) {
        (Some("1.0") | None, ApiType::Rest) => Ok(PayloadVersion::V1),
        (Some("2.0"), ApiType::Rest) => {
            Err("payloadFormatVersion \"2.0\" is an HTTP API format: a REST API sends \"1.0\"".to_owned())
        }
        (Some("1.0"), ApiType::Http) => Ok(PayloadVersion::V1),
        (Some("2.0") | None, ApiType::Http) => Ok(PayloadVersion::V2),
        (Some(other), _) => Err(format!("payloadFormatVersion {other:?}: use \"1.0\" or \"2.0\"")),
    }
}

pub(super) fn compile_route(
    key_text: &str,
    route: &RouteFile,
    vars: &BTreeMap<String, String>,
    api: ApiType,
) -> Result<RouteSpec, String> {
    let key = RouteKey::parse(key_text)?;
    let params: Vec<&str> = key.param_names().collect();
    let integration = match &route.integration {
        IntegrationFile::Lambda { function, payload_format_version, timeout_ms, .. } => {
            let function = template::substitute_stage_variables(function, vars)?;
            if function.is_empty() {
                return Err("lambda integration needs a function name or ARN".to_owned());
            }
            let payload = payload_version(payload_format_version.as_deref(), api)?;
            let mapping = mapping(route, vars, api)?;
            if mapping.is_some() && payload_format_version.is_some() {
                return Err("payloadFormatVersion is a proxy integration's: a non-proxy one sends its template".into());
            }
            IntegrationSpec::Lambda { function, payload, timeout: check_timeout(*timeout_ms)?, mapping }
        }
        IntegrationFile::Http { url, method, timeout_ms, .. } => {
            let url = template::substitute_stage_variables(url, vars)?;
            let pieces = template::parse_params(&url, &params)?;
            // The URL with every parameter filled by a placeholder must be a valid http(s) URI.
            let sample: String = pieces
                .iter()
                .map(|p| match p {
                    Piece::Text(t) => t.as_str(),
                    Piece::Param(_) => "x",
                })
                .collect();
            let uri: http::Uri = sample.parse().map_err(|e| format!("url {url:?} is not a valid URL: {e}"))?;
            if !matches!(uri.scheme_str(), Some("http" | "https")) || uri.host().is_none() {
                return Err(format!("url {url:?} must be an absolute http:// or https:// URL"));
            }
            let method = method
                .as_deref()
                .map(|m| http::Method::from_bytes(m.as_bytes()).map_err(|_| format!("method {m:?} is not valid")))
                .transpose()?;
            let catch_all = match &key {
                RouteKey::Default => true,
                RouteKey::Path { segments, .. } => {
                    segments.iter().any(|s| matches!(s, crate::route_key::Segment::Greedy(_)))
                }
            };
            let append_path = catch_all && !pieces.iter().any(|p| matches!(p, Piece::Param(_)));
            let timeout = check_timeout(*timeout_ms)?;
            IntegrationSpec::Http { url: pieces, method, timeout, append_path, mapping: mapping(route, vars, api)? }
        }
        IntegrationFile::Mock { status_code, headers, body, .. } => {
            let status = StatusCode::from_u16(*status_code)
                .ok()
                .filter(|s| (200..=599).contains(&s.as_u16()))
                .ok_or_else(|| format!("statusCode {status_code} must be 200-599"))?;
            let mut map = HeaderMap::new();
            for (name, value) in headers {
                let name =
                    HeaderName::try_from(name.as_str()).map_err(|_| format!("header name {name:?} is not valid"))?;
                let value = HeaderValue::try_from(value.as_str())
                    .map_err(|_| format!("header {name}: value {value:?} is not valid"))?;
                map.append(name, value);
            }
            let mapping = mapping(route, vars, api)?;
            if mapping.is_some() && (status.as_u16() != 200 || !headers.is_empty() || !body.is_empty()) {
                return Err("a mock with templates answers from its responses: statusCode, headers and body are a \
                            fixed mock's"
                    .to_owned());
            }
            IntegrationSpec::Mock { status, headers: map, body: bytes::Bytes::from(body.clone()), mapping }
        }
    };
    if let Some(t) = &route.throttle {
        t.check().map_err(|e| format!("throttle: {e}"))?;
    }
    if route.authorization_scopes.len() > 10 {
        return Err("at most 10 authorizationScopes".to_owned());
    }
    let resource_policy = route.resource_policy.as_ref().map(resource_policy).transpose()?;
    let parameter_mapping = parameter_mapping::compile_integration(&route.integration, &params, vars, api)?;
    Ok(RouteSpec {
        key_text: key_text.to_owned(),
        key,
        integration,
        api_key_required: route.api_key_required,
        throttle: route.throttle,
        authorizer: None,
        authorization_scopes: route.authorization_scopes.clone(),
        resource_policy,
        cors: route.cors.as_ref().map(CorsSpec::compile).transpose().map_err(|e| format!("cors: {e}"))?.map(Arc::new),
        cache: None,
        validation: None,
        parameter_mapping,
    })
}

/// A `lambda` or `http` integration's mapping templates and responses (`proxy: false`, REST only).
fn mapping(
    route: &RouteFile,
    vars: &BTreeMap<String, String>,
    api: ApiType,
) -> Result<Option<Arc<mapping::MappingSpec>>, String> {
    let Some(file) = route.integration.mapping() else { return Ok(None) };
    mapping::compile(file, vars, api == ApiType::Rest)
}

/// Source-IP rules, each range parsed.
pub(super) fn resource_policy(policy: &ResourcePolicyFile) -> Result<IpRules, String> {
    IpRules::parse(&policy.allow, &policy.deny).map_err(|p| format!("resourcePolicy: {p}"))
}

/// An authorizer's settings, checked and typed.
pub(super) fn authorizer(file: &AuthorizerFile, api: ApiType) -> Result<AuthorizerSpec, String> {
    match file {
        AuthorizerFile::Jwt { issuer, audiences, jwks_uri, identity_source, leeway_seconds, any_audience } => {
            let issuer_uri: http::Uri = issuer.parse().map_err(|_| format!("issuer {issuer:?} is not a URL"))?;
            if !matches!(issuer_uri.scheme_str(), Some("https" | "http")) {
                return Err(format!("issuer {issuer:?} must be an https:// URL"));
            }
            match (*any_audience, audiences.len()) {
                (true, 0) | (false, 1..=50) => {}
                (true, _) => return Err("anyAudience: leave audiences empty".to_owned()),
                (false, _) => return Err("audiences: 1-50 values (or anyAudience: true)".to_owned()),
            }
            if let Some(uri) = jwks_uri {
                uri.parse::<http::Uri>().map_err(|_| format!("jwksUri {uri:?} is not a URL"))?;
            }
            if *leeway_seconds > 300 {
                return Err("leewaySeconds must be 0-300".to_owned());
            }
            Ok(AuthorizerSpec::Jwt(JwtAuthorizerSpec {
                issuer: issuer.clone(),
                audiences: audiences.clone(),
                jwks_uri: jwks_uri.clone(),
                identity: IdentitySource::parse(identity_source)?,
                leeway_seconds: *leeway_seconds,
            }))
        }
        AuthorizerFile::Lambda {
            function,
            payload_format_version,
            event_type,
            identity_sources,
            result_ttl_seconds,
            timeout_ms,
            simple_responses,
            identity_validation_expression,
        } => {
            if function.is_empty() {
                return Err("function is required".to_owned());
            }
            let version = payload_version(payload_format_version.as_deref(), api)?;
            let kind = match (version, event_type.as_deref()) {
                (PayloadVersion::V1, Some("TOKEN")) => EventKind::Token,
                (PayloadVersion::V1, None | Some("REQUEST")) => EventKind::RequestV1,
                (PayloadVersion::V2, None) => EventKind::V2 { simple: *simple_responses },
                (PayloadVersion::V2, Some(_)) => return Err("eventType applies to payload 1.0 only".to_owned()),
                (_, Some(other)) => return Err(format!("eventType {other:?}: use TOKEN or REQUEST")),
            };
            if *simple_responses && version != PayloadVersion::V2 {
                return Err("simpleResponses needs payloadFormatVersion 2.0".to_owned());
            }
            if kind == EventKind::Token && identity_sources.len() != 1 {
                return Err("a TOKEN authorizer has exactly one identity source, a header".to_owned());
            }
            let validation = match identity_validation_expression {
                Some(_) if kind != EventKind::Token => {
                    return Err("identityValidationExpression applies to TOKEN authorizers only".to_owned());
                }
                Some(pattern) => Some(super::mapping::whole_match("identityValidationExpression", pattern)?),
                None => None,
            };
            if identity_sources.is_empty() && *result_ttl_seconds > 0 {
                return Err("a cached authorizer needs at least one identity source".to_owned());
            }
            if *result_ttl_seconds > 3_600 {
                return Err("resultTtlSeconds must be 0-3600".to_owned());
            }
            if !(MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(timeout_ms) {
                return Err(format!("timeoutMs must be {MIN_TIMEOUT_MS}-{MAX_TIMEOUT_MS}"));
            }
            Ok(AuthorizerSpec::Lambda(LambdaAuthorizerSpec {
                function: function.clone(),
                kind,
                identity: identity_sources.iter().map(|s| IdentitySource::parse(s)).collect::<Result<_, _>>()?,
                ttl_seconds: *result_ttl_seconds,
                timeout: Duration::from_millis(*timeout_ms),
                validation,
            }))
        }
    }
}

pub(super) fn check_timeout(ms: u64) -> Result<Duration, String> {
    if (MIN_TIMEOUT_MS..=MAX_TIMEOUT_MS).contains(&ms) {
        Ok(Duration::from_millis(ms))
    } else {
        Err(format!("timeoutMs {ms} must be {MIN_TIMEOUT_MS}-{MAX_TIMEOUT_MS}"))
    }
}
