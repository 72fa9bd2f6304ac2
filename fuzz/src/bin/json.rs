//! Fuzzes the JSON pointer extractor: any body, a few pointers. It must answer (a value,
//! missing, not-a-scalar, duplicate, syntax, too deep) and never panic.

fn main() {
    let pointers: [Vec<String>; 3] = [
        vec!["app".into(), "id".into()],
        vec!["appid".into()],
        vec!["a".into(), "0".into(), "b".into()],
    ];
    afl::fuzz!(|data: &[u8]| {
        for p in &pointers {
            let _ = icpgate::extract::json::extract(data, p);
        }
    });
}
