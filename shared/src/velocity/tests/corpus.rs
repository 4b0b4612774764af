//! Real definitions' templates load and render.

use serde_json::json;

use super::json_of;
use crate::velocity::{RenderInput, Template};

/// The real definitions in `shared/corpus/openapi` (outside this repository; skipped when absent): every
/// request and response template in them loads and renders.
#[test]
fn corpus_templates_load_and_render() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../shared/corpus/openapi");
    if !dir.is_dir() {
        println!("skipping: no corpus at {}", dir.display());
        return;
    }
    fn templates(value: &serde_yaml_ng::Value, found: &mut Vec<String>) {
        match value {
            serde_yaml_ng::Value::Mapping(map) => {
                for (key, child) in map {
                    let is_templates = matches!(key.as_str(), Some("requestTemplates" | "responseTemplates"));
                    match (is_templates, child) {
                        (true, serde_yaml_ng::Value::Mapping(by_type)) => {
                            found.extend(by_type.values().filter_map(|t| t.as_str().map(str::to_owned)));
                        }
                        _ => templates(child, found),
                    }
                }
            }
            serde_yaml_ng::Value::Sequence(items) => items.iter().for_each(|item| templates(item, found)),
            _ => {}
        }
    }
    let context = json!({"error": {"messageString": "\"Invalid request body\"", "responseType": "BAD_REQUEST_BODY",
        "validationErrorString": "[object has missing required properties ([\\\"name\\\"])]"}});
    let files = [
        ("01-serverless-samples-python-rest-sam-swagger.yaml", 1),
        ("02-serverless-samples-powertools-openapi.json", 0),
        ("04-serverless-patterns-mappingtemplate-lambda.yaml", 1),
        ("07-localstack-pulumi-swagger.json", 6),
    ];
    for (file, expected) in files {
        let text = std::fs::read_to_string(dir.join(file)).expect("corpus file reads");
        let value: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text).expect("corpus file is YAML or JSON");
        let mut found = Vec::new();
        templates(&value, &mut found);
        assert_eq!(found.len(), expected, "{file}");
        for text in found {
            let template = Template::parse(&text).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"));
            let input = RenderInput { body: r#"{"ok": true}"#, context: Some(&context), ..RenderInput::default() };
            let out = template.render(&input).unwrap_or_else(|e| panic!("{file}: {e}\n{text}"));
            if text.contains("$context.error.messageString") {
                let out = json_of(&out.body);
                assert_eq!(out["message"], "Invalid request body", "{file}");
                if let Some(detail) = out.get("validationErrorString") {
                    assert_eq!(detail, "[object has missing required properties ([\"name\"])]");
                }
            }
            if file.starts_with("04") {
                // Lambda's error body becomes a 400, changed as the sample's README shows.
                let body = r#"{"statuscode": 200, "body": "error: no such item"}"#;
                let failed = template.render(&RenderInput { body, ..RenderInput::default() }).expect("renders");
                assert_eq!(failed.response_override.status, Some(400));
                assert_eq!(failed.body, r#"{"statuscode":650,"body":"changed"}"#);
                assert_eq!((out.response_override.status, out.body.as_str()), (None, r#"{"ok":true}"#));
            }
        }
    }
}
