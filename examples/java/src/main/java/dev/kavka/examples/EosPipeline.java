package dev.kavka.examples;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

/**
 * The exactly-once read-process-write pipeline of eos_pipeline.py with the Java client:
 * consume {@code input} with read_committed, transform, produce {@code output}, and put
 * the input offsets in the same transaction. The driver kills the pipeline's JVM with
 * SIGKILL mid-stream, starts it again, and runs {@link EosVerifier} on the output.
 *
 * <pre>
 *   EosPipeline [--bootstrap H:P] [--records 2000] [--aborted 200] [--kills 3] [--seed 7]
 *   EosPipeline pipeline --bootstrap H:P --input T --output T --group G   (one pipeline process)
 * </pre>
 */
public final class EosPipeline {
    private EosPipeline() {}

    /** The processing step; the verifier checks it was applied once to every input. */
    static String transform(String value) {
        long n = Long.parseLong(value);
        return "{\"n\":" + n + ",\"square\":" + (n * n) + "}";
    }

    public static void main(String[] argv) throws Exception {
        Args args = new Args(argv);
        if (args.command.equals("pipeline")) {
            pipeline(args);
            return;
        }
        System.exit(drive(args));
    }

    static int drive(Args args) throws Exception {
        String run = args.get("run-id", UUID.randomUUID().toString().substring(0, 8));
        String input = "java-eos-" + run + "-input";
        String output = "java-eos-" + run + "-output";
        int records = args.getInt("records", 2000);
        int aborted = args.getInt("aborted", 200);
        int kills = args.getInt("kills", 3);
        int partitions = args.getInt("partitions", 3);
        short rf = (short) args.getInt("replication-factor", 1);
        Random rng = new Random(args.getInt("seed", 7));

        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, args.bootstrap))) {
            admin.createTopics(List.of(new NewTopic(input, partitions, rf), new NewTopic(output, partitions, rf)))
                .all().get(60, TimeUnit.SECONDS);
        }
        produceInput(args.bootstrap, input, records, aborted);

        TreeSet<Integer> points = new TreeSet<>();
        while (points.size() < kills) {
            points.add(records / 10 + rng.nextInt(records * 7 / 10));
        }
        System.out.println("EosPipeline (Java): " + records + " committed + " + aborted
            + " aborted input records, SIGKILL after " + points + " records processed");

        List<String> cmd = new ArrayList<>(List.of(
            ProcessHandle.current().info().command().orElse("java"),
            "-cp", System.getProperty("java.class.path"),
            "-Dorg.slf4j.simpleLogger.defaultLogLevel=error",
            EosPipeline.class.getName(), "pipeline", "--bootstrap", args.bootstrap,
            "--input", input, "--output", output, "--group", "java-eos-" + run,
            "--work-ms", String.valueOf(args.getInt("work-ms", 1))));
        int attempts = 0;
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(args.getInt("timeout", 240));
        while (true) {
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.INHERIT).start();
            boolean killed = false;
            try (BufferedReader out = new BufferedReader(
                    new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = out.readLine()) != null) {
                    if (System.nanoTime() > deadline) {
                        p.destroyForcibly();
                        throw new IllegalStateException("pipeline did not finish in time");
                    }
                    if (line.startsWith("P ")) {
                        attempts++;
                        if (!killed && !points.isEmpty() && attempts >= points.first()) {
                            points.pollFirst();
                            // SIGKILL on Linux: no shutdown hook, no close(). Through the
                            // handle, so that the lines already in the pipe can still be read.
                            p.toHandle().destroyForcibly();
                            killed = true;
                        }
                    }
                }
            }
            int rc = p.waitFor();
            if (killed) {
                continue;
            }
            if (rc != 0) {
                throw new IllegalStateException("pipeline exited with " + rc);
            }
            break;
        }
        System.out.println("pipeline attempts (records transformed, aborted ones included): " + attempts);
        return EosVerifier.verify(args.bootstrap, output, records, aborted) ? 0 : 1;
    }

    /** N records in committed transactions, then M in one that is aborted. */
    static void produceInput(String bootstrap, String topic, int committed, int aborted) {
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, topic + "-source");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaProducer<String, String> p = new KafkaProducer<>(pp)) {
            p.initTransactions();
            for (int start = 0; start < committed; start += 500) {
                p.beginTransaction();
                for (int i = start; i < Math.min(start + 500, committed); i++) {
                    p.send(new ProducerRecord<>(topic, String.valueOf(i), String.valueOf(i)));
                }
                p.commitTransaction();
            }
            p.beginTransaction();
            for (int i = committed; i < committed + aborted; i++) {
                p.send(new ProducerRecord<>(topic, String.valueOf(i), String.valueOf(i)));
            }
            p.flush();
            p.abortTransaction();
        }
    }

    /** One pipeline process: runs until it stands at the end of its input. */
    static void pipeline(Args args) throws InterruptedException {
        String group = args.get("group", null);
        String output = args.get("output", null);
        long workMs = args.getInt("work-ms", 1);
        Properties cp = new Properties();
        cp.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, args.bootstrap);
        cp.put(ConsumerConfig.GROUP_ID_CONFIG, group);
        // Static membership: the restarted JVM takes its partitions back at once instead
        // of waiting for the killed member's session to time out.
        cp.put(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, group + "-worker");
        cp.put(ConsumerConfig.SESSION_TIMEOUT_MS_CONFIG, "10000");
        cp.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, "false");
        cp.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        cp.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        cp.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, "100");
        cp.put(ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        cp.put(ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class.getName());
        Properties pp = new Properties();
        pp.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, args.bootstrap);
        // Stable across restarts: initTransactions fences the killed instance and aborts
        // the transaction it left open.
        pp.put(ProducerConfig.TRANSACTIONAL_ID_CONFIG, group + "-pipeline");
        pp.put(ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        pp.put(ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class.getName());
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(cp);
             KafkaProducer<String, String> producer = new KafkaProducer<>(pp)) {
            producer.initTransactions();
            consumer.subscribe(List.of(args.get("input", null)));
            while (true) {
                ConsumerRecords<String, String> batch = consumer.poll(Duration.ofSeconds(1));
                if (batch.isEmpty()) {
                    if (caughtUp(consumer)) {
                        break;
                    }
                    continue;
                }
                producer.beginTransaction();
                Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
                for (ConsumerRecord<String, String> r : batch) {
                    Thread.sleep(workMs);
                    producer.send(new ProducerRecord<>(output, r.key(), transform(r.value())));
                    next.put(new TopicPartition(r.topic(), r.partition()), new OffsetAndMetadata(r.offset() + 1));
                    System.out.println("P " + r.value());
                    System.out.flush();
                }
                producer.sendOffsetsToTransaction(next, consumer.groupMetadata());
                producer.commitTransaction();
            }
        }
    }

    private static boolean caughtUp(KafkaConsumer<String, String> consumer) {
        var assignment = consumer.assignment();
        if (assignment.isEmpty()) {
            return false;
        }
        // With read_committed, endOffsets is the last stable offset.
        Map<TopicPartition, Long> ends = consumer.endOffsets(assignment);
        for (TopicPartition tp : assignment) {
            if (consumer.position(tp) < ends.get(tp)) {
                return false;
            }
        }
        return true;
    }

    /** --key value pairs after an optional command word. */
    static final class Args {
        final String command;
        final String bootstrap;
        private final Map<String, String> values = new HashMap<>();

        Args(String[] argv) {
            int i = 0;
            command = argv.length > 0 && !argv[0].startsWith("--") ? argv[i++] : "drive";
            for (; i + 1 < argv.length; i += 2) {
                if (!argv[i].startsWith("--")) {
                    throw new IllegalArgumentException("unexpected argument: " + argv[i]);
                }
                values.put(argv[i].substring(2), argv[i + 1]);
            }
            if (i < argv.length) {
                throw new IllegalArgumentException(argv[i] + " needs a value");
            }
            String env = System.getenv("KAVKA_BOOTSTRAP");
            bootstrap = get("bootstrap", env != null ? env : "127.0.0.1:9092");
        }

        String get(String key, String dflt) {
            String v = values.getOrDefault(key, dflt);
            if (v == null) {
                throw new IllegalArgumentException("--" + key + " is required");
            }
            return v;
        }

        int getInt(String key, int dflt) {
            return Integer.parseInt(get(key, String.valueOf(dflt)));
        }
    }
}
