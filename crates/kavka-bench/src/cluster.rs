//! The broker under test as the workloads see it: where it is, which process it
//! is, and topic creation through the admin API.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{bail, Context};
use rdkafka::admin::{
    AdminClient, AdminOptions, AlterConfig, NewTopic, ResourceSpecifier, TopicReplication,
};
use rdkafka::client::DefaultClientContext;
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};

use crate::broker_stats::Meter;

/// Shared settings of a benchmark run.
pub(crate) struct Cluster {
    pub(crate) bootstrap: String,
    pub(crate) broker_pid: Option<u32>,
    pub(crate) ticks_per_second: u64,
    runtime: tokio::runtime::Runtime,
}

impl Cluster {
    /// A cluster at `bootstrap`, optionally with the broker's PID for /proc sampling.
    pub(crate) fn new(
        bootstrap: String,
        broker_pid: Option<u32>,
        ticks_per_second: u64,
    ) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the tokio runtime")?;
        Ok(Self {
            bootstrap,
            broker_pid,
            ticks_per_second,
            runtime,
        })
    }

    /// A client configuration pointing at the broker, with nothing else set.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        c
    }

    /// Starts measuring broker and client CPU and broker RSS.
    pub(crate) fn meter(&self) -> anyhow::Result<Meter> {
        Meter::start(self.broker_pid, self.ticks_per_second)
    }

    /// Creates a topic with a name no earlier run used and waits until every
    /// partition has a leader.
    pub(crate) fn fresh_topic(&self, workload: &str, partitions: i32) -> anyhow::Result<String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("bench-{workload}-{}-{nanos}", std::process::id());
        self.create_topics(std::slice::from_ref(&name), partitions)?;
        Ok(name)
    }

    /// Creates a fresh single-partition topic with these topic configs.
    pub(crate) fn fresh_topic_with(
        &self,
        workload: &str,
        configs: &[(&str, &str)],
    ) -> anyhow::Result<String> {
        let nanos = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        let name = format!("bench-{workload}-{}-{nanos}", std::process::id());
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .context("creating the admin client")?;
        let mut topic = NewTopic::new(&name, 1, TopicReplication::Fixed(1));
        for (k, v) in configs {
            topic = topic.set(k, v);
        }
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = self
            .runtime
            .block_on(admin.create_topics([&topic], &options))
            .context("CreateTopics request failed")?;
        for r in results {
            if let Err((topic, code)) = r {
                bail!("creating topic {topic}: {code}");
            }
        }
        self.wait_for_leaders(&name, 1)?;
        Ok(name)
    }

    /// Replaces a topic's configs (AlterConfigs, which drops any config not given).
    pub(crate) fn set_topic_configs(
        &self,
        topic: &str,
        configs: &[(&str, &str)],
    ) -> anyhow::Result<()> {
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .context("creating the admin client")?;
        let mut change = AlterConfig::new(ResourceSpecifier::Topic(topic));
        for (k, v) in configs {
            change = change.set(k, v);
        }
        let results = self
            .runtime
            .block_on(admin.alter_configs([&change], &AdminOptions::new()))
            .context("AlterConfigs request failed")?;
        for r in results {
            if let Err((_, code)) = r {
                bail!("setting configs of {topic}: {code}");
            }
        }
        Ok(())
    }

    /// Creates topics (replication factor 1) and waits until every partition has a leader.
    pub(crate) fn create_topics(&self, names: &[String], partitions: i32) -> anyhow::Result<()> {
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .context("creating the admin client")?;
        let topics: Vec<NewTopic> = names
            .iter()
            .map(|n| NewTopic::new(n, partitions, TopicReplication::Fixed(1)))
            .collect();
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        let results = self
            .runtime
            .block_on(admin.create_topics(&topics, &options))
            .context("CreateTopics request failed")?;
        for r in results {
            if let Err((topic, code)) = r {
                bail!("creating topic {topic}: {code}");
            }
        }
        for name in names {
            self.wait_for_leaders(name, partitions)?;
        }
        Ok(())
    }

    fn wait_for_leaders(&self, topic: &str, partitions: i32) -> anyhow::Result<()> {
        let consumer: BaseConsumer = self
            .client_config()
            .create()
            .context("creating a metadata client")?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let ready = consumer
                .fetch_metadata(Some(topic), Duration::from_secs(5))
                .is_ok_and(|md| {
                    md.topics().iter().any(|t| {
                        t.name() == topic
                            && t.error().is_none()
                            && t.partitions().len() == partitions as usize
                            && t.partitions()
                                .iter()
                                .all(|p| p.leader() >= 0 && p.error().is_none())
                    })
                });
            if ready {
                return Ok(());
            }
            if Instant::now() > deadline {
                bail!("topic {topic} has no leader for all {partitions} partitions after 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
