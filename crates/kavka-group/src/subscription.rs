//! Reads the topic list out of a "consumer" protocol subscription, so OffsetDelete
//! can tell whether an active group still consumes a topic.

/// Topics of a ConsumerProtocolSubscription (any version: all start with
/// version: int16, topics: array of int16-length strings; the format is not flexible).
/// None when the bytes are not a subscription.
pub(crate) fn topics(metadata: &[u8]) -> Option<Vec<String>> {
    let mut rest = metadata;
    let _version = take(&mut rest, 2)?;
    let count = i32::from_be_bytes(take(&mut rest, 4)?.try_into().ok()?);
    let mut topics = Vec::new();
    for _ in 0..count.max(0) {
        let len = i16::from_be_bytes(take(&mut rest, 2)?.try_into().ok()?);
        let len = usize::try_from(len).ok()?;
        topics.push(String::from_utf8(take(&mut rest, len)?.to_vec()).ok()?);
    }
    Some(topics)
}

fn take<'a>(rest: &mut &'a [u8], n: usize) -> Option<&'a [u8]> {
    if rest.len() < n {
        return None;
    }
    let (head, tail) = rest.split_at(n);
    *rest = tail;
    Some(head)
}

/// Encodes a minimal version-0 subscription (tests and tools).
#[cfg(test)]
pub(crate) fn encode(topics: &[&str]) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0i16.to_be_bytes());
    out.extend_from_slice(&(topics.len() as i32).to_be_bytes());
    for t in topics {
        out.extend_from_slice(&(t.len() as i16).to_be_bytes());
        out.extend_from_slice(t.as_bytes());
    }
    out.extend_from_slice(&(-1i32).to_be_bytes());
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_topics_and_rejects_garbage() {
        assert_eq!(
            topics(&encode(&["a", "bc"])),
            Some(vec!["a".to_string(), "bc".to_string()])
        );
        assert_eq!(topics(&[0, 1, 0]), None);
    }
}
