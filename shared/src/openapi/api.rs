//! The API-wide part of an import: the API type and name, binary media types, compression, the API key source,
//! gateway responses, request validators, models, CORS and authorizers; and notes on what concerns the whole API
//! but is not mapped (endpoint configuration, resource policy, base path).

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::{
    ImportError, integrations,
    read::{Document, Version},
    refs,
    report::Report,
    token,
};

/// Keywords whose values are data, not schemas: a `$ref` inside them is not a reference.
const DATA_KEYWORDS: [&str; 5] = ["enum", "const", "default", "examples", "example"];

/// A Lambda authorizer's fields in `x-amazon-apigateway-authorizer` and in the definition (export reads it
/// backwards).
pub(super) const AUTHORIZER_FIELDS: [(&str, &str); 4] = [
    ("authorizerResultTtlInSeconds", "resultTtlSeconds"),
    ("identityValidationExpression", "identityValidationExpression"),
    ("authorizerPayloadFormatVersion", "payloadFormatVersion"),
    ("enableSimpleResponses", "simpleResponses"),
];

/// An identity source in REST's spelling and in Tollgate's (export reads it backwards).
pub(super) const IDENTITY_SPELLINGS: [(&str, &str); 4] = [
    ("method.request.header.", "$request.header."),
    ("method.request.querystring.", "$request.querystring."),
    ("context.", "$context."),
    ("stageVariables.", "$stageVariables."),
];

/// What a security scheme means to an operation that requires it.
#[derive(Debug, Clone)]
pub(super) enum Scheme {
    /// The `x-api-key` header: the route requires an API key.
    ApiKey,
    /// An authorizer of the definition, by name.
    Authorizer { name: String, jwt: bool },
    /// An authorizer that cannot be set up (a placeholder nobody filled in its issuer): why.
    Unusable(String),
    /// IAM authorization (SigV4), which Tollgate cannot check.
    Iam,
    /// A scheme API Gateway does not enforce either (no `x-amazon-apigateway-authorizer`).
    NotEnforced,
}

/// The definition without its routes, with notes on the API in `report`.
pub(super) fn api(doc: &Document, report: &mut Report) -> Result<Value, ImportError> {
    let root = &doc.root;
    let mut definition = Map::new();
    if !is_http(doc) {
        definition.insert("type".into(), "REST".into());
    }
    // A definition's default name is what an export writes for none (OpenAPI requires a title).
    if let Some(title) = root.pointer("/info/title").and_then(Value::as_str).filter(|t| *t != "tollgate") {
        definition.insert("name".into(), title.into());
    }
    let ext = |name: &str| root.get(format!("x-amazon-apigateway-{name}"));
    if let Some(types) = ext("binary-media-types").and_then(Value::as_array) {
        definition.insert("binaryMediaTypes".into(), Value::Array(types.clone()));
    }
    if let Some(size) = ext("minimum-compression-size").filter(|v| v.is_u64()) {
        definition.insert("minimumCompressionSize".into(), size.clone());
    }
    match ext("api-key-source").and_then(Value::as_str) {
        None | Some("HEADER") => {}
        Some(source) => {
            definition.insert("apiKeys".into(), json!({ "source": source }));
        }
    }
    if let Some(responses) = ext("gateway-responses").and_then(Value::as_object) {
        definition.insert("gatewayResponses".into(), gateway_responses(responses, report));
    }
    if let Some(validators) = ext("request-validators").and_then(Value::as_object) {
        let keep = |v: &Value| pick(v, &["validateRequestBody", "validateRequestParameters"]);
        let validators = validators.iter().map(|(name, v)| (name.clone(), keep(v))).collect();
        definition.insert("requestValidators".into(), Value::Object(validators));
    }
    if let Some(validator) = ext("request-validator").and_then(Value::as_str) {
        let pointer = "/x-amazon-apigateway-request-validator";
        check_validator(definition.get("requestValidators"), validator, pointer)?;
        definition.insert("requestValidator".into(), validator.into());
    }
    let models = models(doc)?;
    if !models.is_empty() {
        definition.insert("models".into(), Value::Object(models));
    }
    if let Some(cors) = ext("cors") {
        let keys = ["allowOrigins", "allowMethods", "allowHeaders", "exposeHeaders", "maxAge", "allowCredentials"];
        definition.insert("cors".into(), pick(cors, &keys));
    }
    let authorizers = authorizers(doc, report)?;
    if !authorizers.is_empty() {
        definition.insert("authorizers".into(), Value::Object(authorizers));
    }
    notes(doc, report);
    Ok(Value::Object(definition))
}

/// A validator an operation or the API names must be one of `x-amazon-apigateway-request-validators`.
pub(super) fn check_validator(validators: Option<&Value>, name: &str, pointer: &str) -> Result<(), ImportError> {
    if name == "NONE" || validators.and_then(|v| v.get(name)).is_some() {
        return Ok(());
    }
    Err(ImportError::at(pointer, format!("{name:?} names no validator of x-amazon-apigateway-request-validators")))
}

/// An HTTP API: its export says so with `x-amazon-apigateway-importexport-version`, or its template does.
pub(super) fn is_http(doc: &Document) -> bool {
    doc.http_api || doc.root.get("x-amazon-apigateway-importexport-version").is_some()
}

/// The named members of `value` that are present.
fn pick(value: &Value, keys: &[&str]) -> Value {
    let picked = keys.iter().filter_map(|k| value.get(*k).map(|v| ((*k).to_owned(), v.clone())));
    Value::Object(picked.collect())
}

fn gateway_responses(responses: &Map<String, Value>, report: &mut Report) -> Value {
    let mut out = Map::new();
    // A real-world mistake: `gatewayresponse.header.method.response.header.X` names a header
    // `method.response.header.X`, on API Gateway too. Said once, with every response and header it touches.
    let (mut kinds, mut meant) = (Vec::new(), std::collections::BTreeSet::new());
    for (kind, response) in responses {
        let response = pick(response, &["statusCode", "responseParameters", "responseTemplates"]);
        for header in response.get("responseParameters").and_then(Value::as_object).into_iter().flatten().map(|p| p.0) {
            if let Some(name) = header.strip_prefix("gatewayresponse.header.method.response.header.") {
                meant.insert(name.to_owned());
                if kinds.last() != Some(kind) {
                    kinds.push(kind.clone());
                }
            }
        }
        out.insert(kind.clone(), response);
    }
    if !meant.is_empty() {
        let meant: Vec<String> = meant.into_iter().collect();
        report.notes.push(format!(
            "gateway responses {} set headers named method.response.header.X, as API Gateway would; for {} write \
             gatewayresponse.header.X",
            kinds.join(", "),
            meant.join(", ")
        ));
    }
    Value::Object(out)
}

/// Swagger's `definitions` or OpenAPI's `components.schemas`, by name. Every `$ref` between them must name one
/// that is there. OpenAPI 3.1 schemas are JSON Schema 2020-12, and say so.
fn models(doc: &Document) -> Result<Map<String, Value>, ImportError> {
    let (schemas, base) = match doc.version {
        Version::Swagger2 => (doc.root.get("definitions"), "/definitions"),
        _ => (doc.root.pointer("/components/schemas"), "/components/schemas"),
    };
    let mut models = Map::new();
    for (name, schema) in schemas.and_then(Value::as_object).into_iter().flatten() {
        let pointer = format!("{base}/{}", token(name));
        check_schema_refs(&doc.root, schema, &pointer)?;
        let mut schema = schema.clone();
        refs_by_model_name(doc, &mut schema);
        if doc.version == Version::OpenApi31
            && let Some(object) = schema.as_object_mut()
        {
            object.entry("$schema").or_insert("https://json-schema.org/draft/2020-12/schema".into());
        }
        models.insert(name.clone(), schema);
    }
    Ok(models)
}

/// Writes a schema's references to the document's models by the model's name: `#/definitions/Pet` and
/// `#/components/schemas/Pet` are both the model `Pet`, so the reference reads the same whichever format the
/// definition is exported to next. Models and inline body schemas alike; a `#/definitions/X` that the schema
/// holds itself stays.
pub(super) fn refs_by_model_name(doc: &Document, schema: &mut Value) {
    let schemas = match doc.version {
        Version::Swagger2 => doc.root.get("definitions"),
        _ => doc.root.pointer("/components/schemas"),
    };
    let names: Vec<&String> = schemas.and_then(Value::as_object).into_iter().flatten().map(|(n, _)| n).collect();
    let own = schema.get("definitions").cloned().unwrap_or_default();
    rewrite_refs(schema, &|target| {
        let name = target.strip_prefix("#/definitions/").or_else(|| target.strip_prefix("#/components/schemas/"))?;
        let own = target.starts_with("#/definitions/") && own.get(name).is_some();
        (names.iter().any(|n| *n == name) && !own).then(|| name.to_owned())
    });
}

/// Rewrites the `$ref`s of a schema that `rewrite` has a new target for.
pub(super) fn rewrite_refs(schema: &mut Value, rewrite: &dyn Fn(&str) -> Option<String>) {
    match schema {
        Value::Object(object) => {
            for (key, value) in object.iter_mut() {
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) => {
                        if let Some(new) = rewrite(target) {
                            *target = new;
                        }
                    }
                    (key, _) if DATA_KEYWORDS.contains(&key) => {}
                    (_, value) => rewrite_refs(value, rewrite),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|item| rewrite_refs(item, rewrite)),
        _ => {}
    }
}

/// Every `$ref` in a schema leads somewhere in the document.
pub(super) fn check_schema_refs(root: &Value, schema: &Value, pointer: &str) -> Result<(), ImportError> {
    match schema {
        Value::Object(object) => {
            for (key, value) in object {
                let here = format!("{pointer}/{}", token(key));
                match (key.as_str(), value) {
                    ("$ref", Value::String(target)) if target.starts_with('#') => {
                        let start = Value::Object(Map::from_iter([(key.clone(), value.clone())]));
                        refs::follow(root, &start, pointer).map(drop)?;
                    }
                    (key, _) if DATA_KEYWORDS.contains(&key) => {}
                    _ => check_schema_refs(root, value, &here)?,
                }
            }
            Ok(())
        }
        Value::Array(items) => {
            items.iter().enumerate().try_for_each(|(i, item)| check_schema_refs(root, item, &format!("{pointer}/{i}")))
        }
        _ => Ok(()),
    }
}

/// Swagger's `securityDefinitions` or OpenAPI's `components.securitySchemes`, with the pointer of each.
fn security_schemes(doc: &Document) -> Vec<(String, &Value, String)> {
    let (schemes, base) = match doc.version {
        Version::Swagger2 => (doc.root.get("securityDefinitions"), "/securityDefinitions"),
        _ => (doc.root.pointer("/components/securitySchemes"), "/components/securitySchemes"),
    };
    let schemes = schemes.and_then(Value::as_object).into_iter().flatten();
    schemes.map(|(name, scheme)| (name.clone(), scheme, format!("{base}/{}", token(name)))).collect()
}

/// What each security scheme means to the operations that name it.
pub(super) fn schemes(doc: &Document, definition: &Value) -> BTreeMap<String, Scheme> {
    let mut out = BTreeMap::new();
    for (name, scheme, _) in security_schemes(doc) {
        let kind = match scheme.get("x-amazon-apigateway-authorizer") {
            Some(_) if definition.pointer(&format!("/authorizers/{}", token(&name))).is_none() => {
                Scheme::Unusable(format!("authorizer {name} could not be set up (see the API's notes)"))
            }
            Some(authorizer) => {
                let jwt = matches!(kind(authorizer).as_str(), "jwt" | "cognito_user_pools");
                Scheme::Authorizer { name: name.clone(), jwt }
            }
            None if scheme
                .get("x-amazon-apigateway-authtype")
                .and_then(Value::as_str)
                .is_some_and(|t| t.eq_ignore_ascii_case("awsSigv4")) =>
            {
                Scheme::Iam
            }
            None if scheme.get("type").and_then(Value::as_str) == Some("apiKey")
                && scheme.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case("x-api-key")) =>
            {
                Scheme::ApiKey
            }
            None => Scheme::NotEnforced,
        };
        out.insert(name, kind);
    }
    out
}

fn kind(authorizer: &Value) -> String {
    authorizer.get("type").and_then(Value::as_str).unwrap_or("").to_ascii_lowercase()
}

/// Authorizers, by their security scheme's name.
fn authorizers(doc: &Document, report: &mut Report) -> Result<Map<String, Value>, ImportError> {
    let mut out = Map::new();
    for (name, scheme, pointer) in security_schemes(doc) {
        let Some(authorizer) = scheme.get("x-amazon-apigateway-authorizer") else { continue };
        let pointer = format!("{pointer}/x-amazon-apigateway-authorizer");
        let mapped = match kind(authorizer).as_str() {
            "token" | "request" => lambda_authorizer(&name, scheme, authorizer, &pointer, report)?,
            "jwt" => {
                let config = authorizer.get("jwtConfiguration").cloned().unwrap_or_default();
                let Some(issuer) = config.get("issuer").and_then(Value::as_str) else {
                    let at = format!("{pointer}/jwtConfiguration/issuer");
                    return Err(ImportError::at(at, "a JWT authorizer needs its issuer"));
                };
                let audiences = config.get("audience").filter(|a| a.is_array()).cloned().unwrap_or_else(|| json!([]));
                let mut jwt = json!({ "type": "jwt", "issuer": issuer, "audiences": audiences });
                let sources = identity_sources(authorizer.get("identitySource"));
                if let Some(source) = sources.into_iter().next().filter(|s| s != "$request.header.Authorization") {
                    jwt["identitySource"] = source.into();
                }
                jwt
            }
            "cognito_user_pools" => cognito(&name, authorizer, &pointer, report)?,
            other => {
                return Err(ImportError::at(
                    format!("{pointer}/type"),
                    format!("unknown authorizer type {other:?}: token, request, jwt or cognito_user_pools"),
                ));
            }
        };
        if let Some(issuer) = mapped.get("issuer").and_then(Value::as_str).filter(|i| i.contains("${")) {
            report
                .notes
                .push(format!("authorizer {name} not set up: its issuer {issuer} has placeholders nobody filled"));
            continue;
        }
        out.insert(name, mapped);
    }
    Ok(out)
}

fn lambda_authorizer(
    name: &str,
    scheme: &Value,
    authorizer: &Value,
    pointer: &str,
    report: &mut Report,
) -> Result<Value, ImportError> {
    let uri = authorizer.get("authorizerUri").and_then(Value::as_str).unwrap_or("");
    let function = integrations::lambda_function(uri).ok_or_else(|| {
        ImportError::at(
            format!("{pointer}/authorizerUri"),
            format!("{uri:?} is not a Lambda function's invocation URI"),
        )
    })?;
    let mut unfilled = Vec::new();
    let function = integrations::function_name(&function, &mut unfilled);
    report.notes.extend(unfilled.into_iter().map(|n| format!("authorizer {name}: {n}")));
    let mut out = json!({ "type": "lambda", "function": function });
    let token = kind(authorizer) == "token";
    if token {
        out["eventType"] = "TOKEN".into();
    }
    let mut sources = identity_sources(authorizer.get("identitySource"));
    if sources.is_empty() && token {
        // A TOKEN authorizer without one reads the header its scheme names (Swagger's `in: header`).
        let header = scheme.get("name").and_then(Value::as_str).unwrap_or("Authorization");
        sources.push(format!("$request.header.{header}"));
    }
    if !sources.is_empty() && sources != ["$request.header.Authorization"] {
        out["identitySources"] = sources.into();
    }
    for (from, to) in AUTHORIZER_FIELDS {
        if let Some(value) = authorizer.get(from).filter(|v| !v.is_null()) {
            out[to] = value.clone();
        }
    }
    if authorizer.get("authorizerCredentials").and_then(Value::as_str).is_some_and(|c| !c.is_empty()) {
        report
            .notes
            .push(format!("authorizer {name}: authorizerCredentials ignored; Tollgate invokes with its own role"));
    }
    Ok(out)
}

/// A Cognito user pool authorizer is a JWT authorizer on the pool's issuer; any of the pool's app clients may
/// have issued the token, as API Gateway accepts.
fn cognito(name: &str, authorizer: &Value, pointer: &str, report: &mut Report) -> Result<Value, ImportError> {
    let arn = authorizer.pointer("/providerARNs/0").and_then(Value::as_str).unwrap_or("");
    let pool = arn.strip_prefix("arn:aws:cognito-idp:").and_then(|rest| {
        let (region, rest) = rest.split_once(':')?;
        let (_, pool) = rest.split_once(":userpool/")?;
        Some((region, pool))
    });
    let Some((region, pool)) = pool else {
        return Err(ImportError::at(
            format!("{pointer}/providerARNs"),
            format!("{arn:?} is not a Cognito user pool ARN (arn:aws:cognito-idp:REGION:ACCOUNT:userpool/ID)"),
        ));
    };
    if authorizer.pointer("/providerARNs/1").is_some() {
        report.notes.push(format!("authorizer {name}: only the first user pool of providerARNs is trusted"));
    }
    let mut jwt = json!({
        "type": "jwt",
        "issuer": format!("https://cognito-idp.{region}.amazonaws.com/{pool}"),
        "audiences": [],
        "anyAudience": true,
    });
    let sources = identity_sources(authorizer.get("identitySource"));
    if let Some(source) = sources.first().filter(|s| *s != "$request.header.Authorization") {
        jwt["identitySource"] = source.clone().into();
    }
    Ok(jwt)
}

/// REST's `method.request.header.X, method.request.querystring.Y` (or a list, or HTTP APIs' `$request.*`) in
/// Tollgate's spelling.
pub(super) fn identity_sources(value: Option<&Value>) -> Vec<String> {
    let items: Vec<String> = match value {
        Some(Value::String(s)) => s.split(',').map(|p| p.trim().to_owned()).filter(|p| !p.is_empty()).collect(),
        Some(Value::Array(items)) => items.iter().filter_map(Value::as_str).map(str::to_owned).collect(),
        _ => Vec::new(),
    };
    items
        .into_iter()
        .map(|source| {
            for (rest, prefix) in IDENTITY_SPELLINGS {
                if let Some(name) = source.strip_prefix(rest) {
                    return format!("{prefix}{name}");
                }
            }
            source
        })
        .collect()
}

/// What concerns the whole API and is not mapped.
fn notes(doc: &Document, report: &mut Report) {
    let root = &doc.root;
    let base = match doc.version {
        Version::Swagger2 => root.get("basePath").and_then(Value::as_str).map(str::to_owned),
        _ => root
            .pointer("/servers/0/variables/basePath/default")
            .or_else(|| root.pointer("/servers/variables/basePath/default"))
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    if let Some(base) = base.filter(|b| !b.is_empty() && b != "/") {
        report.notes.push(format!(
            "base path {base} ignored, as API Gateway's import does by default (basepath=ignore): routes start at /"
        ));
    }
    if root.get("x-amazon-apigateway-endpoint-configuration").is_some() {
        report.notes.push(
            "endpoint configuration not imported: Tollgate is reached through its function URL or HTTP API, set up \
             in template.yaml"
                .to_owned(),
        );
    }
    if root.get("x-amazon-apigateway-policy").is_some() {
        report.notes.push(
            "resource policy not imported: Tollgate's resourcePolicy takes source-IP allow and deny lists \
             (docs/definition.md); IAM principals and VPC conditions have no equivalent"
                .to_owned(),
        );
    }
    let known = [
        "binary-media-types",
        "minimum-compression-size",
        "api-key-source",
        "gateway-responses",
        "request-validators",
        "request-validator",
        "cors",
        "importexport-version",
        "endpoint-configuration",
        "policy",
        "integrations",
    ];
    for key in root.as_object().into_iter().flatten().map(|o| o.0) {
        if let Some(name) = key.strip_prefix("x-amazon-apigateway-").filter(|n| !known.contains(n)) {
            report.notes.push(format!("{key} ignored: Tollgate has no equivalent of {name}"));
        }
    }
}
