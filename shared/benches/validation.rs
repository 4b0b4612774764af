//! What request validation costs: a 1 KB and a 100 KB JSON order, each sent to a route whose validator checks it
//! against a realistic model (nested objects through `$ref`s, enums, formats, bounds, an array of line items)
//! and to the same route without validation, in the same run. The whole pipeline runs each time (mock
//! integration), so the ratio is what validation adds to a request.
//!
//! `cargo bench -p tollgate-core --bench validation`; the bodies' sizes are printed on stderr.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_core::{Gateway, backends::Backends, config::Definition, request::GatewayRequest};

const DEFINITION: &str = r##"
type: REST
models:
  Address:
    type: object
    required: [street, city, postalCode, country]
    properties:
      street: { type: string, minLength: 1, maxLength: 200 }
      city: { type: string, minLength: 1 }
      postalCode: { type: string, pattern: "^[0-9A-Z -]{3,10}$" }
      country: { type: string, enum: [US, DE, FR, GB, JP] }
  Item:
    type: object
    required: [sku, quantity, price]
    additionalProperties: false
    properties:
      sku: { type: string, pattern: "^[A-Z]{3}-[0-9]{4}$" }
      name: { type: string, maxLength: 100 }
      quantity: { type: integer, minimum: 1, maximum: 1000 }
      price: { type: number, minimum: 0 }
      tags: { type: array, items: { type: string }, maxItems: 10 }
  Order:
    type: object
    required: [id, customer, items, shipping, createdAt]
    properties:
      id: { type: string, format: uuid }
      customer:
        type: object
        required: [email]
        properties: { email: { type: string, format: email }, name: { type: string } }
      items: { type: array, minItems: 1, items: { $ref: "#/definitions/Item" } }
      shipping: { $ref: "#/definitions/Address" }
      billing: { $ref: "#/definitions/Address" }
      createdAt: { type: string, format: date-time }
      status: { type: string, enum: [PENDING, PAID, SHIPPED] }
      notes: { type: string, maxLength: 500 }
requestValidators:
  body: { validateRequestBody: true }
routes:
  POST /validated:
    requestValidator: body
    requestModels: { application/json: Order }
    integration: { type: mock, statusCode: 201 }
  POST /plain:
    requestModels: { application/json: Order }
    integration: { type: mock, statusCode: 201 }
"##;

/// A valid order with `items` line items.
fn order(items: usize) -> String {
    let address = serde_json::json!({"street": "1 Main Street", "city": "Springfield", "postalCode": "62701",
                                     "country": "US"});
    let items: Vec<_> = (0..items)
        .map(|i| {
            serde_json::json!({"sku": format!("ABC-{:04}", i % 10_000), "name": format!("item number {i}"),
                               "quantity": 1 + i % 9, "price": 4.25 + i as f64, "tags": ["sale", "blue"]})
        })
        .collect();
    serde_json::json!({
        "id": "0b7a4f8e-2f54-4c1d-9e0a-7d3c2b1a0f9e", "customer": {"email": "ada@example.com", "name": "Ada"},
        "items": items, "shipping": address, "billing": address, "createdAt": "2026-11-30T09:14:26Z",
        "status": "PAID", "notes": "leave at the door"
    })
    .to_string()
}

fn request(path: &str, body: &str) -> GatewayRequest {
    let mut request = GatewayRequest::new(http::Method::POST, path);
    request.headers.insert("content-type", "application/json".parse().expect("type"));
    request.body = body.to_owned().into();
    request.source_ip = "192.0.2.1".to_owned();
    request.request_id = "bench-request".to_owned();
    request
}

fn benches(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
    let definition = Definition::from_yaml(DEFINITION, None).expect("definition");
    let gateway = Gateway::new(&definition, &Backends::default()).expect("gateway");
    let mut group = c.benchmark_group("validation");
    for (size, items) in [("1kb", 7), ("100kb", 1075)] {
        let body = order(items);
        eprintln!("body {size}: {} bytes", body.len());
        for (name, path) in [("baseline-no-validation", "/plain"), ("validated", "/validated")] {
            let request = request(path, &body);
            let status = rt.block_on(gateway.handle_request(request.clone())).status;
            assert_eq!(status.as_u16(), 201, "{name} {size}: the body is valid");
            group.bench_function(format!("{size}-{name}"), |b| {
                b.to_async(&rt).iter(|| gateway.handle_request(black_box(request.clone())))
            });
        }
    }
    group.finish();
}

criterion_group!(validation, benches);
criterion_main!(validation);
