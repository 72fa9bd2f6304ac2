//! Per-record metadata: what kind of filing, on which platforms, in which state, and whether
//! it re-lists the previous record's android package.
//!
//! Owns the shares of kinds, layouts, hosts and statuses.
//! Must not: draw from any domain but `D_META` (other draws must not shift with it).
//! Invariant: a record shares a package only with the record before it, of another entity, and
//! never lends a package it borrowed.

use super::draw::{rng, D_META};
use super::entities::entity_of;
use crate::filing::{Platform, ServiceKind, Status};
use rand::Rng;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Layout {
    AndroidIos,
    Android,
    Ios,
    AndroidIosHarmony,
    AndroidHarmony,
    Harmony,
}

impl Layout {
    pub(super) fn android(self) -> bool {
        !matches!(self, Layout::Ios | Layout::Harmony)
    }
    pub(super) fn ios(self) -> bool {
        matches!(
            self,
            Layout::AndroidIos | Layout::Ios | Layout::AndroidIosHarmony
        )
    }
    pub(super) fn harmony(self) -> bool {
        matches!(
            self,
            Layout::AndroidIosHarmony | Layout::AndroidHarmony | Layout::Harmony
        )
    }
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Meta {
    pub(super) kind: ServiceKind,
    pub(super) layout: Layout,
    pub(super) host: Platform,
    pub(super) status: Status,
    /// Wants to re-list the previous record's package (see [`shares_previous`]).
    pub(super) share_coin: bool,
}

impl Meta {
    pub(super) fn android_app(&self) -> bool {
        self.kind == ServiceKind::App && self.layout.android()
    }
}

pub(super) fn meta(seed: u64, j: u64) -> Meta {
    let mut r = rng(seed, D_META, j);
    let kind = match r.gen_range(0..100u32) {
        0..=54 => ServiceKind::App,
        55..=94 => ServiceKind::MiniProgram,
        _ => ServiceKind::QuickApp,
    };
    let layout = match r.gen_range(0..100u32) {
        0..=54 => Layout::AndroidIos,
        55..=79 => Layout::Android,
        80..=89 => Layout::Ios,
        90..=95 => Layout::AndroidIosHarmony,
        96..=98 => Layout::AndroidHarmony,
        _ => Layout::Harmony,
    };
    let host = match r.gen_range(0..100u32) {
        0..=49 => Platform::Wechat,
        50..=64 => Platform::Alipay,
        65..=79 => Platform::Douyin,
        80..=86 => Platform::Baidu,
        87..=93 => Platform::Qq,
        _ => Platform::Kuaishou,
    };
    let status = match r.gen_range(0..1000u32) {
        0..=899 => Status::Active,
        900..=939 => Status::Cancelled,
        940..=969 => Status::Revoked,
        _ => Status::Restricted,
    };
    let share_coin = r.gen_range(0..1000u32) < 55;
    Meta {
        kind,
        layout,
        host,
        status,
        share_coin,
    }
}

/// Record `i` lists record `i - 1`'s android package instead of its own. Pairs only: a record
/// whose coin is up never lends its package, so no package is listed three times.
pub(super) fn shares_previous(seed: u64, i: u64, m: &Meta, entity: u64) -> bool {
    if i == 0 || !m.share_coin || !m.android_app() {
        return false;
    }
    let prev = meta(seed, i - 1);
    !prev.share_coin && prev.android_app() && entity_of(seed, i - 1).0 != entity
}
