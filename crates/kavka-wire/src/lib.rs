//! The Kafka wire protocol seam: length-prefixed frames, request headers, and the
//! versions Kavka speaks. Every message body is decoded and encoded by the
//! `kafka-protocol` crate; this crate only frames bytes and picks header versions,
//! so it is pure and fuzzable.

mod error;
pub mod features;
mod frame;
mod request;
mod response;
mod versions;

pub use error::WireError;
pub use frame::{frame_length, FrameCheck};
pub use request::{decode_request, DecodedRequest};
pub use response::encode_response;
pub use versions::{supported_range, supported_versions, SUPPORTED_APIS};

pub use kafka_protocol;
