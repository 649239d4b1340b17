package dev.kavka.compat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/** Shared plumbing: which broker, unique names, client factories with bounded timeouts. */
final class Broker {
    private Broker() {}

    /** -DKAVKA_BOOTSTRAP, else env KAVKA_BOOTSTRAP, else 127.0.0.1:9092. */
    static String bootstrap() {
        String p = System.getProperty("KAVKA_BOOTSTRAP");
        if (p != null && !p.isBlank()) return p.trim();
        String e = System.getenv("KAVKA_BOOTSTRAP");
        if (e != null && !e.isBlank()) return e.trim();
        return "127.0.0.1:9092";
    }

    /**
     * Brokers in the cluster under test (-DKAVKA_NODES / env, run.sh --cluster N, default 1).
     * Topics get this many replicas (at most 3), so a 3-node run exercises RF 3.
     */
    static int nodes() {
        String v = System.getProperty("KAVKA_NODES");
        if (v == null || v.isBlank()) v = System.getenv("KAVKA_NODES");
        return v == null || v.isBlank() ? 1 : Integer.parseInt(v.trim());
    }

    static short replicationFactor() {
        return (short) Math.min(nodes(), 3);
    }

    /** A name unique to this run, so reruns against one broker never collide. */
    static String unique(String prefix) {
        return prefix + "-" + UUID.randomUUID().toString().substring(0, 8);
    }

    static Admin admin() {
        Properties p = new Properties();
        p.put(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20_000);
        return Admin.create(p);
    }

    static Properties producerProps() {
        Properties p = new Properties();
        p.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        p.put(ProducerConfig.MAX_BLOCK_MS_CONFIG, 20_000);
        p.put(ProducerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ProducerConfig.DELIVERY_TIMEOUT_MS_CONFIG, 20_000);
        p.put(ProducerConfig.LINGER_MS_CONFIG, 5);
        return p;
    }

    static KafkaProducer<String, String> producer() {
        return new KafkaProducer<>(producerProps());
    }

    static KafkaProducer<String, String> producer(Map<String, Object> extra) {
        Properties p = producerProps();
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    static KafkaProducer<byte[], byte[]> bytesProducer(Map<String, Object> extra) {
        Properties p = producerProps();
        p.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, ByteArraySerializer.class.getName());
        p.putAll(extra);
        return new KafkaProducer<>(p);
    }

    static Properties consumerProps() {
        Properties p = new Properties();
        p.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        p.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        p.put(ConsumerConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000);
        p.put(ConsumerConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 20_000);
        return p;
    }

    /** A consumer with no group.id: assign() + seek only. */
    static KafkaConsumer<String, String> consumer(Map<String, Object> extra) {
        Properties p = consumerProps();
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    static KafkaConsumer<String, String> consumer() {
        return consumer(Map.of());
    }

    static KafkaConsumer<byte[], byte[]> bytesConsumer(Map<String, Object> extra) {
        Properties p = consumerProps();
        p.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, ByteArrayDeserializer.class.getName());
        p.putAll(extra);
        return new KafkaConsumer<>(p);
    }

    /** Creates a topic with {@link #replicationFactor()} replicas and waits until every partition has a leader. */
    static String createTopic(Admin admin, String prefix, int partitions) throws Exception {
        return createTopic(admin, prefix, partitions, Map.of());
    }

    static String createTopic(Admin admin, String prefix, int partitions, Map<String, String> configs)
            throws Exception {
        String name = unique(prefix);
        admin.createTopics(List.of(new NewTopic(name, partitions, replicationFactor()).configs(configs)))
                .all().get(20, TimeUnit.SECONDS);
        awaitLeaders(admin, name, partitions);
        return name;
    }

    static void awaitLeaders(Admin admin, String topic, int partitions) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        Exception last = null;
        while (System.nanoTime() < deadline) {
            try {
                var d = admin.describeTopics(List.of(topic)).allTopicNames().get(10, TimeUnit.SECONDS).get(topic);
                if (d.partitions().size() == partitions
                        && d.partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty())) {
                    return;
                }
            } catch (Exception e) {
                last = e;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("topic " + topic + " never got " + partitions + " led partitions", last);
    }

    /** Reads from the beginning of the given partitions (assign, no group) until `count` records or timeout. */
    static <K, V> List<ConsumerRecord<K, V>> readAll(KafkaConsumer<K, V> c, Collection<TopicPartition> tps,
                                                     int count, Duration timeout) {
        c.assign(tps);
        c.seekToBeginning(tps);
        List<ConsumerRecord<K, V>> out = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (out.size() < count && System.nanoTime() < deadline) {
            ConsumerRecords<K, V> rs = c.poll(Duration.ofMillis(200));
            rs.forEach(out::add);
        }
        return out;
    }

    static List<TopicPartition> partitions(String topic, int n) {
        List<TopicPartition> l = new ArrayList<>();
        for (int i = 0; i < n; i++) l.add(new TopicPartition(topic, i));
        return l;
    }
}
