//! Java's hash-map iteration order, which Kafka's tools print in (and send
//! requests in) wherever they fill a `HashMap`.

/// Java's `String.hashCode` (over UTF-16 code units).
pub(crate) fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16()
        .fold(0i32, |h, c| h.wrapping_mul(31).wrapping_add(i32::from(c)))
}

/// The order in which a Java `HashMap` created with `new HashMap<>(capacity)`
/// and filled with keys of these hash codes (in this order, all distinct)
/// iterates them: by bucket of the final table, then insertion order.
pub(crate) fn java_hash_order(hashes: &[i32], capacity: usize) -> Vec<usize> {
    // tableSizeFor(capacity), at least 1; the table doubles while the size
    // exceeds its threshold, (int)(table × 0.75).
    let mut table = capacity.max(1).next_power_of_two();
    while hashes.len() > table * 3 / 4 {
        table *= 2;
    }
    let bucket = |h: i32| {
        let h = h as u32;
        ((h ^ (h >> 16)) as usize) & (table - 1)
    };
    let mut order: Vec<usize> = (0..hashes.len()).collect();
    order.sort_by_key(|&i| (bucket(hashes[i]), i));
    order
}
