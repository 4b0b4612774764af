//! Applies an HTTP API integration's parameter mapping (parsed at load in `config/parameter_mapping.rs`): the
//! request rules change the headers, query string and path the backend gets; the rules for the status the
//! integration answered change the headers and status the client gets. Every value is worked out from the
//! original request (or response) before anything changes, so no rule reads another's result.
//!
//! A value that comes out empty (a missing header, a body that is not JSON, a JSON `null`) or that is not a valid
//! header value sets nothing: `append` adds nothing, `overwrite` removes the parameter, an empty path is `/`.

use std::{borrow::Cow, cell::OnceCell};

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, Request, StatusCode, header};
use http_body_util::Full;
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use serde_json::Value;

use crate::{
    config::{
        gateway_responses::ContextScope,
        parameter_mapping::{Action, ParameterMapping, Piece, Place, Step},
    },
    error::GatewayError,
    request::{ApiContext, Authorized, GatewayRequest, GatewayResponse, Matched},
};

/// API Gateway reads at most this much of a body for a JSONPath value (DG:http-api-parameter-mapping: it
/// truncates the body at 100 KB, then selects), so a larger JSON body no longer parses and its paths are empty.
const JSON_PATH_BODY_LIMIT: usize = 100 * 1024;

/// Characters escaped in a query parameter's name or value that a mapping adds: all but RFC 3986's unreserved.
const QUERY: &AsciiSet = &NON_ALPHANUMERIC.remove(b'-').remove(b'.').remove(b'_').remove(b'~');

/// What values are read from besides the request or response they map.
#[derive(Clone, Copy)]
pub struct Scope<'a> {
    /// The request as the client sent it.
    pub request: &'a GatewayRequest,
    pub matched: &'a Matched,
    pub context: &'a ApiContext,
    pub authorized: Option<&'a Authorized>,
}

/// A request once mapped: what the integration gets, and what its backend URL takes from the mapping.
#[derive(Debug)]
pub struct MappedRequest {
    pub request: GatewayRequest,
    pub rewrite: Rewrite,
}

/// What a mapping changes that a [`GatewayRequest`] cannot carry to an HTTP backend.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Rewrite {
    /// `overwrite:path`: the backend URL's whole path, decoded, in place of the URL's own.
    pub path: Option<String>,
    /// A mapping set `Host`: it goes to the backend instead of the URL's host.
    pub host: bool,
}

impl Rewrite {
    /// Puts the mapped path into a built backend request (keeping its scheme, host and query) and the mapped
    /// `Host` header of `request`.
    pub fn apply(&self, outgoing: &mut Request<Full<Bytes>>, request: &GatewayRequest) -> Result<(), GatewayError> {
        if let Some(path) = &self.path {
            let uri = outgoing.uri();
            let mut text = match (uri.scheme_str(), uri.authority()) {
                (Some(scheme), Some(authority)) => format!("{scheme}://{authority}"),
                _ => String::new(),
            };
            super::http::push_encoded(&mut text, path);
            if let Some(query) = uri.query() {
                text.push('?');
                text.push_str(query);
            }
            *outgoing.uri_mut() = text
                .parse()
                .map_err(|e| GatewayError::Internal(format!("the mapped backend URL {text:?} is not valid: {e}")))?;
        }
        if let Some(host) = request.headers.get(header::HOST).filter(|_| self.host) {
            outgoing.headers_mut().insert(header::HOST, host.clone());
        }
        Ok(())
    }
}

/// The request the integration gets under the mapping's request rules; `None` when it has none.
pub fn map_request(mapping: &ParameterMapping, scope: Scope<'_>) -> Option<MappedRequest> {
    if mapping.request.is_empty() {
        return None;
    }
    let values = Values::new(scope, &scope.request.headers, &scope.request.body);
    let rendered: Vec<String> = mapping.request.iter().map(|rule| values.render(&rule.value)).collect();
    let mut request = scope.request.clone();
    let mut rewrite = Rewrite::default();
    let mut query: Option<Vec<String>> = None;
    for (rule, value) in mapping.request.iter().zip(rendered) {
        match &rule.place {
            Place::Header(name) => {
                set_header(&mut request.headers, name, rule.action, &value);
                if name == header::HOST {
                    rewrite.host = request.headers.contains_key(header::HOST);
                }
            }
            Place::Query(name) => {
                let pairs = query.get_or_insert_with(|| {
                    request.raw_query.split('&').filter(|p| !p.is_empty()).map(str::to_owned).collect()
                });
                set_query(pairs, name, rule.action, &value);
            }
            Place::Path => {
                let path = if value.starts_with('/') { value } else { format!("/{value}") };
                rewrite.path = Some(path);
            }
            Place::StatusCode => {}
        }
    }
    if let Some(pairs) = query {
        request.raw_query = pairs.join("&");
    }
    Some(MappedRequest { request, rewrite })
}

/// Applies the rules for `response`'s status. A status that a value works out to and that is not 200-599 is the
/// integration's failure (the literal ones were checked at load).
pub fn map_response(
    mapping: &ParameterMapping,
    scope: Scope<'_>,
    response: &mut GatewayResponse,
) -> Result<(), GatewayError> {
    let rules = mapping.for_status(response.status);
    if rules.is_empty() {
        return Ok(());
    }
    let rendered: Vec<String> = {
        let values = Values::new(scope, &response.headers, &response.body);
        rules.iter().map(|rule| values.render(&rule.value)).collect()
    };
    for (rule, value) in rules.iter().zip(rendered) {
        match &rule.place {
            Place::Header(name) => set_header(&mut response.headers, name, rule.action, &value),
            Place::StatusCode => {
                response.status = value
                    .trim()
                    .parse::<u16>()
                    .ok()
                    .filter(|s| (200..=599).contains(s))
                    .and_then(|s| StatusCode::from_u16(s).ok())
                    .ok_or_else(|| {
                        GatewayError::IntegrationFailure(format!(
                            "responseParameters: overwrite:statuscode worked out to {value:?}, not a status (200-599)"
                        ))
                    })?;
            }
            Place::Query(_) | Place::Path => {}
        }
    }
    Ok(())
}

fn set_header(headers: &mut HeaderMap, name: &HeaderName, action: Action, value: &str) {
    let value = Some(value).filter(|v| !v.is_empty()).and_then(|v| HeaderValue::try_from(v).ok());
    match (action, value) {
        (Action::Remove, _) | (Action::Overwrite, None) => {
            headers.remove(name);
        }
        (Action::Overwrite, Some(value)) => {
            headers.insert(name.clone(), value);
        }
        (Action::Append, None) => {}
        // Cookies cannot share a line; every other header takes the value after a comma, as API Gateway joins
        // repeated values.
        (Action::Append, Some(value)) if !headers.contains_key(name) || name == header::SET_COOKIE => {
            headers.append(name.clone(), value);
        }
        (Action::Append, Some(value)) => {
            let mut joined = Vec::new();
            for existing in headers.get_all(name) {
                joined.extend_from_slice(existing.as_bytes());
                joined.push(b',');
            }
            joined.extend_from_slice(value.as_bytes());
            if let Ok(joined) = HeaderValue::from_bytes(&joined) {
                headers.insert(name.clone(), joined);
            }
        }
    }
}

/// Changes the query's raw `name=value` pairs; the pairs no rule names stay byte for byte.
fn set_query(pairs: &mut Vec<String>, name: &str, action: Action, value: &str) {
    let is_named = |pair: &String| form_urlencoded::parse(pair.as_bytes()).next().is_some_and(|(k, _)| k == name);
    let encoded = || format!("{}={}", utf8_percent_encode(name, QUERY), utf8_percent_encode(value, QUERY));
    match action {
        Action::Remove => pairs.retain(|p| !is_named(p)),
        Action::Overwrite if value.is_empty() => pairs.retain(|p| !is_named(p)),
        Action::Overwrite => {
            // In place of the first value, the others dropped.
            match pairs.iter().position(is_named) {
                Some(first) => {
                    pairs[first] = encoded();
                    let mut index = 0;
                    pairs.retain(|p| {
                        index += 1;
                        index - 1 == first || !is_named(p)
                    });
                }
                None => pairs.push(encoded()),
            }
        }
        Action::Append if value.is_empty() => {}
        Action::Append => pairs.push(encoded()),
    }
}

/// Works values out against one request or response; a JSON body is parsed at most once, and only if asked for.
struct Values<'a> {
    scope: Scope<'a>,
    headers: &'a HeaderMap,
    body: &'a [u8],
    json: OnceCell<Option<Value>>,
}

impl<'a> Values<'a> {
    fn new(scope: Scope<'a>, headers: &'a HeaderMap, body: &'a [u8]) -> Self {
        Self { scope, headers, body, json: OnceCell::new() }
    }

    fn render(&self, pieces: &[Piece]) -> String {
        let mut out = String::new();
        for piece in pieces {
            out.push_str(&self.piece(piece));
        }
        out
    }

    fn piece<'s>(&'s self, piece: &'s Piece) -> Cow<'s, str> {
        let request = self.scope.request;
        match piece {
            Piece::Text(text) => Cow::Borrowed(text),
            Piece::Header(name) => {
                let values: Vec<Cow<'_, str>> =
                    self.headers.get_all(name).iter().map(|v| String::from_utf8_lossy(v.as_bytes())).collect();
                Cow::Owned(values.join(","))
            }
            Piece::Query(name) => {
                let values: Vec<Cow<'_, str>> = form_urlencoded::parse(request.raw_query.as_bytes())
                    .filter(|(k, _)| k == name)
                    .map(|(_, v)| v)
                    .collect();
                Cow::Owned(values.join(","))
            }
            Piece::Path if request.path_decoded => Cow::Borrowed(&request.raw_path),
            Piece::Path => percent_decode_str(&request.raw_path).decode_utf8_lossy(),
            Piece::PathParam(name) => self
                .scope
                .matched
                .params
                .iter()
                .find(|(n, _)| n == name)
                .map_or(Cow::Borrowed(""), |(_, v)| Cow::Borrowed(v)),
            Piece::Body(steps) if steps.is_empty() => String::from_utf8_lossy(self.body),
            Piece::Body(steps) => {
                let json = self.json.get_or_init(|| {
                    serde_json::from_slice(&self.body[..self.body.len().min(JSON_PATH_BODY_LIMIT)]).ok()
                });
                json.as_ref().and_then(|j| select(j, steps)).map_or(Cow::Borrowed(""), text_of)
            }
            Piece::Context(var) => {
                let route_key = Some(&*self.scope.matched.key);
                let scope = ContextScope { request, route_key, api: self.scope.context };
                var.request_value(scope).unwrap_or_default()
            }
            Piece::Authorizer(key) => authorizer_value(self.scope.authorized, key).unwrap_or_default(),
        }
    }
}

/// Follows a JSONPath's steps.
fn select<'v>(json: &'v Value, steps: &[Step]) -> Option<&'v Value> {
    steps.iter().try_fold(json, |at, step| match step {
        Step::Key(key) => at.get(key.as_str()),
        Step::Index(index) => at.get(*index),
    })
}

/// A selected JSON value as text: a string's own text, nothing for `null`, anything else as JSON.
fn text_of(value: &Value) -> Cow<'_, str> {
    match value {
        Value::String(text) => Cow::Borrowed(text),
        Value::Null => Cow::Borrowed(""),
        other => Cow::Owned(other.to_string()),
    }
}

/// `$context.authorizer.<key>`: a JWT's `claims.<claim>`, a Lambda authorizer's `principalId` or context value.
fn authorizer_value<'a>(authorized: Option<&'a Authorized>, key: &str) -> Option<Cow<'a, str>> {
    match authorized? {
        Authorized::Jwt { claims, .. } => claims.get(key.strip_prefix("claims.")?).map(text_of),
        Authorized::Lambda { principal_id, .. } if key == "principalId" => principal_id.as_deref().map(Cow::Borrowed),
        Authorized::Lambda { context, .. } => context.get(key).map(text_of),
    }
}

#[cfg(test)]
mod tests {
    use std::{collections::BTreeMap, sync::Arc};

    use super::*;
    use crate::{
        config::parameter_mapping::{StatusKey, Target, compile},
        request::ApiType,
    };

    fn mapping(request: &[(&str, &str)], response: &[(&str, &str, &str)]) -> ParameterMapping {
        let request = request.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        let mut by_code: BTreeMap<StatusKey, BTreeMap<String, String>> = BTreeMap::new();
        for (code, k, v) in response {
            let code = StatusKey::Text((*code).to_owned());
            by_code.entry(code).or_default().insert((*k).to_owned(), (*v).to_owned());
        }
        let vars = BTreeMap::from([("env".to_owned(), "prod".to_owned())]);
        let compiled = compile(&request, &by_code, Target::Http, &["id"], &vars, ApiType::Http).expect("valid");
        Arc::unwrap_or_clone(compiled.expect("some"))
    }

    fn request() -> (GatewayRequest, Matched, ApiContext) {
        let mut request = GatewayRequest::new(http::Method::POST, "/pets/caf%C3%A9");
        request.raw_query = "a=1&keep=%7Ex+y&a=2&b=3".to_owned();
        request.headers.insert("x-one", HeaderValue::from_static("1"));
        request.headers.append("x-many", HeaderValue::from_static("a"));
        request.headers.append("x-many", HeaderValue::from_static("b"));
        request.body = Bytes::from_static(br#"{"pet":{"name":"rex","tags":["a",{"k":7}],"none":null}}"#);
        request.request_id = "req-1".to_owned();
        let matched = Matched {
            route: 0,
            key: "POST /pets/{id}".into(),
            params: vec![("id".to_owned(), "café".to_owned())],
            raw_params: vec!["caf%C3%A9".to_owned()],
        };
        let context = ApiContext { stage: "prod".to_owned(), ..ApiContext::default() };
        (request, matched, context)
    }

    #[test]
    fn request_rules_change_headers_query_and_path() {
        let (request, matched, context) = request();
        let scope = Scope { request: &request, matched: &matched, context: &context, authorized: None };
        let mapping = mapping(
            &[
                ("append:header.x-one", "$request.header.x-many"),
                ("overwrite:header.x-many", "${request.querystring.a}|$request.body.pet.tags[1].k"),
                ("remove:header.x-gone", "''"),
                ("overwrite:header.x-empty", "$request.body.pet.none"),
                ("append:header.x-ctx", "$context.requestId/$context.stage/$stageVariables.env/$context.routeKey"),
                ("overwrite:querystring.a", "$request.path.id"),
                ("append:querystring.new one", "$request.body.pet.name"),
                ("remove:querystring.b", "''"),
                ("overwrite:path", "/v2$request.path"),
            ],
            &[],
        );
        let mapped = map_request(&mapping, scope).expect("mapped");
        let headers = &mapped.request.headers;
        assert_eq!(headers["x-one"], "1,a,b");
        assert_eq!(headers["x-many"], "1,2|7");
        assert!(!headers.contains_key("x-empty"), "a null selects nothing");
        assert_eq!(headers["x-ctx"], "req-1/prod/prod/POST /pets/{id}");
        assert_eq!(mapped.request.raw_query, "a=caf%C3%A9&keep=%7Ex+y&new%20one=rex");
        assert_eq!(mapped.rewrite, Rewrite { path: Some("/v2/pets/café".to_owned()), host: false });
        assert_eq!(request.headers["x-many"], "a", "the client's request is left as it was");
    }

    #[test]
    fn a_body_that_is_not_json_selects_nothing() {
        let (mut request, matched, context) = request();
        request.body = Bytes::from_static(b"name=rex");
        let scope = Scope { request: &request, matched: &matched, context: &context, authorized: None };
        let mapping = mapping(
            &[("append:header.x-name", "[$request.body.name]"), ("overwrite:header.x-one", "$request.body.name")],
            &[],
        );
        let mapped = map_request(&mapping, scope).expect("mapped");
        assert_eq!(mapped.request.headers["x-name"], "[]");
        assert!(!mapped.request.headers.contains_key("x-one"), "overwritten with nothing: removed");
    }

    #[test]
    fn response_rules_apply_to_their_status_only() {
        let (request, matched, context) = request();
        let claims = serde_json::Map::from_iter([("tenant".to_owned(), Value::from("acme"))]);
        let authorized = Authorized::Jwt { claims, scopes: Vec::new() };
        let scope = Scope { request: &request, matched: &matched, context: &context, authorized: Some(&authorized) };
        let mapping = mapping(
            &[],
            &[
                ("404", "overwrite:statuscode", "410"),
                ("404", "append:header.x-why", "$response.body.error:$response.header.x-backend"),
                ("404", "overwrite:header.x-tenant", "$context.authorizer.claims.tenant"),
                ("404", "append:header.set-cookie", "b=2"),
                ("200", "overwrite:statuscode", "$response.header.x-status"),
            ],
        );
        let mut headers = HeaderMap::new();
        headers.insert("x-backend", HeaderValue::from_static("pets-1"));
        headers.insert("set-cookie", HeaderValue::from_static("a=1"));
        let mut gone = GatewayResponse::new(StatusCode::NOT_FOUND, headers, r#"{"error":"no pet"}"#);
        map_response(&mapping, scope, &mut gone).expect("mapped");
        assert_eq!(gone.status, StatusCode::GONE);
        assert_eq!(gone.headers["x-why"], "no pet:pets-1");
        assert_eq!(gone.headers["x-tenant"], "acme");
        assert_eq!(gone.headers.get_all("set-cookie").iter().count(), 2, "cookies keep their own lines");
        let mut other = GatewayResponse::new(StatusCode::CREATED, HeaderMap::new(), "");
        map_response(&mapping, scope, &mut other).expect("no rules for 201");
        assert_eq!(other, GatewayResponse::new(StatusCode::CREATED, HeaderMap::new(), ""));
        let mut bad = GatewayResponse::new(StatusCode::OK, HeaderMap::new(), "");
        bad.headers.insert("x-status", HeaderValue::from_static("700"));
        let err = map_response(&mapping, scope, &mut bad).expect_err("700 is no status");
        assert!(matches!(err, GatewayError::IntegrationFailure(ref why) if why.contains("\"700\"")), "{err:?}");
    }

    #[test]
    fn the_rewrite_keeps_the_backend_and_its_query() {
        let mut outgoing =
            Request::builder().uri("http://backend:8080/old/path?x=1").body(Full::new(Bytes::new())).expect("r");
        let mut request = GatewayRequest::new(http::Method::GET, "/");
        request.headers.insert(header::HOST, HeaderValue::from_static("pets.internal"));
        let rewrite = Rewrite { path: Some("/new path/ü".to_owned()), host: true };
        rewrite.apply(&mut outgoing, &request).expect("valid");
        assert_eq!(outgoing.uri(), "http://backend:8080/new%20path/%C3%BC?x=1");
        assert_eq!(outgoing.headers()[header::HOST], "pets.internal");
    }
}
