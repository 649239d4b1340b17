//! Client quotas as KRaft keeps them (KIP-13, KIP-55, KIP-546, KIP-599): quota
//! values per entity (a user, a client id, or both; each either named or
//! `<default>`), changed only by [`MetadataRecord::ClientQuota`] records, and the
//! pure decisions around them: which entity's quota applies to a connection (Kafka's
//! eight-level precedence), what AlterClientQuotas may write, and what
//! DescribeClientQuotas answers.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::MetadataRecord;

/// Kafka's entity type names on the wire.
pub const ENTITY_USER: &str = "user";
pub const ENTITY_CLIENT_ID: &str = "client-id";
pub const ENTITY_IP: &str = "ip";

/// The quota keys of user and client-id entities (`QuotaConfig.userAndClientQuotaConfigs`).
pub const PRODUCER_BYTE_RATE: &str = "producer_byte_rate";
pub const CONSUMER_BYTE_RATE: &str = "consumer_byte_rate";
pub const REQUEST_PERCENTAGE: &str = "request_percentage";
pub const CONTROLLER_MUTATION_RATE: &str = "controller_mutation_rate";

/// Whether a key takes whole numbers (Kafka's LONG) or any positive number (DOUBLE).
fn key_is_integral(key: &str) -> Option<bool> {
    match key {
        PRODUCER_BYTE_RATE | CONSUMER_BYTE_RATE => Some(true),
        REQUEST_PERCENTAGE | CONTROLLER_MUTATION_RATE => Some(false),
        _ => None,
    }
}

/// One side of an entity: a name, or `<default>` (null on the wire).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum EntityName {
    Default,
    Named(String),
}

impl EntityName {
    /// From the wire's nullable name.
    pub fn from_wire(name: Option<&str>) -> Self {
        match name {
            None => EntityName::Default,
            Some(n) => EntityName::Named(n.to_string()),
        }
    }

    /// The wire's nullable name.
    pub fn as_wire(&self) -> Option<&str> {
        match self {
            EntityName::Default => None,
            EntityName::Named(n) => Some(n),
        }
    }
}

impl fmt::Display for EntityName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EntityName::Default => f.write_str("<default>"),
            EntityName::Named(n) => f.write_str(n),
        }
    }
}

/// What a quota is set on: a user, a client id, or a user's client id.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct QuotaEntity {
    pub user: Option<EntityName>,
    pub client_id: Option<EntityName>,
}

impl QuotaEntity {
    pub fn user(name: EntityName) -> Self {
        Self {
            user: Some(name),
            client_id: None,
        }
    }

    pub fn client(name: EntityName) -> Self {
        Self {
            user: None,
            client_id: Some(name),
        }
    }

    pub fn user_client(user: EntityName, client_id: EntityName) -> Self {
        Self {
            user: Some(user),
            client_id: Some(client_id),
        }
    }

    /// The entity as the wire lists it: (type, nullable name) pairs, user first.
    pub fn to_wire(&self) -> Vec<(&'static str, Option<&str>)> {
        let mut out = Vec::with_capacity(2);
        if let Some(u) = &self.user {
            out.push((ENTITY_USER, u.as_wire()));
        }
        if let Some(c) = &self.client_id {
            out.push((ENTITY_CLIENT_ID, c.as_wire()));
        }
        out
    }

    fn has(&self, entity_type: &str) -> Option<&EntityName> {
        match entity_type {
            ENTITY_USER => self.user.as_ref(),
            ENTITY_CLIENT_ID => self.client_id.as_ref(),
            _ => None,
        }
    }

    fn parts(&self) -> usize {
        usize::from(self.user.is_some()) + usize::from(self.client_id.is_some())
    }
}

impl fmt::Display for QuotaEntity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parts: Vec<String> = self
            .to_wire()
            .into_iter()
            .map(|(t, n)| format!("{t}={}", n.unwrap_or("<default>")))
            .collect();
        write!(f, "({})", parts.join(", "))
    }
}

/// A quota value. Kafka keeps quotas as doubles; equality is by bits so that
/// the image (and the records) stay comparable.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuotaValue(pub f64);

impl PartialEq for QuotaValue {
    fn eq(&self, other: &Self) -> bool {
        self.0.to_bits() == other.0.to_bits()
    }
}

impl Eq for QuotaValue {}

/// The values set on one entity, by key.
pub type QuotaValues = BTreeMap<String, QuotaValue>;

/// Every quota set, by entity. Entities without any key are dropped.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientQuotas {
    #[serde(with = "entities_as_pairs")]
    entities: BTreeMap<QuotaEntity, BTreeMap<String, QuotaValue>>,
}

/// JSON map keys must be strings: entities travel as (entity, values) pairs.
mod entities_as_pairs {
    use std::collections::BTreeMap;

    use serde::{Deserialize, Deserializer, Serializer};

    use super::{QuotaEntity, QuotaValue};

    type Entities = BTreeMap<QuotaEntity, BTreeMap<String, QuotaValue>>;

    pub(super) fn serialize<S: Serializer>(e: &Entities, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(e.iter())
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Entities, D::Error> {
        let pairs = Vec::<(QuotaEntity, BTreeMap<String, QuotaValue>)>::deserialize(d)?;
        Ok(pairs.into_iter().collect())
    }
}

/// Which connections share one measured rate, as Kafka's quota metric tags do:
/// a user-level quota is shared by all of that user's client ids, a client-id
/// quota by every user of that client id, a (user, client id) quota by neither.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SensorKey {
    pub user: Option<String>,
    pub client_id: Option<String>,
}

/// The quota that applies to a connection, and who shares its rate.
#[derive(Debug, Clone, PartialEq)]
pub struct AppliedQuota {
    pub limit: f64,
    pub sensor: SensorKey,
    /// The entity the limit was found on.
    pub entity: QuotaEntity,
}

impl ClientQuotas {
    pub fn is_empty(&self) -> bool {
        self.entities.is_empty()
    }

    /// Every entity with its values, in entity order.
    pub fn entities(&self) -> impl Iterator<Item = (&QuotaEntity, &BTreeMap<String, QuotaValue>)> {
        self.entities.iter()
    }

    /// The values set on one entity.
    pub fn get(&self, entity: &QuotaEntity) -> Option<&BTreeMap<String, QuotaValue>> {
        self.entities.get(entity)
    }

    /// Whether any entity sets `key`.
    pub fn has_key(&self, key: &str) -> bool {
        self.entities.values().any(|v| v.contains_key(key))
    }

    /// Applies one ClientQuota record.
    pub(crate) fn apply(&mut self, entity: &QuotaEntity, key: &str, value: Option<QuotaValue>) {
        match value {
            Some(v) => {
                self.entities
                    .entry(entity.clone())
                    .or_default()
                    .insert(key.to_string(), v);
            }
            None => {
                if let Some(values) = self.entities.get_mut(entity) {
                    values.remove(key);
                    if values.is_empty() {
                        self.entities.remove(entity);
                    }
                }
            }
        }
    }

    /// The `key` quota of a connection of `user` with `client_id`, by Kafka's
    /// precedence (ClientQuotaManager): the first of
    /// 1. /config/users/<user>/clients/<client-id>
    /// 2. /config/users/<user>/clients/<default>
    /// 3. /config/users/<user>
    /// 4. /config/users/<default>/clients/<client-id>
    /// 5. /config/users/<default>/clients/<default>
    /// 6. /config/users/<default>
    /// 7. /config/clients/<client-id>
    /// 8. /config/clients/<default>
    ///
    /// that sets `key`. None: the connection is not limited.
    pub fn applied(&self, user: &str, client_id: &str, key: &str) -> Option<AppliedQuota> {
        use EntityName::{Default, Named};
        let u = || Named(user.to_string());
        let c = || Named(client_id.to_string());
        let both = SensorKey {
            user: Some(user.to_string()),
            client_id: Some(client_id.to_string()),
        };
        let user_only = SensorKey {
            user: Some(user.to_string()),
            client_id: None,
        };
        let client_only = SensorKey {
            user: None,
            client_id: Some(client_id.to_string()),
        };
        let levels = [
            (QuotaEntity::user_client(u(), c()), &both),
            (QuotaEntity::user_client(u(), Default), &both),
            (QuotaEntity::user(u()), &user_only),
            (QuotaEntity::user_client(Default, c()), &both),
            (QuotaEntity::user_client(Default, Default), &both),
            (QuotaEntity::user(Default), &user_only),
            (QuotaEntity::client(c()), &client_only),
            (QuotaEntity::client(Default), &client_only),
        ];
        let applied = levels.into_iter().find_map(|(entity, sensor)| {
            let limit = self.entities.get(&entity)?.get(key)?.0;
            Some(AppliedQuota {
                limit,
                sensor: sensor.clone(),
                entity,
            })
        });
        applied
    }
}

/// Why a client quota request was refused; every case is INVALID_REQUEST in
/// Kafka except an unknown filter entity type (UNSUPPORTED_VERSION).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QuotaError {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("{0}")]
    UnsupportedVersion(String),
}

/// An entity as a request names it: (entity type, nullable name) pairs.
pub type WireEntity = Vec<(String, Option<String>)>;

/// Checks an entity from the wire as Kafka's controller does.
pub fn parse_entity(entity: &WireEntity) -> Result<QuotaEntity, QuotaError> {
    let invalid = |m: String| Err(QuotaError::InvalidRequest(m));
    if entity.is_empty() {
        return invalid("Invalid empty client quota entity".into());
    }
    let mut out = QuotaEntity {
        user: None,
        client_id: None,
    };
    for (entity_type, name) in entity {
        let slot = match entity_type.as_str() {
            ENTITY_USER => &mut out.user,
            ENTITY_CLIENT_ID => &mut out.client_id,
            // Kafka stores IP quotas (connection_creation_rate); Kavka does not
            // enforce connection rates, so it does not accept them either.
            ENTITY_IP => return invalid("IP quotas are not supported by this broker".into()),
            other => return invalid(format!("Unhandled client quota entity type: {other}")),
        };
        if slot.is_some() {
            return invalid(format!(
                "Invalid client quota entity, duplicate entity entry {entity_type}"
            ));
        }
        if name.as_deref() == Some("") {
            return invalid(format!("Empty {entity_type} not supported"));
        }
        *slot = Some(EntityName::from_wire(name.as_deref()));
    }
    Ok(out)
}

/// Checks one quota key and value as Kafka's `validateQuotaKeyValue` does.
pub fn validate_value(key: &str, value: f64) -> Result<(), QuotaError> {
    let invalid = |m: String| Err(QuotaError::InvalidRequest(m));
    let Some(integral) = key_is_integral(key) else {
        return invalid(format!("Invalid configuration key {key}"));
    };
    if value.is_nan() || value <= 0.0 {
        return invalid(format!("Quota {key} must be greater than 0"));
    }
    if integral {
        if value > i64::MAX as f64 {
            return invalid(format!("Proposed value for {key} is too large for a LONG."));
        }
        if (value % 1.0).abs() > 1e-6 {
            return invalid(format!("{key} cannot be a fractional value."));
        }
    }
    Ok(())
}

/// One entity's changes in an AlterClientQuotas request: key → new value, or
/// None to remove it.
#[derive(Debug, Clone, PartialEq)]
pub struct QuotaAlteration {
    pub entity: WireEntity,
    pub ops: Vec<(String, Option<f64>)>,
}

/// The records an AlterClientQuotas request writes, and each entry's outcome
/// (in request order). Valid entries are written even when others fail, as in
/// Kafka; unchanged values write nothing.
pub fn alter(
    quotas: &ClientQuotas,
    alterations: &[QuotaAlteration],
) -> (Vec<MetadataRecord>, Vec<Result<(), QuotaError>>) {
    let mut records = Vec::new();
    let mut seen: Vec<QuotaEntity> = Vec::new();
    let results = alterations
        .iter()
        .map(|alteration| {
            let entity = parse_entity(&alteration.entity)?;
            if seen.contains(&entity) {
                return Err(QuotaError::InvalidRequest(format!(
                    "Ignoring duplicate entity {entity}"
                )));
            }
            seen.push(entity.clone());
            let mut changes: BTreeMap<&str, Option<f64>> = BTreeMap::new();
            for (key, value) in &alteration.ops {
                if changes.insert(key.as_str(), *value).is_some() {
                    return Err(QuotaError::InvalidRequest(format!(
                        "Duplicate quota key {key} not updating quota for this entity {entity}"
                    )));
                }
            }
            let current = quotas.get(&entity);
            let mut mine = Vec::new();
            for (key, value) in changes {
                let now = current.and_then(|c| c.get(key)).map(|v| v.0);
                match value {
                    None if now.is_some() => mine.push(MetadataRecord::ClientQuota {
                        entity: entity.clone(),
                        key: key.to_string(),
                        value: None,
                    }),
                    None => {}
                    Some(v) => {
                        validate_value(key, v)?;
                        if now.map(f64::to_bits) != Some(v.to_bits()) {
                            mine.push(MetadataRecord::ClientQuota {
                                entity: entity.clone(),
                                key: key.to_string(),
                                value: Some(QuotaValue(v)),
                            });
                        }
                    }
                }
            }
            records.extend(mine);
            Ok(())
        })
        .collect();
    (records, results)
}

/// How a DescribeClientQuotas filter component matches an entity type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MatchType {
    /// This exact name (match type 0).
    Exact(String),
    /// The `<default>` entity (match type 1).
    Default,
    /// Any entity of this type, named or default (match type 2).
    Specified,
}

impl MatchType {
    /// From the wire's match type and match string, as Kafka checks them.
    pub fn from_wire(match_type: i8, name: Option<&str>) -> Result<Self, QuotaError> {
        let invalid = |m: &str| Err(QuotaError::InvalidRequest(m.to_string()));
        match (match_type, name) {
            (0, Some(n)) => Ok(MatchType::Exact(n.to_string())),
            (0, None) => {
                invalid("Request specified MATCH_TYPE_EXACT, but set match string to null.")
            }
            (1, None) => Ok(MatchType::Default),
            (1, Some(_)) => {
                invalid("Request specified MATCH_TYPE_DEFAULT, but also specified a match string.")
            }
            (2, None) => Ok(MatchType::Specified),
            (2, Some(_)) => invalid(
                "Request specified MATCH_TYPE_SPECIFIED, but also specified a match string.",
            ),
            (other, _) => Err(QuotaError::InvalidRequest(format!(
                "Unknown match type {other}"
            ))),
        }
    }
}

/// The entities a DescribeClientQuotas filter selects, with their values, as
/// Kafka's `ClientQuotasImage.describe` selects them.
pub fn describe<'a>(
    quotas: &'a ClientQuotas,
    components: &[(String, MatchType)],
    strict: bool,
) -> Result<Vec<(&'a QuotaEntity, &'a QuotaValues)>, QuotaError> {
    let mut seen: Vec<&str> = Vec::new();
    for (entity_type, _) in components {
        if entity_type.is_empty() {
            return Err(QuotaError::InvalidRequest(
                "Invalid empty entity type.".into(),
            ));
        }
        if seen.contains(&entity_type.as_str()) {
            return Err(QuotaError::InvalidRequest(format!(
                "Entity type {entity_type} cannot appear more than once in the filter."
            )));
        }
        seen.push(entity_type);
        if ![ENTITY_USER, ENTITY_CLIENT_ID, ENTITY_IP].contains(&entity_type.as_str()) {
            return Err(QuotaError::UnsupportedVersion(format!(
                "Unsupported entity type {entity_type}"
            )));
        }
    }
    if seen.contains(&ENTITY_IP)
        && (seen.contains(&ENTITY_USER) || seen.contains(&ENTITY_CLIENT_ID))
    {
        return Err(QuotaError::InvalidRequest(
            "Invalid entity filter component combination. IP filter component should not be used with user or clientId filter component.".into(),
        ));
    }
    Ok(quotas
        .entities()
        .filter(|(entity, _)| {
            if strict && entity.parts() != components.len() {
                return false;
            }
            components.iter().all(|(entity_type, m)| {
                let Some(name) = entity.has(entity_type) else {
                    return false;
                };
                match m {
                    MatchType::Exact(n) => name == &EntityName::Named(n.clone()),
                    MatchType::Default => name == &EntityName::Default,
                    MatchType::Specified => true,
                }
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::EntityName::{Default, Named};
    use super::*;

    fn named(s: &str) -> EntityName {
        Named(s.to_string())
    }

    fn set(q: &mut ClientQuotas, entity: QuotaEntity, key: &str, v: f64) {
        q.apply(&entity, key, Some(QuotaValue(v)));
    }

    /// Sets the eight levels one by one, each a different value, most general
    /// first: each new, more specific level must win.
    #[test]
    fn precedence_follows_kafkas_eight_levels() {
        let levels = [
            (QuotaEntity::client(Default), 8.0),
            (QuotaEntity::client(named("c1")), 7.0),
            (QuotaEntity::user(Default), 6.0),
            (QuotaEntity::user_client(Default, Default), 5.0),
            (QuotaEntity::user_client(Default, named("c1")), 4.0),
            (QuotaEntity::user(named("alice")), 3.0),
            (QuotaEntity::user_client(named("alice"), Default), 2.0),
            (QuotaEntity::user_client(named("alice"), named("c1")), 1.0),
        ];
        let mut q = ClientQuotas::default();
        assert_eq!(q.applied("alice", "c1", PRODUCER_BYTE_RATE), None);
        for (entity, value) in levels {
            set(&mut q, entity.clone(), PRODUCER_BYTE_RATE, value);
            let applied = q
                .applied("alice", "c1", PRODUCER_BYTE_RATE)
                .expect("a quota applies");
            assert_eq!(applied.limit, value, "{entity}");
            assert_eq!(applied.entity, entity);
        }
        // Removing the most specific one falls back to the next.
        q.apply(
            &QuotaEntity::user_client(named("alice"), named("c1")),
            PRODUCER_BYTE_RATE,
            None,
        );
        assert_eq!(
            q.applied("alice", "c1", PRODUCER_BYTE_RATE)
                .map(|a| a.limit),
            Some(2.0)
        );
        // Another user and client only see the defaults.
        assert_eq!(
            q.applied("bob", "c2", PRODUCER_BYTE_RATE).map(|a| a.limit),
            Some(5.0)
        );
    }

    #[test]
    fn each_key_resolves_on_its_own() {
        let mut q = ClientQuotas::default();
        set(
            &mut q,
            QuotaEntity::user(named("alice")),
            PRODUCER_BYTE_RATE,
            100.0,
        );
        set(
            &mut q,
            QuotaEntity::client(named("c1")),
            CONSUMER_BYTE_RATE,
            200.0,
        );
        assert_eq!(
            q.applied("alice", "c1", CONSUMER_BYTE_RATE)
                .map(|a| a.limit),
            Some(200.0)
        );
        assert_eq!(
            q.applied("alice", "c1", PRODUCER_BYTE_RATE)
                .map(|a| a.limit),
            Some(100.0)
        );
        assert_eq!(q.applied("alice", "c1", REQUEST_PERCENTAGE), None);
    }

    #[test]
    fn sensors_are_shared_as_kafkas_metric_tags_are() {
        let mut q = ClientQuotas::default();
        set(&mut q, QuotaEntity::user(Default), PRODUCER_BYTE_RATE, 1.0);
        set(
            &mut q,
            QuotaEntity::client(Default),
            CONSUMER_BYTE_RATE,
            1.0,
        );
        let user_level = q.applied("alice", "c1", PRODUCER_BYTE_RATE).expect("quota");
        assert_eq!(
            user_level.sensor,
            SensorKey {
                user: Some("alice".into()),
                client_id: None
            }
        );
        let client_level = q.applied("alice", "c1", CONSUMER_BYTE_RATE).expect("quota");
        assert_eq!(
            client_level.sensor,
            SensorKey {
                user: None,
                client_id: Some("c1".into())
            }
        );
    }

    fn wire(parts: &[(&str, Option<&str>)]) -> WireEntity {
        parts
            .iter()
            .map(|(t, n)| (t.to_string(), n.map(str::to_string)))
            .collect()
    }

    fn alteration(parts: &[(&str, Option<&str>)], ops: &[(&str, Option<f64>)]) -> QuotaAlteration {
        QuotaAlteration {
            entity: wire(parts),
            ops: ops.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
        }
    }

    #[test]
    fn alter_refuses_what_kafka_refuses() {
        let q = ClientQuotas::default();
        let cases = [
            (
                alteration(&[], &[(PRODUCER_BYTE_RATE, Some(1.0))]),
                "Invalid empty client quota entity",
            ),
            (
                alteration(&[("group", Some("g"))], &[(PRODUCER_BYTE_RATE, Some(1.0))]),
                "Unhandled client quota entity type: group",
            ),
            (
                alteration(
                    &[("user", Some("a")), ("user", Some("b"))],
                    &[(PRODUCER_BYTE_RATE, Some(1.0))],
                ),
                "Invalid client quota entity, duplicate entity entry user",
            ),
            (
                alteration(&[("user", Some(""))], &[(PRODUCER_BYTE_RATE, Some(1.0))]),
                "Empty user not supported",
            ),
            (
                alteration(&[("user", Some("a"))], &[("retention.ms", Some(1.0))]),
                "Invalid configuration key retention.ms",
            ),
            (
                alteration(&[("user", Some("a"))], &[(PRODUCER_BYTE_RATE, Some(0.0))]),
                "Quota producer_byte_rate must be greater than 0",
            ),
            (
                alteration(&[("user", Some("a"))], &[(CONSUMER_BYTE_RATE, Some(1.5))]),
                "consumer_byte_rate cannot be a fractional value.",
            ),
        ];
        for (a, message) in cases {
            let (records, results) = alter(&q, std::slice::from_ref(&a));
            assert!(records.is_empty(), "{a:?}");
            assert_eq!(
                results,
                vec![Err(QuotaError::InvalidRequest(message.to_string()))]
            );
        }
        // A fractional request_percentage is fine (a DOUBLE key).
        let (records, results) = alter(
            &q,
            &[alteration(
                &[("client-id", None)],
                &[(REQUEST_PERCENTAGE, Some(12.5))],
            )],
        );
        assert_eq!(results, vec![Ok(())]);
        assert_eq!(records.len(), 1);
    }

    #[test]
    fn alter_writes_only_changes_and_removes_present_keys() {
        let mut q = ClientQuotas::default();
        let e = QuotaEntity::client(named("c1"));
        set(&mut q, e.clone(), PRODUCER_BYTE_RATE, 1024.0);
        let (records, results) = alter(
            &q,
            &[alteration(
                &[("client-id", Some("c1"))],
                &[
                    (PRODUCER_BYTE_RATE, Some(1024.0)),
                    (CONSUMER_BYTE_RATE, Some(2048.0)),
                    (REQUEST_PERCENTAGE, None),
                ],
            )],
        );
        assert_eq!(results, vec![Ok(())]);
        assert_eq!(
            records,
            vec![MetadataRecord::ClientQuota {
                entity: e.clone(),
                key: CONSUMER_BYTE_RATE.into(),
                value: Some(QuotaValue(2048.0)),
            }]
        );
        let (records, _) = alter(
            &q,
            &[alteration(
                &[("client-id", Some("c1"))],
                &[(PRODUCER_BYTE_RATE, None)],
            )],
        );
        assert_eq!(
            records,
            vec![MetadataRecord::ClientQuota {
                entity: e,
                key: PRODUCER_BYTE_RATE.into(),
                value: None,
            }]
        );
    }

    #[test]
    fn describe_filters_like_kafka() {
        let mut q = ClientQuotas::default();
        set(
            &mut q,
            QuotaEntity::user(named("alice")),
            PRODUCER_BYTE_RATE,
            1.0,
        );
        set(&mut q, QuotaEntity::user(Default), PRODUCER_BYTE_RATE, 2.0);
        set(
            &mut q,
            QuotaEntity::user_client(named("alice"), named("c1")),
            PRODUCER_BYTE_RATE,
            3.0,
        );
        set(
            &mut q,
            QuotaEntity::client(named("c1")),
            PRODUCER_BYTE_RATE,
            4.0,
        );
        let pick = |components: &[(&str, MatchType)], strict: bool| -> Vec<String> {
            let components: Vec<(String, MatchType)> = components
                .iter()
                .map(|(t, m)| (t.to_string(), m.clone()))
                .collect();
            describe(&q, &components, strict)
                .expect("valid filter")
                .into_iter()
                .map(|(e, _)| e.to_string())
                .collect()
        };
        assert_eq!(
            pick(&[("user", MatchType::Exact("alice".into()))], false),
            vec!["(user=alice)", "(user=alice, client-id=c1)"]
        );
        assert_eq!(
            pick(&[("user", MatchType::Exact("alice".into()))], true),
            vec!["(user=alice)"]
        );
        assert_eq!(
            pick(&[("user", MatchType::Default)], true),
            vec!["(user=<default>)"]
        );
        assert_eq!(
            pick(&[("client-id", MatchType::Specified)], false),
            vec!["(client-id=c1)", "(user=alice, client-id=c1)"]
        );
        assert_eq!(pick(&[], false).len(), 4);
        assert_eq!(pick(&[], true).len(), 0);
        assert!(matches!(
            describe(&q, &[("group".into(), MatchType::Specified)], false),
            Err(QuotaError::UnsupportedVersion(_))
        ));
        assert!(MatchType::from_wire(0, None).is_err());
        assert!(MatchType::from_wire(1, Some("x")).is_err());
    }
}
