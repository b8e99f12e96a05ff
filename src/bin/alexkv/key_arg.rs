//! How the `alexkv` command line writes keys, and how it prints them.
//!
//! The engine has one key space: byte strings of up to [`MAX_KEY_LEN`] bytes, a `u64` key being
//! its 8 big-endian bytes. A key on the command line (an argument, or a load file's key column)
//! is read so that the forms existing databases and scripts use keep their meaning:
//!
//! | written | the key |
//! |---|---|
//! | `42`, `0x2a` | the `u64` key: its 8 big-endian bytes. Text of only digits, or `0x` and anything, must be a `u64` in decimal or hex (spaces around it are ignored) |
//! | `s:TEXT` | the UTF-8 bytes of `TEXT`, whatever it is: `s:42` is the 2-byte key `"42"`, `s:` the empty key |
//! | `hex:HEX` | the bytes `HEX` spells, two hex digits a byte: `hex:00ff` |
//! | any other text | its UTF-8 bytes, exactly as written: `user:42` |
//!
//! An empty argument is refused (the empty key is `s:`), and so is a key longer than
//! [`MAX_KEY_LEN`] bytes. (A key starting with `-` reads as an option to the argument parser:
//! write it after `--`, or as `s:-key`.)
//!
//! Printed keys (`scan`) take the form that reads back as the same bytes: an 8-byte key as the
//! `u64` it is (so `u64` databases print as they always did; the engine cannot tell a `u64`
//! from 8 bytes of text, and `scan --text-keys` prints those as text instead); text that reads
//! back as itself as it is; other text without control characters with `s:`; anything else
//! (control characters, invalid UTF-8) with `hex:`.

use alexkv::MAX_KEY_LEN;

/// A key as read from the command line: its bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeyArg(pub Vec<u8>);

impl KeyArg {
    /// Reads a key written as the module docs say.
    pub fn parse(s: &str) -> Result<KeyArg, String> {
        let bytes = if let Some(text) = s.strip_prefix("s:") {
            text.as_bytes().to_vec()
        } else if let Some(hex) = s.strip_prefix("hex:") {
            from_hex(hex).ok_or_else(|| {
                format!("{s:?} is not a key: hex: takes an even number of hex digits")
            })?
        } else if let Some(number) = as_u64(s) {
            number
                .map_err(|()| {
                    format!(
                        "{s:?} is not a key: a key of digits (or 0x and hex digits) is an \
                         unsigned 64-bit integer; write s:{s} for the text"
                    )
                })?
                .to_be_bytes()
                .to_vec()
        } else if s.is_empty() {
            return Err("an empty key: write s: for the empty key".into());
        } else {
            s.as_bytes().to_vec()
        };
        if bytes.len() > MAX_KEY_LEN {
            return Err(format!(
                "a key of {} bytes: keys are at most {MAX_KEY_LEN} bytes",
                bytes.len()
            ));
        }
        Ok(KeyArg(bytes))
    }
}

/// `Some` when `s` is written as a `u64` (only digits, or `0x`/`0X` and anything, spaces
/// around it ignored): `Ok` with the number if it is one.
fn as_u64(s: &str) -> Option<Result<u64, ()>> {
    let t = s.trim();
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        // `from_str_radix` takes a leading `+`; a key does not.
        let valid = !hex.is_empty() && hex.bytes().all(|b| b.is_ascii_hexdigit());
        return Some(
            valid
                .then(|| u64::from_str_radix(hex, 16).ok())
                .flatten()
                .ok_or(()),
        );
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return Some(t.parse().map_err(|_| ()));
    }
    None
}

fn from_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    hex.as_bytes()
        .chunks(2)
        .map(|pair| {
            let digits = std::str::from_utf8(pair).ok()?;
            if !digits.bytes().all(|b| b.is_ascii_hexdigit()) {
                return None;
            }
            u8::from_str_radix(digits, 16).ok()
        })
        .collect()
}

/// `key` in the form [`KeyArg::parse`] reads back as the same bytes (module docs); with
/// `text_keys`, an 8-byte key of text is shown as text rather than as its `u64`.
pub fn show_key(key: &[u8], text_keys: bool) -> String {
    let text = std::str::from_utf8(key)
        .ok()
        .filter(|t| !t.is_empty() && !t.chars().any(char::is_control));
    if let Ok(word) = <[u8; 8]>::try_from(key) {
        if !(text_keys && text.is_some()) {
            return u64::from_be_bytes(word).to_string();
        }
    }
    match text {
        Some(t) if KeyArg::parse(t).is_ok_and(|k| k.0 == key) => t.to_string(),
        Some(t) => format!("s:{t}"),
        None if key.is_empty() => "s:".to_string(),
        None => {
            let mut out = String::with_capacity(4 + 2 * key.len());
            out.push_str("hex:");
            for b in key {
                out.push_str(&format!("{b:02x}"));
            }
            out
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(s: &str) -> Vec<u8> {
        KeyArg::parse(s).unwrap().0
    }

    #[test]
    fn numbers_are_u64_keys_as_before() {
        assert_eq!(key("42"), 42u64.to_be_bytes());
        assert_eq!(key(" 42 "), 42u64.to_be_bytes());
        assert_eq!(key("0x2a"), 42u64.to_be_bytes());
        assert_eq!(key("0XFF"), 255u64.to_be_bytes());
        assert_eq!(key("18446744073709551615"), u64::MAX.to_be_bytes());
        for bad in ["18446744073709551616", "0x", "0xzz", "0x+1", "0x1_0"] {
            let e = KeyArg::parse(bad).unwrap_err();
            assert!(e.contains("unsigned 64-bit"), "{bad}: {e}");
        }
    }

    #[test]
    fn text_prefixes_and_hex_give_their_bytes() {
        assert_eq!(key("user:42"), b"user:42");
        assert_eq!(key("s:42"), b"42");
        assert_eq!(key("s:"), b"");
        assert_eq!(key("s:s:x"), b"s:x");
        assert_eq!(key(" padded "), b" padded ");
        assert_eq!(key("hex:00ff"), [0, 0xff]);
        assert_eq!(key("hex:"), b"");
        assert_eq!(key("ünï"), "ünï".as_bytes());
        for bad in ["hex:0", "hex:zz", "hex:+1", ""] {
            assert!(KeyArg::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn keys_longer_than_the_limit_are_refused() {
        let long = "k".repeat(MAX_KEY_LEN + 1);
        assert!(KeyArg::parse(&long).unwrap_err().contains("at most"));
        assert!(KeyArg::parse(&format!("s:{long}")).is_err());
        assert!(KeyArg::parse(&format!("hex:{}", "ab".repeat(MAX_KEY_LEN + 1))).is_err());
        assert_eq!(key(&"k".repeat(MAX_KEY_LEN)).len(), MAX_KEY_LEN);
    }

    #[test]
    fn printed_keys_read_back_as_the_same_bytes() {
        let keys: [&[u8]; 14] = [
            &42u64.to_be_bytes(),
            b"user:42",
            b"42",
            b"0x2a",
            b" 7",
            b"s:x",
            b"hex:00",
            b"",
            b"tab\there",
            &[0xff, 0xfe, 0x00],
            b"abcdefgh",
            "ünï".as_bytes(),
            b"-dash",
            b"line\n",
        ];
        for k in keys {
            for text_keys in [false, true] {
                let shown = show_key(k, text_keys);
                assert_eq!(key(&shown), k, "{k:?} shown as {shown:?}");
                assert!(!shown.contains(['\t', '\n']), "{shown:?}");
            }
        }
        assert_eq!(show_key(&42u64.to_be_bytes(), false), "42");
        assert_eq!(show_key(b"user:42", false), "user:42");
        assert_eq!(show_key(b"42", false), "s:42");
        assert_eq!(show_key(&[0, 1], false), "hex:0001");
        assert_eq!(show_key(b"abcdefgh", false), "7017280452245743464");
        assert_eq!(show_key(b"abcdefgh", true), "abcdefgh");
        assert_eq!(show_key(&42u64.to_be_bytes(), true), "42");
    }
}
