//! The compatibility report: per operation, whether it runs as on API Gateway, runs with named differences, or
//! cannot run and why; then what concerns the whole API, and the placeholders nobody filled. A team reads it to
//! decide whether to move, so every line says what, not only how many.

use std::{collections::BTreeMap, fmt::Write};

use serde::Serialize;
use serde_json::{Value, json};

/// A CloudFormation reference or Terraform placeholder left without a value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Unresolved {
    /// Where it is (JSON pointer into the file).
    pub pointer: String,
    /// `AWS::Region`, `OrdersFunction.Arn`, `Fn::ImportValue`, `path_key`.
    pub name: String,
}

/// What happens to one operation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Runs,
    RunsWithDifferences { differences: Vec<String> },
    Unsupported { reason: String },
}

#[derive(Debug, Clone, Serialize)]
pub struct ReportLine {
    /// `GET /pets/{id}`, `ANY /`.
    pub operation: String,
    /// The operation in the file.
    pub pointer: String,
    #[serde(flatten)]
    pub outcome: Outcome,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    pub operations: Vec<ReportLine>,
    /// About the API as a whole: what was found where, settings Tollgate does differently or not at all.
    pub notes: Vec<String>,
    pub unresolved: Vec<Unresolved>,
}

impl Report {
    /// Operations that run, run with differences, and cannot run.
    pub fn counts(&self) -> [usize; 3] {
        let mut counts = [0; 3];
        for line in &self.operations {
            counts[match line.outcome {
                Outcome::Runs => 0,
                Outcome::RunsWithDifferences { .. } => 1,
                Outcome::Unsupported { .. } => 2,
            }] += 1;
        }
        counts
    }

    pub fn has_unsupported(&self) -> bool {
        self.counts()[2] > 0
    }

    fn summary(&self) -> String {
        let [runs, differs, unsupported] = self.counts();
        format!(
            "{} operations: {runs} run, {differs} run with differences, {unsupported} unsupported",
            self.operations.len()
        )
    }

    /// Unresolved names, each with how often and where first.
    fn unresolved_names(&self) -> BTreeMap<&str, (usize, &str)> {
        let mut names: BTreeMap<&str, (usize, &str)> = BTreeMap::new();
        for u in &self.unresolved {
            names.entry(&u.name).or_insert((0, &u.pointer)).0 += 1;
        }
        names
    }

    /// One line per operation, then the API's notes, the unresolved names and the summary.
    pub fn to_text(&self) -> String {
        let width = self.operations.iter().map(|l| l.operation.len()).max().unwrap_or(0);
        let mut out = String::new();
        for line in &self.operations {
            let outcome = match &line.outcome {
                Outcome::Runs => "runs".to_owned(),
                Outcome::RunsWithDifferences { differences } => {
                    format!("runs with differences: {}", differences.join("; "))
                }
                Outcome::Unsupported { reason } => format!("unsupported: {reason}"),
            };
            let _ = writeln!(out, "{:width$}  {outcome}", line.operation);
        }
        for note in &self.notes {
            let _ = writeln!(out, "api: {note}");
        }
        for (name, (count, first)) in self.unresolved_names() {
            let places = if count == 1 { "1 place".to_owned() } else { format!("{count} places") };
            let _ = writeln!(out, "unresolved: {name} ({places}, first at {first}): pass --param {name}=VALUE");
        }
        let _ = writeln!(out, "summary: {}", self.summary());
        out
    }

    /// The same report for scripts.
    pub fn to_json(&self) -> Value {
        let [runs, differs, unsupported] = self.counts();
        json!({
            "operations": self.operations,
            "notes": self.notes,
            "unresolved": self.unresolved,
            "summary": {
                "operations": self.operations.len(),
                "runs": runs,
                "runsWithDifferences": differs,
                "unsupported": unsupported,
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_and_json_say_the_same() {
        let report = Report {
            operations: vec![
                ReportLine { operation: "GET /a".into(), pointer: "/paths/~1a/get".into(), outcome: Outcome::Runs },
                ReportLine {
                    operation: "POST /queue".into(),
                    pointer: "/paths/~1queue/post".into(),
                    outcome: Outcome::Unsupported { reason: "an SQS integration".into() },
                },
            ],
            notes: vec!["basePath /Prod ignored".into()],
            unresolved: vec![
                Unresolved { pointer: "/x".into(), name: "AWS::Region".into() },
                Unresolved { pointer: "/y".into(), name: "AWS::Region".into() },
            ],
        };
        let text = report.to_text();
        assert_eq!(
            text,
            "GET /a       runs\nPOST /queue  unsupported: an SQS integration\napi: basePath /Prod ignored\n\
             unresolved: AWS::Region (2 places, first at /x): pass --param AWS::Region=VALUE\n\
             summary: 2 operations: 1 run, 0 run with differences, 1 unsupported\n"
        );
        let json = report.to_json();
        assert_eq!(json["operations"][1]["outcome"], "unsupported");
        assert_eq!(json["operations"][1]["reason"], "an SQS integration");
        assert_eq!(json["summary"]["unsupported"], 1);
        assert!(report.has_unsupported());
    }
}
