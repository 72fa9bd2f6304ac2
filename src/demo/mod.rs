//! Demo-only code: what the quick start runs so that it needs no other server. The echo
//! upstream (`echo`) answers with what it received; the demo feed (`feed`) is a registry feed
//! the gateway builds, signs and serves to itself from the bundled sample export.
//!
//! Owns: every piece of code that exists only for the demo. The crate's `demo` feature (on by
//! default) compiles it; `cargo build --release --no-default-features` leaves it out, and such a
//! build refuses a configuration with a `[demo]` section and has no `icpgate echo` command.
//! Must not: be reached by a production configuration (a config without `[demo]` starts none of
//! it), or be imported by the gateway's data path.
//! Invariant: nothing outside `lifecycle` (which starts it from `[demo]`), the binary's `echo`
//! command, tests and benches refers to this module.

pub mod echo;
pub mod feed;
