//! What the engine asks of the machine, shared by every layer: cache-line prefetch hints,
//! the hash that spreads keys over stripes and shards, and the report of which mappings the
//! kernel backs with 2 MiB pages.
//!
//! A leaf: it imports nothing of the crate, so the index (`alex`), the hot tier, the value cache
//! and the engine can all use it without importing one another.

pub(crate) mod hash;
pub(crate) mod huge_pages;

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
