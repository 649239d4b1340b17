//! The broker's view of cluster metadata: the image the metadata quorum has
//! committed and applied on this node. Readers take a cheap snapshot; writers go
//! through [`MetadataStore::commit`], which decides on the current image and has
//! the active controller commit the records only if no other change landed in
//! between (otherwise it decides again), so two CreateTopics for one name can
//! never both succeed, wherever they arrive.

use std::sync::Arc;
use std::time::Duration;

use kavka_metadata::{MetadataError, MetadataImage, MetadataRecord};
use kavka_raft::{CommittedImage, MetadataQuorum};

use crate::controller::{ControllerCallError, ControllerClient};

/// How many times a change is decided again because others landed first.
const MAX_ATTEMPTS: usize = 50;

/// The committed metadata and the way to change it.
#[derive(Debug, Clone)]
pub struct MetadataStore {
    quorum: MetadataQuorum,
    controller: ControllerClient,
}

impl MetadataStore {
    pub(crate) fn new(quorum: MetadataQuorum, controller: ControllerClient) -> Self {
        Self { quorum, controller }
    }

    /// The current image; later commits do not change the returned snapshot.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.quorum.image().image
    }

    /// The image with the log index it was applied at.
    pub fn committed(&self) -> CommittedImage {
        self.quorum.image()
    }

    /// The quorum this node follows.
    pub fn quorum(&self) -> &MetadataQuorum {
        &self.quorum
    }

    /// Waits until this node has applied the entry at `index`, up to `timeout`.
    pub async fn wait_applied(&self, index: u64, timeout: Duration) -> Option<CommittedImage> {
        let mut images = self.quorum.subscribe();
        let reached = tokio::time::timeout(
            timeout,
            images.wait_for(|i| i.applied_index.is_some_and(|a| a >= index)),
        )
        .await;
        match reached {
            Ok(Ok(image)) => Some(image.clone()),
            _ => None,
        }
    }

    /// Validates `decide` against the current image and, if it yields records,
    /// has them committed and waits until this node has applied them. If another
    /// change landed first, `decide` runs again on the newer image.
    pub async fn commit<T>(
        &self,
        mut decide: impl FnMut(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), MetadataError>,
    ) -> Result<(Arc<MetadataImage>, T), MetadataError> {
        for _ in 0..MAX_ATTEMPTS {
            let current = self.quorum.image();
            let (records, out) = decide(&current.image)?;
            if records.is_empty() {
                return Ok((current.image, out));
            }
            let expect = Some(current.image.next_offset());
            match self.controller.write(expect, records).await {
                Ok(index) => {
                    let applied = self
                        .wait_applied(index, Duration::from_secs(30))
                        .await
                        .ok_or_else(|| {
                            MetadataError::Timeout(format!(
                                "committed at index {index} but not applied here in time"
                            ))
                        })?;
                    return Ok((applied.image, out));
                }
                Err(ControllerCallError::Stale) => {
                    // Someone else's change landed; see it before deciding again.
                    let mut images = self.quorum.subscribe();
                    let _ = tokio::time::timeout(
                        Duration::from_secs(1),
                        images.wait_for(|i| i.applied_index > current.applied_index),
                    )
                    .await;
                }
                Err(ControllerCallError::Refused { code, message }) => {
                    return Err(MetadataError::from_code(code, message))
                }
                Err(ControllerCallError::NotAvailable(m)) => {
                    return Err(MetadataError::NotController(m))
                }
            }
        }
        Err(MetadataError::Timeout(
            "the metadata kept changing; try again".to_string(),
        ))
    }
}
