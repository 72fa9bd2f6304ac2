//! The list families (`crate::lists`): items removed and items monitor mode kept, by route,
//! platform and reason, and one outcome per list, by route, side and outcome.
//!
//! Owns the handles of `icpgate_list_items_removed_total`,
//! `icpgate_list_items_monitored_total` and `icpgate_lists_total`, and which of their series
//! exist at start (`declare`).
//! Must not: be touched by a request on a route without a list (only list routes count here).
//! Invariant: a removed item is counted once, in one of the two item families.

use super::{counter_vec, name};
use prometheus::{IntCounterVec, Registry};

pub struct ListMetrics {
    /// Items taken out of a list (enforce mode), by route, platform and reason.
    pub removed: IntCounterVec,
    /// Items monitor mode kept that enforce mode would remove.
    pub monitored: IntCounterVec,
    /// Lists, by route, side (response, batch) and outcome.
    pub lists: IntCounterVec,
}

impl ListMetrics {
    pub(super) fn new(r: &Registry) -> ListMetrics {
        let items = ["route", "platform", "reason"];
        ListMetrics {
            removed: counter_vec(r, name::LIST_ITEMS_REMOVED, "List items removed because their app is not filed for its platform (or the item cannot be read), by route, platform and reason.", &items),
            monitored: counter_vec(r, name::LIST_ITEMS_MONITORED, "List items a route in monitor mode kept that enforce mode would remove, by route, platform and reason.", &items),
            lists: counter_vec(r, name::LISTS, "Lists decided by the gateway, by route, side (response, batch) and outcome.", &["route", "side", "outcome"]),
        }
    }

    /// Creates, at 0, a list route's series: every outcome of each side it has, and an
    /// unfiled item on each of `platforms`, removed and monitored.
    pub fn declare(&self, route: &str, sides: &[&str], platforms: &[&str]) {
        for side in sides {
            for o in crate::lists::Outcome::ALL {
                self.lists.with_label_values(&[route, side, o.as_str()]);
            }
        }
        for family in [&self.removed, &self.monitored] {
            for p in platforms {
                family.with_label_values(&[route, p, crate::code::Code::NotFiled.as_str()]);
            }
        }
    }
}
