//! Where small node arrays live: 2 MiB chunks on transparent huge pages, cut into blocks of
//! size classes.
//!
//! A trie of long keys has tens of thousands of layers, each with a few small data nodes (10M
//! URLs: 56K layers, arrays of about 5 KB). From `malloc` those arrays sat on 4 KiB pages, so
//! every layer a lookup crossed cost TLB walks as well as cache misses; with every `malloc`
//! block on huge pages (an experiment) the URL index lookup went from 1.58 to 1.24 µs
//! (PERFORMANCE.md, "Reopen of 10M YCSB names within 3 s", the URL paragraph). Arrays of at
//! least `array::MAP_MIN` bytes are mapped on their own and are not served here.
//!
//! Classes: multiples of 64 bytes up to 256, then four per doubling (320, 384, 448, 512, 640,
//! ...), so a block of more than 256 bytes wastes at most a fifth of its size. A freed block
//! goes on its class's free list; when the last block comes back, the free lists are forgotten
//! and the chunks are cut again from the first (as the trie's bucket pool does, `trie/pool.rs`). Chunks are not
//! returned to the kernel. One pool per process, behind a mutex: arrays are made and freed by a
//! database's single writer and its grow planner, never by readers.

use parking_lot::Mutex;

/// Bytes of one chunk: a huge page (`array::HUGE_PAGE`).
const CHUNK: usize = 2 << 20;
/// The largest block: `array::MAP_MIN`, from which arrays are mapped on their own.
pub(super) const MAX_POOLED: usize = 128 << 10;

/// Maps a chunk of the given bytes on huge pages (`array::map_chunk`), or returns null. The
/// caller passes it: this module sits below `array`, which uses it.
pub(super) type MapChunk = fn(usize) -> *mut u8;
/// Number of classes up to [`MAX_POOLED`] (4 up to 256 bytes, then 4 per doubling up to
/// 128 KiB).
const CLASSES: usize = 4 + 4 * (MAX_POOLED.trailing_zeros() as usize - 8);

/// The class of a block for `bytes` (1..=MAX_POOLED) and the block's size (a multiple of 64).
#[inline]
pub(super) fn class(bytes: usize) -> (usize, usize) {
    debug_assert!((1..=MAX_POOLED).contains(&bytes));
    let n = bytes - 1;
    if n < 256 {
        return (n / 64, (n / 64 + 1) * 64);
    }
    let e = usize::BITS as usize - 1 - n.leading_zeros() as usize; // 8..
    let k = n >> (e - 2); // 4..=7
    (4 + (e - 8) * 4 + (k - 4), (k + 1) << (e - 2))
}

struct Pool {
    /// The first free block of each class (0: none); a free block's first word holds the next.
    free: [usize; CLASSES],
    /// The unused rest of the chunk being cut: `[bump, end)`.
    bump: usize,
    end: usize,
    /// Every chunk mapped so far, in the order they were mapped.
    mapped: Vec<usize>,
    /// Chunks of `mapped` cut since the pool was last empty.
    cut: usize,
    /// Bytes of the blocks handed out and not given back.
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

    /// A block for `bytes` (1..=MAX_POOLED), 64-aligned; null when the kernel refuses a chunk.
    fn take(&mut self, bytes: usize, map_chunk: MapChunk) -> *mut u8 {
        let (c, size) = class(bytes);
        let head = self.free[c];
        if head != 0 {
            // SAFETY: `head` is a free block of this class whose first word `give` wrote.
            self.free[c] = unsafe { *(head as *const usize) };
            self.live += size;
            return head as *mut u8;
        }
        if self.end - self.bump < size {
            // The old chunk's rest (smaller than this block) stays unused until the pool empties.
            let chunk = match self.mapped.get(self.cut) {
                Some(&chunk) => chunk,
                None => {
                    let chunk = map_chunk(CHUNK);
                    if chunk.is_null() {
                        return std::ptr::null_mut();
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
        self.bump += size;
        self.live += size;
        at as *mut u8
    }

    /// Puts a block from [`Pool::take`]`(bytes)` on its class's free list.
    ///
    /// # Safety
    /// `ptr` came from this pool's `take(bytes)` and is not used afterwards.
    unsafe fn give(&mut self, ptr: *mut u8, bytes: usize) {
        let (c, size) = class(bytes);
        self.live -= size;
        // SAFETY: the block is the pool's again (the caller's contract), 64-aligned, at least
        // 64 bytes.
        unsafe { *(ptr as *mut usize) = self.free[c] };
        self.free[c] = ptr as usize;
        if self.live == 0 {
            self.free = [0; CLASSES];
            self.cut = 0;
            self.bump = 0;
            self.end = 0;
        }
    }
}

static POOL: Mutex<Pool> = Mutex::new(Pool::new());

/// A 64-aligned block for `bytes` (1..=MAX_POOLED) bytes, from chunks `map_chunk` maps; null
/// when the kernel refuses memory.
pub(super) fn allocate(bytes: usize, map_chunk: MapChunk) -> *mut u8 {
    POOL.lock().take(bytes, map_chunk)
}

/// Gives back a block of [`allocate`]`(bytes)`.
///
/// # Safety
/// `ptr` came from `allocate(bytes)` and is not used afterwards.
pub(super) unsafe fn release(ptr: *mut u8, bytes: usize) {
    // SAFETY: the caller's contract.
    unsafe { POOL.lock().give(ptr, bytes) };
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Chunks for the test pools: 2 MiB-aligned heap blocks, leaked (the pools keep them).
    fn map(bytes: usize) -> *mut u8 {
        let layout = std::alloc::Layout::from_size_align(bytes, CHUNK).unwrap();
        // SAFETY: a non-zero size.
        unsafe { std::alloc::alloc(layout) }
    }

    #[test]
    fn classes_cover_every_size_and_waste_at_most_a_fifth_above_256_bytes() {
        let mut last = (0, 0);
        for bytes in 1..=MAX_POOLED {
            let (c, size) = class(bytes);
            assert!(c < CLASSES, "{bytes}");
            assert!(size >= bytes && size % 64 == 0, "{bytes} -> {size}");
            assert!(
                bytes <= 256 || (size - bytes) * 5 <= size,
                "{bytes} -> {size}"
            );
            assert!(c == last.0 && size == last.1 || c == last.0 + 1 || bytes == 1);
            last = (c, size);
        }
        assert_eq!(class(MAX_POOLED), (CLASSES - 1, MAX_POOLED));
    }

    #[test]
    fn blocks_do_not_overlap_and_an_empty_pool_starts_over() {
        let mut pool = Pool::new();
        let sizes = [1usize, 64, 65, 300, 4000, 5000, 70_000, MAX_POOLED];
        let mut held: Vec<(*mut u8, usize, u8)> = Vec::new();
        for round in 0..60u32 {
            for &s in &sizes {
                let p = pool.take(s, map);
                assert!(!p.is_null() && p as usize % 64 == 0);
                let fill = (round as u8) ^ (s as u8);
                // SAFETY: `p` holds `s` bytes.
                unsafe { std::ptr::write_bytes(p, fill, s) };
                held.push((p, s, fill));
            }
        }
        assert!(pool.mapped.len() >= 2);
        for &(p, s, fill) in &held {
            // SAFETY: `p` holds `s` initialised bytes.
            let bytes = unsafe { std::slice::from_raw_parts(p, s) };
            assert!(bytes.iter().all(|&b| b == fill), "a block of {s} bytes");
        }
        // With one block kept, a freed block comes back to its class, newest first.
        let (kept, freed) = held.split_first().unwrap();
        for &(p, s, _) in freed {
            // SAFETY: from `pool.take(s)`, not used again.
            unsafe { pool.give(p, s) };
        }
        let last = freed.iter().rev().find(|&&(_, s, _)| s == 5000).unwrap();
        assert_eq!(
            pool.take(4900, map),
            last.0,
            "4900 and 5000 bytes share a class"
        );
        // Empty: cut again from the first chunk, no chunk mapped.
        let chunks = pool.mapped.len();
        // SAFETY: both from `pool.take`, not used again.
        unsafe {
            pool.give(kept.0, kept.1);
            pool.give(last.0, 4900);
        }
        assert_eq!(pool.live, 0);
        assert_eq!(pool.take(100, map) as usize, pool.mapped[0]);
        assert_eq!(pool.mapped.len(), chunks);
    }
}
