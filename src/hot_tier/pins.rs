//! Pins: a reader's claim that the appender must not rewrite one segment while the reader looks
//! at a record there in place ([`super::HotTier::read_pinned`]: `Db::get_with` hands the
//! caller's closure the value where it lies in the mapping, with no copy).
//!
//! Each of the first [`SLOTS`] threads that pin owns one cache-line-padded slot, which holds
//! the address of the segment it is reading (0: none). A pin is one store to the thread's own
//! slot (with the barrier below) and a plain store to clear it: no line written by two threads. Threads
//! beyond [`SLOTS`], and a read nested inside another pinned read's closure, get no pin and
//! copy the value instead (the copy path every read took before).
//!
//! The protocol with the appender (`HotTier::append`), who must not write into a segment a
//! reader has pinned:
//!
//! * reader: store the segment's address in its slot, a store-load barrier, then load the
//!   segment's generation and the tier's recycle count and check them against its location
//!   and mark; only then look at the record;
//! * appender, recycling a segment: bump the recycle count and the generation, a store-load
//!   barrier ([`heavy_barrier`], once per recycle), then [`is_pinned`] (every slot). Pinned: it
//!   writes nothing into the segment and declines the append (the value stays in RocksDB only:
//!   the tier is a cache), and asks again at its next append.
//!
//! With both barriers, either the appender's load of the slot comes after the reader's store
//! (it sees the pin and keeps out), or the reader's loads come after the appender's bumps (it
//! sees the new generation or count and refuses the location). So a record a reader accepted
//! is not overwritten until its pin is dropped, and the appender never waits for a reader,
//! whatever the reader's closure does (even writing to the same database). Later looks at the
//! same recycle need no barrier: a reader that pins after the first look sees the new
//! generation, and a pin seen cleared (Release store, Acquire load) ends its reads. (A slot
//! seen holding another address, its owner having dropped the pin and pinned again, is ordered
//! after the drop by the hardware's store order, x86-64's and ARMv8's, rather than by a
//! release sequence of the Rust memory model: with the asymmetric barriers below the protocol
//! rests on the hardware and kernel guarantees Linux's RCU rests on.)
//!
//! **The barriers are asymmetric where Linux allows.** A store-load barrier is a locked
//! instruction (~8 ns on this project's machines, measured as a 2% slower `u64` read of 100-byte
//! values), paid on every read; the appender's barrier runs once per segment recycled. So, as
//! Linux's RCU and folly's `asymmetric_thread_fence` do, the reader issues only a compiler
//! fence and the appender asks the kernel to run a full barrier on every running thread of the
//! process (`membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED)`, registered once by [`init`]). Where
//! that is unavailable (another OS, an old kernel, a seccomp filter), readers store their pin
//! with a SeqCst swap and the appender issues a SeqCst fence: the symmetric protocol.

use crossbeam::utils::CachePadded;
use std::cell::Cell;
use std::marker::PhantomData;
use std::sync::atomic::{compiler_fence, fence, AtomicU64, AtomicU8, AtomicUsize, Ordering};

/// Which barriers the protocol uses (module docs): not chosen yet, asymmetric (the kernel's
/// membarrier for the appender, a compiler fence for readers), or symmetric (a SeqCst swap and
/// a SeqCst fence).
const UNCHOSEN: u8 = 0;
const ASYMMETRIC: u8 = 1;
const SYMMETRIC: u8 = 2;
static MODE: AtomicU8 = AtomicU8::new(UNCHOSEN);

/// Chooses the barriers, once per process; every tier calls it at open, before any of its
/// segments can be read or recycled. (A later choice never changes an earlier one.)
/// `ALEXKV_PIN_BARRIER=symmetric` in the environment of the process's first open takes the
/// symmetric protocol even where the kernel offers membarrier (for testing that path, or for a
/// sandbox that kills instead of refusing unknown system calls).
pub(super) fn init() {
    if MODE.load(Ordering::Acquire) != UNCHOSEN {
        return;
    }
    let mode = if !forced_symmetric() && membarrier::register() {
        ASYMMETRIC
    } else {
        SYMMETRIC
    };
    let _ = MODE.compare_exchange(UNCHOSEN, mode, Ordering::AcqRel, Ordering::Acquire);
}

fn forced_symmetric() -> bool {
    std::env::var_os("ALEXKV_PIN_BARRIER").is_some_and(|v| v == "symmetric")
}

/// The appender's half of the store-load barrier, after it bumped a recycle's generation and
/// count and before it first looks at the pins. False when the kernel refused the barrier (it
/// accepted the registration, so this should not happen): the appender must then treat the
/// segment as pinned and try again later.
pub(super) fn heavy_barrier() -> bool {
    fence(Ordering::SeqCst);
    match MODE.load(Ordering::Acquire) {
        ASYMMETRIC => membarrier::private_expedited(),
        _ => true,
    }
}

#[cfg(target_os = "linux")]
mod membarrier {
    // From the kernel's UAPI, `linux/membarrier.h`.
    #[cfg(test)]
    const CMD_QUERY: libc::c_long = 0;
    const CMD_PRIVATE_EXPEDITED: libc::c_long = 1 << 3;
    const CMD_REGISTER_PRIVATE_EXPEDITED: libc::c_long = 1 << 4;

    fn call(cmd: libc::c_long) -> bool {
        // SAFETY: membarrier takes two integers and touches no memory of ours.
        unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                cmd,
                0 as libc::c_long,
                0 as libc::c_long,
            ) == 0
        }
    }

    pub(super) fn register() -> bool {
        call(CMD_REGISTER_PRIVATE_EXPEDITED)
    }

    pub(super) fn private_expedited() -> bool {
        call(CMD_PRIVATE_EXPEDITED)
    }

    /// Whether the kernel offers the expedited private barrier (a sandbox may refuse it).
    #[cfg(test)]
    pub(super) fn offered() -> bool {
        // SAFETY: as in `call`.
        let mask = unsafe {
            libc::syscall(
                libc::SYS_membarrier,
                CMD_QUERY,
                0 as libc::c_long,
                0 as libc::c_long,
            )
        };
        mask > 0 && mask & CMD_PRIVATE_EXPEDITED != 0
    }
}

#[cfg(not(target_os = "linux"))]
mod membarrier {
    pub(super) fn register() -> bool {
        false
    }

    pub(super) fn private_expedited() -> bool {
        false
    }

    #[cfg(test)]
    pub(super) fn offered() -> bool {
        false
    }
}

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
            // The reader's half of the store-load barrier: the segment checks that follow load
            // after the store is visible to the appender's look at the pins.
            if MODE.load(Ordering::Relaxed) == ASYMMETRIC {
                PINNED[slot].store(addr, Ordering::Relaxed);
                compiler_fence(Ordering::SeqCst);
            } else {
                PINNED[slot].swap(addr, Ordering::SeqCst);
            }
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
/// bumped the segment's generation and the tier's recycle count and issued [`heavy_barrier`]
/// (module docs).
pub(super) fn is_pinned(addr: usize) -> bool {
    // Acquire: a slot seen cleared orders the reader's loads before the appender's stores.
    PINNED.iter().any(|p| p.load(Ordering::Acquire) == addr)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_asymmetric_barrier_is_taken_where_the_kernel_offers_it() {
        init();
        let mode = MODE.load(Ordering::Relaxed);
        if membarrier::offered() && !forced_symmetric() {
            assert_eq!(mode, ASYMMETRIC, "membarrier offered but not registered");
        } else {
            assert_eq!(mode, SYMMETRIC);
        }
        assert!(heavy_barrier());
    }

    #[test]
    fn a_pin_is_seen_from_another_thread_until_dropped_and_nested_pins_are_refused() {
        init();
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
