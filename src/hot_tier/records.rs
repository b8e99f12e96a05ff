//! [`Records`]: a list of records' keys and locations, flat in memory.
//!
//! A recycle hands back every record of the segment it empties (a 64 MiB segment of small
//! values holds 500K of them), under the engine's writer mutex: one allocation per key would
//! cost more than the recycle itself. So all keys' bytes go into one buffer, and each record
//! keeps where its key ends.

use crate::location::Location;

/// Keys and [`Location`]s of records, in file order: what a recycle hands back
/// (`Appended::recycled`). Iterate with [`Records::iter`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Records {
    /// Every key's bytes, one after the other.
    keys: Vec<u8>,
    /// Per record: the end of its key in `keys` (it starts where the previous one ends) and its
    /// location.
    entries: Vec<(usize, Location)>,
}

impl Records {
    /// Adds a record after the others.
    pub(super) fn push(&mut self, key: &[u8], location: Location) {
        self.keys.extend_from_slice(key);
        self.entries.push((self.keys.len(), location));
    }

    /// How many records there are.
    pub(crate) fn len(&self) -> usize {
        self.entries.len()
    }

    /// True when there are none.
    #[allow(dead_code, reason = "the engine demotes by iterating; tests use it")]
    pub(crate) fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Each record's key and location, in file order (oldest first).
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&[u8], Location)> + '_ {
        let mut start = 0;
        self.entries.iter().map(move |&(end, location)| {
            let key = &self.keys[start..end];
            start = end;
            (key, location)
        })
    }
}
