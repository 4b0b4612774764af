//! Local `$ref`s (`#/components/parameters/id`, `#/components/x-amazon-apigateway-integrations/orders`): followed
//! to their target, through chains, with a cycle or a missing target named by the pointer that refers. References
//! to other files are refused: an import reads one document.
//!
//! Schemas keep their `$ref`s: models refer to models, and the definition resolves those itself.

use serde_json::Value;

use super::ImportError;

/// Longest chain of references followed before calling it a cycle (a real chain is two or three long).
const MAX_HOPS: usize = 32;

/// `value` itself, or what its `$ref` (at `pointer`) leads to, with the pointer of where it was found.
pub(super) fn follow<'a>(root: &'a Value, value: &'a Value, pointer: &str) -> Result<(&'a Value, String), ImportError> {
    let mut current = value;
    let mut here = pointer.to_owned();
    let mut seen: Vec<String> = Vec::new();
    while let Some(reference) = current.get("$ref") {
        let at = format!("{here}/$ref");
        let Some(target) = reference.as_str() else {
            return Err(ImportError::at(at, "$ref is not a string"));
        };
        let Some(fragment) = target.strip_prefix('#') else {
            return Err(ImportError::at(at, format!("$ref {target:?} points outside this document; import one file")));
        };
        // References to paths are often written URL-encoded (`%7Bid%7D`).
        let fragment = percent_encoding::percent_decode_str(fragment).decode_utf8_lossy().into_owned();
        if seen.contains(&fragment) || seen.len() == MAX_HOPS {
            seen.push(fragment);
            return Err(ImportError::at(at, format!("$ref cycle: {}", seen.join(" -> "))));
        }
        seen.push(fragment.clone());
        current = root
            .pointer(&fragment)
            .ok_or_else(|| ImportError::at(at.clone(), format!("$ref {target:?}: nothing is there")))?;
        here = fragment;
    }
    Ok((current, here))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn follows_chains_and_names_what_is_wrong() {
        let root = json!({
            "components": {
                "parameters": {"a": {"$ref": "#/components/parameters/b"}, "b": {"name": "id", "in": "path"}},
                "loop": {"x": {"$ref": "#/components/loop/y"}, "y": {"$ref": "#/components/loop/x"}}
            },
            "paths": {"/p/{id}": {"get": {}}}
        });
        let start = json!({"$ref": "#/components/parameters/a"});
        let (found, at) = follow(&root, &start, "/paths/~1p/get/parameters/0").expect("follows");
        assert_eq!(found["name"], "id");
        assert_eq!(at, "/components/parameters/b");
        let encoded = json!({"$ref": "#/paths/~1p~1%7Bid%7D/get"});
        assert!(follow(&root, &encoded, "").is_ok(), "percent-encoded");
        for (reference, expected) in [
            (
                "#/components/loop/x",
                "/components/loop/y/$ref: $ref cycle: /components/loop/x -> /components/loop/y -> /components/loop/x",
            ),
            ("#/components/nothing", "/x/$ref: $ref \"#/components/nothing\": nothing is there"),
            ("other.yaml#/a", "points outside this document"),
        ] {
            let err = follow(&root, &json!({"$ref": reference}), "/x").expect_err(reference).to_string();
            assert!(err.contains(expected), "{reference}: {err}");
        }
        assert!(follow(&root, &json!({"$ref": 1}), "/x").is_err());
    }
}
