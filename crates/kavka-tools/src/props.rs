//! Java-style properties: `--command-config` files and repeated `key=value` options.

use std::path::Path;

use crate::error::ToolError;

/// Ordered `key=value` pairs; a later key wins over an earlier one.
#[derive(Debug, Default, Clone)]
pub struct Props(Vec<(String, String)>);

impl Props {
    /// Parses `key=value` arguments as given to `--property`, `--command-property`, ...
    pub fn from_pairs(pairs: &[String]) -> Result<Self, ToolError> {
        let mut props = Props::default();
        for pair in pairs {
            let (k, v) = pair.split_once('=').ok_or_else(|| {
                ToolError::Usage(format!("Invalid command line properties: {pair}"))
            })?;
            props.set(k.trim(), v.trim());
        }
        Ok(props)
    }

    /// Reads a properties file (`key=value`, `key: value` or `key value`; `#`/`!` comments).
    pub fn load(path: &Path) -> Result<Self, ToolError> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            ToolError::Usage(format!(
                "Cannot read properties file {}: {e}",
                path.display()
            ))
        })?;
        Ok(Self::parse(&text))
    }

    /// Parses the text of a properties file.
    pub fn parse(text: &str) -> Self {
        let mut props = Props::default();
        for line in text.lines() {
            let line = line.trim_start();
            if line.is_empty() || line.starts_with('#') || line.starts_with('!') {
                continue;
            }
            let split = line.find(['=', ':', ' ', '\t']).unwrap_or(line.len());
            let key = &line[..split];
            let rest = line[split..].trim_start();
            let value = rest.strip_prefix(['=', ':']).unwrap_or(rest).trim();
            props.set(key, value);
        }
        props
    }

    /// Sets `key`, replacing an earlier value.
    pub fn set(&mut self, key: &str, value: &str) {
        self.0.retain(|(k, _)| k != key);
        self.0.push((key.to_string(), value.to_string()));
    }

    /// The value of `key`.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }

    /// `key` as a boolean, Java's `Boolean.parseBoolean`: only "true" (any case) is true.
    pub fn flag(&self, key: &str) -> bool {
        self.get(key)
            .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }

    /// Adds every pair of `other`, which wins.
    /// A property file (if any) overlaid, in order, by lists of `key=value`
    /// flags: how every tool layers `--x.config` under `--property` options.
    pub fn layered(file: Option<&Path>, flags: &[&[String]]) -> Result<Self, ToolError> {
        let mut props = match file {
            Some(f) => Props::load(f)?,
            None => Props::default(),
        };
        for pairs in flags {
            props.merge(&Props::from_pairs(pairs)?);
        }
        Ok(props)
    }

    pub fn merge(&mut self, other: &Props) {
        for (k, v) in &other.0 {
            self.set(k, v);
        }
    }

    /// The pairs in order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0.iter().map(|(k, v)| (k.as_str(), v.as_str()))
    }
}

/// Java's `StringEscapeUtils`-like unescaping Kafka applies to separators (`\t`, `\n`, ...).
pub fn unescape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c != '\\' {
            out.push(c);
            continue;
        }
        match chars.next() {
            Some('t') => out.push('\t'),
            Some('n') => out.push('\n'),
            Some('r') => out.push('\r'),
            Some('\\') => out.push('\\'),
            Some(other) => {
                out.push('\\');
                out.push(other);
            }
            None => out.push('\\'),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn properties_file_accepts_java_separators_and_comments() {
        let p = Props::parse("# c\n! c\nacks=all\nclient.id: me\nlinger.ms 5\n  retries = 3\n");
        assert_eq!(p.get("acks"), Some("all"));
        assert_eq!(p.get("client.id"), Some("me"));
        assert_eq!(p.get("linger.ms"), Some("5"));
        assert_eq!(p.get("retries"), Some("3"));
    }

    #[test]
    fn later_pair_wins() {
        let p = Props::from_pairs(&["a=1".into(), "a=2".into()]).expect("pairs");
        assert_eq!(p.get("a"), Some("2"));
        assert!(Props::from_pairs(&["novalue".into()]).is_err());
    }
}
