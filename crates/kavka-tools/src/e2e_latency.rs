//! `kafka-e2e-latency`: sends one record at a time and waits to consume it, and
//! prints Kafka's progress, average and percentile lines.

use std::ffi::OsString;
use std::time::{Duration, Instant};

use kafka_protocol::messages::create_topics_request::CreatableTopic;
use kafka_protocol::messages::{CreateTopicsRequest, TopicName};
use kafka_protocol::protocol::StrBytes;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
use rdkafka::{Offset, TopicPartitionList};

use crate::props::Props;
use crate::wire::Connection;

const POLL_TIMEOUT: Duration = Duration::from_secs(60);
const POSITIONAL_WARNING: &str = "WARNING: Positional argument usage is deprecated and will be removed in Apache Kafka 5.0. Please use named arguments instead: --bootstrap-server, --topic, --num-records, --producer-acks, --record-size, --command-config";

/// The run's parameters, from positional or named arguments.
#[derive(Debug, PartialEq)]
struct Params {
    bootstrap: String,
    topic: String,
    num_records: usize,
    acks: String,
    record_size: usize,
    config: Option<String>,
}

/// Kafka 4.4 takes `BROKERS TOPIC NUM ACKS SIZE [PROPS_FILE]` (deprecated) or the
/// same as named options.
fn parse(args: &[String]) -> Result<(Params, bool), String> {
    let positional = !args.first().is_some_and(|a| a.starts_with("--"));
    let values: Vec<Option<String>> = if positional {
        if args.len() != 5 && args.len() != 6 {
            return Err(format!("Invalid number of arguments. Expected 5 or 6 positional arguments, but got {}. Usage: bootstrap-server topic num-records producer-acks record-size [optional] command-config", args.len()));
        }
        (0..6).map(|i| args.get(i).cloned()).collect()
    } else {
        let names = [
            "--bootstrap-server",
            "--topic",
            "--num-records",
            "--producer-acks",
            "--record-size",
            "--command-config",
        ];
        let mut values = vec![None; 6];
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let i = names.iter().position(|n| n == flag).ok_or_else(|| {
                format!(
                    "{} is not a recognized option",
                    flag.trim_start_matches('-')
                )
            })?;
            let value = it.next().ok_or_else(|| {
                format!(
                    "Option {} requires an argument",
                    flag.trim_start_matches('-')
                )
            })?;
            values[i] = Some(value.clone());
        }
        for (i, name) in names.iter().enumerate().take(5) {
            if values[i].is_none() {
                return Err(format!(
                    "Missing required argument \"[{}]\"",
                    name.trim_start_matches('-')
                ));
            }
        }
        values
    };
    let get = |i: usize| values.get(i).cloned().flatten().unwrap_or_default();
    let number = |i: usize, name: &str| {
        get(i)
            .parse::<usize>()
            .map_err(|_| format!("Invalid value for --{name}: {}", get(i)))
    };
    let acks = get(3);
    if acks != "1" && acks != "all" {
        return Err("Invalid value for --producer-acks. Latency testing requires synchronous acknowledgement. Please use '1' or 'all'.".into());
    }
    Ok((
        Params {
            bootstrap: get(0),
            topic: get(1),
            num_records: number(2, "num-records")?,
            acks,
            record_size: number(4, "record-size")?,
            config: values
                .get(5)
                .cloned()
                .flatten()
                .filter(|s| !s.trim().is_empty()),
        },
        positional,
    ))
}

/// Java's `Double.toString` for the millisecond values Kafka prints.
fn java_double(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e7 {
        format!("{x:.1}")
    } else {
        format!("{x}")
    }
}

/// Kafka's closing lines: the average and the 50th, 99th and 99.9th percentiles.
fn results(total_ns: f64, mut latencies_ms: Vec<u64>) -> [String; 2] {
    let n = latencies_ms.len().max(1);
    latencies_ms.sort_unstable();
    let at = |p: f64| {
        latencies_ms
            .get((latencies_ms.len() as f64 * p) as usize)
            .copied()
            .unwrap_or(0)
    };
    [
        format!(
            "Avg latency: {:.4} ms",
            total_ns / n as f64 / 1000.0 / 1000.0
        ),
        format!(
            "Percentiles: 50th = {}, 99th = {}, 99.9th = {}",
            at(0.5),
            at(0.99),
            at(0.999)
        ),
    ]
}

/// Runs kafka-e2e-latency.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Vec<String> = argv
        .into_iter()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    if args.first().is_some_and(|a| !a.starts_with("--")) {
        println!("{POSITIONAL_WARNING}");
    }
    let params = match parse(&args) {
        Ok((p, _)) => p,
        Err(message) => {
            eprintln!("{message}");
            return Ok(1);
        }
    };
    match run(&params) {
        Ok(()) => Ok(0),
        Err(message) => {
            eprintln!("{message}");
            Ok(1)
        }
    }
}

fn run(p: &Params) -> Result<(), String> {
    let props = match &p.config {
        Some(f) => Props::load(std::path::Path::new(f)).map_err(|e| e.to_string())?,
        None => Props::default(),
    };
    let mut conn = Connection::bootstrap(&p.bootstrap).map_err(|e| e.to_string())?;
    let metadata = conn
        .metadata(Some(std::slice::from_ref(&p.topic)))
        .map_err(|e| e.to_string())?;
    let exists = metadata
        .topics
        .iter()
        .any(|t| t.error_code == 0 && !t.partitions.is_empty());
    if !exists {
        println!(
            "Topic \"{}\" does not exist. Will create topic with 1 partition(s) and replication factor = 1",
            p.topic
        );
        let request = CreateTopicsRequest::default()
            .with_timeout_ms(30_000)
            .with_topics(vec![CreatableTopic::default()
                .with_name(TopicName(StrBytes::from_string(p.topic.clone())))
                .with_num_partitions(1)
                .with_replication_factor(1)]);
        let response = conn.send(request).map_err(|e| e.to_string())?;
        if response
            .topics
            .iter()
            .any(|t| t.error_code != 0 && t.error_code != 36)
        {
            println!("Creation of topic {} failed", p.topic);
            return Err(format!("Creation of topic {} failed", p.topic));
        }
    }
    let mut producer_config =
        crate::client::client_config(&p.bootstrap, &props).map_err(|e| e.to_string())?;
    producer_config.set("linger.ms", "0").set("acks", &p.acks);
    let producer: BaseProducer =
        crate::client::create(producer_config).map_err(|e| e.to_string())?;
    let mut consumer_config =
        crate::client::client_config(&p.bootstrap, &props).map_err(|e| e.to_string())?;
    consumer_config
        .set("group.id", format!("test-group-{}", now_ms()))
        .set("enable.auto.commit", "false")
        .set("auto.offset.reset", "latest")
        .set("fetch.wait.max.ms", "0");
    let consumer: BaseConsumer =
        crate::client::create(consumer_config).map_err(|e| e.to_string())?;
    // Assigned at the end of every partition, as Kafka's tool seeks to the end.
    let meta = consumer
        .fetch_metadata(Some(&p.topic), Duration::from_secs(30))
        .map_err(|e| e.to_string())?;
    let mut assignment = TopicPartitionList::new();
    for t in meta.topics() {
        for part in t.partitions() {
            assignment
                .add_partition_offset(&p.topic, part.id(), Offset::End)
                .map_err(|e| e.to_string())?;
        }
    }
    consumer.assign(&assignment).map_err(|e| e.to_string())?;
    let mut total_ns = 0.0f64;
    let mut latencies = Vec::with_capacity(p.num_records);
    let mut letters = 0u64;
    for i in 0..p.num_records {
        letters = letters
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1);
        let message = vec![b'A' + (letters >> 33) as u8 % 26; p.record_size];
        let begin = Instant::now();
        producer
            .send(BaseRecord::<(), [u8]>::to(&p.topic).payload(&message))
            .map_err(|(e, _)| e.to_string())?;
        producer.flush(POLL_TIMEOUT).map_err(|e| e.to_string())?;
        let read = loop {
            match consumer.poll(POLL_TIMEOUT) {
                Some(Ok(m)) => break m.payload().map(<[u8]>::to_vec).unwrap_or_default(),
                Some(Err(rdkafka::error::KafkaError::PartitionEOF(_))) => continue,
                Some(Err(e)) => return Err(e.to_string()),
                None => {
                    return Err(format!(
                        "poll() timed out before finding a result (timeout:[{}])",
                        POLL_TIMEOUT.as_millis()
                    ))
                }
            }
        };
        let elapsed = begin.elapsed();
        if read != message {
            return Err(format!(
                "The message read [{}] did not match the message sent [{}]",
                String::from_utf8_lossy(&read),
                String::from_utf8_lossy(&message)
            ));
        }
        let ns = elapsed.as_nanos() as f64;
        if i % 1000 == 0 {
            println!("{i}\t{}", java_double(ns / 1000.0 / 1000.0));
        }
        total_ns += ns;
        latencies.push(u64::try_from(elapsed.as_millis()).unwrap_or(u64::MAX));
    }
    for line in results(total_ns, latencies) {
        println!("{line}");
    }
    Ok(())
}

fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(s: &[&str]) -> Vec<String> {
        s.iter().map(ToString::to_string).collect()
    }

    #[test]
    fn positional_and_named_arguments_mean_the_same() {
        let (a, positional) =
            parse(&strings(&["b:9092", "t", "10", "all", "100"])).expect("positional");
        assert!(positional);
        let (b, positional) = parse(&strings(&[
            "--bootstrap-server",
            "b:9092",
            "--topic",
            "t",
            "--num-records",
            "10",
            "--producer-acks",
            "all",
            "--record-size",
            "100",
        ]))
        .expect("named");
        assert!(!positional);
        assert_eq!(a, b);
    }

    #[test]
    fn bad_arguments_get_kafkas_messages() {
        assert_eq!(
            parse(&strings(&["b", "t", "3"])).unwrap_err(),
            "Invalid number of arguments. Expected 5 or 6 positional arguments, but got 3. Usage: bootstrap-server topic num-records producer-acks record-size [optional] command-config"
        );
        assert_eq!(
            parse(&strings(&["b", "t", "2", "0", "10"])).unwrap_err(),
            "Invalid value for --producer-acks. Latency testing requires synchronous acknowledgement. Please use '1' or 'all'."
        );
    }

    #[test]
    fn results_print_as_kafka() {
        let [avg, pct] = results(3.0e6 * 4.0, vec![1, 2, 3, 6]);
        assert_eq!(avg, "Avg latency: 3.0000 ms");
        assert_eq!(pct, "Percentiles: 50th = 3, 99th = 6, 99.9th = 6");
        assert_eq!(java_double(126.0), "126.0");
        assert_eq!(java_double(126.163474), "126.163474");
    }
}
