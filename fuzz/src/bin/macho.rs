//! Fuzzes the Mach-O code signature reader (fat and thin headers, LC_CODE_SIGNATURE, the
//! SuperBlob's CodeDirectory and CMS slots), then each slice's CMS verified over its
//! CodeDirectory. No blob is longer than the executable; nothing panics.

fn main() {
    icpgate_fuzz::run(icpgate::inspect::fuzzing::macho);
}
