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
//!
//! When the last block is given back (every trie of the process dropped, as when a database is
//! closed and opened again), the free lists are forgotten and the chunks are cut again from
//! their start, in the order they were mapped. A free list is a chain through the blocks
//! themselves, in the order they were freed: after a whole trie is dropped, taking from it reads
//! one scattered block per bucket, each read waiting for the one before (a bulk load of 10M
//! YCSB names spent 1.55 s making its buckets that way, against 0.63 s in a fresh process).

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
    /// The unused rest of the chunk being cut: `[bump, end)`.
    bump: usize,
    end: usize,
    /// Every chunk mapped so far, in the order they were mapped.
    mapped: Vec<usize>,
    /// Chunks of `mapped` cut so far since the pool was last empty: the next one cut is
    /// `mapped[cut]`, or a new one.
    cut: usize,
    /// Bytes of the blocks handed out and not freed.
    live: usize,
}

impl Pool {
    const fn new() -> Pool {
        Pool {
            free: [0; CLASSES],
            bump: 0,
            end: 0,
            mapped: Vec::new(),
            cut: 0,
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
            let chunk = match self.mapped.get(self.cut) {
                Some(&chunk) => chunk,
                None => {
                    let chunk = crate::alex::array::map_chunk(CHUNK);
                    if chunk.is_null() {
                        handle_alloc_error(
                            Layout::from_size_align(CHUNK, CHUNK).expect("chunk layout"),
                        );
                    }
                    self.mapped.push(chunk as usize);
                    chunk as usize
                }
            };
            self.cut += 1;
            self.bump = chunk;
            self.end = chunk + CHUNK;
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
        if self.live == 0 {
            // No block is in use: cut the chunks again from the first (module docs).
            self.free = [0; CLASSES];
            self.cut = 0;
            self.bump = 0;
            self.end = 0;
        }
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
        assert!(pool.mapped.len() >= 2, "the blocks span chunks");
        let live: usize = held.iter().map(|&(_, s, _)| footprint(s)).sum();
        assert_eq!(pool.live, live);
        // Every block still holds its own bytes: no two overlap.
        for &(p, s, fill) in &held {
            // SAFETY: `p` holds `s` initialised bytes.
            let bytes = unsafe { std::slice::from_raw_parts(p, s) };
            assert!(bytes.iter().all(|&b| b == fill), "a block of {s} bytes");
        }
        // Freed blocks come back to the next bucket of their class, newest first; no chunk
        // is mapped for them. (One block stays held, so the pool is never empty here.)
        let chunks = pool.mapped.len();
        let (kept, freed) = held.split_first().unwrap();
        for &(p, s, _) in freed {
            // SAFETY: from `pool.take(s)`, not used again.
            unsafe { pool.give(p, s) };
        }
        assert_eq!(pool.live, footprint(kept.1));
        // 505 and 512 bytes share a class: the last block freed of either comes back.
        let last = freed.iter().rev().find(|&&(_, s, _)| s >= 505).unwrap();
        assert_eq!(last.1, 512);
        assert_eq!(pool.take(505), last.0);
        for _ in 0..freed.len() {
            pool.take(29);
        }
        assert!(
            pool.mapped.len() > chunks,
            "29-byte blocks are another class: new memory"
        );
    }

    /// Once every block is back, the pool cuts its chunks again from the first, in order,
    /// whatever order the blocks were freed in, and maps no chunk until those are used up.
    #[test]
    fn an_empty_pool_cuts_its_chunks_again_in_order() {
        let mut pool = Pool::new();
        let n = 150_000; // 32-byte blocks: three chunks
        let first: Vec<*mut u8> = (0..n).map(|_| pool.take(32)).collect();
        let chunks = pool.mapped.len();
        assert!(chunks >= 3);
        // Freed scattered (a stride coprime with `n`): a free list in no useful order.
        for i in 0..n {
            let p = first[(i * 7919) % n];
            // SAFETY: from `pool.take(32)`, freed once (the stride visits every block once).
            unsafe { pool.give(p, 32) };
        }
        assert_eq!(pool.live, 0);
        let again: Vec<*mut u8> = (0..n).map(|_| pool.take(29)).collect();
        assert!(again == first, "cut again from the first chunk, in order");
        assert_eq!(pool.mapped.len(), chunks, "no chunk mapped for them");
        pool.take(32);
        let held = n + 1;
        assert_eq!(pool.live, held * 32);
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
