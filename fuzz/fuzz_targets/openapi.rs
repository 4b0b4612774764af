//! Any text as an OpenAPI or Swagger document (or a template holding one): the import refuses it with an error
//! or maps it; what it maps must export, and the export must import back to the same definition.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tollgate_core::openapi::{self, ExportFormat, ImportOptions};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let options = ImportOptions { params: [("region".to_owned(), "us-east-1".to_owned())].into(), stage: None };
    let Ok(imported) = openapi::import(text, &options) else { return };
    let _ = imported.report.to_text();
    let _ = imported.report.to_json();
    let rest = imported.definition["type"] == "REST";
    let format = if rest && data.len() % 2 == 0 { ExportFormat::Swagger2 } else { ExportFormat::OpenApi3 };
    // An import a definition's checks refuse may still export; it must come back the same either way.
    let document = openapi::export(&imported.definition, format).expect("an import exports");
    // The mapping is what is checked, not the parser: a definition nested near the parsers' depth limit imports
    // as a value but not as text (its export nests a few levels deeper).
    let back = openapi::import_value(document, &ImportOptions::default()).expect("an export imports");
    assert_eq!(back.definition, imported.definition, "import(export(d)) == d");
});
