//! `meta.properties`: the identity of a log directory (cluster id, node id,
//! directory id), written by `kafka-storage format` or by the first start.

use std::path::Path;

use kavka_storage::durable::{self, StateFileError};

/// The file's name in every log directory, as Kafka names it.
pub const META_PROPERTIES_FILE: &str = "meta.properties";

/// What `meta.properties` records (version 1, the KRaft layout).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MetaProperties {
    pub cluster_id: String,
    pub node_id: Option<i32>,
    pub directory_id: Option<String>,
}

impl MetaProperties {
    /// Reads `dir/meta.properties`; None when the directory is not formatted. A file
    /// without a cluster id, or with a node id that is not a number, is corrupt.
    pub fn read(dir: &Path) -> Result<Option<Self>, StateFileError> {
        let path = dir.join(META_PROPERTIES_FILE);
        let Some(text) = durable::read_optional(&path)? else {
            return Ok(None);
        };
        let props = crate::config::parse_properties(&text);
        let cluster_id = props
            .get("cluster.id")
            .filter(|id| !id.is_empty())
            .ok_or_else(|| StateFileError::corrupt(&path, "no cluster.id"))?
            .clone();
        let node_id = match props.get("node.id") {
            None => None,
            Some(n) => Some(
                n.parse()
                    .map_err(|_| StateFileError::corrupt(&path, format!("node.id {n:?}")))?,
            ),
        };
        Ok(Some(Self {
            cluster_id,
            node_id,
            directory_id: props.get("directory.id").cloned(),
        }))
    }

    /// Writes `dir/meta.properties` durably, in Kafka's layout.
    pub fn write(&self, dir: &Path) -> std::io::Result<()> {
        let mut text = String::from("#\n#Written by Kavka\n");
        if let Some(node) = self.node_id {
            text.push_str(&format!("node.id={node}\n"));
        }
        if let Some(dir_id) = &self.directory_id {
            text.push_str(&format!("directory.id={dir_id}\n"));
        }
        text.push_str(&format!("version=1\ncluster.id={}\n", self.cluster_id));
        durable::create_dir_all_durably(dir)?;
        durable::write_atomic(&dir.join(META_PROPERTIES_FILE), text.as_bytes())
    }

    /// A fresh identity for `node_id`, with a random cluster and directory id.
    pub fn new_cluster(node_id: i32) -> Self {
        Self {
            cluster_id: random_uuid(),
            node_id: Some(node_id),
            directory_id: Some(random_uuid()),
        }
    }
}

/// The cluster id of an unformatted multi-node cluster: derived from its voters
/// (sorted, `id@host:port`), so every node given the same voters derives the same
/// id. A name-based UUID (v5) printed as Kafka prints ids.
pub fn cluster_id_for_voters(voters: &[crate::config::Voter]) -> String {
    let mut names: Vec<String> = voters
        .iter()
        .map(|v| format!("{}@{}:{}", v.id, v.host, v.port))
        .collect();
    names.sort();
    let namespace = uuid::Uuid::NAMESPACE_OID;
    let id = uuid::Uuid::new_v5(&namespace, names.join(",").as_bytes());
    let text = base64url(id.as_bytes());
    // Kafka's tools refuse ids starting with '-' on a command line.
    match text.strip_prefix('-') {
        Some(rest) => format!("K{rest}"),
        None => text,
    }
}

/// A random id as Kafka prints them: 16 random bytes in unpadded URL-safe base64,
/// never starting with '-' (which a command line would take for an option).
pub fn random_uuid() -> String {
    loop {
        let id = base64url(uuid::Uuid::new_v4().as_bytes());
        if !id.starts_with('-') {
            return id;
        }
    }
}

fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..=chunk.len() {
            out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_look_like_kafkas() {
        for _ in 0..100 {
            let id = random_uuid();
            assert_eq!(id.len(), 22);
            assert!(!id.starts_with('-'));
            assert!(id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'));
        }
    }

    #[test]
    fn round_trip_and_kafkas_own_file() {
        let dir = tempfile::tempdir().unwrap();
        assert_eq!(MetaProperties::read(dir.path()).unwrap(), None);
        let meta = MetaProperties::new_cluster(3);
        meta.write(dir.path()).unwrap();
        assert_eq!(MetaProperties::read(dir.path()).unwrap(), Some(meta));
        // As `kafka-storage format` writes it.
        std::fs::write(
            dir.path().join(META_PROPERTIES_FILE),
            "#\n#Wed Dec 02 08:02:34 UTC 2026\nnode.id=1\ndirectory.id=ORGgmAFAhz-L4pivdhnWoA\nversion=1\ncluster.id=abcdefghijklmnopqrstuv\n",
        )
        .unwrap();
        let read = MetaProperties::read(dir.path()).unwrap().unwrap();
        assert_eq!(read.cluster_id, "abcdefghijklmnopqrstuv");
        assert_eq!(read.node_id, Some(1));
    }
}
