//! Fixed-size arrays for data node slots, placed on transparent huge pages when they are large.
//!
//! A lookup in a large data node lands on a random slot, so with 4 KiB pages nearly every lookup
//! also misses the TLB, and in a virtual machine a TLB miss walks two page tables. Arrays of at
//! least [`HUGE_PAGE`] bytes are therefore aligned to 2 MiB and marked `MADV_HUGEPAGE`, which lets
//! the kernel back them with huge pages even where transparent huge pages are opt-in (`madvise`
//! mode). Measured effect: `internal/DESIGN.md`, "Decisions that still hold",
//! "Index and memory".
//!
//! Arrays of at least [`MAP_MIN`] bytes are mapped from the kernel directly (on Linux) and
//! unmapped when dropped, not taken from `malloc`. glibc serves such sizes with `mmap` too, but
//! every time one is freed it raises its threshold for using `mmap` to that size (up to 32 MiB):
//! after the first grows, node arrays came from the heap, where the freed arrays of earlier
//! grows stayed resident. At 10M keys with a quarter-size memory budget that was ~57 MiB of peak
//! RSS (DESIGN.md, "Decisions that still hold", "Index and memory").

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Size (and alignment) of an x86-64 huge page.
pub(crate) const HUGE_PAGE: usize = 2 << 20;
/// Alignment of small arrays: a cache line.
const LINE: usize = 64;
/// Arrays of at least this many bytes are mapped directly (module docs); glibc's initial `mmap`
/// threshold.
const MAP_MIN: usize = super::array_pool::MAX_POOLED;

/// An array of `len` `Copy` values with a chosen alignment, from the heap or (large ones) mapped
/// from the kernel. Elements need no drop.
pub(crate) struct NodeArray<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: `NodeArray` owns its allocation exclusively, like `Box<[T]>`; sending or sharing it is as
// safe as sending or sharing the `T`s it holds.
unsafe impl<T: Copy + Send> Send for NodeArray<T> {}
// SAFETY: as above; `&NodeArray` only hands out `&[T]`.
unsafe impl<T: Copy + Sync> Sync for NodeArray<T> {}

/// Whether an array of `bytes` is mapped directly.
#[inline]
fn mapped(bytes: usize) -> bool {
    cfg!(target_os = "linux") && bytes >= MAP_MIN
}

/// Whether an array of `bytes` comes from the pool of small arrays on huge pages
/// (`array_pool.rs`): on Linux, every array not mapped on its own.
#[inline]
fn pooled(bytes: usize) -> bool {
    cfg!(target_os = "linux") && bytes < MAP_MIN
}

/// The kernel's page size, to which direct mappings are aligned and rounded.
fn page_size() -> usize {
    #[cfg(target_os = "linux")]
    {
        static PAGE: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
        // SAFETY: `sysconf` only reads a system constant.
        *PAGE.get_or_init(|| match unsafe { libc::sysconf(libc::_SC_PAGESIZE) } {
            n if n > 0 && (n as usize).is_power_of_two() => n as usize,
            _ => 4096,
        })
    }
    #[cfg(not(target_os = "linux"))]
    {
        4096
    }
}

impl<T: Copy> NodeArray<T> {
    fn layout(len: usize) -> Layout {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .expect("array size overflows");
        let align = if bytes >= HUGE_PAGE {
            HUGE_PAGE
        } else if mapped(bytes) {
            page_size()
        } else {
            LINE.max(std::mem::align_of::<T>())
        };
        Layout::from_size_align(bytes.max(1), align).expect("valid layout")
    }

    /// An array of `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> Self {
        let layout = Self::layout(len);
        let raw = if mapped(layout.size()) {
            map(layout)
        } else if pooled(layout.size()) {
            super::array_pool::allocate(layout.size(), map_chunk)
        } else {
            // SAFETY: `layout` has a non-zero size (at least 1 byte).
            unsafe { alloc(layout) }
        } as *mut T;
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        for i in 0..len {
            // SAFETY: `i < len` and the allocation holds `len` elements of `T`.
            unsafe { ptr.as_ptr().add(i).write(value) };
        }
        NodeArray { ptr, len }
    }

    /// `(start address, bytes)` of the allocation (for the huge-page report).
    pub(crate) fn byte_range(&self) -> (usize, usize) {
        (self.ptr.as_ptr() as usize, Self::layout(self.len).size())
    }

    /// Bytes of memory this array takes outside the global allocator: mapped from the kernel
    /// on its own, or its block in the pool of small arrays (0 when it came from the heap).
    pub(crate) fn mapped_bytes(&self) -> usize {
        let size = Self::layout(self.len).size();
        if mapped(size) {
            round_up(size, page_size())
        } else if pooled(size) {
            super::array_pool::class(size).1
        } else {
            0
        }
    }

    /// Bytes this array takes: its elements, rounded up to its pool block or its pages.
    pub(crate) fn footprint(&self) -> usize {
        match self.mapped_bytes() {
            0 => Self::layout(self.len).size(),
            n => n,
        }
    }

    /// A raw pointer to element `i` (for prefetching; not dereferenced here).
    #[inline(always)]
    pub(crate) fn ptr_at(&self, i: usize) -> *const T {
        self.ptr.as_ptr().wrapping_add(i)
    }
}

impl<T: Copy> Deref for NodeArray<T> {
    type Target = [T];
    #[inline(always)]
    fn deref(&self) -> &[T] {
        // SAFETY: `ptr` points to `len` initialised elements owned by `self` (written in `filled`).
        unsafe { std::slice::from_raw_parts(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> DerefMut for NodeArray<T> {
    #[inline(always)]
    fn deref_mut(&mut self) -> &mut [T] {
        // SAFETY: as in `deref`, and `&mut self` makes the access exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.ptr.as_ptr(), self.len) }
    }
}

impl<T: Copy> Drop for NodeArray<T> {
    fn drop(&mut self) {
        let layout = Self::layout(self.len);
        let raw = self.ptr.as_ptr() as *mut u8;
        if mapped(layout.size()) {
            // SAFETY: mapped by `map` with this same layout and never unmapped since.
            unsafe { unmap(raw, layout) };
        } else if pooled(layout.size()) {
            // SAFETY: taken from the pool in `filled` for this same size, not used again.
            unsafe { super::array_pool::release(raw, layout.size()) };
        } else {
            // SAFETY: allocated in `filled` with this same layout; `T: Copy` needs no element drops.
            unsafe { dealloc(raw, layout) };
        }
    }
}

/// Rounds `n` up to a multiple of `to` (a power of two).
#[cfg(target_os = "linux")]
fn round_up(n: usize, to: usize) -> usize {
    (n + to - 1) & !(to - 1)
}

/// Maps `layout.size()` bytes (rounded up to whole pages) aligned to `layout.align()`, which
/// is at most [`HUGE_PAGE`]; null when the kernel refuses. Huge-page-aligned mappings are marked
/// `MADV_HUGEPAGE`.
#[cfg(target_os = "linux")]
fn map(layout: Layout) -> *mut u8 {
    let page = page_size();
    let len = round_up(layout.size(), page);
    let slack = layout.align().saturating_sub(page);
    // SAFETY: an anonymous private mapping at an address the kernel chooses touches no existing
    // memory; the result is checked below.
    let raw = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len + slack,
            libc::PROT_READ | libc::PROT_WRITE,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if raw == libc::MAP_FAILED {
        return std::ptr::null_mut();
    }
    let start = raw as usize;
    let aligned = round_up(start, layout.align());
    let (head, tail) = (aligned - start, slack - (aligned - start));
    // SAFETY: the head and tail trimmed here lie inside the mapping just made and outside the
    // `len` bytes kept; `madvise` is advisory and changes no contents.
    unsafe {
        if head > 0 {
            libc::munmap(raw, head);
        }
        if tail > 0 {
            libc::munmap((aligned + len) as *mut libc::c_void, tail);
        }
        if layout.align() == HUGE_PAGE {
            libc::madvise(aligned as *mut libc::c_void, len, libc::MADV_HUGEPAGE);
        }
    }
    aligned as *mut u8
}

#[cfg(not(target_os = "linux"))]
fn map(_: Layout) -> *mut u8 {
    unreachable!("only Linux maps node arrays directly")
}

/// Maps `bytes` (a multiple of [`HUGE_PAGE`]) aligned to a huge page and marked
/// `MADV_HUGEPAGE`, for a caller that keeps it for the life of the process (the trie's bucket
/// pool, `trie/pool.rs`); null when the kernel refuses.
#[cfg(target_os = "linux")]
pub(crate) fn map_chunk(bytes: usize) -> *mut u8 {
    debug_assert!(bytes % HUGE_PAGE == 0);
    map(Layout::from_size_align(bytes, HUGE_PAGE).expect("chunk layout"))
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn map_chunk(_: usize) -> *mut u8 {
    unreachable!("only Linux pools buckets")
}

/// Unmaps what [`map`] mapped for `layout`.
///
/// # Safety
/// `raw` must come from `map(layout)` and not have been unmapped.
#[cfg(target_os = "linux")]
unsafe fn unmap(raw: *mut u8, layout: Layout) {
    // SAFETY: the caller's contract: exactly the `len` bytes `map` kept.
    unsafe {
        libc::munmap(
            raw as *mut libc::c_void,
            round_up(layout.size(), page_size()),
        )
    };
}

#[cfg(not(target_os = "linux"))]
unsafe fn unmap(_: *mut u8, _: Layout) {
    unreachable!("only Linux maps node arrays directly")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_huge_arrays_hold_their_values() {
        for len in [
            0usize,
            1,
            100,
            MAP_MIN / 8 - 1,
            MAP_MIN / 8,
            MAP_MIN / 8 + 1,
            (HUGE_PAGE / 8) - 1,
            (HUGE_PAGE / 8) + 3,
            3 * HUGE_PAGE / 8 + 777,
        ] {
            let mut a = NodeArray::filled(len, 7u64);
            assert_eq!(a.len(), len);
            let (start, bytes) = a.byte_range();
            let align = if bytes >= HUGE_PAGE {
                HUGE_PAGE
            } else if mapped(bytes) {
                page_size()
            } else {
                LINE
            };
            assert_eq!(start % align, 0, "{len} elements aligned to {align}");
            assert!(a.iter().all(|&v| v == 7));
            if len > 0 {
                a[len - 1] = 9;
                assert_eq!(a[len - 1], 9);
            }
        }
    }
}
