//! Length-prefixed framing: a 4-byte big-endian size, then that many bytes.

use crate::WireError;

/// What the bytes buffered so far hold.
#[derive(Debug, PartialEq, Eq)]
pub enum FrameCheck {
    /// Not enough bytes yet for the size prefix or the body.
    Incomplete,
    /// A whole frame of this many body bytes follows the 4-byte prefix.
    Complete(usize),
}

/// Checks the size prefix before anything is allocated, so a hostile length
/// (negative or huge) is refused without reserving memory for it.
pub fn frame_length(buf: &[u8], max_frame: usize) -> Result<FrameCheck, WireError> {
    let Some(prefix) = buf.get(..4) else {
        return Ok(FrameCheck::Incomplete);
    };
    let size = i32::from_be_bytes([prefix[0], prefix[1], prefix[2], prefix[3]]);
    if size < 0 {
        return Err(WireError::NegativeSize(size));
    }
    let size = size as usize;
    if size > max_frame {
        return Err(WireError::FrameTooLarge {
            size,
            max: max_frame,
        });
    }
    if buf.len() - 4 < size {
        Ok(FrameCheck::Incomplete)
    } else {
        Ok(FrameCheck::Complete(size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_and_oversized_frames_are_refused() {
        assert!(matches!(
            frame_length(&(-1i32).to_be_bytes(), 100),
            Err(WireError::NegativeSize(-1))
        ));
        assert!(matches!(
            frame_length(&101i32.to_be_bytes(), 100),
            Err(WireError::FrameTooLarge { size: 101, .. })
        ));
    }

    #[test]
    fn waits_for_whole_frame() {
        let mut buf = 3i32.to_be_bytes().to_vec();
        assert_eq!(
            frame_length(&buf[..2], 100).unwrap(),
            FrameCheck::Incomplete
        );
        buf.extend_from_slice(&[1, 2]);
        assert_eq!(frame_length(&buf, 100).unwrap(), FrameCheck::Incomplete);
        buf.push(3);
        assert_eq!(frame_length(&buf, 100).unwrap(), FrameCheck::Complete(3));
    }
}
