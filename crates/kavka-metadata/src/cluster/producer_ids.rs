//! Producer ids for idempotent producers, unique across the cluster (KIP-730):
//! the controller hands each broker a block of ids and records it, so no two
//! brokers (and no restart) ever hand out the same id.

use super::{ClusterControl, ControlError};
use crate::{MetadataImage, MetadataRecord};

/// How many ids one block holds (Kafka's `ProducerIdsBlock.PRODUCER_ID_BLOCK_SIZE`).
pub const PRODUCER_ID_BLOCK_SIZE: i64 = 1000;

/// A broker asks for its next block of producer ids (AllocateProducerIds).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllocateProducerIds {
    pub broker_id: i32,
    pub broker_epoch: i64,
    /// From a broker that handed out ids itself before the controller did: the
    /// bound its `producer-id-block` file reserved. Ids at or below it may be held
    /// by producers, so the block starts above it.
    pub legacy_reserved: Option<i64>,
}

/// The ids `first_id .. first_id + size`, for one broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProducerIdBlock {
    pub first_id: i64,
    pub size: i64,
}

impl ProducerIdBlock {
    /// The first id after this block.
    pub fn end(&self) -> i64 {
        self.first_id + self.size
    }
}

impl ClusterControl {
    /// The next block of producer ids for a registered broker at its current
    /// epoch, and the record that makes it taken: it starts where the last block
    /// ended, or above the broker's legacy reservation if that is higher.
    pub fn allocate_producer_ids(
        &self,
        image: &MetadataImage,
        req: &AllocateProducerIds,
    ) -> Result<(ProducerIdBlock, MetadataRecord), ControlError> {
        match image.broker(req.broker_id) {
            None => return Err(ControlError::BrokerIdNotRegistered),
            Some(b) if b.broker_epoch != req.broker_epoch => {
                return Err(ControlError::StaleBrokerEpoch)
            }
            Some(_) => {}
        }
        let above_legacy = match req.legacy_reserved {
            None => 0,
            Some(r) if r < 0 => {
                return Err(ControlError::InvalidRequest(
                    "a legacy producer id reservation is never negative",
                ))
            }
            Some(r) => r.checked_add(1).ok_or(ControlError::ProducerIdsExhausted)?,
        };
        let first_id = image.next_producer_id().max(above_legacy);
        let end = first_id
            .checked_add(PRODUCER_ID_BLOCK_SIZE)
            .ok_or(ControlError::ProducerIdsExhausted)?;
        let block = ProducerIdBlock {
            first_id,
            size: PRODUCER_ID_BLOCK_SIZE,
        };
        let record = MetadataRecord::ProducerIds {
            broker_id: req.broker_id,
            broker_epoch: req.broker_epoch,
            next_producer_id: end,
        };
        Ok((block, record))
    }
}
