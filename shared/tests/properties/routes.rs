//! The route table against a naive reference matcher on API Gateway's priority rules.

use super::*;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Static(&'static str),
    /// `{name}`
    Param,
    /// `{name+}`, always last.
    Greedy,
}

/// A generated route: `None` for `ANY`. Two routes are equal exactly when they serve the same requests.
#[derive(Debug, Clone, PartialEq, Eq)]
struct GenRoute {
    method: Option<&'static str>,
    parts: Vec<Part>,
}

/// Position `i` of route `r` is called `r{r}p{i}`: names differ between routes, so a match that reported
/// another route's parameter names would show.
fn param_name(route: usize, position: usize) -> String {
    format!("r{route}p{position}")
}

impl GenRoute {
    fn key_text(&self, index: usize) -> String {
        let method = self.method.unwrap_or("ANY");
        if self.parts.is_empty() {
            return format!("{method} /");
        }
        let path: String = self
            .parts
            .iter()
            .enumerate()
            .map(|(i, part)| match part {
                Part::Static(text) => format!("/{text}"),
                Part::Param => format!("/{{{}}}", param_name(index, i)),
                Part::Greedy => format!("/{{{}+}}", param_name(index, i)),
            })
            .collect();
        format!("{method} {path}")
    }

    /// The path parameters if this route's path matches: a static segment by equal text, `{p}` any one
    /// non-empty segment, `{p+}` everything after its `/`, at least one character (`/pets/{proxy+}` matches
    /// neither `/pets` nor `/pets/`).
    fn matches(&self, index: usize, segments: &[&str]) -> Option<Params> {
        let mut params = Vec::new();
        for (i, part) in self.parts.iter().enumerate() {
            match part {
                Part::Static(text) => {
                    if segments.get(i)? != text {
                        return None;
                    }
                }
                Part::Param => {
                    let segment = segments.get(i)?;
                    if segment.is_empty() {
                        return None;
                    }
                    params.push((param_name(index, i), (*segment).to_owned()));
                }
                Part::Greedy => {
                    let rest = segments.get(i..)?.join("/");
                    if rest.is_empty() {
                        return None;
                    }
                    params.push((param_name(index, i), rest));
                    return Some(params);
                }
            }
        }
        (segments.len() == self.parts.len()).then_some(params)
    }

    /// The route's priority as a sort key, smallest first, straight from the documented rules:
    /// a full match before a greedy one; then, segment by segment from the left, static before `{param}`
    /// before `{proxy+}` (for greedy routes this is "the longest static prefix first", with ties broken the
    /// same way further right); then an explicit method before `ANY`. Two distinct routes that both match
    /// one path never tie: equal keys mean equal shapes (the static texts both equal the path's) and equal
    /// methods, a duplicate the table refuses.
    fn priority(&self) -> Priority {
        let ranks = self
            .parts
            .iter()
            .map(|part| match part {
                Part::Static(_) => 0,
                Part::Param => 1,
                Part::Greedy => 2,
            })
            .collect();
        (self.parts.last() == Some(&Part::Greedy), ranks, self.method.is_none())
    }
}

/// Path parameters, by name, in path order.
type Params = Vec<(String, String)>;

/// A route's priority: a greedy route, its segments' kinds, an `ANY` route; the smallest wins.
type Priority = (bool, Vec<u8>, bool);

/// Enumerates every route, keeps those whose method and path match, and takes the one of highest priority;
/// `$default` (`None` in the list) when none matches. Returns the route's index and its parameters.
fn reference_route(routes: &[Option<GenRoute>], method: &str, path: &str) -> Option<(usize, Params)> {
    let segments: Vec<&str> = if path == "/" { Vec::new() } else { path[1..].split('/').collect() };
    let mut best: Option<(Priority, usize, Params)> = None;
    for (index, route) in routes.iter().enumerate() {
        let Some(route) = route else { continue };
        if route.method.is_some_and(|m| m != method) {
            continue;
        }
        let Some(params) = route.matches(index, &segments) else { continue };
        let priority = route.priority();
        if best.as_ref().is_none_or(|(b, ..)| priority < *b) {
            best = Some((priority, index, params));
        }
    }
    best.map(|(_, index, params)| (index, params))
        .or_else(|| routes.iter().position(Option::is_none).map(|index| (index, Vec::new())))
}

fn gen_part() -> impl Strategy<Value = Part> {
    prop_oneof![3 => prop::sample::select(STATICS.to_vec()).prop_map(Part::Static), 2 => Just(Part::Param)]
}

fn gen_route() -> impl Strategy<Value = GenRoute> {
    let method = prop::sample::select(vec![None, Some("GET"), Some("POST"), Some("DELETE")]);
    (method, prop::collection::vec(gen_part(), 0..=3), prop::bool::weighted(0.35)).prop_map(
        |(method, mut parts, greedy)| {
            if greedy {
                parts.push(Part::Greedy);
            }
            GenRoute { method, parts }
        },
    )
}

/// 1 to 7 routes, and sometimes `$default` somewhere among them.
fn gen_routes() -> impl Strategy<Value = Vec<Option<GenRoute>>> {
    (prop::collection::vec(gen_route(), 1..=7), prop::option::weighted(0.4, any::<Index>())).prop_map(
        |(routes, default)| {
            let mut routes: Vec<Option<GenRoute>> = routes.into_iter().map(Some).collect();
            if let Some(at) = default {
                routes.insert(at.index(routes.len() + 1), None);
            }
            routes
        },
    )
}

/// Mostly the routes' own segment texts, sometimes other text, rarely an empty segment (`//`, a trailing `/`).
fn gen_path() -> impl Strategy<Value = String> {
    let segment = prop_oneof![
        10 => prop::sample::select(STATICS.to_vec()).prop_map(str::to_owned),
        2 => "[a-z0-9._~-]{1,4}",
        1 => Just(String::new()),
    ];
    prop::collection::vec(segment, 0..=4).prop_map(|segments| format!("/{}", segments.join("/")))
}

/// A path made for one of the routes: its static texts, a segment for each `{param}`, one to three for a
/// `{proxy+}` (so full and greedy matches, and their contests, are common).
fn path_for(route: Option<&GenRoute>, fill: &[String], greedy_len: usize) -> String {
    let Some(route) = route else { return "/".to_owned() };
    let mut fill = fill.iter().cycle();
    let mut segments = Vec::new();
    for part in &route.parts {
        match part {
            Part::Static(text) => segments.push((*text).to_owned()),
            Part::Param => segments.extend(fill.next().cloned()),
            Part::Greedy => segments.extend(fill.by_ref().take(greedy_len).cloned()),
        }
    }
    format!("/{}", segments.join("/"))
}

/// Requests for a route set: a method (some no route names), and a path made for one of the routes or any
/// path at all.
fn gen_requests(routes: Vec<Option<GenRoute>>) -> impl Strategy<Value = Vec<(&'static str, String)>> {
    let method = prop::sample::select(vec!["GET", "POST", "DELETE", "PUT", "PROPFIND"]);
    let fill = prop::collection::vec(
        prop_oneof![4 => prop::sample::select(STATICS.to_vec()).prop_map(str::to_owned), 1 => "[a-z0-9]{1,3}"],
        4,
    );
    let made = (any::<Index>(), fill, 1usize..=3)
        .prop_map(move |(at, fill, greedy_len)| path_for(at.get(&routes).as_ref(), &fill, greedy_len));
    prop::collection::vec((method, prop_oneof![made, gen_path()]), 1..=12)
}

/// A route set and requests to route.
fn gen_routing() -> impl Strategy<Value = (Vec<Option<GenRoute>>, Vec<(&'static str, String)>)> {
    gen_routes().prop_flat_map(|routes| (Just(routes.clone()), gen_requests(routes)))
}

/// A route as the table gets it, copied from one the definition loader made so it stays valid if routes gain
/// fields.
fn route_spec(template: &RouteSpec, key_text: String) -> RouteSpec {
    let key = RouteKey::parse(&key_text).unwrap_or_else(|e| panic!("generated key {key_text:?}: {e}"));
    RouteSpec { key_text, key, ..template.clone() }
}

proptest! {
    #![proptest_config(config(256))]

    /// **The route table picks the route a naive reference picks.** The table compiles routes into matchit
    /// trees (one per method, `ANY` routes merged in) and relies on matchit's ranking and backtracking; the
    /// reference (`reference_route`) just tries every route and sorts by the documented order (a full match,
    /// static before `{param}`; then greedy, longest static prefix first; then `$default`; an explicit method
    /// before `ANY`). A `{param}` is one segment, never an empty one: the table already treats a trailing `/`
    /// that way (`/a/` does not match `/a/{id}`), and the reference holds it to that everywhere (`//x`).
    /// They must agree on the route and its parameters, or both find nothing: a disagreement is a request
    /// served by the wrong integration. The table must also refuse a route set exactly when two routes serve
    /// the same requests (same method, same shape), and for that reason only: any other refusal is a valid
    /// definition that fails its cold start.
    #[test]
    fn route_table_agrees_with_a_naive_reference((routes, requests) in gen_routing()) {
        let template = Definition::from_yaml("routes:\n  GET /x: { integration: { type: mock } }\n", None)
            .expect("template definition")
            .routes
            .remove(0);
        let keys: Vec<String> = routes
            .iter()
            .enumerate()
            .map(|(i, r)| r.as_ref().map_or_else(|| "$default".to_owned(), |r| r.key_text(i)))
            .collect();
        let specs: Vec<RouteSpec> = keys.iter().map(|k| route_spec(&template, k.clone())).collect();
        let paths: Vec<&GenRoute> = routes.iter().flatten().collect();
        let duplicated = paths.iter().enumerate().any(|(i, r)| paths[i + 1..].contains(r));
        let table = match RouteTable::new(&specs) {
            Ok(table) => table,
            Err(e) => {
                prop_assert!(duplicated, "refused {:?}, where no two routes serve the same requests: {}", keys, e);
                prop_assert!(e.problem.contains("matches exactly the same requests"), "refused for: {}", e);
                return Ok(());
            }
        };
        prop_assert!(!duplicated, "accepted {:?}, where two routes serve the same requests", keys);
        for (method, path) in &requests {
            let want = reference_route(&routes, method, path);
            let got = table.find(&Method::from_bytes(method.as_bytes()).expect("method"), path).map(|m| {
                let params = m.params.iter().map(|(n, v)| ((*n).to_owned(), (*v).to_owned())).collect::<Vec<_>>();
                (m.route, params)
            });
            let name = |m: &Option<(usize, Params)>| m.as_ref().map(|(i, _)| keys[*i].clone());
            prop_assert_eq!(
                &got, &want,
                "{} {} over {:?}: table chose {:?}, reference {:?}", method, path, keys, name(&got), name(&want)
            );
        }
    }
}
