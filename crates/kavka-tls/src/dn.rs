//! A certificate subject as Java prints it: `X500Principal.getName()`, the
//! RFC 2253 form Kafka's principal builder starts from (`CN=client,OU=Eng,O=Acme`).
//!
//! Java's form has details users' principal mapping rules depend on: the most
//! specific RDN first (the reverse of the encoding), keywords only for CN, C, L,
//! ST, O, OU, STREET, DC and UID (any other attribute is its dotted OID with the
//! value as `#` and the hex of its DER encoding), every one of `,=+<>#;"\`
//! escaped with a backslash, and leading or trailing spaces escaped too.

/// Why a subject could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("malformed distinguished name: {0}")]
pub struct DnError(&'static str);

impl DnError {
    pub(crate) fn new(reason: &'static str) -> Self {
        Self(reason)
    }
}

/// The RFC 2253 string of a DER-encoded X.500 `Name`, as Java's
/// `X500Principal.getName()` returns it.
pub fn rfc2253_from_der(name: &[u8]) -> Result<String, DnError> {
    let (tag, rdns, rest) = tlv(name)?;
    if tag != SEQUENCE || !rest.is_empty() {
        return Err(DnError("a Name is one SEQUENCE"));
    }
    let mut printed: Vec<String> = Vec::new();
    let mut input = rdns;
    while !input.is_empty() {
        let (tag, set, rest) = tlv(input)?;
        if tag != SET {
            return Err(DnError("an RDN is a SET"));
        }
        input = rest;
        let mut avas: Vec<String> = Vec::new();
        let mut members = set;
        while !members.is_empty() {
            let (tag, ava, rest) = tlv(members)?;
            if tag != SEQUENCE {
                return Err(DnError("an attribute is a SEQUENCE"));
            }
            members = rest;
            avas.push(attribute(ava)?);
        }
        printed.push(avas.join("+"));
    }
    printed.reverse();
    Ok(printed.join(","))
}

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;

/// One `type=value`.
fn attribute(ava: &[u8]) -> Result<String, DnError> {
    let (tag, oid, value_tlv) = tlv(ava)?;
    if tag != OID {
        return Err(DnError("an attribute type is an OID"));
    }
    let (value_tag, value, rest) = tlv(value_tlv)?;
    if !rest.is_empty() {
        return Err(DnError("trailing bytes after an attribute value"));
    }
    let dotted = dotted_oid(oid)?;
    let keyword = keyword(&dotted);
    let text = keyword.and_then(|_| decode_string(value_tag, value));
    let mut out = String::new();
    out.push_str(keyword.unwrap_or(&dotted));
    out.push('=');
    match text {
        Some(text) => out.push_str(&escape(&text)),
        None => {
            // Java prints what it does not print as text as the hex of its DER.
            out.push('#');
            for b in value_tlv {
                out.push_str(&format!("{b:02x}"));
            }
        }
    }
    Ok(out)
}

/// The keywords Java's RFC 2253 form uses; other attributes print as OIDs.
fn keyword(oid: &str) -> Option<&'static str> {
    Some(match oid {
        "2.5.4.3" => "CN",
        "2.5.4.6" => "C",
        "2.5.4.7" => "L",
        "2.5.4.8" => "ST",
        "2.5.4.10" => "O",
        "2.5.4.11" => "OU",
        "2.5.4.9" => "STREET",
        "0.9.2342.19200300.100.1.25" => "DC",
        "0.9.2342.19200300.100.1.1" => "UID",
        _ => return None,
    })
}

/// The string types Java prints as text (its `isDerString`, non-canonical).
fn decode_string(tag: u8, value: &[u8]) -> Option<String> {
    match tag {
        // PrintableString, IA5String, UTF8String
        0x13 | 0x16 | 0x0c => std::str::from_utf8(value).ok().map(str::to_string),
        // T61String and GeneralString: Java reads them as ISO-8859-1.
        0x14 | 0x1b => Some(value.iter().map(|&b| char::from(b)).collect()),
        // BMPString: UTF-16BE.
        0x1e => {
            if !value.len().is_multiple_of(2) {
                return None;
            }
            let units: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            String::from_utf16(&units).ok()
        }
        _ => None,
    }
}

/// Java's escaping: the special characters always, spaces (and CR) only at the
/// ends, NUL as `\00`.
fn escape(text: &str) -> String {
    const ESCAPED: &str = ",=+<>#;\"\\";
    let mut body: Vec<char> = Vec::with_capacity(text.len());
    for c in text.chars() {
        if c == '\0' {
            body.extend(['\\', '0', '0']);
            continue;
        }
        if ESCAPED.contains(c) {
            body.push('\\');
        }
        body.push(c);
    }
    let blank = |c: &char| *c == ' ' || *c == '\r';
    let lead = body.iter().take_while(|c| blank(c)).count();
    let trail = body.len() - body.iter().rev().take_while(|c| blank(c)).count();
    let mut out = String::with_capacity(body.len() + 4);
    for (i, c) in body.iter().enumerate() {
        if i < lead || i >= trail.max(lead) {
            out.push('\\');
        }
        out.push(*c);
    }
    out
}

fn dotted_oid(oid: &[u8]) -> Result<String, DnError> {
    let mut arcs: Vec<u64> = Vec::new();
    let mut acc: u64 = 0;
    for (i, b) in oid.iter().enumerate() {
        if acc > (u64::MAX >> 7) {
            return Err(DnError("an OID arc is too large"));
        }
        acc = (acc << 7) | u64::from(b & 0x7f);
        if b & 0x80 == 0 {
            if arcs.is_empty() {
                let (first, second) = match acc {
                    0..=39 => (0, acc),
                    40..=79 => (1, acc - 40),
                    _ => (2, acc - 80),
                };
                arcs.extend([first, second]);
            } else {
                arcs.push(acc);
            }
            acc = 0;
        } else if i + 1 == oid.len() {
            return Err(DnError("an OID ends inside an arc"));
        }
    }
    if arcs.is_empty() {
        return Err(DnError("an empty OID"));
    }
    Ok(arcs
        .iter()
        .map(u64::to_string)
        .collect::<Vec<_>>()
        .join("."))
}

/// Splits one DER tag-length-value off `input`: (tag, value, rest).
fn tlv(input: &[u8]) -> Result<(u8, &[u8], &[u8]), DnError> {
    let (&tag, after_tag) = input.split_first().ok_or(DnError("truncated"))?;
    if tag & 0x1f == 0x1f {
        return Err(DnError("multi-byte tags do not occur in names"));
    }
    let (&first, mut after_len) = after_tag.split_first().ok_or(DnError("truncated"))?;
    let len = if first < 0x80 {
        usize::from(first)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || after_len.len() < count {
            return Err(DnError("bad length"));
        }
        let mut len = 0usize;
        for &b in &after_len[..count] {
            len = (len << 8) | usize::from(b);
        }
        after_len = &after_len[count..];
        len
    };
    if after_len.len() < len {
        return Err(DnError("truncated"));
    }
    let (value, rest) = after_len.split_at(len);
    Ok((tag, value, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("hex"))
            .collect()
    }

    /// Encodings and the strings Java 17's `X500Principal.getName()` printed for them.
    #[test]
    fn prints_what_java_prints() {
        let cases = [
            (
                "305e310b3009060355040613024445310b3009060355040813024245310f300d060355040713064265726c696e31123010060355040a13094b61766b6120496e63310c300a060355040b1303456e67310f300d06035504031306636c69656e74",
                "CN=client,OU=Eng,O=Kavka Inc,L=Berlin,ST=BE,C=DE",
            ),
            (
                "302431143008060355040a1301783008060355040b130179310c300a06035504031303612c62",
                "CN=a\\,b,O=x+OU=y",
            ),
            (
                "304d311a301806035504070c1173656d693b636f6c6f6e3c3e22715c3d65310e300c060355040b0c052368617368310f300d060355040a1306747261696c20310e300c06035504031305206c656164",
                "CN=\\ lead,O=trail\\ ,OU=\\#hash,L=semi\\;colon\\<\\>\\\"q\\\\\\=e",
            ),
            (
                "30818d310b3009060355040c13024472310b3009060355040513023432310d300b060355040913044d61696e31123010060a0992268993f22c6401011302753131133011060a0992268993f22c6401191603636f6d31173015060a0992268993f22c64011916076578616d706c65310a300806035504031301783114301206092a864886f70d01090116056140622e63",
                "1.2.840.113549.1.9.1=#16056140622e63,CN=x,DC=example,DC=com,UID=u1,STREET=Main,2.5.4.5=#13023432,2.5.4.12=#13024472",
            ),
            ("30123110300e06035504030c074dc3bc6c6c6572", "CN=Müller"),
            ("3000", ""),
        ];
        for (der, java) in cases {
            assert_eq!(rfc2253_from_der(&hex(der)).as_deref(), Ok(java), "{der}");
        }
    }

    #[test]
    fn malformed_names_are_errors_not_panics() {
        for bad in [
            "",
            "30",
            "3005",
            "3003310130",
            "30033101ff",
            "300a3108300606ffffffffff",
        ] {
            assert!(rfc2253_from_der(&hex(bad)).is_err(), "{bad}");
        }
    }
}
