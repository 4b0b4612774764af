//! Route selection in API Gateway's order (behaviour reference §2.2):
//! 1. a full match of method and path, static segments before `{var}` segments;
//! 2. a greedy `{proxy+}` match, the longest static prefix first;
//! 3. `$default`.
//!
//! Within each step an explicit method beats `ANY` on the same path. The path work is matchit's (axum's
//! router): it already ranks static over parameter over catch-all and backtracks. One matchit tree per method
//! (with that method's routes and every `ANY` route) makes "explicit beats ANY" a property of the tree, not
//! extra logic. Parameters get positional names inside the tree, so `GET /pets/{id}` and `POST /pets/{petId}`
//! can share a shape. Greedy routes sit in one tree per depth (segments before the `{proxy+}`), because matchit
//! cannot hold a catch-all and a parameter at the same position (`/{proxy+}` beside `/{tenant}/{proxy+}`); the
//! best match of each depth is then ranked segment by segment. A `{param}` is one non-empty segment, so a path
//! with an empty segment (`/a//b`) matches only a greedy route whose `{proxy+}` starts at or before it.

use std::collections::{BTreeMap, HashMap, HashSet};

use http::Method;

use crate::config::{RouteKey, RouteSpec, Segment};

/// A route index into the definition, plus its path parameters (raw: still percent-encoded).
#[derive(Debug, PartialEq, Eq)]
pub struct RouteMatch<'p> {
    pub route: usize,
    pub params: Vec<(&'p str, &'p str)>,
}

#[derive(Default)]
struct Tree {
    exact: matchit::Router<usize>,
    /// Greedy routes by the number of segments before their `{proxy+}`.
    greedy: BTreeMap<usize, matchit::Router<usize>>,
}

/// The compiled route table of one definition.
pub struct RouteTable {
    by_method: HashMap<Method, Tree>,
    /// `ANY` routes alone: for methods no route names explicitly.
    any: Tree,
    default: Option<usize>,
    /// Per route: parameter names in path order, to name matchit's positional captures.
    names: Vec<Vec<String>>,
    /// Per route: its segments' kinds (static 0, `{param}` 1, `{proxy+}` 2), to rank greedy matches of different
    /// depths: the smaller, compared from the left, is the more specific.
    ranks: Vec<Vec<u8>>,
}

/// Why routes cannot live in one table.
#[derive(Debug, thiserror::Error)]
#[error("route {route:?}: {problem}")]
pub struct RouteTableError {
    pub route: String,
    pub problem: String,
}

impl RouteTable {
    pub fn new(routes: &[RouteSpec]) -> Result<Self, RouteTableError> {
        let mut table = Self {
            by_method: HashMap::new(),
            any: Tree::default(),
            default: None,
            names: Vec::new(),
            ranks: Vec::new(),
        };
        let mut seen: HashMap<(Option<Method>, String), usize> = HashMap::new();
        let explicit: HashSet<Method> = routes
            .iter()
            .filter_map(|r| if let RouteKey::Path { method, .. } = &r.key { method.clone() } else { None })
            .collect();
        for (index, route) in routes.iter().enumerate() {
            table.names.push(route.key.param_names().map(str::to_owned).collect());
            let RouteKey::Path { method, segments } = &route.key else {
                table.ranks.push(Vec::new());
                table.default = Some(index);
                continue;
            };
            table.ranks.push(
                segments
                    .iter()
                    .map(|s| match s {
                        Segment::Static(_) => 0,
                        Segment::Param(_) => 1,
                        Segment::Greedy(_) => 2,
                    })
                    .collect(),
            );
            let (pattern, greedy) = matchit_pattern(segments);
            if let Some(&other) = seen.get(&(method.clone(), pattern.clone())) {
                return Err(RouteTableError {
                    route: route.key_text.clone(),
                    problem: format!("matches exactly the same requests as {:?}", routes[other].key_text),
                });
            }
            seen.insert((method.clone(), pattern.clone()), index);
            let fail =
                |e: matchit::InsertError| RouteTableError { route: route.key_text.clone(), problem: e.to_string() };
            match method {
                Some(m) => {
                    table.by_method.entry(m.clone()).or_default().insert(&pattern, greedy, index).map_err(fail)?
                }
                None => table.any.insert(&pattern, greedy, index).map_err(fail)?,
            }
        }
        // Fill each method's tree with the ANY routes whose shape it does not already serve explicitly.
        for method in explicit {
            let tree = table.by_method.entry(method.clone()).or_default();
            for (index, route) in routes.iter().enumerate() {
                if let RouteKey::Path { method: None, segments } = &route.key {
                    let (pattern, greedy) = matchit_pattern(segments);
                    if !seen.contains_key(&(Some(method.clone()), pattern.clone())) {
                        tree.insert(&pattern, greedy, index)
                            .map_err(|e| RouteTableError { route: route.key_text.clone(), problem: e.to_string() })?;
                    }
                }
            }
        }
        Ok(table)
    }

    /// Selects the route for a request. `path` is the raw (percent-encoded) path, without the stage.
    pub fn find<'a>(&'a self, method: &Method, path: &'a str) -> Option<RouteMatch<'a>> {
        let tree = self.by_method.get(method).unwrap_or(&self.any);
        // The first empty segment: no `{param}` matches it, so only greedy routes no deeper than it may.
        let first_empty =
            if path == "/" { None } else { path.strip_prefix('/').unwrap_or(path).split('/').position(str::is_empty) };
        let exact = if first_empty.is_none() { tree.exact.at(path).ok() } else { None };
        let hit = exact.or_else(|| {
            tree.greedy
                .range(..=first_empty.unwrap_or(usize::MAX))
                .filter_map(|(_, router)| router.at(path).ok())
                .min_by(|a, b| self.ranks[*a.value].cmp(&self.ranks[*b.value]))
        });
        match hit {
            Some(m) => {
                let route = *m.value;
                let names = &self.names[route];
                // matchit yields captures in path order, which is the order of `names`.
                let params = names.iter().map(String::as_str).zip(m.params.iter().map(|(_, v)| v)).collect();
                Some(RouteMatch { route, params })
            }
            None => self.default.map(|route| RouteMatch { route, params: Vec::new() }),
        }
    }
}

impl Tree {
    fn insert(&mut self, pattern: &str, greedy: Option<usize>, index: usize) -> Result<(), matchit::InsertError> {
        match greedy {
            Some(depth) => self.greedy.entry(depth).or_default().insert(pattern, index),
            None => self.exact.insert(pattern, index),
        }
    }
}

/// `/pets/{id}/{proxy+}` → (`/pets/{p1}/{*p2}`, `Some(2)`: greedy after two segments). Static text is escaped
/// for matchit.
fn matchit_pattern(segments: &[Segment]) -> (String, Option<usize>) {
    if segments.is_empty() {
        return ("/".to_owned(), None);
    }
    let mut pattern = String::new();
    let mut greedy = None;
    for (i, segment) in segments.iter().enumerate() {
        pattern.push('/');
        match segment {
            Segment::Static(text) => pattern.push_str(text),
            Segment::Param(_) => pattern.push_str(&format!("{{p{i}}}")),
            Segment::Greedy(_) => {
                pattern.push_str(&format!("{{*p{i}}}"));
                greedy = Some(i);
            }
        }
    }
    (pattern, greedy)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Definition;

    fn table(keys: &[&str]) -> (RouteTable, Vec<String>) {
        let mut yaml = String::from("routes:\n");
        for key in keys {
            yaml.push_str(&format!("  \"{key}\": {{ integration: {{ type: mock }} }}\n"));
        }
        let def = Definition::from_yaml(&yaml, None).expect("definition");
        let names = def.routes.iter().map(|r| r.key_text.clone()).collect();
        (RouteTable::new(&def.routes).expect("table"), names)
    }

    fn pick(t: &(RouteTable, Vec<String>), method: &str, path: &str) -> Option<String> {
        let method = Method::from_bytes(method.as_bytes()).expect("method");
        t.0.find(&method, path).map(|m| t.1[m.route].clone())
    }

    // One row per case, so a failure names the case (the way axum's routing tests do).
    macro_rules! selects {
        ($($name:ident: $method:literal $path:literal => $want:expr;)*) => {$(
            #[test]
            fn $name() {
                let t = table(&["GET /pets/dog/1", "GET /pets/dog/{id}", "GET /pets/{proxy+}", "ANY /{proxy+}", "$default",
                    "GET /", "ANY /things/{id}", "DELETE /things/{thingId}", "POST /a/{x}/c", "POST /a/b/{y}"]);
                assert_eq!(pick(&t, $method, $path).as_deref(), $want);
            }
        )*};
    }

    selects! {
        static_beats_variable: "GET" "/pets/dog/1" => Some("GET /pets/dog/1");
        variable_segment: "GET" "/pets/dog/2" => Some("GET /pets/dog/{id}");
        method_greedy_beats_any_greedy: "GET" "/pets/cat/1" => Some("GET /pets/{proxy+}");
        any_greedy_beats_default: "POST" "/test/5" => Some("ANY /{proxy+}");
        root: "GET" "/" => Some("GET /");
        root_other_method_falls_to_default: "POST" "/" => Some("$default");
        explicit_method_beats_any: "DELETE" "/things/7" => Some("DELETE /things/{thingId}");
        any_serves_other_methods: "PATCH" "/things/7" => Some("ANY /things/{id}");
        any_serves_unlisted_methods: "PROPFIND" "/things/7" => Some("ANY /things/{id}");
        backtracks_from_static: "POST" "/a/b/c" => Some("POST /a/b/{y}");
        backtracks_to_variable: "POST" "/a/z/c" => Some("POST /a/{x}/c");
    }

    #[test]
    fn greedy_needs_at_least_one_segment_and_404_without_default() {
        let t = table(&["GET /pets/{proxy+}"]);
        assert_eq!(pick(&t, "GET", "/pets/a/b").as_deref(), Some("GET /pets/{proxy+}"));
        assert_eq!(pick(&t, "GET", "/pets"), None);
        assert_eq!(pick(&t, "GET", "/pets/"), None);
        assert_eq!(pick(&t, "POST", "/pets/a"), None);
    }

    #[test]
    fn captures_are_named_per_route() {
        let t = table(&["GET /things/{id}/{rest+}", "POST /things/{thingId}/x"]);
        let m = t.0.find(&Method::GET, "/things/7/a/b").expect("match");
        assert_eq!(m.params, [("id", "7"), ("rest", "a/b")]);
        let m = t.0.find(&Method::POST, "/things/9/x").expect("match");
        assert_eq!(m.params, [("thingId", "9")]);
    }

    #[test]
    fn greedy_routes_of_different_depths_live_together() {
        let t = table(&["ANY /{proxy+}", "GET /{tenant}/{proxy+}", "GET /{tenant}/a/{rest+}"]);
        assert_eq!(pick(&t, "GET", "/t/b").as_deref(), Some("GET /{tenant}/{proxy+}"));
        assert_eq!(pick(&t, "GET", "/t/a/b").as_deref(), Some("GET /{tenant}/a/{rest+}"));
        assert_eq!(pick(&t, "GET", "/t").as_deref(), Some("ANY /{proxy+}"));
        assert_eq!(pick(&t, "POST", "/t/b").as_deref(), Some("ANY /{proxy+}"));
    }

    #[test]
    fn a_parameter_never_matches_an_empty_segment() {
        let t = table(&["GET /{id}/x", "GET /a/{id}", "GET /{proxy+}"]);
        assert_eq!(pick(&t, "GET", "//x").as_deref(), Some("GET /{proxy+}"));
        assert_eq!(pick(&t, "GET", "/a/").as_deref(), Some("GET /{proxy+}"));
        assert_eq!(pick(&table(&["GET /{a}/{b}"]), "GET", "//b"), None);
    }

    #[test]
    fn duplicate_routes_are_refused() {
        let def = Definition::from_yaml(
            "routes:\n  GET /a/{x}: { integration: { type: mock } }\n  GET /a/{y}: { integration: { type: mock } }\n",
            None,
        )
        .expect("definition");
        let err = RouteTable::new(&def.routes).err().expect("conflict").to_string();
        assert!(err.contains("GET /a/{y}") && err.contains("GET /a/{x}"), "{err}");
    }
}
