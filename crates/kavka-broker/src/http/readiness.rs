//! `/ready`: whether the broker can take clients, and if not, why. The decision
//! is a pure function of a few facts, tested without a broker.

use crate::state::BrokerState;

/// Why the broker is not ready.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub(crate) enum NotReady {
    #[error(
        "starting: opening storage, joining the metadata quorum, registering with the controller"
    )]
    Starting,
    #[error("shutting down")]
    ShuttingDown,
    #[error("not registered with the controller")]
    NotRegistered,
    #[error("metadata not caught up: this broker's registration is not applied here yet")]
    MetadataBehind,
    #[error("fenced by the controller (missed heartbeats or metadata not caught up)")]
    Fenced,
}

/// What readiness depends on, read from the broker.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Facts {
    /// This broker's epoch, -1 before its registration was answered.
    pub(crate) broker_epoch: i64,
    /// This broker's registration as the locally applied metadata shows it:
    /// (its epoch, fenced).
    pub(crate) registration: Option<(i64, bool)>,
}

/// Ready once open, registered, its current registration applied locally (the
/// metadata caught up to it) and unfenced; never while stopping.
pub(crate) fn decide(facts: Option<Facts>, stopping: bool) -> Result<(), NotReady> {
    if stopping {
        return Err(NotReady::ShuttingDown);
    }
    let facts = facts.ok_or(NotReady::Starting)?;
    if facts.broker_epoch < 0 {
        return Err(NotReady::NotRegistered);
    }
    match facts.registration {
        Some((epoch, _)) if epoch < facts.broker_epoch => Err(NotReady::MetadataBehind),
        None => Err(NotReady::MetadataBehind),
        Some((_, true)) => Err(NotReady::Fenced),
        Some((_, false)) => Ok(()),
    }
}

/// [`decide`] for a broker that may not be open yet.
pub(crate) fn readiness(broker: Option<&BrokerState>, stopping: bool) -> Result<(), NotReady> {
    let facts = broker.map(|b| {
        let image = b.metadata.image();
        Facts {
            broker_epoch: b.broker_epoch(),
            registration: image
                .broker(b.config.node_id)
                .map(|r| (r.broker_epoch, r.fenced)),
        }
    });
    decide(facts, stopping)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts(broker_epoch: i64, registration: Option<(i64, bool)>) -> Option<Facts> {
        Some(Facts {
            broker_epoch,
            registration,
        })
    }

    #[test]
    fn ready_only_when_registered_caught_up_and_unfenced() {
        assert_eq!(decide(None, false), Err(NotReady::Starting));
        assert_eq!(decide(facts(-1, None), false), Err(NotReady::NotRegistered));
        assert_eq!(decide(facts(7, None), false), Err(NotReady::MetadataBehind));
        assert_eq!(
            decide(facts(7, Some((3, false))), false),
            Err(NotReady::MetadataBehind)
        );
        assert_eq!(
            decide(facts(7, Some((7, true))), false),
            Err(NotReady::Fenced)
        );
        assert_eq!(decide(facts(7, Some((7, false))), false), Ok(()));
        assert_eq!(
            decide(facts(7, Some((7, false))), true),
            Err(NotReady::ShuttingDown)
        );
    }
}
