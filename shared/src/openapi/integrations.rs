//! One operation's `x-amazon-apigateway-integration` to a Tollgate integration: Lambda proxy and non-proxy,
//! HTTP proxy and non-proxy, mock; or the reason it cannot run (AWS service integrations, VPC links).

use serde_json::{Map, Value, json};

use super::{ImportError, refs};

/// A mapped integration and how it differs from API Gateway's.
pub(super) struct Mapped {
    pub integration: Value,
    pub differences: Vec<String>,
}

/// Fields Tollgate reads or knowingly ignores; any other is named in the report.
const KNOWN: [&str; 19] = [
    "type",
    "uri",
    "httpMethod",
    "timeoutInMillis",
    "payloadFormatVersion",
    "credentials",
    "connectionType",
    "responses",
    "requestTemplates",
    "requestParameters",
    "responseParameters",
    "passthroughBehavior",
    "contentHandling",
    "description",
    "cacheKeyParameters",
    "cacheNamespace",
    "integrationSubtype",
    "tlsConfig",
    "connectionId",
];

/// The largest integration timeout Tollgate allows (API Gateway's HTTP API limit).
const MAX_TIMEOUT_MS: u64 = 30_000;

/// `Ok(Err(reason))` when the operation cannot run; `Err` when the document itself is wrong.
pub(super) fn integration(
    root: &Value,
    operation: &Value,
    pointer: &str,
    http_api: bool,
) -> Result<Result<Mapped, String>, ImportError> {
    let Some(found) = operation.get("x-amazon-apigateway-integration") else {
        return Ok(Err("no x-amazon-apigateway-integration".to_owned()));
    };
    let pointer = format!("{pointer}/x-amazon-apigateway-integration");
    let (x, _) = refs::follow(root, found, &pointer)?;
    let text = |key: &str| x.get(key).and_then(Value::as_str).unwrap_or("");
    let kind = text("type").to_ascii_lowercase();
    if let Some(subtype) = x.get("integrationSubtype").and_then(Value::as_str) {
        return Ok(Err(format!("an AWS service integration ({subtype}): Tollgate integrates Lambda, HTTP and mocks")));
    }
    if text("connectionType").eq_ignore_ascii_case("VPC_LINK") {
        return Ok(Err("connectionType VPC_LINK: Tollgate reaches public HTTP backends and Lambda only".to_owned()));
    }
    let mut differences = Vec::new();
    let unknown: Vec<&str> =
        x.as_object().into_iter().flatten().map(|(k, _)| k.as_str()).filter(|k| !KNOWN.contains(k)).collect();
    if !unknown.is_empty() {
        differences.push(format!("ignored: {}", unknown.join(", ")));
    }
    if !text("credentials").is_empty() {
        differences.push("credentials ignored: Tollgate calls with its own role".to_owned());
    }
    if x.get("cacheKeyParameters").is_some() || x.get("cacheNamespace").is_some() {
        differences.push("cacheKeyParameters ignored: set caching on the route in the definition".to_owned());
    }
    if x.get("tlsConfig").is_some() {
        differences.push("tlsConfig ignored: backends' certificates are always verified".to_owned());
    }
    let mut out = Map::new();
    match kind.as_str() {
        "aws_proxy" | "aws" => {
            let uri = text("uri");
            let Some(function) = lambda_function(uri) else {
                let service = uri.split(':').nth(4).unwrap_or("an AWS service");
                return Ok(Err(format!(
                    "an AWS service integration ({service}): Tollgate integrates Lambda, HTTP and mocks"
                )));
            };
            out.insert("type".into(), "lambda".into());
            let function = function_name(&function, &mut differences);
            out.insert("function".into(), function.into());
            if let Some(version) = x.get("payloadFormatVersion") {
                out.insert("payloadFormatVersion".into(), version.clone());
            }
        }
        "http_proxy" | "http" => {
            out.insert("type".into(), "http".into());
            out.insert("url".into(), text("uri").into());
            let method = text("httpMethod").to_ascii_uppercase();
            if !method.is_empty() && method != "ANY" {
                out.insert("method".into(), method.into());
            }
        }
        "mock" if http_api => return Ok(Err("a mock: HTTP APIs have no mock integrations".to_owned())),
        "mock" => return Ok(Ok(mock(x, differences))),
        "" => return Err(ImportError::at(format!("{pointer}/type"), "the integration has no type")),
        other => {
            return Err(ImportError::at(
                format!("{pointer}/type"),
                format!("unknown integration type {other:?}: aws_proxy, aws, http_proxy, http or mock"),
            ));
        }
    }
    if let Some(timeout) = x.get("timeoutInMillis").and_then(Value::as_u64) {
        if timeout > MAX_TIMEOUT_MS {
            differences.push(format!("timeout {timeout} ms shortened to {MAX_TIMEOUT_MS} ms"));
        }
        out.insert("timeoutMs".into(), timeout.clamp(50, MAX_TIMEOUT_MS).into());
    }
    let proxy = kind.ends_with("_proxy");
    if !proxy {
        out.insert("proxy".into(), false.into());
        if let Some(behavior) = x.get("passthroughBehavior").and_then(Value::as_str) {
            out.insert("passthroughBehavior".into(), behavior.to_ascii_uppercase().into());
        }
        for key in ["requestTemplates", "responses"] {
            if let Some(value) = x.get(key) {
                out.insert(key.into(), value.clone());
            }
        }
        if let Some(handling) = x.get("contentHandling").and_then(Value::as_str) {
            differences.push(format!("contentHandling {handling} not applied: bodies pass as they are"));
        }
    }
    parameters(x, proxy, &mut out, &mut differences);
    Ok(Ok(Mapped { integration: Value::Object(out), differences }))
}

/// HTTP APIs' parameter mapping (`append:header.x`) is Tollgate's. Of REST's `integration.request.*`, a path
/// parameter passed on under its own name is what Tollgate does anyway (`{proxy}` in the URL is the route's
/// `{proxy}`); the rest is not applied.
fn parameters(x: &Value, proxy: bool, out: &mut Map<String, Value>, differences: &mut Vec<String>) {
    if let Some(request) = x.get("requestParameters").and_then(Value::as_object) {
        let (http, rest): (Map<String, Value>, Map<String, Value>) =
            request.clone().into_iter().partition(|(k, _)| k.contains(':'));
        if !http.is_empty() {
            out.insert("requestParameters".into(), Value::Object(http));
        }
        let same_path = |key: &str, value: &Value| {
            let name = key.strip_prefix("integration.request.path.");
            name.is_some_and(|n| value.as_str() == Some(&format!("method.request.path.{n}")))
        };
        let keys: Vec<&str> = rest.iter().filter(|(k, v)| !same_path(k, v)).map(|(k, _)| k.as_str()).collect();
        if !keys.is_empty() {
            differences.push(format!("requestParameters not applied: {}", keys.join(", ")));
        }
    }
    if let Some(response) = x.get("responseParameters").filter(|_| proxy) {
        out.insert("responseParameters".into(), response.clone());
    }
}

/// A REST mock. One that answers fixed text (a static request template naming the status, one integration
/// response with literal headers and a static template, the CORS preflight's shape) becomes Tollgate's fixed mock;
/// any other keeps its request templates and responses, as REST runs them.
fn mock(x: &Value, differences: Vec<String>) -> Mapped {
    match fixed_mock(x) {
        Some(integration) => Mapped { integration, differences },
        None => {
            let x = x.as_object().cloned().unwrap_or_default();
            Mapped { integration: templated_mock(&x, str::to_ascii_uppercase), differences }
        }
    }
}

/// A mock with its request templates, responses and passthrough behaviour (spelled by `case`), in either
/// direction: the extension's and the definition's fields have the same names.
pub(super) fn templated_mock(x: &Map<String, Value>, case: fn(&str) -> String) -> Value {
    let mut out = json!({ "type": "mock" });
    for key in ["requestTemplates", "responses"] {
        if let Some(value) = x.get(key) {
            out[key] = value.clone();
        }
    }
    if let Some(behavior) = x.get("passthroughBehavior").and_then(Value::as_str) {
        out["passthroughBehavior"] = case(behavior).into();
    }
    out
}

fn fixed_mock(x: &Value) -> Option<Value> {
    let dynamic = |t: &str| t.contains('$') || t.contains('#');
    let templates = x.get("requestTemplates").and_then(Value::as_object)?;
    let [(_, request)] = templates.iter().collect::<Vec<_>>()[..] else { return None };
    let request = request.as_str().filter(|t| !dynamic(t))?;
    let status = serde_json::from_str::<Value>(request).ok()?.get("statusCode")?.as_u64()?;
    let responses = x.get("responses").and_then(Value::as_object)?;
    let [(_, response)] = responses.iter().collect::<Vec<_>>()[..] else { return None };
    let code = match response.get("statusCode") {
        Some(Value::String(s)) => s.parse::<u64>().ok()?,
        Some(v) => v.as_u64()?,
        None => return None,
    };
    if code != status {
        return None;
    }
    let mut out = json!({ "type": "mock" });
    if code != 200 {
        out["statusCode"] = code.into();
    }
    let mut headers = Map::new();
    for (key, value) in response.get("responseParameters").and_then(Value::as_object).into_iter().flatten() {
        let name = key.strip_prefix("method.response.header.")?;
        let literal = value.as_str()?.strip_prefix('\'')?.strip_suffix('\'')?;
        headers.insert(name.to_owned(), literal.into());
    }
    if !headers.is_empty() {
        out["headers"] = Value::Object(headers);
    }
    let templates = response.get("responseTemplates").and_then(Value::as_object);
    match templates.map(|t| t.iter().collect::<Vec<_>>()).as_deref() {
        None | Some([]) => {}
        Some([(_, body)]) => {
            let body = body.as_str().filter(|b| !dynamic(b))?;
            if !body.is_empty() {
                out["body"] = body.into();
            }
        }
        Some(_) => return None,
    }
    Some(out)
}

/// A function ARN with placeholders nobody filled becomes the name they leave: `...:function:orders` is
/// `orders`, `${OrdersFunction.Arn}` is the template's `OrdersFunction` (what `sam local` calls it too).
pub(super) fn function_name(function: &str, differences: &mut Vec<String>) -> String {
    let unfilled = function.match_indices("${").any(|(at, _)| !function[at + 2..].starts_with("stageVariables."));
    if !unfilled {
        return function.to_owned();
    }
    let name = match function.rsplit_once(":function:") {
        Some((_, name)) if !name.contains("${") => name.to_owned(),
        _ => function.trim_start_matches("${").trim_end_matches('}').trim_end_matches(".Arn").to_owned(),
    };
    differences.push(format!("the function is {name}: {function} has placeholders nobody filled"));
    name
}

/// The function of a Lambda invocation URI
/// (`arn:aws:apigateway:REGION:lambda:path/2015-03-31/functions/FUNCTION/invocations`).
pub(super) fn lambda_function(uri: &str) -> Option<String> {
    let rest = uri.strip_prefix("arn:")?;
    let (_, rest) = rest.split_once(":apigateway:")?;
    let (_, rest) = rest.split_once(":lambda:path/")?;
    let (_, function) = rest.split_once("/functions/")?;
    let function = function.strip_suffix("/invocations")?;
    (!function.is_empty()).then(|| function.to_owned())
}
