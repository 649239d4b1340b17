//! `ssl.principal.mapping.rules`: how Kafka turns a client certificate's
//! distinguished name into a principal name.
//!
//! Rules are `RULE:pattern/replacement/` with an optional `L` or `U` after the
//! last slash (lower or upper case the result), or `DEFAULT` (the DN as it is),
//! separated by commas. The first rule whose pattern matches the whole DN
//! decides; when none does, the client is refused. Patterns are Java regular
//! expressions in Kafka; the common subset (groups, classes, lazy quantifiers,
//! anchors) means the same in Rust's `regex`, and replacements use Java's
//! `$n` references, which are expanded here as Java expands them.

use regex::{Captures, Regex};

/// Why `ssl.principal.mapping.rules` cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MappingRulesError {
    #[error("Invalid rule: `{rule}`")]
    InvalidRule { rule: String },
    #[error("Invalid rule: `{rule}`, unmatched substring: `{rest}`")]
    Unmatched { rule: String, rest: String },
    #[error("Invalid rule pattern `{pattern}`: {reason}")]
    Pattern { pattern: String, reason: String },
}

/// No rule applied to a DN: Kafka refuses the connection.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("No rules apply to {dn}, rules {rules}")]
pub struct NoMatchingRule {
    pub dn: String,
    pub rules: String,
}

#[derive(Debug, Clone)]
enum Rule {
    Default,
    Replace {
        source: String,
        pattern: Regex,
        /// The pattern anchored at both ends: Java's `Matcher.matches()`.
        whole: Regex,
        replacement: String,
        case: Case,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Case {
    Keep,
    Lower,
    Upper,
}

/// The parsed rules of `ssl.principal.mapping.rules`.
#[derive(Debug, Clone)]
pub struct PrincipalMapper {
    rules: Vec<Rule>,
}

/// One rule's text: `DEFAULT`, or `RULE:pattern/replacement/` and a case flag,
/// where `\` escapes the next character in the pattern and replacement.
const RULE: &str = r"(DEFAULT)|RULE:((?:\\.|[^\\/])*)/((?:\\.|[^\\/])*)/([LU]?).*?|(.*?)";

impl PrincipalMapper {
    /// Kafka's default: the DN as it is.
    pub fn default_rules() -> Self {
        Self {
            rules: vec![Rule::Default],
        }
    }

    /// Parses the rules as Kafka does: empty entries are skipped, anything a rule
    /// cannot be is an error.
    pub fn parse(rules: &str) -> Result<Self, MappingRulesError> {
        // Kafka's splitter: rules separated by commas, blanks around them ignored.
        let splitter = Regex::new(&format!(r"\s*({RULE})\s*(?:,\s*|$)")).map_err(internal)?;
        let parser = Regex::new(&format!("^(?:{RULE})")).map_err(internal)?;
        let mut parsed = Vec::new();
        for found in splitter.captures_iter(rules.trim()) {
            let Some(text) = found.get(1).map(|m| m.as_str()) else {
                continue;
            };
            let Some(caps) = parser.captures(text) else {
                return Err(MappingRulesError::InvalidRule {
                    rule: text.to_string(),
                });
            };
            let end = caps.get(0).map_or(0, |m| m.end());
            if end != text.len() {
                return Err(MappingRulesError::Unmatched {
                    rule: text.to_string(),
                    rest: text[end..].to_string(),
                });
            }
            if caps.get(1).is_some() {
                parsed.push(Rule::Default);
            } else if let Some(pattern) = caps.get(2) {
                let source = pattern.as_str().to_string();
                let compiled = Regex::new(&source).map_err(|e| MappingRulesError::Pattern {
                    pattern: source.clone(),
                    reason: e.to_string(),
                })?;
                let case = match caps.get(4).map(|m| m.as_str()) {
                    Some("L") => Case::Lower,
                    Some("U") => Case::Upper,
                    _ => Case::Keep,
                };
                let whole = Regex::new(&format!("^(?:{source})$")).map_err(|e| {
                    MappingRulesError::Pattern {
                        pattern: source.clone(),
                        reason: e.to_string(),
                    }
                })?;
                parsed.push(Rule::Replace {
                    source,
                    pattern: compiled,
                    whole,
                    replacement: caps.get(3).map_or("", |m| m.as_str()).to_string(),
                    case,
                });
            } else if !caps.get(5).is_some_and(|m| m.as_str().is_empty()) {
                return Err(MappingRulesError::InvalidRule {
                    rule: text.to_string(),
                });
            }
        }
        Ok(Self { rules: parsed })
    }

    /// The principal name for `dn` (a DN in Java's RFC 2253 form).
    pub fn map(&self, dn: &str) -> Result<String, NoMatchingRule> {
        for rule in &self.rules {
            match rule {
                Rule::Default => return Ok(dn.to_string()),
                Rule::Replace {
                    pattern,
                    whole,
                    replacement,
                    case,
                    ..
                } => {
                    if !whole.is_match(dn) {
                        continue;
                    }
                    let mapped = replace_all(pattern, dn, replacement);
                    return Ok(match case {
                        Case::Keep => mapped,
                        Case::Lower => mapped.to_lowercase(),
                        Case::Upper => mapped.to_uppercase(),
                    });
                }
            }
        }
        Err(NoMatchingRule {
            dn: dn.to_string(),
            rules: self.describe(),
        })
    }

    /// The rules as Kafka lists them in its error message: `[RULE:p/r/L, DEFAULT]`.
    pub fn describe(&self) -> String {
        let rules: Vec<String> = self
            .rules
            .iter()
            .map(|r| match r {
                Rule::Default => "DEFAULT".to_string(),
                Rule::Replace {
                    source,
                    replacement,
                    case,
                    ..
                } => {
                    let flag = match case {
                        Case::Keep => "",
                        Case::Lower => "/L",
                        Case::Upper => "/U",
                    };
                    format!("RULE:{source}/{replacement}{flag}")
                }
            })
            .collect();
        format!("[{}]", rules.join(", "))
    }
}

fn internal(e: regex::Error) -> MappingRulesError {
    MappingRulesError::Pattern {
        pattern: RULE.to_string(),
        reason: e.to_string(),
    }
}

/// Java's `String.replaceAll(pattern, replacement)`, with Kafka's treatment
/// of references to groups the pattern does not have (kept as literal text).
fn replace_all(pattern: &Regex, input: &str, replacement: &str) -> String {
    let groups = pattern.captures_len() - 1;
    let mut out = String::with_capacity(input.len());
    let mut last = 0;
    for caps in pattern.captures_iter(input) {
        let Some(whole) = caps.get(0) else { continue };
        out.push_str(&input[last..whole.start()]);
        expand(&caps, replacement, groups, &mut out);
        last = whole.end();
    }
    out.push_str(&input[last..]);
    out
}

/// Expands a Java replacement: `\c` is `c`, `$n` is group n (taking more digits
/// while they still name a group), `${name}` a named group.
fn expand(caps: &Captures<'_>, replacement: &str, groups: usize, out: &mut String) {
    let chars: Vec<char> = replacement.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if c == '\\' && i + 1 < chars.len() {
            out.push(chars[i + 1]);
            i += 2;
            continue;
        }
        if c != '$' {
            out.push(c);
            i += 1;
            continue;
        }
        if chars.get(i + 1) == Some(&'{') {
            if let Some(close) = chars[i + 2..].iter().position(|&c| c == '}') {
                let name: String = chars[i + 2..i + 2 + close].iter().collect();
                if let Some(m) = caps.name(&name) {
                    out.push_str(m.as_str());
                }
                i += close + 3;
                continue;
            }
        }
        let Some(first) = chars.get(i + 1).and_then(|d| d.to_digit(10)) else {
            out.push('$');
            i += 1;
            continue;
        };
        let mut group = first as usize;
        let mut j = i + 2;
        if group > groups {
            // Kafka escapes such a reference: it stays in the name as written.
            out.push('$');
            i += 1;
            continue;
        }
        while let Some(d) = chars.get(j).and_then(|d| d.to_digit(10)) {
            let longer = group * 10 + d as usize;
            if longer > groups {
                break;
            }
            group = longer;
            j += 1;
        }
        if let Some(m) = caps.get(group) {
            out.push_str(m.as_str());
        }
        i = j;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mapper(rules: &str) -> PrincipalMapper {
        PrincipalMapper::parse(rules).unwrap_or_else(|e| panic!("{rules}: {e}"))
    }

    #[test]
    fn kafkas_documented_examples_map_as_in_kafka() {
        let m = mapper(
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L, \
             RULE:^CN=(.*?),OU=(.*?),O=(.*?),L=(.*?),ST=(.*?),C=(.*?)$/$1@$2/L, \
             RULE:^cn=(.*?),ou=(.*?),dc=(.*?),dc=(.*?)$/$1@$2/U, \
             RULE:^.*[Cc][Nn]=([a-zA-Z0-9.]*).*$/$1/U, DEFAULT",
        );
        assert_eq!(m.map("CN=Duke,OU=ServiceUsers,O=Org,C=US").unwrap(), "duke");
        assert_eq!(
            m.map("CN=Duke,OU=SME,O=mycp,L=Fulton,ST=MD,C=US").unwrap(),
            "duke@sme"
        );
        assert_eq!(m.map("cn=duke,ou=sme,dc=mycp,dc=com").unwrap(), "DUKE@SME");
        assert_eq!(
            m.map("cN=duke,OU=JavaSoft,O=Sun Microsystems").unwrap(),
            "DUKE"
        );
        assert_eq!(
            m.map("OU=JavaSoft,O=Sun Microsystems,C=US").unwrap(),
            "OU=JavaSoft,O=Sun Microsystems,C=US"
        );
    }

    #[test]
    fn default_keeps_the_dn_and_no_match_refuses() {
        let dn = "CN=client,OU=Eng,O=Kavka";
        assert_eq!(PrincipalMapper::default_rules().map(dn).unwrap(), dn);
        let only = mapper("RULE:^CN=(.*?),OU=Ops.*$/$1/");
        let err = only.map(dn).unwrap_err();
        assert_eq!(
            err.to_string(),
            "No rules apply to CN=client,OU=Eng,O=Kavka, rules [RULE:^CN=(.*?),OU=Ops.*$/$1]"
        );
        assert_eq!(mapper("").map(dn).unwrap_err().rules, "[]");
    }

    #[test]
    fn escaped_commas_in_names_survive() {
        let m = mapper(r"RULE:^CN=((\\, *|\w)+)(,.*|$)/$1/,DEFAULT");
        assert_eq!(
            m.map(r"CN=Tkac\, Adam,OU=ITZ,DC=geodis,DC=cz").unwrap(),
            r"Tkac\, Adam"
        );
    }

    #[test]
    fn rules_split_as_kafka_splits_them() {
        for (rules, listed) in [
            ("", "[]"),
            ("DEFAULT", "[DEFAULT]"),
            ("RULE://", "[RULE:/]"),
            ("RULE:/.*/L", "[RULE:/.*/L]"),
            ("  RULE:// ,  DEFAULT  ", "[RULE:/, DEFAULT]"),
            (
                "  RULE:  /     /U   ,DEFAULT  ",
                "[RULE:  /     /U, DEFAULT]",
            ),
            (",   , , ,      , , ,   ", "[]"),
            (",,RULE://,,,DEFAULT,,", "[RULE:/, DEFAULT]"),
            (
                "  RULE:([A-Z]*)/$1/U   ,RULE:([a-z]+)/$1/,   DEFAULT  ",
                "[RULE:([A-Z]*)/$1/U, RULE:([a-z]+)/$1, DEFAULT]",
            ),
        ] {
            assert_eq!(mapper(rules).describe(), listed, "{rules:?}");
        }
    }

    #[test]
    fn malformed_rules_are_refused() {
        for bad in [
            "default",
            "DEFAUL",
            "DEFAULT/L",
            "DEFAULT/U",
            "RULE:CN=(.*?),OU=ServiceUsers.*/$1",
            "rule:^CN=(.*?),OU=ServiceUsers.*$/$1/",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/$1/L/U",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/L",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/U",
            "RULE:^CN=(.*?),OU=ServiceUsers.*$/LU",
        ] {
            assert!(PrincipalMapper::parse(bad).is_err(), "{bad} accepted");
        }
    }

    #[test]
    fn references_to_missing_groups_stay_literal() {
        let m = mapper("RULE:^CN=(.*?),O=(.*)$/$1@$3/");
        assert_eq!(m.map("CN=a,O=b").unwrap(), "a@$3");
        let m = mapper("RULE:^CN=(.*?),O=(.*)$/$12/");
        assert_eq!(m.map("CN=a,O=b").unwrap(), "a2");
    }
}
