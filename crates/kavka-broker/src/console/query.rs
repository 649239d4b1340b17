//! Query strings, parsed by hand (`a=1&b=x%20y`) so that every malformed
//! parameter gets a sentence naming it instead of a generic rejection.

use std::collections::HashMap;

use super::error::ApiError;

/// The decoded parameters of one query string; the last of repeated names wins.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    /// Parses `raw` (without the `?`); `+` is a space, `%XY` a byte.
    pub(crate) fn parse(raw: Option<&str>) -> Result<Self, ApiError> {
        let mut map = HashMap::new();
        for pair in raw.unwrap_or("").split('&').filter(|p| !p.is_empty()) {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            map.insert(decode(name)?, decode(value)?);
        }
        Ok(Self(map))
    }

    /// The parameter, absent when missing or empty.
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .get(name)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    /// An integer parameter; a value that is not one is a 400 naming it.
    pub(crate) fn int(&self, name: &str) -> Result<Option<i64>, ApiError> {
        self.get(name)
            .map(|v| {
                v.trim().parse::<i64>().map_err(|_| {
                    ApiError::bad_request(format!("{name} must be a whole number, not {v:?}"))
                })
            })
            .transpose()
    }
}

fn decode(s: &str) -> Result<String, ApiError> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                let hex = bytes
                    .get(i + 1..i + 3)
                    .and_then(|h| std::str::from_utf8(h).ok())
                    .and_then(|h| u8::from_str_radix(h, 16).ok())
                    .ok_or_else(|| ApiError::bad_request("malformed %-escape in the query"))?;
                out.push(hex);
                i += 2;
            }
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8(out).map_err(|_| ApiError::bad_request("the query is not UTF-8"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_escapes_and_names_bad_numbers() {
        let q = Query::parse(Some("text=a%20b+c&offset=12&empty=&x")).unwrap();
        assert_eq!(q.get("text"), Some("a b c"));
        assert_eq!(q.int("offset").unwrap(), Some(12));
        assert_eq!(q.get("empty"), None);
        assert_eq!(q.int("missing").unwrap(), None);
        let bad = Query::parse(Some("offset=ten")).unwrap();
        assert!(bad.int("offset").unwrap_err().message.contains("offset"));
        assert!(Query::parse(Some("a=%zz")).is_err());
        assert!(Query::parse(Some("a=%e2")).is_err());
    }
}
