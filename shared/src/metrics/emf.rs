//! CloudWatch Embedded Metric Format: one JSON document per series, whose `_aws` member tells CloudWatch Logs
//! which top-level members are metrics and which are dimensions. Values are aggregated: each metric is written
//! as its distinct values, how often each occurred, and their statistics (`Values`, `Counts`, `Max`, `Min`,
//! `Count`, `Sum`), so a thousand requests cost one line, not a thousand.

use serde_json::{Map, Value, json};

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

    fn to_json(&self) -> Value {
        let mut values = self.values.clone();
        values.sort_by(|a, b| a.0.total_cmp(&b.0));
        json!({
            "Values": values.iter().map(|v| v.0).collect::<Vec<_>>(),
            "Counts": values.iter().map(|v| v.1).collect::<Vec<_>>(),
            "Max": self.max,
            "Min": self.min,
            "Count": self.count,
            "Sum": round(self.sum),
        })
    }
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Name {
    pub name: &'static str,
    pub unit: &'static str,
}

/// One EMF document: `dimensions` are (name, value) pairs, `sets` the dimension sets (by index into
/// `dimensions`) each metric is published under.
pub fn document(
    namespace: &str,
    timestamp_ms: i64,
    dimensions: &[(&str, &str)],
    sets: &[Vec<usize>],
    metrics: &[(Name, &Histogram)],
) -> String {
    let sets: Vec<Vec<&str>> = sets.iter().map(|set| set.iter().map(|i| dimensions[*i].0).collect()).collect();
    let directive = json!({
        "Namespace": namespace,
        "Dimensions": sets,
        "Metrics": metrics.iter().map(|(n, _)| json!({"Name": n.name, "Unit": n.unit})).collect::<Vec<_>>(),
    });
    let mut root = Map::new();
    root.insert("_aws".into(), json!({"Timestamp": timestamp_ms, "CloudWatchMetrics": [directive]}));
    for (name, value) in dimensions {
        root.insert((*name).into(), Value::from(*value));
    }
    for (name, histogram) in metrics {
        root.insert(name.name.into(), histogram.to_json());
    }
    Value::Object(root).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_bucketed_counted_and_bounded() {
        let mut h = Histogram::default();
        for v in [1.234, 1.23, 1.26, 0.004, 123.4, 0.0] {
            h.add(v);
        }
        let json = h.to_json();
        assert_eq!(json["Values"], json!([0.0, 1.2, 1.3, 120.0]));
        assert_eq!(json["Counts"], json!([2, 2, 1, 1]));
        assert_eq!((json["Count"].as_u64(), json["Max"].as_f64()), (Some(6), Some(120.0)));
        let mut wide = Histogram::default();
        for v in 0..10_000 {
            wide.add(f64::from(v) / 3.0);
        }
        let json = wide.to_json();
        assert_eq!(json["Values"].as_array().map(Vec::len), Some(MAX_VALUES));
        let counted: u64 = json["Counts"].as_array().into_iter().flatten().filter_map(Value::as_u64).sum();
        assert_eq!(counted, 10_000, "nothing dropped when the array is full");
    }
}
