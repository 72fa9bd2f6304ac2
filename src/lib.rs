#![forbid(unsafe_code)]
//! icpgate: a reverse proxy that enforces China's ICP filing rules for apps and mini programs.

pub mod filing;
pub mod index;
pub mod inspect;
