//! `kavka link-tools DIR`: Kafka's `bin/` layout (`kafka-topics.sh`, ...) as
//! symbolic links to this binary, which answers to those names. The container
//! image uses it for `/opt/kafka/bin`, where scripts written for Apache's image
//! call the tools.

use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Every script name Kavka answers to, without `.sh`.
pub(crate) fn tool_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = kavka_tools::Tool::ALL
        .iter()
        .map(|(tool, _)| tool.kafka_name())
        .collect();
    names.push(crate::storage_tool::NAME);
    names
}

/// Creates `DIR/<name>.sh` for every tool, pointing at `target`. An existing
/// link to the same target is left alone; anything else in the way is an error
/// rather than overwritten.
pub(crate) fn link_tools(dir: &Path, target: &Path) -> anyhow::Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let mut made = Vec::new();
    for name in tool_names() {
        let link = dir.join(format!("{name}.sh"));
        match std::fs::read_link(&link) {
            Ok(existing) if existing == target => continue,
            Ok(existing) => bail!(
                "{} already links to {}, not {}",
                link.display(),
                existing.display(),
                target.display()
            ),
            Err(_) if link.symlink_metadata().is_ok() => {
                bail!("{} exists and is not a symbolic link", link.display())
            }
            Err(_) => {}
        }
        std::os::unix::fs::symlink(target, &link)
            .with_context(|| format!("cannot create {}", link.display()))?;
        made.push(link);
    }
    Ok(made)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_every_tool_once_and_refuses_to_overwrite_other_files() {
        let dir = tempfile::tempdir().expect("tempdir");
        let target = Path::new("/usr/local/bin/kavka");
        let made = link_tools(dir.path(), target).expect("links");
        assert!(made.len() >= 10, "{made:?}");
        let topics = dir.path().join("kafka-topics.sh");
        assert_eq!(std::fs::read_link(&topics).expect("link"), target);
        assert!(dir
            .path()
            .join("kafka-storage.sh")
            .symlink_metadata()
            .is_ok());
        // A second run changes nothing.
        assert!(link_tools(dir.path(), target).expect("again").is_empty());
        std::fs::remove_file(&topics).expect("remove");
        std::fs::write(&topics, "#!/bin/sh\n").expect("write");
        assert!(link_tools(dir.path(), target).is_err());
    }
}
