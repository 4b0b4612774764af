//! `metrics`: API Gateway's CloudWatch metrics, written as Embedded Metric Format lines. On by default; what
//! they cost depends on how often an instance flushes (`flushSeconds`) and on how many dimension values there
//! are (`perKey`: every API key becomes a custom metric, billed per metric per month).

use serde_json::Value;

/// The file shape (`metrics: { enabled, namespace, flushSeconds, perKey }`).
#[derive(Debug, Clone, Default)]
pub struct MetricsFile {
    /// Default true.
    pub enabled: Option<bool>,
    /// The CloudWatch namespace; default `Tollgate`.
    pub namespace: Option<String>,
    /// An instance writes what it gathered at most this often (0-900 s; default 60). 0: a line per request.
    pub flush_seconds: Option<u32>,
    /// Adds an `ApiKeyId` dimension: one more metric per key (opt-in: CloudWatch bills each).
    pub per_key: bool,
}

impl MetricsFile {
    /// Reads the section as the file holds it (see `GatewayFile::metrics`); unknown fields are refused.
    pub fn from_value(value: &Value) -> Result<Self, String> {
        use super::section::{boolean, fields, number, string};
        let map = fields(value, "metrics", &["enabled", "namespace", "flushSeconds", "perKey"])?;
        let flush_seconds = number(map, "metrics", "flushSeconds")?
            .map(|n| {
                // Whole seconds only; the range is checked with the other settings.
                if n.fract() == 0.0 && (0.0..=f64::from(u32::MAX)).contains(&n) {
                    Ok(n as u32)
                } else {
                    Err(format!("metrics.flushSeconds must be a whole number of seconds, not {n}"))
                }
            })
            .transpose()?;
        Ok(Self {
            enabled: boolean(map, "metrics", "enabled")?,
            namespace: string(map, "metrics", "namespace")?,
            flush_seconds,
            per_key: boolean(map, "metrics", "perKey")?.unwrap_or(false),
        })
    }
}

pub const DEFAULT_NAMESPACE: &str = "Tollgate";
pub const DEFAULT_FLUSH_SECONDS: u32 = 60;
/// Longer than this and a crashed or recycled instance loses too much.
pub const MAX_FLUSH_SECONDS: u32 = 900;

/// `metrics`, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetricsSpec {
    pub namespace: String,
    pub flush_seconds: u32,
    pub per_key: bool,
}

impl Default for MetricsSpec {
    fn default() -> Self {
        Self { namespace: DEFAULT_NAMESPACE.to_owned(), flush_seconds: DEFAULT_FLUSH_SECONDS, per_key: false }
    }
}

impl MetricsSpec {
    /// `None` when metrics are turned off.
    pub fn compile(file: Option<&MetricsFile>) -> Result<Option<Self>, String> {
        let Some(file) = file else { return Ok(Some(Self::default())) };
        if file.enabled == Some(false) {
            return Ok(None);
        }
        let namespace = file.namespace.clone().unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned());
        // CloudWatch's rule for namespaces: 1-255 of these characters, and `AWS/` is Amazon's.
        let allowed = |c: char| c.is_ascii_alphanumeric() || " .-_/#:".contains(c);
        if namespace.is_empty() || namespace.len() > 255 || !namespace.chars().all(allowed) {
            return Err(format!(
                "metrics.namespace {namespace:?} must be 1-255 letters, digits, spaces or . - _ / # :"
            ));
        }
        if namespace.starts_with("AWS/") {
            return Err(format!("metrics.namespace {namespace:?}: AWS/ namespaces are reserved for AWS"));
        }
        let flush_seconds = file.flush_seconds.unwrap_or(DEFAULT_FLUSH_SECONDS);
        if flush_seconds > MAX_FLUSH_SECONDS {
            return Err(format!("metrics.flushSeconds must be 0-{MAX_FLUSH_SECONDS}, not {flush_seconds}"));
        }
        Ok(Some(Self { namespace, flush_seconds, per_key: file.per_key }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_and_refusals() {
        assert_eq!(MetricsSpec::compile(None), Ok(Some(MetricsSpec::default())));
        let off = MetricsFile { enabled: Some(false), ..MetricsFile::default() };
        assert_eq!(MetricsSpec::compile(Some(&off)), Ok(None));
        for (file, problem) in [
            (MetricsFile { namespace: Some(String::new()), ..MetricsFile::default() }, "namespace"),
            (MetricsFile { namespace: Some("a\"b".into()), ..MetricsFile::default() }, "namespace"),
            (MetricsFile { namespace: Some("AWS/ApiGateway".into()), ..MetricsFile::default() }, "reserved"),
            (MetricsFile { flush_seconds: Some(901), ..MetricsFile::default() }, "flushSeconds"),
        ] {
            let err = MetricsSpec::compile(Some(&file)).expect_err(problem);
            assert!(err.contains(problem), "{err}");
        }
    }
}

#[cfg(test)]
mod file_tests {
    use super::*;

    #[test]
    fn the_section_is_read_with_its_field_named_in_every_error() {
        let read = |v: serde_json::Value| MetricsFile::from_value(&v);
        let file = read(serde_json::json!({"namespace": "A", "flushSeconds": 30, "perKey": true})).expect("valid");
        assert_eq!((file.namespace.as_deref(), file.flush_seconds, file.per_key), (Some("A"), Some(30), true));
        for (value, problem) in [
            (serde_json::json!({"nameSpace": "A"}), "unknown field `nameSpace`"),
            (serde_json::json!({"flushSeconds": 1.5}), "metrics.flushSeconds must be a whole number"),
            (serde_json::json!({"flushSeconds": "60"}), "metrics.flushSeconds must be a number"),
            (serde_json::json!({"perKey": "yes"}), "metrics.perKey must be true or false"),
            (serde_json::json!([1]), "metrics must be a mapping"),
        ] {
            let err = read(value).expect_err(problem);
            assert!(err.contains(problem), "{err}");
        }
    }
}
