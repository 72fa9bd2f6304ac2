//! Shared driver of the package-reader targets: each runs one `icpgate::inspect::fuzzing`
//! entry point under AFL++ and turns a broken invariant (its `Err`) into a crash.

/// Fuzzes `check`; panics (an AFL++ crash) when it reports a broken invariant.
pub fn run(check: fn(&[u8]) -> Result<(), String>) {
    afl::fuzz!(|data: &[u8]| {
        if let Err(e) = check(data) {
            panic!("{e}");
        }
    });
}
