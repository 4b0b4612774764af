//! The models and validators of real definitions (`../shared/corpus/openapi/`, files 01 and 02: Swagger 2.0
//! `definitions` with `in: body` parameters, OAS 3 `components.schemas` with `requestBody`, nested `$ref`s, enums,
//! `allOf`, `readOnly`, `format: float`), read at run time and turned into a Tollgate definition here: every
//! schema must compile, and good and bad bodies get the answers API Gateway gives. Skipped, saying so, when the
//! corpus is absent.

use std::path::PathBuf;

use serde_json::{Map, Value, json};
use tollgate_core::{Gateway, request::GatewayRequest};
use tollgate_tests::{echo_gateway, repo_root};

/// The corpus file, parsed (YAML or JSON); `None` when the corpus is not beside the repository.
fn corpus(name: &str) -> Option<Value> {
    let dir: PathBuf = repo_root().join("../shared/corpus/openapi");
    if !dir.is_dir() {
        println!("skipped: {} is absent", dir.display());
        return None;
    }
    let text = std::fs::read_to_string(dir.join(name)).expect("corpus file");
    Some(serde_yaml_ng::from_str(&text).expect("the corpus file parses"))
}

/// The last segment of `#/definitions/Name` or `#/components/schemas/Name`.
fn model_name(reference: &Value) -> Value {
    reference.as_str().and_then(|r| r.rsplit('/').next()).expect("a $ref").into()
}

/// A REST definition with the file's models, validators and gateway responses, one mock route per operation
/// with the operation's validator, required parameters and body models.
fn definition(spec: &Value) -> Value {
    let models = spec.get("definitions").or_else(|| spec.pointer("/components/schemas")).cloned();
    let mut routes = Map::new();
    for (path, operations) in spec["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let mut route = json!({ "integration": { "type": "mock", "body": "reached" } });
            if let Some(validator) = operation.get("x-amazon-apigateway-request-validator") {
                route["requestValidator"] = validator.clone();
            }
            let (mut parameters, mut models) = (Map::new(), Map::new());
            for parameter in operation["parameters"].as_array().into_iter().flatten() {
                let location = match parameter["in"].as_str() {
                    Some("body") => {
                        let types = operation["consumes"]
                            .as_array()
                            .cloned()
                            .unwrap_or_else(|| vec!["application/json".into()]);
                        for media_type in types {
                            models.insert(
                                media_type.as_str().expect("type").to_owned(),
                                model_name(&parameter["schema"]["$ref"]),
                            );
                        }
                        continue;
                    }
                    Some("query") => "querystring",
                    Some(other) => other,
                    None => continue,
                };
                let required = parameter["required"].as_bool().unwrap_or(false);
                parameters.insert(format!("{location}.{}", parameter["name"].as_str().expect("name")), required.into());
            }
            for (media_type, content) in
                operation.pointer("/requestBody/content").and_then(Value::as_object).into_iter().flatten()
            {
                models.insert(media_type.clone(), model_name(&content["schema"]["$ref"]));
            }
            route["requestParameters"] = parameters.into();
            route["requestModels"] = models.into();
            routes.insert(format!("{} {path}", method.to_ascii_uppercase()), route);
        }
    }
    let mut definition = json!({
        "type": "REST",
        "models": models,
        "requestValidators": spec["x-amazon-apigateway-request-validators"],
        "routes": routes,
    });
    if let Some(default) = spec.get("x-amazon-apigateway-request-validator") {
        definition["requestValidator"] = default.clone();
    }
    if let Some(responses) = spec.get("x-amazon-apigateway-gateway-responses") {
        definition["gatewayResponses"] = responses.clone();
    }
    definition
}

fn gateway(definition: &Value) -> Gateway {
    echo_gateway(&serde_yaml_ng::to_string(definition).expect("YAML"))
}

/// (status, body as JSON or text, `Access-Control-Allow-Origin`)
async fn send(gateway: &Gateway, method: &str, path: &str, body: Value) -> (u16, Value, Option<String>) {
    let mut request = GatewayRequest::new(http::Method::from_bytes(method.as_bytes()).expect("method"), path);
    request.headers.insert("content-type", "application/json".parse().expect("type"));
    request.body = body.to_string().into();
    request.request_id = "corpus".to_owned();
    let response = gateway.handle_request(request).await;
    let text = String::from_utf8_lossy(&response.body).into_owned();
    let origin = response.headers.get("access-control-allow-origin").and_then(|v| v.to_str().ok()).map(str::to_owned);
    (response.status.as_u16(), serde_json::from_str(&text).unwrap_or(Value::String(text)), origin)
}

#[tokio::test]
async fn swagger_models_and_the_validation_error_template() {
    let Some(spec) = corpus("01-serverless-samples-python-rest-sam-swagger.yaml") else { return };
    let gateway = gateway(&definition(&spec));
    let (status, body, _) = send(&gateway, "PUT", "/locations", json!({"name": "HQ", "imageUrl": "x"})).await;
    assert_eq!((status, body), (200, json!("reached")));
    // The file's own BAD_REQUEST_BODY template renders the detail; DEFAULT_4XX's header applies.
    let (status, body, origin) = send(&gateway, "PUT", "/locations", json!({"description": "no name"})).await;
    assert_eq!((status, origin.as_deref()), (400, Some("*")));
    assert_eq!(
        body,
        json!({"message": "Invalid request body", "responseType": "BAD_REQUEST_BODY",
               "validationErrorString": "[object has missing required properties ([\"name\"])]"})
    );
    let room = json!({"name": "Blue", "type": "pool"});
    let (status, body, _) = send(&gateway, "PUT", "/locations/l1/resources", room).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["validationErrorString"],
        r#"[instance value ("pool") not found in enum (possible values: ["room","demo","arena","hall"])]"#
    );
    let booking = json!({"resourceid": "r1", "starttimeepochtime": "tomorrow"});
    let (status, body, _) = send(&gateway, "PUT", "/users/u1/bookings", booking).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["validationErrorString"],
        r#"[instance type (string) does not match any allowed primitive type (allowed: ["number"])]"#
    );
    let booking = json!({"resourceid": "r1", "starttimeepochtime": 1_767_225_600});
    assert_eq!(send(&gateway, "PUT", "/users/u1/bookings", booking).await.0, 200);
    // Its params-only validator reads no body.
    assert_eq!(send(&gateway, "GET", "/locations", json!("anything")).await.0, 200);
}

#[tokio::test]
async fn openapi_3_models_with_nested_refs_enums_and_all_of() {
    let Some(spec) = corpus("02-serverless-samples-powertools-openapi.json") else { return };
    let mut definition = definition(&spec);
    // Tollgate's problem details, on the file's root validator, to see every failing field.
    definition["requestValidators"]["basic"]["problemDetails"] = true.into();
    let gateway = gateway(&definition);
    let address =
        json!({"street": "1 Main St", "city": "Springfield", "state": "IL", "postalCode": "62701", "country": "US"});
    let order = json!({
        "items": [{"productId": "p1", "quantity": 2, "price": 9.5}],
        "shippingAddress": address, "billingAddress": address,
        "paymentMethod": "PAYPAL", "shippingMethod": "EXPRESS", "customerNotes": "ring twice"
    });
    assert_eq!(send(&gateway, "POST", "/order", order).await.0, 200);
    let bad = json!({
        "items": [{"productId": "p1", "quantity": 0, "price": -1}],
        "shippingAddress": {"street": "1 Main St"},
        "paymentMethod": "CASH", "customerNotes": "x".repeat(501)
    });
    let (status, problem, _) = send(&gateway, "POST", "/order", bad).await;
    assert_eq!((status, &problem["title"]), (400, &json!("Invalid request body")));
    let mut pointers: Vec<&str> =
        problem["errors"].as_array().expect("errors").iter().map(|e| e["pointer"].as_str().expect("pointer")).collect();
    pointers.sort_unstable();
    assert_eq!(
        pointers,
        [
            "/billingAddress",
            "/customerNotes",
            "/items/0/price",
            "/items/0/quantity",
            "/paymentMethod",
            "/shippingAddress/city",
            "/shippingAddress/country",
            "/shippingAddress/postalCode",
            "/shippingAddress/state",
        ]
    );
    let empty_items = json!({"items": [], "shippingAddress": address, "billingAddress": address});
    let (status, problem, _) = send(&gateway, "POST", "/order", empty_items).await;
    assert_eq!(
        (status, &problem["errors"][0]["reason"]),
        (400, &json!("array is too short: must have at least 1 elements but instance has 0 elements"))
    );
    assert_eq!(send(&gateway, "PUT", "/order/o1", json!({"shippingMethod": "TELEPORT"})).await.0, 400);
    assert_eq!(send(&gateway, "PUT", "/order/o1", json!({"customerNotes": "leave at door"})).await.0, 200);
    assert_eq!(send(&gateway, "POST", "/orders/search", json!({"limit": 101})).await.0, 400);
    assert_eq!(send(&gateway, "POST", "/orders/search", json!({"statuses": ["PENDING"], "page": 2})).await.0, 200);
}
