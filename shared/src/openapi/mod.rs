//! OpenAPI and Swagger import and export: an API described for API Gateway (with its `x-amazon-apigateway-*`
//! extensions, maybe inside a SAM or CloudFormation template, maybe a Terraform template) becomes a Tollgate
//! definition, with a report saying what runs, what runs differently and what cannot run, operation by
//! operation; and a definition becomes such a document again.
//!
//! Reading is tolerant on purpose: the document is parsed into an untyped value and mapped here, field by field,
//! because typed OpenAPI models reject most real files (a `servers` map, an `Fn::Sub` where a string belongs).
//! The life of an import, one file each:
//! - `read`: text to a value within size and depth bounds, the API found inside a template, its version;
//! - `intrinsics`: CloudFormation functions and Terraform placeholders filled from parameters;
//! - `refs`: local `$ref`s followed, with cycles and missing targets named by JSON pointer;
//! - `api`: API-wide extensions (authorizers, validators, models, gateway responses, CORS...);
//! - `operations`: each operation to a route; `integrations`: its `x-amazon-apigateway-integration`;
//! - `report`: the compatibility report;
//! - `export`: back to OpenAPI 3 or Swagger 2, whatever only Tollgate has under `x-tollgate`.
//!
//! Definitions are values here (the JSON form of `gateway.yaml`), so an import can be written out as it is and a
//! round trip compared exactly; the caller checks an import by loading it like any definition.

mod api;
mod export;
mod integrations;
mod intrinsics;
mod operations;
mod read;
mod refs;
mod report;

use std::collections::BTreeMap;

use serde_json::Value;

pub use export::{ExportError, ExportFormat, export};
pub use read::MAX_DOCUMENT_BYTES;
pub use report::{Outcome, Report, ReportLine};

/// What an import is told besides the document.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// `Name=Value` for CloudFormation parameters (`Ref`, `${Name}` in `Fn::Sub`), attributes (`Fn::GetAtt`,
    /// `${Name.Attr}`), pseudo-parameters (`AWS::Region`) and Terraform placeholders (`${name}`).
    pub params: BTreeMap<String, String>,
    /// The stage the definition gets (none: the single `$default` stage).
    pub stage: Option<String>,
}

/// An imported definition and what the import found.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The definition, as the JSON form of `gateway.yaml`.
    pub definition: Value,
    pub report: Report,
}

/// Why a document could not be imported at all. What only affects some operations is in the report instead.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("the document is {size} bytes; the limit is {MAX_DOCUMENT_BYTES}")]
    TooLarge { size: usize },
    #[error("the document is not YAML or JSON: {0}")]
    Syntax(String),
    /// A problem at a place in the document, named by its JSON pointer (`/paths/~1pets/get`).
    #[error("{}: {problem}", if pointer.is_empty() { "the document" } else { pointer.as_str() })]
    At { pointer: String, problem: String },
}

impl ImportError {
    fn at(pointer: impl Into<String>, problem: impl Into<String>) -> Self {
        Self::At { pointer: pointer.into(), problem: problem.into() }
    }
}

/// Imports an OpenAPI 3.0/3.1 or Swagger 2.0 document (YAML or JSON), or the API inside a SAM or CloudFormation
/// template.
pub fn import(text: &str, options: &ImportOptions) -> Result<Imported, ImportError> {
    map(read::read(text, &options.params)?, options)
}

/// [`import`] of a document already parsed (an export's own, for one: no text in between).
pub fn import_value(document: Value, options: &ImportOptions) -> Result<Imported, ImportError> {
    map(read::read_value(document, &options.params)?, options)
}

fn map(document: read::Document, options: &ImportOptions) -> Result<Imported, ImportError> {
    let mut report = Report::default();
    report.notes.extend(document.notes.iter().cloned());
    let mut definition = api::api(&document, &mut report)?;
    let routes = operations::operations(&document, &mut definition, &mut report)?;
    definition["routes"] = Value::Object(routes);
    if let Some(stage) = &options.stage {
        definition["stages"] = serde_json::json!({ stage: {} });
    }
    // Whatever the export kept under `x-tollgate` (settings only Tollgate has) goes back last, over the rest.
    // It must be an object: a merge patch of any other kind would replace the whole definition (found by the
    // openapi fuzz target: `x-tollgate: some text` imported as a definition that was a string).
    if let Some(own) = document.root.get(export::OWN) {
        if !own.is_object() {
            return Err(ImportError::at(
                format!("/{}", export::OWN),
                "must be an object (settings only Tollgate has, over what the rest imports to)",
            ));
        }
        export::merge(&mut definition, own);
    }
    report.unresolved = document.unresolved;
    Ok(Imported { definition, report })
}

/// A YAML or JSON text as a value, within the import's bounds (a `gateway.yaml` to export, for one).
pub fn parse(text: &str) -> Result<Value, ImportError> {
    if text.len() > MAX_DOCUMENT_BYTES {
        return Err(ImportError::TooLarge { size: text.len() });
    }
    read::parse(text)
}

/// Escapes one JSON pointer token (RFC 6901).
fn token(key: &str) -> String {
    key.replace('~', "~0").replace('/', "~1")
}
