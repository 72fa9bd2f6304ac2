//! The shape pass: every unknown key, wrong type and missing field of a configuration file,
//! found section by section before the typed parse.
//!
//! serde stops at a document's first shape error, so a file with three typos would take three
//! rounds of `check-config`. Here each top-level section, and each element of an array of
//! tables, is deserialised on its own from the parsed document; after an error at a key, that
//! key is taken out of the section's copy and the section is tried again, so one pass reports
//! every bad key (up to `MAX_PER_SECTION` per section). When every problem was such a key, the
//! document without those keys goes on to the semantic checks, whose problems are reported too.
//! Must not: judge values (that is `validate`'s job) or accept anything `RawConfig` refuses:
//! a file passes here only when the typed parse of the whole document succeeds too.
//! Invariant: every error names the file, the key path (`route[1].extract[0].json`) and, when
//! the key or its section is in the file, its line.

use super::locate::Locator;
use super::raw::{
    RawAccessLog, RawAdmin, RawAudit, RawConfig, RawDefault, RawDemo, RawFeed, RawFilingHeader,
    RawIndex, RawLimits, RawListener, RawRoute, RawServer, RawUpstream,
};
use super::upload::RawUploadGlobal;
use super::ConfigError;
use serde::de::{DeserializeOwned, IntoDeserializer};
use serde::Deserialize;
use std::path::Path;
use toml_edit::{ImDocument, InlineTable, Item, Value};

/// The top-level sections `RawConfig` has.
const KNOWN: [&str; 15] = [
    "server",
    "listener",
    "limits",
    "admin",
    "index",
    "audit",
    "access_log",
    "filing_header",
    "upstream",
    "route",
    "default",
    "demo",
    "feed",
    "upload",
    "introspection",
];

/// Errors reported for one section before the rest of it is left unchecked.
const MAX_PER_SECTION: usize = 16;

/// What the shape pass found.
pub(super) enum Shape {
    /// The typed document; the problems are keys that were taken out to get it (so the
    /// semantic checks can still run on the rest and report theirs too).
    Typed(Box<RawConfig>, Vec<ConfigError>),
    /// Problems no key removal fixes (a syntax error, a missing field, a section of the wrong
    /// type): only these are reported.
    Untyped(Vec<ConfigError>),
}

/// Parses `text` into the typed document, collecting every shape problem on the way.
pub(super) fn parse(text: &str, loc: &Locator, file: &Path) -> Shape {
    let at = At { file, loc };
    let doc = match ImDocument::parse(text) {
        Ok(d) => d,
        Err(e) => return Shape::Untyped(vec![at.span(e.span(), e.message())]),
    };
    let Sections {
        mut found,
        clean,
        fixed,
    } = sections(&doc, &at);
    found.sort_by_key(|e| e.line.unwrap_or(0));
    let typed = if found.is_empty() {
        // The exact document as written, through the same parser as ever.
        toml::from_str(text).map_err(|e| at.span(e.span(), e.message()))
    } else if fixed {
        RawConfig::deserialize(Value::InlineTable(clean).into_deserializer())
            .map_err(|e| at.span(e.span(), e.message()))
    } else {
        return Shape::Untyped(found);
    };
    match typed {
        Ok(raw) => Shape::Typed(Box::new(raw), found),
        Err(e) => {
            found.push(e);
            Shape::Untyped(found)
        }
    }
}

/// Where a problem is: the file, and the locator that finds a key's or an offset's line.
struct At<'a> {
    file: &'a Path,
    loc: &'a Locator,
}

impl At<'_> {
    fn error(&self, line: Option<usize>, key: String, message: String) -> ConfigError {
        ConfigError {
            file: self.file.to_path_buf(),
            line,
            key,
            message,
        }
    }

    /// A parser's error at a byte span of the document (a missing section has none).
    fn span(&self, span: Option<std::ops::Range<usize>>, message: &str) -> ConfigError {
        if let Some(section) = missing_field(message) {
            // A whole section is missing: there is no line to name, only the key.
            return self.error(
                None,
                section.to_string(),
                format!("missing section [{section}]"),
            );
        }
        let at = span.map(|s| s.start);
        self.error(
            at.map(|o| self.loc.line_of(o)),
            at.and_then(|o| self.loc.path_at(o))
                .unwrap_or("(document)")
                .into(),
            message.trim().to_string(),
        )
    }
}

/// Every section checked: the problems, the known sections with their bad keys taken out, and
/// whether taking them out fixed every section.
struct Sections {
    found: Vec<ConfigError>,
    clean: InlineTable,
    fixed: bool,
}

fn sections(doc: &ImDocument<&str>, at: &At<'_>) -> Sections {
    let loc = at.loc;
    let (mut found, mut clean, mut fixed) = (Vec::new(), InlineTable::new(), true);
    for (name, item) in doc.as_table().iter() {
        let listed = matches!(item, Item::ArrayOfTables(_) | Item::Value(Value::Array(_)));
        if is_array_section(name) && !listed {
            let message = format!("must be a list of tables: write [[{name}]], not [{name}]");
            found.push(at.error(loc.line_of_path(name), name.to_string(), message));
            fixed = false;
            continue;
        }
        let mut values = Vec::new();
        for (key, value) in elements(name, item) {
            let c = check(name, value, &key, loc);
            for (at_key, message) in c.found {
                let path = at_key.unwrap_or_else(|| key.clone());
                found.push(at.error(loc.line_of_path(&path), path, message));
            }
            fixed &= c.fixed;
            values.push(c.value);
        }
        if !KNOWN.contains(&name) {
            continue;
        }
        if is_array_section(name) {
            clean.insert(name, Value::Array(values.into_iter().collect()));
        } else if let Some(v) = values.pop() {
            clean.insert(name, v);
        }
    }
    Sections {
        found,
        clean,
        fixed,
    }
}

/// A section as values to check: one for a table, one per element for an array of tables
/// (`listener[0]`, `listener[1]`...), keyed by their path.
fn elements(name: &str, item: &Item) -> Vec<(String, Value)> {
    let array = |values: Vec<Value>| {
        values
            .into_iter()
            .enumerate()
            .map(|(i, v)| (format!("{name}[{i}]"), v))
            .collect()
    };
    match (is_array_section(name), item) {
        (true, Item::ArrayOfTables(a)) => array(
            a.iter()
                .map(|t| Value::InlineTable(t.clone().into_inline_table()))
                .collect(),
        ),
        (true, Item::Value(Value::Array(a))) => array(a.iter().cloned().collect()),
        // An array section in any other form is refused by the caller before it gets here.
        _ => match item.clone().into_value() {
            Ok(v) => vec![(name.to_string(), v)],
            Err(_) => Vec::new(),
        },
    }
}

fn is_array_section(name: &str) -> bool {
    matches!(name, "listener" | "upstream" | "route" | "introspection")
}

/// One section value checked: its problems (`(key path, message)`, the path `None` when the
/// problem is the section itself), the value with the bad keys taken out, and whether that
/// value now passes.
struct Check<'a> {
    value: Value,
    key: &'a str,
    loc: &'a Locator,
    found: Vec<(Option<String>, String)>,
    fixed: bool,
}

fn check<'a>(name: &str, value: Value, key: &'a str, loc: &'a Locator) -> Check<'a> {
    let mut c = Check {
        value,
        key,
        loc,
        found: Vec::new(),
        fixed: false,
    };
    match name {
        "server" => c.run::<RawServer>(),
        "listener" => c.run::<RawListener>(),
        "limits" => c.run::<RawLimits>(),
        "admin" => c.run::<RawAdmin>(),
        "index" => c.run::<RawIndex>(),
        "audit" => c.run::<RawAudit>(),
        "access_log" => c.run::<RawAccessLog>(),
        "filing_header" => c.run::<RawFilingHeader>(),
        "upstream" => c.run::<RawUpstream>(),
        "route" => c.run::<RawRoute>(),
        "default" => c.run::<RawDefault>(),
        "demo" => c.run::<RawDemo>(),
        "feed" => c.run::<RawFeed>(),
        "upload" => c.run::<RawUploadGlobal>(),
        "introspection" => c.run::<super::token::RawIntrospection>(),
        other => {
            // Left out of the typed document, which then still has every section it knows.
            c.fixed = true;
            c.found.push((
                Some(other.to_string()),
                format!(
                    "unknown section `{other}`, expected one of `{}`",
                    KNOWN.join("`, `")
                ),
            ));
        }
    }
    c
}

impl Check<'_> {
    /// Deserialises the section as `T` until it passes, taking out each key an error names.
    fn run<T: DeserializeOwned>(&mut self) {
        while self.found.len() < MAX_PER_SECTION {
            let Err(e) = T::deserialize(self.value.clone().into_deserializer()) else {
                self.fixed = true;
                return;
            };
            let message = e.message().trim().to_string();
            let at = e
                .span()
                .and_then(|s| self.loc.path_at(s.start))
                .filter(|p| p.starts_with(self.key) && *p != self.key)
                .map(str::to_string);
            let Some(path) = at else {
                // No key to take out (a missing field, or a section of the wrong type).
                let path = missing_field(&message).map(|f| format!("{}.{f}", self.key));
                // A required key taken out for its type is missing now: said already.
                if path.is_none() || !self.found.iter().any(|(p, _)| *p == path) {
                    self.found.push((path, message));
                }
                return;
            };
            let removed = remove(&mut self.value, &path[self.key.len()..]);
            self.found.push((Some(path), message));
            if !removed {
                return;
            }
        }
    }
}

/// The field serde names in "missing field `x`".
fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|r| r.split('`').next())
}

/// Takes the key at `rel` (`.a.b[2].c`, relative to `v`) out of `v`; false when it is not there.
fn remove(v: &mut Value, rel: &str) -> bool {
    let (head, rest) = split_segment(rel);
    let Some(head) = head else { return false };
    match (v, head) {
        (Value::InlineTable(t), Segment::Key(k)) if rest.is_empty() => t.remove(k).is_some(),
        (Value::InlineTable(t), Segment::Key(k)) => t.get_mut(k).is_some_and(|c| remove(c, rest)),
        (Value::Array(a), Segment::Index(i)) if rest.is_empty() && i < a.len() => {
            a.remove(i);
            true
        }
        (Value::Array(a), Segment::Index(i)) => a.get_mut(i).is_some_and(|c| remove(c, rest)),
        _ => false,
    }
}

enum Segment<'a> {
    Key(&'a str),
    Index(usize),
}

/// The first segment of a relative path (`.key` or `[i]`) and what follows it.
fn split_segment(rel: &str) -> (Option<Segment<'_>>, &str) {
    if let Some(r) = rel.strip_prefix('.') {
        let end = r.find(['.', '[']).unwrap_or(r.len());
        return (Some(Segment::Key(&r[..end])), &r[end..]);
    }
    if let Some(r) = rel.strip_prefix('[') {
        if let Some(end) = r.find(']') {
            return (r[..end].parse().ok().map(Segment::Index), &r[end + 1..]);
        }
    }
    (None, rel)
}
