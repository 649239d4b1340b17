//! The JSON Kafka's decoders print: Jackson's compact form of the objects its
//! generated `JsonConverter`s build. Fields keep their schema order, strings are
//! escaped as Jackson escapes them, `bytes` fields are standard base64 and UUIDs
//! Kafka's URL-safe base64 without padding.

use std::fmt::{self, Write};

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;

/// A JSON value, objects in insertion order.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json {
    Null,
    Int(i64),
    Str(String),
    Array(Vec<Json>),
    Object(Vec<(&'static str, Json)>),
}

impl Json {
    /// A `string` field.
    pub(crate) fn str(s: &str) -> Json {
        Json::Str(s.to_string())
    }

    /// A nullable `string` field.
    pub(crate) fn opt_str(s: Option<&str>) -> Json {
        s.map_or(Json::Null, Json::str)
    }

    /// A `bytes` field: Jackson writes a binary node as standard base64.
    pub(crate) fn bytes(b: &[u8]) -> Json {
        Json::Str(STANDARD.encode(b))
    }

    /// A `uuid` field, as Kafka's `Uuid.toString()`.
    pub(crate) fn uuid(id: &[u8; 16]) -> Json {
        Json::Str(URL_SAFE_NO_PAD.encode(id))
    }

    /// An array of integers.
    pub(crate) fn ints<T: Copy + Into<i64>>(values: &[T]) -> Json {
        Json::Array(values.iter().map(|v| Json::Int((*v).into())).collect())
    }

    /// An array of strings.
    pub(crate) fn strs(values: &[String]) -> Json {
        Json::Array(values.iter().map(|v| Json::str(v)).collect())
    }
}

/// Jackson's escaping: `"` and `\`, the five short escapes, other control
/// characters as `\u00XX` in upper case; everything else as is.
fn write_escaped(f: &mut fmt::Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('"')?;
    for c in s.chars() {
        match c {
            '"' => f.write_str("\\\"")?,
            '\\' => f.write_str("\\\\")?,
            '\n' => f.write_str("\\n")?,
            '\r' => f.write_str("\\r")?,
            '\t' => f.write_str("\\t")?,
            '\u{08}' => f.write_str("\\b")?,
            '\u{0c}' => f.write_str("\\f")?,
            c if (c as u32) < 0x20 => write!(f, "\\u{:04X}", c as u32)?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('"')
}

impl fmt::Display for Json {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Null => f.write_str("null"),
            Json::Int(n) => write!(f, "{n}"),
            Json::Str(s) => write_escaped(f, s),
            Json::Array(items) => {
                f.write_char('[')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(']')
            }
            Json::Object(fields) => {
                f.write_char('{')?;
                for (i, (name, value)) in fields.iter().enumerate() {
                    if i > 0 {
                        f.write_char(',')?;
                    }
                    write_escaped(f, name)?;
                    write!(f, ":{value}")?;
                }
                f.write_char('}')
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn objects_print_compact_in_field_order_with_jacksons_escapes() {
        let json = Json::Object(vec![
            ("b", Json::Int(-1)),
            ("a", Json::str("x\"y\\z\n\u{1}é")),
            ("n", Json::Null),
            ("l", Json::ints(&[1i32, 2])),
            ("bytes", Json::bytes(&[0, 1, 2, 0xff])),
        ]);
        assert_eq!(
            json.to_string(),
            r#"{"b":-1,"a":"x\"y\\z\n\u0001é","n":null,"l":[1,2],"bytes":"AAEC/w=="}"#
        );
    }

    #[test]
    fn uuids_print_as_kafkas_uuid_to_string() {
        // Kafka prints the all-zero id (Uuid.ZERO_UUID) this way.
        assert_eq!(
            Json::uuid(&[0; 16]).to_string(),
            "\"AAAAAAAAAAAAAAAAAAAAAA\""
        );
        let mut id = [0u8; 16];
        id[15] = 0xfb;
        assert_eq!(Json::uuid(&id).to_string(), "\"AAAAAAAAAAAAAAAAAAAA-w\"");
    }
}
