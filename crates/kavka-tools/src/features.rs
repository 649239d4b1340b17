//! `kafka-features`: describe the feature levels a cluster supports and runs at;
//! upgrade, downgrade or disable them; look up the levels of a release and a
//! level's dependencies. Output and messages are Kafka's FeatureCommand's.
//! Kavka's levels are fixed (see `kavka_wire::features`), so the broker refuses
//! any change but a no-op with Kafka's own error text, which is printed as is.
//! Like Kafka's tool, `version-mapping`, `feature-dependencies` and
//! `--release-version` answer from Kafka 4.4's release table, not the broker's.

use std::collections::BTreeMap;
use std::ffi::OsString;

use clap::{Parser, Subcommand};
use kafka_protocol::messages::update_features_request::FeatureUpdateKey;
use kafka_protocol::messages::UpdateFeaturesRequest;
use kafka_protocol::protocol::StrBytes;
use kafka_protocol::ResponseError;
use kavka_wire::features::{metadata_version_level, METADATA_VERSION_LEVEL, METADATA_VERSION_NAME};

use crate::java_hash::{java_hash_order, java_string_hash};
use crate::wire::Connection;

const USAGE_TEXT: &str = "This tool manages feature flags in Kafka.";

/// Apache Kafka 4.4's release table, which its tool reads offline whatever broker it
/// talks to: for each feature (in `version-mapping` order), the level release 4.4-IV2
/// sets (what `--release-version` sends) and the highest level Kafka 4.4 knows
/// (what `feature-dependencies` accepts). A Kavka broker refuses the levels it does
/// not run with Kafka's controller's error, as Kafka's tool then reports.
const KAFKA_RELEASE_LEVELS: &[(&str, i16, i16)] = &[
    (
        "metadata.version",
        METADATA_VERSION_LEVEL,
        METADATA_VERSION_LEVEL,
    ),
    ("kraft.version", 1, 1),
    ("transaction.version", 2, 2),
    ("group.version", 1, 1),
    ("eligible.leader.replicas.version", 1, 1),
    ("share.version", 2, 2),
    ("streams.version", 1, 1),
];

/// The one dependency among Kafka 4.4's feature levels: ELR needs 4.0-IV1.
const ELR_REQUIRES: (&str, i16, &str) = ("metadata.version", 23, "4.0-IV1");

/// Kafka's FeatureCommand options.
#[derive(Parser, Debug)]
#[command(name = "kafka-features", about = USAGE_TEXT)]
#[command(disable_version_flag = true)]
pub(crate) struct Args {
    /// A comma-separated list of host:port pairs to use for establishing the connection to the Kafka cluster.
    #[arg(long)]
    bootstrap_server: Option<String>,
    /// A comma-separated list of host:port pairs to use for establishing the connection to the KRaft quorum.
    #[arg(long, conflicts_with = "bootstrap_server")]
    bootstrap_controller: Option<String>,
    /// Property file containing configs to be passed to Admin Client.
    #[arg(long)]
    command_config: Option<std::path::PathBuf>,
    #[command(subcommand)]
    command: FeatureCommand,
}

#[derive(Subcommand, Debug)]
enum FeatureCommand {
    /// Describes the current active feature flags.
    Describe {
        /// The node id to which the requests should be sent. Every Kavka node runs
        /// the same fixed levels, so any answers.
        #[arg(long)]
        node_id: Option<i32>,
    },
    /// Upgrade one or more feature flags.
    Upgrade(ChangeArgs),
    /// Upgrade one or more feature flags.
    Downgrade(ChangeArgs),
    /// Disable one or more feature flags. This is the same as downgrading the version to zero.
    Disable {
        /// A feature flag to disable.
        #[arg(long = "feature", value_name = "FEATURE")]
        features: Vec<String>,
        /// Disable this feature flag even if it may irreversibly destroy metadata.
        #[arg(long = "unsafe")]
        unsafe_: bool,
        /// Perform a dry-run of this disable operation.
        #[arg(long)]
        dry_run: bool,
    },
    /// Look up the corresponding features for a given metadata version.
    VersionMapping {
        /// The release version to use for the corresponding feature mapping.
        #[arg(long)]
        release_version: Option<String>,
    },
    /// Look up dependencies for a given feature version.
    FeatureDependencies {
        /// The feature and version to look up dependencies for, in feature=version format.
        #[arg(long = "feature", value_name = "FEATURE=VERSION", required = true)]
        features: Vec<String>,
    },
}

#[derive(clap::Args, Debug)]
struct ChangeArgs {
    /// DEPRECATED -- The level to change the metadata to. For example, 4.4-IV2.
    #[arg(long)]
    metadata: Option<String>,
    /// The release version to update all features to. For example, 4.4-IV2.
    #[arg(long, conflicts_with = "metadata")]
    release_version: Option<String>,
    /// A feature update, in feature=level format. For example: `group.version=1`.
    #[arg(long = "feature", value_name = "FEATURE=LEVEL")]
    features: Vec<String>,
    /// Perform this downgrade even if it may irreversibly destroy metadata.
    #[arg(long = "unsafe")]
    unsafe_: bool,
    /// Validate this change, but do not perform it.
    #[arg(long)]
    dry_run: bool,
}

/// A usage mistake or refused operation: printed on stderr, exit status 1.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
struct Terse(String);

/// Runs kafka-features.
pub(crate) fn main(argv: impl IntoIterator<Item = OsString>) -> anyhow::Result<i32> {
    let args: Args = match Args::try_parse_from(argv) {
        Ok(a) => a,
        Err(e) if e.kind() == clap::error::ErrorKind::DisplayHelp => {
            print!("{}", e.render());
            return Ok(0);
        }
        Err(e) => {
            let text = e.kind().as_str().unwrap_or("invalid arguments");
            eprintln!("Command line error: {text}. Type --help for help.");
            return Ok(1);
        }
    };
    match run(args) {
        Ok(()) => Ok(0),
        // Kafka prints its argument errors with printf and no final newline.
        Err(e) if e.0.starts_with("Command line error") => {
            eprint!("{e}");
            Ok(1)
        }
        Err(e) => {
            eprintln!("{e}");
            Ok(1)
        }
    }
}

fn run(args: Args) -> Result<(), Terse> {
    match &args.command {
        FeatureCommand::VersionMapping { release_version } => {
            print!("{}", version_mapping(release_version.as_deref())?);
            return Ok(());
        }
        FeatureCommand::FeatureDependencies { features } => {
            print!("{}", feature_dependencies(features)?);
            return Ok(());
        }
        _ => {}
    }
    let bootstrap = args
        .bootstrap_server
        .as_deref()
        .or(args.bootstrap_controller.as_deref())
        .ok_or_else(|| {
            // Kafka's argument error, printed without a final newline as Kafka's is.
            Terse(
                "Command line error: You must specify either --bootstrap-controller or \
                   --bootstrap-server.. Type --help for help."
                    .into(),
            )
        })?;
    crate::wire::use_command_config(args.command_config.as_deref())
        .map_err(|e| Terse(e.to_string()))?;
    let mut conn = Connection::bootstrap(bootstrap).map_err(|e| Terse(e.to_string()))?;
    match args.command {
        FeatureCommand::Describe { .. } => {
            let response = conn
                .send(crate::wire::api_versions_request())
                .map_err(|e| Terse(e.to_string()))?;
            if let Some(message) = error_text(response.error_code, None) {
                return Err(Terse(message));
            }
            let supported = response
                .supported_features
                .iter()
                .map(|f| (f.name.to_string(), (f.min_version, f.max_version)))
                .collect();
            let finalized = response
                .finalized_features
                .iter()
                .map(|f| (f.name.to_string(), f.max_version_level))
                .collect();
            let epoch = (response.finalized_features_epoch >= 0)
                .then_some(response.finalized_features_epoch);
            print!("{}", describe(&supported, &finalized, epoch));
            Ok(())
        }
        FeatureCommand::Upgrade(change) => {
            let updates = change_updates(&change, Op::Upgrade)?;
            update(&mut conn, Op::Upgrade, updates, change.dry_run)
        }
        FeatureCommand::Downgrade(change) => {
            let op = if change.unsafe_ {
                Op::UnsafeDowngrade
            } else {
                Op::Downgrade
            };
            let updates = change_updates(&change, op)?;
            update(&mut conn, op, updates, change.dry_run)
        }
        FeatureCommand::Disable {
            features,
            unsafe_,
            dry_run,
        } => {
            let mut updates = BTreeMap::new();
            for f in features {
                if updates.insert(f.clone(), 0).is_some() {
                    return Err(Terse(format!("Feature {f} was specified more than once.")));
                }
            }
            let op = if unsafe_ {
                Op::UnsafeDisable
            } else {
                Op::Disable
            };
            update(&mut conn, op, updates, dry_run)
        }
        FeatureCommand::VersionMapping { .. } | FeatureCommand::FeatureDependencies { .. } => {
            Ok(())
        }
    }
}

/// Which change, as the tool words it and the wire codes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Upgrade,
    Downgrade,
    UnsafeDowngrade,
    Disable,
    UnsafeDisable,
}

impl Op {
    fn verb(self) -> &'static str {
        match self {
            Op::Upgrade => "upgrade",
            Op::Downgrade | Op::UnsafeDowngrade => "downgrade",
            Op::Disable | Op::UnsafeDisable => "disable",
        }
    }

    /// Kafka's `FeatureUpdate.UpgradeType` code.
    fn upgrade_type(self) -> i8 {
        match self {
            Op::Upgrade => 1,
            Op::Downgrade | Op::Disable => 2,
            Op::UnsafeDowngrade | Op::UnsafeDisable => 3,
        }
    }
}

/// The levels an upgrade or downgrade asks for, by feature name.
fn change_updates(change: &ChangeArgs, op: Op) -> Result<BTreeMap<String, i16>, Terse> {
    let mut updates = BTreeMap::new();
    if let Some(release) = &change.release_version {
        if !change.features.is_empty() {
            return Err(Terse(
                "Can not specify `release-version` with other feature flags.".into(),
            ));
        }
        if metadata_version_level(release).is_none() {
            return Err(Terse(unknown_metadata_version(release)));
        }
        // A release sets every feature to that release's level.
        for (name, level, _) in KAFKA_RELEASE_LEVELS {
            updates.insert(name.to_string(), *level);
        }
        return Ok(updates);
    }
    if let Some(metadata) = &change.metadata {
        println!(" `metadata` flag is deprecated and may be removed in a future release.");
        let level = metadata_version_level(metadata)
            .ok_or_else(|| Terse(unknown_metadata_version(metadata)))?;
        updates.insert("metadata.version".to_string(), level);
    }
    for f in &change.features {
        let (name, level) = parse_name_and_level(f)?;
        if updates.insert(name.clone(), level).is_some() {
            return Err(Terse(format!(
                "Feature {name} was specified more than once."
            )));
        }
    }
    if updates.is_empty() {
        return Err(Terse(format!(
            "You must specify at least one feature to {}",
            op.verb()
        )));
    }
    Ok(updates)
}

fn unknown_metadata_version(name: &str) -> String {
    format!(
        "Unknown metadata.version '{name}'. Supported metadata.version are: {METADATA_VERSION_NAME}"
    )
}

/// `feature=level`, as Kafka's tool parses it.
fn parse_name_and_level(input: &str) -> Result<(String, i16), Terse> {
    let Some((name, level)) = input.split_once('=') else {
        return Err(Terse(format!(
            "Can't parse feature=level string {input}: equals sign not found."
        )));
    };
    let level = level.trim().parse::<i16>().map_err(|_| {
        Terse(format!(
            "Can't parse feature=level string {input}: unable to parse {level} as a short."
        ))
    })?;
    Ok((name.trim().to_string(), level))
}

/// Sends the updates and reports each feature's outcome as Kafka's tool does.
fn update(
    conn: &mut Connection,
    op: Op,
    updates: BTreeMap<String, i16>,
    dry_run: bool,
) -> Result<(), Terse> {
    if updates.is_empty() {
        return Err(Terse(format!(
            "You must specify at least one feature to {}",
            op.verb()
        )));
    }
    // allow_downgrade exists only in v0, upgrade_type and validate_only from v1.
    let version = conn
        .version::<UpdateFeaturesRequest>(i16::MAX)
        .map_err(|e| Terse(e.to_string()))?;
    let request = UpdateFeaturesRequest::default()
        .with_timeout_ms(60_000)
        .with_validate_only(version >= 1 && dry_run)
        .with_feature_updates(
            java_map_order(&updates)
                .into_iter()
                .map(|(name, level)| {
                    let key = FeatureUpdateKey::default()
                        .with_feature(StrBytes::from_string(name.clone()))
                        .with_max_version_level(*level);
                    if version == 0 {
                        key.with_allow_downgrade(op != Op::Upgrade)
                    } else {
                        key.with_upgrade_type(op.upgrade_type())
                    }
                })
                .collect(),
        );
    let response = conn
        .send_version(request, version)
        .map_err(|e| Terse(e.to_string()))?;
    let top = error_text(response.error_code, response.error_message.as_deref());
    let per_feature: BTreeMap<String, Option<String>> = response
        .results
        .iter()
        .map(|r| {
            (
                r.feature.to_string(),
                error_text(r.error_code, r.error_message.as_deref()),
            )
        })
        .collect();
    let outcomes = updates
        .iter()
        .map(|(name, level)| {
            let error = top
                .clone()
                .or_else(|| per_feature.get(name).cloned().flatten());
            (name.clone(), *level, error)
        })
        .collect::<Vec<_>>();
    let (report, failures) = update_report(op, dry_run, &outcomes);
    print!("{report}");
    if failures > 0 {
        return Err(Terse(format!(
            "{failures} out of {} operation(s) failed.",
            updates.len()
        )));
    }
    Ok(())
}

/// The updates in the order Kafka's tool sends them: it collects them in a Java
/// `HashMap`, and a broker names the first refused feature of the request in its
/// error, so the order shows.
fn java_map_order(updates: &BTreeMap<String, i16>) -> Vec<(&String, &i16)> {
    let entries: Vec<(&String, &i16)> = updates.iter().collect();
    let hashes: Vec<i32> = entries.iter().map(|(n, _)| java_string_hash(n)).collect();
    java_hash_order(&hashes, 16)
        .into_iter()
        .map(|i| entries[i])
        .collect()
}

/// The error a response carries, as Kafka's exceptions word it: the broker's
/// message, or the error's default text.
fn error_text(code: i16, message: Option<&str>) -> Option<String> {
    if code == 0 {
        return None;
    }
    Some(match message {
        Some(m) if !m.is_empty() => m.to_string(),
        _ => ResponseError::try_from_code(code)
            .map_or_else(|| format!("error code {code}"), |e| e.to_string()),
    })
}

/// One line per feature, and how many failed.
fn update_report(
    op: Op,
    dry_run: bool,
    outcomes: &[(String, i16, Option<String>)],
) -> (String, usize) {
    let mut out = String::new();
    let mut failures = 0;
    for (name, level, error) in outcomes {
        let disable = matches!(op, Op::Disable | Op::UnsafeDisable);
        match error {
            Some(message) => {
                failures += 1;
                let helper = if dry_run { "Can not " } else { "Could not " };
                let what = if disable {
                    format!("disable {name}")
                } else {
                    format!("{} {name} to {level}", op.verb())
                };
                out.push_str(&format!("{helper}{what}. {message}\n"));
            }
            None => {
                let verb = if dry_run { " can be " } else { " was " };
                let what = if disable {
                    "disabled.".to_string()
                } else {
                    format!("{}d to {level}.", op.verb())
                };
                out.push_str(&format!("{name}{verb}{what}\n"));
            }
        }
    }
    (out, failures)
}

/// A level as Kafka's tool prints it: metadata.version by release name.
fn level_text(feature: &str, level: i16) -> String {
    if feature == "metadata.version" {
        if level == METADATA_VERSION_LEVEL {
            return METADATA_VERSION_NAME.to_string();
        }
        if level == 7 {
            // The oldest KRaft metadata version, which Kafka's brokers report as
            // their lowest supported one.
            return "3.3-IV3".to_string();
        }
        return format!("UNKNOWN {level}");
    }
    level.to_string()
}

/// The describe table: one line per supported feature, sorted by name, columns
/// padded to their widest value plus ten spaces as Kafka 4.4's tool prints them.
fn describe(
    supported: &BTreeMap<String, (i16, i16)>,
    finalized: &BTreeMap<String, i16>,
    epoch: Option<i64>,
) -> String {
    let rows: Vec<[String; 5]> = supported
        .iter()
        .map(|(name, (min, max))| {
            let level = finalized.get(name).copied().unwrap_or(0);
            [
                format!("Feature: {name}"),
                format!("SupportedMinVersion: {}", level_text(name, *min)),
                format!("SupportedMaxVersion: {}", level_text(name, *max)),
                format!("FinalizedVersionLevel: {}", level_text(name, level)),
                format!(
                    "Epoch: {}",
                    epoch.map_or("-".to_string(), |e| e.to_string())
                ),
            ]
        })
        .collect();
    let mut widths = [0usize; 4];
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row.iter()) {
            *w = (*w).max(cell.len());
        }
    }
    let mut out = String::new();
    for row in rows {
        for (w, cell) in widths.iter().zip(row.iter()) {
            out.push_str(&format!("{cell:<width$}", width = w + 10));
        }
        out.push_str(&row[4]);
        out.push('\n');
    }
    out
}

/// The levels of the one release known (Kafka 4.4-IV2's), as `version-mapping`
/// prints them.
fn version_mapping(release: Option<&str>) -> Result<String, Terse> {
    let release = release.unwrap_or(METADATA_VERSION_NAME);
    let Some(level) = metadata_version_level(release) else {
        return Err(Terse(format!(
            "Unknown release version '{release}'. Supported versions are: \
             {METADATA_VERSION_NAME} to {METADATA_VERSION_NAME}"
        )));
    };
    let mut out = format!("metadata.version={level} ({release})\n");
    for (name, level, _) in KAFKA_RELEASE_LEVELS
        .iter()
        .filter(|(name, _, _)| *name != "metadata.version")
    {
        out.push_str(&format!("{name}={level}\n"));
    }
    Ok(out)
}

/// What each `feature=level` needs, from Kafka 4.4's table.
fn feature_dependencies(features: &[String]) -> Result<String, Terse> {
    let mut out = String::new();
    for f in features {
        let (name, level) = parse_name_and_level(f)?;
        if name == "metadata.version" {
            if level != METADATA_VERSION_LEVEL {
                return Err(Terse(format!("Unknown metadata.version {level}")));
            }
            out.push_str(&format!(
                "{name}={level} ({METADATA_VERSION_NAME}) has no dependencies.\n"
            ));
            continue;
        }
        let (_, _, max) = KAFKA_RELEASE_LEVELS
            .iter()
            .find(|(known, _, _)| *known == name)
            .ok_or_else(|| Terse(format!("Unknown feature: {name}")))?;
        if !(0..=*max).contains(&level) {
            return Err(Terse(format!(
                "No feature:{name} with feature level {level}"
            )));
        }
        if name == "eligible.leader.replicas.version" && level >= 1 {
            let (dep, dep_level, release) = ELR_REQUIRES;
            out.push_str(&format!(
                "{name}={level} requires:\n    {dep}={dep_level} ({release})\n"
            ));
        } else {
            out.push_str(&format!("{name}={level} has no dependencies.\n"));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_pads_columns_as_kafka_does() {
        let supported = BTreeMap::from([
            ("group.version".to_string(), (1, 1)),
            ("metadata.version".to_string(), (33, 33)),
        ]);
        let finalized = BTreeMap::from([("metadata.version".to_string(), 33)]);
        let text = describe(&supported, &finalized, Some(0));
        assert_eq!(
            text,
            "Feature: group.version             SupportedMinVersion: 1                \
             SupportedMaxVersion: 1                FinalizedVersionLevel: 0                Epoch: 0\n\
             Feature: metadata.version          SupportedMinVersion: 4.4-IV2          \
             SupportedMaxVersion: 4.4-IV2          FinalizedVersionLevel: 4.4-IV2          Epoch: 0\n"
        );
    }

    #[test]
    fn update_report_words_success_and_failure_as_kafka() {
        let outcomes = vec![
            ("group.version".to_string(), 1, None),
            ("share.version".to_string(), 1, Some("Nope.".to_string())),
        ];
        let (text, failures) = update_report(Op::Upgrade, true, &outcomes);
        assert_eq!(
            text,
            "group.version can be upgraded to 1.\nCan not upgrade share.version to 1. Nope.\n"
        );
        assert_eq!(failures, 1);
        let (text, _) = update_report(Op::Disable, false, &outcomes[..1]);
        assert_eq!(text, "group.version was disabled.\n");
    }

    #[test]
    fn feature_level_parsing_reports_kafkas_errors() {
        assert_eq!(
            parse_name_and_level("group.version=1").ok(),
            Some(("group.version".to_string(), 1))
        );
        assert_eq!(
            parse_name_and_level("group.version").map_err(|e| e.0),
            Err("Can't parse feature=level string group.version: equals sign not found.".into())
        );
    }

    #[test]
    fn version_mapping_prints_kafka_4_4s_release_levels() {
        // As Kafka 4.4's tool prints it.
        assert_eq!(
            version_mapping(None).unwrap_or_default(),
            "metadata.version=33 (4.4-IV2)\nkraft.version=1\ntransaction.version=2\n\
             group.version=1\neligible.leader.replicas.version=1\nshare.version=2\n\
             streams.version=1\n"
        );
        assert!(version_mapping(Some("3.9")).is_err());
    }

    #[test]
    fn feature_dependencies_know_kafka_4_4s_levels() {
        let args = |a: &[&str]| a.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            feature_dependencies(&args(&[
                "transaction.version=2",
                "eligible.leader.replicas.version=1"
            ]))
            .map_err(|e| e.0),
            Ok("transaction.version=2 has no dependencies.\n\
                eligible.leader.replicas.version=1 requires:\n    metadata.version=23 (4.0-IV1)\n"
                .to_string())
        );
        assert_eq!(
            feature_dependencies(&args(&["share.version=3"])).map_err(|e| e.0),
            Err("No feature:share.version with feature level 3".to_string())
        );
    }
}
