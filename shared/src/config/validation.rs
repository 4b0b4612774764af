//! Request validation settings: the API's `models` (JSON Schemas) and named `requestValidators`, and a route's
//! validator, required `requestParameters` and `requestModels`, checked at load into one [`RouteValidation`] per
//! route. Every model is compiled here, once, at cold start: a schema that does not compile, or a `$ref` that
//! leaves the definition, refuses the definition. The checks run in `validate/`, called by the pipeline's
//! `validate` stage.

use std::{collections::BTreeMap, fmt, sync::Arc};

use boon::{Compiler, Draft, SchemaIndex, Schemas, UrlLoader};

use super::patterns;
use http::HeaderName;
use serde::Deserialize;
use serde_json::Value;

/// A named validator, as `x-amazon-apigateway-request-validators` has them.
#[derive(Debug, Clone, Copy, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct RequestValidatorFile {
    #[serde(default)]
    pub validate_request_body: bool,
    #[serde(default)]
    pub validate_request_parameters: bool,
    /// Tollgate's own: failures are answered as RFC 9457 problem details listing every failing field.
    #[serde(default)]
    pub problem_details: bool,
}

/// Where each model is registered in the schema compiler; a name no request or network ever reaches
/// (`.invalid` is reserved), so a model can only refer to other models.
pub const MODEL_BASE: &str = "https://models.tollgate.invalid/";

/// Where a required parameter is looked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ParamLocation {
    Path,
    QueryString,
    Header,
}

impl ParamLocation {
    /// API Gateway's name for it (`method.request.querystring.x`).
    pub fn name(self) -> &'static str {
        match self {
            Self::Path => "path",
            Self::QueryString => "querystring",
            Self::Header => "header",
        }
    }
}

/// A parameter the route requires (present and not blank). Header names are lower case.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct RequiredParameter {
    pub location: ParamLocation,
    pub name: String,
}

/// A compiled model: its index among every model's compiled schemas.
pub struct Model {
    pub name: String,
    schemas: Arc<Schemas>,
    index: SchemaIndex,
}

impl Model {
    /// Checks `instance`; the error holds every finding, as a tree of causes.
    pub fn validate<'s, 'v>(&'s self, instance: &'v Value) -> Result<(), Box<boon::ValidationError<'s, 'v>>> {
        self.schemas.validate(instance, self.index).map_err(Box::new)
    }
}

impl fmt::Debug for Model {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Model").field("name", &self.name).finish_non_exhaustive()
    }
}

/// What one route checks: empty lists check nothing.
#[derive(Debug, Clone, Default)]
pub struct RouteValidation {
    /// Path parameters first, then query strings, then headers, each by name.
    pub parameters: Vec<RequiredParameter>,
    /// Media type (lower case, no parameters) or `$default`, to its model.
    pub models: Vec<(String, Arc<Model>)>,
    pub problem_details: bool,
}

impl RouteValidation {
    /// The model for a body of `content_type` (`application/json` when the request names none, as API Gateway
    /// assumes): the exact media type's, else `$default`'s, else none.
    pub fn model_for(&self, content_type: Option<&str>) -> Option<&(String, Arc<Model>)> {
        let essence = content_type.and_then(|t| t.split(';').next()).map(str::trim).unwrap_or("application/json");
        self.models
            .iter()
            .find(|(t, _)| t.eq_ignore_ascii_case(essence))
            .or_else(|| self.models.iter().find(|(t, _)| t == "$default"))
    }
}

/// The API's models and validators, checked.
#[derive(Debug, Default)]
pub struct ApiValidation {
    models: BTreeMap<String, Arc<Model>>,
    validators: BTreeMap<String, RequestValidatorFile>,
    default: Option<String>,
}

impl ApiValidation {
    /// Compiles every model and checks the validators and the API's default one.
    pub fn compile(
        models: &BTreeMap<String, Value>,
        validators: &BTreeMap<String, RequestValidatorFile>,
        default: Option<&str>,
    ) -> Result<Self, String> {
        if let Some(name) = default.filter(|n| !validators.contains_key(*n)) {
            return Err(format!("requestValidator {name:?} is not defined under requestValidators"));
        }
        if validators.contains_key("NONE") {
            return Err("requestValidators: NONE is reserved (a route's `requestValidator: NONE` opts out)".into());
        }
        Ok(Self { models: compile_models(models)?, validators: validators.clone(), default: default.map(Into::into) })
    }

    /// A route's checks: its validator (or the API's) applied to its parameters and models; `None` when there
    /// is nothing to check.
    pub fn route(
        &self,
        validator: Option<&str>,
        parameters: &BTreeMap<String, bool>,
        models: &BTreeMap<String, String>,
        path_params: &[&str],
    ) -> Result<Option<Arc<RouteValidation>>, String> {
        let mut required = Vec::new();
        for (key, is_required) in parameters {
            let parameter = parse_parameter(key)?;
            if parameter.location == ParamLocation::Path && !path_params.contains(&parameter.name.as_str()) {
                return Err(format!("requestParameters: {key:?} is not a path parameter of the route"));
            }
            if *is_required {
                required.push(parameter);
            }
        }
        required.sort();
        let mut chosen = Vec::new();
        for (media_type, name) in models {
            let valid = media_type == "$default" || (media_type.contains('/') && !media_type.contains(';'));
            if !valid {
                return Err(format!("requestModels: {media_type:?} is neither a media type nor $default"));
            }
            let model = self
                .models
                .get(name)
                .ok_or_else(|| format!("requestModels: model {name:?} is not defined under models"))?;
            chosen.push((media_type.to_ascii_lowercase(), Arc::clone(model)));
        }
        let settings = match validator.or(self.default.as_deref()) {
            None | Some("NONE") => return Ok(None),
            Some(name) => self
                .validators
                .get(name)
                .ok_or_else(|| format!("requestValidator {name:?} is not defined under requestValidators"))?,
        };
        let spec = RouteValidation {
            parameters: if settings.validate_request_parameters { required } else { Vec::new() },
            models: if settings.validate_request_body { chosen } else { Vec::new() },
            problem_details: settings.problem_details,
        };
        Ok((!spec.parameters.is_empty() || !spec.models.is_empty()).then(|| Arc::new(spec)))
    }
}

/// `querystring.limit`, `header.x-id`, `path.id`, or API Gateway's `method.request.querystring.limit`
/// (`multivaluequerystring` and `multivalueheader` too).
fn parse_parameter(key: &str) -> Result<RequiredParameter, String> {
    let bad = || format!("requestParameters: {key:?} must be [method.request.]path|querystring|header.<name>");
    let rest = key.strip_prefix("method.request.").unwrap_or(key);
    let (location, name) = rest.split_once('.').ok_or_else(bad)?;
    let location = match location {
        "path" => ParamLocation::Path,
        "querystring" | "multivaluequerystring" => ParamLocation::QueryString,
        "header" | "multivalueheader" => ParamLocation::Header,
        _ => return Err(bad()),
    };
    if name.is_empty() {
        return Err(bad());
    }
    let name = match location {
        ParamLocation::Header => HeaderName::from_bytes(name.as_bytes())
            .map_err(|_| format!("requestParameters: {name:?} is not a header name"))?
            .as_str()
            .to_owned(),
        _ => name.to_owned(),
    };
    Ok(RequiredParameter { location, name })
}

/// Whether a model is read as 2020-12 (its `$schema` names it); every other model is draft 4 (API Gateway's),
/// as API Gateway reads every model.
fn is_2020_12(schema: &Value) -> bool {
    schema.get("$schema").and_then(Value::as_str).and_then(Draft::from_url) == Some(Draft::V2020_12)
}

/// The compiler's loader: nothing outside the definition is ever read or fetched (the drafts' meta-schemas are
/// built into the compiler).
struct NoLoader;

impl UrlLoader for NoLoader {
    fn load(&self, url: &str) -> Result<Value, Box<dyn std::error::Error>> {
        Err(format!("{url} is not a model of this definition").into())
    }
}

/// `uuid` in the hyphenated form; boon's own check takes it for every draft, this one says what is wrong.
fn uuid(value: &Value) -> Result<(), Box<dyn std::error::Error>> {
    match value.as_str() {
        Some(s) if s.len() != 36 || uuid::Uuid::try_parse(s).is_err() => Err("not a hyphenated UUID".into()),
        _ => Ok(()),
    }
}

/// Compiles every model with all of them in one compiler, so `$ref`s between models resolve.
fn compile_models(models: &BTreeMap<String, Value>) -> Result<BTreeMap<String, Arc<Model>>, String> {
    let mut compiler = Compiler::new();
    compiler.set_default_draft(Draft::V4);
    compiler.enable_format_assertions();
    compiler.use_loader(Box::new(NoLoader));
    compiler.register_format(boon::Format { name: "uuid", func: uuid });
    for (name, schema) in models {
        let valid_name =
            !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'));
        if !valid_name {
            return Err(format!("models: {name:?}: a model name is letters, digits, '.', '-' or '_'"));
        }
        let modern = is_2020_12(schema);
        let mut schema = schema.clone();
        if let Some(object) = schema.as_object_mut() {
            // The model's key names it: a `$schema` other than 2020-12 reads as draft 4, and an `$id` would move
            // its base away from its name.
            if !modern {
                object.remove("$schema");
            }
            object.remove("$id");
            if object.get("id").is_some_and(Value::is_string) {
                object.remove("id");
            }
        }
        rewrite_refs(&mut schema, models, name).map_err(|e| format!("models: {name}: {e}"))?;
        patterns::check_patterns(&schema).map_err(|e| format!("models: {name}: the schema does not compile: {e}"))?;
        compiler.add_resource(&uri(name), schema).map_err(|e| format!("models: {name}: {e}"))?;
    }
    let mut schemas = Schemas::new();
    let mut indexes = Vec::with_capacity(models.len());
    for name in models.keys() {
        let index = compiler
            .compile(&uri(name), &mut schemas)
            .map_err(|e| format!("models: {name}: the schema does not compile: {e:#}"))?;
        indexes.push((name, index));
    }
    let schemas = Arc::new(schemas);
    let compiled = indexes.into_iter().map(|(name, index)| {
        (name.clone(), Arc::new(Model { name: name.clone(), schemas: Arc::clone(&schemas), index }))
    });
    Ok(compiled.collect())
}

fn uri(model: &str) -> String {
    format!("{MODEL_BASE}{model}")
}

/// Keywords whose values are data, not schemas: a `$ref` inside them is not a reference.
pub(super) const DATA_KEYWORDS: [&str; 5] = ["enum", "const", "default", "examples", "example"];

/// Points every `$ref` to another model at that model's URI: API Gateway's
/// `https://apigateway.amazonaws.com/restapis/{api}/models/{Model}`, an import's `#/definitions/Model` or
/// `#/components/schemas/Model` (unless the model has that definition itself), or the bare name `Model`. A
/// reference anywhere else is refused.
fn rewrite_refs(schema: &mut Value, models: &BTreeMap<String, Value>, own: &str) -> Result<(), String> {
    let local = models.get(own).cloned().unwrap_or(Value::Null);
    let mut stack = vec![schema];
    while let Some(node) = stack.pop() {
        match node {
            Value::Object(object) => {
                for (key, value) in object.iter_mut() {
                    match (key.as_str(), value) {
                        ("$ref", Value::String(target)) => *target = resolve_ref(target, models, &local)?,
                        (key, _) if DATA_KEYWORDS.contains(&key) => {}
                        (_, value) => stack.push(value),
                    }
                }
            }
            Value::Array(items) => stack.extend(items.iter_mut()),
            _ => {}
        }
    }
    Ok(())
}

fn resolve_ref(target: &str, models: &BTreeMap<String, Value>, local: &Value) -> Result<String, String> {
    let to_model = |name: &str, fragment: &str| {
        if models.contains_key(name) {
            Ok(format!("{}#{fragment}", uri(name)))
        } else {
            Err(format!("$ref {target:?} names no model (models: {})", names(models)))
        }
    };
    if let Some(pointer) = target.strip_prefix('#') {
        for container in ["/definitions/", "/components/schemas/", "/$defs/"] {
            let Some(rest) = pointer.strip_prefix(container) else { continue };
            let (name, inner) = rest.split_once('/').map_or((rest, ""), |(n, i)| (n, i));
            let defined_here = local.pointer(&format!("{container}{name}")).is_some();
            if !defined_here {
                return to_model(name, &if inner.is_empty() { String::new() } else { format!("/{inner}") });
            }
        }
        return Ok(target.to_owned());
    }
    if let Some(rest) = target.strip_prefix("https://apigateway.amazonaws.com/restapis/") {
        let (path, fragment) = rest.split_once('#').unwrap_or((rest, ""));
        if let Some((_, name)) = path.split_once("/models/").filter(|(_, n)| !n.contains('/')) {
            return to_model(name, fragment);
        }
    }
    if target.starts_with(MODEL_BASE) {
        return Ok(target.to_owned());
    }
    let (name, fragment) = target.split_once('#').unwrap_or((target, ""));
    if !name.contains(':') && !name.contains('/') {
        return to_model(name, fragment);
    }
    Err(format!(
        "$ref {target:?} points outside the definition: a model may refer only to other models (by name, \
         #/definitions/Name, #/components/schemas/Name or API Gateway's model URL)"
    ))
}

fn names(models: &BTreeMap<String, Value>) -> String {
    models.keys().cloned().collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn api(models: Value) -> Result<ApiValidation, String> {
        let models: BTreeMap<String, Value> = serde_json::from_value(models).expect("models");
        let all = RequestValidatorFile {
            validate_request_body: true,
            validate_request_parameters: true,
            ..Default::default()
        };
        ApiValidation::compile(&models, &BTreeMap::from([("all".to_owned(), all)]), Some("all"))
    }

    fn valid(api: &ApiValidation, model: &str, instance: &Value) -> bool {
        api.models[model].validate(instance).is_ok()
    }

    #[test]
    fn models_refer_to_each_other_in_every_spelling() {
        let api = api(json!({
            "Tag": { "type": "string", "maxLength": 3 },
            "Pet": { "type": "object", "required": ["name"], "properties": {
                "name": { "type": "string" },
                "a": { "$ref": "#/definitions/Tag" },
                "b": { "$ref": "#/components/schemas/Tag" },
                "c": { "$ref": "https://apigateway.amazonaws.com/restapis/abc123/models/Tag" },
                "d": { "$ref": "Tag" },
                "e": { "$ref": "#/definitions/Own" },
                "f": { "enum": [{ "$ref": "not a reference", "pattern": "\\p{Nope}" }] },
                "pattern": { "pattern": "^\\cJ\\d+$" },
                "word": { "pattern": "^[\\w.-]{1,1000}\\s\\w{1,255}$" }
            }, "definitions": { "Own": { "type": "integer" } } }
        }))
        .expect("compiles");
        assert!(valid(&api, "Pet", &json!({"name": "rex", "a": "x", "b": "y", "c": "z", "d": "w", "e": 1})));
        for bad in ["a", "b", "c", "d"] {
            assert!(!valid(&api, "Pet", &json!({"name": "rex", bad: "toolong"})), "{bad}");
        }
        assert!(!valid(&api, "Pet", &json!({"name": "rex", "e": "one"})), "a model's own definitions stay its own");
        let mixed = self::api(json!({
            "Old": { "type": "object", "properties": { "new": { "$ref": "New" }, "flag": { "$ref": "Flag" } } },
            "New": { "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "array",
                     "prefixItems": [{ "type": "integer" }], "items": { "$ref": "Old#/properties/flag" } },
            "Flag": { "type": "boolean" }
        }));
        let mixed = mixed.expect("drafts mix");
        assert!(valid(&mixed, "Old", &json!({"new": [1, true, false]})));
        assert!(!valid(&mixed, "Old", &json!({"new": [1, "x"]})), "back through Old#/properties/flag to Flag");
        assert!(!valid(&mixed, "Old", &json!({"new": ["one"]})), "a 2020-12 keyword behind a draft-4 model's ref");
    }

    #[test]
    fn what_cannot_compile_refuses_the_definition() {
        for (models, problem) in [
            (json!({ "Pet": { "$ref": "https://example.com/pet.json" } }), "points outside the definition"),
            (json!({ "Pet": { "$ref": "file:///etc/passwd" } }), "points outside the definition"),
            (json!({ "Pet": { "$ref": "#/definitions/Nope" } }), "names no model"),
            (json!({ "Pet": { "type": "nonsense" } }), "does not compile"),
            (json!({ "Pet": { "pattern": "(" } }), "does not compile"),
            (json!({ "Pet": { "pattern": "^(?=a)b" } }), "does not compile"),
            // Found by fuzzing: boon took these as valid and panicked compiling them (debug builds).
            (json!({ "Pet": { "pattern": "\\px" } }), "Unicode property not found"),
            (json!({ "Pet": { "properties": { "a": { "pattern": "a\\p{Nope}" } } } }), "Unicode property"),
            (json!({ "Pet": { "pattern": "\\cl|\\pA" } }), "Unicode property"),
            (json!({ "Pet": { "pattern": "\\w{1000}{1000}" } }), "exceeds size limit"),
            (json!({ "bad name": {} }), "a model name"),
        ] {
            let err = api(models).expect_err(problem);
            assert!(err.contains(problem), "{problem}: {err}");
        }
    }

    #[test]
    fn draft_4_unless_the_schema_names_2020_12() {
        let api = api(json!({
            "Four": { "$schema": "http://json-schema.org/draft-04/schema#", "type": "number",
                      "maximum": 5, "exclusiveMaximum": true },
            "Seven": { "$schema": "http://json-schema.org/draft-07/schema#", "const": 1 },
            "Twenty": { "$schema": "https://json-schema.org/draft/2020-12/schema", "type": "number",
                        "exclusiveMaximum": 5 },
            "Formats": { "type": "object", "properties": {
                "email": { "format": "email" }, "at": { "format": "date-time" }, "id": { "format": "uuid" },
                "ip": { "format": "ipv4" }, "link": { "format": "uri" }, "f": { "format": "float" } } }
        }))
        .expect("compiles");
        assert!(!valid(&api, "Four", &json!(5)) && valid(&api, "Four", &json!(4.9)), "draft 4's boolean form");
        assert!(valid(&api, "Seven", &json!(2)), "read as draft 4, const is no keyword, as in API Gateway");
        assert!(!valid(&api, "Twenty", &json!(5)) && valid(&api, "Twenty", &json!(4)));
        let good = json!({"email": "a@b.example", "at": "2026-01-02T03:04:05Z",
                          "id": "0b7a4f8e-2f54-4c1d-9e0a-7d3c2b1a0f9e", "ip": "192.0.2.1",
                          "link": "https://a.example/x", "f": "anything"});
        assert!(valid(&api, "Formats", &good));
        for (field, bad) in
            [("email", "nope"), ("at", "yesterday"), ("id", "0b7a4f8e"), ("ip", "300.1.1.1"), ("link", "no scheme")]
        {
            assert!(!valid(&api, "Formats", &json!({ field: bad })), "{field}");
        }
    }

    #[test]
    fn routes_name_parameters_models_and_validators() {
        let api = api(json!({ "Pet": { "type": "object" } })).expect("compiles");
        let params = BTreeMap::from([
            ("method.request.querystring.limit".to_owned(), true),
            ("header.X-Id".to_owned(), true),
            ("path.id".to_owned(), true),
            ("querystring.optional".to_owned(), false),
        ]);
        let models = BTreeMap::from([("Application/JSON".to_owned(), "Pet".to_owned())]);
        let spec = api.route(None, &params, &models, &["id"]).expect("valid").expect("checks something");
        let names: Vec<_> = spec.parameters.iter().map(|p| (p.location.name(), p.name.as_str())).collect();
        assert_eq!(names, [("path", "id"), ("querystring", "limit"), ("header", "x-id")]);
        assert!(spec.model_for(Some("application/json; charset=utf-8")).is_some());
        assert!(spec.model_for(None).is_some(), "no Content-Type is application/json");
        assert!(spec.model_for(Some("text/plain")).is_none());
        assert!(api.route(Some("NONE"), &params, &models, &["id"]).expect("valid").is_none());
        for (params, models, problem) in [
            (BTreeMap::from([("cookie.x".to_owned(), true)]), BTreeMap::new(), "must be"),
            (BTreeMap::from([("path.other".to_owned(), true)]), BTreeMap::new(), "not a path parameter"),
            (BTreeMap::new(), BTreeMap::from([("json".to_owned(), "Pet".to_owned())]), "neither a media type"),
            (BTreeMap::new(), BTreeMap::from([("$default".to_owned(), "Cat".to_owned())]), "not defined"),
        ] {
            let err = api.route(None, &params, &models, &["id"]).expect_err(problem);
            assert!(err.contains(problem), "{problem}: {err}");
        }
        assert!(api.route(Some("missing"), &params, &models, &["id"]).is_err());
    }
}
