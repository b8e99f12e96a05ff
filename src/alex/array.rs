//! Fixed-size arrays for data node slots, placed on transparent huge pages when they are large.
//!
//! A lookup in a large data node lands on a random slot, so with 4 KiB pages nearly every lookup
//! also misses the TLB, and in a virtual machine a TLB miss walks two page tables. Arrays of at
//! least [`HUGE_PAGE`] bytes are therefore aligned to 2 MiB and marked `MADV_HUGEPAGE`, which lets
//! the kernel back them with huge pages even where transparent huge pages are opt-in (`madvise`
//! mode). Measured effect in `internal/PERFORMANCE.md`.

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};
use std::ops::{Deref, DerefMut};
use std::ptr::NonNull;

/// Size (and alignment) of an x86-64 huge page.
const HUGE_PAGE: usize = 2 << 20;
/// Alignment of small arrays: a cache line.
const LINE: usize = 64;

/// A heap array of `len` `Copy` values with a chosen alignment. Elements need no drop.
pub(crate) struct NodeArray<T: Copy> {
    ptr: NonNull<T>,
    len: usize,
}

// SAFETY: `NodeArray` owns its allocation exclusively, like `Box<[T]>`; sending or sharing it is as
// safe as sending or sharing the `T`s it holds.
unsafe impl<T: Copy + Send> Send for NodeArray<T> {}
// SAFETY: as above; `&NodeArray` only hands out `&[T]`.
unsafe impl<T: Copy + Sync> Sync for NodeArray<T> {}

impl<T: Copy> NodeArray<T> {
    fn layout(len: usize) -> Layout {
        let bytes = len
            .checked_mul(std::mem::size_of::<T>())
            .expect("array size overflows");
        let align = if bytes >= HUGE_PAGE {
            HUGE_PAGE
        } else {
            LINE.max(std::mem::align_of::<T>())
        };
        Layout::from_size_align(bytes.max(1), align).expect("valid layout")
    }

    /// An array of `len` copies of `value`.
    pub(crate) fn filled(len: usize, value: T) -> Self {
        let layout = Self::layout(len);
        // SAFETY: `layout` has a non-zero size (at least 1 byte).
        let raw = unsafe { alloc(layout) } as *mut T;
        let Some(ptr) = NonNull::new(raw) else {
            handle_alloc_error(layout)
        };
        #[cfg(target_os = "linux")]
        if layout.align() == HUGE_PAGE {
            // SAFETY: the range is exactly the allocation just made; MADV_HUGEPAGE is advisory and
            // does not change its contents or validity. A failure only means no huge pages.
            unsafe {
                libc::madvise(raw as *mut libc::c_void, layout.size(), libc::MADV_HUGEPAGE);
            }
        }
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
        // SAFETY: allocated in `filled` with this same layout; `T: Copy` needs no element drops.
        unsafe { dealloc(self.ptr.as_ptr() as *mut u8, Self::layout(self.len)) };
    }
}

/// Hints the CPU to start loading the cache line at `p`.
#[inline(always)]
pub(crate) fn prefetch<T>(p: *const T) {
    #[cfg(target_arch = "x86_64")]
    // SAFETY: a prefetch is only a hint; it never faults, even on an invalid address.
    unsafe {
        std::arch::x86_64::_mm_prefetch(p as *const i8, std::arch::x86_64::_MM_HINT_T0);
    }
    #[cfg(not(target_arch = "x86_64"))]
    let _ = p;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_huge_arrays_hold_their_values() {
        for len in [0usize, 1, 100, (HUGE_PAGE / 8) + 3] {
            let mut a = NodeArray::filled(len, 7u64);
            assert_eq!(a.len(), len);
            assert!(a.iter().all(|&v| v == 7));
            if len > 0 {
                a[len - 1] = 9;
                assert_eq!(a[len - 1], 9);
            }
        }
    }
}
