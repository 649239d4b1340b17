//! Any bytes a client sends as a frame body decode to a request or an error,
//! never a panic or an abort.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = kavka_wire::frame_length(data, 1 << 20);
    let _ = kavka_wire::decode_request(bytes::Bytes::copy_from_slice(data));
});
