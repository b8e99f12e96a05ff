//! A layer's **window**: key bytes that every key of the layer holds with the same value, inside
//! the stretch its slice is read from, skipped the way the prefix is.
//!
//! A layer's slice is the 8 key bytes after its prefix. When some of those bytes are the same in
//! every key (the `:` of `user:<7 digits>:<field>`, after the shared `user:000`), the slice
//! spends a byte on a constant, and the keys that differ only after the slice share a slot: a
//! bucket to read on every lookup, one dependent cache miss more (issue 22: composite keys read
//! in 435 ns where keys alone in their slots read in 271). A window reads the slice from the
//! first 8 bytes that vary instead, over at most 16 key bytes, and checks the constant ones the
//! way the prefix is checked. The layer's keys then sort by their **virtual** key (the key
//! without its constant bytes): every key of the layer holds the same bytes at the constant
//! positions, so removing them keeps the byte order.
//!
//! A layer has a window only when every key of it goes on to the window's end or past it (no key
//! ends inside the window, so none is a short key there), and holds the constant bytes. A key
//! that does not leaves the layer, as a key that leaves the prefix does: a lookup of it is
//! absent, an insert of it rebuilds the layer (`grow.rs` plans it).

/// The window of one layer (module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Window {
    /// Key bytes it covers: 8 that vary and `len - 8` constant ones (9..=16).
    len: u8,
    /// Where each of the 8 slice bytes is in the 16-byte buffer [`Window::gather`] reads (the
    /// window's first 8 bytes, then its last 8).
    src: [u8; 8],
    /// Which bits of the first and last 8 window bytes (read as little-endian words) are
    /// constant, and their values.
    mask: [u64; 2],
    value: [u64; 2],
    /// Bit `j` set: window byte `j` is constant, with value `bytes[j]`.
    constant: u16,
    bytes: [u8; 16],
}

impl Window {
    /// The window for a layer over `keys` (each holding the layer's bytes before `d`), or `None`
    /// when none helps: no constant byte before the eighth varying one, or a key that ends
    /// before the window would.
    pub(crate) fn for_keys<'a>(keys: impl Iterator<Item = &'a [u8]>, d: usize) -> Option<Window> {
        let mut first = [0u8; 16];
        let mut same = 0u16;
        let mut shortest = usize::MAX;
        let mut any = false;
        for k in keys {
            let rest = k.get(d..).unwrap_or(&[]);
            // A window covers at least 9 bytes, and no key may end inside it.
            if rest.len() < 9 {
                return None;
            }
            shortest = shortest.min(rest.len());
            let n = rest.len().min(16);
            if !any {
                any = true;
                first[..n].copy_from_slice(&rest[..n]);
                same = if n == 16 { u16::MAX } else { (1u16 << n) - 1 };
            } else {
                for j in 0..16 {
                    if j >= n || rest[j] != first[j] {
                        same &= !(1u16 << j);
                    }
                }
            }
            // The window's last byte varies, so only bytes 0..15 can be its constants.
            if same & 0x7FFF == 0 {
                return None;
            }
        }
        if !any {
            return None;
        }
        let (mut varying, mut len) = (0, 0);
        for j in 0..16 {
            if same & (1 << j) == 0 {
                varying += 1;
                if varying == 8 {
                    len = j + 1;
                    break;
                }
            }
        }
        if varying < 8 || len == 8 || shortest < len {
            return None;
        }
        let constant = (u32::from(same) & ((1u32 << len) - 1)) as u16;
        let mut bytes = [0u8; 16];
        for j in 0..len {
            if constant & (1 << j) != 0 {
                bytes[j] = first[j];
            }
        }
        Some(Window::new(len, constant, bytes))
    }

    fn new(len: usize, constant: u16, bytes: [u8; 16]) -> Window {
        let mut src = [0u8; 8];
        let mut mask = [0u64; 2];
        let mut value = [0u64; 2];
        let mut i = 0;
        for (j, &byte) in bytes.iter().enumerate().take(len) {
            // Window byte j sits at j in the first word, at j - (len - 8) in the last.
            let in_last = j >= 8;
            let at = if in_last { 8 + j - (len - 8) } else { j };
            if constant & (1 << j) != 0 {
                let (word, bit) = (at / 8, (at % 8) * 8);
                mask[word] |= 0xFF << bit;
                value[word] |= u64::from(byte) << bit;
            } else {
                src[i] = at as u8;
                i += 1;
            }
        }
        debug_assert_eq!(i, 8);
        Window {
            len: len as u8,
            src,
            mask,
            value,
            constant,
            bytes,
        }
    }

    /// Key bytes the window covers.
    #[inline(always)]
    pub(crate) fn len(&self) -> usize {
        usize::from(self.len)
    }

    /// Constant bytes in the window.
    #[inline(always)]
    pub(crate) fn constants(&self) -> usize {
        self.len() - 8
    }

    /// The slice of `key`'s window starting at `d`: its 8 varying bytes, big-endian; `None`
    /// when the key ends inside the window or differs from a constant byte.
    #[inline(always)]
    pub(crate) fn gather(&self, key: &[u8], d: usize) -> Option<u64> {
        let len = self.len();
        let w = key.get(d..d + len)?;
        let first = u64::from_le_bytes(w[..8].try_into().unwrap());
        let last = u64::from_le_bytes(w[len - 8..].try_into().unwrap());
        if first & self.mask[0] != self.value[0] || last & self.mask[1] != self.value[1] {
            return None;
        }
        let mut buf = [0u8; 16];
        buf[..8].copy_from_slice(&first.to_le_bytes());
        buf[8..].copy_from_slice(&last.to_le_bytes());
        let mut out = [0u8; 8];
        for (o, &at) in out.iter_mut().zip(&self.src) {
            *o = buf[usize::from(at)];
        }
        Some(u64::from_be_bytes(out))
    }

    /// Appends the window's key bytes for slice `s`: its constants, and the slice's bytes in
    /// the varying places.
    pub(crate) fn scatter(&self, s: u64, out: &mut Vec<u8>) {
        let sb = s.to_be_bytes();
        let mut i = 0;
        for j in 0..self.len() {
            if self.constant & (1 << j) != 0 {
                out.push(self.bytes[j]);
            } else {
                out.push(sb[i]);
                i += 1;
            }
        }
    }

    /// Where a walk from lower bound `lo` starts in a layer with this window at `d` (`lo`'s
    /// bytes before `d` are the layer's).
    pub(crate) fn bound(&self, lo: &[u8], d: usize) -> WindowBound {
        if let Some(s) = self.gather(lo, d) {
            return WindowBound::Slice(s);
        }
        // `lo` leaves the window at byte `j`: it ends there, or a constant byte differs. Every
        // key of the layer shares `lo`'s bytes before `j` but for its varying bytes `g`.
        let mut g = [0u8; 8];
        let mut k = 0;
        for j in 0..self.len() {
            let Some(&b) = lo.get(d + j) else {
                // `lo` is a prefix of every key whose slice starts with `g`.
                return WindowBound::From(u64::from_be_bytes(g));
            };
            if self.constant & (1 << j) == 0 {
                g[k] = b;
                k += 1;
                continue;
            }
            let c = self.bytes[j];
            if b < c {
                // Every key whose slice starts with `g` is above `lo`.
                return WindowBound::From(u64::from_be_bytes(g));
            }
            if b > c {
                // Every key whose slice starts with `g` is below `lo`: start after them.
                while k > 0 {
                    k -= 1;
                    if g[k] < u8::MAX {
                        g[k] += 1;
                        return WindowBound::From(u64::from_be_bytes(g));
                    }
                    g[k] = 0;
                }
                return WindowBound::Past;
            }
        }
        unreachable!("a bound that holds the window gathers")
    }
}

/// Where a walk from a lower bound starts in a layer with a window ([`Window::bound`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WindowBound {
    /// The bound holds the window, with this slice.
    Slice(u64),
    /// The bound leaves the window: keys whose slices are at or above this one are above it,
    /// the others below.
    From(u64),
    /// Every key of the layer is below the bound.
    Past,
}

#[cfg(test)]
mod tests {
    use super::{Window, WindowBound};

    fn keys(list: &[&str]) -> Vec<Vec<u8>> {
        list.iter().map(|k| k.as_bytes().to_vec()).collect()
    }

    #[test]
    fn composite_keys_skip_their_separator_and_gather_the_field() {
        let ks = keys(&["1234567:email", "7654321:name", "0000001:phone"]);
        let w = Window::for_keys(ks.iter().map(|k| k.as_slice()), 0).unwrap();
        assert_eq!((w.len(), w.constants()), (9, 1));
        assert_eq!(
            w.gather(b"1234567:email", 0),
            Some(u64::from_be_bytes(*b"1234567e"))
        );
        assert_eq!(w.gather(b"1234567;email", 0), None, "another separator");
        assert_eq!(
            w.gather(b"1234567:e", 0),
            Some(u64::from_be_bytes(*b"1234567e"))
        );
        assert_eq!(w.gather(b"1234567:", 0), None, "ends inside the window");
        let mut out = Vec::new();
        w.scatter(u64::from_be_bytes(*b"9999999z"), &mut out);
        assert_eq!(out, b"9999999:z");
    }

    #[test]
    fn no_window_without_constants_or_when_a_key_ends_inside_it() {
        let random = keys(&["abcdefghijkl", "bcdefghijklm", "zyxwvutsrqpo"]);
        assert_eq!(
            Window::for_keys(random.iter().map(|k| k.as_slice()), 0),
            None
        );
        let short = keys(&["1234567:email", "7654321:"]);
        assert_eq!(
            Window::for_keys(short.iter().map(|k| k.as_slice()), 0),
            None
        );
        let eight: Vec<Vec<u8>> = (0..100u64).map(|i| i.to_be_bytes().to_vec()).collect();
        assert_eq!(
            Window::for_keys(eight.iter().map(|k| k.as_slice()), 0),
            None
        );
    }

    #[test]
    fn constants_at_both_ends_of_a_sixteen_byte_window() {
        // Constant bytes at 1, 3 and 9..=14; varying at 0, 2, 4..=8 and 15 (the eighth).
        let ks = keys(&["aXbY12345------zQ", "cXdY67890------yR"]);
        let w = Window::for_keys(ks.iter().map(|k| k.as_slice()), 0).unwrap();
        assert_eq!(w.len(), 16);
        for k in &ks {
            let s = w.gather(k, 0).unwrap();
            let mut out = Vec::new();
            w.scatter(s, &mut out);
            assert_eq!(&out[..], &k[..16]);
        }
        assert_eq!(w.gather(b"aXbY12345-----+zQ", 0), None);
    }

    #[test]
    fn bounds_that_leave_the_window_start_where_byte_order_says() {
        let ks = keys(&["12:abcdefgh", "34:bcdefghi"]);
        let w = Window::for_keys(ks.iter().map(|k| k.as_slice()), 0).unwrap();
        assert_eq!(w.len(), 9);
        let slice = |b: &[u8; 8]| u64::from_be_bytes(*b);
        let cases: [(&[u8], WindowBound); 7] = [
            (b"12:abcdefgh", WindowBound::Slice(slice(b"12abcdef"))),
            (b"1", WindowBound::From(slice(b"1\0\0\0\0\0\0\0"))),
            (b"12", WindowBound::From(slice(b"12\0\0\0\0\0\0"))),
            (b"12+", WindowBound::From(slice(b"12\0\0\0\0\0\0"))),
            (b"12;", WindowBound::From(slice(b"13\0\0\0\0\0\0"))),
            (b"1\xFF;", WindowBound::From(slice(b"2\0\0\0\0\0\0\0"))),
            (b"\xFF\xFF;", WindowBound::Past),
        ];
        for (lo, want) in cases {
            assert_eq!(w.bound(lo, 0), want, "bound {lo:?}");
        }
    }
}
