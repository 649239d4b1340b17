package dev.kavka.compat;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AlterConfigOp;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.DescribeClusterResult;
import org.apache.kafka.clients.admin.ListTopicsOptions;
import org.apache.kafka.clients.admin.NewPartitions;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.Node;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.TopicPartitionInfo;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.errors.InvalidTopicException;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/** Topic and cluster administration through the Java Admin client. */
class AdminScenarios {
    static Admin admin;

    @BeforeAll
    static void open() {
        admin = Broker.admin();
    }

    @AfterAll
    static void close() {
        if (admin != null) admin.close();
    }

    private static TopicDescription describe(String topic) throws Exception {
        return admin.describeTopics(List.of(topic)).allTopicNames().get(20, TimeUnit.SECONDS).get(topic);
    }

    private static Config topicConfig(String topic) throws Exception {
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        return admin.describeConfigs(List.of(r)).all().get(20, TimeUnit.SECONDS).get(r);
    }

    /** Polls `read` until `ok` holds (metadata propagates asynchronously in Kafka) or 15 s pass. */
    private static <T> T eventually(Callable<T> read, Predicate<T> ok) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
        T v = read.call();
        while (!ok.test(v) && System.nanoTime() < deadline) {
            Thread.sleep(100);
            v = read.call();
        }
        return v;
    }

    interface Callable<T> {
        T call() throws Exception;
    }

    @Test
    void createdTopicIsDescribedWithThreeLedPartitionsAndListed() throws Exception {
        String topic = Broker.createTopic(admin, "admin-create", 3);

        TopicDescription d = describe(topic);
        assertEquals(topic, d.name());
        assertFalse(d.isInternal());
        assertNotNull(d.topicId());
        assertEquals(3, d.partitions().size());
        for (int i = 0; i < 3; i++) {
            TopicPartitionInfo p = d.partitions().get(i);
            assertEquals(i, p.partition());
            assertNotNull(p.leader(), "partition " + i + " leader");
            assertFalse(p.leader().isEmpty(), "partition " + i + " leader");
            assertEquals(Broker.replicationFactor(), p.replicas().size(), "replicas of " + i);
            assertTrue(p.replicas().contains(p.leader()), "leader of " + i + " is a replica");
            assertEquals(p.replicas().stream().map(Node::id).sorted().toList(),
                    p.isr().stream().map(Node::id).sorted().toList(), "isr of " + i);
        }

        // On a cluster the broker answering may learn of the topic a moment after
        // the one that created it (Kafka's brokers too).
        Set<String> names = eventually(() -> admin.listTopics().names().get(20, TimeUnit.SECONDS),
                n -> n.contains(topic));
        assertTrue(names.contains(topic), "listTopics contains " + topic);
    }

    @Test
    void internalTopicsAreHiddenFromListUnlessAsked() throws Exception {
        Set<String> plain = admin.listTopics().names().get(20, TimeUnit.SECONDS);
        assertTrue(plain.stream().noneMatch(n -> n.startsWith("__")), "no internal topic listed: " + plain);
        // listInternal(true) must at least not fail; __consumer_offsets appears only once groups were used.
        admin.listTopics(new ListTopicsOptions().listInternal(true)).names().get(20, TimeUnit.SECONDS);
    }

    @Test
    void creatingAnExistingTopicFailsWithTopicExists() throws Exception {
        String topic = Broker.createTopic(admin, "admin-dup", 1);
        ExecutionException e = assertThrows(ExecutionException.class, () ->
                admin.createTopics(List.of(new NewTopic(topic, 1, Broker.replicationFactor()))).all().get(20, TimeUnit.SECONDS));
        assertInstanceOf(TopicExistsException.class, e.getCause());
    }

    @Test
    void creatingATopicWithAnIllegalNameFailsWithInvalidTopic() {
        for (String bad : List.of("bad/name", "bad name", "..", "x".repeat(250))) {
            ExecutionException e = assertThrows(ExecutionException.class, () ->
                    admin.createTopics(List.of(new NewTopic(bad, 1, Broker.replicationFactor()))).all().get(20, TimeUnit.SECONDS),
                    "create '" + bad + "'");
            assertInstanceOf(InvalidTopicException.class, e.getCause(), "create '" + bad + "'");
        }
    }

    @Test
    void deletedTopicDisappearsFromListAndDescribe() throws Exception {
        String topic = Broker.createTopic(admin, "admin-delete", 2);
        admin.deleteTopics(List.of(topic)).all().get(20, TimeUnit.SECONDS);

        Set<String> names = eventually(() -> admin.listTopics().names().get(20, TimeUnit.SECONDS),
                n -> !n.contains(topic));
        assertFalse(names.contains(topic), "deleted topic still listed");
        ExecutionException e = assertThrows(ExecutionException.class, () -> describe(topic));
        assertInstanceOf(UnknownTopicOrPartitionException.class, e.getCause());
    }

    @Test
    void deletingAnUnknownTopicFailsWithUnknownTopic() {
        ExecutionException e = assertThrows(ExecutionException.class, () ->
                admin.deleteTopics(List.of(Broker.unique("admin-nosuch"))).all().get(20, TimeUnit.SECONDS));
        assertInstanceOf(UnknownTopicOrPartitionException.class, e.getCause());
    }

    @Test
    void topicConfigsDescribeRetentionDefault() throws Exception {
        String topic = Broker.createTopic(admin, "admin-cfg", 1);
        Config c = topicConfig(topic);
        ConfigEntry retention = c.get("retention.ms");
        assertNotNull(retention, "retention.ms present in " + c);
        assertEquals("604800000", retention.value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, retention.source());
        ConfigEntry maxMessage = c.get("max.message.bytes");
        assertNotNull(maxMessage, "max.message.bytes present");
        assertEquals("1048588", maxMessage.value());
        ConfigEntry cleanup = c.get("cleanup.policy");
        assertNotNull(cleanup, "cleanup.policy present");
        assertEquals("delete", cleanup.value());
    }

    @Test
    void topicCreatedWithAConfigDescribesItAsDynamicTopicConfig() throws Exception {
        String topic = Broker.createTopic(admin, "admin-cfgcreate", 1, Map.of("retention.ms", "86400000"));
        ConfigEntry e = topicConfig(topic).get("retention.ms");
        assertEquals("86400000", e.value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, e.source());
    }

    @Test
    void incrementalAlterConfigsSetsRetentionAsDynamicTopicConfigAndDeleteRestoresDefault() throws Exception {
        String topic = Broker.createTopic(admin, "admin-alter", 1);
        ConfigResource r = new ConfigResource(ConfigResource.Type.TOPIC, topic);
        admin.incrementalAlterConfigs(Map.of(r, List.of(new AlterConfigOp(
                new ConfigEntry("retention.ms", "3600000"), AlterConfigOp.OpType.SET))))
                .all().get(20, TimeUnit.SECONDS);

        ConfigEntry e = eventually(() -> topicConfig(topic).get("retention.ms"),
                x -> "3600000".equals(x.value()));
        assertEquals("3600000", e.value());
        assertEquals(ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG, e.source());

        admin.incrementalAlterConfigs(Map.of(r, List.of(new AlterConfigOp(
                new ConfigEntry("retention.ms", null), AlterConfigOp.OpType.DELETE))))
                .all().get(20, TimeUnit.SECONDS);
        ConfigEntry back = eventually(() -> topicConfig(topic).get("retention.ms"),
                x -> "604800000".equals(x.value()));
        assertEquals("604800000", back.value());
        assertEquals(ConfigEntry.ConfigSource.DEFAULT_CONFIG, back.source());
    }

    @Test
    void createPartitionsGrowsTopicFromThreeToFive() throws Exception {
        String topic = Broker.createTopic(admin, "admin-grow", 3);
        admin.createPartitions(Map.of(topic, NewPartitions.increaseTo(5))).all().get(20, TimeUnit.SECONDS);
        TopicDescription d = eventually(() -> describe(topic), x -> x.partitions().size() == 5);
        assertEquals(5, d.partitions().size());
        Broker.awaitLeaders(admin, topic, 5);
    }

    @Test
    void describeClusterReportsIdEveryNodeAndController() throws Exception {
        DescribeClusterResult c = admin.describeCluster();
        String id = c.clusterId().get(20, TimeUnit.SECONDS);
        Collection<Node> nodes = c.nodes().get(20, TimeUnit.SECONDS);
        Node controller = c.controller().get(20, TimeUnit.SECONDS);
        assertNotNull(id, "cluster id");
        assertFalse(id.isBlank(), "cluster id");
        assertEquals(Broker.nodes(), nodes.size(), "nodes " + nodes);
        assertNotNull(controller, "controller");
        assertFalse(controller.isEmpty(), "controller");
        // KRaft brokers report one of the live brokers as the controller (a client
        // never reaches the quorum's controllers); with one node it is that node.
        assertTrue(nodes.stream().anyMatch(n -> n.id() == controller.id()),
                "the reported controller " + controller + " is one of " + nodes);
    }

    @Test
    void deleteRecordsMovesTheLowWatermark() throws Exception {
        String topic = Broker.createTopic(admin, "admin-delrec", 1);
        TopicPartition tp = new TopicPartition(topic, 0);
        try (KafkaProducer<String, String> p = Broker.producer()) {
            for (int i = 0; i < 10; i++) p.send(new ProducerRecord<>(topic, 0, null, "v" + i)).get(20, TimeUnit.SECONDS);
        }
        long low = admin.deleteRecords(Map.of(tp, RecordsToDelete.beforeOffset(6))).lowWatermarks().get(tp)
                .get(20, TimeUnit.SECONDS).lowWatermark();
        assertEquals(6, low);

        try (KafkaConsumer<String, String> c = Broker.consumer()) {
            assertEquals(6L, c.beginningOffsets(List.of(tp)).get(tp));
            assertEquals(10L, c.endOffsets(List.of(tp)).get(tp));
            var recs = Broker.readAll(c, List.of(tp), 4, java.time.Duration.ofSeconds(15));
            assertEquals(List.of(6L, 7L, 8L, 9L), recs.stream().map(r -> r.offset()).toList());
        }
    }
}
