//! Every relative link in README.md and docs/*.md resolves: the file exists, and a `#anchor` names a heading of
//! the target file as GitHub renders it. Links to `http://`, `https://` and `mailto:` are not followed, and links
//! inside fenced code blocks and inline code are not links. Only ATX headings (`## ...`) make anchors; the docs
//! use no other kind.

use std::collections::{BTreeSet, HashMap};
use std::fs;
use std::path::{Component, Path, PathBuf};

/// The repository root: this crate lives in `tests/`.
fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// README.md and every docs/*.md, in a stable order.
fn doc_files(root: &Path) -> Vec<PathBuf> {
    let mut files = vec![root.join("README.md")];
    let mut docs: Vec<PathBuf> = fs::read_dir(root.join("docs"))
        .expect("docs/ is readable")
        .map(|entry| entry.expect("docs/ entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "md"))
        .collect();
    docs.sort();
    files.extend(docs);
    files
}

/// GitHub's anchor for a heading's text: lowercase; keep letters, digits, spaces, hyphens and underscores; each
/// space becomes a hyphen. Backticks, dots, slashes, parentheses, colons and `$` all go.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a file's headings, in order; a repeated slug gets `-1`, `-2`, ... as on GitHub.
fn anchors(text: &str) -> BTreeSet<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    let mut anchors = BTreeSet::new();
    for (_, line) in prose_lines(text) {
        let Some(heading) = heading_text(line) else { continue };
        let base = slug(&rendered(heading));
        let mut anchor = base.clone();
        while anchors.contains(&anchor) {
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            anchor = format!("{base}-{n}");
        }
        anchors.insert(anchor);
    }
    anchors
}

/// The text of an ATX heading (`#` to `######`, at most three spaces in, closing `#`s dropped).
fn heading_text(line: &str) -> Option<&str> {
    let indent = line.len() - line.trim_start_matches(' ').len();
    if indent > 3 {
        return None;
    }
    let rest = line.trim_start_matches(' ');
    let level = rest.len() - rest.trim_start_matches('#').len();
    if !(1..=6).contains(&level) {
        return None;
    }
    let rest = &rest[level..];
    if !(rest.is_empty() || rest.starts_with(' ') || rest.starts_with('\t')) {
        return None;
    }
    let rest = rest.trim();
    let without_closing = rest.trim_end_matches('#');
    let text = if without_closing.is_empty() || without_closing.ends_with(' ') { without_closing } else { rest };
    Some(text.trim())
}

/// A heading as GitHub renders it before making the slug: links become their text (the slug's own filter drops
/// code and emphasis markers).
fn rendered(heading: &str) -> String {
    let mut out = String::new();
    let mut rest = heading;
    while let Some(open) = rest.find('[') {
        let after = &rest[open + 1..];
        match after.find("](").and_then(|close| link_end(&after[close + 2..]).map(|end| (close, end))) {
            Some((close, end)) => {
                out.push_str(&rest[..open]);
                out.push_str(&after[..close]);
                rest = &after[close + 2 + end + 1..];
            }
            None => {
                out.push_str(&rest[..=open]);
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Lines outside fenced code blocks, numbered from 1.
fn prose_lines(text: &str) -> Vec<(usize, &str)> {
    let mut lines = Vec::new();
    let mut fence: Option<(char, usize)> = None;
    for (index, line) in text.lines().enumerate() {
        let trimmed = line.trim_start_matches(' ');
        let indent = line.len() - trimmed.len();
        let marker = trimmed.chars().next().filter(|c| *c == '`' || *c == '~');
        let run = marker.map_or(0, |m| trimmed.len() - trimmed.trim_start_matches(m).len());
        match fence {
            None if indent <= 3 && run >= 3 => fence = marker.map(|m| (m, run)),
            None => lines.push((index + 1, line)),
            Some((m, open)) => {
                if indent <= 3 && marker == Some(m) && run >= open && trimmed[run..].trim().is_empty() {
                    fence = None;
                }
            }
        }
    }
    lines
}

/// A line with its inline code spans removed (a run of n backticks up to the next run of exactly n).
fn without_inline_code(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(start) = rest.find('`') {
        out.push_str(&rest[..start]);
        let after = &rest[start..];
        let run = after.len() - after.trim_start_matches('`').len();
        let body = &after[run..];
        match closing_run(body, run) {
            Some(end) => rest = &body[end + run..],
            None => {
                // No closing run: the backticks are literal.
                out.push_str(&after[..run]);
                rest = body;
            }
        }
    }
    out.push_str(rest);
    out
}

/// Where the next run of exactly `run` backticks starts in `text`.
fn closing_run(text: &str, run: usize) -> Option<usize> {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'`' {
            let start = i;
            while i < bytes.len() && bytes[i] == b'`' {
                i += 1;
            }
            if i - start == run {
                return Some(start);
            }
        } else {
            i += 1;
        }
    }
    None
}

/// The index of the `)` that closes a link destination starting at `text` (parentheses may nest).
fn link_end(text: &str) -> Option<usize> {
    let mut depth = 0usize;
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' if depth == 0 => return Some(i),
            ')' => depth -= 1,
            ' ' | '\t' if depth == 0 && !text[..i].starts_with('<') => {
                // A title may follow the destination; the link still ends at the next `)`.
                return text[i..].find(')').map(|end| i + end);
            }
            _ => {}
        }
    }
    None
}

/// The link targets of a document: `[text](target)`, `![alt](target)` and `[label]: target` definitions, with
/// their line numbers, outside code.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    for (number, line) in prose_lines(text) {
        let line = without_inline_code(line);
        if let Some(target) = definition_target(&line) {
            found.push((number, target));
            continue;
        }
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let destination = &rest[at + 2..];
            match link_end(destination) {
                Some(end) => {
                    found.push((number, destination_of(&destination[..end])));
                    rest = &destination[end..];
                }
                None => rest = destination,
            }
        }
    }
    found
}

/// `[label]: target`, a reference definition.
fn definition_target(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    let label_end = trimmed.strip_prefix('[')?.find("]:")?;
    let target = trimmed[1 + label_end + 2..].split_whitespace().next()?;
    Some(destination_of(target))
}

/// A destination without its title or angle brackets.
fn destination_of(raw: &str) -> String {
    let raw = raw.trim();
    if let Some(inner) = raw.strip_prefix('<') {
        return inner.split('>').next().unwrap_or_default().to_owned();
    }
    raw.split_whitespace().next().unwrap_or_default().to_owned()
}

fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
        match (bytes[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(byte)) => {
                out.push(byte);
                i += 3;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// `a/./b/../c` as `a/c`, so messages and the anchor cache name a file one way.
fn normalized(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if out.file_name().is_some_and(|name| name != "..") => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

fn is_external(target: &str) -> bool {
    let lower = target.to_ascii_lowercase();
    lower.starts_with("http://") || lower.starts_with("https://") || lower.starts_with("mailto:")
}

/// Every broken link in the docs, as `file:line: target (why)`.
fn broken_links(root: &Path) -> (usize, Vec<String>) {
    let root = normalized(root);
    let mut anchor_cache: HashMap<PathBuf, BTreeSet<String>> = HashMap::new();
    let mut checked = 0;
    let mut broken = Vec::new();
    for file in doc_files(&root) {
        let text = fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
        let shown = file.strip_prefix(&root).unwrap_or(&file).display().to_string();
        let folder = file.parent().expect("a file has a folder").to_path_buf();
        for (line, target) in links(&text) {
            if is_external(&target) {
                continue;
            }
            checked += 1;
            let (path_part, anchor) = match target.split_once('#') {
                Some((path, anchor)) => (path, Some(percent_decoded(anchor))),
                None => (target.as_str(), None),
            };
            let path_part = percent_decoded(path_part);
            let resolved = if path_part.is_empty() {
                file.clone()
            } else if let Some(from_root) = path_part.strip_prefix('/') {
                normalized(&root.join(from_root))
            } else {
                normalized(&folder.join(&path_part))
            };
            if !resolved.exists() {
                broken.push(format!("{shown}:{line}: {target} (no such file)"));
                continue;
            }
            let Some(anchor) = anchor else { continue };
            if resolved.extension().is_none_or(|ext| ext != "md") {
                let line_anchor = anchor.strip_prefix('L').is_some_and(|n| {
                    n.split("-L").all(|part| !part.is_empty() && part.chars().all(|c| c.is_ascii_digit()))
                });
                if !line_anchor {
                    broken.push(format!("{shown}:{line}: {target} (an anchor into a file that is not markdown)"));
                }
                continue;
            }
            let anchors = anchor_cache.entry(resolved.clone()).or_insert_with(|| {
                anchors(&fs::read_to_string(&resolved).unwrap_or_else(|e| panic!("{}: {e}", resolved.display())))
            });
            if !anchors.contains(&anchor) {
                let target_file = resolved.strip_prefix(&root).unwrap_or(&resolved).display().to_string();
                broken.push(format!("{shown}:{line}: {target} (no heading #{anchor} in {target_file})"));
            }
        }
    }
    (checked, broken)
}

#[test]
fn every_relative_link_and_anchor_resolves() {
    let (checked, broken) = broken_links(&root());
    assert!(checked > 0, "no relative links found: is the repository root {}?", root().display());
    assert!(broken.is_empty(), "{} broken link(s) of {checked}:\n{}", broken.len(), broken.join("\n"));
}

#[test]
fn slugs_follow_github() {
    let cases = [
        ("The gateway definition (`gateway.yaml`)", "the-gateway-definition-gatewayyaml"),
        ("`tollgate serve`", "tollgate-serve"),
        ("Life of a request", "life-of-a-request"),
        ("API keys and usage plans", "api-keys-and-usage-plans"),
        ("`$connect`", "connect"),
        ("What `template.yaml` deploys", "what-templateyaml-deploys"),
        ("`functions/ws-connect`: handshakes", "functionsws-connect-handshakes"),
        ("`TOLLGATE_LOG` and logging", "tollgate_log-and-logging"),
        ("Fan-out (1,000 at a time)", "fan-out-1000-at-a-time"),
        ("Costs — per million requests", "costs--per-million-requests"),
        ("**Exact** when distributed", "exact-when-distributed"),
        ("  Routing  ", "routing"),
    ];
    for (heading, want) in cases {
        assert_eq!(slug(heading), want, "slug of {heading:?}");
    }
    assert_eq!(slug(&rendered("See [the README](../README.md) first")), "see-the-readme-first");
}

#[test]
fn headings_get_github_anchors() {
    let text = "# Title ##\n\n## Errors\n\n```yaml\n# not a heading\n```\n\n## Errors\n\n### Errors\n\n#hashtag\n";
    let want: BTreeSet<String> = ["title", "errors", "errors-1", "errors-2"].map(String::from).into();
    assert_eq!(anchors(text), want);
}

#[test]
fn links_skip_code() {
    let text = "See [a](a.md#x), `[b](b.md)` and ``[c](`c.md`)``.\n\
                ```md\n[d](d.md)\n```\n\
                ~~~\n[e](e.md)\n~~~\n\
                Wrapped [link\n\
                text](f.md \"title\") and ![img](<g h.png>) and [p](p_(1).md).\n\
                [ref]: h.md#y\n";
    let got: Vec<(usize, String)> = links(text);
    let want: Vec<(usize, String)> = [(1, "a.md#x"), (9, "f.md"), (9, "g h.png"), (9, "p_(1).md"), (10, "h.md#y")]
        .map(|(line, target)| (line, target.to_owned()))
        .into();
    assert_eq!(got, want);
}
