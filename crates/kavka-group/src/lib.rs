//! kavka-group: consumer group coordinator logic with no I/O.
