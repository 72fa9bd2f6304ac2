//! Fuzzes the streaming multipart scanner: the first line of the input is the Content-Type,
//! the rest the body, fed in two chunks split at a point the input chooses (so delimiter
//! search across chunk borders is exercised). It must refuse or record parts whose offsets lie
//! inside the body, and never panic.

use icpgate::extract::multipart::{boundary, Scanner};

fn main() {
    afl::fuzz!(|data: &[u8]| {
        let Some(nl) = data.iter().position(|&b| b == b'\n') else {
            return;
        };
        let (ct, rest) = (&data[..nl], &data[nl + 1..]);
        let Ok(ct) = std::str::from_utf8(ct) else {
            return;
        };
        let Ok(b) = boundary(ct) else {
            return;
        };
        let split = rest.first().map_or(0, |&s| s as usize % (rest.len() + 1));
        let mut s = Scanner::new(&b, &["file", "package"]);
        if s.feed(&rest[..split]).is_err() || s.feed(&rest[split..]).is_err() {
            return;
        }
        if let Ok(parts) = s.finish() {
            for p in parts {
                assert!(p.start <= p.end && p.end <= rest.len() as u64, "{p:?}");
            }
        }
    });
}
