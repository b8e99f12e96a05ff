//! Where buckets live: 2 MiB chunks on transparent huge pages, cut into blocks of a few sizes.
//!
//! A trie of byte keys holds one bucket per slot whose keys go on past the slice (every
//! `ycsb` key at 10M: ten million allocations of about 32 bytes, some 320 MB). From `malloc`
//! they sat on 4 KiB pages, so nearly every bucket a lookup or a scan reads missed the TLB, and
//! in a virtual machine a TLB miss walks two page tables: a scan's prefetch of the bucket 8
//! slots ahead could not even be issued before its walk ended (a `perf` profile of 100-key
//! scans of 10M YCSB names put 60% of the scan on the bucket reads, most of it on the prefetch
//! instruction itself). The pool maps 2 MiB chunks marked `MADV_HUGEPAGE` (as large node arrays
//! are, `alex/array.rs`) and serves every bucket of at most [`MAX_POOLED`] bytes from them, in
//! size classes of 8 bytes; a freed block goes on its class's free list and is reused by the
//! next bucket of that class. Larger buckets (rare: at most 16 long entries of 1 KB in all) come
//! from the global allocator.
//!
//! The pool is one per process, shared by every trie, behind a mutex: buckets are made and
//! freed by a database's single writer and by the planner of its rebuilds, never by readers,
//! and a lock without contention costs about what `malloc` does. Chunks are not returned to
//! the kernel: a freed block waits for the next bucket of its size (in this process, of any
//! trie). A trie's statistics count each bucket at its block's size (`TrieStats::bucket_bytes`).

use std::alloc::{alloc, dealloc, handle_alloc_error, Layout};

use parking_lot::Mutex;

/// Block sizes are multiples of this (the buckets' alignment).
const GRAIN: usize = 8;
/// Buckets of at most this many bytes come from the pool.
pub(super) const MAX_POOLED: usize = 512;
const CLASSES: usize = MAX_POOLED / GRAIN;
/// Bytes of one chunk: a huge page.
const CHUNK: usize = crate::alex::array::HUGE_PAGE;

struct Pool {
    /// The first free block of each class (0: none); a free block's first word holds the next.
    free: [usize; CLASSES],
    /// The unused rest of the newest chunk: `[bump, end)`.
    bump: usize,
    end: usize,
    /// Chunks mapped so far.
    chunks: usize,
    /// Bytes of the blocks handed out and not freed.
    live: usize,
}

impl Pool {
    const fn new() -> Pool {
        Pool {
            free: [0; CLASSES],
            bump: 0,
            end: 0,
            chunks: 0,
            live: 0,
        }
    }

    /// A block for `size` (1..=MAX_POOLED) bytes.
    fn take(&mut self, size: usize) -> *mut u8 {
        let c = class(size);
        let bytes = (c + 1) * GRAIN;
        self.live += bytes;
        let head = self.free[c];
        if head != 0 {
            // SAFETY: `head` is a free block of this class, at least 8 bytes and 8-aligned,
            // whose first word `give` wrote: the next free block.
            self.free[c] = unsafe { *(head as *const usize) };
            return head as *mut u8;
        }
        if self.end - self.bump < bytes {
            // The old chunk's rest (less than one block of this class) stays unused.
            let chunk = crate::alex::array::map_chunk(CHUNK);
            if chunk.is_null() {
                handle_alloc_error(Layout::from_size_align(CHUNK, CHUNK).expect("chunk layout"));
            }
            self.bump = chunk as usize;
            self.end = chunk as usize + CHUNK;
            self.chunks += 1;
        }
        let at = self.bump;
        self.bump += bytes;
        at as *mut u8
    }

    /// Puts a block from [`Pool::take`]`(size)` on its class's free list.
    ///
    /// # Safety
    /// `ptr` came from this pool's `take(size)` and is not used afterwards.
    unsafe fn give(&mut self, ptr: *mut u8, size: usize) {
        let c = class(size);
        self.live -= (c + 1) * GRAIN;
        // SAFETY: the block is the pool's again (the caller's contract), 8-aligned and at
        // least 8 bytes.
        unsafe { *(ptr as *mut usize) = self.free[c] };
        self.free[c] = ptr as usize;
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool::new());

/// Whether a bucket of `size` bytes comes from the pool.
#[inline(always)]
pub(super) fn pooled(size: usize) -> bool {
    cfg!(target_os = "linux") && size <= MAX_POOLED
}

/// The class of a block of `size` (1..=MAX_POOLED) bytes.
#[inline(always)]
fn class(size: usize) -> usize {
    (size - 1) / GRAIN
}

/// Bytes a bucket of `size` bytes takes: its block's size, or `size` outside the pool.
pub(super) fn footprint(size: usize) -> usize {
    if pooled(size) {
        (class(size) + 1) * GRAIN
    } else {
        size
    }
}

fn system_layout(size: usize) -> Layout {
    Layout::from_size_align(size, GRAIN).expect("bucket layout")
}

/// Memory for a bucket of `size` (at least 1) bytes, aligned to 8; never null (an allocation
/// failure aborts, as the global allocator's does).
pub(super) fn allocate(size: usize) -> *mut u8 {
    debug_assert!(size > 0);
    if pooled(size) {
        return POOL.lock().take(size);
    }
    let layout = system_layout(size);
    // SAFETY: `size` is not zero.
    let ptr = unsafe { alloc(layout) };
    if ptr.is_null() {
        handle_alloc_error(layout);
    }
    ptr
}

/// Gives back the memory of a bucket of `size` bytes.
///
/// # Safety
/// `ptr` came from [`allocate`]`(size)` and is not used afterwards.
pub(super) unsafe fn release(ptr: *mut u8, size: usize) {
    if pooled(size) {
        // SAFETY: the caller's contract; a pooled size came from the pool.
        unsafe { POOL.lock().give(ptr, size) };
    } else {
        // SAFETY: the caller's contract: `allocate(size)` took it from the global allocator
        // with this layout.
        unsafe { dealloc(ptr, system_layout(size)) };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_do_not_overlap_and_freed_blocks_are_reused_by_their_class() {
        let mut pool = Pool::new();
        let sizes = [1usize, 7, 8, 9, 29, 32, 100, 505, 512];
        let mut held: Vec<(*mut u8, usize, u8)> = Vec::new();
        for round in 0..3000u32 {
            for &s in &sizes {
                let p = pool.take(s);
                assert_eq!(p as usize % GRAIN, 0, "{s} bytes aligned");
                let fill = (round as u8) ^ (s as u8);
                // SAFETY: `p` holds `s` bytes.
                unsafe { std::ptr::write_bytes(p, fill, s) };
                held.push((p, s, fill));
            }
        }
        assert!(pool.chunks >= 2, "the blocks span chunks");
        let live: usize = held.iter().map(|&(_, s, _)| footprint(s)).sum();
        assert_eq!(pool.live, live);
        // Every block still holds its own bytes: no two overlap.
        for &(p, s, fill) in &held {
            // SAFETY: `p` holds `s` initialised bytes.
            let bytes = unsafe { std::slice::from_raw_parts(p, s) };
            assert!(bytes.iter().all(|&b| b == fill), "a block of {s} bytes");
        }
        // Freed blocks come back to the next bucket of their class, newest first; no chunk
        // is mapped for them.
        let chunks = pool.chunks;
        let freed = held;
        for &(p, s, _) in &freed {
            // SAFETY: from `pool.take(s)`, not used again.
            unsafe { pool.give(p, s) };
        }
        assert_eq!(pool.live, 0);
        // 505 and 512 bytes share a class: the last block freed of either comes back.
        let last = freed.iter().rev().find(|&&(_, s, _)| s >= 505).unwrap();
        assert_eq!(last.1, 512);
        assert_eq!(pool.take(505), last.0);
        for _ in 0..freed.len() {
            pool.take(29);
        }
        assert!(
            pool.chunks > chunks,
            "29-byte blocks are another class: new memory"
        );
    }

    #[test]
    fn footprints_round_up_to_the_grain_inside_the_pool_only() {
        if cfg!(target_os = "linux") {
            assert_eq!(footprint(1), 8);
            assert_eq!(footprint(29), 32);
            assert_eq!(footprint(512), 512);
        }
        assert_eq!(footprint(513), 513);
        let p = allocate(4000);
        // SAFETY: from `allocate(4000)`.
        unsafe { release(p, 4000) };
    }
}
