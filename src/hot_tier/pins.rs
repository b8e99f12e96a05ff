//! Pins: a reader's claim that the appender must not rewrite one segment while the reader looks
//! at a record there in place ([`super::HotTier::read_pinned`]: `Db::get_with` hands the
//! caller's closure the value where it lies in the mapping, with no copy).
//!
//! Each of the first [`SLOTS`] threads that pin owns one cache-line-padded slot, which holds
//! the address of the segment it is reading (0: none). A pin is one full-barrier store to the
//! thread's own slot and a plain store to clear it: no line written by two threads. Threads
//! beyond [`SLOTS`], and a read nested inside another pinned read's closure, get no pin and
//! copy the value instead (the copy path every read took before).
//!
//! The protocol with the appender (`HotTier::append`), who must not write into a segment a
//! reader has pinned:
//!
//! * reader: store the segment's address in its slot (SeqCst), then load the segment's
//!   generation and the tier's recycle count (SeqCst) and check them against its location and
//!   mark; only then look at the record;
//! * appender, recycling a segment: bump the recycle count and the generation (SeqCst), then
//!   [`is_pinned`] (a SeqCst fence, then every slot). Pinned: it writes nothing into the
//!   segment and declines the append (the value stays in RocksDB only: the tier is a cache),
//!   and asks again at its next append.
//!
//! In the single total order of SeqCst operations either the appender's load of the slot comes
//! after the reader's store (it sees the pin and keeps out), or the reader's loads come after
//! the appender's bumps (it sees the new generation or count and refuses the location). So a
//! record a reader accepted is not overwritten until its pin is dropped, and the appender never
//! waits for a reader, whatever the reader's closure does (even writing to the same database).

use crossbeam::utils::CachePadded;
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{fence, AtomicU64, AtomicUsize, Ordering};

/// Threads that can hold a pin at once; later ones copy.
pub(super) const SLOTS: usize = 64;

/// Per slot: the address of the segment its owner is reading in place, or 0.
static PINNED: [CachePadded<AtomicUsize>; SLOTS] =
    [const { CachePadded::new(AtomicUsize::new(0)) }; SLOTS];

/// Bit `i` set while some thread owns slot `i`.
static OWNED: AtomicU64 = AtomicU64::new(0);

/// A thread's slot (none when all were taken), and whether a pin of it is alive.
struct Claim {
    slot: Option<usize>,
    pinned: Cell<bool>,
}

impl Claim {
    fn new() -> Claim {
        let mut taken = OWNED.load(Ordering::Relaxed);
        let slot = loop {
            let free = !taken;
            if free == 0 {
                break None;
            }
            let bit = free.trailing_zeros() as usize;
            match OWNED.compare_exchange_weak(
                taken,
                taken | 1 << bit,
                Ordering::Acquire,
                Ordering::Relaxed,
            ) {
                Ok(_) => break Some(bit),
                Err(now) => taken = now,
            }
        };
        Claim {
            slot,
            pinned: Cell::new(false),
        }
    }
}

impl Drop for Claim {
    fn drop(&mut self) {
        // A pin still alive (dropped after this thread's locals, which cannot happen through
        // `HotTier`'s use) keeps its slot for good rather than hand a pinned slot on.
        if let (Some(slot), false) = (self.slot, self.pinned.get()) {
            OWNED.fetch_and(!(1 << slot), Ordering::Release);
        }
    }
}

thread_local! {
    static CLAIM: Claim = Claim::new();
}

/// A live pin of one segment by this thread; dropping it lets the appender in again.
pub(super) struct Pin {
    slot: usize,
    addr: usize,
    /// Dropped on the thread that made it (its slot and flag are that thread's).
    _not_send: PhantomData<*const ()>,
}

impl Pin {
    /// The address pinned.
    pub(super) fn addr(&self) -> usize {
        self.addr
    }
}

/// Pins the segment mapped at `addr` (non-zero) for this thread, or `None` when the thread has
/// no slot or already holds a pin (a read nested in another's closure): the caller copies.
pub(super) fn pin(addr: usize) -> Option<Pin> {
    debug_assert_ne!(addr, 0);
    CLAIM
        .try_with(|c| {
            let slot = c.slot?;
            if c.pinned.replace(true) {
                return None; // nested: the outer pin stays as it is
            }
            // A full barrier (xchg on x86-64): the segment checks that follow load after it.
            PINNED[slot].swap(addr, Ordering::SeqCst);
            Some(Pin {
                slot,
                addr,
                _not_send: PhantomData,
            })
        })
        .ok()
        .flatten()
}

impl Drop for Pin {
    fn drop(&mut self) {
        // Release: the reader's loads of the record happen before the appender, which loads
        // the slot and sees 0, writes over it.
        PINNED[self.slot].store(0, Ordering::Release);
        let _ = CLAIM.try_with(|c| c.pinned.set(false));
    }
}

/// Whether some thread has the segment mapped at `addr` pinned. For the appender, after it has
/// bumped the segment's generation and the tier's recycle count (module docs).
pub(super) fn is_pinned(addr: usize) -> bool {
    fence(Ordering::SeqCst);
    // Acquire: a slot seen cleared orders the reader's loads before the appender's stores.
    PINNED.iter().any(|p| p.load(Ordering::Acquire) == addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pin_is_seen_from_another_thread_until_dropped_and_nested_pins_are_refused() {
        let addr = 0x1000_0000usize;
        let pin = pin(addr).expect("a slot for this thread");
        assert_eq!(pin.addr(), addr);
        assert!(std::thread::spawn(move || is_pinned(addr)).join().unwrap());
        assert!(!is_pinned(addr + 8));
        // A read inside a pinned read's closure copies instead.
        assert!(super::pin(addr + 8).is_none());
        drop(pin);
        assert!(!std::thread::spawn(move || is_pinned(addr)).join().unwrap());
        // The slot is free for the next pin.
        let again = super::pin(addr).expect("pin again");
        drop(again);
    }

    #[test]
    fn a_thread_that_exits_hands_its_slot_back() {
        let before = OWNED.load(Ordering::Relaxed).count_ones();
        for _ in 0..(2 * SLOTS) {
            std::thread::spawn(|| drop(pin(0x2000_0000).expect("a slot")))
                .join()
                .unwrap();
        }
        // Threads of other tests may hold slots meanwhile; these 128 threads did not leak one each.
        assert!(OWNED.load(Ordering::Relaxed).count_ones() <= before + 8);
    }
}
