//! A definition back to OpenAPI 3 or Swagger 2 with API Gateway's extensions, in the shapes API Gateway's own
//! export writes, so its import takes the file. What the extensions cannot say (stages, throttles, caching,
//! WebSocket routes, a JWT authorizer's leeway...) is kept under the root's `x-tollgate`, as a JSON Merge Patch
//! (RFC 7396) over what the standard part imports to: `import(export(d)) == d` holds by construction, and a file
//! that API Gateway itself exported carries no `x-tollgate` at all (the tests check both).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{ImportOptions, api, import_value, integrations, token};
use crate::route_key::{RouteKey, Segment};

/// The root member holding what only Tollgate has.
pub(super) const OWN: &str = "x-tollgate";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ExportFormat {
    /// OpenAPI 3.0.1 (3.1.0 when a model is JSON Schema 2020-12).
    #[default]
    OpenApi3,
    /// Swagger 2.0; REST APIs only, as API Gateway's export.
    Swagger2,
}

/// Why a definition cannot be exported.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("HTTP APIs are exported as OpenAPI 3 only, as API Gateway's export")]
    HttpAsSwagger,
    #[error("the definition is not a map")]
    NotAMap,
    #[error("route {route:?}: {problem}")]
    Route { route: String, problem: String },
    #[error("the export does not import back: {0}")]
    NoRoundTrip(String),
}

/// The definition (JSON form of `gateway.yaml`) as an OpenAPI or Swagger document.
pub fn export(definition: &Value, format: ExportFormat) -> Result<Value, ExportError> {
    let object = definition.as_object().ok_or(ExportError::NotAMap)?;
    let http = object.get("type").and_then(Value::as_str).is_none_or(|t| t.eq_ignore_ascii_case("HTTP"));
    if http && format == ExportFormat::Swagger2 {
        return Err(ExportError::HttpAsSwagger);
    }
    let mut document = standard(object, http, format)?;
    let back = import_value(document.clone(), &ImportOptions::default())
        .map_err(|e| ExportError::NoRoundTrip(e.to_string()))?;
    if let Some(patch) = merge_patch(&back.definition, definition) {
        // A merge patch cannot set a member to null (null removes it): say so rather than export a file that
        // imports to something else.
        let mut patched = back.definition.clone();
        merge(&mut patched, &patch);
        if patched != *definition {
            return Err(ExportError::NoRoundTrip("the definition holds a null the export cannot keep".to_owned()));
        }
        document[OWN] = patch;
    }
    Ok(document)
}

/// The part API Gateway reads.
fn standard(object: &Map<String, Value>, http: bool, format: ExportFormat) -> Result<Value, ExportError> {
    let swagger = format == ExportFormat::Swagger2;
    let name = object.get("name").and_then(Value::as_str).unwrap_or("tollgate");
    let models = object.get("models").and_then(Value::as_object);
    let modern = models
        .into_iter()
        .flatten()
        .any(|(_, m)| m.get("$schema").and_then(Value::as_str).is_some_and(|s| s.contains("2020-12")));
    let mut doc = if swagger {
        json!({ "swagger": "2.0", "info": { "title": name, "version": "1.0" }, "paths": {} })
    } else {
        let version = if modern { "3.1.0" } else { "3.0.1" };
        json!({ "openapi": version, "info": { "title": name, "version": "1.0" }, "paths": {} })
    };
    if http {
        doc["x-amazon-apigateway-importexport-version"] = "1.0".into();
    }
    let ext = |name: &str| format!("x-amazon-apigateway-{name}");
    for (key, extension) in [
        ("binaryMediaTypes", "binary-media-types"),
        ("minimumCompressionSize", "minimum-compression-size"),
        ("gatewayResponses", "gateway-responses"),
        ("requestValidators", "request-validators"),
        ("requestValidator", "request-validator"),
        ("cors", "cors"),
    ] {
        if let Some(value) = object.get(key) {
            doc[ext(extension)] = value.clone();
        }
    }
    if let Some(source) = object.get("apiKeys").and_then(|k| k.get("source")) {
        doc[ext("api-key-source")] = source.clone();
    }
    if let Some(models) = models {
        let base = if swagger { "#/definitions/" } else { "#/components/schemas/" };
        let to_model = |target: &str| models.contains_key(target).then(|| format!("{base}{target}"));
        let models = models
            .iter()
            .map(|(n, m)| {
                let mut m = strip_schema_uri(m, modern);
                api::rewrite_refs(&mut m, &to_model);
                (n.clone(), m)
            })
            .collect();
        if swagger {
            doc["definitions"] = Value::Object(models);
        } else {
            doc["components"]["schemas"] = Value::Object(models);
        }
    }
    let mut schemes = Map::new();
    for (name, authorizer) in object.get("authorizers").and_then(Value::as_object).into_iter().flatten() {
        schemes.insert(name.clone(), security_scheme(authorizer, http));
    }
    let routes = object.get("routes").and_then(Value::as_object);
    if routes.into_iter().flatten().any(|(_, r)| r.get("apiKeyRequired") == Some(&Value::Bool(true))) {
        schemes.insert("api_key".into(), json!({ "type": "apiKey", "name": "x-api-key", "in": "header" }));
    }
    if !schemes.is_empty() {
        if swagger {
            doc["securityDefinitions"] = Value::Object(schemes);
        } else {
            doc["components"]["securitySchemes"] = Value::Object(schemes);
        }
    }
    let default_authorizer = object.get("defaultAuthorizer").and_then(Value::as_str);
    for (key, route) in routes.into_iter().flatten() {
        let Some((path, method)) = path_and_method(key)? else { continue };
        let operation = operation(route, &path, default_authorizer, swagger, http);
        doc["paths"][&path][&method] = operation;
    }
    Ok(doc)
}

/// The path and OpenAPI method of a route key; `$default` is HTTP APIs' `/$default` on any method.
fn path_and_method(key: &str) -> Result<Option<(String, String)>, ExportError> {
    let parsed = RouteKey::parse(key).map_err(|problem| ExportError::Route { route: key.to_owned(), problem })?;
    let any = "x-amazon-apigateway-any-method".to_owned();
    Ok(match parsed {
        RouteKey::Default => Some(("/$default".to_owned(), any)),
        RouteKey::Path { method, .. } => {
            let path = key.split_once(' ').map_or("/", |(_, p)| p).to_owned();
            Some((path, method.map_or(any, |m| m.as_str().to_ascii_lowercase())))
        }
    })
}

/// A 2020-12 model says so by the document's version; others keep what they have.
fn strip_schema_uri(model: &Value, modern: bool) -> Value {
    let mut model = model.clone();
    if modern && let Some(object) = model.as_object_mut() {
        object.remove("$schema");
    }
    model
}

fn security_scheme(authorizer: &Value, http: bool) -> Value {
    let text = |key: &str| authorizer.get(key).and_then(Value::as_str).unwrap_or("");
    match text("type") {
        "jwt" if authorizer.get("anyAudience") == Some(&Value::Bool(true)) => {
            // A Cognito user pool: the issuer is https://cognito-idp.REGION.amazonaws.com/POOL.
            let rest = text("issuer").trim_start_matches("https://cognito-idp.");
            let (region, pool) = rest.split_once(".amazonaws.com/").unwrap_or((rest, ""));
            json!({
                "type": "apiKey", "name": "Authorization", "in": "header",
                "x-amazon-apigateway-authtype": "cognito_user_pools",
                "x-amazon-apigateway-authorizer": {
                    "type": "cognito_user_pools",
                    "providerARNs": [format!("arn:aws:cognito-idp:{region}:${{AWS::AccountId}}:userpool/{pool}")],
                    "identitySource": rest_source(authorizer.get("identitySource")),
                },
            })
        }
        "jwt" => {
            let mut x = json!({
                "type": "jwt",
                "jwtConfiguration": { "issuer": text("issuer"), "audience": authorizer.get("audiences") },
                "identitySource": authorizer.get("identitySource").and_then(Value::as_str)
                    .unwrap_or("$request.header.Authorization"),
            });
            if !http {
                x["identitySource"] = rest_source(authorizer.get("identitySource")).into();
            }
            json!({ "type": "oauth2", "flows": {}, "x-amazon-apigateway-authorizer": x })
        }
        _ => {
            let function = text("function");
            let token = authorizer.get("eventType").and_then(Value::as_str) == Some("TOKEN");
            let sources =
                authorizer.get("identitySources").cloned().unwrap_or_else(|| json!(["$request.header.Authorization"]));
            let header = sources
                .get(0)
                .and_then(Value::as_str)
                .and_then(|s| s.strip_prefix("$request.header."))
                .unwrap_or("Unused");
            let sources: Vec<String> = sources
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
                .map(|s| rest_source(Some(&s.into())))
                .collect();
            let mut x = json!({
                "type": if token { "token" } else { "request" },
                "authorizerUri": lambda_uri(function),
                "identitySource": sources.join(", "),
            });
            for (to, from) in api::AUTHORIZER_FIELDS {
                if let Some(value) = authorizer.get(from) {
                    x[to] = value.clone();
                }
            }
            json!({ "type": "apiKey", "name": header, "in": "header", "x-amazon-apigateway-authtype": "custom",
                    "x-amazon-apigateway-authorizer": x })
        }
    }
}

/// Tollgate's `$request.header.X` in REST's spelling, `method.request.header.X`.
fn rest_source(source: Option<&Value>) -> String {
    let source = source.and_then(Value::as_str).unwrap_or("$request.header.Authorization");
    for (to, from) in api::IDENTITY_SPELLINGS {
        if let Some(name) = source.strip_prefix(from) {
            return format!("{to}{name}");
        }
    }
    source.to_owned()
}

/// The invocation URI of a function; the API's region is the function's when it is an ARN.
fn lambda_uri(function: &str) -> String {
    let region = function.strip_prefix("arn:aws:lambda:").and_then(|r| r.split(':').next()).unwrap_or("us-east-1");
    format!("arn:aws:apigateway:{region}:lambda:path/2015-03-31/functions/{function}/invocations")
}

fn operation(route: &Value, path: &str, default_authorizer: Option<&str>, swagger: bool, http: bool) -> Value {
    let mut op = json!({ "responses": { "default": { "description": "Default response" } } });
    if let Some(integration) = route.get("integration").and_then(|i| integration(i, http)) {
        op["x-amazon-apigateway-integration"] = integration;
    }
    let authorizer = route.get("authorizer").and_then(Value::as_str).or(default_authorizer).filter(|a| *a != "NONE");
    let mut requirement = Map::new();
    if let Some(name) = authorizer {
        requirement.insert(name.to_owned(), route.get("authorizationScopes").cloned().unwrap_or_else(|| json!([])));
    }
    if route.get("apiKeyRequired") == Some(&Value::Bool(true)) {
        requirement.insert("api_key".into(), json!([]));
    }
    if !requirement.is_empty() {
        op["security"] = json!([requirement]);
    }
    if let Some(validator) = route.get("requestValidator") {
        op["x-amazon-apigateway-request-validator"] = validator.clone();
    }
    let mut parameters: BTreeMap<(String, String), bool> = BTreeMap::new();
    // OpenAPI requires every path parameter declared, and required.
    if let Ok(RouteKey::Path { segments, .. }) = RouteKey::parse(&format!("GET {path}")) {
        for segment in segments {
            if let Segment::Param(name) | Segment::Greedy(name) = segment {
                parameters.insert(("path".into(), name), true);
            }
        }
    }
    for (key, required) in route.get("requestParameters").and_then(Value::as_object).into_iter().flatten() {
        let key = key.trim_start_matches("method.request.");
        let Some((place, name)) = key.split_once('.') else { continue };
        let place = if place == "querystring" { "query" } else { place };
        parameters.insert((place.to_owned(), name.to_owned()), required.as_bool().unwrap_or(false) || place == "path");
    }
    let mut list: Vec<Value> = parameters
        .into_iter()
        .map(|((place, name), required)| {
            let mut p = json!({ "name": name, "in": place, "required": required });
            if swagger {
                p["type"] = "string".into()
            } else {
                p["schema"] = json!({ "type": "string" })
            }
            p
        })
        .collect();
    let models = route.get("requestModels").and_then(Value::as_object);
    if let Some(models) = models.filter(|m| !m.is_empty()) {
        let reference = |model: &Value| {
            let name = model.as_str().unwrap_or("");
            let base = if swagger { "#/definitions/" } else { "#/components/schemas/" };
            json!({ "$ref": format!("{base}{}", token(name)) })
        };
        if swagger {
            let (_, first) = models.iter().next().expect("not empty");
            op["consumes"] = Value::Array(models.keys().map(|k| k.clone().into()).collect());
            list.push(json!({ "in": "body", "name": first, "required": true, "schema": reference(first) }));
        } else {
            let content: Map<String, Value> =
                models.iter().map(|(t, m)| (t.clone(), json!({ "schema": reference(m) }))).collect();
            op["requestBody"] = json!({ "content": content });
        }
    }
    if !list.is_empty() {
        op["parameters"] = Value::Array(list);
    }
    op
}

/// `x-amazon-apigateway-integration`; `None` for what the API type cannot say (an HTTP API's mock).
fn integration(integration: &Value, http: bool) -> Option<Value> {
    let object = integration.as_object()?;
    let text = |key: &str| object.get(key).and_then(Value::as_str).unwrap_or("");
    let proxy = object.get("proxy") != Some(&Value::Bool(false));
    let mut x = match text("type") {
        "lambda" => json!({
            "type": if proxy { "aws_proxy" } else { "aws" },
            "httpMethod": "POST",
            "uri": lambda_uri(text("function")),
        }),
        "http" => json!({
            "type": if proxy { "http_proxy" } else { "http" },
            "httpMethod": object.get("method").and_then(Value::as_str).unwrap_or("ANY"),
            "uri": text("url"),
        }),
        "mock" if !http => return Some(mock(object)),
        _ => return None,
    };
    for (from, to) in [
        ("payloadFormatVersion", "payloadFormatVersion"),
        ("timeoutMs", "timeoutInMillis"),
        ("requestTemplates", "requestTemplates"),
        ("responses", "responses"),
        ("requestParameters", "requestParameters"),
        ("responseParameters", "responseParameters"),
    ] {
        if let Some(value) = object.get(from) {
            x[to] = value.clone();
        }
    }
    if let Some(behavior) = object.get("passthroughBehavior").and_then(Value::as_str) {
        x["passthroughBehavior"] = behavior.to_ascii_lowercase().into();
    }
    Some(x)
}

/// A mock as REST writes one: the request template picks the status, the integration response answers it. One
/// with templates of its own keeps them.
fn mock(object: &Map<String, Value>) -> Value {
    if object.contains_key("requestTemplates") || object.contains_key("responses") {
        // An export spells the passthrough behaviour in lower case, as API Gateway's does.
        return integrations::templated_mock(object, str::to_ascii_lowercase);
    }
    let status = object.get("statusCode").and_then(Value::as_u64).unwrap_or(200);
    let mut response = json!({ "statusCode": status.to_string() });
    let headers = object.get("headers").and_then(Value::as_object);
    if let Some(headers) = headers.filter(|h| !h.is_empty()) {
        let parameters: Map<String, Value> = headers
            .iter()
            .map(|(name, value)| {
                (format!("method.response.header.{name}"), format!("'{}'", value.as_str().unwrap_or("")).into())
            })
            .collect();
        response["responseParameters"] = Value::Object(parameters);
    }
    if let Some(body) = object.get("body").and_then(Value::as_str).filter(|b| !b.is_empty()) {
        let media = headers
            .and_then(|h| h.iter().find(|(n, _)| n.eq_ignore_ascii_case("content-type")))
            .and_then(|(_, v)| v.as_str())
            .unwrap_or("application/json");
        response["responseTemplates"] = json!({ media: body });
    }
    json!({
        "type": "mock",
        "requestTemplates": { "application/json": format!("{{\"statusCode\": {status}}}") },
        "passthroughBehavior": "when_no_match",
        "responses": { "default": response },
    })
}

/// The JSON Merge Patch (RFC 7396) that turns `from` into `to`; `None` when they are equal.
pub(super) fn merge_patch(from: &Value, to: &Value) -> Option<Value> {
    if from == to {
        return None;
    }
    match (from, to) {
        (Value::Object(from), Value::Object(to)) => {
            let mut patch = Map::new();
            for (key, want) in to {
                match from.get(key) {
                    Some(have) => {
                        if let Some(inner) = merge_patch(have, want) {
                            patch.insert(key.clone(), inner);
                        }
                    }
                    None => {
                        patch.insert(key.clone(), want.clone());
                    }
                }
            }
            for key in from.keys().filter(|k| !to.contains_key(*k)) {
                patch.insert(key.clone(), Value::Null);
            }
            Some(Value::Object(patch))
        }
        _ => Some(to.clone()),
    }
}

/// Applies a JSON Merge Patch (RFC 7396).
pub(super) fn merge(target: &mut Value, patch: &Value) {
    let Value::Object(patch) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let object = target.as_object_mut().expect("made an object");
    for (key, value) in patch {
        if value.is_null() {
            object.remove(key);
        } else {
            merge(object.entry(key.clone()).or_insert(Value::Null), value);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn merge_patch_is_undone_by_merge() {
        let from = json!({"a": 1, "b": {"c": [1, 2], "d": "x"}, "gone": true});
        let to = json!({"a": 1, "b": {"c": [3], "e": {"f": 1}}, "new": "y"});
        let patch = merge_patch(&from, &to).expect("differs");
        assert_eq!(patch, json!({"b": {"c": [3], "d": null, "e": {"f": 1}}, "gone": null, "new": "y"}));
        let mut merged = from.clone();
        merge(&mut merged, &patch);
        assert_eq!(merged, to);
        assert_eq!(merge_patch(&to, &to), None);
    }
}
