//! Kafka's default partitioner for keyed records (murmur2 of the key), so a
//! record produced from the console lands where a Java producer would put it.

/// The partition Kafka's producer picks for `key` among `partitions`.
pub(crate) fn partition_for_key(key: &[u8], partitions: i32) -> i32 {
    if partitions <= 0 {
        return 0;
    }
    ((murmur2(key) & 0x7fff_ffff) as i32) % partitions
}

/// Kafka's `Utils.murmur2`.
fn murmur2(data: &[u8]) -> u32 {
    const SEED: u32 = 0x9747_b28c;
    const M: u32 = 0x5bd1_e995;
    const R: u32 = 24;
    let mut h = SEED ^ (data.len() as u32);
    let mut chunks = data.chunks_exact(4);
    for c in &mut chunks {
        let mut k = u32::from_le_bytes([c[0], c[1], c[2], c[3]]);
        k = k.wrapping_mul(M);
        k ^= k >> R;
        k = k.wrapping_mul(M);
        h = h.wrapping_mul(M);
        h ^= k;
    }
    let rest = chunks.remainder();
    if rest.len() >= 3 {
        h ^= u32::from(rest[2]) << 16;
    }
    if rest.len() >= 2 {
        h ^= u32::from(rest[1]) << 8;
    }
    if !rest.is_empty() {
        h ^= u32::from(rest[0]);
        h = h.wrapping_mul(M);
    }
    h ^= h >> 13;
    h = h.wrapping_mul(M);
    h ^= h >> 15;
    h
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_land_where_javas_partitioner_puts_them() {
        // What kafka-console-producer (Java) does with these keys on 3 partitions.
        assert_eq!(partition_for_key(b"1001", 3), 0);
        assert_eq!(partition_for_key(b"1002", 3), 0);
        assert_eq!(partition_for_key(b"1003", 3), 1);
        assert_eq!(partition_for_key(b"x", 0), 0);
    }
}
