//! JSON pointer extraction that refuses duplicate keys along the pointer path, the nesting
//! limit, the top-level keys a `body_ids` check compares, and the strict reading of whole
//! documents (`strict`: a key repeated anywhere is refused) that tokens and introspection
//! answers get.
//!
//! Owns a streaming walk (serde `DeserializeSeed`) that follows the pointer tokens without
//! building a value tree, skipping everything else with `IgnoredAny`. Nesting deeper than
//! `MAX_DEPTH` is refused before any walk: readers give up at different depths (PHP's
//! `json_decode` returns null past 512, Python raises past its recursion limit).
//! Must not: pick one of two values for a repeated key (serde_json's `Value` keeps the last one
//! silently; that is how an attacker smuggles a second identifier).
//! Invariant: `Found::Value` is returned only when every object on the path had the key once.

use serde::de::{self, DeserializeSeed, IgnoredAny, MapAccess, SeqAccess, Visitor};
use std::fmt;

#[derive(Debug, PartialEq, Eq)]
pub enum Found {
    Value(String),
    Missing,
    /// The pointer leads to an object, array or boolean, not an id.
    NotScalar,
}

#[derive(Debug, PartialEq, Eq)]
pub enum JsonError {
    /// The key appears twice in one object on the pointer path.
    Duplicate(String),
    /// The body is not JSON.
    Syntax(String),
}

const DUP_MARK: &str = "\u{0}duplicate:";

struct Seek<'a>(&'a [String]);

impl<'de> DeserializeSeed<'de> for Seek<'_> {
    type Value = Found;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Found, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Seek<'_> {
    type Value = Found;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<Found, E> {
        Ok(if self.0.is_empty() {
            Found::Value(v.to_string())
        } else {
            Found::Missing
        })
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Found, E> {
        Ok(if self.0.is_empty() {
            Found::Value(v.to_string())
        } else {
            Found::Missing
        })
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Found, E> {
        Ok(if self.0.is_empty() {
            Found::Value(v.to_string())
        } else {
            Found::Missing
        })
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Found, E> {
        Ok(if self.0.is_empty() {
            Found::NotScalar
        } else {
            Found::Missing
        })
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Found, E> {
        Ok(if self.0.is_empty() {
            Found::NotScalar
        } else {
            Found::Missing
        })
    }
    fn visit_unit<E: de::Error>(self) -> Result<Found, E> {
        Ok(Found::Missing)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found, A::Error> {
        let Some((want, rest)) = self.0.split_first() else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Found::NotScalar);
        };
        let mut found: Option<Found> = None;
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            if key == want.as_str() {
                if found.is_some() {
                    return Err(de::Error::custom(format!("{DUP_MARK}{want}")));
                }
                found = Some(map.next_value_seed(Seek(rest))?);
            } else if super::jsonkeys::json_key_aliases(&key, want) {
                // Go, ASP.NET Core and Json.NET read this key as the wanted one; JavaScript,
                // Python and PHP as another.
                return Err(de::Error::custom(format!("{DUP_MARK}{want}")));
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found.unwrap_or(Found::Missing))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found, A::Error> {
        let Some((want, rest)) = self.0.split_first() else {
            while seq.next_element::<IgnoredAny>()?.is_some() {}
            return Ok(Found::NotScalar);
        };
        let index: Option<usize> = want
            .parse()
            .ok()
            .filter(|_| want == "0" || !want.starts_with('0'));
        let mut found = Found::Missing;
        let mut i = 0;
        loop {
            if Some(i) == index {
                match seq.next_element_seed(Seek(rest))? {
                    Some(f) => found = f,
                    None => break,
                }
            } else if seq.next_element::<IgnoredAny>()?.is_none() {
                break;
            }
            i += 1;
        }
        Ok(found)
    }
}

/// Deepest nesting of arrays and objects a JSON body may have.
pub const MAX_DEPTH: usize = 64;

/// True when no array or object in `body` is nested deeper than `max` (brackets inside
/// strings do not count). Does not check that `body` is JSON.
pub fn nesting_within(body: &[u8], max: usize) -> bool {
    let (mut depth, mut in_str, mut escaped) = (0usize, false, false);
    for &b in body {
        if in_str {
            match (escaped, b) {
                (true, _) => escaped = false,
                (false, b'\\') => escaped = true,
                (false, b'"') => in_str = false,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_str = true,
            b'[' | b'{' => {
                depth += 1;
                if depth > max {
                    return false;
                }
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    true
}

/// A top-level member's value as a `body_ids` check compares it: a string or an integer as
/// its text, anything else as `None`.
struct Scalar;

impl<'de> DeserializeSeed<'de> for Scalar {
    type Value = Option<String>;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Option<String>, D::Error> {
        match Seek(&[]).deserialize(d)? {
            Found::Value(v) => Ok(Some(v)),
            Found::Missing | Found::NotScalar => Ok(None),
        }
    }
}

struct TopLevel<'a, F>(&'a mut F);

impl<'de, F: FnMut(&str, Option<&str>)> Visitor<'de> for TopLevel<'_, F> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while let Some(key) = map.next_key::<std::borrow::Cow<'de, str>>()? {
            let v = map.next_value_seed(Scalar)?;
            (self.0)(&key, v.as_deref());
        }
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(())
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        Ok(())
    }
}

/// Calls `f(key, value)` for every member of a top-level object (each repeated key once per
/// occurrence); `value` is `None` for a value that is not a string or an integer. A body that
/// is not JSON is an error.
pub fn top_level(body: &[u8], mut f: impl FnMut(&str, Option<&str>)) -> Result<(), JsonError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    de::Deserializer::deserialize_any(&mut de, TopLevel(&mut f))
        .and_then(|()| de.end())
        .map_err(|e| JsonError::Syntax(e.to_string()))
}

/// Follows `pointer` (unescaped tokens) through `body`.
pub fn extract(body: &[u8], pointer: &[String]) -> Result<Found, JsonError> {
    let mut de = serde_json::Deserializer::from_slice(body);
    let found = Seek(pointer)
        .deserialize(&mut de)
        .and_then(|f| de.end().map(|()| f));
    found.map_err(|e| {
        let msg = e.to_string();
        match msg.find(DUP_MARK) {
            Some(at) => {
                let key = msg[at + DUP_MARK.len()..]
                    .split(" at line")
                    .next()
                    .unwrap_or("")
                    .to_string();
                JsonError::Duplicate(key)
            }
            None => JsonError::Syntax(msg),
        }
    })
}

/// A whole JSON document as a `serde_json::Value`, read strictly: a key repeated in any
/// object, nesting deeper than `MAX_DEPTH`, or anything after the value is refused. With no
/// repeated key anywhere, every reader of the bytes sees this same value.
pub fn strict(body: &[u8]) -> Result<serde_json::Value, JsonError> {
    if !nesting_within(body, MAX_DEPTH) {
        return Err(JsonError::Syntax(format!("nested deeper than {MAX_DEPTH}")));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let v = Strict
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    v.map_err(|e| {
        let msg = e.to_string();
        match msg.find(DUP_MARK) {
            Some(at) => JsonError::Duplicate(
                msg[at + DUP_MARK.len()..]
                    .split(" at line")
                    .next()
                    .unwrap_or("")
                    .to_string(),
            ),
            None => JsonError::Syntax(msg),
        }
    })
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            JsonError::Duplicate(k) => write!(f, "the key {k:?} appears twice in one object"),
            JsonError::Syntax(m) => f.write_str(m),
        }
    }
}

/// Builds a `Value`, refusing a key repeated in one object.
struct Strict;

impl<'de> DeserializeSeed<'de> for Strict {
    type Value = serde_json::Value;
    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Strict {
    type Value = serde_json::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
        Ok(v.into())
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(serde_json::Value::Null)
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(Strict)? {
            out.push(v);
        }
        Ok(serde_json::Value::Array(out))
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut out = serde_json::Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if out.contains_key(&key) {
                return Err(de::Error::custom(format!("{DUP_MARK}{key}")));
            }
            let v = map.next_value_seed(Strict)?;
            out.insert(key, v);
        }
        Ok(serde_json::Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Vec<String> {
        s[1..].split('/').map(String::from).collect()
    }

    #[test]
    fn follows_pointers() {
        let body = br#"{"x":[1,{"y":2}],"app":{"meta":{"k":null},"package":"com.a.b","n":2021001102642986},"list":[{"id":"a"},{"id":"b"}]}"#;
        assert_eq!(
            extract(body, &p("/app/package")),
            Ok(Found::Value("com.a.b".into()))
        );
        assert_eq!(
            extract(body, &p("/app/n")),
            Ok(Found::Value("2021001102642986".into()))
        );
        assert_eq!(
            extract(body, &p("/list/1/id")),
            Ok(Found::Value("b".into()))
        );
        assert_eq!(extract(body, &p("/list/01/id")), Ok(Found::Missing));
        assert_eq!(extract(body, &p("/app/none")), Ok(Found::Missing));
        assert_eq!(extract(body, &p("/app/meta/k")), Ok(Found::Missing));
        assert_eq!(extract(body, &p("/app")), Ok(Found::NotScalar));
    }

    #[test]
    fn duplicates_on_the_path_are_refused_elsewhere_ignored() {
        let dup = br#"{"app":{"package":"com.a.b","package":"com.evil.x"}}"#;
        assert_eq!(
            extract(dup, &p("/app/package")),
            Err(JsonError::Duplicate("package".into()))
        );
        let dup_parent = br#"{"app":{"package":"com.a.b"},"app":{"package":"com.evil.x"}}"#;
        assert_eq!(
            extract(dup_parent, &p("/app/package")),
            Err(JsonError::Duplicate("app".into()))
        );
        let dup_elsewhere = br#"{"other":1,"other":2,"app":{"package":"com.a.b"}}"#;
        assert_eq!(
            extract(dup_elsewhere, &p("/app/package")),
            Ok(Found::Value("com.a.b".into()))
        );
    }

    /// Go's encoding/json, ASP.NET Core and Json.NET bind `AppId` to an `appid` field; JS,
    /// Python and PHP read another key. Either spelling next to (or instead of) the wanted key
    /// is ambiguous, along the whole path.
    #[test]
    fn keys_case_insensitive_binders_merge_are_ambiguous_on_the_path() {
        for body in [
            &br#"{"appid":"wx84c222762738ce75","AppId":"wx0000000000000000"}"#[..],
            br#"{"APPID":"wx0000000000000000"}"#,
            br#"{"app\u0049d":"wx0000000000000000"}"#,
            br#"{"app\u0131d":"wx0000000000000000","appid":"wx84c222762738ce75"}"#,
        ] {
            assert_eq!(
                extract(body, &p("/appid")),
                Err(JsonError::Duplicate("appid".into())),
                "{}",
                String::from_utf8_lossy(body)
            );
        }
        let parent = br#"{"App":{"id":"x"},"app":{"id":"y"}}"#;
        assert_eq!(
            extract(parent, &p("/app/id")),
            Err(JsonError::Duplicate("app".into()))
        );
        // Go binds a field tagged `σ` to the key `ς` (one simple-fold orbit, two lowercase
        // letters).
        let sigma = r#"{"app":{"\u03c3":"x","ς":"y"}}"#.as_bytes();
        assert_eq!(
            extract(sigma, &p("/app/σ")),
            Err(JsonError::Duplicate("σ".into()))
        );
        let off_path = br#"{"Other":1,"other":2,"appid":"wx84c222762738ce75"}"#;
        assert_eq!(
            extract(off_path, &p("/appid")),
            Ok(Found::Value("wx84c222762738ce75".into()))
        );
    }

    #[test]
    fn nesting_is_limited_outside_strings() {
        let deep = |n: usize| format!("{}1{}", "[".repeat(n), "]".repeat(n));
        assert!(nesting_within(deep(MAX_DEPTH).as_bytes(), MAX_DEPTH));
        assert!(!nesting_within(deep(MAX_DEPTH + 1).as_bytes(), MAX_DEPTH));
        let quoted = format!(r#"{{"a":"{}\"{}"}}"#, "[".repeat(100), "{".repeat(100));
        assert!(nesting_within(quoted.as_bytes(), 1));
        assert!(!nesting_within(br#"{"a":{"b":1}}"#, 1));
    }

    #[test]
    fn top_level_members_in_order() {
        let mut seen = Vec::new();
        let body = br#"{"AppId":"wx1","n":2021,"o":{"appid":"x"},"appid":null,"appid":"wx2"}"#;
        top_level(body, |k, v| seen.push((k.to_string(), v.map(String::from)))).unwrap();
        let v = |k: &str, v: Option<&str>| (k.to_string(), v.map(String::from));
        assert_eq!(
            seen,
            [
                v("AppId", Some("wx1")),
                v("n", Some("2021")),
                v("o", None),
                v("appid", None),
                v("appid", Some("wx2"))
            ]
        );
        assert!(top_level(b"[1,{\"a\":1}]", |_, _| panic!("no members")).is_ok());
        assert!(top_level(b"{\"a\":", |_, _| {}).is_err());
    }

    #[test]
    fn garbage_is_a_syntax_error() {
        assert!(matches!(
            extract(b"{\"app\":", &p("/app")),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            extract(b"{} trailing", &p("/app")),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            extract(&[0xff, 0xfe], &p("/app")),
            Err(JsonError::Syntax(_))
        ));
    }
    #[test]
    fn strict_refuses_duplicates_anywhere() {
        let v = strict(br#"{"a":{"b":[1,"x",true,null,1.5]},"c":"\u0041"}"#).unwrap();
        assert_eq!(v["c"], "A");
        assert_eq!(v["a"]["b"][1], "x");
        assert_eq!(
            strict(br#"{"a":1,"o":{"k":1,"k":2}}"#),
            Err(JsonError::Duplicate("k".into()))
        );
        // An escaped spelling of the same key is the same key.
        assert!(matches!(
            strict(br#"{"appid":"a","app\u0069d":"b"}"#),
            Err(JsonError::Duplicate(_))
        ));
        assert!(matches!(strict(b"{} x"), Err(JsonError::Syntax(_))));
        assert!(matches!(
            strict(b"\xef\xbb\xbf{}"),
            Err(JsonError::Syntax(_))
        ));
        assert!(matches!(
            strict(br#"{"a":"\ud800"}"#),
            Err(JsonError::Syntax(_))
        ));
        let deep = format!(
            "{}1{}",
            "[".repeat(MAX_DEPTH + 1),
            "]".repeat(MAX_DEPTH + 1)
        );
        assert!(matches!(strict(deep.as_bytes()), Err(JsonError::Syntax(_))));
    }
}
