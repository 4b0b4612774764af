//! CloudWatch Embedded Metric Format: one JSON document per series, whose `_aws` member tells CloudWatch Logs
//! which top-level members are metrics and which are dimensions. Values are aggregated: each metric is written
//! as its distinct values, how often each occurred, and their statistics (`Values`, `Counts`, `Max`, `Min`,
//! `Count`, `Sum`), so a thousand requests cost one line, not a thousand.

use std::fmt::Write as _;

/// EMF's limit on values in one metric's array.
pub const MAX_VALUES: usize = 100;

/// The values one metric took in a flush window, each with its count.
#[derive(Debug, Clone, Default)]
pub struct Histogram {
    values: Vec<(f64, u64)>,
    count: u64,
    sum: f64,
    min: f64,
    max: f64,
}

impl Histogram {
    pub fn add(&mut self, value: f64) {
        let value = bucket(value);
        if self.count == 0 {
            (self.min, self.max) = (value, value);
        }
        self.count += 1;
        self.sum += value;
        self.min = self.min.min(value);
        self.max = self.max.max(value);
        if let Some(slot) = self.values.iter_mut().find(|(v, _)| *v == value) {
            slot.1 += 1;
        } else if self.values.len() < MAX_VALUES {
            self.values.push((value, 1));
        } else if let Some(nearest) =
            self.values.iter_mut().min_by(|a, b| (a.0 - value).abs().total_cmp(&(b.0 - value).abs()))
        {
            // Full: the nearest value takes the count (Sum, Min and Max stay exact), so a window of widely
            // spread latencies still fits one document instead of forcing an early flush.
            nearest.1 += 1;
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn sum(&self) -> f64 {
        self.sum
    }

    /// `{"Values":[...],"Counts":[...],"Max":..,"Min":..,"Count":..,"Sum":..}`, in the order values came.
    fn write(&self, out: &mut String) {
        out.push_str("{\"Values\":[");
        list(out, self.values.iter().map(|v| v.0));
        out.push_str("],\"Counts\":[");
        list(out, self.values.iter().map(|v| v.1 as f64));
        let _ = write!(
            out,
            "],\"Max\":{},\"Min\":{},\"Count\":{},\"Sum\":{}}}",
            self.max,
            self.min,
            self.count,
            round(self.sum)
        );
    }
}

fn list(out: &mut String, values: impl Iterator<Item = f64>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            out.push(',');
        }
        // Rust writes finite floats without an exponent (`1`, `0.25`): valid JSON numbers.
        let _ = write!(out, "{v}");
    }
}

/// A JSON string (quotes included): names and dimension values come from the definition.
fn string(out: &mut String, text: &str) {
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => {
                let _ = write!(out, "\\u{:04x}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Two significant digits (at most 0.01 ms apart below 1 ms): latencies vary in their last digits from request
/// to request, and every distinct value costs bytes.
fn bucket(value: f64) -> f64 {
    if !value.is_finite() || value <= 0.0 {
        return 0.0;
    }
    let magnitude = 10f64.powi(value.log10().floor() as i32 - 1).max(0.01);
    round((value / magnitude).round() * magnitude)
}

/// Drops float noise (0.30000000000000004) that would cost bytes in every line.
fn round(value: f64) -> f64 {
    (value * 1000.0).round() / 1000.0
}

/// A metric's name and CloudWatch unit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Name {
    pub name: &'static str,
    pub unit: &'static str,
}

/// One EMF document: `dimensions` are (name, value) pairs, `sets` the dimension sets (by index into
/// `dimensions`) each metric is published under. Written by hand rather than through `serde_json::Value`:
/// the router's binary has a size budget, and this runs once per series per flush.
pub fn document(
    namespace: &str,
    timestamp_ms: i64,
    dimensions: &[(&str, &str)],
    sets: &[Vec<usize>],
    metrics: &[(Name, &Histogram)],
) -> String {
    let mut out = String::with_capacity(256 + 96 * metrics.len());
    let _ = write!(out, "{{\"_aws\":{{\"Timestamp\":{timestamp_ms},\"CloudWatchMetrics\":[{{\"Namespace\":");
    string(&mut out, namespace);
    out.push_str(",\"Dimensions\":[");
    for (i, set) in sets.iter().enumerate() {
        out.push_str(if i > 0 { ",[" } else { "[" });
        for (j, index) in set.iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            string(&mut out, dimensions.get(*index).map_or("", |d| d.0));
        }
        out.push(']');
    }
    out.push_str("],\"Metrics\":[");
    for (i, (name, _)) in metrics.iter().enumerate() {
        out.push_str(if i > 0 { ",{\"Name\":" } else { "{\"Name\":" });
        string(&mut out, name.name);
        out.push_str(",\"Unit\":");
        string(&mut out, name.unit);
        out.push('}');
    }
    out.push_str("]}]}");
    for (name, value) in dimensions {
        out.push(',');
        string(&mut out, name);
        out.push(':');
        string(&mut out, value);
    }
    for (name, histogram) in metrics {
        out.push(',');
        string(&mut out, name.name);
        out.push(':');
        histogram.write(&mut out);
    }
    out.push('}');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    use serde_json::{Value, json};

    fn to_json(h: &Histogram) -> Value {
        let mut out = String::new();
        h.write(&mut out);
        serde_json::from_str(&out).expect("valid JSON")
    }

    #[test]
    fn a_document_is_json_whatever_the_names() {
        let mut h = Histogram::default();
        h.add(2.5);
        let count = Name { name: "Count", unit: "Count" };
        let line = document("Ns \"q\"", 7, &[("ApiId", "a\\b\n"), ("Stage", "s")], &[vec![0, 1]], &[(count, &h)]);
        let doc: Value = serde_json::from_str(&line).expect("valid JSON");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Namespace"], "Ns \"q\"");
        assert_eq!(doc["ApiId"], "a\\b\n");
        assert_eq!(doc["_aws"]["CloudWatchMetrics"][0]["Dimensions"], json!([["ApiId", "Stage"]]));
        assert_eq!(doc["Count"]["Values"], json!([2.5]));
    }

    #[test]
    fn values_are_bucketed_counted_and_bounded() {
        let mut h = Histogram::default();
        for v in [1.234, 1.23, 1.26, 0.004, 123.4, 0.0] {
            h.add(v);
        }
        let json = to_json(&h);
        let floats = |v: &Value| v.as_array().into_iter().flatten().filter_map(Value::as_f64).collect::<Vec<_>>();
        assert_eq!(floats(&json["Values"]), [1.2, 1.3, 0.0, 120.0], "in the order they came");
        assert_eq!(floats(&json["Counts"]), [2.0, 1.0, 2.0, 1.0]);
        assert_eq!((json["Count"].as_u64(), json["Max"].as_f64()), (Some(6), Some(120.0)));
        let mut wide = Histogram::default();
        for v in 0..10_000 {
            wide.add(f64::from(v) / 3.0);
        }
        let json = to_json(&wide);
        assert_eq!(json["Values"].as_array().map(Vec::len), Some(MAX_VALUES));
        let counted: u64 = json["Counts"].as_array().into_iter().flatten().filter_map(Value::as_u64).sum();
        assert_eq!(counted, 10_000, "nothing dropped when the array is full");
    }
}
