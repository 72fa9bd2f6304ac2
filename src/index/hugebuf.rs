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

/// Below this many bytes a buffer stays on the heap. A fresh huge page is expensive to fault
/// in on a VM whose host backs memory lazily (~4.5 ms per 2 MiB measured here, against ~0.7
/// ms on 4 KiB pages), and a small buffer is mostly cache- and TLB-resident anyway: only the
/// big base layers (hundreds of MiB at 10M ids) are worth it. A delta's overlay stays here.
const MIN_MAPPED: usize = 16 << 20;

enum Store<T> {
    Heap(Vec<T>),
    Mapped(MmapMut),
}

pub(crate) struct HugeBuf<T: Pod + Send + Sync> {
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

impl<T: Pod + Send + Sync> HugeBuf<T> {
    /// `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> HugeBuf<T> {
        let mut b = HugeBuf::zeroed(len);
        b.fill(value);
        b
    }

    /// `len` zeroed elements (a fresh mapping is zero already; no page is touched).
    pub(crate) fn zeroed(len: usize) -> HugeBuf<T> {
        HugeBuf::zeroed_mapped_from(len, MIN_MAPPED)
    }

    /// `len` zeroed elements, mapped (on huge pages) from `min_bytes` on instead of the
    /// default threshold: for a buffer smaller than the big layers that every lookup reads.
    pub(crate) fn zeroed_mapped_from(len: usize, min_bytes: usize) -> HugeBuf<T> {
        let bytes = len.saturating_mul(std::mem::size_of::<T>());
        let store = match (bytes >= min_bytes).then(|| mapping(bytes)).flatten() {
            Some(m) => Store::Mapped(m),
            None => Store::Heap(vec![T::zeroed(); len]),
        };
        HugeBuf { store, len }
    }

    /// An empty buffer with room for `cap` elements, which `try_extend` fills without moving
    /// anything. A large room is address space only: a page costs memory once written. When
    /// the kernel refuses the mapping the room is zero and `try_extend` always says no.
    pub(crate) fn with_capacity(cap: usize) -> HugeBuf<T> {
        let bytes = cap.saturating_mul(std::mem::size_of::<T>());
        let store = if bytes < MIN_MAPPED {
            Store::Heap(vec![T::zeroed(); cap])
        } else {
            mapping(bytes).map_or(Store::Heap(Vec::new()), Store::Mapped)
        };
        HugeBuf { store, len: 0 }
    }

    /// How many elements fit without a new buffer.
    pub(crate) fn capacity(&self) -> usize {
        match &self.store {
            Store::Heap(v) => v.len(),
            Store::Mapped(m) => m.len() / std::mem::size_of::<T>().max(1),
        }
    }

    /// Appends `items` when they fit in the room left; `false` (and nothing appended) when not.
    pub(crate) fn try_extend(&mut self, items: &[T]) -> bool {
        let (at, end) = (self.len, self.len + items.len());
        if end > self.capacity() {
            return false;
        }
        self.len = end;
        self[at..end].copy_from_slice(items);
        true
    }

    /// The concatenation of `parts`. A large result is copied on every core: the copy is
    /// what first touches the mapping, so the kernel's page zeroing is spread over the cores
    /// instead of serialising the end of a load.
    pub(crate) fn concat<'a>(parts: impl IntoIterator<Item = &'a [T]>) -> HugeBuf<T> {
        let parts: Vec<&[T]> = parts.into_iter().filter(|p| !p.is_empty()).collect();
        let len = parts.iter().map(|p| p.len()).sum();
        let mut b = HugeBuf::zeroed(len);
        let bytes = len * std::mem::size_of::<T>();
        let threads = if bytes < PARALLEL_COPY {
            1
        } else {
            std::thread::available_parallelism().map_or(1, |n| n.get().min(8))
        };
        let step = len.div_ceil(threads).max(1);
        std::thread::scope(|s| {
            for (k, dst) in b.chunks_mut(step).enumerate() {
                let parts = &parts;
                s.spawn(move || copy_window(dst, k * step, parts));
            }
        });
        b
    }
}

/// Results at least this large are copied by several threads.
const PARALLEL_COPY: usize = 64 << 20;

/// Fills `dst`, which is the window starting at element `start` of the concatenation of
/// `parts`, from the parts that overlap it.
fn copy_window<T: Pod>(dst: &mut [T], start: usize, parts: &[&[T]]) {
    let end = start + dst.len();
    let mut at = 0;
    for p in parts {
        let (lo, hi) = (at.max(start), (at + p.len()).min(end));
        if lo < hi {
            dst[lo - start..hi - start].copy_from_slice(&p[lo - at..hi - at]);
        }
        at += p.len();
        if at >= end {
            break;
        }
    }
}

impl<T: Pod + Send + Sync> Deref for HugeBuf<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        match &self.store {
            Store::Heap(v) => &v[..self.len],
            Store::Mapped(m) => &bytemuck::cast_slice(&m[..])[..self.len],
        }
    }
}

impl<T: Pod + Send + Sync> DerefMut for HugeBuf<T> {
    fn deref_mut(&mut self) -> &mut [T] {
        match &mut self.store {
            Store::Heap(v) => &mut v[..self.len],
            Store::Mapped(m) => &mut bytemuck::cast_slice_mut(&mut m[..])[..self.len],
        }
    }
}

impl<T: Pod + Send + Sync> From<Vec<T>> for HugeBuf<T> {
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

impl<T: Pod + Send + Sync> Default for HugeBuf<T> {
    fn default() -> HugeBuf<T> {
        HugeBuf::from(Vec::new())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_mapped_buffers_hold_what_was_put_in() {
        for len in [0usize, 10, 3 << 20, (MIN_MAPPED >> 3) + 5] {
            let mut b: HugeBuf<u64> = HugeBuf::filled(len, 7);
            assert_eq!(b.len(), len);
            assert!(b.iter().all(|&x| x == 7));
            if len > 0 {
                b[len - 1] = 9;
                assert_eq!(b[len - 1], 9);
            }
        }
        let parts: Vec<Vec<u8>> = vec![vec![1; MIN_MAPPED], vec![2, 3], vec![]];
        let c = HugeBuf::concat(parts.iter().map(|p| &p[..]));
        assert_eq!(c.len(), MIN_MAPPED + 2);
        assert_eq!(&c[MIN_MAPPED - 1..], &[1, 2, 3]);
        let v: HugeBuf<u8> = vec![5u8; MIN_MAPPED + 1].into();
        assert!(v.iter().all(|&x| x == 5));
    }

    #[test]
    fn a_reserved_buffer_takes_what_fits_and_refuses_the_rest() {
        for cap in [6usize, 3 << 20, MIN_MAPPED + 1] {
            let mut b: HugeBuf<u8> = HugeBuf::with_capacity(cap);
            assert_eq!((b.len(), b.capacity()), (0, cap));
            assert!(b.try_extend(&[1, 2, 3]));
            assert!(b.try_extend(&[]));
            assert!(!b.try_extend(&vec![9; cap - 2]), "past the room");
            assert_eq!(&b[..], &[1, 2, 3]);
            assert!(b.try_extend(&vec![4; cap - 3]));
            assert_eq!(b.len(), cap);
            assert_eq!(b[cap - 1], 4);
            assert!(!b.try_extend(&[5]));
        }
    }

    #[test]
    fn a_concatenation_copied_in_windows_is_the_parts_in_order() {
        let parts: Vec<Vec<u32>> = (0..7u32)
            .map(|k| (0..k * 3).map(|i| k * 100 + i).collect())
            .collect();
        let refs: Vec<&[u32]> = parts.iter().map(|p| &p[..]).collect();
        let whole: Vec<u32> = parts.concat();
        for step in [1, 2, 5, 17, whole.len(), whole.len() + 3] {
            let mut out = vec![0u32; whole.len()];
            for (k, w) in out.chunks_mut(step).enumerate() {
                copy_window(w, k * step, &refs);
            }
            assert_eq!(out, whole, "step {step}");
        }
        // Past PARALLEL_COPY the copy runs on several threads: same bytes.
        let big: Vec<Vec<u8>> = (0..5u8)
            .map(|k| vec![k; (PARALLEL_COPY / 4) + k as usize])
            .collect();
        let c = HugeBuf::concat(big.iter().map(|p| &p[..]));
        assert_eq!(&c[..], &big.concat()[..]);
    }
}
