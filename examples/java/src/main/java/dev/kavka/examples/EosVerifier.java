package dev.kavka.examples;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;

/**
 * Reads a pipeline's output and checks that every committed input record is there
 * exactly once, correctly transformed, and that no record of the aborted input is.
 *
 * <pre>
 *   EosVerifier --bootstrap H:P --output T --records N [--aborted M]
 * </pre>
 */
public final class EosVerifier {
    private static final Pattern RESULT = Pattern.compile("\\{\"n\":(-?\\d+),\"square\":(-?\\d+)}");

    private EosVerifier() {}

    public static void main(String[] argv) {
        EosPipeline.Args args = new EosPipeline.Args(argv);
        boolean ok = verify(args.bootstrap, args.get("output", null), args.getInt("records", 2000),
            args.getInt("aborted", 0));
        System.exit(ok ? 0 : 1);
    }

    /** Prints the counts; true when each of the {@code committed} inputs is in the output once. */
    static boolean verify(String bootstrap, String output, int committed, int aborted) {
        List<ConsumerRecord<String, String>> visible = readAll(bootstrap, output, "read_committed");
        int inLog = readAll(bootstrap, output, "read_uncommitted").size();
        Set<Long> seen = new HashSet<>();
        int duplicated = 0;
        int wrong = 0;
        int leaked = 0;
        for (ConsumerRecord<String, String> r : visible) {
            Matcher m = RESULT.matcher(r.value());
            if (!m.matches()) {
                wrong++;
                continue;
            }
            long n = Long.parseLong(m.group(1));
            if (Long.parseLong(m.group(2)) != n * n || !String.valueOf(n).equals(r.key())) {
                wrong++;
            }
            if (n >= committed) {
                leaked++;
            }
            if (!seen.add(n)) {
                duplicated++;
            }
        }
        long missing = 0;
        for (long n = 0; n < committed; n++) {
            if (!seen.contains(n)) {
                missing++;
            }
        }
        System.out.printf("%-6s %-14s %-13s %-24s %-8s %-11s %-15s %s%n", "input", "aborted input",
            "output (log)", "output (read_committed)", "missing", "duplicated", "aborted leaked", "wrong");
        System.out.printf("%-6d %-14d %-13d %-24d %-8d %-11d %-15d %d%n", committed, aborted, inLog,
            visible.size(), missing, duplicated, leaked, wrong);
        boolean ok = missing == 0 && duplicated == 0 && leaked == 0 && wrong == 0 && visible.size() == committed;
        System.out.println("check: each of the " + committed + " input records exactly once in " + output + ": "
            + (ok ? "ok" : "FAIL"));
        return ok;
    }

    /** The whole topic as the isolation level shows it, up to the end offsets taken at the start. */
    static List<ConsumerRecord<String, String>> readAll(String bootstrap, String topic, String isolation) {
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, "verifier-" + UUID.randomUUID());
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, isolation);
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        List<ConsumerRecord<String, String>> out = new ArrayList<>();
        try (KafkaConsumer<String, String> c = new KafkaConsumer<>(cp)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo p : c.partitionsFor(topic)) {
                tps.add(new TopicPartition(topic, p.partition()));
            }
            c.assign(tps);
            c.seekToBeginning(tps);
            Map<TopicPartition, Long> ends = c.endOffsets(tps);
            long deadline = System.currentTimeMillis() + 60_000;
            // The position moves past commit markers too, so it reaches the end offset.
            while (tps.stream().anyMatch(tp -> c.position(tp) < ends.get(tp))) {
                if (System.currentTimeMillis() > deadline) {
                    throw new IllegalStateException("could not read " + topic + " to its end in 60 s");
                }
                c.poll(Duration.ofMillis(500)).forEach(out::add);
            }
        }
        return out;
    }
}
