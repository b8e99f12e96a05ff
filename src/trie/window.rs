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
//!
//! # Digits
//!
//! A *digit window* covers the `len` (9 to [`MAX_DIGITS`]) bytes after the prefix when they are
//! decimal digits in every key, and its slice is their value. Eight bytes of digits carry only
//! 10^8 distinct slices: YCSB's record names (`user` + a hash in decimal) put about one key in
//! ten into a slot shared with another at 10M keys, a bucket to read on every lookup of it and
//! a record read of the wrong key for a tenth of the misses. Twelve digits (10^12 slices) leave
//! nearly every key a slot of its own. Digit strings of one length sort as their values, so the
//! byte order holds; a key with fewer digits there leaves the layer like any key that breaks a
//! window, and the rebuild takes the digits every key has. The window stops at twelve digits
//! although a slice could hold nineteen: a longer window would split no more keys in practice,
//! and every key with fewer digits breaks it (at 10M YCSB names, twelve digits are broken by
//! about one key in 10^8, thirteen by one in 10^7, each break a rebuild of the layer).

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
    /// A digit window (module docs, "Digits"): its `len` bytes are decimal digits in every
    /// key, and the slice is their value; the fields above are unused.
    digits: bool,
}

/// A digit window covers at most this many digits (module docs, "Digits").
const MAX_DIGITS: usize = 12;

/// Powers of ten up to `10^16`.
const POW10: [u64; 17] = {
    let mut p = [1u64; 17];
    let mut i = 1;
    while i < 17 {
        p[i] = p[i - 1] * 10;
        i += 1;
    }
    p
};

/// Whether all 8 bytes of `w` are ASCII digits.
#[inline(always)]
fn all_digits(w: u64) -> bool {
    const HIGH: u64 = 0xF0F0_F0F0_F0F0_F0F0;
    const ZEROS: u64 = 0x3030_3030_3030_3030;
    // High nibble 3 (0x30..=0x3F), and still 3 after adding 6 (so at most 0x39); a byte with
    // high nibble 3 plus 6 stays below 0x100, so no carry crosses bytes.
    w & HIGH == ZEROS && w.wrapping_add(0x0606_0606_0606_0606) & HIGH == ZEROS
}

/// The value of 8 ASCII digits read as a little-endian word (the first digit in the low byte).
#[inline(always)]
fn parse8(w: u64) -> u64 {
    let v = w - 0x3030_3030_3030_3030;
    // Pairs of digits in 16-bit lanes, then four in 32-bit lanes, then all eight; no lane
    // overflows into a kept one.
    let v = (v * 10 + (v >> 8)) & 0x00FF_00FF_00FF_00FF;
    let v = (v * 100 + (v >> 16)) & 0x0000_FFFF_0000_FFFF;
    (v * 10_000 + (v >> 32)) & 0xFFFF_FFFF
}

impl Window {
    /// The window for a layer over `keys` (each holding the layer's bytes before `d`), or `None`
    /// when none helps: no constant byte before the eighth varying one, or a key that ends
    /// before the window would.
    pub(crate) fn for_keys<'a>(
        keys: impl Iterator<Item = &'a [u8]> + Clone,
        d: usize,
    ) -> Option<Window> {
        Window::digits_for(keys.clone(), d).or_else(|| Window::bytes_for(keys, d))
    }

    /// A digit window for `keys` at `d`: the digits every key has there, at most
    /// [`MAX_DIGITS`]; `None` when some key has fewer than 9.
    fn digits_for<'a>(keys: impl Iterator<Item = &'a [u8]>, d: usize) -> Option<Window> {
        let mut len = MAX_DIGITS;
        let mut any = false;
        for k in keys {
            let rest = k.get(d..).unwrap_or(&[]);
            let run = rest
                .iter()
                .take(len)
                .take_while(|b| b.is_ascii_digit())
                .count();
            if run < 9 {
                return None;
            }
            len = run;
            any = true;
        }
        any.then_some(Window {
            len: len as u8,
            src: [0; 8],
            mask: [0; 2],
            value: [0; 2],
            constant: 0,
            bytes: [0; 16],
            digits: true,
        })
    }

    /// A window of constant bytes for `keys` at `d` (module docs).
    fn bytes_for<'a>(keys: impl Iterator<Item = &'a [u8]>, d: usize) -> Option<Window> {
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
            digits: false,
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
        if self.digits {
            if !all_digits(first) || !all_digits(last) {
                return None;
            }
            // The last word's bytes that the first word holds too become '0's: it then reads
            // as the value of digits 8..len alone.
            let shared = (16 - len) * 8;
            let keep = if shared == 0 {
                u64::MAX
            } else {
                u64::MAX << shared
            };
            let last = (last & keep) | (0x3030_3030_3030_3030 & !keep);
            return Some(parse8(first) * POW10[len - 8] + parse8(last));
        }
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
        if self.digits {
            let start = out.len();
            out.resize(start + self.len(), b'0');
            let mut v = s;
            for b in out[start..].iter_mut().rev() {
                *b = b'0' + (v % 10) as u8;
                v /= 10;
            }
            return;
        }
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
        if self.digits {
            return self.digit_bound(lo, d);
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

    /// [`Window::bound`] of a digit window, for a bound that does not gather.
    fn digit_bound(&self, lo: &[u8], d: usize) -> WindowBound {
        let len = self.len();
        // `g`: the value of `lo`'s first `j` digits; the keys whose slices start with them are
        // those from `g * 10^(len - j)` on.
        let mut g = 0u64;
        for j in 0..len {
            match lo.get(d + j) {
                Some(&b) if b.is_ascii_digit() => g = g * 10 + u64::from(b - b'0'),
                // `lo` ends there, or goes on below '0': every key starting with those digits
                // is above it.
                None => return WindowBound::From(g * POW10[len - j]),
                Some(&b) if b < b'0' => return WindowBound::From(g * POW10[len - j]),
                // Above '9': every key starting with those digits is below `lo`.
                Some(_) => {
                    return if g + 1 == POW10[j] {
                        WindowBound::Past
                    } else {
                        WindowBound::From((g + 1) * POW10[len - j])
                    };
                }
            }
        }
        unreachable!("a bound of digits all through the window gathers")
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
    use super::{parse8, Window, WindowBound, MAX_DIGITS};

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

    #[test]
    fn eight_digits_parse_to_their_value() {
        for n in [
            0u64, 1, 9, 10, 12_345_678, 99_999_999, 10_000_000, 40_302_010,
        ] {
            let text = format!("{n:08}");
            let w = u64::from_le_bytes(text.as_bytes().try_into().unwrap());
            assert_eq!(parse8(w), n, "{text}");
        }
    }

    #[test]
    fn digit_windows_take_the_digits_every_key_has_and_keep_byte_order() {
        let ks = keys(&["6284781860667377211", "1234567890123", "99999999912:x"]);
        let w = Window::for_keys(ks.iter().map(|k| k.as_slice()), 0).unwrap();
        assert_eq!(
            (w.len(), w.constants()),
            (11, 3),
            "the shortest run of digits"
        );
        let ks = keys(&["6284781860667377211", "12345678901234567"]);
        let w = Window::for_keys(ks.iter().map(|k| k.as_slice()), 0).unwrap();
        assert_eq!(w.len(), MAX_DIGITS);
        assert_eq!(w.gather(b"6284781860667377211", 0), Some(628_478_186_066));
        assert_eq!(w.gather(b"000000000001", 0), Some(1));
        assert_eq!(w.gather(b"62847818606", 0), None, "ends inside the window");
        assert_eq!(
            w.gather(b"62847818606a", 0),
            None,
            "a letter inside the window"
        );
        assert_eq!(w.gather(b"6284:818606677", 0), None);
        let mut out = Vec::new();
        w.scatter(42, &mut out);
        assert_eq!(out, b"000000000042");
        // Fewer than nine digits in some key: no digit window.
        let short = keys(&["6284781860667377211", "12345678x"]);
        assert_eq!(
            Window::for_keys(short.iter().map(|k| k.as_slice()), 0),
            None
        );
        // Every length from 9 to 12: gather and scatter are inverse, and slices keep byte order.
        let mut rng = 0x1234_5678_9ABC_DEF0u64;
        let mut next = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for len in 9..=MAX_DIGITS {
            let digits: Vec<Vec<u8>> = (0..300)
                .map(|_| {
                    let n = next() % 10u64.pow(len as u32);
                    format!("{n:0len$}:{}", next() % 7).into_bytes()
                })
                .collect();
            let w = Window::for_keys(digits.iter().map(|k| k.as_slice()), 0).unwrap();
            assert_eq!(w.len(), len);
            for k in &digits {
                let s = w.gather(k, 0).unwrap();
                let mut out = Vec::new();
                w.scatter(s, &mut out);
                assert_eq!(&out[..], &k[..len]);
                for j in &digits {
                    let t = w.gather(j, 0).unwrap();
                    assert_eq!(s.cmp(&t), k[..len].cmp(&j[..len]));
                }
            }
        }
    }

    #[test]
    fn digit_bounds_start_where_byte_order_says() {
        let ks = keys(&["123456789012", "987654321098"]);
        let w = Window::for_keys(ks.iter().map(|k| k.as_slice()), 0).unwrap();
        assert_eq!(w.len(), 12);
        let cases: [(&[u8], WindowBound); 8] = [
            (b"123456789012", WindowBound::Slice(123_456_789_012)),
            (b"", WindowBound::From(0)),
            (b"12", WindowBound::From(120_000_000_000)),
            (b"12/", WindowBound::From(120_000_000_000)),
            (b"12:", WindowBound::From(130_000_000_000)),
            (b"19:", WindowBound::From(200_000_000_000)),
            (b"99999999999:", WindowBound::Past),
            (b":", WindowBound::Past),
        ];
        for (lo, want) in cases {
            assert_eq!(w.bound(lo, 0), want, "bound {lo:?}");
        }
        // Against byte order, for bounds of every shape around the keys' digits.
        let layer: Vec<Vec<u8>> = (0..200u64)
            .map(|i| {
                format!(
                    "{:012}",
                    i.wrapping_mul(0x9E37_79B9_7F4A_7C15) % 1_000_000_000_000
                )
                .into_bytes()
            })
            .collect();
        let w = Window::for_keys(layer.iter().map(|k| k.as_slice()), 0).unwrap();
        for k in layer.iter().step_by(7) {
            for cut in 0..12 {
                for tail in [&b""[..], b"\0", b"/", b"0", b"9", b":", b"\xFF"] {
                    let lo = [&k[..cut], tail].concat();
                    let b = w.bound(&lo, 0);
                    for key in &layer {
                        let s = w.gather(key, 0).unwrap();
                        match b {
                            WindowBound::Slice(_) => {}
                            WindowBound::From(f) => {
                                assert_eq!(s >= f, key[..] > lo[..], "{lo:?} {key:?}")
                            }
                            WindowBound::Past => assert!(key[..] < lo[..], "{lo:?} {key:?}"),
                        }
                    }
                }
            }
        }
    }
}
