//! Fuzzes the list scanner (`lists::scan`): any body, a list pointer with item pointers. It must
//! answer and never panic; an accepted list's item spans lie inside the array, in order, each
//! one a whole valid JSON value, and its id spans lie inside their item.

use icpgate::lists::scan::{locate, validate, Field, Pointers};

fn main() {
    let list: Vec<String> = vec!["r".into()];
    let id: Vec<String> = vec!["p".into()];
    let platform: Vec<String> = vec!["a".into(), "h".into()];
    afl::fuzz!(|data: &[u8]| {
        let p = Pointers {
            list: &list,
            id: &id,
            platform: Some(&platform),
        };
        let Ok(l) = locate(data, &p) else {
            return;
        };
        assert!(validate(data).is_ok(), "an accepted list is valid JSON");
        assert!(l.open < l.close && l.close < data.len());
        let mut at = l.open;
        for item in &l.items {
            assert!(
                at < item.span.start && item.span.end <= l.close,
                "item span out of order"
            );
            assert!(
                validate(&data[item.span.clone()]).is_ok(),
                "item is not one value"
            );
            for f in [&item.id, &item.platform] {
                if let Field::Str { raw, .. } = f {
                    assert!(item.span.start < raw.start && raw.end < item.span.end);
                }
            }
            at = item.span.end;
        }
    });
}
