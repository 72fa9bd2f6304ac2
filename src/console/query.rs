//! The console's form input: a query string read into named fields, bounded and strict.
//!
//! Owns the reading rules shared by every form: at most `MAX_QUERY_BYTES`, only the form's
//! own field names, each at most once (two values would be two readings), values trimmed and
//! empty ones absent.
//! Must not: decode anything but `application/x-www-form-urlencoded`, or fail with anything
//! but a message a person can act on.
//! Invariant: `Fields::get` returns a value only for a name the form declared.

use std::collections::BTreeMap;

/// The longest query string a console form reads.
pub const MAX_QUERY_BYTES: usize = 2048;

#[derive(Debug, Default)]
pub struct Fields(BTreeMap<&'static str, String>);

impl Fields {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }
}

/// Reads `query` as the fields `names`; the error says what is wrong with it.
pub fn read(query: &str, names: &[&'static str]) -> Result<Fields, String> {
    if query.len() > MAX_QUERY_BYTES {
        return Err(format!(
            "the query is {} bytes; the console reads at most {MAX_QUERY_BYTES}",
            query.len()
        ));
    }
    let mut out = BTreeMap::new();
    let mut seen = Vec::new();
    for (k, v) in form_urlencoded::parse(query.as_bytes()) {
        let Some(name) = names.iter().find(|n| **n == k) else {
            return Err(format!(
                "unknown field {:?} (this form has: {})",
                truncate(&k),
                names.join(", ")
            ));
        };
        if seen.contains(name) {
            return Err(format!("the field {name:?} is given twice"));
        }
        seen.push(*name);
        let v = v.trim();
        if !v.is_empty() {
            out.insert(*name, v.to_string());
        }
    }
    Ok(Fields(out))
}

/// At most 64 characters of `s`, for a message.
pub fn truncate(s: &str) -> String {
    match s.char_indices().nth(64) {
        Some((at, _)) => format!("{}…", &s[..at]),
        None => s.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_strict_and_bounded() {
        let f = read("id=+com.a+&platform=", &["id", "platform"]).unwrap();
        assert_eq!((f.get("id"), f.get("platform")), (Some("com.a"), None));
        assert!(read("id=a&id=b", &["id"]).unwrap_err().contains("twice"));
        assert!(read("x=1", &["id"])
            .unwrap_err()
            .contains("unknown field \"x\""));
        let long = format!("id={}", "a".repeat(5000));
        assert!(read(&long, &["id"]).unwrap_err().contains("at most 2048"));
        assert_eq!(truncate(&"é".repeat(70)).chars().count(), 65);
    }
}
