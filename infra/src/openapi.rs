//! `tollgate import` and `tollgate export`: OpenAPI and Swagger documents to a definition and back, with the
//! compatibility report; and what `tollgate serve --openapi` loads.

use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::{Args, ValueEnum};
use serde_json::Value;
use tollgate_core::{
    config::{Definition, file::GatewayFile},
    openapi::{self, ExportFormat, ImportOptions, Imported, MAX_DOCUMENT_BYTES},
};

#[derive(Debug, Args)]
pub struct ImportCommand {
    /// An OpenAPI 3.0/3.1 or Swagger 2.0 document (YAML or JSON), or a SAM or CloudFormation template with one.
    pub file: PathBuf,
    /// Write the definition here; default: standard output (unless --report).
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub import: ImportArgs,
    /// Print the compatibility report: one line per operation, then a summary (`--json` for scripts).
    #[arg(long)]
    pub report: bool,
    /// Exit non-zero when an operation cannot run.
    #[arg(long)]
    pub strict: bool,
}

/// How a document is imported (shared with `serve --openapi`).
#[derive(Debug, Clone, Args)]
pub struct ImportArgs {
    /// `Name=Value` for a CloudFormation parameter, attribute (`OrdersFunction.Arn`) or pseudo-parameter
    /// (`AWS::Region`), or a Terraform placeholder; repeat for each.
    #[arg(long = "param", value_name = "NAME=VALUE", value_parser = parse_param)]
    pub params: Vec<(String, String)>,
}

impl ImportArgs {
    pub fn options(&self, stage: Option<&str>) -> ImportOptions {
        ImportOptions { params: self.params.iter().cloned().collect(), stage: stage.map(str::to_owned) }
    }
}

fn parse_param(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?}: write NAME=VALUE")),
    }
}

#[derive(Debug, Args)]
pub struct ExportCommand {
    /// The gateway definition (gateway.yaml).
    #[arg(long, short)]
    pub config: PathBuf,
    #[arg(long, value_enum, default_value_t = Format::Openapi3)]
    pub format: Format,
    /// Write YAML instead of JSON.
    #[arg(long)]
    pub yaml: bool,
    /// Write the document here; default: standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum Format {
    Openapi3,
    Swagger2,
}

fn read(path: &Path) -> anyhow::Result<String> {
    let size = std::fs::metadata(path).with_context(|| format!("cannot read {}", path.display()))?.len();
    if size > MAX_DOCUMENT_BYTES as u64 {
        bail!("{}: {size} bytes; the limit is {MAX_DOCUMENT_BYTES}", path.display());
    }
    std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))
}

/// Imports `path` and checks the result loads as any definition does.
fn import(path: &Path, options: &ImportOptions) -> anyhow::Result<(Imported, Definition)> {
    let text = read(path)?;
    let imported = openapi::import(&text, options).with_context(|| format!("cannot import {}", path.display()))?;
    if imported.definition.get("routes").and_then(Value::as_object).is_none_or(|r| r.is_empty()) {
        eprint!("{}", imported.report.to_text());
        bail!("{}: no operation can run (the report above says why)", path.display());
    }
    let file: GatewayFile = serde_json::from_value(imported.definition.clone())
        .with_context(|| format!("{}: the import is not a definition", path.display()))?;
    let definition = Definition::from_file(file, options.stage.as_deref())
        .with_context(|| format!("{}: the imported definition does not load", path.display()))?;
    Ok((imported, definition))
}

/// What `serve --openapi` runs: the import, its report's summary on standard error.
pub fn load(path: &Path, options: &ImportOptions, stage: Option<&str>) -> anyhow::Result<Definition> {
    let options =
        ImportOptions { stage: stage.map(str::to_owned).or_else(|| options.stage.clone()), ..options.clone() };
    let (imported, definition) = import(path, &options)?;
    eprint!("{}", imported.report.to_text());
    Ok(definition)
}

pub fn run_import(command: &ImportCommand, stage: Option<&str>, json: bool) -> anyhow::Result<()> {
    let (imported, _) = import(&command.file, &command.import.options(stage))?;
    let yaml = format!(
        "# Imported by `tollgate import`; `tollgate import --report` says what runs as on API Gateway.\n{}",
        serde_yaml_ng::to_string(&imported.definition)?
    );
    match &command.out {
        Some(out) => std::fs::write(out, yaml).with_context(|| format!("cannot write {}", out.display()))?,
        None if !command.report => print!("{yaml}"),
        None => {}
    }
    let report = &imported.report;
    if command.report {
        if json {
            println!("{}", serde_json::to_string_pretty(&report.to_json())?);
        } else {
            print!("{}", report.to_text());
        }
    } else {
        eprint!("{}", report.to_text().lines().last().map(|l| format!("{l}\n")).unwrap_or_default());
    }
    if command.strict && report.has_unsupported() {
        bail!("--strict: {} operations cannot run", report.counts()[2]);
    }
    Ok(())
}

pub fn run_export(command: &ExportCommand) -> anyhow::Result<()> {
    let text = read(&command.config)?;
    // Checked as `serve` would (with its first stage), so nothing is exported that does not run.
    let file: GatewayFile = serde_yaml_ng::from_str(&text).with_context(|| format!("{}", command.config.display()))?;
    let stage = file.stages.keys().next().cloned();
    Definition::from_file(file, stage.as_deref()).with_context(|| format!("{}", command.config.display()))?;
    let definition: Value = openapi::parse(&text)?;
    let format = match command.format {
        Format::Openapi3 => ExportFormat::OpenApi3,
        Format::Swagger2 => ExportFormat::Swagger2,
    };
    let document = openapi::export(&definition, format)?;
    let text = if command.yaml {
        serde_yaml_ng::to_string(&document)?
    } else {
        serde_json::to_string_pretty(&document)? + "\n"
    };
    match &command.out {
        Some(out) => std::fs::write(out, text).with_context(|| format!("cannot write {}", out.display()))?,
        None => print!("{text}"),
    }
    Ok(())
}
