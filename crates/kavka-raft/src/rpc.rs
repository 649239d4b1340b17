//! The wire format of node-to-node RPCs: a 4-byte big-endian length, then that many
//! bytes of JSON, one request and one response per round trip on a connection.
//!
//! JSON because the records are already serde types, `serde_json` is in the
//! workspace, a captured frame is readable, and the metadata log carries little
//! data (snapshot chunks are the only bulk, and they are sized to fit a frame).

use openraft::error::{InstallSnapshotError, RaftError};
use openraft::raft::{
    AppendEntriesRequest, AppendEntriesResponse, InstallSnapshotRequest, InstallSnapshotResponse,
    VoteRequest, VoteResponse,
};
use serde::{Deserialize, Serialize};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

use crate::types::{NodeId, TypeConfig};

/// Whom a request is for. A node answers only requests addressed to it in its own
/// cluster: a port reused by another node or another cluster (a restarted process
/// elsewhere, a wrong `controller.quorum.voters`) must not take part in this
/// quorum's votes or log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Addressee {
    pub(crate) cluster_id: String,
    pub(crate) node_id: NodeId,
}

/// A request with its address, as it goes on the wire.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) struct Envelope {
    pub(crate) to: Addressee,
    pub(crate) request: Request,
}

/// A request from one node to another.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Request {
    AppendEntries(AppendEntriesRequest<TypeConfig>),
    Vote(VoteRequest<NodeId>),
    InstallSnapshot(InstallSnapshotRequest<TypeConfig>),
    /// A request for the controller running on the receiving node (broker
    /// registration, heartbeats, ISR changes, metadata writes): the quorum only
    /// carries it; its meaning belongs to the controller.
    Controller(serde_json::Value),
}

/// The answer to a [`Request`] of the same kind.
#[derive(Debug, Serialize, Deserialize)]
pub(crate) enum Response {
    AppendEntries(Result<AppendEntriesResponse<NodeId>, RaftError<NodeId>>),
    Vote(Result<VoteResponse<NodeId>, RaftError<NodeId>>),
    InstallSnapshot(
        Result<InstallSnapshotResponse<NodeId>, RaftError<NodeId, InstallSnapshotError>>,
    ),
    /// The controller's answer to a [`Request::Controller`].
    Controller(serde_json::Value),
    /// The receiving node runs no controller (yet): try another node.
    NoController,
    /// The request was for someone else: this is who answered.
    Misdirected(Addressee),
}

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum FrameError {
    #[error("frame of {len} bytes exceeds the limit of {max}")]
    TooLarge { len: usize, max: usize },
    #[error("connection closed in the middle of a frame")]
    Truncated,
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads one frame; `None` on a clean end of stream between frames. The length is
/// checked against `max` before the payload buffer is allocated.
pub(crate) async fn read_frame<R: AsyncRead + Unpin>(
    reader: &mut R,
    max: usize,
) -> Result<Option<Vec<u8>>, FrameError> {
    let mut len = [0u8; 4];
    let mut got = 0;
    while got < len.len() {
        let n = reader.read(&mut len[got..]).await?;
        if n == 0 {
            return if got == 0 {
                Ok(None)
            } else {
                Err(FrameError::Truncated)
            };
        }
        got += n;
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(FrameError::TooLarge { len, max });
    }
    let mut payload = vec![0u8; len];
    reader.read_exact(&mut payload).await.map_err(|e| {
        if e.kind() == std::io::ErrorKind::UnexpectedEof {
            FrameError::Truncated
        } else {
            FrameError::Io(e)
        }
    })?;
    Ok(Some(payload))
}

/// Writes one frame and flushes it.
pub(crate) async fn write_frame<W: AsyncWrite + Unpin>(
    writer: &mut W,
    payload: &[u8],
    max: usize,
) -> Result<(), FrameError> {
    if payload.len() > max {
        return Err(FrameError::TooLarge {
            len: payload.len(),
            max,
        });
    }
    let mut frame = Vec::with_capacity(4 + payload.len());
    frame.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    frame.extend_from_slice(payload);
    writer.write_all(&frame).await?;
    writer.flush().await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn frames_round_trip_and_end_cleanly() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"hello", 100).await.unwrap();
        write_frame(&mut buf, b"", 100).await.unwrap();
        let mut r = &buf[..];
        assert_eq!(read_frame(&mut r, 100).await.unwrap().unwrap(), b"hello");
        assert_eq!(read_frame(&mut r, 100).await.unwrap().unwrap(), b"");
        assert!(read_frame(&mut r, 100).await.unwrap().is_none());
    }

    #[tokio::test]
    async fn oversized_length_is_refused_before_allocating() {
        let frame = u32::MAX.to_be_bytes();
        let mut r = &frame[..];
        let err = read_frame(&mut r, 1 << 20).await.unwrap_err();
        assert!(matches!(err, FrameError::TooLarge { .. }), "{err}");
        let mut sink = Vec::new();
        assert!(write_frame(&mut sink, &[0; 11], 10).await.is_err());
    }

    #[tokio::test]
    async fn truncated_frames_are_errors_at_every_length() {
        let mut buf = Vec::new();
        write_frame(&mut buf, b"0123456789", 100).await.unwrap();
        for cut in 1..buf.len() {
            let mut r = &buf[..cut];
            let err = read_frame(&mut r, 100).await.unwrap_err();
            assert!(matches!(err, FrameError::Truncated), "cut {cut}: {err}");
        }
    }
}
