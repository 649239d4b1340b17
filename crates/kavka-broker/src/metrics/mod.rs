//! What the broker exports at `/metrics`, in Prometheus' text format, under the
//! names the Prometheus JMX exporter's usual Kafka rules give Kafka's MBeans
//! (`kafka.server:type=BrokerTopicMetrics,name=BytesInPerSec,topic=t` →
//! `kafka_server_brokertopicmetrics_bytesin_total{topic="t"}`), so dashboards
//! built for Kafka work with few changes.
//!
//! Two kinds of figures, and who keeps them:
//! - **Counters on the request path** are relaxed atomics in fixed places:
//!   [`RequestMetrics`] (per API and version, counted where a connection answers
//!   a request) and [`TopicTraffic`] (per topic, held by every hosted partition
//!   of the topic and counted by the produce and fetch handlers). Counting
//!   takes no lock and allocates nothing.
//! - **Everything else is read at scrape time** from the state that already
//!   holds it (`scrape.rs`): log offsets and sizes from the partitions, replica
//!   health from the metadata image, lag from the group coordinator, connection
//!   and request-queue counts from their own atomics, descriptors from `/proc`.

mod requests;
mod scrape;
mod text;
mod traffic;

pub(crate) use requests::RequestMetric;
pub use requests::RequestMetrics;
pub use scrape::render;
pub(crate) use text::CONTENT_TYPE;
pub use traffic::{TopicTraffic, TrafficCounts, TrafficRegistry, TrafficSnapshot};

/// The broker-wide counters that belong to no other component.
#[derive(Debug, Default)]
pub struct BrokerMetrics {
    /// Requests answered, per API and version, and their latency.
    pub requests: RequestMetrics,
}
