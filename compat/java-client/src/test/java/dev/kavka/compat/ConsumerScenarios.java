package dev.kavka.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.NoOffsetForPartitionException;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.consumer.OffsetOutOfRangeException;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Consuming without a group (assign + seek). These need no group coordinator. */
class ConsumerScenarios {
    static Admin admin;

    @BeforeAll
    static void open() {
        admin = Broker.admin();
    }

    @AfterAll
    static void close() {
        if (admin != null) admin.close();
    }

    /** Produces `n` records "v0".."v{n-1}" to partition 0 and waits for each ack. */
    private static void produce(String topic, int partition, int n) throws Exception {
        try (KafkaProducer<String, String> p = Broker.producer()) {
            for (int i = 0; i < n; i++) p.send(new ProducerRecord<>(topic, partition, "k" + i, "v" + i));
            p.flush();
            p.send(new ProducerRecord<>(topic, partition, "k-last", "last")).get(20, TimeUnit.SECONDS);
        }
    }

    @Test
    void assignAndSeekToBeginningReadsEverythingInOrderWithContiguousOffsets() throws Exception {
        String topic = Broker.createTopic(admin, "cons-order", 1);
        try (KafkaProducer<String, String> p = Broker.producer()) {
            for (int i = 0; i < 500; i++) p.send(new ProducerRecord<>(topic, 0, null, "v" + i));
            p.flush();
        }
        TopicPartition tp = new TopicPartition(topic, 0);
        // small fetches force many Fetch round trips, each continuing where the last stopped
        try (KafkaConsumer<String, String> c = Broker.consumer(Map.of(
                ConsumerConfig.MAX_PARTITION_FETCH_BYTES_CONFIG, 1024,
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 37))) {
            List<ConsumerRecord<String, String>> rs = Broker.readAll(c, List.of(tp), 500, Duration.ofSeconds(30));
            assertEquals(500, rs.size());
            for (int i = 0; i < 500; i++) {
                assertEquals(i, rs.get(i).offset());
                assertEquals("v" + i, rs.get(i).value());
            }
            assertEquals(500L, c.position(tp));
            assertTrue(c.poll(Duration.ofMillis(500)).isEmpty(), "nothing past the end");
        }
    }

    @Test
    void readingAtTheEndWaitsForNewRecords() throws Exception {
        String topic = Broker.createTopic(admin, "cons-tail", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = Broker.consumer()) {
            c.assign(List.of(tp));
            c.seekToEnd(List.of(tp));
            assertEquals(0L, c.position(tp));
            assertTrue(c.poll(Duration.ofMillis(300)).isEmpty());
            produce(topic, 0, 3);
            List<ConsumerRecord<String, String>> rs = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (rs.size() < 4 && System.nanoTime() < deadline) c.poll(Duration.ofMillis(200)).forEach(rs::add);
            assertEquals(List.of("v0", "v1", "v2", "last"), rs.stream().map(ConsumerRecord::value).toList());
        }
    }

    @Test
    void offsetsForTimesReturnsFirstOffsetAtOrAfterTheTimestamp() throws Exception {
        String topic = Broker.createTopic(admin, "cons-times", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        long base = System.currentTimeMillis() - 60_000;
        try (KafkaProducer<String, String> p = Broker.producer()) {
            for (int i = 0; i < 10; i++) {
                p.send(new ProducerRecord<>(topic, 0, base + i * 1000L, "k" + i, "v" + i)).get(20, TimeUnit.SECONDS);
            }
        }
        try (KafkaConsumer<String, String> c = Broker.consumer()) {
            OffsetAndTimestamp exact = c.offsetsForTimes(Map.of(tp, base + 3000)).get(tp);
            assertNotNull(exact);
            assertEquals(3, exact.offset());
            assertEquals(base + 3000, exact.timestamp());

            OffsetAndTimestamp between = c.offsetsForTimes(Map.of(tp, base + 4500)).get(tp);
            assertNotNull(between);
            assertEquals(5, between.offset(), "first offset whose timestamp >= query");
            assertEquals(base + 5000, between.timestamp());

            OffsetAndTimestamp before = c.offsetsForTimes(Map.of(tp, 0L)).get(tp);
            assertNotNull(before);
            assertEquals(0, before.offset());
            assertEquals(base, before.timestamp());

            assertNull(c.offsetsForTimes(Map.of(tp, base + 100_000)).get(tp), "no record at or after");

            // records keep the producer's CreateTime
            List<ConsumerRecord<String, String>> rs = Broker.readAll(c, List.of(tp), 10, Duration.ofSeconds(15));
            assertEquals(10, rs.size());
            for (int i = 0; i < 10; i++) assertEquals(base + i * 1000L, rs.get(i).timestamp());
        }
    }

    @Test
    void beginningAndEndOffsetsPerPartition() throws Exception {
        String topic = Broker.createTopic(admin, "cons-ends", 3);
        try (KafkaProducer<String, String> p = Broker.producer()) {
            for (int i = 0; i < 2; i++) p.send(new ProducerRecord<>(topic, 0, null, "a" + i));
            for (int i = 0; i < 5; i++) p.send(new ProducerRecord<>(topic, 1, null, "b" + i));
            p.flush();
        }
        List<TopicPartition> tps = Broker.partitions(topic, 3);
        try (KafkaConsumer<String, String> c = Broker.consumer()) {
            Map<TopicPartition, Long> begin = c.beginningOffsets(tps);
            Map<TopicPartition, Long> end = c.endOffsets(tps);
            assertEquals(Map.of(tps.get(0), 0L, tps.get(1), 0L, tps.get(2), 0L), begin);
            assertEquals(Map.of(tps.get(0), 2L, tps.get(1), 5L, tps.get(2), 0L), end);
        }
    }

    @Test
    void seekPastTheEndWithResetEarliestRestartsFromTheBeginning() throws Exception {
        String topic = Broker.createTopic(admin, "cons-oor-earliest", 1);
        produce(topic, 0, 5);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = Broker.consumer(Map.of(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"))) {
            c.assign(List.of(tp));
            c.seek(tp, 1000);
            List<ConsumerRecord<String, String>> rs = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (rs.size() < 6 && System.nanoTime() < deadline) c.poll(Duration.ofMillis(200)).forEach(rs::add);
            assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L), rs.stream().map(ConsumerRecord::offset).toList());
        }
    }

    @Test
    void seekPastTheEndWithResetLatestMovesToTheEnd() throws Exception {
        String topic = Broker.createTopic(admin, "cons-oor-latest", 1);
        produce(topic, 0, 5);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = Broker.consumer(Map.of(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest"))) {
            c.assign(List.of(tp));
            c.seek(tp, 1000);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (c.position(tp) != 6L && System.nanoTime() < deadline) {
                assertTrue(c.poll(Duration.ofMillis(200)).isEmpty());
            }
            assertEquals(6L, c.position(tp));
        }
    }

    @Test
    void seekPastTheEndWithResetNoneThrowsOffsetOutOfRange() throws Exception {
        String topic = Broker.createTopic(admin, "cons-oor-none", 1);
        produce(topic, 0, 5);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = Broker.consumer(Map.of(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none"))) {
            c.assign(List.of(tp));
            c.seek(tp, 1000);
            OffsetOutOfRangeException e = assertThrows(OffsetOutOfRangeException.class, () -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
                while (System.nanoTime() < deadline) c.poll(Duration.ofMillis(200));
            });
            assertEquals(Map.of(tp, 1000L), e.offsetOutOfRangePartitions());
        }
    }

    @Test
    void seekBelowTheLogStartWithResetNoneThrowsOffsetOutOfRange() throws Exception {
        String topic = Broker.createTopic(admin, "cons-oor-low", 1);
        produce(topic, 0, 5);
        TopicPartition tp = new TopicPartition(topic, 0);
        admin.deleteRecords(Map.of(tp, org.apache.kafka.clients.admin.RecordsToDelete.beforeOffset(3)))
                .all().get(20, TimeUnit.SECONDS);
        try (KafkaConsumer<String, String> c = Broker.consumer(Map.of(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none"))) {
            c.assign(List.of(tp));
            c.seek(tp, 1);
            OffsetOutOfRangeException e = assertThrows(OffsetOutOfRangeException.class, () -> {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
                while (System.nanoTime() < deadline) c.poll(Duration.ofMillis(200));
            });
            assertEquals(Map.of(tp, 1L), e.offsetOutOfRangePartitions());
        }
    }

    @Test
    void noPositionAndResetNoneThrowsNoOffsetForPartition() throws Exception {
        String topic = Broker.createTopic(admin, "cons-nooffset", 1);
        produce(topic, 0, 2);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaConsumer<String, String> c = Broker.consumer(Map.of(
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "none"))) {
            c.assign(List.of(tp));
            assertThrows(NoOffsetForPartitionException.class, () -> c.poll(Duration.ofSeconds(5)));
        }
    }
}
