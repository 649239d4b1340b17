//! The feature levels Kavka supports and runs at, as ApiVersions reports them and
//! UpdateFeatures checks changes against (Kafka's `metadata.version`,
//! `group.version`, ...). Kavka's levels are fixed: each supported range holds
//! exactly what the broker implements, so an update to any other level is refused
//! with the error and text Kafka's controller gives for a level it does not
//! support, and an update to the current level succeeds and changes nothing.

/// One feature: the range Kavka supports and the level it runs at.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Feature {
    /// Kafka's name, e.g. `metadata.version`.
    pub name: &'static str,
    /// Lowest supported level.
    pub min: i16,
    /// Highest supported level (0: Kavka lacks the feature).
    pub max: i16,
    /// The level in force; 0 is "disabled" and is not reported as finalized.
    pub finalized: i16,
}

/// `metadata.version` 4.4-IV2: Kavka serves Apache Kafka 4.4's API versions.
pub const METADATA_VERSION_LEVEL: i16 = 33;
/// Its release name.
pub const METADATA_VERSION_NAME: &str = "4.4-IV2";

/// Every feature Kafka 4.4 knows, in the order Kafka's `version-mapping` lists them.
pub const FEATURES: &[Feature] = &[
    Feature {
        name: "metadata.version",
        min: METADATA_VERSION_LEVEL,
        max: METADATA_VERSION_LEVEL,
        finalized: METADATA_VERSION_LEVEL,
    },
    // Dynamic quorum membership (AddRaftVoter) is not served: voters are static.
    feature("kraft.version", 0, 0),
    // Level 1 writes `__transaction_state` values in the flexible v1 format, as
    // Kavka does; level 2 (an epoch bump per transaction, EndTxn v5) is not done.
    feature("transaction.version", 1, 1),
    // Level 1 is the consumer rebalance protocol (ConsumerGroupHeartbeat), served.
    feature("group.version", 1, 1),
    feature("eligible.leader.replicas.version", 0, 0),
    // No share groups and no streams groups.
    feature("share.version", 0, 0),
    feature("streams.version", 0, 0),
];

const fn feature(name: &'static str, min: i16, max: i16) -> Feature {
    Feature {
        name,
        min,
        max,
        finalized: max,
    }
}

/// The epoch of the finalized levels: they are set when a node is formatted and
/// never change.
pub const FINALIZED_EPOCH: i64 = 0;

/// The feature called `name`.
pub fn feature_named(name: &str) -> Option<&'static Feature> {
    FEATURES.iter().find(|f| f.name == name)
}

/// The metadata.version level a release name stands for: `4.4-IV2`, or `4.4` for
/// the newest level of that release, as Kafka's tools accept.
pub fn metadata_version_level(name: &str) -> Option<i16> {
    (name == METADATA_VERSION_NAME || name == "4.4").then_some(METADATA_VERSION_LEVEL)
}

/// The kind of change an UpdateFeatures entry asks for (Kafka's `UpgradeType`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UpgradeType {
    Upgrade,
    SafeDowngrade,
    UnsafeDowngrade,
    Unknown,
}

impl UpgradeType {
    /// From the v1+ wire code.
    pub fn from_code(code: i8) -> Self {
        match code {
            1 => Self::Upgrade,
            2 => Self::SafeDowngrade,
            3 => Self::UnsafeDowngrade,
            _ => Self::Unknown,
        }
    }
}

/// Why an update is refused: Kafka's INVALID_UPDATE_VERSION with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidUpdate(pub String);

/// Checks one update the way Kafka's controller does, against Kavka's table.
/// `node` names the answering node in the message, as Kafka's "Local controller
/// N" does. Ok means the level asked for is the current one: nothing to change.
pub fn check_update(
    name: &str,
    level: i16,
    upgrade: UpgradeType,
    node: i32,
) -> Result<(), InvalidUpdate> {
    let refuse = |why: &str| {
        Err(InvalidUpdate(format!(
            "Invalid update version {level} for feature {name}. {why}"
        )))
    };
    if upgrade == UpgradeType::Unknown {
        return refuse("The controller does not support the given upgrade type.");
    }
    if level < 0 {
        return refuse("A feature version cannot be less than 0.");
    }
    let Some(feature) = feature_named(name) else {
        return refuse(&format!(
            "Local controller {node} does not support this feature."
        ));
    };
    if !(feature.min..=feature.max).contains(&level) {
        if feature.max == 0 {
            return refuse(&format!(
                "Local controller {node} does not support this feature."
            ));
        }
        return refuse(&format!(
            "Local controller {node} only supports versions {}-{}",
            feature.min, feature.max
        ));
    }
    // Within a one-level range, `level` is the finalized level: no change.
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_current_level_is_accepted() {
        assert_eq!(
            check_update("group.version", 1, UpgradeType::Upgrade, 1),
            Ok(())
        );
        assert_eq!(
            check_update("metadata.version", 33, UpgradeType::Upgrade, 1),
            Ok(())
        );
    }

    #[test]
    fn an_unsupported_level_gets_kafkas_text() {
        assert_eq!(
            check_update("group.version", 5, UpgradeType::Upgrade, 1),
            Err(InvalidUpdate(
                "Invalid update version 5 for feature group.version. \
                 Local controller 1 only supports versions 1-1"
                    .into()
            ))
        );
        assert_eq!(
            check_update("share.version", 1, UpgradeType::Upgrade, 3),
            Err(InvalidUpdate(
                "Invalid update version 1 for feature share.version. \
                 Local controller 3 does not support this feature."
                    .into()
            ))
        );
    }

    #[test]
    fn disabling_a_feature_kavka_runs_is_refused() {
        assert!(check_update("transaction.version", 0, UpgradeType::SafeDowngrade, 1).is_err());
        assert!(check_update("no.such.feature", 1, UpgradeType::Upgrade, 1).is_err());
        assert!(check_update("group.version", 1, UpgradeType::Unknown, 1).is_err());
    }

    #[test]
    fn only_levels_above_zero_are_finalized() {
        let finalized: Vec<_> = FEATURES
            .iter()
            .filter(|f| f.finalized > 0)
            .map(|f| f.name)
            .collect();
        assert_eq!(
            finalized,
            ["metadata.version", "transaction.version", "group.version"]
        );
    }
}
