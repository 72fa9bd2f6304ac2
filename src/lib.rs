#![forbid(unsafe_code)]
//! icpgate: a reverse proxy that enforces China's ICP filing rules for apps and mini programs.

pub mod filing;
pub mod config;
pub mod index;
pub mod code;
pub mod extract;
pub mod metrics;
pub mod policy;
pub mod proxy;
pub mod audit;
pub mod generate;
