//! What an import and an export cost, each beside a baseline from the same run:
//! - `openapi/parse`: the fixture's text parsed into an untyped value, all an import must do at least;
//! - `openapi/import`: the whole import (intrinsics, references, every operation mapped, the report);
//! - `openapi/load`: the imported definition loaded as `tollgate serve` loads one (models and templates compiled);
//! - `openapi/export`: the definition exported, which imports the export once to find what only Tollgate has.
//!
//! The fixture is this repository's own (`tests/fixtures/openapi/rest-extensions.yaml`): one of each extension.
//! `scripts/bench-report.sh` prints the medians and ratios.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use tollgate_core::{
    config::{Definition, file::GatewayFile},
    openapi::{self, ExportFormat, ImportOptions},
};

fn bench(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/openapi/rest-extensions.yaml");
    let text = std::fs::read_to_string(path).expect("fixture");
    let options = ImportOptions::default();
    let imported = openapi::import(&text, &options).expect("imports");
    let mut group = c.benchmark_group("openapi");
    group.bench_function("parse", |b| b.iter(|| openapi::parse(black_box(&text)).expect("parses")));
    group.bench_function("import", |b| b.iter(|| openapi::import(black_box(&text), &options).expect("imports")));
    group.bench_function("load", |b| {
        b.iter(|| {
            let file: GatewayFile = serde_json::from_value(imported.definition.clone()).expect("a definition");
            Definition::from_file(file, None).expect("loads")
        })
    });
    group.bench_function("export", |b| {
        b.iter(|| openapi::export(black_box(&imported.definition), ExportFormat::OpenApi3).expect("exports"))
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
