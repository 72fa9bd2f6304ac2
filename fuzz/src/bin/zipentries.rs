//! Fuzzes the ZIP reader on its own: end record, central directory, strict-ZIP checks and
//! every entry's data (stored or inflated, capped). It must never panic, and never return more
//! entries or entry bytes than its limits allow.

fn main() {
    icpgate_fuzz::run(icpgate::inspect::fuzzing::zip_entries);
}
