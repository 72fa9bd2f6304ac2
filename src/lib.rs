#![forbid(unsafe_code)]
//! icpgate: a reverse proxy that enforces China's ICP filing rules for apps and mini programs.
//!
//! Module map (request order): `server` accepts connections → `proxy` routes, reads, extracts
//! (`extract`), decides (`policy` over `index`) and forwards or refuses (`code`) → `metrics`
//! and `audit` record the outcome. `config` validates everything up front, `admin` serves the
//! operator API, `lifecycle` starts and drains the whole, `filing` holds the domain rules.

pub mod accept;
pub mod accesslog;
pub mod admin;
pub mod audit;
pub mod code;
pub mod config;
pub mod echo;
pub mod extract;
pub mod feed;
pub mod filing;
pub mod fold;
pub mod generate;
pub mod index;
pub mod inspect;
pub mod lifecycle;
pub mod metrics;
pub mod policy;
pub mod proxy;
pub mod requestid;
pub mod server;
pub mod source;
pub mod verdict;

pub use lifecycle::{start, Running, StartError};
