//! How client quotas measure rates, with Kafka's names and defaults
//! (`quota.window.num`, `quota.window.size.seconds` and their controller
//! mutation counterparts). The quota values themselves are metadata, set with
//! AlterClientQuotas.

use super::{invalid, parse_num, ConfigError, Props};

/// The keys read here.
pub(super) const QUOTA_KEYS: &[&str] = &[
    "quota.window.num",
    "quota.window.size.seconds",
    "controller.quota.window.num",
    "controller.quota.window.size.seconds",
];

/// Samples and sample length of the rates quotas are measured over.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QuotaWindow {
    /// Number of samples kept (`quota.window.num`, default 11).
    pub samples: u32,
    /// Length of one sample in seconds (`quota.window.size.seconds`, default 1).
    pub window_seconds: u32,
}

impl Default for QuotaWindow {
    fn default() -> Self {
        Self {
            samples: 11,
            window_seconds: 1,
        }
    }
}

/// The windows of the byte-rate and request quotas and of the controller
/// mutation quota.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct QuotaSettings {
    pub client: QuotaWindow,
    pub controller_mutation: QuotaWindow,
}

impl QuotaSettings {
    pub(super) fn parse(p: &Props<'_>) -> Result<Self, ConfigError> {
        Ok(Self {
            client: window(p, "quota.window.num", "quota.window.size.seconds")?,
            controller_mutation: window(
                p,
                "controller.quota.window.num",
                "controller.quota.window.size.seconds",
            )?,
        })
    }
}

/// One window pair; Kafka requires both to be at least 1.
fn window(p: &Props<'_>, num_key: &str, size_key: &str) -> Result<QuotaWindow, ConfigError> {
    let mut w = QuotaWindow::default();
    if let Some(v) = p.get(num_key) {
        w.samples = parse_num(num_key, v)?;
        if w.samples < 1 {
            return Err(invalid(num_key, v, "must be at least 1"));
        }
    }
    if let Some(v) = p.get(size_key) {
        w.window_seconds = parse_num(size_key, v)?;
        if w.window_seconds < 1 {
            return Err(invalid(size_key, v, "must be at least 1"));
        }
    }
    Ok(w)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    #[test]
    fn kafka_defaults_and_overrides() {
        let raw = BTreeMap::new();
        assert_eq!(
            QuotaSettings::parse(&Props(&raw)).expect("defaults"),
            QuotaSettings::default()
        );
        let raw: BTreeMap<String, String> = [
            ("quota.window.num", "5"),
            ("quota.window.size.seconds", "2"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let s = QuotaSettings::parse(&Props(&raw)).expect("valid");
        assert_eq!(
            s.client,
            QuotaWindow {
                samples: 5,
                window_seconds: 2
            }
        );
        let raw: BTreeMap<String, String> =
            [("quota.window.num".to_string(), "0".to_string())].into();
        assert!(QuotaSettings::parse(&Props(&raw)).is_err());
    }
}
