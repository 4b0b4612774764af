//! `tollgate import`, `tollgate export` and `tollgate dashboard --out` as a user runs them: the built binary,
//! its exit status, what it prints and writes.

use std::{path::PathBuf, process::Command};

fn tollgate(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_tollgate")).args(args).output().expect("tollgate runs");
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    (output.status.success(), text(&output.stdout), text(&output.stderr))
}

fn repo(path: &str) -> String {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..").join(path).display().to_string()
}

#[test]
fn import_prints_the_report_and_writes_the_definition() {
    let fixture = repo("tests/fixtures/openapi/rest-extensions.yaml");
    let (ok, out, _) = tollgate(&["import", "--report", &fixture]);
    assert!(ok);
    assert!(out.contains("PUT /orders") && out.contains("unsupported: an AWS service integration (dynamodb)"), "{out}");
    assert!(out.ends_with("summary: 9 operations: 5 run, 1 run with differences, 3 unsupported\n"), "{out}");

    let (ok, out, _) = tollgate(&["import", "--report", "--json", &fixture]);
    assert!(ok);
    let report: serde_json::Value = serde_json::from_str(&out).expect("JSON");
    assert_eq!(report["summary"]["unsupported"], 3);
    assert_eq!(report["operations"].as_array().map(Vec::len), Some(9));

    let (ok, _, err) = tollgate(&["import", "--strict", &fixture]);
    assert!(!ok, "--strict fails when an operation cannot run");
    assert!(err.contains("--strict: 3 operations cannot run"), "{err}");

    let dir = tempfile::tempdir().expect("tempdir");
    let out_file = dir.path().join("gateway.yaml");
    let sam = repo("tests/fixtures/openapi/sam-template.yaml");
    let out_path = out_file.display().to_string();
    let (ok, printed, err) =
        tollgate(&["import", &sam, "--stage", "prod", "--param", "HelloFunction.Arn=hello", "--out", &out_path]);
    assert!(ok, "{err}");
    assert!(printed.is_empty(), "the definition went to the file");
    assert!(err.contains("summary: 3 operations: 3 run"), "the summary on stderr: {err}");
    let written = std::fs::read_to_string(&out_file).expect("written");
    assert!(written.contains("function: hello") && written.contains("prod: {}"), "{written}");

    // The written definition exports again, and the export is JSON API Gateway reads.
    let (ok, exported, err) = tollgate(&["export", "--config", &out_path, "--format", "swagger2"]);
    assert!(ok, "{err}");
    let document: serde_json::Value = serde_json::from_str(&exported).expect("JSON");
    assert_eq!(document["swagger"], "2.0");
    assert_eq!(document["x-tollgate"]["stages"]["prod"], serde_json::json!({}));
}

#[test]
fn bad_files_get_one_clear_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let cases = [
        (
            "cycle.yaml",
            "openapi: 3.0.1\npaths:\n  /a: { $ref: '#/paths/~1b' }\n  /b: { $ref: '#/paths/~1a' }\n",
            "$ref cycle",
        ),
        ("version.json", "{\"openapi\": \"9\", \"paths\": {}}", "/openapi: unknown OpenAPI version"),
        ("broken.yaml", "openapi: 3.0.1\npaths: {\n", "not YAML or JSON"),
    ];
    for (name, text, expected) in cases {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        let (ok, _, err) = tollgate(&["import", &path.display().to_string()]);
        assert!(!ok, "{name}");
        assert!(err.contains(expected) && !err.contains("panicked"), "{name}: {err}");
    }
    let (ok, _, err) = tollgate(&["import", "no-such-file.yaml"]);
    assert!(!ok && err.contains("cannot read no-such-file.yaml"), "{err}");
    let (ok, _, err) = tollgate(&["export", "--config", &repo("tests/fixtures/openapi/http-extensions.yaml")]);
    assert!(!ok && err.contains("unknown field"), "an OpenAPI file is not a definition: {err}");
}

/// `tollgate dashboard --out` writes the operator's page from the store the other commands wrote.
#[test]
fn dashboard_writes_the_page_of_the_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store.json").display().to_string();
    let plan = ["plans", "create", "--id", "gold", "--name", "Gold <1>", "--stage", "dev"];
    let (ok, _, err) =
        tollgate(&[&plan[..], &["--quota-limit", "10", "--quota-period", "DAY", "--store", &store]].concat());
    assert!(ok, "{err}");
    let (ok, _, err) = tollgate(&["keys", "create", "--name", "alice", "--plan", "gold", "--store", &store]);
    assert!(ok, "{err}");
    let page = dir.path().join("page.html");
    let (ok, out, err) = tollgate(&["dashboard", "--store", &store, "--out", &page.display().to_string()]);
    assert!(ok, "{err}");
    assert!(out.starts_with("wrote "), "{out}");
    let html = std::fs::read_to_string(&page).expect("the page");
    assert!(html.contains("<meta name=\"viewport\""));
    assert!(html.contains("Gold &lt;1&gt;") && !html.contains("Gold <1>"), "names are escaped: {html}");
    assert!(html.contains("data-plan=\"gold\"") && html.contains(">alice<"), "{html}");
    assert!(html.contains("<td class=\"n remaining\">10</td>"), "a new key has its whole quota: {html}");
}
