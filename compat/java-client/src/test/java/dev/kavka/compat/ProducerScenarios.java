package dev.kavka.compat;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.RecordTooLargeException;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeader;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.utils.Utils;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Producing with the Java producer; every scenario reads its records back (assign, no group). */
class ProducerScenarios {
    static Admin admin;

    @BeforeAll
    static void open() {
        admin = Broker.admin();
    }

    @AfterAll
    static void close() {
        if (admin != null) admin.close();
    }

    @ParameterizedTest(name = "acks={0} delivers readable records")
    @ValueSource(strings = {"0", "1", "all"})
    void eachAcksSettingDeliversReadableRecords(String acks) throws Exception {
        String topic = Broker.createTopic(admin, "prod-acks" + acks, 1);
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        try (KafkaProducer<String, String> p = Broker.producer(Map.of(ProducerConfig.ACKS_CONFIG, acks))) {
            for (int i = 0; i < 20; i++) fs.add(p.send(new ProducerRecord<>(topic, "k" + i, "v" + i)));
            p.flush();
            for (int i = 0; i < fs.size(); i++) {
                RecordMetadata md = fs.get(i).get(20, TimeUnit.SECONDS);
                assertEquals(0, md.partition());
                // acks=0: no response, so the producer cannot know the offset.
                assertEquals(acks.equals("0") ? -1L : (long) i, md.offset(), "offset of record " + i);
            }
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = Broker.consumer()) {
            List<ConsumerRecord<String, String>> rs = Broker.readAll(c, List.of(tp), 20, Duration.ofSeconds(15));
            assertEquals(20, rs.size(), "records read back");
            for (int i = 0; i < 20; i++) {
                assertEquals(i, rs.get(i).offset());
                assertEquals("k" + i, rs.get(i).key());
                assertEquals("v" + i, rs.get(i).value());
            }
        }
    }

    @Test
    void idempotentProducerWritesThousandRecordsWithoutDuplicates() throws Exception {
        String topic = Broker.createTopic(admin, "prod-idem", 1);
        List<Future<RecordMetadata>> fs = new ArrayList<>();
        try (KafkaProducer<String, String> p = Broker.producer(Map.of(
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 5,
                ProducerConfig.BATCH_SIZE_CONFIG, 2048))) {
            for (int i = 0; i < 1000; i++) fs.add(p.send(new ProducerRecord<>(topic, null, "v" + i)));
            p.flush();
            for (int i = 0; i < fs.size(); i++) assertEquals(i, fs.get(i).get(20, TimeUnit.SECONDS).offset());
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = Broker.consumer()) {
            assertEquals(1000L, c.endOffsets(List.of(tp)).get(tp), "log end offset");
            List<ConsumerRecord<String, String>> rs = Broker.readAll(c, List.of(tp), 1000, Duration.ofSeconds(20));
            assertEquals(1000, rs.size());
            Set<String> seen = new HashSet<>();
            for (int i = 0; i < rs.size(); i++) {
                assertEquals(i, rs.get(i).offset());
                assertEquals("v" + i, rs.get(i).value(), "in order, no duplicate, no gap");
                assertTrue(seen.add(rs.get(i).value()));
            }
        }
    }

    @Test
    void keyedRecordsLandOnTheMurmur2Partition() throws Exception {
        int n = 5;
        String topic = Broker.createTopic(admin, "prod-keys", n);
        Map<String, Integer> expected = new HashMap<>();
        try (KafkaProducer<String, String> p = Broker.producer()) {
            List<Future<RecordMetadata>> fs = new ArrayList<>();
            for (int i = 0; i < 60; i++) {
                String key = "key-" + i;
                byte[] kb = key.getBytes(StandardCharsets.UTF_8);
                expected.put(key, Utils.toPositive(Utils.murmur2(kb)) % n); // BuiltInPartitioner.partitionForKey
                fs.add(p.send(new ProducerRecord<>(topic, key, "v" + i)));
            }
            p.flush();
            for (int i = 0; i < fs.size(); i++) {
                assertEquals(expected.get("key-" + i), fs.get(i).get(20, TimeUnit.SECONDS).partition(), "key-" + i);
            }
        }
        // Each partition holds exactly the keys murmur2 maps to it, as the broker stored them.
        try (KafkaConsumer<String, String> c = Broker.consumer()) {
            List<ConsumerRecord<String, String>> rs =
                    Broker.readAll(c, Broker.partitions(topic, n), 60, Duration.ofSeconds(15));
            assertEquals(60, rs.size());
            for (ConsumerRecord<String, String> r : rs) {
                assertEquals(expected.get(r.key()), r.partition(), "stored partition of " + r.key());
            }
        }
    }

    @Test
    void recordLargerThanBrokerMaxMessageBytesIsRefusedWithRecordTooLarge() throws Exception {
        String topic = Broker.createTopic(admin, "prod-big", 1);
        try (KafkaProducer<byte[], byte[]> p = Broker.bytesProducer(Map.of(
                ProducerConfig.MAX_REQUEST_SIZE_CONFIG, 4 * 1024 * 1024,
                ProducerConfig.BUFFER_MEMORY_CONFIG, 16 * 1024 * 1024,
                ProducerConfig.COMPRESSION_TYPE_CONFIG, "none"))) {
            byte[] big = new byte[1_200_000]; // > max.message.bytes default 1048588
            ExecutionException e = assertThrows(ExecutionException.class, () ->
                    p.send(new ProducerRecord<>(topic, big)).get(30, TimeUnit.SECONDS));
            assertInstanceOf(RecordTooLargeException.class, e.getCause(), String.valueOf(e.getCause()));
            // a rejected batch changes nothing; the producer still works
            RecordMetadata md = p.send(new ProducerRecord<>(topic, new byte[100])).get(20, TimeUnit.SECONDS);
            assertEquals(0, md.offset());
        }
    }

    @Test
    void recordLargerThanTopicMaxMessageBytesIsRefusedWithRecordTooLarge() throws Exception {
        String topic = Broker.createTopic(admin, "prod-bigtopic", 1, Map.of("max.message.bytes", "20000"));
        try (KafkaProducer<byte[], byte[]> p = Broker.bytesProducer(Map.of(
                ProducerConfig.COMPRESSION_TYPE_CONFIG, "none"))) {
            ExecutionException e = assertThrows(ExecutionException.class, () ->
                    p.send(new ProducerRecord<>(topic, new byte[30_000])).get(30, TimeUnit.SECONDS));
            assertInstanceOf(RecordTooLargeException.class, e.getCause(), String.valueOf(e.getCause()));
            assertEquals(0, p.send(new ProducerRecord<>(topic, new byte[10_000])).get(20, TimeUnit.SECONDS).offset());
        }
    }

    @Test
    void headersRoundTrip() throws Exception {
        String topic = Broker.createTopic(admin, "prod-headers", 1);
        RecordHeaders hs = new RecordHeaders();
        hs.add(new RecordHeader("trace", "abc-123".getBytes(StandardCharsets.UTF_8)));
        hs.add(new RecordHeader("dup", new byte[] {1}));
        hs.add(new RecordHeader("dup", new byte[] {2}));
        hs.add(new RecordHeader("nullvalue", null));
        hs.add(new RecordHeader("empty", new byte[0]));
        try (KafkaProducer<String, String> p = Broker.producer()) {
            p.send(new ProducerRecord<>(topic, 0, "k", "v", hs)).get(20, TimeUnit.SECONDS);
            p.send(new ProducerRecord<>(topic, 0, null, null)).get(20, TimeUnit.SECONDS); // no headers, null key+value
        }
        try (KafkaConsumer<String, String> c = Broker.consumer()) {
            List<ConsumerRecord<String, String>> rs =
                    Broker.readAll(c, List.of(new TopicPartition(topic, 0)), 2, Duration.ofSeconds(15));
            assertEquals(2, rs.size());
            Header[] got = rs.get(0).headers().toArray();
            assertEquals(5, got.length);
            assertEquals("trace", got[0].key());
            assertArrayEquals("abc-123".getBytes(StandardCharsets.UTF_8), got[0].value());
            assertEquals("dup", got[1].key());
            assertArrayEquals(new byte[] {1}, got[1].value());
            assertEquals("dup", got[2].key());
            assertArrayEquals(new byte[] {2}, got[2].value());
            assertEquals("nullvalue", got[3].key());
            assertNull(got[3].value());
            assertEquals("empty", got[4].key());
            assertArrayEquals(new byte[0], got[4].value());
            assertEquals(0, rs.get(1).headers().toArray().length);
            assertNull(rs.get(1).key());
            assertNull(rs.get(1).value());
        }
    }

    @Test
    void compressedBatchesRoundTrip() throws Exception {
        for (String codec : List.of("gzip", "snappy", "lz4", "zstd")) {
            String topic = Broker.createTopic(admin, "prod-" + codec, 1);
            try (KafkaProducer<String, String> p = Broker.producer(Map.of(
                    ProducerConfig.COMPRESSION_TYPE_CONFIG, codec, ProducerConfig.LINGER_MS_CONFIG, 50))) {
                for (int i = 0; i < 50; i++) p.send(new ProducerRecord<>(topic, "k" + i, "value-" + i));
                p.flush();
            }
            try (KafkaConsumer<String, String> c = Broker.consumer()) {
                List<ConsumerRecord<String, String>> rs =
                        Broker.readAll(c, List.of(new TopicPartition(topic, 0)), 50, Duration.ofSeconds(15));
                assertEquals(50, rs.size(), codec);
                for (int i = 0; i < 50; i++) {
                    assertEquals(i, rs.get(i).offset(), codec);
                    assertEquals("value-" + i, rs.get(i).value(), codec);
                }
            }
        }
    }
}
