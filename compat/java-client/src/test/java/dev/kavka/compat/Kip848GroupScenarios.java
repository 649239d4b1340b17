package dev.kavka.compat;

import java.time.Duration;
import java.util.List;
import java.util.Set;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The same split and leave scenarios with group.protocol=consumer (KIP-848: ConsumerGroupHeartbeat,
 * broker-side assignor). Needs the broker to support the new protocol.
 */
@Tag("groups")
@Tag("kip848")
class Kip848GroupScenarios {
    static Admin admin;

    @BeforeAll
    static void open() {
        admin = Broker.admin();
    }

    @AfterAll
    static void close() {
        if (admin != null) admin.close();
    }

    @ParameterizedTest(name = "{0} member(s) split 3 partitions as {1}")
    @CsvSource({"1, 3", "2, 2+1", "3, 1+1+1", "4, 1+1+1+0"})
    void membersSplitThreePartitionsWithoutSharing(int n, String sizes) throws Exception {
        List<Integer> expected = java.util.Arrays.stream(sizes.split("\\+")).map(Integer::valueOf).sorted().toList();
        String topic = Broker.createTopic(admin, "k848-split" + n, 3);
        String group = Broker.unique("g848-split" + n);
        Set<TopicPartition> all = Set.copyOf(Broker.partitions(topic, 3));
        List<GroupMembers.Member> ms = GroupMembers.start(n, topic, group, "consumer");
        try {
            GroupMembers.awaitSplit(admin, group, ms, all, expected, Duration.ofSeconds(45));
        } finally {
            GroupMembers.closeAll(ms);
        }
    }

    @Test
    void aMemberThatLeavesHasItsPartitionsReassigned() throws Exception {
        String topic = Broker.createTopic(admin, "k848-leave", 3);
        String group = Broker.unique("g848-leave");
        Set<TopicPartition> all = Set.copyOf(Broker.partitions(topic, 3));
        List<GroupMembers.Member> ms = GroupMembers.start(3, topic, group, "consumer");
        try {
            GroupMembers.awaitSplit(admin, group, ms, all, List.of(1, 1, 1), Duration.ofSeconds(45));
            ms.get(0).close();
            GroupMembers.awaitSplit(admin, group, ms.subList(1, 3), all, List.of(1, 2), Duration.ofSeconds(30));
        } finally {
            GroupMembers.closeAll(ms);
        }
    }
}
