//! Broker registration, heartbeats, fencing and controlled shutdown.

use uuid::Uuid;

use super::election::{remove_broker, restore_leaders};
use super::{ClusterControl, ControlError, Session};
use crate::{MetadataImage, MetadataRecord};

/// A BrokerRegistration request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Registration {
    pub broker_id: i32,
    /// New on every process start.
    pub incarnation_id: Uuid,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
}

/// A BrokerHeartbeat request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    pub broker_id: i32,
    pub broker_epoch: i64,
    /// How far the broker has applied the metadata log (records applied).
    pub current_metadata_offset: u64,
    /// The broker asks to be fenced (it cannot serve, e.g. its log dir failed).
    pub want_fence: bool,
    /// The broker asks to shut down: move its leaderships away first.
    pub want_shutdown_now: bool,
}

/// The controller's answer to a heartbeat, as of the records it returned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HeartbeatReply {
    /// The broker has applied its own registration.
    pub is_caught_up: bool,
    pub is_fenced: bool,
    /// A broker in controlled shutdown that leads nothing may exit now.
    pub should_shut_down: bool,
}

impl ClusterControl {
    /// Registers a broker, fenced until a heartbeat shows it has caught up; returns
    /// its broker epoch (the offset its registration record will have). A restart
    /// (new incarnation) replaces the old registration; a second live process with
    /// the same id is refused.
    pub fn register(
        &mut self,
        image: &MetadataImage,
        req: &Registration,
        now_ms: i64,
    ) -> Result<(i64, Vec<MetadataRecord>), ControlError> {
        let mut records = Vec::new();
        if let Some(old) = image.broker(req.broker_id) {
            let same_process = old.incarnation_id == Some(req.incarnation_id);
            if !same_process && !old.fenced && self.is_alive(req.broker_id, now_ms) {
                return Err(ControlError::DuplicateBrokerRegistration);
            }
            // The old incarnation's leaderships and ISR places go before the new
            // registration replaces it: its unflushed records may be gone.
            if !old.fenced {
                records.extend(remove_broker(
                    image,
                    req.broker_id,
                    self.config.unclean_leader_election,
                ));
            }
        }
        let broker_epoch = (image.next_offset() + records.len() as u64) as i64;
        records.push(MetadataRecord::RegisterBroker {
            broker_id: req.broker_id,
            host: req.host.clone(),
            port: req.port,
            rack: req.rack.clone(),
            incarnation_id: Some(req.incarnation_id),
            broker_epoch,
            fenced: true,
        });
        self.sessions.insert(
            req.broker_id,
            Session {
                broker_epoch,
                last_contact_ms: now_ms,
            },
        );
        Ok((broker_epoch, records))
    }

    /// Handles a heartbeat: renews the session, unfences a broker that has caught
    /// up, fences one that asks, and drives a controlled shutdown.
    pub fn heartbeat(
        &mut self,
        image: &MetadataImage,
        req: &Heartbeat,
        now_ms: i64,
    ) -> Result<(HeartbeatReply, Vec<MetadataRecord>), ControlError> {
        let broker = image
            .broker(req.broker_id)
            .ok_or(ControlError::BrokerIdNotRegistered)?;
        if broker.broker_epoch != req.broker_epoch {
            return Err(ControlError::StaleBrokerEpoch);
        }
        self.sessions.insert(
            req.broker_id,
            Session {
                broker_epoch: req.broker_epoch,
                last_contact_ms: now_ms,
            },
        );
        let is_caught_up = req.current_metadata_offset > broker.broker_epoch as u64;
        let unclean = self.config.unclean_leader_election;
        let change = |fenced: Option<bool>, shutdown: Option<bool>| {
            MetadataRecord::BrokerRegistrationChange {
                broker_id: req.broker_id,
                broker_epoch: req.broker_epoch,
                fenced,
                in_controlled_shutdown: shutdown,
            }
        };
        let mut records = Vec::new();
        if req.want_shutdown_now {
            if !broker.in_controlled_shutdown {
                records.extend(remove_broker(image, req.broker_id, unclean));
                records.push(change(None, Some(true)));
            }
        } else if req.want_fence {
            if !broker.fenced {
                records.extend(remove_broker(image, req.broker_id, unclean));
                records.push(change(Some(true), None));
            }
        } else if broker.fenced && is_caught_up {
            records.push(change(Some(false), None));
            let mut unfenced = image.clone();
            if unfenced.apply_all(&records).is_ok() {
                records.extend(restore_leaders(&unfenced, req.broker_id, unclean));
            }
        }
        // Most heartbeats change nothing: the image is copied only when they do.
        let mut after = std::borrow::Cow::Borrowed(image);
        if !records.is_empty() {
            after
                .to_mut()
                .apply_all(&records)
                .map_err(|_| ControlError::InvalidRequest("heartbeat records do not apply"))?;
        }
        let leads_nothing = after
            .topics()
            .all(|t| t.partitions.values().all(|p| p.leader != req.broker_id));
        // Done with its controlled shutdown: fence it now, as Kafka does, so that
        // its restart registers at once instead of waiting out the session.
        if after
            .broker(req.broker_id)
            .is_some_and(|b| b.in_controlled_shutdown && !b.fenced && leads_nothing)
        {
            let fence = change(Some(true), None);
            after
                .to_mut()
                .apply_all(std::slice::from_ref(&fence))
                .map_err(|_| ControlError::InvalidRequest("heartbeat records do not apply"))?;
            records.push(fence);
        }
        let now = after
            .broker(req.broker_id)
            .ok_or(ControlError::BrokerIdNotRegistered)?;
        Ok((
            HeartbeatReply {
                is_caught_up,
                is_fenced: now.fenced,
                should_shut_down: now.in_controlled_shutdown && leads_nothing,
            },
            records,
        ))
    }

    /// Fences every broker whose session ran out, moving its leaderships to other
    /// ISR members. A broker this controller has not heard from yet gets a session
    /// starting now (a new active controller does not trust an old one's times).
    pub fn tick(&mut self, image: &MetadataImage, now_ms: i64) -> Vec<MetadataRecord> {
        let mut records = Vec::new();
        // The image as the fences so far leave it; copied only when a broker is
        // fenced (a copy of every partition on each tick is most of an idle
        // controller's work with many partitions).
        let mut current: Option<MetadataImage> = None;
        for broker in image.brokers() {
            let session = self.sessions.entry(broker.broker_id).or_insert(Session {
                broker_epoch: broker.broker_epoch,
                last_contact_ms: now_ms,
            });
            if session.broker_epoch != broker.broker_epoch {
                *session = Session {
                    broker_epoch: broker.broker_epoch,
                    last_contact_ms: now_ms,
                };
            }
            let expired = now_ms - session.last_contact_ms > self.config.session_timeout_ms;
            if broker.fenced || !expired {
                continue;
            }
            tracing::info!(
                broker = broker.broker_id,
                "fencing broker: no heartbeat within broker.session.timeout.ms"
            );
            let fence = self.fence_records(
                current.as_ref().unwrap_or(image),
                broker.broker_id,
                broker.broker_epoch,
            );
            if current
                .get_or_insert_with(|| image.clone())
                .apply_all(&fence)
                .is_ok()
            {
                records.extend(fence);
            }
        }
        self.sessions.retain(|id, _| image.broker(*id).is_some());
        records
    }

    /// The records that fence a broker and move its leaderships to other ISR
    /// members.
    fn fence_records(
        &self,
        image: &MetadataImage,
        broker_id: i32,
        epoch: i64,
    ) -> Vec<MetadataRecord> {
        let mut fence = remove_broker(image, broker_id, self.config.unclean_leader_election);
        fence.push(MetadataRecord::BrokerRegistrationChange {
            broker_id,
            broker_epoch: epoch,
            fenced: Some(true),
            in_controlled_shutdown: None,
        });
        fence
    }

    /// Fences a broker known to be gone before its session runs out (its process
    /// no longer listens: a crash). Nothing if it is unknown, already fenced, or
    /// heard from within `grace_ms` (a broker that heartbeats is alive whatever a
    /// probe said).
    pub fn fence_gone(
        &mut self,
        image: &MetadataImage,
        broker_id: i32,
        grace_ms: i64,
        now_ms: i64,
    ) -> Vec<MetadataRecord> {
        let Some(broker) = image.broker(broker_id).filter(|b| !b.fenced) else {
            return Vec::new();
        };
        let heard = self.sessions.get(&broker_id).is_some_and(|s| {
            s.broker_epoch == broker.broker_epoch && now_ms - s.last_contact_ms <= grace_ms
        });
        if heard {
            return Vec::new();
        }
        let fence = self.fence_records(image, broker_id, broker.broker_epoch);
        let mut check = image.clone();
        if check.apply_all(&fence).is_err() {
            return Vec::new();
        }
        fence
    }

    /// How long since `broker_id` last heartbeated (None: never, to this controller).
    pub fn silent_for(&self, broker_id: i32, now_ms: i64) -> Option<i64> {
        self.sessions
            .get(&broker_id)
            .map(|s| now_ms - s.last_contact_ms)
    }

    /// Whether `broker_id`'s session is current.
    pub fn is_alive(&self, broker_id: i32, now_ms: i64) -> bool {
        self.sessions
            .get(&broker_id)
            .is_some_and(|s| now_ms - s.last_contact_ms <= self.config.session_timeout_ms)
    }
}
