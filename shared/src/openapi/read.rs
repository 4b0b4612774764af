//! From text to the API document: parsed untyped within bounds, CloudFormation's short-form tags turned into
//! their long form, the API found inside a SAM or CloudFormation template, intrinsics and placeholders filled,
//! the version read.

use std::collections::BTreeMap;

use serde_json::{Map, Value};
use serde_yaml_ng::Value as Yaml;

use super::{ImportError, intrinsics, report::Unresolved, token};

/// The largest document imported. Real definitions are tens of kilobytes; the bound keeps a hostile file's
/// parse within a known time and memory (the parsers' own depth limit, 128, bounds nesting).
pub const MAX_DOCUMENT_BYTES: usize = 8 << 20;
/// YAML costs far more to parse than JSON: the parser holds every event of the file at once, up to 250 bytes of
/// memory per byte of brackets and 50 per byte of block text (measured). Hence a smaller bound, and one on flow
/// collections (`[`, `{`), the densest events.
const MAX_YAML_BYTES: usize = 4 << 20;
const MAX_FLOW_COLLECTIONS: usize = 100_000;

/// The API description's flavour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Version {
    Swagger2,
    OpenApi30,
    OpenApi31,
}

/// The API document, ready to map.
#[derive(Debug)]
pub(super) struct Document {
    /// The OpenAPI or Swagger object, intrinsics resolved.
    pub root: Value,
    pub version: Version,
    /// The template declared an HTTP API (`AWS::Serverless::HttpApi`, `AWS::ApiGatewayV2::Api`).
    pub http_api: bool,
    /// What the reader noticed about the document as a whole.
    pub notes: Vec<String>,
    pub unresolved: Vec<Unresolved>,
}

/// Where each resource type keeps its inline definition, and whether it is an HTTP API.
const API_RESOURCES: [(&str, &str, bool); 4] = [
    ("AWS::Serverless::Api", "DefinitionBody", false),
    ("AWS::Serverless::HttpApi", "DefinitionBody", true),
    ("AWS::ApiGateway::RestApi", "Body", false),
    ("AWS::ApiGatewayV2::Api", "Body", true),
];

pub(super) fn read(text: &str, params: &BTreeMap<String, String>) -> Result<Document, ImportError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(ImportError::TooLarge { size: text.len() });
    }
    read_value(parse(text)?, params)
}

/// [`read`] of a document already parsed.
pub(super) fn read_value(parsed: Value, params: &BTreeMap<String, String>) -> Result<Document, ImportError> {
    let mut notes = Vec::new();
    let mut params = params.clone();
    let (mut root, base, http_api) = match find_api(parsed, &mut params, &mut notes)? {
        Found::Document(root) => (root, String::new(), false),
        Found::InTemplate { body, pointer, http_api } => (body, pointer, http_api),
    };
    let unresolved = intrinsics::resolve(&mut root, &params, &base);
    let version = version(&root, &base)?;
    Ok(Document { root, version, http_api, notes, unresolved })
}

/// How deep brackets may nest: the parsers' own limit. Checked before parsing because the YAML scanner's time
/// grows with the square of the nesting (100,000 brackets took 48 s), and it reads the whole text before the
/// depth limit applies.
const MAX_NESTING: usize = 128;

/// JSON first when it looks like JSON (faster, exact numbers), YAML otherwise; both to one untyped value.
pub(super) fn parse(text: &str) -> Result<Value, ImportError> {
    // Brackets inside strings count too: real files are nowhere near the limits, and hiding brackets in strings
    // makes no nesting.
    let (mut depth, mut collections) = (0usize, 0usize);
    for byte in text.bytes() {
        match byte {
            b'[' | b'{' => {
                depth += 1;
                collections += 1;
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => continue,
        }
        if depth > MAX_NESTING {
            return Err(ImportError::Syntax(format!("brackets nest deeper than {MAX_NESTING}")));
        }
    }
    if text.trim_start().starts_with('{')
        && let Ok(value) = serde_json::from_str::<Value>(text)
    {
        return Ok(value);
    }
    if text.len() > MAX_YAML_BYTES || collections > MAX_FLOW_COLLECTIONS {
        return Err(ImportError::Syntax(format!(
            "YAML of {} bytes with {collections} flow collections: the limits are {MAX_YAML_BYTES} bytes and \
             {MAX_FLOW_COLLECTIONS} (JSON may be {MAX_DOCUMENT_BYTES} bytes)",
            text.len()
        )));
    }
    let yaml: Yaml = serde_yaml_ng::from_str(text).map_err(|e| ImportError::Syntax(e.to_string()))?;
    to_json(yaml, "")
}

/// YAML to JSON: keys become strings (`200:` is `"200"`), `!Ref x` becomes `{"Ref": "x"}`, `!GetAtt a.b`
/// becomes `{"Fn::GetAtt": ["a", "b"]}` and any other `!Fn x` becomes `{"Fn::Fn": x}`, as CloudFormation reads
/// them.
fn to_json(yaml: Yaml, pointer: &str) -> Result<Value, ImportError> {
    Ok(match yaml {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => serde_json::to_value(&n).unwrap_or(Value::Null),
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, v)| to_json(v, &format!("{pointer}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    Yaml::Null => "null".to_owned(),
                    _ => return Err(ImportError::at(pointer, "a key that is a list, a map or tagged")),
                };
                let here = format!("{pointer}/{}", token(&key));
                object.insert(key, to_json(value, &here)?);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let name = tagged.tag.to_string();
            let name = name.trim_start_matches('!');
            let value = to_json(tagged.value, pointer)?;
            let (key, value) = match name {
                "Ref" | "Condition" => (name.to_owned(), value),
                "GetAtt" => match value {
                    Value::String(s) => {
                        let parts = s.splitn(2, '.').map(|p| Value::String(p.to_owned())).collect();
                        ("Fn::GetAtt".to_owned(), Value::Array(parts))
                    }
                    other => ("Fn::GetAtt".to_owned(), other),
                },
                other => (format!("Fn::{other}"), value),
            };
            Value::Object(Map::from_iter([(key, value)]))
        }
    })
}

enum Found {
    Document(Value),
    InTemplate { body: Value, pointer: String, http_api: bool },
}

/// The document itself, or the API inside a template. A template's parameter defaults join `params` (the
/// caller's values win).
fn find_api(
    mut root: Value,
    params: &mut BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> Result<Found, ImportError> {
    let is_template = root.get("openapi").is_none()
        && root.get("swagger").is_none()
        && root.get("Resources").is_some_and(Value::is_object);
    if !is_template {
        return Ok(Found::Document(root));
    }
    for (name, parameter) in root.get("Parameters").and_then(Value::as_object).into_iter().flatten() {
        let default = match parameter.get("Default") {
            Some(Value::String(s)) => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => continue,
        };
        params.entry(name.clone()).or_insert(default);
    }
    let Some(Value::Object(resources)) = root.get_mut("Resources").map(Value::take) else {
        unreachable!("checked above")
    };
    let mut apis = resources.into_iter().filter_map(|(id, mut resource)| {
        let kind = resource.get("Type").and_then(Value::as_str)?;
        let &(kind, field, http_api) = API_RESOURCES.iter().find(|(k, ..)| *k == kind)?;
        let body = resource.get_mut("Properties")?.get_mut(field)?.take();
        let pointer = format!("/Resources/{}/Properties/{field}", token(&id));
        Some((id, kind, body, pointer, http_api))
    });
    let Some((id, kind, body, pointer, http_api)) = apis.next() else {
        return Err(ImportError::at(
            "/Resources",
            "no API with an inline definition: looked for DefinitionBody of AWS::Serverless::Api or \
             AWS::Serverless::HttpApi, Body of AWS::ApiGateway::RestApi or AWS::ApiGatewayV2::Api",
        ));
    };
    if let Some(location) = body.pointer("/Fn::Transform/Parameters/Location") {
        return Err(ImportError::at(
            pointer,
            format!("the definition is included from {location} (AWS::Include): import that file instead"),
        ));
    }
    let others: Vec<String> = apis.map(|(id, ..)| id).collect();
    notes.push(format!("imported {id} ({kind}) from the template"));
    if !others.is_empty() {
        notes.push(format!("the template has other APIs, not imported: {}", others.join(", ")));
    }
    Ok(Found::InTemplate { body, pointer, http_api })
}

fn version(root: &Value, base: &str) -> Result<Version, ImportError> {
    if !root.is_object() {
        return Err(ImportError::at(base, "not an OpenAPI or Swagger object"));
    }
    let text = |v: &Value| match v {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    };
    if let Some(v) = root.get("swagger") {
        return match text(v).as_str() {
            "2.0" | "2" => Ok(Version::Swagger2),
            other => Err(ImportError::at(
                format!("{base}/swagger"),
                format!("unknown Swagger version {other:?}: 2.0 is read"),
            )),
        };
    }
    match root.get("openapi").map(text) {
        Some(v) if v.starts_with("3.0") => Ok(Version::OpenApi30),
        Some(v) if v.starts_with("3.1") => Ok(Version::OpenApi31),
        Some(other) => Err(ImportError::at(
            format!("{base}/openapi"),
            format!("unknown OpenAPI version {other:?}: 3.0 and 3.1 are read, and Swagger 2.0"),
        )),
        None => Err(ImportError::at(base, "neither `openapi` nor `swagger` says which version this is")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_text(text: &str) -> Result<Document, ImportError> {
        read(text, &BTreeMap::new())
    }

    #[test]
    fn short_form_tags_become_long_form() {
        let doc = to_json(
            serde_yaml_ng::from_str(
                "a: !Ref Name\nb: !GetAtt Fn.Arn\nc: !Sub 'x-${Name}'\nd: !Join [',', [a, b]]\n200: ok",
            )
            .expect("yaml"),
            "",
        )
        .expect("json");
        assert_eq!(
            doc,
            serde_json::json!({"a": {"Ref": "Name"}, "b": {"Fn::GetAtt": ["Fn", "Arn"]}, "c": {"Fn::Sub": "x-${Name}"},
                               "d": {"Fn::Join": [",", ["a", "b"]]}, "200": "ok"})
        );
    }

    #[test]
    fn finds_the_api_in_a_template() {
        let template = "Parameters:\n  Stage: { Type: String, Default: prod }\nResources:\n  Fn:\n    Type: AWS::Serverless::Function\n  \
                        Api:\n    Type: AWS::Serverless::HttpApi\n    Properties:\n      DefinitionBody:\n        openapi: 3.0.1\n        \
                        info: { title: !Sub 'api-${Stage}' }\n        paths: {}\n";
        let doc = read_text(template).expect("imports");
        assert!(doc.http_api);
        assert_eq!(doc.version, Version::OpenApi30);
        assert_eq!(doc.root["info"]["title"], "api-prod", "a parameter's default");
        let include = "Resources:\n  Api:\n    Type: AWS::Serverless::Api\n    Properties:\n      DefinitionBody:\n        \
                       Fn::Transform: { Name: AWS::Include, Parameters: { Location: s3://b/api.yaml } }\n";
        let err = read_text(include).expect_err("included").to_string();
        assert!(err.contains("/Resources/Api/Properties/DefinitionBody") && err.contains("s3://b/api.yaml"), "{err}");
        let none = read_text("Resources:\n  Fn: { Type: AWS::Serverless::Function }\n").expect_err("no api");
        assert!(none.to_string().starts_with("/Resources: no API"), "{none}");
    }

    #[test]
    fn bad_documents_are_named() {
        for (text, expected) in [
            ("openapi: [1", "not YAML or JSON"),
            ("{\"openapi\": \"3.0.1\", ", "not YAML or JSON"),
            ("a: 1\na: 2\n", "duplicate"),
            ("openapi: 4.0.0\npaths: {}", "/openapi: unknown OpenAPI version \"4.0.0\""),
            ("swagger: '1.2'\npaths: {}", "/swagger: unknown Swagger version"),
            ("info: {}", "the document: neither"),
            ("- 1\n- 2", "not an OpenAPI"),
            ("? [a]\n: 1", "a key that is a list"),
        ] {
            let err = read_text(text).expect_err(text).to_string();
            assert!(err.contains(expected), "{text:?}: {err}");
        }
    }

    #[test]
    fn hostile_sizes_and_depths_are_refused() {
        let big = format!("openapi: 3.0.1\ninfo: {{ title: \"{}\" }}", "x".repeat(MAX_DOCUMENT_BYTES));
        assert!(matches!(read_text(&big), Err(ImportError::TooLarge { .. })));
        let deep_json = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(read_text(&deep_json), Err(ImportError::Syntax(_))));
        let deep_yaml = format!("a: {}1{}", "[".repeat(100_000), "]".repeat(100_000));
        assert!(matches!(read_text(&deep_yaml), Err(ImportError::Syntax(_))));
        let wide = "k: [[[1]]]\n".repeat(MAX_FLOW_COLLECTIONS / 3 + 1);
        let err = read_text(&wide).expect_err("too many collections").to_string();
        assert!(err.contains("flow collections"), "{err}");
        // A billion laughs: aliases that would expand to gigabytes.
        let mut laughs =
            String::from("a: &a [\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\",\"lol\"]\n");
        for (i, name) in ["b", "c", "d", "e", "f", "g", "h", "i"].iter().enumerate() {
            let prev = ["a", "b", "c", "d", "e", "f", "g", "h"][i];
            laughs.push_str(&format!(
                "{name}: &{name} [*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev},*{prev}]\n"
            ));
        }
        assert!(matches!(read_text(&laughs), Err(ImportError::Syntax(_))), "refused, not expanded");
    }
}
