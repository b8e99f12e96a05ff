//! Keys: what a [`Db`](crate::Db) accepts as a key, and the forms it hands keys back in.
//!
//! alexkv has **one key space**: byte strings of 0 to [`MAX_KEY_LEN`] bytes, ordered as
//! `memcmp` orders them (a key sorts before its extensions: `"ab" < "ab\0" < "abc"`). An integer
//! key `k` is the 8 bytes `k.to_be_bytes()`, so integer keys sort numerically, are exactly what
//! RocksDB stores, and mix with byte keys in one database (`internal/DECISIONS.md` says why one
//! key space rather than a typed database).
//!
//! Anything implementing [`Key`] can be passed where a key goes: `u64`; `i32` (so that an integer
//! literal such as `db.get(7)` means the `u64` key 7; a negative `i32` is refused); byte strings
//! as `&[u8]`, `&[u8; N]`, `[u8; N]`, `Vec<u8>`; text as `&str` or `String` (its UTF-8 bytes);
//! and a reference to any of them. Keys come back as a [`FromKey`] type: `u64` (refusing, with
//! [`Error::KeyNotU64`], a key that is not 8 bytes long) or `Vec<u8>`.
//!
//! ```
//! # let dir = tempfile::tempdir().unwrap();
//! # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
//! db.put(7, b"seven").unwrap(); // the u64 key 7
//! db.put("user:42", b"ada").unwrap(); // the 7 bytes of "user:42"
//! assert_eq!(db.get(7u64).unwrap(), Some(b"seven".to_vec()));
//! assert_eq!(db.get(&7u64.to_be_bytes()).unwrap(), Some(b"seven".to_vec()));
//! assert_eq!(db.get(b"user:42").unwrap(), Some(b"ada".to_vec()));
//! ```

use crate::error::{Error, Result};
use std::ops::{Bound, Deref};

/// The longest key, in bytes. A longer key is refused with [`Error::KeyTooLong`] and nothing is
/// written.
pub const MAX_KEY_LEN: usize = 1024;

/// A key's bytes: on the stack for an integer key, borrowed otherwise.
#[derive(Clone, Copy, Debug)]
pub enum KeyBytes<'a> {
    /// An integer key's 8 big-endian bytes.
    Word([u8; 8]),
    /// A borrowed byte-string key.
    Slice(&'a [u8]),
}

impl Deref for KeyBytes<'_> {
    type Target = [u8];

    #[inline(always)]
    fn deref(&self) -> &[u8] {
        match self {
            KeyBytes::Word(w) => w,
            KeyBytes::Slice(s) => s,
        }
    }
}

/// A type usable as a key: `u64` (its 8 big-endian bytes, so integer keys sort numerically);
/// `i32`, so that an integer literal such as `db.get(7)` means the `u64` key 7 (a negative one is
/// refused with [`Error::InvalidKey`]); byte strings as `[u8]`, `[u8; N]`, `Vec<u8>`; text as
/// `str` or `String` (its UTF-8 bytes); and a reference to any of them. Every form is a key of
/// one key space, ordered bytewise (`memcmp`), a key before its extensions.
///
/// ```
/// # let dir = tempfile::tempdir().unwrap();
/// # let db = alexkv::Db::open(dir.path(), alexkv::Options::default()).unwrap();
/// db.put(7, b"seven").unwrap(); // the u64 key 7
/// db.put("user:42", b"ada").unwrap(); // the 7 bytes of "user:42"
/// assert_eq!(db.get(7u64.to_be_bytes()).unwrap(), Some(b"seven".to_vec()));
/// assert_eq!(db.get(b"user:42").unwrap(), Some(b"ada".to_vec()));
/// ```
pub trait Key {
    /// The type a range given in this key type yields its keys as (`u64` for integers,
    /// `Vec<u8>` for byte strings and text).
    type Owned: FromKey;

    /// The key's bytes, or why this value is not a key (a negative `i32`). The engine checks
    /// the length (at most [`MAX_KEY_LEN`]).
    fn key_bytes(&self) -> Result<KeyBytes<'_>>;
}

/// A type keys can be handed back as.
pub trait FromKey: Sized {
    /// Converts a stored key, or refuses it ([`Error::KeyNotU64`] for `u64`).
    fn from_key(bytes: &[u8]) -> Result<Self>;
}

/// Refuses a key longer than [`MAX_KEY_LEN`].
#[inline(always)]
pub(crate) fn check_len(key: &[u8]) -> Result<()> {
    if key.len() > MAX_KEY_LEN {
        return Err(Error::KeyTooLong {
            len: key.len(),
            limit: MAX_KEY_LEN,
        });
    }
    Ok(())
}

/// The bytes of `key`, length-checked: what every `Db` entry point starts with.
#[inline(always)]
pub(crate) fn bytes_of<K: Key + ?Sized>(key: &K) -> Result<KeyBytes<'_>> {
    let b = key.key_bytes()?;
    check_len(&b)?;
    Ok(b)
}

impl Key for u64 {
    type Owned = u64;
    #[inline(always)]
    fn key_bytes(&self) -> Result<KeyBytes<'_>> {
        Ok(KeyBytes::Word(self.to_be_bytes()))
    }
}

impl Key for i32 {
    type Owned = u64;
    #[inline(always)]
    fn key_bytes(&self) -> Result<KeyBytes<'_>> {
        u64::try_from(*self)
            .map(|k| KeyBytes::Word(k.to_be_bytes()))
            .map_err(|_| {
                Error::InvalidKey(format!(
                    "negative i32 key {self}: use the _i64 methods for signed keys"
                ))
            })
    }
}

impl Key for [u8] {
    type Owned = Vec<u8>;
    #[inline(always)]
    fn key_bytes(&self) -> Result<KeyBytes<'_>> {
        Ok(KeyBytes::Slice(self))
    }
}

impl<const N: usize> Key for [u8; N] {
    type Owned = Vec<u8>;
    #[inline(always)]
    fn key_bytes(&self) -> Result<KeyBytes<'_>> {
        Ok(KeyBytes::Slice(self))
    }
}

impl Key for Vec<u8> {
    type Owned = Vec<u8>;
    #[inline(always)]
    fn key_bytes(&self) -> Result<KeyBytes<'_>> {
        Ok(KeyBytes::Slice(self))
    }
}

impl Key for str {
    type Owned = Vec<u8>;
    #[inline(always)]
    fn key_bytes(&self) -> Result<KeyBytes<'_>> {
        Ok(KeyBytes::Slice(self.as_bytes()))
    }
}

impl Key for String {
    type Owned = Vec<u8>;
    #[inline(always)]
    fn key_bytes(&self) -> Result<KeyBytes<'_>> {
        Ok(KeyBytes::Slice(self.as_bytes()))
    }
}

impl<K: Key + ?Sized> Key for &K {
    type Owned = K::Owned;
    #[inline(always)]
    fn key_bytes(&self) -> Result<KeyBytes<'_>> {
        (**self).key_bytes()
    }
}

impl FromKey for u64 {
    #[inline]
    fn from_key(bytes: &[u8]) -> Result<Self> {
        match <[u8; 8]>::try_from(bytes) {
            Ok(w) => Ok(u64::from_be_bytes(w)),
            Err(_) => Err(Error::KeyNotU64 {
                key: bytes.to_vec(),
            }),
        }
    }
}

impl FromKey for Vec<u8> {
    #[inline]
    fn from_key(bytes: &[u8]) -> Result<Self> {
        Ok(bytes.to_vec())
    }
}

/// A range of keys: `a..b`, `a..=b`, `a..`, `..b`, `..=b`, `(Bound, Bound)` of any [`Key`]
/// type, or `..` (every key). A range of integers yields `u64` keys, any other range
/// (`..` included) yields `Vec<u8>` keys.
pub trait KeyRange {
    /// The type the range's keys are handed back as.
    type Owned: FromKey;

    /// The bounds as bytes, or why a bound is not a key (a negative `i32`).
    fn byte_bounds(&self) -> Result<(Bound<KeyBytes<'_>>, Bound<KeyBytes<'_>>)>;
}

fn bound_bytes<K: Key + ?Sized>(b: Bound<&K>) -> Result<Bound<KeyBytes<'_>>> {
    Ok(match b {
        Bound::Included(k) => Bound::Included(k.key_bytes()?),
        Bound::Excluded(k) => Bound::Excluded(k.key_bytes()?),
        Bound::Unbounded => Bound::Unbounded,
    })
}

macro_rules! key_range_for {
    ($($range:ty),*) => {$(
        impl<K: Key> KeyRange for $range {
            type Owned = K::Owned;
            fn byte_bounds(&self) -> Result<(Bound<KeyBytes<'_>>, Bound<KeyBytes<'_>>)> {
                use std::ops::RangeBounds;
                Ok((bound_bytes(self.start_bound())?, bound_bytes(self.end_bound())?))
            }
        }
    )*};
}

key_range_for!(
    std::ops::Range<K>,
    std::ops::RangeInclusive<K>,
    std::ops::RangeFrom<K>,
    std::ops::RangeTo<K>,
    std::ops::RangeToInclusive<K>,
    (Bound<K>, Bound<K>)
);

impl KeyRange for std::ops::RangeFull {
    type Owned = Vec<u8>;
    fn byte_bounds(&self) -> Result<(Bound<KeyBytes<'_>>, Bound<KeyBytes<'_>>)> {
        Ok((Bound::Unbounded, Bound::Unbounded))
    }
}

/// The range of every key starting with `prefix`: `[prefix, next)` where `next` is the prefix
/// with its trailing `0xFF` bytes dropped and its last byte incremented (unbounded when the
/// prefix is empty or all `0xFF`).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let keep = prefix.iter().rposition(|&b| b != 0xFF)?;
    let mut end = prefix[..=keep].to_vec();
    end[keep] += 1;
    Some(end)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bytes<K: Key>(k: K) -> Vec<u8> {
        k.key_bytes().unwrap().to_vec()
    }

    #[test]
    #[allow(
        clippy::needless_borrows_for_generic_args,
        reason = "the borrowed forms are what is tested"
    )]
    fn every_key_form_gives_its_bytes() {
        assert_eq!(bytes(7u64), 7u64.to_be_bytes());
        assert_eq!(bytes(7), 7u64.to_be_bytes());
        assert_eq!(bytes("ab"), b"ab");
        assert_eq!(bytes(String::from("ab")), b"ab");
        assert_eq!(bytes(b"ab"), b"ab");
        assert_eq!(bytes(*b"ab"), b"ab");
        assert_eq!(bytes(b"ab".to_vec()), b"ab");
        assert_eq!(bytes(&b"ab".to_vec()), b"ab");
        assert_eq!(bytes(&b"ab"[..]), b"ab");
        assert_eq!(bytes(&&7u64), 7u64.to_be_bytes());
    }

    #[test]
    fn a_negative_i32_is_refused_and_lengths_are_checked() {
        assert!(matches!((-1).key_bytes(), Err(Error::InvalidKey(_))));
        assert!(bytes_of(&vec![0u8; MAX_KEY_LEN]).is_ok());
        assert!(matches!(
            bytes_of(&vec![0u8; MAX_KEY_LEN + 1]),
            Err(Error::KeyTooLong { len, limit }) if len == MAX_KEY_LEN + 1 && limit == MAX_KEY_LEN
        ));
    }

    #[test]
    fn prefix_ranges_end_after_the_last_extension() {
        assert_eq!(prefix_end(b"ab"), Some(b"ac".to_vec()));
        assert_eq!(prefix_end(b"a\xff\xff"), Some(b"b".to_vec()));
        assert_eq!(prefix_end(b"\xff\xff"), None);
        assert_eq!(prefix_end(b""), None);
    }

    #[test]
    fn ranges_of_every_form_give_their_bounds() {
        fn own(x: Bound<KeyBytes<'_>>) -> Bound<Vec<u8>> {
            x.map(|k| k.to_vec())
        }
        let r = 1..9;
        let (s, e) = r.byte_bounds().unwrap();
        assert_eq!(own(s), Bound::Included(1u64.to_be_bytes().to_vec()));
        assert_eq!(own(e), Bound::Excluded(9u64.to_be_bytes().to_vec()));
        let r = "a"..="b";
        let (s, e) = r.byte_bounds().unwrap();
        assert_eq!(
            (own(s), own(e)),
            (
                Bound::Included(b"a".to_vec()),
                Bound::Included(b"b".to_vec())
            )
        );
        assert!(matches!(
            (..).byte_bounds().unwrap(),
            (Bound::Unbounded, Bound::Unbounded)
        ));
        assert!((-1..5).byte_bounds().is_err());
    }

    #[test]
    fn keys_come_back_as_u64_only_when_8_bytes_long() {
        assert_eq!(u64::from_key(&9u64.to_be_bytes()).unwrap(), 9);
        assert!(matches!(
            u64::from_key(b"abc"),
            Err(Error::KeyNotU64 { .. })
        ));
        assert_eq!(Vec::<u8>::from_key(b"abc").unwrap(), b"abc");
    }
}
