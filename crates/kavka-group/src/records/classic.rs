//! Classic groups: `GroupMetadataKey` (record type 2) and `GroupMetadataValue`
//! versions 0 to 4, of which Kafka writes version 3.

use super::wire::{Reader, WireError, Writer};
use super::KEY_GROUP_METADATA;

/// The version Kafka 4.4 writes (its record helpers pin it; version 4 is only read).
const WRITTEN_VERSION: i16 = 3;

/// Key of a group's membership record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataKey {
    /// Group id.
    pub group: String,
}

/// One member inside a [`GroupMetadataValue`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberMetadataValue {
    /// Member id.
    pub member_id: String,
    /// Static instance id (versions 3+).
    pub group_instance_id: Option<String>,
    /// Client id.
    pub client_id: String,
    /// Client host, as Kafka prints it (`/127.0.0.1`).
    pub client_host: String,
    /// Rebalance timeout (versions 1+, else -1).
    pub rebalance_timeout_ms: i32,
    /// Session timeout.
    pub session_timeout_ms: i32,
    /// Metadata for the chosen protocol.
    pub subscription: Vec<u8>,
    /// Assignment from the leader.
    pub assignment: Vec<u8>,
}

/// Value of a group's membership record: the last stable generation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupMetadataValue {
    /// Protocol type, empty for a group that only commits offsets.
    pub protocol_type: String,
    /// Generation id.
    pub generation: i32,
    /// Chosen protocol.
    pub protocol: Option<String>,
    /// Leader member id.
    pub leader: Option<String>,
    /// When the group entered its current state, -1 when unknown (versions 2+).
    pub current_state_timestamp_ms: i64,
    /// Members with their assignments.
    pub members: Vec<MemberMetadataValue>,
}

pub(super) fn encode_key(key: &GroupMetadataKey) -> Vec<u8> {
    let mut w = Writer::default();
    w.i16(KEY_GROUP_METADATA);
    w.string(&key.group);
    w.buf
}

pub(super) fn decode_key(r: &mut Reader<'_>) -> Result<GroupMetadataKey, WireError> {
    Ok(GroupMetadataKey { group: r.string()? })
}

pub(super) fn encode_value(v: &GroupMetadataValue) -> Vec<u8> {
    let mut w = Writer::default();
    w.i16(WRITTEN_VERSION);
    w.string(&v.protocol_type);
    w.i32(v.generation);
    w.nullable_string(v.protocol.as_deref());
    w.nullable_string(v.leader.as_deref());
    w.i64(v.current_state_timestamp_ms);
    w.array_of(&v.members, |w, m| {
        w.string(&m.member_id);
        w.nullable_string(m.group_instance_id.as_deref());
        w.string(&m.client_id);
        w.string(&m.client_host);
        w.i32(m.rebalance_timeout_ms);
        w.i32(m.session_timeout_ms);
        w.bytes(&m.subscription);
        w.bytes(&m.assignment);
    });
    w.buf
}

pub(super) fn decode_value(r: &mut Reader<'_>) -> Result<GroupMetadataValue, WireError> {
    let version = r.i16()?;
    if !(0..=4).contains(&version) {
        return Err(WireError::Version(version));
    }
    let flexible = version >= 4;
    let string = |r: &mut Reader<'_>| {
        if flexible {
            r.compact_string()
        } else {
            r.string()
        }
    };
    let nullable = |r: &mut Reader<'_>| {
        if flexible {
            r.compact_nullable_string()
        } else {
            r.nullable_string()
        }
    };
    let bytes = |r: &mut Reader<'_>| {
        if flexible {
            r.compact_bytes()
        } else {
            r.bytes()
        }
    };
    let protocol_type = string(r)?;
    let generation = r.i32()?;
    let protocol = nullable(r)?;
    let leader = nullable(r)?;
    let current_state_timestamp_ms = if version >= 2 { r.i64()? } else { -1 };
    let member = |r: &mut Reader<'_>| {
        let member_id = string(r)?;
        let group_instance_id = if version >= 3 { nullable(r)? } else { None };
        let m = MemberMetadataValue {
            member_id,
            group_instance_id,
            client_id: string(r)?,
            client_host: string(r)?,
            rebalance_timeout_ms: if version >= 1 { r.i32()? } else { -1 },
            session_timeout_ms: r.i32()?,
            subscription: bytes(r)?,
            assignment: bytes(r)?,
        };
        if flexible {
            r.tagged_fields(|_, _| Ok(()))?;
        }
        Ok(m)
    };
    let members = if flexible {
        r.compact_array_of(member)?
    } else {
        r.array_of(member)?
    };
    if flexible {
        r.tagged_fields(|_, _| Ok(()))?;
    }
    Ok(GroupMetadataValue {
        protocol_type,
        generation,
        protocol,
        leader,
        current_state_timestamp_ms,
        members,
    })
}
