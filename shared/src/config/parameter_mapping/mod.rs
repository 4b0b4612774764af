//! HTTP API parameter mapping: an integration's `requestParameters` and `responseParameters` (API Gateway's
//! "Transform API requests and responses for HTTP APIs", DG:http-api-parameter-mapping). Every key and value is
//! checked and parsed here, once, at load: a key into an action on a place (`append:header.x-tenant`), a value
//! into literal text and references (`/v2/pets/$request.path.id`), stage variables already filled in.
//! `integration/parameter_mapping.rs` applies the rules per request.

use std::{collections::BTreeMap, sync::Arc};

use http::{HeaderName, HeaderValue, StatusCode};
use serde::Deserialize;

mod value;

use super::{file::IntegrationFile, gateway_responses::ContextVar};
use crate::request::ApiType;

/// `requestParameters`: key (`overwrite:querystring.id`) to value.
pub type RequestParametersFile = BTreeMap<String, String>;
/// `responseParameters`: status code (`"404"`) to its keys and values.
pub type ResponseParametersFile = BTreeMap<StatusKey, BTreeMap<String, String>>;

/// A `responseParameters` key as YAML gives it: API Gateway writes `"404"`, YAML readers often `404`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Deserialize)]
#[serde(untagged)]
pub enum StatusKey {
    Number(u64),
    Text(String),
}

impl std::fmt::Display for StatusKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Number(n) => write!(f, "{n}"),
            Self::Text(text) => f.write_str(text),
        }
    }
}

/// How a rule changes its place.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Append,
    Overwrite,
    Remove,
}

/// What a rule changes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    Header(HeaderName),
    Query(String),
    /// The backend URL's path (requests to HTTP integrations).
    Path,
    /// The status the client gets (responses).
    StatusCode,
}

impl std::fmt::Display for Place {
    /// As keys write it: `header.x-tenant`, `querystring.id`, `path`, `statuscode`.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Header(name) => write!(f, "header.{name}"),
            Self::Query(name) => write!(f, "querystring.{name}"),
            Self::Path => f.write_str("path"),
            Self::StatusCode => f.write_str("statuscode"),
        }
    }
}

/// One mapping: its action, its place and its value (empty for `remove`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    pub action: Action,
    pub place: Place,
    pub value: Vec<Piece>,
}

/// A piece of a value. `Header` and `Body` read the request in `requestParameters` and the integration's
/// response in `responseParameters`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    /// Every value of the header, joined with `,`.
    Header(HeaderName),
    /// Every value of the query parameter, decoded, joined with `,`.
    Query(String),
    /// `$request.path`: the decoded path, without the stage.
    Path,
    PathParam(String),
    /// A JSONPath into the body; no steps: the whole body.
    Body(Vec<Step>),
    Context(ContextVar),
    /// `$context.authorizer.<key>` (a Lambda authorizer's context, `principalId`) or `authorizer.claims.<claim>`.
    Authorizer(String),
}

/// A step of the JSONPath subset: `.name` or `[index]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// A route's parameter mapping, checked.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParameterMapping {
    pub request: Vec<Rule>,
    /// The status the integration answered with, to the rules for it.
    pub response: BTreeMap<u16, Vec<Rule>>,
}

impl ParameterMapping {
    /// The rules for a response of `status` (none when the mapping names no such status).
    pub fn for_status(&self, status: StatusCode) -> &[Rule] {
        self.response.get(&status.as_u16()).map_or(&[], Vec::as_slice)
    }
}

/// The integration a mapping belongs to: an HTTP backend takes every place, a Lambda function all but the path.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Http,
    Lambda,
}

/// Which side of the exchange a rule maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Request,
    Response,
}

/// Headers no mapping may set, remove or read: API Gateway's reserved headers for HTTP API parameter mapping
/// (DG:http-api-parameter-mapping, "Reserved headers"; the reference sheet §9.3 lists the same), exact names and
/// prefixes. `Trailers` is spelled as the guide spells it.
const RESERVED: [&str; 18] = [
    "authorization",
    "connection",
    "content-encoding",
    "content-length",
    "content-location",
    "forwarded",
    "keep-alive",
    "origin",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailers",
    "transfer-encoding",
    "upgrade",
    "x-forwarded-for",
    "x-forwarded-host",
    "x-forwarded-proto",
    "via",
];
const RESERVED_PREFIXES: [&str; 4] = ["access-control-", "apigw-", "x-amz-", "x-amzn-"];

/// A header name a mapping may use; the error names the header.
fn header_name(name: &str) -> Result<HeaderName, String> {
    let parsed = HeaderName::from_bytes(name.as_bytes()).map_err(|_| format!("{name:?} is not a header name"))?;
    let lower = parsed.as_str();
    if RESERVED.contains(&lower) || RESERVED_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        return Err(format!("{name} is a reserved header: API Gateway does not let parameter mapping use it"));
    }
    Ok(parsed)
}

/// The mapping of an integration as the file gives it: Lambda and HTTP integrations may have one, a mock (which
/// HTTP APIs do not have) may not, so its file shape has no such fields.
pub fn compile_integration(
    integration: &IntegrationFile,
    params: &[&str],
    vars: &BTreeMap<String, String>,
    api: ApiType,
) -> Result<Option<Arc<ParameterMapping>>, String> {
    let (target, request, response) = match integration {
        IntegrationFile::Lambda { request_parameters, response_parameters, .. } => {
            (Target::Lambda, request_parameters, response_parameters)
        }
        IntegrationFile::Http { request_parameters, response_parameters, .. } => {
            (Target::Http, request_parameters, response_parameters)
        }
        IntegrationFile::Mock { .. } => return Ok(None),
    };
    compile(request, response, target, params, vars, api)
}

/// Checks and parses an integration's mapping. `None`: it has none. `params` are the route's path parameters,
/// `vars` the stage's variables.
pub fn compile(
    request: &RequestParametersFile,
    response: &ResponseParametersFile,
    target: Target,
    params: &[&str],
    vars: &BTreeMap<String, String>,
    api: ApiType,
) -> Result<Option<Arc<ParameterMapping>>, String> {
    if request.is_empty() && response.is_empty() {
        return Ok(None);
    }
    if api == ApiType::Rest {
        return Err("requestParameters and responseParameters (append:, overwrite:, remove:) are HTTP API \
                    parameter mapping; a REST API maps with mapping templates and integration responses instead"
            .to_owned());
    }
    let in_request = |e: String| format!("requestParameters: {e}");
    let rules = compile_rules(request, Side::Request, target, params, vars).map_err(in_request)?;
    let mut by_status = BTreeMap::new();
    for (code, mapping) in response {
        let code = code.to_string();
        let status = code.parse::<u16>().ok().filter(|s| (200..=599).contains(s)).ok_or_else(|| {
            format!("responseParameters: {code:?} is not a status code (200-599) an integration answers with")
        })?;
        let rules = compile_rules(mapping, Side::Response, target, params, vars)
            .map_err(|e| format!("responseParameters.{code}: {e}"))?;
        by_status.insert(status, rules);
    }
    Ok(Some(Arc::new(ParameterMapping { request: rules, response: by_status })))
}

fn compile_rules(
    mapping: &BTreeMap<String, String>,
    side: Side,
    target: Target,
    params: &[&str],
    vars: &BTreeMap<String, String>,
) -> Result<Vec<Rule>, String> {
    let mut rules: Vec<Rule> = Vec::with_capacity(mapping.len());
    for (key, text) in mapping {
        let (action, place) = parse_key(key, side, target)?;
        // Two actions on one place would depend on an order API Gateway does not document.
        if let Some(other) = rules.iter().find(|r| r.place == place) {
            return Err(format!("{key}: {place} is already mapped by another rule ({:?}); keep one", other.action));
        }
        // API Gateway requires a value for `remove` too, and ignores it (`''` is customary).
        let value = match action {
            Action::Remove => Vec::new(),
            _ => value::parse_value(text, side, params, vars).map_err(|e| format!("{key}: {e}"))?,
        };
        if action != Action::Remove && value.is_empty() {
            return Err(format!("{key}: needs a value"));
        }
        check_literal(&place, &value).map_err(|e| format!("{key}: {e}"))?;
        rules.push(Rule { action, place, value });
    }
    Ok(rules)
}

/// `append:header.x-tenant` → (append, the header).
fn parse_key(key: &str, side: Side, target: Target) -> Result<(Action, Place), String> {
    let usage = match side {
        Side::Request => {
            "append|overwrite|remove:header.<name>, append|overwrite|remove:querystring.<name> or overwrite:path"
        }
        Side::Response => "append|overwrite|remove:header.<name> or overwrite:statuscode",
    };
    let bad = || format!("{key:?} is not a mapping key (use {usage})");
    let (action, place) = key.split_once(':').ok_or_else(bad)?;
    let action = match action {
        "append" => Action::Append,
        "overwrite" => Action::Overwrite,
        "remove" => Action::Remove,
        _ => return Err(bad()),
    };
    let place = match (place, side) {
        ("path", Side::Request) => Place::Path,
        ("statuscode", Side::Response) => Place::StatusCode,
        _ => match (place.split_once('.'), side) {
            (Some(("header", name)), _) => Place::Header(header_name(name).map_err(|e| format!("{key}: {e}"))?),
            (Some(("querystring", name)), Side::Request) if !name.is_empty() => Place::Query(name.to_owned()),
            _ => return Err(bad()),
        },
    };
    if matches!(place, Place::Path | Place::StatusCode) && action != Action::Overwrite {
        return Err(format!("{key:?}: the {place} can only be overwritten (overwrite:{place})"));
    }
    if place == Place::Path && target == Target::Lambda {
        return Err(
            "overwrite:path applies to HTTP integrations; a Lambda function gets the request's own path".to_owned()
        );
    }
    Ok((action, place))
}

/// A value with no references is checked now rather than per request: a status must be one, a header value valid.
fn check_literal(place: &Place, value: &[Piece]) -> Result<(), String> {
    let [Piece::Text(text)] = value else { return Ok(()) };
    match place {
        Place::StatusCode => match text.parse::<u16>() {
            Ok(200..=599) => Ok(()),
            _ => Err(format!("{text:?} is not a status code (200-599)")),
        },
        Place::Header(_) => {
            HeaderValue::try_from(text.as_str()).map(|_| ()).map_err(|_| format!("{text:?} is not a header value"))
        }
        Place::Query(_) | Place::Path => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> BTreeMap<String, String> {
        BTreeMap::from([("version".to_owned(), "v2".to_owned()), ("code".to_owned(), "410".to_owned())])
    }

    fn request(key: &str, value: &str) -> Result<Option<Arc<ParameterMapping>>, String> {
        let file = BTreeMap::from([(key.to_owned(), value.to_owned())]);
        compile(&file, &BTreeMap::new(), Target::Http, &["id", "proxy"], &vars(), ApiType::Http)
    }

    fn response(code: &str, key: &str, value: &str) -> Result<Option<Arc<ParameterMapping>>, String> {
        let file =
            BTreeMap::from([(StatusKey::Text(code.to_owned()), BTreeMap::from([(key.to_owned(), value.to_owned())]))]);
        compile(&BTreeMap::new(), &file, Target::Http, &["id"], &vars(), ApiType::Http)
    }

    #[test]
    fn values_split_into_text_and_references_once() {
        let mapping = request("overwrite:path", "/$stageVariables.version/pets/$request.path.id.").expect("valid");
        let rule = &mapping.expect("some").request[0];
        assert_eq!(
            rule.value,
            vec![Piece::Text("/v2/pets/".into()), Piece::PathParam("id".into()), Piece::Text(".".into())]
        );
        let mapping =
            request("append:header.x-all", "${request.header.x-a}-$context.requestId:${request.body.a[1].b}$5")
                .expect("valid")
                .expect("some");
        assert_eq!(
            mapping.request[0].value,
            vec![
                Piece::Header(HeaderName::from_static("x-a")),
                Piece::Text("-".into()),
                Piece::Context(ContextVar::RequestId),
                Piece::Text(":".into()),
                Piece::Body(vec![Step::Key("a".into()), Step::Index(1), Step::Key("b".into())]),
                Piece::Text("$5".into()),
            ]
        );
        let claims = request("overwrite:header.x-tenant", "$context.authorizer.claims.tenant").expect("valid");
        assert_eq!(claims.expect("some").request[0].value, vec![Piece::Authorizer("claims.tenant".into())]);
        let whole = response("404", "overwrite:statuscode", "$stageVariables.code").expect("valid").expect("some");
        assert_eq!(whole.for_status(StatusCode::NOT_FOUND)[0].value, vec![Piece::Text("410".into())]);
        assert!(whole.for_status(StatusCode::OK).is_empty());
        let removed = request("remove:header.x-debug", "$nonsense{").expect("the value of remove is ignored");
        assert_eq!(removed.expect("some").request[0].value, vec![]);
    }

    #[test]
    fn reserved_headers_are_refused_naming_them() {
        for (key, value) in [
            ("overwrite:header.Authorization", "x"),
            ("append:header.X-Amzn-Trace-Id", "x"),
            ("remove:header.access-control-allow-origin", "''"),
            ("overwrite:header.x-copy", "$request.header.Content-Length"),
            ("append:header.Via", "x"),
        ] {
            let err = request(key, value).expect_err(key);
            let header = key.rsplit('.').next().expect("name");
            let named = value.strip_prefix("$request.header.").unwrap_or(header);
            assert!(err.contains(&format!("{named} is a reserved header")), "{key}: {err}");
        }
        let err = response("200", "overwrite:header.Content-Encoding", "gzip").expect_err("reserved");
        assert!(err.contains("responseParameters.200") && err.contains("Content-Encoding is a reserved"), "{err}");
        assert!(request("overwrite:header.x-amazing", "x").is_ok(), "a prefix is x-amz-, not x-amz");
    }

    #[test]
    fn bad_keys_and_values_are_refused_at_load() {
        for (key, value, problem) in [
            ("overwrite:header.x", "$request.nope.x", "$request.nope.x is not a value"),
            ("overwrite:header.x", "${request.header.x", "unclosed \"${\""),
            ("overwrite:header.x", "a${}b", "empty"),
            ("overwrite:header.x", "$response.header.x", "$response is not available here"),
            ("overwrite:header.x", "$request.path.nope", "not a path parameter"),
            ("overwrite:header.x", "$context.nope", "$context.nope is not a context variable"),
            ("overwrite:header.x", "$context.error.message", "error answers"),
            ("overwrite:header.x", "$stageVariables.missing", "not defined in this stage"),
            ("overwrite:header.x", "$request.body..name", "recursive descent"),
            ("overwrite:header.x", "${request.body.items[?(@.a)]}", "filter"),
            ("overwrite:header.x", "${request.body.a[x]}", "array index"),
            ("overwrite:header.x", "$other.thing", "$other.thing is not a value"),
            ("overwrite:header.x", "", "needs a value"),
            ("overwrite:header.x", "bad\nvalue", "not a header value"),
            ("change:header.x", "v", "not a mapping key"),
            ("append:path", "/x", "can only be overwritten"),
            ("overwrite:statuscode", "200", "not a mapping key"),
            ("overwrite:querystring.", "v", "not a mapping key"),
            ("overwrite:header.bad name", "v", "not a header name"),
        ] {
            let err = request(key, value).expect_err(problem);
            assert!(err.starts_with("requestParameters: ") && err.contains(problem), "{key}: {value}: {err}");
        }
        for (code, key, value, problem) in [
            ("404", "overwrite:statuscode", "4100", "not a status code (200-599)"),
            ("404", "overwrite:statuscode", "gone", "not a status code"),
            ("404", "overwrite:statuscode", "199", "not a status code"),
            ("404", "append:statuscode", "410", "can only be overwritten"),
            ("404", "overwrite:querystring.x", "v", "not a mapping key"),
            ("404", "overwrite:header.x", "$request.header.x", "$request is not available here"),
            ("600", "overwrite:header.x", "v", "\"600\" is not a status code"),
            ("2xx", "overwrite:header.x", "v", "\"2xx\" is not a status code"),
        ] {
            let err = response(code, key, value).expect_err(problem);
            assert!(err.contains(problem), "{code} {key}: {err}");
        }
    }

    #[test]
    fn places_fit_the_integration_and_the_api_type() {
        let file = BTreeMap::from([("overwrite:path".to_owned(), "/x".to_owned())]);
        let lambda = compile(&file, &BTreeMap::new(), Target::Lambda, &[], &vars(), ApiType::Http);
        assert!(lambda.expect_err("lambda").contains("HTTP integrations"));
        let rest = compile(&file, &BTreeMap::new(), Target::Http, &[], &vars(), ApiType::Rest);
        assert!(rest.expect_err("rest").contains("REST API"));
        let twice = BTreeMap::from([
            ("append:header.x-a".to_owned(), "1".to_owned()),
            ("remove:header.X-A".to_owned(), "''".to_owned()),
        ]);
        let err = compile(&twice, &BTreeMap::new(), Target::Http, &[], &vars(), ApiType::Http).expect_err("twice");
        assert!(err.contains("already mapped"), "{err}");
        let none = compile(&BTreeMap::new(), &BTreeMap::new(), Target::Http, &[], &vars(), ApiType::Rest);
        assert_eq!(none, Ok(None), "no mapping is fine on any type");
    }
}
