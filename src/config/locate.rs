//! Maps between positions in a TOML file and dotted key paths (`route[2].upstream`), so every
//! configuration error can name the file, the line and the key.
//!
//! Owns only the walk of the document; knows nothing of what the keys mean.
//! Invariant: every path it returns is one `span_of` resolves back to a span in the same text.

use std::ops::Range;
use toml_edit::{ImDocument, Item, Table, Value};

/// Every key path in a document with the span of its key and of its value.
pub struct Locator {
    text: String,
    entries: Vec<(String, Range<usize>)>,
}

impl Locator {
    pub fn new(text: &str) -> Locator {
        let mut entries = Vec::new();
        if let Ok(doc) = ImDocument::parse(text.to_string()) {
            walk_table(doc.as_table(), "", &mut entries);
        }
        Locator {
            text: text.to_string(),
            entries,
        }
    }

    /// 1-based line of a byte offset.
    pub fn line_of(&self, offset: usize) -> usize {
        self.text.as_bytes()[..offset.min(self.text.len())]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1
    }

    /// The line where `path` is set, or the line of its closest ancestor that is.
    pub fn line_of_path(&self, path: &str) -> Option<usize> {
        let mut p = path;
        loop {
            if let Some((_, span)) = self.entries.iter().find(|(k, _)| k == p) {
                return Some(self.line_of(span.start));
            }
            p = &p[..p.rfind(['.', '['])?];
        }
    }

    /// The innermost key whose span contains `offset`.
    pub fn path_at(&self, offset: usize) -> Option<&str> {
        self.entries
            .iter()
            .filter(|(_, s)| s.start <= offset && offset <= s.end)
            .min_by_key(|(_, s)| s.end - s.start)
            .map(|(k, _)| k.as_str())
    }
}

fn join(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

fn walk_table(t: &Table, prefix: &str, out: &mut Vec<(String, Range<usize>)>) {
    for (k, item) in t.iter() {
        let path = join(prefix, k);
        let key_span = t.key(k).and_then(|key| key.span());
        let span = match (key_span, item.span()) {
            (Some(a), Some(b)) => a.start.min(b.start)..a.end.max(b.end),
            (a, b) => a.or(b).unwrap_or(0..0),
        };
        out.push((path.clone(), span));
        walk_item(item, &path, out);
    }
}

fn walk_item(item: &Item, path: &str, out: &mut Vec<(String, Range<usize>)>) {
    match item {
        Item::Table(t) => walk_table(t, path, out),
        Item::ArrayOfTables(a) => {
            for (i, t) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                out.push((p.clone(), t.span().unwrap_or(0..0)));
                walk_table(t, &p, out);
            }
        }
        Item::Value(v) => walk_value(v, path, out),
        Item::None => {}
    }
}

fn walk_value(v: &Value, path: &str, out: &mut Vec<(String, Range<usize>)>) {
    match v {
        Value::InlineTable(t) => {
            for (k, val) in t.iter() {
                let p = join(path, k);
                let span = match (t.key(k).and_then(|key| key.span()), val.span()) {
                    (Some(a), Some(b)) => a.start.min(b.start)..a.end.max(b.end),
                    (a, b) => a.or(b).unwrap_or(0..0),
                };
                out.push((p.clone(), span));
                walk_value(val, &p, out);
            }
        }
        Value::Array(a) => {
            for (i, val) in a.iter().enumerate() {
                let p = format!("{path}[{i}]");
                out.push((p.clone(), val.span().unwrap_or(0..0)));
                walk_value(val, &p, out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_lines_and_paths() {
        let text = "[admin]\naddress = \"x\"\n\n[[route]]\nname = \"a\"\n\n[[route]]\nname = \"b\"\nextract = [{ query = \"q\" }]\n";
        let l = Locator::new(text);
        assert_eq!(l.line_of_path("admin.address"), Some(2));
        assert_eq!(l.line_of_path("route[1].name"), Some(8));
        assert_eq!(l.line_of_path("route[1].extract[0].query"), Some(9));
        assert_eq!(l.line_of_path("route[1].missing"), Some(7));
        let off = text.find("\"b\"").unwrap();
        assert_eq!(l.path_at(off), Some("route[1].name"));
    }
}
