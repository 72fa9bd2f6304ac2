//! JSON object keys that a lenient binder reads as another key: Go's `encoding/json`, ASP.NET
//! Core, Json.NET and Jackson match keys to fields by Unicode case folding, and fastjson (the
//! Alibaba binder common on Chinese Java backends and Android clients) by its "smart match",
//! ASCII case with every `_` and `-` left out, where JavaScript, Python and PHP compare keys
//! byte for byte.
//!
//! Owns the fold those binders apply: `_` and `-` dropped, ASCII case, the lowercase form of a
//! letter, the letters that fold to an ASCII letter (`ſ` to `s`, the Kelvin sign to `k`; `ı`
//! and `İ` to `i` as .NET's and Java's case-blind comparisons read them, which Go does not),
//! and the simple-fold orbits with two lowercase letters (`ς`/`σ`, `µ`/`μ`, …).
//! Must not: allocate (it runs on keys along a JSON pointer and in the list scanner).
//! Invariant: two keys that Go's `unicode.SimpleFold` puts in one orbit, letter by letter, or
//! that are equal in ASCII case once their `_` and `-` are dropped, are aliases or equal.

/// True when the JSON object key `key` is not `token` but a lenient binder reads it as
/// `token`: Go's `encoding/json` (struct fields match keys by Unicode case folding), ASP.NET
/// Core (`PropertyNameCaseInsensitive`), Json.NET, Jackson with
/// `ACCEPT_CASE_INSENSITIVE_PROPERTIES`, fastjson's smart match (a key no field has binds the
/// field equal to it in ASCII case without `_` and `-`: `app_id`, `APP-ID` and `_appid` all
/// set `appId`). JavaScript, Python and PHP read it as another key, so a body holding it names
/// the identifier in a way the stacks disagree on. `_` and `-` are left out; letters compare
/// by their lowercase form, with `ı` `İ` `ſ` `K` read as `i` `i` `s` `k` (as `names.rs` reads
/// parameter names), and the second lowercase letter of a simple-fold orbit (`ς`, `µ`, `ϐ`,
/// …: Go's `unicode.SimpleFold` puts it with `σ`, `μ`, `β`) read as the first.
pub fn json_key_aliases(key: &str, token: &str) -> bool {
    if key == token {
        return false;
    }
    if key.is_ascii() && token.is_ascii() {
        return ascii_binds(key.as_bytes(), token.as_bytes());
    }
    fn fold(c: char) -> char {
        match c {
            'ı' | 'İ' => 'i',
            'ſ' => 's',
            '\u{212A}' => 'k',
            c => {
                let mut lower = c.to_lowercase();
                match (lower.next(), lower.next()) {
                    (Some(l), None) => orbit_lowercase(l),
                    _ => c,
                }
            }
        }
    }
    let kept = |c: &char| !matches!(c, '_' | '-');
    key.chars()
        .filter(kept)
        .map(fold)
        .eq(token.chars().filter(kept).map(fold))
}

/// `a` and `b` equal in ASCII case once every `_` and `-` is left out (fastjson's
/// `fnv1a_64_extract`, which Go's and Jackson's case-blind matching is a part of).
pub fn ascii_binds(a: &[u8], b: &[u8]) -> bool {
    let kept = |c: &&u8| !matches!(c, b'_' | b'-');
    let mut a = a.iter().filter(kept);
    let mut b = b.iter().filter(kept);
    loop {
        match (a.next(), b.next()) {
            (None, None) => return true,
            (Some(x), Some(y)) if x.eq_ignore_ascii_case(y) => {}
            _ => return false,
        }
    }
}

/// The lowercase letter `l` shares a simple case-fold orbit with (Unicode's CaseFolding.txt
/// `C` and `S` mappings, which Go's `unicode.SimpleFold` cycles through), or `l` itself: the
/// orbits whose members do not all lowercase to one letter.
fn orbit_lowercase(l: char) -> char {
    match l {
        '\u{B5}' => '\u{3BC}',
        '\u{345}' | '\u{1FBE}' => '\u{3B9}',
        '\u{3D0}' => '\u{3B2}',
        '\u{3F5}' => '\u{3B5}',
        '\u{3D1}' => '\u{3B8}',
        '\u{3F0}' => '\u{3BA}',
        '\u{3D6}' => '\u{3C0}',
        '\u{3F1}' => '\u{3C1}',
        '\u{3C2}' => '\u{3C3}',
        '\u{3D5}' => '\u{3C6}',
        '\u{1C80}' => '\u{432}',
        '\u{1C81}' => '\u{434}',
        '\u{1C82}' => '\u{43E}',
        '\u{1C83}' => '\u{441}',
        '\u{1C84}' | '\u{1C85}' => '\u{442}',
        '\u{1C86}' => '\u{44A}',
        '\u{1C87}' => '\u{463}',
        '\u{1C88}' => '\u{A64B}',
        '\u{1E9B}' => '\u{1E61}',
        l => l,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_keys_that_case_insensitive_binders_merge_are_aliases() {
        for key in [
            "AppId",
            "APPID",
            "appID",
            "appıd",
            "APPİD",
            "\u{212A}ey",
            "paſs",
        ] {
            let token = match key {
                "\u{212A}ey" => "key",
                "paſs" => "pass",
                _ => "appid",
            };
            assert!(json_key_aliases(key, token), "{key}");
            assert!(json_key_aliases(token, key), "{key}");
        }
        for (key, token) in [
            ("appid", "appid"),
            ("app.id", "appid"),
            ("appids", "appid"),
            ("app id", "appid"),
            ("isAppid", "appid"),
            ("", "a"),
        ] {
            assert!(!json_key_aliases(key, token), "{key}");
        }
        assert!(json_key_aliases("ÉTAT", "état"));
    }

    #[test]
    fn json_keys_fastjsons_smart_match_binds_to_one_field_are_aliases() {
        // fastjson binds a key no field has to the field equal to it in ASCII case with `_`
        // and `-` left out, whichever side has them.
        for (key, token) in [
            ("app_id", "appid"),
            ("APP-ID", "appid"),
            ("_appid", "appid"),
            ("a_p-p_i-d", "appId"),
            ("appid_", "appid"),
            ("appId", "app_id"),
            ("APPID", "app-id"),
            ("pack_age", "package"),
            ("_id", "id"),
            ("app_ıd", "appid"),
        ] {
            assert!(json_key_aliases(key, token), "{key} {token}");
            assert!(json_key_aliases(token, key), "{key} {token}");
        }
        assert!(!json_key_aliases("app_i", "appid"));
        assert!(!json_key_aliases("__", "id"));
    }

    #[test]
    fn json_keys_in_one_simple_fold_orbit_are_aliases() {
        // Go's encoding/json matches keys by simple case folding (unicode.SimpleFold orbits):
        // these orbits hold two lowercase letters, which lowercasing alone keeps apart.
        // Each pair: the second lowercase letter of an orbit, then the first.
        let pairs = "\u{B5}\u{3BC} \u{345}\u{3B9} \u{1FBE}\u{3B9} \u{3D0}\u{3B2} \u{3F5}\u{3B5} \
            \u{3D1}\u{3B8} \u{3F0}\u{3BA} \u{3D6}\u{3C0} \u{3F1}\u{3C1} \u{3C2}\u{3C3} \u{3D5}\u{3C6} \
            \u{1C80}\u{432} \u{1C81}\u{434} \u{1C82}\u{43E} \u{1C83}\u{441} \u{1C84}\u{442} \
            \u{1C85}\u{442} \u{1C86}\u{44A} \u{1C87}\u{463} \u{1C88}\u{A64B} \u{1E9B}\u{1E61}";
        for pair in pairs.split_whitespace() {
            let mut c = pair.chars();
            let (key, token) = (c.next().unwrap(), c.next().unwrap());
            let (key, token) = (format!("id{key}"), format!("id{token}"));
            assert!(json_key_aliases(&key, &token), "{key:?} {token:?}");
            assert!(json_key_aliases(&token, &key), "{key:?} {token:?}");
            assert!(
                json_key_aliases(&key.to_uppercase(), &token),
                "{key:?} {token:?}"
            );
        }
        // Sigma's three forms are one orbit; kappa is not k.
        assert!(json_key_aliases("\u{3A3}", "\u{3C2}"));
        assert!(!json_key_aliases("pac\u{3BA}age", "package"));
    }
}
