//! JAAS configuration as Kafka's `sasl.jaas.config` properties hold it:
//!
//! ```text
//! <loginModuleClass> <controlFlag> (<option>=<value>)*;
//! ```
//!
//! Values are words (`[A-Za-z0-9._$-]`) or quoted strings (`"..."` or `'...'`,
//! with backslash escapes); `//` and `/* */` comments are skipped, as Java's
//! `StreamTokenizer` in Kafka's `JaasConfig` does.

use std::collections::BTreeMap;

/// Kafka's login modules for the mechanisms Kavka serves.
pub const PLAIN_LOGIN_MODULE: &str = "org.apache.kafka.common.security.plain.PlainLoginModule";
pub const SCRAM_LOGIN_MODULE: &str = "org.apache.kafka.common.security.scram.ScramLoginModule";

/// How a login module takes part (only meaningful to Java's JAAS; kept for errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ControlFlag {
    Required,
    Requisite,
    Sufficient,
    Optional,
}

/// One login module with its options.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JaasEntry {
    pub login_module: String,
    pub flag: ControlFlag,
    pub options: BTreeMap<String, String>,
}

impl JaasEntry {
    /// The PLAIN users this entry defines (`user_<name>="<password>"`).
    pub fn plain_users(&self) -> BTreeMap<String, String> {
        self.options
            .iter()
            .filter_map(|(k, v)| Some((k.strip_prefix("user_")?.to_string(), v.clone())))
            .collect()
    }

    /// `username` and `password`: the identity this entry logs in as.
    pub fn credentials(&self) -> Option<(&str, &str)> {
        Some((
            self.options.get("username")?.as_str(),
            self.options.get("password")?.as_str(),
        ))
    }
}

/// Why a JAAS configuration string is unusable (Kafka's wording where it has one).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JaasError {
    #[error("Login module not specified in JAAS config")]
    NoLoginModule,
    #[error("JAAS config property contains {0} login modules, should be 1 module")]
    TooManyModules(usize),
    #[error("Login module control flag not specified in JAAS config")]
    NoControlFlag,
    #[error("Invalid login module control flag '{0}' in JAAS config")]
    BadControlFlag(String),
    #[error("Value not specified for key '{0}' in JAAS config")]
    NoValue(String),
    #[error("JAAS config entry not terminated by semi-colon")]
    NotTerminated,
    #[error("unterminated quoted string in JAAS config")]
    UnterminatedQuote,
    #[error("unterminated comment in JAAS config")]
    UnterminatedComment,
    #[error("unexpected '{0}' in JAAS config")]
    Unexpected(String),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Token {
    Word(String),
    Quoted(String),
    Equals,
    Semicolon,
}

impl Token {
    fn text(&self) -> Option<&str> {
        match self {
            Token::Word(s) | Token::Quoted(s) => Some(s),
            _ => None,
        }
    }
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '$') || (c as u32) >= 160
}

fn tokenize(text: &str) -> Result<Vec<Token>, JaasError> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            c if c.is_whitespace() || (c as u32) < 32 => {}
            '/' if chars.peek() == Some(&'/') => {
                for c in chars.by_ref() {
                    if c == '\n' || c == '\r' {
                        break;
                    }
                }
            }
            '/' if chars.peek() == Some(&'*') => {
                chars.next();
                let mut prev = '\0';
                let mut closed = false;
                for c in chars.by_ref() {
                    if prev == '*' && c == '/' {
                        closed = true;
                        break;
                    }
                    prev = c;
                }
                if !closed {
                    return Err(JaasError::UnterminatedComment);
                }
            }
            '"' | '\'' => {
                let quote = c;
                let mut value = String::new();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        c if c == quote => {
                            closed = true;
                            break;
                        }
                        '\\' => match chars.next() {
                            Some('n') => value.push('\n'),
                            Some('t') => value.push('\t'),
                            Some('r') => value.push('\r'),
                            Some(other) => value.push(other),
                            None => return Err(JaasError::UnterminatedQuote),
                        },
                        // Java's tokenizer ends a quoted string at a line end.
                        '\n' | '\r' => return Err(JaasError::UnterminatedQuote),
                        c => value.push(c),
                    }
                }
                if !closed {
                    return Err(JaasError::UnterminatedQuote);
                }
                tokens.push(Token::Quoted(value));
            }
            '=' => tokens.push(Token::Equals),
            ';' => tokens.push(Token::Semicolon),
            c if is_word_char(c) => {
                let mut word = c.to_string();
                while let Some(&n) = chars.peek() {
                    if !is_word_char(n) {
                        break;
                    }
                    word.push(n);
                    chars.next();
                }
                tokens.push(Token::Word(word));
            }
            other => return Err(JaasError::Unexpected(other.to_string())),
        }
    }
    Ok(tokens)
}

/// Parses every login module entry in `text`.
pub fn parse(text: &str) -> Result<Vec<JaasEntry>, JaasError> {
    let tokens = tokenize(text)?;
    let mut entries = Vec::new();
    let mut it = tokens.into_iter().peekable();
    while let Some(token) = it.next() {
        let login_module = match token {
            Token::Word(w) | Token::Quoted(w) => w,
            Token::Equals => return Err(JaasError::Unexpected("=".into())),
            Token::Semicolon => return Err(JaasError::Unexpected(";".into())),
        };
        let flag = match it.next() {
            None => return Err(JaasError::NoControlFlag),
            Some(t) => {
                let text = t.text().unwrap_or_default().to_string();
                match text.to_ascii_uppercase().as_str() {
                    "REQUIRED" => ControlFlag::Required,
                    "REQUISITE" => ControlFlag::Requisite,
                    "SUFFICIENT" => ControlFlag::Sufficient,
                    "OPTIONAL" => ControlFlag::Optional,
                    _ => return Err(JaasError::BadControlFlag(text)),
                }
            }
        };
        let mut options = BTreeMap::new();
        let mut terminated = false;
        while let Some(token) = it.next() {
            let key = match token {
                Token::Semicolon => {
                    terminated = true;
                    break;
                }
                Token::Word(k) | Token::Quoted(k) => k,
                Token::Equals => return Err(JaasError::Unexpected("=".into())),
            };
            if it.next() != Some(Token::Equals) {
                return Err(JaasError::NoValue(key));
            }
            let value = match it.next() {
                Some(Token::Word(v)) | Some(Token::Quoted(v)) => v,
                _ => return Err(JaasError::NoValue(key)),
            };
            options.insert(key, value);
        }
        if !terminated {
            return Err(JaasError::NotTerminated);
        }
        entries.push(JaasEntry {
            login_module,
            flag,
            options,
        });
    }
    if entries.is_empty() {
        return Err(JaasError::NoLoginModule);
    }
    Ok(entries)
}

/// Parses a `sasl.jaas.config` property, which must hold exactly one module.
pub fn parse_single(text: &str) -> Result<JaasEntry, JaasError> {
    let mut entries = parse(text)?;
    if entries.len() != 1 {
        return Err(JaasError::TooManyModules(entries.len()));
    }
    entries.pop().ok_or(JaasError::NoLoginModule)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kafkas_plain_example_parses_with_users() {
        let e = parse_single(
            r#"org.apache.kafka.common.security.plain.PlainLoginModule required
               username="admin" password="admin-secret"
               user_admin="admin-secret" user_alice="alice-secret";"#,
        )
        .unwrap();
        assert_eq!(e.login_module, PLAIN_LOGIN_MODULE);
        assert_eq!(e.flag, ControlFlag::Required);
        assert_eq!(e.credentials(), Some(("admin", "admin-secret")));
        let users = e.plain_users();
        assert_eq!(users.len(), 2);
        assert_eq!(users["alice"], "alice-secret");
    }

    #[test]
    fn quoted_values_keep_escapes_spaces_and_semicolons() {
        let e = parse_single(
            r#"a.B required password="p\"w; x=y" other='single' plain=word.with-dash_$ ;"#,
        )
        .unwrap();
        assert_eq!(e.options["password"], "p\"w; x=y");
        assert_eq!(e.options["other"], "single");
        assert_eq!(e.options["plain"], "word.with-dash_$");
    }

    #[test]
    fn comments_are_skipped() {
        let e = parse_single("m required // a comment\n /* k=v */ a=\"b\";").unwrap();
        assert_eq!(e.options.len(), 1);
    }

    #[test]
    fn malformed_configs_are_errors() {
        assert_eq!(parse_single(""), Err(JaasError::NoLoginModule));
        assert_eq!(parse_single("m"), Err(JaasError::NoControlFlag));
        assert_eq!(
            parse_single("m mandatory;"),
            Err(JaasError::BadControlFlag("mandatory".into()))
        );
        assert_eq!(
            parse_single("m required a=\"b\""),
            Err(JaasError::NotTerminated)
        );
        assert_eq!(
            parse_single("m required a;"),
            Err(JaasError::NoValue("a".into()))
        );
        assert_eq!(
            parse_single("m required a=;"),
            Err(JaasError::NoValue("a".into()))
        );
        assert_eq!(
            parse_single("m required a=\"b;"),
            Err(JaasError::UnterminatedQuote)
        );
        assert_eq!(
            parse_single("m required; n required;"),
            Err(JaasError::TooManyModules(2))
        );
        assert_eq!(
            parse_single("m required a=b /* open"),
            Err(JaasError::UnterminatedComment)
        );
        assert!(matches!(
            parse_single("m required a=b, c=d;"),
            Err(JaasError::Unexpected(_))
        ));
    }

    #[test]
    fn arbitrary_text_never_panics() {
        for s in [
            "\"",
            "'\\",
            "/",
            "/*",
            "=",
            ";;",
            "m r\u{1F600}=\"\\",
            "é required;",
        ] {
            let _ = parse(s);
        }
    }
}
