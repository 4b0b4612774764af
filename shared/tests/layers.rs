//! The core's modules are layered: a module imports only modules of lower layers, so there is no import
//! circle, and a lower layer never learns about a higher one (integrations never see the pipeline, records
//! never see the store). This test reads every `crate::` path in `shared/src` (tests excepted) and fails on an
//! edge that goes up or sideways, and on a module missing from the table below. `docs/architecture.md` shows the
//! same table.

use std::{
    collections::{BTreeMap, BTreeSet},
    path::Path,
};

/// Lowest first. A module may import any module of a lower layer, none of its own layer or above.
const LAYERS: &[&[&str]] = &[
    // What everything shares: time, the request types, route keys, the environment, logging; the mapping-template
    // engine.
    &["clock", "coding", "logging", "request", "route_key", "settings", "velocity"],
    // Errors with each API type's answers; usage-plan records; the clients Tollgate calls out through; trace ids,
    // headers and the X-Ray emitter.
    &["error", "usage", "clients", "trace"],
    // The definition; the store; the Lambda function edge.
    &["config", "store", "function"],
    // Event shapes; the route table; metering; the clients a definition needs; request validation; OpenAPI
    // import and export; metrics.
    &["event", "route_table", "metering", "backends", "cache", "validate", "openapi", "metrics"],
    // Authorizers; integrations; key and plan administration.
    &["auth", "integration", "admin"],
    // The request pipeline.
    &["pipeline"],
    // The router's handler.
    &["gateway"],
    // The WebSocket API (its `$connect` runs the pipeline).
    &["websocket"],
];

/// Top-level modules each file under `src` names through `crate::`.
fn imports(src: &Path) -> BTreeMap<String, BTreeSet<String>> {
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut stack = vec![src.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("read src") {
            let path = entry.expect("entry").path();
            if path.is_dir() {
                stack.push(path);
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") {
                continue;
            }
            let relative = path.strip_prefix(src).expect("under src");
            let first = relative.components().next().expect("a component").as_os_str().to_string_lossy();
            let module = first.trim_end_matches(".rs").to_owned();
            if module == "lib" {
                continue;
            }
            let text = std::fs::read_to_string(&path).expect("read file");
            let deps = graph.entry(module.clone()).or_default();
            for name in crate_paths(&without_tests(&text)) {
                if name != module {
                    deps.insert(name);
                }
            }
        }
    }
    graph
}

/// `code` without its `#[cfg(test)] mod tests { ... }` block: tests may reach anywhere.
fn without_tests(code: &str) -> String {
    let Some(at) = code.find("#[cfg(test)]\nmod tests {") else { return code.to_owned() };
    let body = &code[at..];
    let mut depth = 0usize;
    for (i, c) in body.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 1 => return format!("{}{}", &code[..at], without_tests(&body[i + 1..])),
            '}' => depth -= 1,
            _ => {}
        }
    }
    code[..at].to_owned()
}

/// The first segment of every `crate::` path in `code`, comments skipped. A grouped import
/// (`use crate::{a::b, c}`) names each of its top-level segments.
fn crate_paths(code: &str) -> BTreeSet<String> {
    let code: String = code.lines().filter(|l| !l.trim_start().starts_with("//")).map(|l| format!("{l}\n")).collect();
    let ident = |s: &str| s.trim().chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>();
    let mut found = BTreeSet::new();
    let mut rest = code.as_str();
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let Some(group) = rest.strip_prefix('{') else {
            found.insert(ident(rest));
            continue;
        };
        // Split the group at depth-0 commas.
        let (mut depth, mut start) = (0usize, 0usize);
        for (i, c) in group.char_indices() {
            match c {
                '{' => depth += 1,
                '}' if depth == 0 => {
                    found.insert(ident(&group[start..i]));
                    break;
                }
                '}' => depth -= 1,
                ',' if depth == 0 => {
                    found.insert(ident(&group[start..i]));
                    start = i + 1;
                }
                _ => {}
            }
        }
    }
    found.retain(|name| !name.is_empty() && name != "self");
    found
}

#[test]
fn lower_layers_never_import_higher_ones() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let graph = imports(&src);
    let layer_of = |module: &str| LAYERS.iter().position(|layer| layer.contains(&module));
    let mut problems = Vec::new();
    for (module, deps) in &graph {
        let Some(own) = layer_of(module) else {
            problems.push(format!("{module}: not in LAYERS; place it in the layer it belongs to"));
            continue;
        };
        for dep in deps {
            match layer_of(dep) {
                Some(layer) if layer < own => {}
                Some(_) => problems.push(format!("{module} (layer {own}) imports {dep}, which is not below it")),
                None => problems.push(format!("{module} imports {dep}, which is not in LAYERS")),
            }
        }
    }
    assert!(problems.is_empty(), "import layering broken:\n{}", problems.join("\n"));
    // The table lists only modules that exist.
    for module in LAYERS.iter().flat_map(|l| l.iter()) {
        assert!(graph.contains_key(*module), "LAYERS names {module}, which shared/src does not have");
    }
}

#[test]
fn reads_grouped_and_inline_paths_outside_tests() {
    let code = "use crate::{\n    a::{b, c::D},\n    e,\n};\n// crate::commented\nfn f() { crate::g::h(); }\n\
                #[cfg(test)]\nmod tests {\n    fn t() { crate::testing::x(); }\n}\nfn after() { crate::k::l(); }\n";
    let names = crate_paths(&without_tests(code));
    assert_eq!(names, BTreeSet::from(["a".into(), "e".into(), "g".into(), "k".into()]));
}
