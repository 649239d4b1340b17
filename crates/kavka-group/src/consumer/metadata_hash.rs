//! Kafka's metadata hash of a consumer group's subscribed topics (KIP-1101): the
//! group record carries it instead of the topics themselves, and a change of it is a
//! metadata change that bumps the group epoch.
//!
//! XXH3-64 over a byte stream laid out as Kafka's hashing library lays it out:
//! integers little-endian, a string as its UTF-16 code units (little-endian) followed
//! by its length in code units.

use std::collections::BTreeMap;

use xxhash_rust::xxh3::Xxh3Default;

use super::TopicInfo;

/// Leads every topic hash, so the layout can change later.
const TOPIC_HASH_MAGIC: u8 = 0;

struct Stream(Xxh3Default);

impl Stream {
    fn new() -> Self {
        Stream(Xxh3Default::new())
    }

    fn byte(&mut self, b: u8) {
        self.0.update(&[b]);
    }

    fn int(&mut self, v: i32) {
        self.0.update(&v.to_le_bytes());
    }

    fn long(&mut self, v: i64) {
        self.0.update(&v.to_le_bytes());
    }

    fn string(&mut self, s: &str) {
        let mut units = 0i32;
        for unit in s.encode_utf16() {
            self.0.update(&unit.to_le_bytes());
            units = units.wrapping_add(1);
        }
        self.int(units);
    }

    fn finish(&self) -> i64 {
        // The same 64 bits, read as Java's signed long.
        i64::from_ne_bytes(self.0.digest().to_ne_bytes())
    }
}

/// One topic's hash: id, name, partition count, and each partition's racks (none on
/// brokers without `broker.rack`, as Kavka's).
pub(crate) fn topic_hash(name: &str, topic: &TopicInfo) -> i64 {
    let mut s = Stream::new();
    s.byte(TOPIC_HASH_MAGIC);
    let (msb, lsb) = topic.id.0.split_at(8);
    s.long(i64::from_be_bytes(msb.try_into().unwrap_or([0; 8])));
    s.long(i64::from_be_bytes(lsb.try_into().unwrap_or([0; 8])));
    s.string(name);
    s.int(topic.partitions);
    for p in 0..topic.partitions.max(0) {
        s.int(p);
    }
    s.finish()
}

/// The group's hash: its topics' hashes in name order; 0 when it subscribes to none.
pub(crate) fn group_hash(topics: &BTreeMap<String, TopicInfo>) -> i64 {
    if topics.is_empty() {
        return 0;
    }
    let mut s = Stream::new();
    for (name, topic) in topics {
        s.long(topic_hash(name, topic));
    }
    s.finish()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::consumer::TopicId;

    #[test]
    fn matches_the_hash_kafka_wrote_for_one_topic() {
        // From a reference Kafka 4.4 `__consumer_offsets`: a group subscribed to
        // `orders` (id 1RLfyqKtTHSSjL21VKojFQ, 2 partitions, no racks).
        let id = [
            0xd5, 0x12, 0xdf, 0xca, 0xa2, 0xad, 0x4c, 0x74, 0x92, 0x8c, 0xbd, 0xb5, 0x54, 0xaa,
            0x23, 0x15,
        ];
        let topics = BTreeMap::from([(
            "orders".to_string(),
            TopicInfo {
                id: TopicId(id),
                partitions: 2,
            },
        )]);
        assert_eq!(group_hash(&topics), 4874947363087079720);
        assert_eq!(group_hash(&BTreeMap::new()), 0);
    }
}
