// Kafka's Java client as producer and consumer of the failover check: the same
// arguments and line log as common.py describes (check.py reads them all).
import java.io.FileWriter;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

public class FailoverClient {
    static final int KEYS = 12;

    static final class Log {
        private final PrintWriter w;

        Log(String path) throws IOException {
            w = new PrintWriter(new FileWriter(path, StandardCharsets.UTF_8));
        }

        // Producer callbacks run on the I/O thread while main writes too.
        synchronized void line(Object... parts) {
            StringBuilder sb = new StringBuilder();
            for (Object p : parts) {
                if (sb.length() > 0) sb.append(' ');
                sb.append(p);
            }
            w.println(sb);
            w.flush();
        }

        synchronized void close() {
            w.close();
        }
    }

    static String oneLine(Exception e) {
        return String.valueOf(e).replace('\n', ' ');
    }

    static void pace(long t0, long n, double rate) throws InterruptedException {
        long due = t0 + (long) (n * 1e9 / rate);
        long wait = due - System.nanoTime();
        if (wait > 0) TimeUnit.NANOSECONDS.sleep(wait);
    }

    static void produce(String bootstrap, String topic, int count, double rate, String out) throws Exception {
        Log log = new Log(out);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("acks", "all");
        p.put("enable.idempotence", "true");
        p.put("linger.ms", "5");
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p)) {
            log.line("start", System.currentTimeMillis());
            long t0 = System.nanoTime();
            for (int n = 0; n < count; n++) {
                pace(t0, n, rate);
                final int id = n;
                byte[] key = ("k" + (n % KEYS)).getBytes(StandardCharsets.UTF_8);
                byte[] value = Integer.toString(n).getBytes(StandardCharsets.UTF_8);
                producer.send(new ProducerRecord<>(topic, key, value), (md, err) -> {
                    if (err == null) {
                        log.line("ack", id, md.partition(), md.offset(), System.currentTimeMillis());
                    } else {
                        log.line("err", id, oneLine(err));
                    }
                });
            }
            producer.flush();
        }
        log.line("done", "sent=" + count);
        log.close();
    }

    static void consume(String bootstrap, String topic, String group, int max, double rate, String out) throws Exception {
        Log log = new Log(out);
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap);
        p.put("group.id", group);
        p.put("auto.offset.reset", "earliest");
        p.put("enable.auto.commit", "false");
        p.put("max.poll.records", "50");
        p.put("key.deserializer", ByteArrayDeserializer.class.getName());
        p.put("value.deserializer", ByteArrayDeserializer.class.getName());
        int read = 0;
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(p)) {
            List<TopicPartition> tps = new ArrayList<>();
            for (PartitionInfo pi : consumer.partitionsFor(topic, Duration.ofSeconds(30))) {
                tps.add(new TopicPartition(topic, pi.partition()));
            }
            Map<Integer, Long> ends = new TreeMap<>();
            consumer.endOffsets(tps, Duration.ofSeconds(30)).forEach((tp, o) -> ends.put(tp.partition(), o));
            ends.forEach((part, o) -> log.line("end", part, o));
            Map<Integer, Long> pos = new HashMap<>();
            Map<TopicPartition, OffsetAndMetadata> committed =
                consumer.committed(new java.util.HashSet<>(tps), Duration.ofSeconds(30));
            for (TopicPartition tp : tps) {
                OffsetAndMetadata om = committed.get(tp);
                long o = om == null ? -1 : om.offset();
                log.line("committed", tp.partition(), o);
                pos.put(tp.partition(), Math.max(o, 0));
            }
            consumer.subscribe(List.of(topic));
            long t0 = System.nanoTime();
            while (true) {
                boolean finished = max > 0 && read >= max;
                if (!finished) {
                    finished = true;
                    for (Map.Entry<Integer, Long> e : ends.entrySet()) {
                        if (pos.getOrDefault(e.getKey(), 0L) < e.getValue()) finished = false;
                    }
                }
                if (finished) break;
                ConsumerRecords<byte[], byte[]> recs = consumer.poll(Duration.ofMillis(500));
                if (recs.isEmpty()) continue;
                Map<TopicPartition, OffsetAndMetadata> offsets = new HashMap<>();
                for (ConsumerRecord<byte[], byte[]> r : recs) {
                    log.line("rec", r.partition(), r.offset(), new String(r.value(), StandardCharsets.UTF_8));
                    read++;
                    pos.merge(r.partition(), r.offset() + 1, Math::max);
                    offsets.put(new TopicPartition(topic, r.partition()), new OffsetAndMetadata(r.offset() + 1));
                }
                try {
                    consumer.commitSync(offsets);
                    offsets.forEach((tp, om) -> log.line("commit", tp.partition(), om.offset()));
                } catch (KafkaException e) {
                    // A commit refused while the coordinator moves is retried with the next batch.
                    log.line("err", -1, "commit: " + oneLine(e));
                }
                if (rate > 0) pace(t0, read, rate);
            }
        }
        log.line("done", "read=" + read);
        log.close();
    }

    public static void main(String[] a) throws Exception {
        if (a[0].equals("produce")) {
            produce(a[1], a[2], Integer.parseInt(a[3]), Double.parseDouble(a[4]), a[5]);
        } else {
            consume(a[1], a[2], a[3], Integer.parseInt(a[4]), Double.parseDouble(a[5]), a[6]);
        }
    }
}
