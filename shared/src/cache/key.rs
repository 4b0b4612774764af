//! Cache keys. A key is a SHA-256 over every part that must match for two requests to share an answer: the stage,
//! the route, the method, the path parameters, the query strings and headers the route names, and (unless the
//! route is shared) the caller. Each part is length-prefixed, so no value can be crafted to look like another
//! part: a client-controlled header cannot address another caller's entry.

/// The parts of a request that select its cached answer.
#[derive(Debug, Default)]
pub struct KeyParts<'a> {
    pub stage: &'a str,
    pub route: &'a str,
    pub method: &'a str,
    pub path_params: Vec<(&'a str, &'a str)>,
    /// Each named query string with its values (in the order sent), absent ones included as empty.
    pub query: Vec<(&'a str, Vec<String>)>,
    pub headers: Vec<(&'a str, Vec<&'a str>)>,
    /// Who asked: `key:{id}`, `sub:{sub}`, `principal:{id}`; `None` for a shared route (or an anonymous caller).
    pub caller: Option<String>,
}

impl KeyParts<'_> {
    /// The key, as 64 hex digits.
    pub fn key(&self) -> String {
        let mut ctx = ring::digest::Context::new(&ring::digest::SHA256);
        let mut part = |bytes: &[u8]| {
            ctx.update(&(bytes.len() as u64).to_be_bytes());
            ctx.update(bytes);
        };
        part(self.stage.as_bytes());
        part(self.route.as_bytes());
        part(self.method.as_bytes());
        for (name, value) in &self.path_params {
            part(name.as_bytes());
            part(value.as_bytes());
        }
        part(b"query");
        for (name, values) in &self.query {
            part(name.as_bytes());
            part(&(values.len() as u64).to_be_bytes());
            values.iter().for_each(|v| part(v.as_bytes()));
        }
        part(b"headers");
        for (name, values) in &self.headers {
            part(name.as_bytes());
            part(&(values.len() as u64).to_be_bytes());
            values.iter().for_each(|v| part(v.as_bytes()));
        }
        match &self.caller {
            Some(caller) => part(caller.as_bytes()),
            None => part(b"shared"),
        }
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = String::with_capacity(64);
        for b in ctx.finish().as_ref() {
            out.push(char::from(HEX[usize::from(b >> 4)]));
            out.push(char::from(HEX[usize::from(b & 0xf)]));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_part_counts_and_no_part_can_pose_as_another() {
        let base = || KeyParts {
            stage: "prod",
            route: "GET /pets/{id}",
            method: "GET",
            path_params: vec![("id", "1")],
            query: vec![("lang", vec!["en".into()])],
            headers: vec![("accept", vec!["application/json"])],
            caller: Some("key:k1".into()),
        };
        let key = base().key();
        assert_eq!(key.len(), 64);
        assert_eq!(key, base().key());
        let mut other = base();
        other.caller = Some("key:k2".into());
        assert_ne!(key, other.key(), "callers never share");
        let mut shared = base();
        shared.caller = None;
        assert_ne!(key, shared.key());
        let mut lang = base();
        lang.query = vec![("lang", vec!["fr".into()])];
        assert_ne!(key, lang.key());
        // A header value that spells out the caller's part does not become the caller.
        let mut forged = base();
        forged.caller = None;
        forged.headers = vec![("accept", vec!["application/json", "key:k1"])];
        assert_ne!(key, forged.key());
    }
}
