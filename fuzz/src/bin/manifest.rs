//! Fuzzes the text manifest readers on the same bytes: Info.plist (XML or binary, via the
//! `plist` crate), HAP module.json / pack.info, and the JAR manifest format of
//! META-INF/MANIFEST.MF and *.SF. An accepted HAP manifest has a non-empty bundleName; a JAR
//! section's range lies inside the input.

fn main() {
    icpgate_fuzz::run(icpgate::inspect::fuzzing::manifests);
}
