package dev.kavka.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * Consumer groups with the classic protocol (JoinGroup/SyncGroup/Heartbeat, client-side assignor).
 * A new group waits group.initial.rebalance.delay.ms (3 s on Kafka) before its first assignment.
 */
@Tag("groups")
class GroupScenarios {
    static final String PROTOCOL = "classic";
    static Admin admin;

    @BeforeAll
    static void open() {
        admin = Broker.admin();
    }

    @AfterAll
    static void close() {
        if (admin != null) admin.close();
    }

    static void produce(String topic, int partitions, int perPartition, String prefix) throws Exception {
        try (KafkaProducer<String, String> p = Broker.producer()) {
            for (int i = 0; i < perPartition; i++) {
                for (int part = 0; part < partitions; part++) {
                    p.send(new ProducerRecord<>(topic, part, null, prefix + part + "-" + i));
                }
            }
            p.flush();
            p.send(new ProducerRecord<>(topic, 0, null, "flushed")).get(20, TimeUnit.SECONDS);
        }
    }

    /** Polls a subscribed consumer until `n` records arrived or `timeout` passed. */
    static List<ConsumerRecord<String, String>> pollFor(KafkaConsumer<String, String> c, int n, Duration timeout) {
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (out.size() < n && System.nanoTime() < deadline) c.poll(Duration.ofMillis(200)).forEach(out::add);
        return out;
    }

    /** Polls until the consumer has an assignment (the group's first rebalance completed). */
    static void awaitAssignment(KafkaConsumer<String, String> c, int partitions, Duration timeout) {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (c.assignment().size() < partitions && System.nanoTime() < deadline) c.poll(Duration.ofMillis(100));
        assertEquals(partitions, c.assignment().size(), "assignment " + c.assignment());
    }

    static String protocol() {
        return PROTOCOL;
    }

    @Test
    void newGroupWithResetEarliestReadsExistingRecords() throws Exception {
        String topic = Broker.createTopic(admin, "grp-earliest", 1);
        produce(topic, 1, 5, "r");
        try (KafkaConsumer<String, String> c = GroupMembers.groupConsumer(Broker.unique("g-earliest"), protocol(),
                Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest"))) {
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> rs = pollFor(c, 6, Duration.ofSeconds(30));
            assertEquals(List.of(0L, 1L, 2L, 3L, 4L, 5L), rs.stream().map(ConsumerRecord::offset).toList());
        }
    }

    @Test
    void newGroupWithResetLatestSeesOnlyRecordsProducedAfterJoining() throws Exception {
        String topic = Broker.createTopic(admin, "grp-latest", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        produce(topic, 1, 5, "old");
        try (KafkaConsumer<String, String> c = GroupMembers.groupConsumer(Broker.unique("g-latest"), protocol(),
                Map.of(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "latest"))) {
            c.subscribe(List.of(topic));
            awaitAssignment(c, 1, Duration.ofSeconds(30));
            assertEquals(6L, c.position(tp), "latest = log end offset");
            produce(topic, 1, 3, "new");
            List<ConsumerRecord<String, String>> rs = pollFor(c, 4, Duration.ofSeconds(15));
            assertEquals(List.of("new0-0", "new0-1", "new0-2", "flushed"), rs.stream().map(ConsumerRecord::value).toList());
            assertEquals(6L, rs.get(0).offset());
        }
    }

    @Test
    void committedOffsetIsWhereTheNextMemberOfTheGroupResumes() throws Exception {
        String topic = Broker.createTopic(admin, "grp-commit", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        String group = Broker.unique("g-commit");
        produce(topic, 1, 19, "r"); // offsets 0..19
        try (KafkaConsumer<String, String> c = GroupMembers.groupConsumer(group, protocol(), Map.of())) {
            assertNull(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()
                    .get(20, TimeUnit.SECONDS).get(tp), "nothing committed yet");
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> rs = pollFor(c, 20, Duration.ofSeconds(30));
            assertEquals(20, rs.size());
            c.commitSync(Map.of(tp, new OffsetAndMetadata(12, "note")));
            OffsetAndMetadata committed = c.committed(Set.of(tp)).get(tp);
            assertEquals(12, committed.offset());
            assertEquals("note", committed.metadata());
        }
        assertEquals(12, admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata()
                .get(20, TimeUnit.SECONDS).get(tp).offset(), "admin sees the commit");
        try (KafkaConsumer<String, String> c = GroupMembers.groupConsumer(group, protocol(), Map.of())) {
            c.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> rs = pollFor(c, 8, Duration.ofSeconds(30));
            assertEquals(List.of(12L, 13L, 14L, 15L, 16L, 17L, 18L, 19L),
                    rs.stream().map(ConsumerRecord::offset).toList(), "resumes right after the commit");
        }
    }

    @Test
    void twoGroupsEachReceiveEveryRecord() throws Exception {
        String topic = Broker.createTopic(admin, "grp-two", 3);
        produce(topic, 3, 10, "r"); // 31 records
        try (KafkaConsumer<String, String> a = GroupMembers.groupConsumer(Broker.unique("g-a"), protocol(), Map.of());
             KafkaConsumer<String, String> b = GroupMembers.groupConsumer(Broker.unique("g-b"), protocol(), Map.of())) {
            a.subscribe(List.of(topic));
            b.subscribe(List.of(topic));
            List<ConsumerRecord<String, String>> ra = new ArrayList<>();
            List<ConsumerRecord<String, String>> rb = new ArrayList<>();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            while ((ra.size() < 31 || rb.size() < 31) && System.nanoTime() < deadline) {
                a.poll(Duration.ofMillis(100)).forEach(ra::add);
                b.poll(Duration.ofMillis(100)).forEach(rb::add);
            }
            Set<String> va = new HashSet<>(ra.stream().map(ConsumerRecord::value).toList());
            Set<String> vb = new HashSet<>(rb.stream().map(ConsumerRecord::value).toList());
            assertEquals(31, ra.size(), "group a");
            assertEquals(31, rb.size(), "group b");
            assertEquals(31, va.size());
            assertEquals(va, vb);
        }
    }

    /** n members on a 3-partition topic: every partition owned exactly once, the split as expected. */
    static void splitScenario(int n, String sizes) throws Exception {
        List<Integer> expected = java.util.Arrays.stream(sizes.split("\\+")).map(Integer::valueOf).sorted().toList();
        String topic = Broker.createTopic(admin, "grp-split" + n, 3);
        String group = Broker.unique("g-split" + n);
        Set<TopicPartition> all = Set.copyOf(Broker.partitions(topic, 3));
        List<GroupMembers.Member> ms = GroupMembers.start(n, topic, group, protocol());
        try {
            GroupMembers.awaitSplit(admin, group, ms, all, expected, Duration.ofSeconds(45));
            // Records produced now reach exactly the owner of their partition, once.
            produce(topic, 3, 5, "s"); // 16 records
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
            while (ms.stream().mapToInt(m -> m.received.size()).sum() < 16 && System.nanoTime() < deadline) {
                Thread.sleep(100);
            }
            Set<String> seen = new HashSet<>();
            for (GroupMembers.Member m : ms) {
                synchronized (m.received) {
                    for (ConsumerRecord<String, String> r : m.received) {
                        assertTrue(m.assignment.contains(new TopicPartition(topic, r.partition())),
                                m.name + " got a record of partition " + r.partition() + " it does not own");
                        assertTrue(seen.add(r.value()), "delivered twice: " + r.value());
                    }
                }
            }
            assertEquals(16, seen.size(), "every record delivered once");
        } finally {
            GroupMembers.closeAll(ms);
        }
    }

    @ParameterizedTest(name = "{0} member(s) split 3 partitions as {1}")
    @CsvSource({"1, 3", "2, 2+1", "3, 1+1+1", "4, 1+1+1+0"})
    void membersSplitThreePartitionsWithoutSharing(int n, String sizes) throws Exception {
        splitScenario(n, sizes);
    }

    static void leaveScenario() throws Exception {
        String topic = Broker.createTopic(admin, "grp-leave", 3);
        String group = Broker.unique("g-leave");
        Set<TopicPartition> all = Set.copyOf(Broker.partitions(topic, 3));
        List<GroupMembers.Member> ms = GroupMembers.start(3, topic, group, protocol());
        try {
            GroupMembers.awaitSplit(admin, group, ms, all, List.of(1, 1, 1), Duration.ofSeconds(45));
            GroupMembers.Member leaving = ms.get(0);
            Set<TopicPartition> orphaned = leaving.assignment;
            leaving.close();
            List<GroupMembers.Member> rest = ms.subList(1, 3);
            GroupMembers.awaitSplit(admin, group, rest, all, List.of(1, 2), Duration.ofSeconds(30));
            assertTrue(rest.stream().anyMatch(m -> m.assignment.containsAll(orphaned)),
                    "the leaver's partitions " + orphaned + " were reassigned");
        } finally {
            GroupMembers.closeAll(ms);
        }
    }

    @Test
    void aMemberThatLeavesHasItsPartitionsReassigned() throws Exception {
        leaveScenario();
    }
}
