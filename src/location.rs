//! Where a key's value lives, packed into the `u64` payload the learned index stores per key.
//!
//! A [`Location`] is either **Cold** (the value is only in RocksDB) or **Hot** (a copy also sits
//! in a hot-tier segment at a known place). Layout of the 64 bits, most significant first:
//!
//! ```text
//!  63   62 ........ 53  52 ....... 39  38 ............ 16  15 ......... 0
//! [tag][ segment (10) ][ generation(14) ][ offset / 8 (23) ][  len (16)   ]
//! ```
//!
//! * `tag` is 1 for Hot. Cold is the all-zero word; any word with tag 0 decodes as Cold.
//! * `segment` indexes the hot tier's segment files: at most [`MAX_SEGMENTS`] (1023). Segment
//!   number 1023 is never used: every Hot word of it is at or above `trie::RESERVED_WORDS`, the
//!   words the byte-key index keeps for its own buckets (asserted in `db`).
//! * `generation` is the segment's recycle count modulo 2^14. A Location whose generation differs
//!   from the segment's current one is stale and must not be read (the hot tier checks). Equal
//!   generations alone do not prove a location current (a re-created segment starts again at 0,
//!   and generations wrap): the segment's identity checked at open (`HotTier::exact_check`) and
//!   the tier's recycle count checked on every read (`HotTier::read_into`) do.
//! * `offset` is the record's byte offset in the segment divided by [`OFFSET_UNIT`] (records are
//!   8-byte aligned), so a segment holds at most [`MAX_SEGMENT_BYTES`] (64 MiB).
//! * `len` is the value length: a value longer than [`MAX_HOT_VALUE_LEN`] (65535 bytes) is never
//!   put in the hot tier, it stays Cold.
//!
//! `Options::validate` rejects hot-tier sizes these widths cannot address, so every Location the
//! hot tier produces encodes without loss.

/// Bits used for the segment number.
pub(crate) const SEGMENT_BITS: u32 = 10;
/// Bits used for the segment generation.
pub(crate) const GENERATION_BITS: u32 = 14;
/// Bits used for the record offset (in units of [`OFFSET_UNIT`]).
pub(crate) const OFFSET_BITS: u32 = 23;
/// Bits used for the value length.
pub(crate) const LEN_BITS: u32 = 16;

/// Records start on multiples of this many bytes; offsets are stored divided by it.
pub(crate) const OFFSET_UNIT: usize = 8;
/// The most segments a hot tier may have: one less than the bits could number, since the words
/// of segment 1023 are the index's reserved words.
pub(crate) const MAX_SEGMENTS: usize = (1 << SEGMENT_BITS) - 1;
/// Generations wrap modulo this value.
pub(crate) const GENERATION_MODULUS: u32 = 1 << GENERATION_BITS;
/// The largest segment file a Location can address.
pub(crate) const MAX_SEGMENT_BYTES: usize = (1 << OFFSET_BITS) * OFFSET_UNIT;
/// The longest value the hot tier stores.
pub(crate) const MAX_HOT_VALUE_LEN: usize = (1 << LEN_BITS) - 1;

const TAG_SHIFT: u32 = 63;
const SEGMENT_SHIFT: u32 = GENERATION_SHIFT + GENERATION_BITS;
const GENERATION_SHIFT: u32 = OFFSET_SHIFT + OFFSET_BITS;
const OFFSET_SHIFT: u32 = LEN_BITS;

const _: () = assert!(1 + SEGMENT_BITS + GENERATION_BITS + OFFSET_BITS + LEN_BITS == 64);
const _: () = assert!(SEGMENT_SHIFT + SEGMENT_BITS == TAG_SHIFT);

const fn mask(bits: u32) -> u64 {
    (1u64 << bits) - 1
}

/// A key's value location, packed in a `u64` (see the module docs for the layout).
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct Location(u64);

/// The unpacked fields of a Hot [`Location`].
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub(crate) struct HotLocation {
    /// Segment number, below [`MAX_SEGMENTS`].
    pub segment: u16,
    /// Segment generation, below [`GENERATION_MODULUS`].
    pub generation: u16,
    /// Byte offset of the record in the segment, a multiple of [`OFFSET_UNIT`].
    pub offset: u32,
    /// Value length in bytes, at most [`MAX_HOT_VALUE_LEN`].
    pub len: u32,
}

impl Location {
    /// The value is only in RocksDB.
    pub(crate) const COLD: Location = Location(0);

    /// Packs a Hot location, or returns `None` when a field does not fit its bits or `offset` is
    /// not a multiple of [`OFFSET_UNIT`].
    pub(crate) fn hot(segment: usize, generation: u32, offset: usize, len: usize) -> Option<Self> {
        if segment >= MAX_SEGMENTS
            || generation >= GENERATION_MODULUS
            || offset % OFFSET_UNIT != 0
            || offset >= MAX_SEGMENT_BYTES
            || len > MAX_HOT_VALUE_LEN
        {
            return None;
        }
        let word = (1u64 << TAG_SHIFT)
            | (segment as u64) << SEGMENT_SHIFT
            | (generation as u64) << GENERATION_SHIFT
            | ((offset / OFFSET_UNIT) as u64) << OFFSET_SHIFT
            | len as u64;
        Some(Location(word))
    }

    /// Reinterprets a word stored in the index. Every word is valid: tag 0 means Cold.
    pub(crate) const fn from_raw(word: u64) -> Self {
        Location(word)
    }

    /// The largest word [`Location::hot`] can produce (segment `MAX_SEGMENTS - 1`, every other
    /// field at its maximum): the byte-key index must accept every word up to it.
    pub(crate) const MAX_WORD: u64 = (1u64 << TAG_SHIFT)
        | ((MAX_SEGMENTS as u64 - 1) << SEGMENT_SHIFT)
        | (mask(GENERATION_BITS) << GENERATION_SHIFT)
        | (mask(OFFSET_BITS) << OFFSET_SHIFT)
        | mask(LEN_BITS);

    /// The word to store in the index.
    pub(crate) const fn to_raw(self) -> u64 {
        self.0
    }

    /// True when the value is only in RocksDB.
    pub(crate) const fn is_cold(self) -> bool {
        self.0 >> TAG_SHIFT == 0
    }

    /// True when a hot-tier copy may exist (it may be stale: the hot tier checks).
    pub(crate) const fn is_hot(self) -> bool {
        !self.is_cold()
    }

    /// The Hot fields, or `None` for Cold.
    pub(crate) const fn as_hot(self) -> Option<HotLocation> {
        if self.is_cold() {
            return None;
        }
        let w = self.0;
        Some(HotLocation {
            segment: ((w >> SEGMENT_SHIFT) & mask(SEGMENT_BITS)) as u16,
            generation: ((w >> GENERATION_SHIFT) & mask(GENERATION_BITS)) as u16,
            offset: (((w >> OFFSET_SHIFT) & mask(OFFSET_BITS)) as u32) * OFFSET_UNIT as u32,
            len: (w & mask(LEN_BITS)) as u32,
        })
    }
}

impl HotLocation {
    /// Packs these fields back into a [`Location`].
    #[cfg(test)]
    pub(crate) fn pack(self) -> Option<Location> {
        Location::hot(
            self.segment as usize,
            self.generation as u32,
            self.offset as usize,
            self.len as usize,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn round_trip(segment: usize, generation: u32, offset: usize, len: usize) {
        let loc = Location::hot(segment, generation, offset, len).expect("in range");
        assert!(loc.is_hot());
        let h = loc.as_hot().expect("hot");
        assert_eq!(
            (
                h.segment as usize,
                h.generation as u32,
                h.offset as usize,
                h.len as usize
            ),
            (segment, generation, offset, len)
        );
        assert_eq!(h.pack(), Some(loc));
        assert_eq!(Location::from_raw(loc.to_raw()), loc);
    }

    #[test]
    fn cold_is_zero_and_decodes_as_cold() {
        assert_eq!(Location::COLD.to_raw(), 0);
        assert!(Location::COLD.is_cold());
        assert_eq!(Location::COLD.as_hot(), None);
        // Reserved tag-0 words are Cold too.
        assert!(Location::from_raw(12345).is_cold());
    }

    #[test]
    fn every_field_value_round_trips_with_the_others_at_their_extremes() {
        let max_off = MAX_SEGMENT_BYTES - OFFSET_UNIT;
        let max_gen = GENERATION_MODULUS - 1;
        let others = [
            (0usize, 0u32, 0usize, 0usize),
            (MAX_SEGMENTS - 1, max_gen, max_off, 65535),
        ];
        for &(s, g, o, l) in &others {
            for seg in 0..MAX_SEGMENTS {
                round_trip(seg, g, o, l);
            }
            for gen in 0..GENERATION_MODULUS {
                round_trip(s, gen, o, l);
            }
            for len in 0..=MAX_HOT_VALUE_LEN {
                round_trip(s, g, o, len);
            }
            for unit in 0..(MAX_SEGMENT_BYTES / OFFSET_UNIT) {
                round_trip(s, g, unit * OFFSET_UNIT, l);
            }
        }
    }

    #[test]
    fn out_of_range_fields_are_refused() {
        assert!(Location::hot(MAX_SEGMENTS, 0, 0, 0).is_none());
        assert!(Location::hot(0, GENERATION_MODULUS, 0, 0).is_none());
        assert!(Location::hot(0, 0, MAX_SEGMENT_BYTES, 0).is_none());
        assert!(Location::hot(0, 0, 4, 0).is_none(), "misaligned offset");
        assert!(Location::hot(0, 0, 0, MAX_HOT_VALUE_LEN + 1).is_none());
    }

    #[test]
    fn the_largest_hot_word_is_max_word() {
        let max_off = MAX_SEGMENT_BYTES - OFFSET_UNIT;
        let top = Location::hot(
            MAX_SEGMENTS - 1,
            GENERATION_MODULUS - 1,
            max_off,
            MAX_HOT_VALUE_LEN,
        );
        assert_eq!(top.unwrap().to_raw(), Location::MAX_WORD);
        assert!(
            Location::hot(1023, 0, 0, 0).is_none(),
            "segment 1023 is reserved"
        );
    }

    #[test]
    fn reserved_words_decode_but_never_pack() {
        for word in [0xFFE0_0000_0000_0000u64, u64::MAX, Location::MAX_WORD + 1] {
            let h = Location::from_raw(word).as_hot().expect("tag bit set");
            assert_eq!(usize::from(h.segment), MAX_SEGMENTS);
            assert_eq!(h.pack(), None);
        }
    }

    #[test]
    fn hot_locations_are_never_cold() {
        // The smallest hot word still has the tag bit set.
        let loc = Location::hot(0, 0, 0, 0).unwrap();
        assert_ne!(loc, Location::COLD);
        assert!(loc.is_hot());
    }

    proptest! {
        #[test]
        fn random_fields_round_trip(
            seg in 0..MAX_SEGMENTS,
            gen in 0..GENERATION_MODULUS,
            unit in 0..(MAX_SEGMENT_BYTES / OFFSET_UNIT),
            len in 0..=MAX_HOT_VALUE_LEN,
        ) {
            round_trip(seg, gen, unit * OFFSET_UNIT, len);
        }

        #[test]
        fn every_word_decodes_and_hot_words_re_encode(word in any::<u64>()) {
            let loc = Location::from_raw(word);
            match loc.as_hot() {
                None => prop_assert!(word >> 63 == 0),
                // Segment 1023's words are the index's reserved words: no hot location packs
                // to them (the shrunk failure of a CI run: 0xFFE0_0000_0000_0000).
                Some(h) if usize::from(h.segment) == MAX_SEGMENTS => {
                    prop_assert_eq!(h.pack(), None)
                }
                Some(h) => prop_assert_eq!(h.pack(), Some(loc)),
            }
        }
    }
}
