//! kavka-wire
