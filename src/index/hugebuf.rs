//! Large read-mostly arrays (the record arena, the id tables) in anonymous memory mappings
//! advised for transparent huge pages.
//!
//! Owns where those bytes live. At 10M ids the arena and tables span ~750 MiB; on 4 KiB pages a
//! random lookup pays a TLB miss (a page walk) on top of each cache miss, on 2 MiB pages it
//! mostly does not. Small buffers stay on the heap: a mapping costs a syscall and a VMA.
//! Must not: use `unsafe` (memmap2 gives the mapping, bytemuck the typed view), or fail where a
//! `Vec` would not: when the kernel refuses a mapping or the advice, the buffer is a `Vec`.
//! Invariant: a `HugeBuf<T>` of `len` elements derefs to exactly `len` initialised `T`s.

use bytemuck::Pod;
use memmap2::MmapMut;
use std::ops::{Deref, DerefMut};

/// Below this many bytes a buffer stays on the heap (one huge page).
const MIN_MAPPED: usize = 2 << 20;

enum Store<T> {
    Heap(Vec<T>),
    Mapped(MmapMut),
}

pub(crate) struct HugeBuf<T: Pod> {
    store: Store<T>,
    len: usize,
}

fn mapping(bytes: usize) -> Option<MmapMut> {
    let map = MmapMut::map_anon(bytes).ok()?;
    #[cfg(target_os = "linux")]
    {
        // Best effort: without THP the mapping still works on 4 KiB pages.
        let _ = map.advise(memmap2::Advice::HugePage);
    }
    Some(map)
}

impl<T: Pod> HugeBuf<T> {
    /// `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> HugeBuf<T> {
        let mut b = HugeBuf::zeroed(len);
        b.fill(value);
        b
    }

    /// `len` zeroed elements (a fresh mapping is zero already; no page is touched).
    pub(crate) fn zeroed(len: usize) -> HugeBuf<T> {
        let bytes = len.saturating_mul(std::mem::size_of::<T>());
        let store = match (bytes >= MIN_MAPPED).then(|| mapping(bytes)).flatten() {
            Some(m) => Store::Mapped(m),
            None => Store::Heap(vec![T::zeroed(); len]),
        };
        HugeBuf { store, len }
    }

    /// The concatenation of `parts`.
    pub(crate) fn concat<'a>(parts: impl IntoIterator<Item = &'a [T]> + Clone) -> HugeBuf<T> {
        let len = parts.clone().into_iter().map(<[T]>::len).sum();
        let mut b = HugeBuf::zeroed(len);
        let mut at = 0;
        for p in parts {
            b[at..at + p.len()].copy_from_slice(p);
            at += p.len();
        }
        b
    }
}

impl<T: Pod> Deref for HugeBuf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.store {
            Store::Heap(v) => &v[..self.len],
            Store::Mapped(m) => &bytemuck::cast_slice(&m[..])[..self.len],
        }
    }
}

impl<T: Pod> DerefMut for HugeBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.store {
            Store::Heap(v) => &mut v[..self.len],
            Store::Mapped(m) => &mut bytemuck::cast_slice_mut(&mut m[..])[..self.len],
        }
    }
}

impl<T: Pod> From<Vec<T>> for HugeBuf<T> {
    fn from(v: Vec<T>) -> HugeBuf<T> {
        if std::mem::size_of_val(&v[..]) < MIN_MAPPED {
            let len = v.len();
            return HugeBuf {
                store: Store::Heap(v),
                len,
            };
        }
        HugeBuf::concat([&v[..]])
    }
}

impl<T: Pod> Default for HugeBuf<T> {
    fn default() -> HugeBuf<T> {
        HugeBuf::from(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_mapped_buffers_hold_what_was_put_in() {
        for len in [0usize, 10, 3 << 20] {
            let mut b: HugeBuf<u64> = HugeBuf::filled(len, 7);
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&x| x == 7));
            if len > 0 {
                b[len - 1] = 9;
                assert_eq!(b[len - 1], 9);
            }
        }
        let parts: Vec<Vec<u8>> = vec![vec![1; 3 << 20], vec![2, 3], vec![]];
        let c = HugeBuf::concat(parts.iter().map(|p| &p[..]));
        assert_eq!(c.len(), (3 << 20) + 2);
        assert_eq!(&c[(3 << 20) - 1..], &[1, 2, 3]);
        let v: HugeBuf<u8> = vec![5u8; 4 << 20].into();
        assert!(v.iter().all(|&x| x == 5));
    }
}
