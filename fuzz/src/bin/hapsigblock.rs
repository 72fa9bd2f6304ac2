//! Fuzzes the HAP signing block reader on a block that ends where the input ends, then its
//! signer, with the content digests checked over the bytes before the block. A parsed block has
//! exactly one signature sub-block; nothing panics.

fn main() {
    icpgate_fuzz::run(icpgate::inspect::fuzzing::hap_signing_block);
}
