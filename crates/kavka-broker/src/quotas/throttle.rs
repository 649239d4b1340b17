//! Where quotas meet requests: what is measured before a request is handled
//! and how its answer is throttled afterwards. The connection mutes itself for
//! the returned duration (Kafka's `ThrottledChannel`): the answer goes out at
//! once, carrying `throttle_time_ms`, and nothing more is read from the client
//! until the time has passed. Kafka 4 does the same for every request version,
//! so a client too old to wait by itself is held back by the muted socket.

use std::time::Duration;

use kafka_protocol::messages::{FetchResponse, RequestKind, ResponseKind};

use crate::security::Session;
use crate::state::BrokerState;

/// What `before_handling` measured, for `after_handling`.
pub(crate) enum Metered {
    /// Not subject to a byte-rate quota.
    None,
    /// A Produce with this many bytes of record batches.
    Produce { bytes: usize },
    /// A consumer's Fetch (a follower's is never throttled).
    Fetch,
    /// CreateTopics, CreatePartitions or DeleteTopics: the handler applied the
    /// controller mutation quota and set `throttle_time_ms`.
    Mutation,
}

/// Measures a request before it is handled, and caps a consumer fetch to what
/// its quota allows in one window. Cheap when no quota is set at all.
pub(crate) fn before_handling(
    state: &BrokerState,
    session: &Session,
    client_id: &str,
    body: Option<&mut RequestKind>,
) -> Metered {
    let Some(body) = body else {
        return Metered::None;
    };
    match body {
        RequestKind::CreateTopics(_)
        | RequestKind::CreatePartitions(_)
        | RequestKind::DeleteTopics(_) => Metered::Mutation,
        RequestKind::Produce(r) => Metered::Produce {
            // Kafka counts the whole request; its record batches are nearly all of it.
            bytes: r
                .topic_data
                .iter()
                .flat_map(|t| &t.partition_data)
                .map(|p| p.records.as_ref().map_or(0, |b| b.len()))
                .sum(),
        },
        RequestKind::Fetch(r) => {
            if r.replica_id.0 >= 0 || r.replica_state.replica_id.0 >= 0 {
                return Metered::None;
            }
            let image = state.metadata.image();
            if let Some(max) =
                state
                    .quotas
                    .fetch_max_bytes(image.client_quotas(), session, client_id)
            {
                r.max_bytes = r.max_bytes.min(max);
            }
            Metered::Fetch
        }
        _ => Metered::None,
    }
}

/// Records what a handled request used against its quota, sets
/// `throttle_time_ms` on the answer and returns how long to mute the
/// connection. A throttled fetch is answered without data, as Kafka answers it.
pub(crate) fn after_handling(
    state: &BrokerState,
    session: &Session,
    client_id: &str,
    metered: Metered,
    response: &mut Option<ResponseKind>,
) -> Option<Duration> {
    let ms = match metered {
        Metered::None => return None,
        Metered::Produce { bytes } => {
            let image = state.metadata.image();
            let ms = state
                .quotas
                .record_produce(image.client_quotas(), session, client_id, bytes);
            if let Some(ResponseKind::Produce(r)) = response {
                r.throttle_time_ms = clamp_ms(ms);
            }
            ms
        }
        Metered::Fetch => {
            let Some(ResponseKind::Fetch(r)) = response else {
                return None;
            };
            let bytes: usize = r
                .responses
                .iter()
                .flat_map(|t| &t.partitions)
                .map(|p| p.records.as_ref().map_or(0, |b| b.len()))
                .sum();
            let image = state.metadata.image();
            let ms = state
                .quotas
                .record_fetch(image.client_quotas(), session, client_id, bytes);
            if ms > 0 {
                *r = FetchResponse::default()
                    .with_throttle_time_ms(clamp_ms(ms))
                    .with_session_id(r.session_id);
            }
            ms
        }
        Metered::Mutation => match response {
            Some(ResponseKind::CreateTopics(r)) => r.throttle_time_ms.max(0) as u64,
            Some(ResponseKind::CreatePartitions(r)) => r.throttle_time_ms.max(0) as u64,
            Some(ResponseKind::DeleteTopics(r)) => r.throttle_time_ms.max(0) as u64,
            _ => 0,
        },
    };
    (ms > 0).then(|| Duration::from_millis(ms))
}

fn clamp_ms(ms: u64) -> i32 {
    i32::try_from(ms).unwrap_or(i32::MAX)
}
