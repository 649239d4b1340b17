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

/// How long a new topic may take to get a leader and a full ISR on every partition.
const TOPIC_READY_TIMEOUT: Duration = Duration::from_secs(60);

/// Shared settings of a benchmark run.
pub(crate) struct Cluster {
    pub(crate) bootstrap: String,
    /// `--client-config` settings, applied to every client.
    pub(crate) client_settings: Vec<(String, String)>,
    /// The broker processes (one per node of a cluster) sampled in /proc.
    pub(crate) broker_pids: Vec<u32>,
    /// Replication factor of every topic a workload creates.
    pub(crate) replication_factor: i32,
    pub(crate) ticks_per_second: u64,
    runtime: tokio::runtime::Runtime,
}

/// Leader, replicas and in-sync replicas of one partition, from Metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PartitionState {
    pub(crate) leader: i32,
    pub(crate) replicas: Vec<i32>,
    pub(crate) isr: Vec<i32>,
}

impl PartitionState {
    /// A leader, and every replica of the assignment in the ISR.
    pub(crate) fn is_fully_replicated(&self, replication_factor: i32) -> bool {
        self.leader >= 0
            && self.replicas.len() == replication_factor as usize
            && self.replicas.iter().all(|r| self.isr.contains(r))
    }
}

impl Cluster {
    /// A cluster at `bootstrap`, with the brokers' PIDs (if known) for /proc sampling.
    pub(crate) fn new(
        bootstrap: String,
        broker_pids: Vec<u32>,
        replication_factor: i32,
        ticks_per_second: u64,
    ) -> anyhow::Result<Self> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the tokio runtime")?;
        Ok(Self {
            bootstrap,
            client_settings: Vec::new(),
            broker_pids,
            replication_factor,
            ticks_per_second,
            runtime,
        })
    }

    /// A client configuration pointing at the broker, with nothing else set.
    pub(crate) fn client_config(&self) -> ClientConfig {
        let mut c = ClientConfig::new();
        c.set("bootstrap.servers", &self.bootstrap);
        for (k, v) in &self.client_settings {
            c.set(k, v);
        }
        c
    }

    /// Starts measuring broker and client CPU and broker RSS.
    pub(crate) fn meter(&self) -> anyhow::Result<Meter> {
        Meter::start(&self.broker_pids, self.ticks_per_second)
    }

    /// Creates a topic with a name no earlier run used and waits until every
    /// partition has a leader and a full ISR.
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
        let mut topic = NewTopic::new(&name, 1, TopicReplication::Fixed(self.replication_factor));
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

    /// Creates topics (`--replication-factor`) and waits until every partition
    /// has a leader and all its replicas in the ISR, so no timed phase starts
    /// while followers are still catching up.
    pub(crate) fn create_topics(&self, names: &[String], partitions: i32) -> anyhow::Result<()> {
        self.create_many_topics(names, partitions, names.len())
    }

    /// Creates `names`, `per_request` topics to a CreateTopics request, then waits
    /// until every partition has its leader and replicas, over one connection.
    pub(crate) fn create_many_topics(
        &self,
        names: &[String],
        partitions: i32,
        per_request: usize,
    ) -> anyhow::Result<()> {
        let admin: AdminClient<DefaultClientContext> = self
            .client_config()
            .create()
            .context("creating the admin client")?;
        let options = AdminOptions::new().operation_timeout(Some(Duration::from_secs(30)));
        for chunk in names.chunks(per_request.max(1)) {
            let topics: Vec<NewTopic> = chunk
                .iter()
                .map(|n| {
                    NewTopic::new(
                        n,
                        partitions,
                        TopicReplication::Fixed(self.replication_factor),
                    )
                })
                .collect();
            let results = self
                .runtime
                .block_on(admin.create_topics(&topics, &options))
                .context("CreateTopics request failed")?;
            for r in results {
                if let Err((topic, code)) = r {
                    bail!("creating topic {topic}: {code}");
                }
            }
        }
        let client = self.metadata_client()?;
        for name in names {
            self.wait_fully_replicated(&client, name, partitions, TOPIC_READY_TIMEOUT)?;
        }
        Ok(())
    }

    pub(crate) fn metadata_client(&self) -> anyhow::Result<BaseConsumer> {
        self.client_config()
            .create()
            .context("creating a metadata client")
    }

    /// The state of every partition of `topic` (by partition id), or `None`
    /// while the topic is unknown or any partition is in error.
    pub(crate) fn partition_states(
        client: &BaseConsumer,
        topic: &str,
    ) -> Option<Vec<PartitionState>> {
        let md = client
            .fetch_metadata(Some(topic), Duration::from_secs(5))
            .ok()?;
        let t = md
            .topics()
            .iter()
            .find(|t| t.name() == topic && t.error().is_none())?;
        let mut parts: Vec<_> = t.partitions().iter().collect();
        parts.sort_by_key(|p| p.id());
        parts
            .into_iter()
            .map(|p| {
                p.error().is_none().then(|| PartitionState {
                    leader: p.leader(),
                    replicas: p.replicas().to_vec(),
                    isr: p.isr().to_vec(),
                })
            })
            .collect()
    }

    /// Waits (up to `timeout`) until all `partitions` of `topic` have a leader
    /// and a full ISR at the configured replication factor.
    pub(crate) fn wait_fully_replicated(
        &self,
        client: &BaseConsumer,
        topic: &str,
        partitions: i32,
        timeout: Duration,
    ) -> anyhow::Result<()> {
        let deadline = Instant::now() + timeout;
        let mut last = None;
        loop {
            let states = Self::partition_states(client, topic);
            let ready = states.as_ref().is_some_and(|s| {
                s.len() == partitions as usize
                    && s.iter()
                        .all(|p| p.is_fully_replicated(self.replication_factor))
            });
            if ready {
                return Ok(());
            }
            last = states.or(last);
            if Instant::now() > deadline {
                bail!(
                    "topic {topic}: not every one of its {partitions} partitions has a leader and \
                     {} in-sync replicas after {timeout:?} (last seen: {last:?})",
                    self.replication_factor
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn wait_for_leaders(&self, topic: &str, partitions: i32) -> anyhow::Result<()> {
        let client = self.metadata_client()?;
        self.wait_fully_replicated(&client, topic, partitions, TOPIC_READY_TIMEOUT)
    }
}
