//! Fuzzes the APK Signing Block reader on a block that ends where the input ends, then its v2,
//! v3 and v3.1 signer blocks with signatures verified. No scheme block holds more signers than
//! the limit; nothing panics.

fn main() {
    icpgate_fuzz::run(icpgate::inspect::fuzzing::apk_signing_block);
}
