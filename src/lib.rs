#![forbid(unsafe_code)]
//! icpgate: a reverse proxy that enforces China's ICP filing rules for apps and mini programs.
//!
//! Module map (request order): `workers` run one runtime per core, `dataplane` gives each its
//! listeners and request state, `server` accepts connections → `proxy` routes, reads, extracts
//! (`extract`), decides (`policy` over `index`) and forwards or refuses (`code`) → `metrics`
//! and `audit` record the outcome; `tokens` reads identifiers inside access tokens. `config` validates everything up front, `admin` serves the
//! operator API, `lifecycle` starts and drains the whole (`control`, `reload` apply
//! reloads and stops), `filing` holds the domain rules.

pub mod accept;
pub mod accesslog;
pub mod admin;
pub mod audit;
pub mod client;
pub mod code;
pub mod config;
pub mod console;
pub mod control;
pub mod dataplane;
#[cfg(feature = "demo")]
pub mod demo;
pub mod extract;
pub mod feed;
pub mod filing;
pub mod fold;
pub mod generate;
pub mod index;
pub mod inspect;
pub mod lifecycle;
pub mod lists;
pub mod metrics;
pub mod policy;
pub mod proxy;
pub mod proxy_protocol;
mod reload;
pub mod requestid;
pub mod server;
pub mod source;
mod streams;
pub mod tokens;
pub mod verdict;
pub mod workers;

pub use lifecycle::{start, Running, StartError};
