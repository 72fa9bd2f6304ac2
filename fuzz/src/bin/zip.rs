//! Fuzzes package inspection (ZIP reader, then the APK / IPA / HAP readers and their signature
//! parsers) on arbitrary bytes with digests on. It must return an identity or an error, and
//! never panic.

fn main() {
    let limits = icpgate::inspect::Limits {
        verify_digests: true,
        ..icpgate::inspect::Limits::default()
    };
    afl::fuzz!(|data: &[u8]| {
        let _ = icpgate::inspect::inspect_reader(std::io::Cursor::new(data), &limits);
    });
}
