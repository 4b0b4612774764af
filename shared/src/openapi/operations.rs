//! Each operation to a route: its key (`x-amazon-apigateway-any-method` is `ANY`), integration, authorizer and
//! API key requirement from `security`, request validator, required parameters and body models; and its line in
//! the report. An operation that cannot run gets no route, only its reason.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::{
    ImportError,
    api::{self, Scheme},
    integrations,
    read::{Document, Version},
    refs,
    report::{Outcome, Report, ReportLine},
    token,
};
use crate::route_key::{RouteKey, Segment};

const METHODS: [&str; 9] =
    ["get", "put", "post", "delete", "options", "head", "patch", "trace", "x-amazon-apigateway-any-method"];

/// The routes of every operation that can run; models the operations declare inline join `definition`.
pub(super) fn operations(
    doc: &Document,
    definition: &mut Value,
    report: &mut Report,
) -> Result<Map<String, Value>, ImportError> {
    let root = &doc.root;
    let Some(paths) = root.get("paths").and_then(Value::as_object) else {
        return Err(ImportError::at("/paths", "no paths: the document describes no operation"));
    };
    let schemes = api::schemes(doc, definition);
    let mut routes = Map::new();
    // Normalised key (parameter names dropped) to the key and pointer that took it.
    let mut taken: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (path, item) in paths {
        let item_pointer = format!("/paths/{}", token(path));
        let (item, _) = refs::follow(root, item, &item_pointer)?;
        let unfilled = path.contains("${");
        for method in METHODS {
            let Some(operation) = item.get(method) else { continue };
            let pointer = format!("{item_pointer}/{}", token(method));
            let verb = if method.starts_with("x-") { "ANY".to_owned() } else { method.to_ascii_uppercase() };
            let key =
                if path == "/$default" && verb == "ANY" { "$default".to_owned() } else { format!("{verb} {path}") };
            let mut line = |outcome| {
                report.operations.push(ReportLine { operation: key.clone(), pointer: pointer.clone(), outcome })
            };
            if unfilled {
                line(Outcome::Unsupported {
                    reason: "the path has a placeholder nobody filled: pass --param".to_owned(),
                });
                continue;
            }
            if method == "trace" {
                line(Outcome::Unsupported { reason: "TRACE: API Gateway has no TRACE method either".to_owned() });
                continue;
            }
            let parsed = RouteKey::parse(&key)
                .map_err(|e| ImportError::at(item_pointer.clone(), format!("the path {path:?} does not parse: {e}")))?;
            if let Some((other, at)) = taken.insert(normalised(&parsed), (key.clone(), pointer.clone())) {
                return Err(ImportError::at(
                    pointer,
                    format!("duplicate operation: {key} is the route {other} ({at}) already is"),
                ));
            }
            let mut differences = Vec::new();
            let mapped = match integrations::integration(root, operation, &pointer, api::is_http(doc))? {
                Ok(mapped) => mapped,
                Err(reason) => {
                    line(Outcome::Unsupported { reason });
                    continue;
                }
            };
            differences.extend(mapped.differences);
            let mut route = Map::new();
            route.insert("integration".into(), mapped.integration);
            if let Err(reason) = security(root, operation, &schemes, &mut route, &mut differences) {
                line(Outcome::Unsupported { reason });
                continue;
            }
            if let Some(validator) = operation.get("x-amazon-apigateway-request-validator").and_then(Value::as_str) {
                let at = format!("{pointer}/x-amazon-apigateway-request-validator");
                api::check_validator(definition.get("requestValidators"), validator, &at)?;
                route.insert("requestValidator".into(), validator.into());
            }
            let params = parsed.param_names().collect();
            let context = Context { doc, item, operation, pointer: &pointer, key: &key, params };
            request(&context, definition, &mut route, &mut differences)?;
            routes.insert(key.clone(), Value::Object(route));
            line(if differences.is_empty() { Outcome::Runs } else { Outcome::RunsWithDifferences { differences } });
        }
    }
    Ok(routes)
}

/// A route key with its parameters' names dropped: `/pets/{id}` and `/pets/{petId}` are one route.
fn normalised(key: &RouteKey) -> String {
    match key {
        RouteKey::Default => "$default".to_owned(),
        RouteKey::Path { method, segments } => {
            let method = method.as_ref().map_or("ANY", |m| m.as_str());
            let path: Vec<&str> = segments
                .iter()
                .map(|s| match s {
                    Segment::Static(s) => s.as_str(),
                    Segment::Param(_) => "{}",
                    Segment::Greedy(_) => "{+}",
                })
                .collect();
            format!("{method} /{}", path.join("/"))
        }
    }
}

/// The operation's `security` (or the API's): its authorizer, scopes and API key requirement. `Err` when it
/// names something Tollgate cannot check.
fn security(
    root: &Value,
    operation: &Value,
    schemes: &BTreeMap<String, Scheme>,
    route: &mut Map<String, Value>,
    differences: &mut Vec<String>,
) -> Result<(), String> {
    // The operation's own `x-amazon-apigateway-auth` (REST): `AWS_IAM`, or `NONE` over the API's security.
    match operation.pointer("/x-amazon-apigateway-auth/type").and_then(Value::as_str).map(str::to_ascii_uppercase) {
        Some(kind) if kind == "AWS_IAM" => return Err("IAM authorization (AWS_IAM): Tollgate has no IAM".to_owned()),
        Some(kind) if kind == "NONE" => return Ok(()),
        _ => {}
    }
    let Some(requirements) = operation.get("security").or_else(|| root.get("security")).and_then(Value::as_array)
    else {
        return Ok(());
    };
    let mut authorizer: Option<(String, bool, Vec<Value>)> = None;
    for requirement in requirements.iter().filter_map(Value::as_object) {
        for (name, scopes) in requirement {
            match schemes.get(name) {
                Some(Scheme::ApiKey) => {
                    route.insert("apiKeyRequired".into(), true.into());
                }
                Some(Scheme::Authorizer { name, jwt }) => match &authorizer {
                    Some((first, ..)) if first != name => {
                        differences.push(format!("authorizer {name} not applied: a route has one, {first}"));
                    }
                    _ => {
                        let scopes = scopes.as_array().cloned().unwrap_or_default();
                        authorizer = Some((name.clone(), *jwt, scopes));
                    }
                },
                Some(Scheme::Iam) => return Err(format!("IAM authorization ({name}): Tollgate has no IAM")),
                Some(Scheme::Unusable(reason)) => return Err(reason.clone()),
                Some(Scheme::NotEnforced) => {
                    differences.push(format!("security scheme {name} not enforced: it has no authorizer"));
                }
                None => return Err(format!("security names {name:?}, which no security scheme defines")),
            }
        }
    }
    if requirements.len() > 1 {
        differences.push("security alternatives are all required together".to_owned());
    }
    if let Some((name, jwt, scopes)) = authorizer {
        route.insert("authorizer".into(), name.into());
        if !scopes.is_empty() {
            if jwt {
                route.insert("authorizationScopes".into(), Value::Array(scopes));
            } else {
                differences.push("scopes ignored: only JWT and Cognito authorizers check scopes".to_owned());
            }
        }
    }
    Ok(())
}

/// Where an operation is, for the request mapping.
struct Context<'a> {
    doc: &'a Document,
    item: &'a Value,
    operation: &'a Value,
    pointer: &'a str,
    key: &'a str,
    /// The route's path parameters.
    params: Vec<&'a str>,
}

/// Required parameters and body models: path-level parameters, overridden by the operation's; Swagger's
/// `in: body` or OpenAPI's `requestBody`.
fn request(
    context: &Context<'_>,
    definition: &mut Value,
    route: &mut Map<String, Value>,
    differences: &mut Vec<String>,
) -> Result<(), ImportError> {
    let root = &context.doc.root;
    let mut parameters: Vec<(String, &Value)> = Vec::new();
    let item_pointer = context.pointer.rsplit_once('/').map_or("", |(p, _)| p);
    let lists = [(context.item, item_pointer), (context.operation, context.pointer)];
    for (holder, pointer) in lists {
        for (i, parameter) in holder.get("parameters").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let (parameter, _) = refs::follow(root, parameter, &format!("{pointer}/parameters/{i}"))?;
            let name = parameter.get("name").and_then(Value::as_str).unwrap_or("");
            let place = parameter.get("in").and_then(Value::as_str).unwrap_or("");
            let id = format!("{place} {name}");
            parameters.retain(|(other, _)| *other != id);
            parameters.push((id, parameter));
        }
    }
    let mut required = Map::new();
    let mut models = Map::new();
    for (_, parameter) in &parameters {
        let name = parameter.get("name").and_then(Value::as_str).unwrap_or("");
        let needed = parameter.get("required").and_then(Value::as_bool).unwrap_or(false);
        let place = match parameter.get("in").and_then(Value::as_str).unwrap_or("") {
            // A path parameter of the route is always there: requiring it says nothing (and OpenAPI declares
            // every one, so the import would not be canonical if it kept them).
            "path" if context.params.contains(&name) => continue,
            "path" => "path",
            "query" => "querystring",
            "header" => "header",
            "body" => {
                let types = consumes(root, context.operation);
                let model = model_name(context, &parameter["schema"], "", definition)?;
                for media_type in types {
                    models.insert(media_type, model.clone().into());
                }
                continue;
            }
            other => {
                differences.push(format!("parameter {name} in {other} not checked"));
                continue;
            }
        };
        required.insert(format!("{place}.{name}"), needed.into());
    }
    if let Some(body) = context.operation.get("requestBody").filter(|_| context.doc.version != Version::Swagger2) {
        let (body, _) = refs::follow(root, body, &format!("{}/requestBody", context.pointer))?;
        for (media_type, content) in body.get("content").and_then(Value::as_object).into_iter().flatten() {
            if let Some(schema) = content.get("schema") {
                let suffix =
                    if body["content"].as_object().is_some_and(|c| c.len() > 1) { media_type.as_str() } else { "" };
                models.insert(media_type.clone(), model_name(context, schema, suffix, definition)?.into());
            }
        }
    }
    if !required.is_empty() {
        route.insert("requestParameters".into(), Value::Object(required));
    }
    if !models.is_empty() {
        route.insert("requestModels".into(), Value::Object(models));
    }
    Ok(())
}

/// Swagger's media types of an `in: body` parameter: the operation's `consumes`, else the API's, else JSON.
fn consumes(root: &Value, operation: &Value) -> Vec<String> {
    let listed = operation.get("consumes").or_else(|| root.get("consumes")).and_then(Value::as_array);
    let types: Vec<String> = listed.into_iter().flatten().filter_map(Value::as_str).map(str::to_owned).collect();
    if types.is_empty() { vec!["application/json".to_owned()] } else { types }
}

/// The model a body schema names: `#/definitions/Pet` or `#/components/schemas/Pet` is `Pet`; an inline schema
/// becomes a model of its own, named for its route, as API Gateway's import creates one.
fn model_name(
    context: &Context<'_>,
    schema: &Value,
    suffix: &str,
    definition: &mut Value,
) -> Result<String, ImportError> {
    let named = schema.get("$ref").and_then(Value::as_str).and_then(|r| {
        r.strip_prefix("#/definitions/")
            .or_else(|| r.strip_prefix("#/components/schemas/"))
            .filter(|n| !n.contains('/'))
    });
    if let Some(name) = named {
        return Ok(name.to_owned());
    }
    // An inline schema's references must lead somewhere, as a model's must.
    api::check_schema_refs(&context.doc.root, schema, context.pointer)?;
    let words = format!("{} {suffix}", context.key);
    let name: String = words
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(|w| w[..1].to_ascii_uppercase() + &w[1..].to_ascii_lowercase())
        .collect::<String>()
        + "Body";
    let mut schema = schema.clone();
    // Its references to the document's models by name, as the models' own (found by the openapi fuzz target:
    // `#/components/schemas/Order` inside an inline schema did not survive an export to Swagger 2.0).
    api::refs_by_model_name(context.doc, &mut schema);
    if context.doc.version == Version::OpenApi31
        && let Some(object) = schema.as_object_mut()
    {
        object.entry("$schema").or_insert("https://json-schema.org/draft/2020-12/schema".into());
    }
    definition["models"][&name] = schema;
    Ok(name)
}
