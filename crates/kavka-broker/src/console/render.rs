//! How a record's bytes are shown: UTF-8 text, JSON (pretty-printed), or, for
//! anything else, hex. The page escapes whatever it shows; this only decides
//! the form, so a binary key never reaches the page as raw bytes.

use serde::Serialize;

/// A key, value or header value as the console shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "encoding", content = "text", rename_all = "lowercase")]
pub(crate) enum Shown {
    /// JSON, pretty-printed.
    Json(String),
    /// Valid UTF-8 without control characters other than whitespace.
    Text(String),
    /// Anything else, as lowercase hex.
    Hex(String),
    /// A null key or value (a tombstone).
    Null,
}

/// How at most [`MAX_SHOWN`] bytes are shown; the rest is cut with a note.
pub(crate) const MAX_SHOWN: usize = 64 * 1024;

/// The form in which `bytes` are shown.
pub(crate) fn show(bytes: Option<&[u8]>) -> Shown {
    let Some(bytes) = bytes else {
        return Shown::Null;
    };
    let cut = bytes.len() > MAX_SHOWN;
    let head = &bytes[..bytes.len().min(MAX_SHOWN)];
    match std::str::from_utf8(head) {
        Ok(text) if is_printable(text) => {
            if !cut {
                if let Some(pretty) = pretty_json(text) {
                    return Shown::Json(pretty);
                }
            }
            let mut text = text.to_string();
            if cut {
                text.push_str(&format!("… ({} bytes in all)", bytes.len()));
            }
            Shown::Text(text)
        }
        _ => {
            let mut hex = to_hex(head);
            if cut {
                hex.push_str(&format!("… ({} bytes in all)", bytes.len()));
            }
            Shown::Hex(hex)
        }
    }
}

/// Whether a record matches a filter: `needle` occurs in the form [`show`]
/// gives it (text, or hex for binary), so what matches is what the page shows.
pub(crate) fn contains(bytes: Option<&[u8]>, needle: &str) -> bool {
    let Some(bytes) = bytes else {
        return false;
    };
    match std::str::from_utf8(bytes) {
        Ok(text) if is_printable(text) => text.contains(needle),
        _ => to_hex(bytes).contains(&needle.to_ascii_lowercase()),
    }
}

fn is_printable(text: &str) -> bool {
    !text
        .chars()
        .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
}

fn pretty_json(text: &str) -> Option<String> {
    let trimmed = text.trim_start();
    // Only objects and arrays: a bare `42` or `"x"` reads better as it was sent.
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return None;
    }
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    serde_json::to_string_pretty(&value).ok()
}

fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_is_pretty_text_stays_binary_is_hex() {
        assert_eq!(
            show(Some(br#"{"a":1}"#)),
            Shown::Json("{\n  \"a\": 1\n}".into())
        );
        assert_eq!(show(Some(b"42")), Shown::Text("42".into()));
        assert_eq!(
            show(Some(b"<script>x</script>")),
            Shown::Text("<script>x</script>".into())
        );
        assert_eq!(show(Some(&[0, 1, 0xff])), Shown::Hex("0001ff".into()));
        assert_eq!(show(Some(b"a\x07b")), Shown::Hex("610762".into()));
        assert_eq!(show(None), Shown::Null);
    }

    #[test]
    fn long_values_are_cut_with_their_length() {
        let big = vec![b'x'; MAX_SHOWN + 10];
        match show(Some(&big)) {
            Shown::Text(t) => assert!(t.ends_with(&format!("({} bytes in all)", MAX_SHOWN + 10))),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn filters_match_text_or_hex() {
        assert!(contains(Some(b"hello world"), "lo w"));
        assert!(!contains(Some(b"hello"), "x"));
        assert!(contains(Some(&[0xff, 0xde, 0xad]), "DEAD"));
        assert!(contains(Some(b"a\x07b"), "610762"));
        assert!(!contains(None, ""));
    }
}
