//! Fuzzes the BER reader over a whole item tree, the PKCS#7 SignedData reader with each
//! signer verified, and the X.509 readers. Every BER item splits its input exactly (item +
//! rest), and a signer's certificate is one of the SignedData's certificates.

fn main() {
    icpgate_fuzz::run(icpgate::inspect::fuzzing::pkcs7);
}
