package dev.kavka.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.TransactionDescription;
import org.apache.kafka.clients.admin.TransactionState;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerGroupMetadata;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InvalidTxnStateException;
import org.apache.kafka.common.errors.ProducerFencedException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * Transactions with the Java client's transactional producer: commit and abort, what
 * read_committed and read_uncommitted consumers see (records and end offsets, with the
 * markers' offsets), a zombie producer fenced by a second one with the same
 * transactional.id, offsets sent to a transaction, and a transaction the coordinator
 * aborts once past its timeout.
 */
@Tag("transactions")
class TransactionScenarios {
    static Admin admin;

    @BeforeAll
    static void open() {
        admin = Broker.admin();
    }

    @AfterAll
    static void close() {
        if (admin != null) admin.close();
    }

    static KafkaProducer<String, String> txnProducer(String id, Map<String, Object> extra) {
        Map<String, Object> p = new HashMap<>(extra);
        p.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, id);
        KafkaProducer<String, String> producer = Broker.producer(p);
        producer.initTransactions();
        return producer;
    }

    static KafkaConsumer<String, String> reader(String isolation) {
        return Broker.consumer(Map.of(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation));
    }

    /** (offset, value) of every record read until `quiet` passes with nothing new. */
    static List<String> readQuietly(KafkaConsumer<String, String> c, TopicPartition tp, Duration quiet) {
        c.assign(List.of(tp));
        c.seekToBeginning(List.of(tp));
        List<String> out = new ArrayList<>();
        long last = System.nanoTime();
        while (System.nanoTime() - last < quiet.toNanos()) {
            for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(100))) {
                out.add(r.offset() + ":" + r.value());
                last = System.nanoTime();
            }
        }
        return out;
    }

    static long endOffset(String isolation, TopicPartition tp) {
        try (KafkaConsumer<String, String> c = reader(isolation)) {
            return c.endOffsets(List.of(tp)).get(tp);
        }
    }

    @Test
    void committedTransactionsAreReadWithTheirMarkersBetween() throws Exception {
        String topic = Broker.createTopic(admin, "txn-commit", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> p = txnProducer(Broker.unique("tx-commit"), Map.of())) {
            for (int t = 0; t < 2; t++) {
                p.beginTransaction();
                for (int i = 0; i < 3; i++) p.send(new ProducerRecord<>(topic, 0, null, "t" + t + "-" + i));
                p.commitTransaction();
            }
        }
        try (KafkaConsumer<String, String> c = reader("read_committed")) {
            // Each commit marker takes an offset: 3 and 7.
            assertEquals(List.of("0:t0-0", "1:t0-1", "2:t0-2", "4:t1-0", "5:t1-1", "6:t1-2"),
                    readQuietly(c, tp, Duration.ofSeconds(2)));
        }
        assertEquals(8L, endOffset("read_committed", tp));
        assertEquals(8L, endOffset("read_uncommitted", tp));
    }

    @Test
    void abortedRecordsAreSkippedByReadCommittedOnly() throws Exception {
        String topic = Broker.createTopic(admin, "txn-abort", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> p = txnProducer(Broker.unique("tx-abort"), Map.of())) {
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, null, "a1"));
            p.send(new ProducerRecord<>(topic, 0, null, "a2"));
            p.flush();
            p.abortTransaction();
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, null, "c1"));
            p.commitTransaction();
        }
        try (KafkaConsumer<String, String> c = reader("read_committed")) {
            assertEquals(List.of("3:c1"), readQuietly(c, tp, Duration.ofSeconds(2)));
        }
        try (KafkaConsumer<String, String> c = reader("read_uncommitted")) {
            assertEquals(List.of("0:a1", "1:a2", "3:c1"), readQuietly(c, tp, Duration.ofSeconds(2)));
        }
    }

    @Test
    void readCommittedStopsAtAnOpenTransactionUntilItCommits() throws Exception {
        String topic = Broker.createTopic(admin, "txn-open", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> p = txnProducer(Broker.unique("tx-open"), Map.of());
             KafkaProducer<String, String> plain = Broker.producer()) {
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, null, "open")).get(20, TimeUnit.SECONDS);
            plain.send(new ProducerRecord<>(topic, 0, null, "after")).get(20, TimeUnit.SECONDS);

            // The last stable offset is where the open transaction starts.
            assertEquals(0L, endOffset("read_committed", tp));
            assertEquals(2L, endOffset("read_uncommitted", tp));
            try (KafkaConsumer<String, String> c = reader("read_committed")) {
                assertEquals(List.of(), readQuietly(c, tp, Duration.ofSeconds(2)));
            }
            try (KafkaConsumer<String, String> c = reader("read_uncommitted")) {
                assertEquals(List.of("0:open", "1:after"), readQuietly(c, tp, Duration.ofSeconds(2)));
            }
            p.commitTransaction();
        }
        try (KafkaConsumer<String, String> c = reader("read_committed")) {
            assertEquals(List.of("0:open", "1:after"), readQuietly(c, tp, Duration.ofSeconds(2)));
        }
        assertEquals(3L, endOffset("read_committed", tp));
    }

    @Test
    void aSecondProducerWithTheSameIdFencesTheZombie() throws Exception {
        String topic = Broker.createTopic(admin, "txn-fence", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        String id = Broker.unique("tx-fence");
        try (KafkaProducer<String, String> zombie = txnProducer(id, Map.of())) {
            zombie.beginTransaction();
            zombie.send(new ProducerRecord<>(topic, 0, null, "zombie")).get(20, TimeUnit.SECONDS);
            try (KafkaProducer<String, String> fresh = txnProducer(id, Map.of())) {
                // The zombie's open transaction was aborted when the id was taken over.
                KafkaException e = assertThrows(KafkaException.class, zombie::commitTransaction);
                assertInstanceOf(ProducerFencedException.class, e, e.toString());
                fresh.beginTransaction();
                fresh.send(new ProducerRecord<>(topic, 0, null, "fresh"));
                fresh.commitTransaction();
            }
        }
        try (KafkaConsumer<String, String> c = reader("read_committed")) {
            assertEquals(List.of("2:fresh"), readQuietly(c, tp, Duration.ofSeconds(2)));
        }
    }

    @Test
    void offsetsSentToATransactionCommitOnlyWithIt() throws Exception {
        String in = Broker.createTopic(admin, "txn-in", 1);
        String out = Broker.createTopic(admin, "txn-out", 1);
        String group = Broker.unique("txn-group");
        TopicPartition inTp = new TopicPartition(in, 0);
        try (KafkaProducer<String, String> plain = Broker.producer()) {
            for (int i = 0; i < 4; i++) plain.send(new ProducerRecord<>(in, 0, null, "in" + i));
            plain.flush();
        }
        ConsumerGroupMetadata meta = new ConsumerGroupMetadata(group);
        try (KafkaProducer<String, String> p = txnProducer(Broker.unique("tx-offsets"), Map.of())) {
            p.beginTransaction();
            // Flushed, so the record and the abort marker take offsets 0 and 1 (an unsent
            // record would be dropped by the client and, with transaction version 2,
            // its partition never joins the transaction).
            p.send(new ProducerRecord<>(out, 0, null, "dropped")).get(20, TimeUnit.SECONDS);
            p.sendOffsetsToTransaction(Map.of(inTp, new OffsetAndMetadata(2)), meta);
            p.abortTransaction();
            assertNull(committed(group, inTp), "an aborted transaction commits no offset");

            p.beginTransaction();
            p.send(new ProducerRecord<>(out, 0, null, "kept"));
            p.sendOffsetsToTransaction(Map.of(inTp, new OffsetAndMetadata(4, "done")), meta);
            p.commitTransaction();
        }
        OffsetAndMetadata committed = waitCommitted(group, inTp);
        assertEquals(4L, committed.offset());
        assertEquals("done", committed.metadata());
        try (KafkaConsumer<String, String> c = reader("read_committed")) {
            assertEquals(List.of("2:kept"), readQuietly(c, new TopicPartition(out, 0), Duration.ofSeconds(2)));
        }
    }

    static OffsetAndMetadata committed(String group, TopicPartition tp) throws Exception {
        return admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()
                .get(20, TimeUnit.SECONDS).get(tp);
    }

    /** The group's offset once the commit marker has reached __consumer_offsets. */
    static OffsetAndMetadata waitCommitted(String group, TopicPartition tp) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        OffsetAndMetadata o = committed(group, tp);
        while (o == null && System.nanoTime() < deadline) {
            Thread.sleep(100);
            o = committed(group, tp);
        }
        assertTrue(o != null, "offset of " + group + " never committed");
        return o;
    }

    @Test
    void aTransactionPastItsTimeoutIsAbortedByTheCoordinator() throws Exception {
        String topic = Broker.createTopic(admin, "txn-timeout", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        String id = Broker.unique("tx-timeout");
        try (KafkaProducer<String, String> p = txnProducer(id,
                Map.of(ProducerConfig.TRANSACTION_TIMEOUT_CONFIG, 2_000))) {
            p.beginTransaction();
            p.send(new ProducerRecord<>(topic, 0, null, "late")).get(20, TimeUnit.SECONDS);
            // Kafka's coordinator looks for timed-out transactions every 10 s
            // (transaction.abort.timed.out.transaction.cleanup.interval.ms).
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            TransactionState state = null;
            while (System.nanoTime() < deadline) {
                TransactionDescription d = admin.describeTransactions(List.of(id)).description(id)
                        .get(20, TimeUnit.SECONDS);
                state = d.state();
                if (state == TransactionState.COMPLETE_ABORT) break;
                Thread.sleep(200);
            }
            assertEquals(TransactionState.COMPLETE_ABORT, state);
            // The coordinator bumped the epoch when it aborted. With transaction version 1
            // (Kavka) the producer learns it as fenced; with version 2 (Kafka 4's default)
            // its commit finds the transaction not ongoing. Either way it cannot commit.
            KafkaException e = assertThrows(KafkaException.class, p::commitTransaction);
            assertTrue(e instanceof ProducerFencedException || e instanceof InvalidTxnStateException,
                    e.toString());
        }
        try (KafkaConsumer<String, String> c = reader("read_committed")) {
            assertEquals(List.of(), readQuietly(c, tp, Duration.ofSeconds(2)));
        }
        // The record and the coordinator's abort marker.
        assertEquals(2L, endOffset("read_committed", tp));
    }
}
