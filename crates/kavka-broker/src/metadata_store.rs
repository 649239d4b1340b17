//! The broker's copy of cluster metadata: the persisted metadata log and the image
//! built by applying it. Readers take a cheap snapshot; writers go through
//! [`MetadataStore::commit`], one at a time, the way the KRaft controller does.

use std::path::Path;
use std::sync::Arc;

use kavka_metadata::{MetadataError, MetadataImage, MetadataLog, MetadataRecord};
use parking_lot::{Mutex, RwLock};

/// Metadata log plus the image derived from it.
#[derive(Debug)]
pub struct MetadataStore {
    image: RwLock<Arc<MetadataImage>>,
    log: Mutex<MetadataLog>,
}

impl MetadataStore {
    /// Opens the metadata log and replays it into an image.
    pub fn open(path: &Path) -> Result<Self, MetadataError> {
        let (log, records) = MetadataLog::open(path)?;
        let mut image = MetadataImage::default();
        for record in &records {
            // A record that no longer applies (e.g. written by a newer version) is
            // skipped rather than refusing to start.
            if let Err(e) = image.apply(record) {
                tracing::warn!(error = %e, ?record, "skipping metadata record");
            }
        }
        Ok(Self {
            image: RwLock::new(Arc::new(image)),
            log: Mutex::new(log),
        })
    }

    /// The current image; later commits do not change the returned snapshot.
    pub fn image(&self) -> Arc<MetadataImage> {
        self.image.read().clone()
    }

    /// Validates `decide` against the current image and, if it yields records,
    /// persists them and publishes the new image. Decisions are serialized so two
    /// CreateTopics for one name cannot both succeed.
    pub fn commit<T>(
        &self,
        decide: impl FnOnce(&MetadataImage) -> Result<(Vec<MetadataRecord>, T), MetadataError>,
    ) -> Result<(Arc<MetadataImage>, T), MetadataError> {
        let mut log = self.log.lock();
        let current = self.image();
        let (records, out) = decide(&current)?;
        if records.is_empty() {
            return Ok((current, out));
        }
        let mut next = (*current).clone();
        for record in &records {
            next.apply(record)?;
        }
        log.append(&records)?;
        let next = Arc::new(next);
        *self.image.write() = next.clone();
        Ok((next, out))
    }
}
