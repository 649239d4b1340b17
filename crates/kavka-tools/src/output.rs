//! Formatting shared by the tools, reproducing what Kafka's Java tools print.

/// A Kafka `Uuid` as Kafka prints it: URL-safe base64 of the 16 bytes, no padding.
pub fn kafka_uuid(id: &uuid::Uuid) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let bytes = id.as_bytes();
    let mut out = String::with_capacity(22);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = chunk.len() + 1;
        for i in 0..chars {
            let idx = (n >> (18 - 6 * i)) & 63;
            out.push(char::from(ALPHABET[idx as usize]));
        }
    }
    out
}

/// Java's `String.hashCode`.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// Java's `TopicPartition.hashCode`.
fn topic_partition_hash(topic: &str, partition: i32) -> i32 {
    let result = 31i32.wrapping_add(partition);
    result
        .wrapping_mul(31)
        .wrapping_add(java_string_hash(topic))
}

/// Reorders `(topic, partition, ..)` rows the way a default `HashMap<TopicPartition, _>`
/// filled in the given order iterates them, because Kafka's tools print such maps as
/// they come.
pub fn java_hashmap_order<T>(rows: Vec<T>, key: impl Fn(&T) -> (&str, i32)) -> Vec<T> {
    java_hash_iteration(
        rows,
        |r| {
            let (topic, partition) = key(r);
            topic_partition_hash(topic, partition)
        },
        16,
    )
}

/// Reorders names the way a `HashMap<String, _>` sized for them iterates, as Kafka's
/// `describeTopics(...).allTopicNames()` does.
pub fn java_presized_string_order<T>(rows: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    let presized = rows.len().max(1).next_power_of_two();
    java_hash_iteration(rows, |r| java_string_hash(key(r)), presized)
}

/// Reorders names the way a default `HashMap<String, _>` (or `HashSet`) iterates.
pub fn java_string_order<T>(rows: Vec<T>, key: impl Fn(&T) -> &str) -> Vec<T> {
    java_hash_iteration(rows, |r| java_string_hash(key(r)), 16)
}

/// Reorders rows the way a default `HashMap` keyed by objects with Java hash codes
/// `hash` iterates.
pub fn java_hash_order<T>(rows: Vec<T>, hash: impl Fn(&T) -> i32) -> Vec<T> {
    java_hash_iteration(rows, hash, 16)
}

/// Iteration order of a Java `HashMap` with `initial` table slots after inserting
/// `rows` in order: by bucket, then insertion order (resizes keep that order).
fn java_hash_iteration<T>(rows: Vec<T>, hash: impl Fn(&T) -> i32, initial: usize) -> Vec<T> {
    let mut capacity = initial;
    for size in 1..=rows.len() {
        if size > capacity * 3 / 4 {
            capacity *= 2;
        }
    }
    let mut keyed: Vec<(usize, usize, T)> = rows
        .into_iter()
        .enumerate()
        .map(|(i, row)| {
            let h = hash(&row) as u32;
            let spread = h ^ (h >> 16);
            ((spread as usize) & (capacity - 1), i, row)
        })
        .collect();
    keyed.sort_by_key(|(bucket, i, _)| (*bucket, *i));
    keyed.into_iter().map(|(_, _, row)| row).collect()
}

/// Left-aligns `s` in `width` columns, like Java's `%-Ns`.
pub fn pad(s: &str, width: usize) -> String {
    format!("{s:<width$}")
}

/// A list of node ids as Kafka prints them: `1,2,3`.
pub fn ids(nodes: &[i32]) -> String {
    nodes
        .iter()
        .map(i32::to_string)
        .collect::<Vec<_>>()
        .join(",")
}

/// Wraps `text` at `width` and justifies every line but the last, as argparse4j
/// does: lines break after spaces and after a hyphen inside a word, and the spaces
/// a line lacks are added one per gap, centred on the line's gaps.
pub fn wrap_justified(text: &str, width: usize) -> String {
    // Segments end after a run of spaces, or after a '-' that follows a non-space
    // and precedes an alphanumeric character.
    let chars: Vec<char> = text.chars().collect();
    let mut segments: Vec<String> = Vec::new();
    let mut current = String::new();
    for (i, &c) in chars.iter().enumerate() {
        current.push(c);
        let next = chars.get(i + 1).copied();
        let after_space = c == ' ' && next != Some(' ');
        let after_hyphen =
            c == '-' && i > 0 && chars[i - 1] != ' ' && next.is_some_and(char::is_alphanumeric);
        if after_space || after_hyphen {
            segments.push(std::mem::take(&mut current));
        }
    }
    if !current.is_empty() {
        segments.push(current);
    }
    let mut lines: Vec<String> = Vec::new();
    let mut line = String::new();
    for segment in segments {
        // A word fits with the space after it: argparse4j breaks before a word that
        // would end a line exactly at `width`.
        let fits = line.chars().count() + segment.chars().count() <= width;
        if !line.is_empty() && !fits {
            lines.push(justify(line.trim_end(), width));
            line.clear();
        }
        line.push_str(&segment);
    }
    lines.push(line.trim_end().to_string());
    lines.join("\n")
}

/// One line of `wrap_justified`, widened to `width` at its spaces.
fn justify(line: &str, width: usize) -> String {
    let length = line.chars().count();
    let gaps = line.matches(' ').count();
    if gaps == 0 || length >= width {
        return line.to_string();
    }
    let extra = width - length;
    let (each, rest) = (extra / gaps, extra % gaps);
    // Rounded up: "a --b:  c  d e" is how argparse4j spreads two spaces over 7 gaps.
    let first = (gaps - rest).div_ceil(2);
    let mut out = String::with_capacity(width);
    let mut gap = 0;
    for c in line.chars() {
        out.push(c);
        if c == ' ' {
            let more = each + usize::from(gap >= first && gap < first + rest);
            out.extend(std::iter::repeat_n(' ', more));
            gap += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uuid_prints_as_kafka_base64() {
        // Kafka's Uuid for bytes 0..16 is "AAECAwQFBgcICQoLDA0ODw".
        let id = uuid::Uuid::from_bytes([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15]);
        assert_eq!(kafka_uuid(&id), "AAECAwQFBgcICQoLDA0ODw");
    }

    #[test]
    fn string_hash_matches_java() {
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("a"), 97);
        assert_eq!(java_string_hash("hello"), 99_162_322);
    }

    #[test]
    fn described_topics_come_in_kafkas_order() {
        // Kafka 4.4 described these three topics in this order.
        let names = vec!["__consumer_offsets", "nosuchtopic2", "order-placed"];
        assert_eq!(
            java_presized_string_order(names, |n| n),
            vec!["nosuchtopic2", "__consumer_offsets", "order-placed"]
        );
    }

    #[test]
    fn reset_rows_come_in_kafkas_order() {
        // Kafka printed order-placed partitions 2, 1, 0 for a reset of all three.
        let rows = vec![
            ("order-placed", 0),
            ("order-placed", 1),
            ("order-placed", 2),
        ];
        let ordered = java_hashmap_order(rows, |r| (r.0, r.1));
        assert_eq!(
            ordered.iter().map(|r| r.1).collect::<Vec<_>>(),
            vec![2, 1, 0]
        );
    }
}
