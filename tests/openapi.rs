//! OpenAPI and Swagger import and export: the real definitions in `../shared/corpus/openapi/` (skipped, saying so,
//! when absent) and this repository's own in `tests/fixtures/openapi/` import, every operation is served or
//! reported, imports answer through `tollgate serve --openapi`, `import(export(d)) == d`, exported documents pass
//! an OpenAPI validator, and bad documents get errors naming the place.

use std::{path::PathBuf, process::Command};

use serde_json::{Value, json};
use tollgate_core::{
    config::{Definition, file::GatewayFile},
    openapi::{self, ExportFormat, ImportOptions, Imported, Outcome},
};
use tollgate_tests::{client::Reply, repo_root};

fn options(params: &[(&str, &str)]) -> ImportOptions {
    ImportOptions { params: params.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(), stage: None }
}

fn fixture(name: &str) -> PathBuf {
    repo_root().join("tests/fixtures/openapi").join(name)
}

fn import_file(path: &PathBuf, params: &[(&str, &str)]) -> Imported {
    let text = std::fs::read_to_string(path).expect("read");
    openapi::import(&text, &options(params)).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The definition loads as `tollgate serve` would load it.
fn loads(definition: &Value) -> Definition {
    let file: GatewayFile = serde_json::from_value(definition.clone()).expect("a definition");
    let stage = file.stages.keys().next().cloned();
    Definition::from_file(file, stage.as_deref()).unwrap_or_else(|e| panic!("loads: {e}\n{definition:#}"))
}

/// `METHOD /path` of every operation of an OpenAPI document, as the report names them.
fn operations_in(document: &Value) -> Vec<String> {
    let methods =
        ["get", "put", "post", "delete", "options", "head", "patch", "trace", "x-amazon-apigateway-any-method"];
    let mut keys = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in methods.iter().filter(|m| item.get(**m).is_some()) {
            let verb = if method.starts_with("x-") { "ANY".to_owned() } else { method.to_ascii_uppercase() };
            keys.push(format!("{verb} {path}"));
        }
    }
    keys.sort();
    keys
}

fn reported(imported: &Imported) -> Vec<String> {
    let mut keys: Vec<String> = imported.report.operations.iter().map(|l| l.operation.clone()).collect();
    keys.sort();
    keys
}

const ACCOUNT: &str = "123456789012";

fn function_arn(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:{ACCOUNT}:function:{name}")
}

/// A corpus file, the parameters that fill all its placeholders, and how many operations then run and how many
/// cannot.
type CorpusRow = (&'static str, Vec<(&'static str, String)>, [usize; 2]);

fn corpus_table() -> Vec<CorpusRow> {
    let region = ("AWS::Region", "us-east-1".to_owned());
    vec![
        (
            "01-serverless-samples-python-rest-sam-swagger.yaml",
            vec![
                region.clone(),
                ("AWS::StackName", "locations".to_owned()),
                ("LocationsFunction.Arn", function_arn("locations")),
                ("ResourcesFunction.Arn", function_arn("resources")),
                ("BookingsFunction.Arn", function_arn("bookings")),
                ("AuthorizerFunction.Arn", function_arn("authorizer")),
                ("AuthorizerFunctionExecutionRole.Arn", format!("arn:aws:iam::{ACCOUNT}:role/authorizer")),
            ],
            [13, 0],
        ),
        (
            "02-serverless-samples-powertools-openapi.json",
            vec![
                ("region", "eu-west-1".to_owned()),
                ("accountId", ACCOUNT.to_owned()),
                ("userPoolId", "eu-west-1_AbCdEf".to_owned()),
                ("lambdaArn", function_arn("orders")),
                ("searchLambdaArn", function_arn("search")),
            ],
            [5, 0],
        ),
        (
            "04-serverless-patterns-mappingtemplate-lambda.yaml",
            vec![region.clone(), ("APIFunction.Arn", function_arn("api"))],
            [1, 0],
        ),
        (
            "05-serverless-samples-queue-ingestion-httpapi.yaml",
            vec![
                region.clone(),
                ("GetJobStatusFunction.Arn", function_arn("status")),
                ("JobRequestAPIRole.Arn", format!("arn:aws:iam::{ACCOUNT}:role/jobs")),
                ("JobRequestQueue", "https://sqs.us-east-1.amazonaws.com/123456789012/jobs".to_owned()),
            ],
            [1, 1],
        ),
        ("07-localstack-pulumi-swagger.json", vec![], [2, 0]),
        (
            "09-airnode-oevGw.yaml.tpl",
            vec![
                ("path_key", "oev".to_owned()),
                ("region", "us-east-1".to_owned()),
                ("proxy_lambda", function_arn("proxy")),
                ("role", format!("arn:aws:iam::{ACCOUNT}:role/proxy")),
            ],
            [2, 0],
        ),
    ]
}

/// The corpus folder, or `None` (saying so) when it is not beside the repository.
fn corpus() -> Option<PathBuf> {
    let dir = repo_root().join("../shared/corpus/openapi");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("skipped: {} is absent (a clone has no corpus)", dir.display());
        None
    }
}

/// The corpus imports with every placeholder filled, and this repository's fixtures.
fn imports() -> Vec<(String, Imported)> {
    let mut all = Vec::new();
    if let Some(dir) = corpus() {
        for (name, params, _) in corpus_table() {
            let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
            all.push((name.to_owned(), import_file(&dir.join(name), &params)));
        }
    }
    for name in ["rest-extensions.yaml", "http-extensions.yaml", "sam-template.yaml"] {
        let params = [("HelloFunction.Arn", "arn:aws:lambda:us-east-1:123456789012:function:hello")];
        all.push((name.to_owned(), import_file(&fixture(name), &params)));
    }
    all
}

#[test]
fn corpus_files_import_and_every_operation_is_served_or_reported() {
    let Some(dir) = corpus() else { return };
    let table = corpus_table();
    let mut files: Vec<String> = std::fs::read_dir(&dir)
        .expect("corpus")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|name| name != "SOURCES.md")
        .collect();
    files.sort();
    let named: Vec<String> = table.iter().map(|(name, ..)| name.to_string()).collect();
    assert_eq!(files, named, "every corpus file has a row in the table");
    for (name, params, [runnable, unsupported]) in table {
        let path = dir.join(name);
        let raw = openapi::parse(&std::fs::read_to_string(&path).expect("read")).expect("parses");
        // Without parameters: it imports, and every operation has its line.
        let bare = import_file(&path, &[]);
        assert_eq!(reported(&bare), operations_in(&raw), "{name}: every operation reported");
        // With them: nothing is left unresolved, the definition loads, and the outcomes are the expected ones.
        let params: Vec<(&str, &str)> = params.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let full = import_file(&path, &params);
        assert!(full.report.unresolved.is_empty(), "{name}: {:?}", full.report.unresolved);
        let [runs, differs, cannot] = full.report.counts();
        assert_eq!([runs + differs, cannot], [runnable, unsupported], "{name}:\n{}", full.report.to_text());
        let definition = loads(&full.definition);
        assert_eq!(definition.routes.len(), runnable, "{name}: one route per runnable operation");
    }
}

#[test]
fn corpus_outcomes_say_what_differs() {
    let Some(dir) = corpus() else { return };
    let text = |name: &str| import_file(&dir.join(name), &[]).report.to_text();
    let sqs = text("05-serverless-samples-queue-ingestion-httpapi.yaml");
    assert!(
        sqs.contains("POST /submit-job-request  unsupported: an AWS service integration (SQS-SendMessage)"),
        "{sqs}"
    );
    let pulumi = text("07-localstack-pulumi-swagger.json");
    assert!(pulumi.contains("GET /just_do_it") && pulumi.contains("security alternatives"), "{pulumi}");
    assert!(pulumi.contains("set headers named method.response.header.X"), "the real-world mistake is named");
    let terraform = text("09-airnode-oevGw.yaml.tpl");
    assert!(terraform.contains("unresolved: path_key (1 place, first at /paths/~1${path_key})"), "{terraform}");
    let console = text("04-serverless-patterns-mappingtemplate-lambda.yaml");
    assert!(console.contains("base path /v1 ignored"), "the `servers` map is read: {console}");
    let sam = import_file(&dir.join("01-serverless-samples-python-rest-sam-swagger.yaml"), &[]);
    assert_eq!(sam.definition["routes"]["GET /locations"]["integration"]["function"], "LocationsFunction");
    assert_eq!(sam.definition["authorizers"]["LambdaAuthorizer"]["resultTtlSeconds"], 300);
    assert_eq!(sam.definition["models"]["LocationModel"]["type"], "object");
    let cognito = import_file(
        &dir.join("02-serverless-samples-powertools-openapi.json"),
        &[("region", "eu-west-1"), ("userPoolId", "eu-west-1_AbCdEf")],
    );
    assert_eq!(
        cognito.definition["authorizers"]["cognito-authorizer"],
        json!({ "type": "jwt", "issuer": "https://cognito-idp.eu-west-1.amazonaws.com/eu-west-1_AbCdEf",
                "audiences": [], "anyAudience": true })
    );
    assert_eq!(cognito.definition["requestValidator"], "basic");
}

#[test]
fn own_definitions_map_every_extension() {
    let rest = import_file(&fixture("rest-extensions.yaml"), &[]);
    let d = &rest.definition;
    assert_eq!(d["type"], "REST");
    assert_eq!(d["binaryMediaTypes"], json!(["image/png"]));
    assert_eq!(d["minimumCompressionSize"], 1024);
    assert_eq!(d["requestValidator"], "all");
    assert_eq!(d["gatewayResponses"]["BAD_REQUEST_BODY"]["statusCode"], "422");
    assert_eq!(d["authorizers"]["tokens"]["identityValidationExpression"], "^Bearer [-0-9a-zA-Z._]+$");
    assert_eq!(d["authorizers"]["tokens"]["eventType"], "TOKEN");
    assert_eq!(
        d["authorizers"]["visitors"]["identitySources"],
        json!(["$request.header.X-Visitor", "$request.querystring.visit"])
    );
    let routes = &d["routes"];
    assert_eq!(routes["GET /pets"]["requestParameters"], json!({ "querystring.limit": true }), "a $ref'd parameter");
    assert_eq!(routes["GET /pets"]["integration"]["timeoutMs"], 29000, "a $ref'd integration");
    assert_eq!(routes["DELETE /pets/{id}"]["integration"]["timeoutMs"], 29000, "a $ref'd path item");
    assert!(routes["DELETE /pets/{id}"].get("requestParameters").is_none(), "the route's own path parameter");
    assert_eq!(d["models"]["Pet"]["properties"]["tag"]["$ref"], "Tag", "a model's reference names the model");
    assert_eq!(routes["POST /pets"]["apiKeyRequired"], true);
    assert_eq!(routes["POST /pets"]["authorizationScopes"], json!(["shop/write"]));
    assert_eq!(routes["POST /pets"]["requestModels"], json!({ "application/json": "Pet" }));
    assert_eq!(routes["POST /pets"]["integration"]["proxy"], false, "aws becomes a template integration");
    assert_eq!(
        routes["ANY /status"]["integration"],
        json!({ "type": "mock", "body": "{\"status\":\"ok\"}",
                                                             "headers": { "Content-Type": "application/json" } })
    );
    let outcome = |operation: &str| {
        rest.report.operations.iter().find(|l| l.operation == operation).map(|l| l.outcome.clone()).expect(operation)
    };
    assert_eq!(
        routes["GET /teapot"]["integration"]["responses"]["4\\d{2}"]["statusCode"], "418",
        "a mock's templates kept"
    );
    assert!(matches!(outcome("PUT /orders"), Outcome::Unsupported { reason } if reason.contains("dynamodb")));
    assert!(matches!(outcome("GET /private"), Outcome::Unsupported { reason } if reason.contains("VPC_LINK")));
    assert!(matches!(outcome("GET /admin"), Outcome::Unsupported { reason } if reason.contains("IAM")));
    assert_eq!(
        outcome("GET /backend/{proxy+}"),
        Outcome::RunsWithDifferences {
            differences: vec!["requestParameters not applied: integration.request.header.x-tenant".into()]
        },
        "the path parameter passed on by name is what Tollgate does"
    );
    let notes = rest.report.notes.join("\n");
    for note in ["base path /prod ignored", "endpoint configuration not imported", "resource policy not imported"] {
        assert!(notes.contains(note), "{note}: {notes}");
    }
    loads(d);

    let http = import_file(&fixture("http-extensions.yaml"), &[]);
    let d = &http.definition;
    assert!(d.get("type").is_none(), "an HTTP API (the default type)");
    assert_eq!(d["cors"]["allowOrigins"], json!(["https://app.example.com"]));
    assert_eq!(
        d["authorizers"]["users"],
        json!({ "type": "jwt", "issuer": "https://id.example.com", "audiences": ["notes-api"] })
    );
    assert_eq!(d["authorizers"]["gate"]["simpleResponses"], true);
    assert_eq!(d["routes"]["GET /notes"]["authorizationScopes"], json!(["notes/read"]));
    assert_eq!(d["routes"]["$default"]["integration"]["payloadFormatVersion"], "2.0");
    assert_eq!(d["routes"]["GET /search"]["integration"]["requestParameters"]["append:header.x-source"], "tollgate");
    assert_eq!(http.report.counts(), [4, 0, 0]);
    loads(d);

    // The operation's own x-amazon-apigateway-auth: AWS_IAM cannot run, NONE lifts the API's security.
    let auth = |kind: &str| {
        let text = format!(
            "swagger: '2.0'\nsecurity: [{{ key: [] }}]\nsecurityDefinitions: {{ key: {{ type: apiKey, name: x-api-key, in: header }} }}\n\
             paths:\n  /a:\n    get:\n      x-amazon-apigateway-auth: {{ type: {kind} }}\n      \
             x-amazon-apigateway-integration: {{ type: http_proxy, httpMethod: GET, uri: 'https://a.example.com/' }}\n"
        );
        openapi::import(&text, &ImportOptions::default()).expect("imports")
    };
    assert!(
        matches!(&auth("AWS_IAM").report.operations[0].outcome, Outcome::Unsupported { reason } if reason.contains("AWS_IAM"))
    );
    assert!(auth("NONE").definition["routes"]["GET /a"].get("apiKeyRequired").is_none());
    let trace =
        openapi::import("openapi: 3.1.0\npaths: { /a: { trace: {} } }", &ImportOptions::default()).expect("imports");
    assert!(
        matches!(&trace.report.operations[0].outcome, Outcome::Unsupported { reason } if reason.starts_with("TRACE"))
    );
    assert_eq!(auth("CUSTOM").definition["routes"]["GET /a"]["apiKeyRequired"], true);

    // OpenAPI 3.1: schemas are JSON Schema 2020-12, and say so; the export is 3.1 again and comes back the same.
    let modern = "openapi: 3.1.0\ncomponents: { schemas: { Tag: { type: [string, 'null'], prefixItems: [{ type: string }] } } }\npaths:\n  /t:\n    \
                  post:\n      requestBody: { content: { application/json: { schema: { $ref: '#/components/schemas/Tag' } } } }\n      \
                  x-amazon-apigateway-integration: { type: http_proxy, httpMethod: POST, uri: 'https://t.example.com/' }\n";
    let modern = openapi::import(modern, &ImportOptions::default()).expect("3.1 imports");
    assert_eq!(modern.definition["models"]["Tag"]["$schema"], "https://json-schema.org/draft/2020-12/schema");
    loads(&modern.definition);
    let exported = openapi::export(&modern.definition, ExportFormat::OpenApi3).expect("exports");
    assert_eq!(exported["openapi"], "3.1.0");
    assert!(exported.get("x-tollgate").is_none(), "{exported:#}");

    let sam = import_file(&fixture("sam-template.yaml"), &[]);
    assert_eq!(sam.definition["name"], "hello-prod", "!Sub with a parameter's default");
    assert_eq!(sam.definition["routes"]["GET /hello/{name}"]["integration"]["function"], "HelloFunction");
    assert_eq!(sam.definition["routes"]["POST /health"]["integration"], json!({ "type": "mock", "statusCode": 202 }));
    assert!(sam.report.notes.iter().any(|n| n.contains("imported Api (AWS::Serverless::Api)")));
    loads(&sam.definition);
}

#[tokio::test]
async fn imports_answer_through_serve_openapi() {
    let serve = |path: PathBuf| async move {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = tollgate::store::StoreArgs { store: dir.path().join("store.json"), ..Default::default() };
        let options =
            tollgate::serve::ServeOptions { config: path, store, openapi: Some(options(&[])), ..Default::default() };
        (tollgate::serve::Server::start(&options).await.expect("serve --openapi starts"), dir)
    };
    let client = reqwest::Client::new();
    let (server, _dir) = serve(fixture("sam-template.yaml")).await;
    let url = |path: &str| format!("http://{}{path}", server.addr);
    let health = Reply::of(client.get(url("/health"))).await;
    assert_eq!((health.status, health.text().as_str()), (200, "{\"healthy\":true}"));
    assert_eq!(health.header("content-type"), Some("application/json"));
    let bad = Reply::of(client.post(url("/health")).json(&json!({ "status": "sideways" }))).await;
    assert_eq!((bad.status, bad.json()), (400, json!({ "message": "Invalid request body" })));
    let good = Reply::of(client.post(url("/health")).json(&json!({ "status": "up" }))).await;
    assert_eq!(good.status, 202);
    let missing = Reply::of(client.get(url("/nothing"))).await;
    assert_eq!(missing.status, 403, "REST's answer to a path no route has: {}", missing.text());

    // The TOKEN authorizer's identityValidationExpression refuses a malformed token without invoking anything.
    let (server, _dir) = serve(fixture("rest-extensions.yaml")).await;
    let pets = format!("http://{}/pets?limit=1", server.addr);
    let refused = Reply::of(client.get(&pets).header("authorization", "Basic abc")).await;
    assert_eq!((refused.status, refused.json()), (401, json!({ "message": "Unauthorized" })));
    // A mock with templates: the request template picks the status, the integration response answers it.
    let teapot = |brew: &str| client.get(format!("http://{}/teapot?brew={brew}", server.addr));
    let tea = Reply::of(teapot("tea")).await;
    assert_eq!((tea.status, tea.json()), (418, json!({ "message": "I'm a teapot" })));
    assert_eq!(tea.header("x-pot"), Some("tea"));
    let coffee = Reply::of(teapot("coffee")).await;
    assert_eq!((coffee.status, coffee.json()), (200, json!({ "brewed": "coffee" })));
    let status = Reply::of(client.get(format!("http://{}/status", server.addr))).await;
    assert_eq!(status.status, 401, "the REQUEST authorizer's identity sources are missing");
}

/// `import(export(d)) == d`; a document API Gateway's own extensions describe whole needs no `x-tollgate`.
fn round_trip(name: &str, definition: &Value, pure: bool) -> Vec<(String, Value)> {
    let rest = definition["type"] == "REST";
    let formats: &[ExportFormat] =
        if rest { &[ExportFormat::OpenApi3, ExportFormat::Swagger2] } else { &[ExportFormat::OpenApi3] };
    let mut documents = Vec::new();
    for format in formats {
        let document = openapi::export(definition, *format).unwrap_or_else(|e| panic!("{name}: {e}"));
        let text = serde_json::to_string(&document).expect("json");
        let back = openapi::import(&text, &ImportOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
        assert_eq!(back.definition, *definition, "{name} ({format:?}) round trip:\n{document:#}");
        if pure {
            assert!(document.get("x-tollgate").is_none(), "{name} ({format:?}): {:#}", document["x-tollgate"]);
        }
        documents.push((format!("{name}-{format:?}.json"), document));
    }
    documents
}

fn exported() -> Vec<(String, Value)> {
    let mut documents = Vec::new();
    for file in ["examples/hello/gateway.yaml", "tests/fixtures/replay.yaml", "tests/fixtures/replay-rest.yaml"] {
        let text = std::fs::read_to_string(repo_root().join(file)).expect("read");
        let definition = openapi::parse(&text).expect("parses");
        documents.extend(round_trip(file, &definition, false));
    }
    for (name, imported) in imports() {
        documents.extend(round_trip(&name, &imported.definition, true));
    }
    documents
}

#[test]
fn export_then_import_gives_the_definition_back() {
    let documents = exported();
    assert!(documents.len() >= 8, "{}", documents.len());
    let hello = &documents[0].1;
    assert_eq!(hello["x-amazon-apigateway-importexport-version"], "1.0", "an HTTP API says so");
    assert!(hello["x-tollgate"]["local"].is_object(), "what only Tollgate has stays under x-tollgate");
}

/// Found by the `openapi` fuzz target: an inline body schema that refers to a model kept the OpenAPI 3 pointer,
/// which a Swagger 2.0 export did not rewrite, so the export named a schema that was not there.
#[test]
fn inline_body_schemas_refer_to_models_by_name() {
    let text = r##"
openapi: 3.0.1
info: { title: orders, version: "1" }
paths:
  /order/{id}:
    put:
      parameters: [{ name: id, in: path, required: true, schema: { type: string } }]
      requestBody:
        content:
          application/json:
            schema:
              type: object
              properties: { order: { $ref: "#/components/schemas/Order" } }
      x-amazon-apigateway-integration: { type: mock, requestTemplates: { application/json: '{"statusCode": 200}' } }
components:
  schemas:
    Order: { type: object, properties: { id: { type: string } } }
"##;
    let imported = openapi::import(text, &ImportOptions::default()).expect("imports");
    let inline = &imported.definition["models"]["PutOrderIdBody"];
    assert_eq!(inline["properties"]["order"]["$ref"], "Order", "{inline:#}");
    round_trip("inline body schema", &imported.definition, true);
    loads(&imported.definition);
}

#[test]
fn exported_documents_pass_an_openapi_validator() {
    let available =
        Command::new("python3").args(["-c", "import openapi_spec_validator"]).status().is_ok_and(|s| s.success());
    if !available {
        assert!(
            std::env::var_os("TOLLGATE_REQUIRE_OPENAPI_VALIDATOR").is_none(),
            "openapi-spec-validator is required here (pip install openapi-spec-validator==0.7.1)"
        );
        println!("skipped: python3 -m openapi_spec_validator is not installed (pip install openapi-spec-validator)");
        return;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let mut paths = Vec::new();
    for (name, mut document) in exported() {
        // API Gateway's greedy `{proxy+}` is its own syntax, declared as the parameter `proxy` (as its export
        // does); OpenAPI's validator reads `proxy+` as the name, so it sees these paths as `{proxy}`.
        if let Some(paths) = document["paths"].as_object_mut() {
            *paths = std::mem::take(paths).into_iter().map(|(p, v)| (p.replace("+}", "}"), v)).collect();
        }
        let path = dir.path().join(name.replace('/', "_"));
        std::fs::write(&path, serde_json::to_vec_pretty(&document).expect("json")).expect("write");
        paths.push(path);
    }
    let output = Command::new("python3").arg("-m").arg("openapi_spec_validator").args(&paths).output().expect("runs");
    let said = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{said}{}", String::from_utf8_lossy(&output.stderr));
    assert_eq!(said.matches(": OK").count(), paths.len(), "{said}");
}

#[test]
fn bad_documents_get_errors_naming_the_place() {
    let operation = |integration: &str| format!("{{\"x-amazon-apigateway-integration\": {integration}}}");
    let mock_integration = "{\"type\": \"mock\", \"requestTemplates\": {\"application/json\": \"{\\\"statusCode\\\": 200}\"}, \"responses\": {\"default\": {\"statusCode\": \"200\"}}}";
    let mock = operation(mock_integration);
    let doc = |paths: String, extra: &str| format!("{{\"openapi\": \"3.0.1\", \"paths\": {{{paths}}}{extra}}}");
    let cases = [
        ("openapi: 3.0.1\npaths: [", "not YAML or JSON".to_owned()),
        ("{\"openapi\": \"3.0.1\", \"paths\": {", "not YAML or JSON".to_owned()),
        ("openapi: 2.0.0\npaths: {}", "/openapi: unknown OpenAPI version \"2.0.0\"".to_owned()),
        ("swagger: \"3.0\"\npaths: {}", "/swagger: unknown Swagger version \"3.0\"".to_owned()),
        ("openapi: 3.0.1\ninfo: {}", "/paths: no paths".to_owned()),
        (
            &doc(
                format!("\"/a\": {{\"get\": {{\"parameters\": [{{\"$ref\": \"#/components/parameters/x\"}}], \"x-amazon-apigateway-integration\": {}}}}}", mock_integration),
                ", \"components\": {\"parameters\": {\"x\": {\"$ref\": \"#/components/parameters/y\"}, \"y\": {\"$ref\": \"#/components/parameters/x\"}}}",
            ),
            "/components/parameters/y/$ref: $ref cycle: /components/parameters/x -> /components/parameters/y -> /components/parameters/x".to_owned(),
        ),
        (
            &doc(format!("\"/a\": {{\"get\": {}}}", operation("{\"$ref\": \"#/components/x-amazon-apigateway-integrations/gone\"}")), ""),
            "/paths/~1a/get/x-amazon-apigateway-integration/$ref: $ref \"#/components/x-amazon-apigateway-integrations/gone\": nothing is there".to_owned(),
        ),
        (
            &doc(format!("\"/a\": {{\"get\": {}}}", operation("{\"$ref\": \"other.yaml#/x\"}")), ""),
            "points outside this document".to_owned(),
        ),
        (&doc(format!("\"/a/{{b\": {{\"get\": {mock}}}"), ""), "/paths/~1a~1{b: the path \"/a/{b\" does not parse".to_owned()),
        (
            &doc(format!("\"/pets/{{id}}\": {{\"get\": {mock}}}, \"/pets/{{petId}}\": {{\"get\": {mock}}}"), ""),
            "/paths/~1pets~1{petId}/get: duplicate operation: GET /pets/{petId} is the route GET /pets/{id} (/paths/~1pets~1{id}/get) already is".to_owned(),
        ),
        (
            &doc(format!("\"/a\": {{\"get\": {{\"x-amazon-apigateway-request-validator\": \"all\", \"x-amazon-apigateway-integration\": {mock_integration}}}}}"), ""),
            "/paths/~1a/get/x-amazon-apigateway-request-validator: \"all\" names no validator".to_owned(),
        ),
        (
            &doc(format!("\"/a\": {{\"get\": {}}}", operation("{\"type\": \"kafka\"}")), ""),
            "/paths/~1a/get/x-amazon-apigateway-integration/type: unknown integration type \"kafka\"".to_owned(),
        ),
        (
            &doc("\"/a\": {\"post\": {\"requestBody\": {\"content\": {\"application/json\": {\"schema\": {\"$ref\": \"#/components/schemas/Nope\"}}}}}}".to_owned(), ", \"components\": {\"schemas\": {\"Pet\": {\"properties\": {\"tag\": {\"$ref\": \"#/components/schemas/Tag\"}}}}}"),
            "/components/schemas/Pet/properties/tag/$ref: $ref \"#/components/schemas/Tag\": nothing is there".to_owned(),
        ),
        // Found by the openapi fuzz target: each imported, then failed to export or to import back.
        (
            "openapi: 3.0.1\ncomponents: { securitySchemes: { u: { type: oauth2, x-amazon-apigateway-authorizer: { type: jwt, jwtConfiguration: {} } } } }\npaths: {}",
            "/components/securitySchemes/u/x-amazon-apigateway-authorizer/jwtConfiguration/issuer: a JWT authorizer needs its issuer".to_owned(),
        ),
        (
            &doc(format!("\"/a\": {{\"post\": {{\"requestBody\": {{\"content\": {{\"application/json\": {{\"schema\": {{\"properties\": {{\"a\": {{\"$ref\": \"#/d&efinitions/X\"}}}}}}}}}}}}, \"x-amazon-apigateway-integration\": {mock_integration}}}}}"), ""),
            "$ref \"#/d&efinitions/X\": nothing is there".to_owned(),
        ),
        // Found in the campaign: a merge patch that is not an object would replace the whole definition.
        ("openapi: 3.0.2\nx-tollgate: some text\npaths: {}", "/x-tollgate: must be an object".to_owned()),
        ("openapi: 3.0.2\nx-tollgate: [1]\npaths: {}", "/x-tollgate: must be an object".to_owned()),
    ];
    for (text, expected) in cases.iter() {
        let err = openapi::import(text, &ImportOptions::default()).expect_err(text).to_string();
        assert!(err.contains(expected.as_str()), "{text}\n  got: {err}\n want: {expected}");
    }
    let huge = format!("openapi: 3.0.1\npaths: {{}}\nx: \"{}\"", "a".repeat(openapi::MAX_DOCUMENT_BYTES));
    assert!(openapi::import(&huge, &ImportOptions::default()).expect_err("huge").to_string().contains("the limit is"));
    let deep = format!("openapi: 3.0.1\npaths: {{}}\nx: {}{}", "[".repeat(200), "]".repeat(200));
    assert!(openapi::import(&deep, &ImportOptions::default()).expect_err("deep").to_string().contains("nest deeper"));
}
