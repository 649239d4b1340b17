package dev.kavka.compat;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.MemberDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.GroupState;
import org.apache.kafka.common.TopicPartition;

/** Group members that poll in their own threads, and a wait for a stable, correct split. */
final class GroupMembers {
    private GroupMembers() {}

    /** Group consumer settings. `protocol` is "classic" or "consumer" (KIP-848). */
    static Properties groupProps(String group, String protocol, Map<String, Object> extra) {
        Properties p = Broker.consumerProps();
        p.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        p.put(ConsumerConfig.GROUP_PROTOCOL_CONFIG, protocol);
        p.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        if (protocol.equals("classic")) {
            // session/heartbeat are broker-side settings under KIP-848 and refused by the client there
            p.put(ConsumerConfig.HEARTBEAT_INTERVAL_MS_CONFIG, 500);
            p.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, 10_000);
        }
        p.putAll(extra);
        return p;
    }

    static KafkaConsumer<String, String> groupConsumer(String group, String protocol, Map<String, Object> extra) {
        return new KafkaConsumer<>(groupProps(group, protocol, extra));
    }

    /** One subscribed consumer polling on its own thread; the consumer is touched only by that thread. */
    static final class Member implements AutoCloseable {
        final String name;
        private final KafkaConsumer<String, String> consumer;
        private final AtomicBoolean stop = new AtomicBoolean();
        private final Thread thread;
        volatile Set<TopicPartition> assignment = Set.of();
        volatile Throwable error;
        final List<ConsumerRecord<String, String>> received = Collections.synchronizedList(new ArrayList<>());

        Member(String name, String topic, String group, String protocol) {
            this.name = name;
            this.consumer = groupConsumer(group, protocol, Map.of(ConsumerConfig.CLIENT_ID_CONFIG, name));
            this.thread = new Thread(() -> {
                try {
                    consumer.subscribe(List.of(topic));
                    while (!stop.get()) {
                        consumer.poll(Duration.ofMillis(100)).forEach(received::add);
                        assignment = Set.copyOf(consumer.assignment());
                    }
                } catch (Throwable t) {
                    error = t;
                } finally {
                    try {
                        consumer.close(org.apache.kafka.clients.consumer.CloseOptions.timeout(Duration.ofSeconds(10)));
                    } catch (Throwable t) {
                        if (error == null) error = t;
                    }
                }
            }, "member-" + name);
            thread.setDaemon(true);
            thread.start();
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            thread.join(TimeUnit.SECONDS.toMillis(20));
        }
    }

    static List<Member> start(int n, String topic, String group, String protocol) {
        List<Member> ms = new ArrayList<>();
        for (int i = 0; i < n; i++) ms.add(new Member("m" + i, topic, group, protocol));
        return ms;
    }

    static void closeAll(List<Member> ms) throws InterruptedException {
        for (Member m : ms) m.stop.set(true);
        for (Member m : ms) m.close();
    }

    private static List<Integer> sortedSizes(List<Set<TopicPartition>> as) {
        return as.stream().map(Set::size).sorted().toList();
    }

    /** null when `as` is a disjoint cover of `all` with sizes `expected`, else why not. */
    private static String splitProblem(List<Set<TopicPartition>> as, Set<TopicPartition> all, List<Integer> expected) {
        Set<TopicPartition> union = new HashSet<>();
        int total = 0;
        for (Set<TopicPartition> a : as) {
            union.addAll(a);
            total += a.size();
        }
        if (total != union.size()) return "a partition is owned twice: " + as;
        if (!union.equals(all)) return "not all partitions owned: " + as;
        if (!sortedSizes(as).equals(expected)) return "sizes " + sortedSizes(as) + " != " + expected + ": " + as;
        return null;
    }

    /**
     * Waits until the members' own assignments and the coordinator's description (DescribeGroups /
     * ConsumerGroupDescribe) both show a Stable group of exactly these members, splitting `all`
     * disjointly with the expected sizes, for two checks in a row. Fails with the last observed state.
     */
    static void awaitSplit(Admin admin, String group, List<Member> members, Set<TopicPartition> all,
                           List<Integer> expected, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String why = "never checked";
        int okInARow = 0;
        while (System.nanoTime() < deadline) {
            for (Member m : members) {
                if (m.error != null) throw new AssertionError("member " + m.name + " failed: " + m.error, m.error);
            }
            List<Set<TopicPartition>> local = members.stream().map(m -> m.assignment).toList();
            why = splitProblem(local, all, expected);
            if (why == null) {
                ConsumerGroupDescription d = admin.describeConsumerGroups(List.of(group)).all()
                        .get(20, TimeUnit.SECONDS).get(group);
                List<Set<TopicPartition>> remote = d.members().stream()
                        .map(md -> (Set<TopicPartition>) new HashSet<>(md.assignment().topicPartitions())).toList();
                if (d.groupState() != GroupState.STABLE) {
                    why = "coordinator says " + d.groupState();
                } else if (d.members().size() != members.size()) {
                    why = "coordinator lists " + d.members().size() + " members: " + describe(d);
                } else if ((why = splitProblem(remote, all, expected)) != null) {
                    why = "coordinator: " + why;
                } else if (!new HashSet<>(remote).equals(new HashSet<>(local))) {
                    why = "coordinator " + remote + " != members " + local;
                }
            }
            okInARow = why == null ? okInARow + 1 : 0;
            if (okInARow >= 2) return;
            Thread.sleep(250);
        }
        throw new AssertionError("group " + group + " did not settle on " + expected + " within " + timeout + ": " + why);
    }

    static String describe(ConsumerGroupDescription d) {
        return d.members().stream().map((MemberDescription m) -> m.clientId() + "="
                + new TreeSet<>(m.assignment().topicPartitions().stream().map(TopicPartition::partition)
                .collect(Collectors.toSet()))).toList().toString();
    }
}
