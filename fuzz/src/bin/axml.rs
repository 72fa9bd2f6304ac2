//! Fuzzes the binary AndroidManifest.xml reader (`inspect::axml`): it must return a manifest
//! or an error, and never panic.

fn main() {
    icpgate_fuzz::run(icpgate::inspect::fuzzing::axml);
}
