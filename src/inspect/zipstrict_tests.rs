//! Unit tests of the strict ZIP rules: one crafted archive per construction, each refused with
//! `package_ambiguous`, beside the clean archives they are made from.
