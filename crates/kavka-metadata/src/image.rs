use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::acl::Acl;
use crate::client_quotas::ClientQuotas;
use crate::{ConfigResource, MetadataError, MetadataRecord};

/// A registered broker.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BrokerImage {
    pub broker_id: i32,
    pub host: String,
    pub port: i32,
    pub rack: Option<String>,
    pub incarnation_id: Option<Uuid>,
    /// Offset of the registration record; requests from an older one are stale.
    pub broker_epoch: i64,
    /// Fenced brokers lead nothing and are in no ISR (beyond a last member).
    pub fenced: bool,
    pub in_controlled_shutdown: bool,
}

impl BrokerImage {
    /// Whether the broker may lead partitions and join ISRs (KIP-841).
    pub fn is_eligible(&self) -> bool {
        !self.fenced && !self.in_controlled_shutdown
    }
}

/// One partition's placement and leadership.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PartitionImage {
    /// During a reassignment: the target replicas, then those being removed.
    pub replicas: Vec<i32>,
    pub isr: Vec<i32>,
    pub leader: i32,
    pub leader_epoch: i32,
    pub partition_epoch: i32,
    /// Replicas an ongoing reassignment adds (not in the original assignment).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub adding_replicas: Vec<i32>,
    /// Replicas an ongoing reassignment removes (not in the target).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removing_replicas: Vec<i32>,
}

impl PartitionImage {
    /// Whether a reassignment is in progress (KIP-455).
    pub fn is_reassigning(&self) -> bool {
        !self.adding_replicas.is_empty() || !self.removing_replicas.is_empty()
    }

    /// The replicas the partition will have once its reassignment completes.
    pub fn target_replicas(&self) -> Vec<i32> {
        without(&self.replicas, &self.removing_replicas)
    }

    /// The replicas the partition had before its reassignment began.
    pub fn original_replicas(&self) -> Vec<i32> {
        without(&self.replicas, &self.adding_replicas)
    }
}

impl PartitionImage {
    /// Applies a PartitionChange: a new leader, or a replica leaving the
    /// assignment, starts a new leader epoch (Kafka bumps it when the replicas
    /// shrink, so the removed replica's fetches are fenced); every change bumps
    /// the partition epoch.
    pub fn apply_change(
        &mut self,
        leader: i32,
        isr: &[i32],
        replicas: Option<&[i32]>,
        adding_replicas: Option<&[i32]>,
        removing_replicas: Option<&[i32]>,
    ) {
        let shrunk = replicas.is_some_and(|new| self.replicas.iter().any(|r| !new.contains(r)));
        if self.leader != leader || shrunk {
            self.leader_epoch += 1;
        }
        self.leader = leader;
        self.isr = isr.to_vec();
        if let Some(replicas) = replicas {
            self.replicas = replicas.to_vec();
        }
        if let Some(adding) = adding_replicas {
            self.adding_replicas = adding.to_vec();
        }
        if let Some(removing) = removing_replicas {
            self.removing_replicas = removing.to_vec();
        }
        self.partition_epoch += 1;
    }
}

/// `list` in its order, minus the members of `remove`.
pub(crate) fn without(list: &[i32], remove: &[i32]) -> Vec<i32> {
    list.iter()
        .copied()
        .filter(|r| !remove.contains(r))
        .collect()
}

/// A user's SCRAM credential for one mechanism, as the broker checks logins against it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScramCredentialData {
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
    pub iterations: i32,
}

impl std::fmt::Debug for ScramCredentialData {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs, as Kafka hides them in its toString.
        f.debug_struct("ScramCredentialData")
            .field("iterations", &self.iterations)
            .finish_non_exhaustive()
    }
}

/// A topic and its partitions, indexed by partition number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TopicImage {
    pub name: String,
    pub topic_id: Uuid,
    pub partitions: BTreeMap<i32, PartitionImage>,
}

/// The cluster metadata as of the last applied record. Serializable so that a Raft
/// snapshot of the metadata log is the image itself; comparable so replicas can be
/// checked for equality.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetadataImage {
    /// Shared per topic: a copy of the image (each change a subscriber may still
    /// hold the last one) copies one pointer per topic, not every partition, and
    /// an unchanged topic is the same allocation in both (`topic_shared`).
    topics: BTreeMap<String, Arc<TopicImage>>,
    names_by_id: HashMap<Uuid, String>,
    brokers: BTreeMap<i32, BrokerImage>,
    #[serde(with = "configs_as_pairs")]
    configs: BTreeMap<ConfigResource, BTreeMap<String, String>>,
    /// Number of records applied: the offset of the next record in the metadata log.
    next_offset: u64,
    /// The first producer id no block has covered yet (0 in images from before
    /// the controller allocated producer ids).
    #[serde(default)]
    next_producer_id: i64,
    /// SCRAM credentials: user → mechanism type code → credential (absent in
    /// images from before SCRAM).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    scram: BTreeMap<String, BTreeMap<i8, ScramCredentialData>>,
    /// The ACLs by id (empty in images from before ACLs were stored).
    #[serde(default)]
    acls: BTreeMap<Uuid, Acl>,
    /// Client quotas by entity (empty in images from before quotas).
    #[serde(default, skip_serializing_if = "ClientQuotas::is_empty")]
    client_quotas: ClientQuotas,
}

/// A config resource is an enum, and JSON map keys must be strings: the configs
/// travel as a list of (resource, settings) pairs.
mod configs_as_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use crate::ConfigResource;

    type Configs = BTreeMap<ConfigResource, BTreeMap<String, String>>;

    pub(super) fn serialize<S: Serializer>(configs: &Configs, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(configs.iter())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Configs, D::Error> {
        let pairs = Vec::<(ConfigResource, BTreeMap<String, String>)>::deserialize(d)?;
        Ok(pairs.into_iter().collect())
    }
}

/// What one applied record changed, kept while a batch of records is applied so a
/// refusal part-way can put the image back as it was.
#[derive(Debug)]
enum Undo {
    /// The broker's registration before (None: there was none).
    Broker(i32, Option<BrokerImage>),
    TopicAdded {
        name: String,
        topic_id: Uuid,
        /// The name the id mapped to before (never, for a consistent image).
        id_was: Option<String>,
    },
    Partition {
        topic: String,
        partition: i32,
        before: Option<PartitionImage>,
    },
    Config {
        resource: ConfigResource,
        name: String,
        before: Option<String>,
        /// Whether the resource had any settings entry before (applying one
        /// creates it).
        resource_was_set: bool,
    },
    TopicRemoved {
        name: String,
        topic_id: Uuid,
        topic: Option<Arc<TopicImage>>,
        configs: Option<BTreeMap<String, String>>,
    },
    ProducerIds(i64),
    Scram {
        user: String,
        mechanism: i8,
        before: Option<ScramCredentialData>,
    },
    Acl {
        id: Uuid,
        before: Option<Acl>,
    },
    ClientQuota {
        entity: crate::client_quotas::QuotaEntity,
        key: String,
        before: Option<crate::client_quotas::QuotaValue>,
    },
}

impl MetadataImage {
    /// Applies one record. A record that refers to something missing is an error
    /// and leaves the image unchanged.
    pub fn apply(&mut self, record: &MetadataRecord) -> Result<(), MetadataError> {
        self.apply_undoable(record).map(drop)
    }

    /// Applies records in order, all or none: on an error the image is unchanged.
    /// Done in place, each record's change undone on a refusal, rather than on a
    /// copy: a copy of the whole image per entry made replaying the metadata log
    /// quadratic in the number of partitions.
    pub fn apply_all(&mut self, records: &[MetadataRecord]) -> Result<(), MetadataError> {
        let mut applied = Vec::with_capacity(records.len());
        for record in records {
            match self.apply_undoable(record) {
                Ok(undo) => applied.push(undo),
                Err(e) => {
                    for undo in applied.into_iter().rev() {
                        self.revert(undo);
                    }
                    return Err(e);
                }
            }
        }
        Ok(())
    }

    /// [`MetadataImage::apply`], returning what puts the image back as it was.
    fn apply_undoable(&mut self, record: &MetadataRecord) -> Result<Undo, MetadataError> {
        let undo = match record {
            MetadataRecord::RegisterBroker {
                broker_id,
                host,
                port,
                rack,
                incarnation_id,
                broker_epoch,
                fenced,
            } => {
                let before = self.brokers.insert(
                    *broker_id,
                    BrokerImage {
                        broker_id: *broker_id,
                        host: host.clone(),
                        port: *port,
                        rack: rack.clone(),
                        incarnation_id: *incarnation_id,
                        broker_epoch: *broker_epoch,
                        fenced: *fenced,
                        in_controlled_shutdown: false,
                    },
                );
                Undo::Broker(*broker_id, before)
            }
            MetadataRecord::BrokerRegistrationChange {
                broker_id,
                broker_epoch,
                fenced,
                in_controlled_shutdown,
            } => {
                let broker = self
                    .brokers
                    .get_mut(broker_id)
                    .filter(|b| b.broker_epoch == *broker_epoch)
                    .ok_or_else(|| stale_broker(*broker_id, *broker_epoch))?;
                let before = broker.clone();
                if let Some(fenced) = fenced {
                    broker.fenced = *fenced;
                }
                if let Some(shutting_down) = in_controlled_shutdown {
                    broker.in_controlled_shutdown = *shutting_down;
                }
                Undo::Broker(*broker_id, Some(before))
            }
            MetadataRecord::UnregisterBroker {
                broker_id,
                broker_epoch,
            } => {
                if self
                    .brokers
                    .get(broker_id)
                    .is_none_or(|b| b.broker_epoch != *broker_epoch)
                {
                    return Err(stale_broker(*broker_id, *broker_epoch));
                }
                Undo::Broker(*broker_id, self.brokers.remove(broker_id))
            }
            MetadataRecord::Topic { name, topic_id } => {
                if self.topics.contains_key(name) {
                    return Err(MetadataError::TopicAlreadyExists(name.clone()));
                }
                let id_was = self.names_by_id.insert(*topic_id, name.clone());
                self.topics.insert(
                    name.clone(),
                    Arc::new(TopicImage {
                        name: name.clone(),
                        topic_id: *topic_id,
                        partitions: BTreeMap::new(),
                    }),
                );
                Undo::TopicAdded {
                    name: name.clone(),
                    topic_id: *topic_id,
                    id_was,
                }
            }
            MetadataRecord::Partition {
                topic_id,
                partition,
                replicas,
                isr,
                leader,
                leader_epoch,
                partition_epoch,
                adding_replicas,
                removing_replicas,
            } => {
                let topic = self.topic_by_id_mut(topic_id)?;
                let before = topic.partitions.insert(
                    *partition,
                    PartitionImage {
                        replicas: replicas.clone(),
                        isr: isr.clone(),
                        leader: *leader,
                        leader_epoch: *leader_epoch,
                        partition_epoch: *partition_epoch,
                        adding_replicas: adding_replicas.clone(),
                        removing_replicas: removing_replicas.clone(),
                    },
                );
                Undo::Partition {
                    topic: topic.name.clone(),
                    partition: *partition,
                    before,
                }
            }
            MetadataRecord::PartitionChange {
                topic_id,
                partition,
                leader,
                isr,
                replicas,
                adding_replicas,
                removing_replicas,
            } => {
                let topic = self.topic_by_id_mut(topic_id)?;
                let name = topic.name.clone();
                let Some(p) = topic.partitions.get_mut(partition) else {
                    return Err(MetadataError::UnknownTopic(name));
                };
                let before = p.clone();
                p.apply_change(
                    *leader,
                    isr,
                    replicas.as_deref(),
                    adding_replicas.as_deref(),
                    removing_replicas.as_deref(),
                );
                Undo::Partition {
                    topic: name,
                    partition: *partition,
                    before: Some(before),
                }
            }
            MetadataRecord::Config {
                resource,
                name,
                value,
            } => {
                let resource_was_set = self.configs.contains_key(resource);
                let entry = self.configs.entry(resource.clone()).or_default();
                let before = match value {
                    Some(v) => entry.insert(name.clone(), v.clone()),
                    None => entry.remove(name),
                };
                Undo::Config {
                    resource: resource.clone(),
                    name: name.clone(),
                    before,
                    resource_was_set,
                }
            }
            MetadataRecord::RemoveTopic { topic_id } => {
                let name = self
                    .names_by_id
                    .remove(topic_id)
                    .ok_or_else(|| MetadataError::UnknownTopic(topic_id.to_string()))?;
                let topic = self.topics.remove(&name);
                let configs = self.configs.remove(&ConfigResource::Topic(name.clone()));
                Undo::TopicRemoved {
                    name,
                    topic_id: *topic_id,
                    topic,
                    configs,
                }
            }
            MetadataRecord::ProducerIds {
                next_producer_id, ..
            } => {
                // Blocks only move forward: an older bound would hand ids out twice.
                if *next_producer_id <= self.next_producer_id {
                    return Err(MetadataError::InvalidRequest(format!(
                        "producer id block ending at {next_producer_id} is not above {}",
                        self.next_producer_id
                    )));
                }
                let before = self.next_producer_id;
                self.next_producer_id = *next_producer_id;
                Undo::ProducerIds(before)
            }
            MetadataRecord::UserScramCredential {
                name,
                mechanism,
                salt,
                stored_key,
                server_key,
                iterations,
            } => {
                let before = self.scram.entry(name.clone()).or_default().insert(
                    *mechanism,
                    ScramCredentialData {
                        salt: salt.clone(),
                        stored_key: stored_key.clone(),
                        server_key: server_key.clone(),
                        iterations: *iterations,
                    },
                );
                Undo::Scram {
                    user: name.clone(),
                    mechanism: *mechanism,
                    before,
                }
            }
            MetadataRecord::RemoveUserScramCredential { name, mechanism } => {
                let user = self.scram.get_mut(name);
                let Some(before) = user.and_then(|u| u.remove(mechanism)) else {
                    return Err(MetadataError::ResourceNotFound(format!(
                        "no SCRAM credential of type {mechanism} for user {name}"
                    )));
                };
                if self.scram.get(name).is_some_and(BTreeMap::is_empty) {
                    self.scram.remove(name);
                }
                Undo::Scram {
                    user: name.clone(),
                    mechanism: *mechanism,
                    before: Some(before),
                }
            }
            MetadataRecord::AccessControlEntry { id, acl } => Undo::Acl {
                id: *id,
                before: self.acls.insert(*id, acl.clone()),
            },
            MetadataRecord::RemoveAccessControlEntry { id } => {
                let Some(before) = self.acls.remove(id) else {
                    return Err(MetadataError::InvalidRequest(format!(
                        "no ACL with id {id} to remove"
                    )));
                };
                Undo::Acl {
                    id: *id,
                    before: Some(before),
                }
            }
            MetadataRecord::ClientQuota { entity, key, value } => {
                let before = self
                    .client_quotas
                    .get(entity)
                    .and_then(|values| values.get(key))
                    .copied();
                self.client_quotas.apply(entity, key, *value);
                Undo::ClientQuota {
                    entity: entity.clone(),
                    key: key.clone(),
                    before,
                }
            }
        };
        self.next_offset += 1;
        Ok(undo)
    }

    /// Puts back what one applied record changed; records are reverted newest
    /// first, so each finds the image as its record left it.
    fn revert(&mut self, undo: Undo) {
        self.next_offset -= 1;
        match undo {
            Undo::Broker(id, before) => match before {
                Some(broker) => {
                    self.brokers.insert(id, broker);
                }
                None => {
                    self.brokers.remove(&id);
                }
            },
            Undo::TopicAdded {
                name,
                topic_id,
                id_was,
            } => {
                self.topics.remove(&name);
                match id_was {
                    Some(old) => self.names_by_id.insert(topic_id, old),
                    None => self.names_by_id.remove(&topic_id),
                };
            }
            Undo::Partition {
                topic,
                partition,
                before,
            } => {
                if let Some(t) = self.topics.get_mut(&topic).map(Arc::make_mut) {
                    match before {
                        Some(p) => t.partitions.insert(partition, p),
                        None => t.partitions.remove(&partition),
                    };
                }
            }
            Undo::Config {
                resource,
                name,
                before,
                resource_was_set,
            } => {
                if !resource_was_set {
                    self.configs.remove(&resource);
                } else if let Some(entry) = self.configs.get_mut(&resource) {
                    match before {
                        Some(v) => entry.insert(name, v),
                        None => entry.remove(&name),
                    };
                }
            }
            Undo::TopicRemoved {
                name,
                topic_id,
                topic,
                configs,
            } => {
                if let Some(configs) = configs {
                    self.configs
                        .insert(ConfigResource::Topic(name.clone()), configs);
                }
                if let Some(topic) = topic {
                    self.topics.insert(name.clone(), topic);
                }
                self.names_by_id.insert(topic_id, name);
            }
            Undo::ProducerIds(before) => self.next_producer_id = before,
            Undo::Scram {
                user,
                mechanism,
                before,
            } => match before {
                Some(credential) => {
                    self.scram
                        .entry(user)
                        .or_default()
                        .insert(mechanism, credential);
                }
                None => {
                    if let Some(u) = self.scram.get_mut(&user) {
                        u.remove(&mechanism);
                        if u.is_empty() {
                            self.scram.remove(&user);
                        }
                    }
                }
            },
            Undo::Acl { id, before } => match before {
                Some(acl) => {
                    self.acls.insert(id, acl);
                }
                None => {
                    self.acls.remove(&id);
                }
            },
            Undo::ClientQuota {
                entity,
                key,
                before,
            } => {
                self.client_quotas.apply(&entity, &key, before);
            }
        }
    }

    /// `user`'s SCRAM credential for the mechanism of type code `mechanism`.
    pub fn scram_credential(&self, user: &str, mechanism: i8) -> Option<&ScramCredentialData> {
        self.scram.get(user)?.get(&mechanism)
    }

    /// Every user with SCRAM credentials: user → mechanism type code → credential.
    pub fn scram_users(&self) -> &BTreeMap<String, BTreeMap<i8, ScramCredentialData>> {
        &self.scram
    }

    /// The ACLs, by the id each was created under.
    pub fn acls(&self) -> &BTreeMap<Uuid, Acl> {
        &self.acls
    }

    fn topic_by_id_mut(&mut self, id: &Uuid) -> Result<&mut TopicImage, MetadataError> {
        let name = self
            .names_by_id
            .get(id)
            .ok_or_else(|| MetadataError::UnknownTopic(id.to_string()))?;
        self.topics
            .get_mut(name)
            .map(Arc::make_mut)
            .ok_or_else(|| MetadataError::UnknownTopic(id.to_string()))
    }

    /// A topic by name.
    pub fn topic(&self, name: &str) -> Option<&TopicImage> {
        self.topics.get(name).map(|t| &**t)
    }

    /// A topic by name, as shared between images: an image derived from another
    /// holds the same allocation for every topic no record changed since
    /// (`Arc::ptr_eq`), so an applier can skip those in O(1).
    pub fn topic_shared(&self, name: &str) -> Option<&Arc<TopicImage>> {
        self.topics.get(name)
    }

    /// A topic by id.
    pub fn topic_by_id(&self, id: &Uuid) -> Option<&TopicImage> {
        self.names_by_id.get(id).and_then(|n| self.topic(n))
    }

    /// All topics in name order.
    pub fn topics(&self) -> impl Iterator<Item = &TopicImage> {
        self.topics.values().map(|t| &**t)
    }

    /// All topics in name order, as shared between images (see `topic_shared`).
    pub fn topics_shared(&self) -> impl Iterator<Item = &Arc<TopicImage>> {
        self.topics.values()
    }

    /// All registered brokers in id order.
    pub fn brokers(&self) -> impl Iterator<Item = &BrokerImage> {
        self.brokers.values()
    }

    /// One broker.
    pub fn broker(&self, id: i32) -> Option<&BrokerImage> {
        self.brokers.get(&id)
    }

    /// Configs explicitly set on a resource (defaults are the broker's business).
    pub fn configs(&self, resource: &ConfigResource) -> Option<&BTreeMap<String, String>> {
        self.configs.get(resource)
    }

    /// Client quotas by entity.
    pub fn client_quotas(&self) -> &ClientQuotas {
        &self.client_quotas
    }

    /// How many records have been applied.
    pub fn next_offset(&self) -> u64 {
        self.next_offset
    }

    /// The first producer id not yet in any block the controller handed out.
    pub fn next_producer_id(&self) -> i64 {
        self.next_producer_id
    }
}

fn stale_broker(broker_id: i32, broker_epoch: i64) -> MetadataError {
    MetadataError::InvalidRequest(format!(
        "broker {broker_id} is not registered with epoch {broker_epoch}"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topic(name: &str) -> (Uuid, Vec<MetadataRecord>) {
        let id = Uuid::new_v4();
        (
            id,
            vec![
                MetadataRecord::Topic {
                    name: name.into(),
                    topic_id: id,
                },
                MetadataRecord::Partition {
                    topic_id: id,
                    partition: 0,
                    replicas: vec![1],
                    isr: vec![1],
                    leader: 1,
                    leader_epoch: 0,
                    partition_epoch: 0,
                    adding_replicas: vec![],
                    removing_replicas: vec![],
                },
            ],
        )
    }

    #[test]
    fn topic_records_build_topic_and_remove_drops_it_with_configs() {
        let mut image = MetadataImage::default();
        let (id, records) = topic("t");
        for r in &records {
            image.apply(r).unwrap();
        }
        image
            .apply(&MetadataRecord::Config {
                resource: ConfigResource::Topic("t".into()),
                name: "retention.ms".into(),
                value: Some("1000".into()),
            })
            .unwrap();
        assert_eq!(image.topic("t").unwrap().partitions.len(), 1);
        assert_eq!(image.topic_by_id(&id).unwrap().name, "t");
        image
            .apply(&MetadataRecord::RemoveTopic { topic_id: id })
            .unwrap();
        assert!(image.topic("t").is_none());
        assert!(image.configs(&ConfigResource::Topic("t".into())).is_none());
        assert_eq!(image.next_offset(), 4);
    }

    #[test]
    fn leader_change_bumps_leader_epoch() {
        let mut image = MetadataImage::default();
        let (id, records) = topic("t");
        for r in &records {
            image.apply(r).unwrap();
        }
        image
            .apply(&MetadataRecord::PartitionChange {
                topic_id: id,
                partition: 0,
                leader: 2,
                isr: vec![2],
                replicas: None,
                adding_replicas: None,
                removing_replicas: None,
            })
            .unwrap();
        let p = &image.topic("t").unwrap().partitions[&0];
        assert_eq!((p.leader, p.leader_epoch, p.partition_epoch), (2, 1, 1));
    }

    #[test]
    fn producer_id_blocks_only_move_forward() {
        let mut image = MetadataImage::default();
        let block = |next| MetadataRecord::ProducerIds {
            broker_id: 1,
            broker_epoch: 0,
            next_producer_id: next,
        };
        image.apply(&block(1000)).unwrap();
        assert_eq!(image.next_producer_id(), 1000);
        assert!(image.apply(&block(1000)).is_err());
        assert!(image.apply(&block(500)).is_err());
        assert_eq!(image.next_producer_id(), 1000);
    }

    #[test]
    fn image_from_before_producer_id_blocks_loads_at_zero() {
        let mut json = serde_json::to_value(MetadataImage::default()).unwrap();
        json.as_object_mut().unwrap().remove("next_producer_id");
        let image: MetadataImage = serde_json::from_value(json).unwrap();
        assert_eq!(image.next_producer_id(), 0);
    }

    #[test]
    fn records_written_before_reassignment_fields_still_load() {
        let id = Uuid::nil();
        let old = format!(
            r#"{{"Partition":{{"topic_id":"{id}","partition":0,"replicas":[1],"isr":[1],"leader":1,"leader_epoch":0,"partition_epoch":0}}}}"#
        );
        let record: MetadataRecord = serde_json::from_str(&old).unwrap();
        assert!(
            matches!(record, MetadataRecord::Partition { ref adding_replicas, .. } if adding_replicas.is_empty())
        );
        let change = format!(
            r#"{{"PartitionChange":{{"topic_id":"{id}","partition":0,"leader":1,"isr":[1]}}}}"#
        );
        let record: MetadataRecord = serde_json::from_str(&change).unwrap();
        assert!(matches!(
            record,
            MetadataRecord::PartitionChange { replicas: None, .. }
        ));
        let old_image =
            r#"{"replicas":[1],"isr":[1],"leader":1,"leader_epoch":0,"partition_epoch":0}"#;
        let p: PartitionImage = serde_json::from_str(old_image).unwrap();
        assert!(!p.is_reassigning());
    }

    #[test]
    fn replicas_shrinking_bumps_the_leader_epoch_even_with_the_same_leader() {
        let mut image = MetadataImage::default();
        let (id, records) = topic("t");
        for r in &records {
            image.apply(r).unwrap();
        }
        let change = |replicas: Vec<i32>, adding: Vec<i32>, removing: Vec<i32>| {
            MetadataRecord::PartitionChange {
                topic_id: id,
                partition: 0,
                leader: 1,
                isr: vec![1],
                replicas: Some(replicas),
                adding_replicas: Some(adding),
                removing_replicas: Some(removing),
            }
        };
        image.apply(&change(vec![2, 1], vec![2], vec![])).unwrap();
        let p = &image.topic("t").unwrap().partitions[&0];
        assert_eq!((p.leader_epoch, p.partition_epoch), (0, 1));
        assert!(p.is_reassigning());
        assert_eq!(p.target_replicas(), vec![2, 1]);
        assert_eq!(p.original_replicas(), vec![1]);
        image.apply(&change(vec![1], vec![], vec![])).unwrap();
        let p = &image.topic("t").unwrap().partitions[&0];
        assert_eq!((p.leader_epoch, p.partition_epoch), (1, 2));
        assert!(!p.is_reassigning());
    }

    #[test]
    fn acl_records_add_and_remove_acls_and_survive_a_snapshot() {
        use crate::acl::{AclOperation, AclPermission, PatternType, ResourceType};
        let acl = Acl {
            resource_type: ResourceType::Topic,
            resource_name: "t".into(),
            pattern_type: PatternType::Prefixed,
            principal: "User:alice".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermission::Allow,
        };
        let id = Uuid::new_v4();
        let mut image = MetadataImage::default();
        image
            .apply(&MetadataRecord::AccessControlEntry {
                id,
                acl: acl.clone(),
            })
            .expect("added");
        let json = serde_json::to_string(&image).expect("serializes");
        let restored: MetadataImage = serde_json::from_str(&json).expect("loads");
        assert_eq!(restored.acls().get(&id), Some(&acl));
        image
            .apply(&MetadataRecord::RemoveAccessControlEntry { id })
            .expect("removed");
        assert!(image.acls().is_empty());
        assert!(image
            .apply(&MetadataRecord::RemoveAccessControlEntry { id })
            .is_err());
        // Images written before ACLs existed load with none.
        let old: MetadataImage = serde_json::from_str(
            r#"{"topics":{},"names_by_id":{},"brokers":{},"configs":[],"next_offset":3}"#,
        )
        .expect("old image loads");
        assert!(old.acls().is_empty());
    }

    #[test]
    fn partition_of_unknown_topic_is_refused() {
        let mut image = MetadataImage::default();
        let (_, records) = topic("t");
        assert!(image.apply(&records[1]).is_err());
        assert_eq!(image.next_offset(), 0);
    }

    /// Every kind of record, on an image that already holds a broker, a topic with
    /// configs, a SCRAM user, an ACL and a quota, so each change has something to
    /// replace or remove.
    fn every_kind_of_change(image: &MetadataImage) -> Vec<MetadataRecord> {
        use crate::acl::{AclOperation, AclPermission, PatternType, ResourceType};
        use crate::client_quotas::{EntityName, QuotaEntity, QuotaValue};
        let old = image.topic("old").expect("set up").topic_id;
        let (_, mut new_topic) = topic("new");
        let acl = Acl {
            resource_type: ResourceType::Group,
            resource_name: "g".into(),
            pattern_type: PatternType::Literal,
            principal: "User:bob".into(),
            host: "*".into(),
            operation: AclOperation::Read,
            permission: AclPermission::Deny,
        };
        let existing_acl = *image.acls().keys().next().expect("set up");
        let mut records = vec![
            MetadataRecord::RegisterBroker {
                broker_id: 1,
                host: "h2".into(),
                port: 2,
                rack: None,
                incarnation_id: None,
                broker_epoch: 9,
                fenced: false,
            },
            MetadataRecord::RegisterBroker {
                broker_id: 2,
                host: "h".into(),
                port: 1,
                rack: None,
                incarnation_id: None,
                broker_epoch: 10,
                fenced: true,
            },
            MetadataRecord::BrokerRegistrationChange {
                broker_id: 2,
                broker_epoch: 10,
                fenced: Some(false),
                in_controlled_shutdown: None,
            },
            MetadataRecord::PartitionChange {
                topic_id: old,
                partition: 0,
                leader: 2,
                isr: vec![1, 2],
                replicas: Some(vec![1, 2]),
                adding_replicas: None,
                removing_replicas: None,
            },
            MetadataRecord::Config {
                resource: ConfigResource::Topic("old".into()),
                name: "retention.ms".into(),
                value: Some("5".into()),
            },
            MetadataRecord::Config {
                resource: ConfigResource::Broker(Some(1)),
                name: "log.retention.ms".into(),
                value: None,
            },
            MetadataRecord::RemoveTopic { topic_id: old },
            MetadataRecord::ProducerIds {
                broker_id: 1,
                broker_epoch: 9,
                next_producer_id: 5000,
            },
            MetadataRecord::UserScramCredential {
                name: "alice".into(),
                mechanism: 1,
                salt: vec![9],
                stored_key: vec![9],
                server_key: vec![9],
                iterations: 8192,
            },
            MetadataRecord::UserScramCredential {
                name: "carol".into(),
                mechanism: 2,
                salt: vec![1],
                stored_key: vec![1],
                server_key: vec![1],
                iterations: 4096,
            },
            MetadataRecord::RemoveUserScramCredential {
                name: "alice".into(),
                mechanism: 2,
            },
            MetadataRecord::AccessControlEntry {
                id: Uuid::new_v4(),
                acl,
            },
            MetadataRecord::RemoveAccessControlEntry { id: existing_acl },
            MetadataRecord::ClientQuota {
                entity: QuotaEntity::user(EntityName::Named("alice".into())),
                key: "producer_byte_rate".into(),
                value: Some(QuotaValue(2.0)),
            },
            MetadataRecord::ClientQuota {
                entity: QuotaEntity::client(EntityName::Default),
                key: "consumer_byte_rate".into(),
                value: Some(QuotaValue(3.0)),
            },
            MetadataRecord::UnregisterBroker {
                broker_id: 2,
                broker_epoch: 10,
            },
        ];
        records.append(&mut new_topic);
        records
    }

    #[test]
    fn a_refused_batch_leaves_the_image_exactly_as_it_was() {
        use crate::acl::{AclOperation, AclPermission, PatternType, ResourceType};
        use crate::client_quotas::{EntityName, QuotaEntity, QuotaValue};
        let mut image = MetadataImage::default();
        let (_, old) = topic("old");
        let setup = [
            MetadataRecord::RegisterBroker {
                broker_id: 1,
                host: "h".into(),
                port: 1,
                rack: None,
                incarnation_id: None,
                broker_epoch: 1,
                fenced: false,
            },
            MetadataRecord::Config {
                resource: ConfigResource::Topic("old".into()),
                name: "cleanup.policy".into(),
                value: Some("compact".into()),
            },
            MetadataRecord::UserScramCredential {
                name: "alice".into(),
                mechanism: 2,
                salt: vec![1],
                stored_key: vec![2],
                server_key: vec![3],
                iterations: 4096,
            },
            MetadataRecord::AccessControlEntry {
                id: Uuid::new_v4(),
                acl: Acl {
                    resource_type: ResourceType::Topic,
                    resource_name: "old".into(),
                    pattern_type: PatternType::Literal,
                    principal: "User:alice".into(),
                    host: "*".into(),
                    operation: AclOperation::Write,
                    permission: AclPermission::Allow,
                },
            },
            MetadataRecord::ClientQuota {
                entity: QuotaEntity::user(EntityName::Named("alice".into())),
                key: "producer_byte_rate".into(),
                value: Some(QuotaValue(1.0)),
            },
        ];
        image.apply_all(&old).expect("topic");
        image.apply_all(&setup).expect("setup");
        let before = image.clone();

        let mut refused = every_kind_of_change(&image);
        // Last of all, a record that cannot apply: the whole batch goes.
        refused.push(MetadataRecord::RemoveAccessControlEntry { id: Uuid::new_v4() });
        assert!(image.apply_all(&refused).is_err());
        assert_eq!(image, before);

        // Without the bad record the batch applies, exactly as record by record.
        let accepted = every_kind_of_change(&image);
        let mut one_by_one = image.clone();
        for r in &accepted {
            one_by_one.apply(r).expect("applies alone");
        }
        image.apply_all(&accepted).expect("applies as a batch");
        assert_eq!(image, one_by_one);
        assert_ne!(image, before);
    }
}
