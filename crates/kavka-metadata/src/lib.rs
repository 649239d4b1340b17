//! kavka-metadata
