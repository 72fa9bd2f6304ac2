//! List configuration: a route's `filter = { … }` (the upstream's JSON response) and
//! `batch = { … }` (the request's JSON body) tables, in their TOML shape and validated.
//!
//! Owns the raw shapes of both tables (kept here rather than in `raw.rs` so the list feature
//! stays in one file) and every check on them: pointers, the item platform, `max_bytes`,
//! `on_oversize`, `on_unfiled`.
//! Must not: read a list or decide on one (that is `crate::lists`).
//! Invariant: a validated `ListSpec` has an item platform (fixed, or a non-empty pointer
//! distinct from the id pointer); a `FilterConfig` has `0 < max_bytes <= MAX_FILTER_BYTES`.

use super::knobs::choice;
use super::upload::{parse_size, RawSize};
use super::Problems;
use crate::filing::Platform;
use serde::Deserialize;

/// A route's `filter = { … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawFilter {
    pub pointer: String,
    pub id: String,
    pub platform: Option<String>,
    pub platform_from: Option<String>,
    #[serde(default = "default_max_bytes")]
    pub max_bytes: RawSize,
    #[serde(default = "default_on_oversize")]
    pub on_oversize: String,
}

/// A route's `batch = { … }`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBatch {
    pub pointer: String,
    pub id: String,
    pub platform: Option<String>,
    pub platform_from: Option<String>,
    #[serde(default = "default_on_unfiled")]
    pub on_unfiled: String,
}

/// Largest upstream response a filter reads when the route does not say.
pub const DEFAULT_FILTER_BYTES: u64 = 4 << 20;
/// Largest `max_bytes` a filter may have: each response in flight holds up to twice it.
pub const MAX_FILTER_BYTES: u64 = 64 << 20;

fn default_max_bytes() -> RawSize {
    RawSize::Bytes(DEFAULT_FILTER_BYTES)
}
fn default_on_oversize() -> String {
    "refuse".into()
}
fn default_on_unfiled() -> String {
    "drop".into()
}

/// Where an item's platform comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ItemPlatform {
    Fixed(Platform),
    /// A string at this pointer inside the item (RFC 6901 tokens, unescaped).
    From(Vec<String>),
}

/// Which array a list is and how its items name their app.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListSpec {
    /// The array: a pointer from the body's root (empty: the body is the array).
    pub pointer: Vec<String>,
    /// The id inside an item (empty: the item is the id string).
    pub id: Vec<String>,
    pub platform: ItemPlatform,
}

/// What a filter does with a response larger than `max_bytes` (raw or decoded).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnOversize {
    /// 502 `list_too_large`.
    Refuse,
    /// Forward it unfiltered, marked `x-icp-unfiltered: oversize` and counted.
    Pass,
}

/// A validated `filter = { … }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FilterConfig {
    pub list: ListSpec,
    pub max_bytes: usize,
    pub on_oversize: OnOversize,
}

/// What a batch does when an item is not filed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnUnfiled {
    /// Forward the request with only the filed items.
    Drop,
    /// 451 `batch_unfiled`, listing the unfiled ids.
    Refuse,
}

/// A validated `batch = { … }`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    pub list: ListSpec,
    pub on_unfiled: OnUnfiled,
}

/// RFC 6901 tokens of `ptr` ("" is the root), or a problem at `key`.
fn pointer(p: &mut Problems<'_>, key: &str, ptr: &str) -> Option<Vec<String>> {
    if ptr.is_empty() {
        return Some(Vec::new());
    }
    if !ptr.starts_with('/') {
        p.add(
            key,
            format!("{ptr:?} is not a JSON pointer (RFC 6901: \"\" or \"/results\")"),
        );
        return None;
    }
    let bad_escape = ptr
        .match_indices('~')
        .any(|(i, _)| !matches!(ptr.as_bytes().get(i + 1), Some(b'0' | b'1')));
    if bad_escape {
        p.add(key, format!("{ptr:?}: ~ must be followed by 0 or 1"));
        return None;
    }
    Some(
        ptr[1..]
            .split('/')
            .map(|t| t.replace("~1", "/").replace("~0", "~"))
            .collect(),
    )
}

/// The list spec shared by both tables; a platform falls back to `route_platform`, the
/// route's fixed platform.
fn spec(
    p: &mut Problems<'_>,
    key: &str,
    (list, id, platform, platform_from): (&str, &str, Option<&str>, Option<&str>),
    route_platform: Option<Platform>,
) -> Option<ListSpec> {
    let pointer_ = pointer(p, &format!("{key}.pointer"), list);
    let id_ = pointer(p, &format!("{key}.id"), id);
    let platform = match (platform, platform_from, route_platform) {
        (Some(_), Some(_), _) => {
            p.add(key, "set at most one of platform or platform_from");
            None
        }
        (Some(name), None, _) => match name.parse::<Platform>() {
            Ok(pl) => Some(ItemPlatform::Fixed(pl)),
            Err(e) => {
                p.add(&format!("{key}.platform"), e.to_string());
                None
            }
        },
        (None, Some(ptr), _) => {
            let k = format!("{key}.platform_from");
            match pointer(p, &k, ptr) {
                Some(t) if t.is_empty() => {
                    p.add(&k, "must point inside the item (e.g. \"/platform\")");
                    None
                }
                Some(t) if Some(&t) == id_.as_ref() => {
                    p.add(&k, "must differ from the id pointer");
                    None
                }
                t => t.map(ItemPlatform::From),
            }
        }
        (None, None, Some(pl)) => Some(ItemPlatform::Fixed(pl)),
        (None, None, _) => {
            p.add(
                key,
                "set platform or platform_from (the route's platform is not a fixed one)",
            );
            None
        }
    };
    Some(ListSpec {
        pointer: pointer_?,
        id: id_?,
        platform: platform?,
    })
}

pub(super) fn filter(
    p: &mut Problems<'_>,
    key: &str,
    r: &RawFilter,
    route_platform: Option<Platform>,
) -> Option<FilterConfig> {
    let fields = (
        r.pointer.as_str(),
        r.id.as_str(),
        r.platform.as_deref(),
        r.platform_from.as_deref(),
    );
    let list = spec(p, key, fields, route_platform);
    let max_bytes = match parse_size(&r.max_bytes) {
        Ok(n) if n > 0 && n <= MAX_FILTER_BYTES => Some(n as usize),
        Ok(n) => {
            p.add(
                &format!("{key}.max_bytes"),
                format!("{n} is not between 1 and {MAX_FILTER_BYTES} (64MiB)"),
            );
            None
        }
        Err(e) => {
            p.add(&format!("{key}.max_bytes"), e);
            None
        }
    };
    let on_oversize = choice(
        p,
        &format!("{key}.on_oversize"),
        &r.on_oversize,
        &[("refuse", OnOversize::Refuse), ("pass", OnOversize::Pass)],
    );
    Some(FilterConfig {
        list: list?,
        max_bytes: max_bytes?,
        on_oversize: on_oversize?,
    })
}

pub(super) fn batch(
    p: &mut Problems<'_>,
    key: &str,
    r: &RawBatch,
    route_platform: Option<Platform>,
) -> Option<BatchConfig> {
    let fields = (
        r.pointer.as_str(),
        r.id.as_str(),
        r.platform.as_deref(),
        r.platform_from.as_deref(),
    );
    let list = spec(p, key, fields, route_platform);
    let on_unfiled = choice(
        p,
        &format!("{key}.on_unfiled"),
        &r.on_unfiled,
        &[("drop", OnUnfiled::Drop), ("refuse", OnUnfiled::Refuse)],
    );
    Some(BatchConfig {
        list: list?,
        on_unfiled: on_unfiled?,
    })
}
