//! The scanner against hand-written cases and, on generated and mutated documents, against
//! serde_json: the same documents are valid, and every item span holds the value serde_json
//! reads at that position.

use super::pick::array_index;
use super::*;
use rand::{Rng, SeedableRng};
use serde_json::Value;

fn toks(p: &str) -> Vec<String> {
    if p.is_empty() {
        return Vec::new();
    }
    p[1..].split('/').map(String::from).collect()
}

fn run(body: &str, list: &str, id: &str, platform: Option<&str>) -> Result<Located, Fault> {
    let (l, i, pl) = (toks(list), toks(id), platform.map(toks));
    let p = Pointers {
        list: &l,
        id: &i,
        platform: pl.as_deref(),
    };
    locate(body.as_bytes(), &p)
}

fn ids(body: &str, located: &Located) -> Vec<Option<String>> {
    located
        .items
        .iter()
        .map(|it| match &it.id {
            Field::Str { raw, .. } => decode(body.as_bytes(), raw.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn finds_items_and_their_ids() {
    let body = r#" {"total":3,"results":[ {"package":"com.a.b","name":"A"} ,{"name":"B","package":"com.c\u002ed"},
        {"x":{"package":"no"},"package":7}, {"package":null}, "str" ],"tail":[1]} "#;
    let l = run(body, "/results", "/package", None).unwrap();
    assert_eq!(l.items.len(), 5);
    assert_eq!(&body[l.open..=l.open], "[");
    assert_eq!(&body[l.close..=l.close], "]");
    assert_eq!(
        &body[l.items[0].span.clone()],
        r#"{"package":"com.a.b","name":"A"}"#
    );
    assert_eq!(&body[l.items[4].span.clone()], r#""str""#);
    assert_eq!(
        ids(body, &l),
        [
            Some("com.a.b".into()),
            Some("com.c.d".into()),
            None,
            None,
            None
        ]
    );
    assert_eq!(l.items[2].id, Field::NotString);
    assert_eq!(l.items[3].id, Field::Missing);
    assert_eq!(l.items[4].id, Field::Missing);
}

#[test]
fn nested_pointers_platforms_and_bare_strings() {
    let body = r#"{"d":[{"items":[{"app":{"id":"wx84c222762738ce75","host":"wechat"}}]}]}"#;
    let l = run(body, "/d/0/items", "/app/id", Some("/app/host")).unwrap();
    let it = &l.items[0];
    assert!(matches!(&it.platform, Field::Str { raw, .. } if &body[raw.clone()] == "wechat"));
    assert_eq!(ids(body, &l), [Some("wx84c222762738ce75".into())]);
    let bare = r#"["com.a.b","com.c.d"]"#;
    let l = run(bare, "", "", None).unwrap();
    assert_eq!(
        ids(bare, &l),
        [Some("com.a.b".into()), Some("com.c.d".into())]
    );
    assert_eq!(run("[]", "", "/p", None).unwrap().items, []);
}

/// Keys a case-insensitive binder (Go, ASP.NET Core, Json.NET) reads as the pointer's token:
/// on the path they refuse the body, at an item's id or platform they make it ambiguous, even
/// alone (the stacks disagree on whether the item names an id).
#[test]
fn keys_case_insensitive_binders_merge_are_ambiguous() {
    assert_eq!(
        run(r#"{"r":[],"R":[]}"#, "/r", "/p", None),
        Err(Fault::Duplicate)
    );
    assert_eq!(run(r#"{"R":[]}"#, "/r", "/p", None), Err(Fault::Duplicate));
    let body = r#"{"r":[{"p":"com.a.b","P":"com.evil.x"},{"P":"com.evil.x"},{"\u0050":"x"},{"p":"com.a.b","Q":1,"q":2}]}"#;
    let l = run(body, "/r", "/p", None).unwrap();
    assert_eq!(l.items[0].id, Field::Duplicate);
    assert_eq!(l.items[1].id, Field::Duplicate);
    assert_eq!(l.items[2].id, Field::Duplicate);
    assert!(matches!(l.items[3].id, Field::Str { .. }));
    let l = run(
        r#"{"r":[{"id":"x","paſs":"a"}]}"#,
        "/r",
        "/id",
        Some("/pass"),
    )
    .unwrap();
    assert_eq!(l.items[0].platform, Field::Duplicate);
}

#[test]
fn keys_fastjsons_smart_match_binds_to_one_field_are_ambiguous() {
    // fastjson binds a key no field has to the field equal to it in ASCII case with `_` and
    // `-` left out: on the list's path and inside items.
    for body in [r#"{"results":[],"_results":[]}"#, r#"{"RE-SULTS":[]}"#] {
        assert_eq!(
            run(body, "/results", "/package", None),
            Err(Fault::Duplicate),
            "{body}"
        );
    }
    let body = r#"{"results":[{"package":"com.a.b","_package":"com.evil.x"},{"pack_age":"com.evil.x"},{"PACK-AGE":"x","package":"com.a.b"},{"package":"com.a.b","package2":"x","_pkg":"y"},{"package":"com.a.b","_id":"z"}]}"#;
    let l = run(body, "/results", "/package", None).unwrap();
    for i in 0..3 {
        assert_eq!(l.items[i].id, Field::Duplicate, "item {i}");
    }
    assert!(matches!(l.items[3].id, Field::Str { .. }));
    assert!(matches!(l.items[4].id, Field::Str { .. }));
    // A token with `_` or `-` in it: the key without them is the same field.
    let l = run(
        r#"{"r":[{"app_id":"wx1","appId":"wx2"},{"app_id":"wx1"}]}"#,
        "/r",
        "/app_id",
        None,
    )
    .unwrap();
    assert_eq!(l.items[0].id, Field::Duplicate);
    assert!(matches!(l.items[1].id, Field::Str { .. }));
}

#[test]
fn duplicate_keys_on_the_path_and_in_items() {
    assert_eq!(
        run(r#"{"r":[],"r":[]}"#, "/r", "/p", None),
        Err(Fault::Duplicate)
    );
    // An escaped spelling of the same key is the same key.
    assert_eq!(
        run(r#"{"r":[],"\u0072":[]}"#, "/r", "/p", None),
        Err(Fault::Duplicate)
    );
    // Repeats off the path are no reading difference for the list.
    assert!(run(r#"{"x":1,"x":2,"r":[]}"#, "/r", "/p", None).is_ok());
    let body = r#"{"r":[{"p":"com.a.b","p":"com.evil.x"},{"a":{"p":"x"},"a":{"p":"y"}},{"p":"com.a.b","q":1,"q":2}]}"#;
    let l = run(body, "/r", "/p", None).unwrap();
    assert_eq!(l.items[0].id, Field::Duplicate);
    assert_eq!(l.items[1].id, Field::Missing);
    assert!(matches!(l.items[2].id, Field::Str { .. }));
    let l = run(body, "/r", "/a/p", None).unwrap();
    assert_eq!(l.items[1].id, Field::Duplicate);
    let l = run(
        r#"{"r":[{"p":"x","pl":"android","pl":"ios"}]}"#,
        "/r",
        "/p",
        Some("/pl"),
    )
    .unwrap();
    assert_eq!(l.items[0].platform, Field::Duplicate);
    assert!(matches!(l.items[0].id, Field::Str { .. }));
}

#[test]
fn what_parsers_read_differently_is_refused() {
    let ok = r#"{"r":[{"p":"a"}]}"#;
    assert!(run(ok, "/r", "/p", None).is_ok());
    for (bad, fault) in [
        ("\u{feff}{\"r\":[]}", Fault::Syntax),
        (r#"{"r":[]} x"#, Fault::Syntax),
        (r#"{"r":[]}{}"#, Fault::Syntax),
        (r#"{"r":[1,]}"#, Fault::Syntax),
        (r#"{"r":[01]}"#, Fault::Syntax),
        (r#"{"r":[1.]}"#, Fault::Syntax),
        (r#"{"r":[+1]}"#, Fault::Syntax),
        (r#"{"r":[NaN]}"#, Fault::Syntax),
        (r#"{'r':[]}"#, Fault::Syntax),
        ("{\"r\":[\"a\tb\"]}", Fault::Syntax),
        (r#"{"r":["\x41"]}"#, Fault::Syntax),
        (r#"{"r":[{"p":"\ud800"}]}"#, Fault::Encoding),
        (r#"{"r":[{"p":"\udc00\ud800"}]}"#, Fault::Encoding),
        (r#"{"r":[{"p":"\ud800\u0041"}]}"#, Fault::Encoding),
        (r#"{"r":{"p":1}}"#, Fault::NotArray),
        (r#"{"q":[]}"#, Fault::Missing),
        (r#"{"r":[] /* c */}"#, Fault::Syntax),
        ("{\"r\":[]}\u{0}", Fault::Syntax),
    ] {
        assert_eq!(run(bad, "/r", "/p", None).err(), Some(fault), "{bad:?}");
    }
    assert_eq!(
        locate(
            b"{\"r\":[\"\xff\"]}",
            &Pointers {
                list: &toks("/r"),
                id: &[],
                platform: None
            }
        ),
        Err(Fault::Encoding)
    );
    let deep = format!(
        "{{\"r\":[{}{}]}}",
        "[".repeat(MAX_DEPTH),
        "]".repeat(MAX_DEPTH)
    );
    assert_eq!(run(&deep, "/r", "/p", None).err(), Some(Fault::Depth));
    let fits = format!(
        "{{\"r\":[{}{}]}}",
        "[".repeat(MAX_DEPTH - 2),
        "]".repeat(MAX_DEPTH - 2)
    );
    assert!(run(&fits, "/r", "/p", None).is_ok());
    // A surrogate pair is one character.
    let pair = r#"{"r":[{"p":"\ud83d\ude00"}]}"#;
    let l = run(pair, "/r", "/p", None).unwrap();
    assert_eq!(ids(pair, &l), [Some("😀".into())]);
}

#[test]
fn array_index_tokens_are_rfc_6901() {
    assert_eq!(array_index("0"), Some(0));
    assert_eq!(array_index("12"), Some(12));
    assert_eq!(array_index("01"), None);
    assert_eq!(array_index("-1"), None);
    assert_eq!(array_index(""), None);
}

/// A random JSON value with random whitespace and escapes, as text.
fn gen(r: &mut rand_chacha::ChaCha8Rng, depth: usize, out: &mut String) {
    let ws = |r: &mut rand_chacha::ChaCha8Rng, out: &mut String| {
        for _ in 0..r.gen_range(0..2) {
            out.push([' ', '\n', '\t', '\r'][r.gen_range(0..4)]);
        }
    };
    ws(r, out);
    let pick = if depth > 5 {
        r.gen_range(0..5)
    } else {
        r.gen_range(0..7)
    };
    match pick {
        0 => out.push_str(["true", "false", "null"][r.gen_range(0..3)]),
        1 => out.push_str(
            [
                "0",
                "-0",
                "12",
                "-3.5e+7",
                "1E2",
                "0.25",
                "123456789012345678901234",
            ][r.gen_range(0..7)],
        ),
        2..=4 => gen_string(r, out),
        5 => {
            out.push('[');
            for i in 0..r.gen_range(0..4) {
                if i > 0 {
                    out.push(',');
                }
                gen(r, depth + 1, out);
            }
            ws(r, out);
            out.push(']');
        }
        _ => {
            out.push('{');
            for i in 0..r.gen_range(0..4) {
                if i > 0 {
                    out.push(',');
                }
                ws(r, out);
                gen_string(r, out);
                ws(r, out);
                out.push(':');
                gen(r, depth + 1, out);
            }
            ws(r, out);
            out.push('}');
        }
    }
    ws(r, out);
}

fn gen_string(r: &mut rand_chacha::ChaCha8Rng, out: &mut String) {
    out.push('"');
    for _ in 0..r.gen_range(0..6) {
        out.push_str(
            [
                "p",
                "a",
                "é",
                "中",
                "\\\"",
                "\\\\",
                "\\/",
                "\\n",
                "\\u0070",
                "\\ud83d\\ude00",
                "\\u00e9",
                "x y",
                "😀",
            ][r.gen_range(0..13)],
        );
    }
    out.push('"');
}

#[test]
fn agrees_with_serde_json_on_generated_documents() {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(22);
    for _ in 0..3000 {
        let mut doc = String::from("{\"r\":[");
        let n = r.gen_range(0..5);
        for i in 0..n {
            if i > 0 {
                doc.push(',');
            }
            gen(&mut r, 1, &mut doc);
        }
        doc.push_str("]}");
        let want: Value = serde_json::from_str(&doc).unwrap();
        assert_eq!(validate(doc.as_bytes()), Ok(()), "{doc}");
        let l = run(&doc, "/r", "/p", None).unwrap_or_else(|e| panic!("{e:?}: {doc}"));
        let arr = want["r"].as_array().unwrap();
        assert_eq!(l.items.len(), arr.len(), "{doc}");
        for (it, v) in l.items.iter().zip(arr) {
            let got: Value = serde_json::from_str(&doc[it.span.clone()]).unwrap();
            assert_eq!(&got, v, "{doc}");
            let p = v.as_object().and_then(|o| o.get("p"));
            match (&it.id, p) {
                (Field::Str { raw, .. }, Some(Value::String(s))) => {
                    assert_eq!(decode(doc.as_bytes(), raw.clone()).as_ref(), Some(s))
                }
                (Field::Missing, None | Some(Value::Null)) => {}
                (Field::NotString, Some(_)) => {}
                // serde_json keeps the last of two "p" keys.
                (Field::Duplicate, Some(_)) => {}
                (f, p) => panic!("{f:?} vs {p:?}: {doc}"),
            }
        }
    }
}

#[test]
fn agrees_with_serde_json_on_mutated_documents() {
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    let alphabet = b"{}[],:\"\\u0123456789abcdefEe+-.tnrl \x00\x1f\x7f\xc3\xa9\xed\xa0\x80/";
    for _ in 0..20000 {
        let mut doc = String::new();
        gen(&mut r, 0, &mut doc);
        let mut b = doc.into_bytes();
        for _ in 0..r.gen_range(1..4) {
            let at = r.gen_range(0..=b.len());
            match r.gen_range(0..3) {
                0 if at < b.len() => {
                    b.remove(at);
                }
                1 if at < b.len() => b[at] = alphabet[r.gen_range(0..alphabet.len())],
                _ => b.insert(at, alphabet[r.gen_range(0..alphabet.len())]),
            }
        }
        let ours = validate(&b).is_ok();
        let theirs = match serde_json::from_slice::<Value>(&b) {
            Ok(_) => true,
            // Kept verbatim, never read: Python and Node read such a number as infinity.
            Err(e) if e.to_string().contains("number out of range") => continue,
            Err(_) => false,
        };
        assert_eq!(ours, theirs, "{:?}", String::from_utf8_lossy(&b));
    }
}

#[test]
fn special_byte_search_agrees_with_a_byte_at_a_time_search() {
    // Every special byte at every offset of every length up to 40, each alone in a run of
    // plain bytes (ASCII and UTF-8 continuation bytes), and at the very end of the slice.
    let plain = [b'a', 0xe4, 0xb8, 0xad, b' ', 0x7f, 0xff, b'/'];
    let specials = [b'"', b'\\', 0x00, 0x0a, 0x1f];
    for len in 0..40 {
        let base: Vec<u8> = (0..len).map(|i| plain[i % plain.len()]).collect();
        assert_eq!(strings::special(&base), None, "{base:?}");
        for at in 0..len {
            for &c in &specials {
                let mut b = base.clone();
                b[at] = c;
                assert_eq!(strings::special(&b), Some(at), "{b:?}");
                assert_eq!(strings::special(&b), strings::naive(&b));
                // A second special byte later changes nothing.
                if at + 1 < len {
                    b[len - 1] = b'"';
                    assert_eq!(strings::special(&b), Some(at), "{b:?}");
                }
            }
        }
    }
    let mut r = rand_chacha::ChaCha8Rng::seed_from_u64(5);
    for _ in 0..20000 {
        let len = r.gen_range(0..64);
        let b: Vec<u8> = (0..len)
            .map(|_| match r.gen_range(0..20) {
                0 => specials[r.gen_range(0..specials.len())],
                _ => r.gen_range(0x20..=0xff),
            })
            .collect();
        // Every suffix: every alignment of the search start.
        for s in 0..=b.len() {
            assert_eq!(strings::special(&b[s..]), strings::naive(&b[s..]), "{b:?}");
        }
    }
}

#[test]
fn escaped_keys_and_strings_take_the_slow_path_to_the_same_reading() {
    // A key spelled with escapes is the pointer's key: found, and a duplicate of its plain
    // spelling inside an item.
    let body =
        r#"{"r":[{"\u0070":"a.b"},{"p":"a.b","\u0070":"c.d"},{"x":"\"\\","p":"e\/f\u00e9"}]}"#;
    let l = run(body, "/r", "/p", None).unwrap();
    assert_eq!(ids(body, &l)[0].as_deref(), Some("a.b"));
    assert_eq!(l.items[1].id, Field::Duplicate);
    assert_eq!(ids(body, &l)[2].as_deref(), Some("e/fé"));
    assert!(matches!(l.items[2].id, Field::Str { escaped: true, .. }));
    // Escapes and bad bytes at every offset of a string longer than one search word.
    for at in 0..20 {
        let mut s = "abcdefghijklmnopqrst".to_string();
        s.insert_str(at, "\\n");
        let ok = format!(r#"{{"r":[{{"p":"{s}"}}]}}"#);
        assert_eq!(validate(ok.as_bytes()), Ok(()), "{ok}");
        let bad = ok.replace("\\n", "\\x");
        assert_eq!(validate(bad.as_bytes()), Err(Fault::Syntax), "{bad}");
        let ctl = ok.replace("\\n", "\u{1}");
        assert_eq!(validate(ctl.as_bytes()), Err(Fault::Syntax), "{ctl}");
        let lone = ok.replace("\\n", "\\udc00");
        assert_eq!(validate(lone.as_bytes()), Err(Fault::Encoding), "{lone}");
    }
    // A string cut off at the end of the body, at every length.
    for n in 0..20 {
        let cut = format!("\"{}", "a".repeat(n));
        assert_eq!(validate(cut.as_bytes()), Err(Fault::Syntax), "{cut}");
        let cut = format!("\"{}\\", "a".repeat(n));
        assert_eq!(validate(cut.as_bytes()), Err(Fault::Syntax), "{cut}");
    }
}

#[test]
fn digit_runs_end_where_a_byte_at_a_time_search_ends_them() {
    // Every byte value after every run length, and a digit run followed by bytes whose
    // SWAR addition carries (0xfa and up) into the bytes above.
    for run in 0..8 {
        for c in 0..=255u8 {
            let mut b = [b'7'; 8];
            b[run] = c;
            if run + 1 < 8 {
                b[run + 1] = 0xff;
            }
            let want = b.iter().position(|c| !c.is_ascii_digit());
            assert_eq!(strings::non_digit(&b), want, "{b:?}");
        }
    }
    assert_eq!(strings::non_digit(b"01234567"), None);
    for n in [
        "0",
        "-0",
        "12345678",
        "123456789",
        "1234567890123456789.25e+12",
        "9e9",
    ] {
        assert_eq!(validate(n.as_bytes()), Ok(()), "{n}");
        for tail in [".", "e", "e+", "x"] {
            let bad = format!("{n}{tail}");
            assert_eq!(validate(bad.as_bytes()), Err(Fault::Syntax), "{bad}");
        }
    }
}
