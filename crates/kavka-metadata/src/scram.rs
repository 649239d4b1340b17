//! AlterUserScramCredentials decided as Kafka's `ScramControlManager` decides it:
//! per user, deletions and upsertions checked against the image, one error per
//! user, and the records for everything that passed, committed together.

use std::collections::BTreeMap;

use crate::{MetadataImage, MetadataRecord};

/// Kafka's error codes for SCRAM credential changes.
pub const UNSUPPORTED_SASL_MECHANISM: i16 = 33;
pub const RESOURCE_NOT_FOUND: i16 = 91;
pub const DUPLICATE_RESOURCE: i16 = 92;
pub const UNACCEPTABLE_CREDENTIAL: i16 = 93;

/// Kafka's bounds on a credential's iteration count.
pub const MIN_ITERATIONS: i32 = 4096;
pub const MAX_ITERATIONS: i32 = 16384;

/// A credential to set; the keys are already derived from the salted password.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScramUpsertion {
    pub name: String,
    pub mechanism: i8,
    pub iterations: i32,
    pub salt: Vec<u8>,
    pub stored_key: Vec<u8>,
    pub server_key: Vec<u8>,
}

/// One user's outcome: `None` for success, else Kafka's error code and message.
pub type UserResult = (String, Option<(i16, String)>);

fn known_mechanism(code: i8) -> bool {
    matches!(code, 1 | 2)
}

fn check_name_and_mechanism(name: &str, mechanism: i8) -> Option<(i16, String)> {
    if name.is_empty() {
        return Some((UNACCEPTABLE_CREDENTIAL, "Username must not be empty".into()));
    }
    if !known_mechanism(mechanism) {
        return Some((UNSUPPORTED_SASL_MECHANISM, "Unknown SCRAM mechanism".into()));
    }
    None
}

fn duplicate() -> (i16, String) {
    (
        DUPLICATE_RESOURCE,
        "A user credential cannot be altered twice in the same request".into(),
    )
}

/// The records and per-user results for one AlterUserScramCredentials request.
pub fn alter_scram_credentials(
    image: &MetadataImage,
    deletions: &[(String, i8)],
    upsertions: &[ScramUpsertion],
) -> (Vec<MetadataRecord>, Vec<UserResult>) {
    let mut errors: BTreeMap<String, (i16, String)> = BTreeMap::new();
    let mut to_delete: BTreeMap<String, i8> = BTreeMap::new();
    let mut to_upsert: BTreeMap<String, &ScramUpsertion> = BTreeMap::new();
    for (name, mechanism) in deletions {
        if errors.contains_key(name) {
            continue;
        }
        if to_delete.remove(name).is_some() {
            errors.insert(name.clone(), duplicate());
        } else if let Some(e) = check_name_and_mechanism(name, *mechanism) {
            errors.insert(name.clone(), e);
        } else if image.scram_credential(name, *mechanism).is_none() {
            errors.insert(
                name.clone(),
                (
                    RESOURCE_NOT_FOUND,
                    "Attempt to delete a user credential that does not exist".into(),
                ),
            );
        } else {
            to_delete.insert(name.clone(), *mechanism);
        }
    }
    for u in upsertions {
        if errors.contains_key(&u.name) {
            continue;
        }
        if to_delete.remove(&u.name).is_some() || to_upsert.remove(&u.name).is_some() {
            errors.insert(u.name.clone(), duplicate());
        } else if let Some(e) = check_name_and_mechanism(&u.name, u.mechanism) {
            errors.insert(u.name.clone(), e);
        } else if u.iterations < MIN_ITERATIONS {
            errors.insert(
                u.name.clone(),
                (UNACCEPTABLE_CREDENTIAL, "Too few iterations".into()),
            );
        } else if u.iterations > MAX_ITERATIONS {
            errors.insert(
                u.name.clone(),
                (UNACCEPTABLE_CREDENTIAL, "Too many iterations".into()),
            );
        } else {
            to_upsert.insert(u.name.clone(), u);
        }
    }
    let mut records = Vec::new();
    let mut results = Vec::new();
    for (name, mechanism) in to_delete {
        records.push(MetadataRecord::RemoveUserScramCredential {
            name: name.clone(),
            mechanism,
        });
        results.push((name, None));
    }
    for (name, u) in to_upsert {
        records.push(MetadataRecord::UserScramCredential {
            name: name.clone(),
            mechanism: u.mechanism,
            salt: u.salt.clone(),
            stored_key: u.stored_key.clone(),
            server_key: u.server_key.clone(),
            iterations: u.iterations,
        });
        results.push((name, None));
    }
    results.extend(errors.into_iter().map(|(n, e)| (n, Some(e))));
    (records, results)
}

/// One user's answer to DescribeUserScramCredentials: (mechanism, iterations)
/// pairs, or Kafka's error code and message.
pub type DescribedUser = (String, Result<Vec<(i8, i32)>, (i16, String)>);

/// DescribeUserScramCredentials as Kafka's `ScramImage::describe`: every user
/// when `users` is None or empty.
pub fn describe_scram_credentials(
    image: &MetadataImage,
    users: Option<&[String]>,
) -> Vec<DescribedUser> {
    let mut wanted: BTreeMap<String, bool> = BTreeMap::new();
    match users {
        Some(users) if !users.is_empty() => {
            for u in users {
                let seen = wanted.contains_key(u);
                wanted.insert(u.clone(), seen);
            }
        }
        _ => {
            for u in image.scram_users().keys() {
                wanted.insert(u.clone(), false);
            }
        }
    }
    wanted
        .into_iter()
        .map(|(user, duplicated)| {
            let answer = if duplicated {
                Err((
                    DUPLICATE_RESOURCE,
                    format!(
                        "Cannot describe SCRAM credentials for the same user twice in a single request: {user}"
                    ),
                ))
            } else {
                match image.scram_users().get(&user) {
                    Some(m) if !m.is_empty() => {
                        Ok(m.iter().map(|(code, c)| (*code, c.iterations)).collect())
                    }
                    _ => Err((
                        RESOURCE_NOT_FOUND,
                        format!("Attempt to describe a user credential that does not exist: {user}"),
                    )),
                }
            };
            (user, answer)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn upsert(name: &str, mechanism: i8, iterations: i32) -> ScramUpsertion {
        ScramUpsertion {
            name: name.into(),
            mechanism,
            iterations,
            salt: vec![1],
            stored_key: vec![2],
            server_key: vec![3],
        }
    }

    fn apply(image: &mut MetadataImage, records: &[MetadataRecord]) {
        image.apply_all(records).unwrap();
    }

    #[test]
    fn upsert_describe_delete_round_trip() {
        let mut image = MetadataImage::default();
        let (records, results) = alter_scram_credentials(&image, &[], &[upsert("alice", 1, 8192)]);
        assert_eq!(results, vec![("alice".to_string(), None)]);
        apply(&mut image, &records);
        assert_eq!(image.scram_credential("alice", 1).unwrap().iterations, 8192);
        assert_eq!(
            describe_scram_credentials(&image, None),
            vec![("alice".to_string(), Ok(vec![(1, 8192)]))]
        );
        let (records, results) = alter_scram_credentials(&image, &[("alice".into(), 1)], &[]);
        assert_eq!(results, vec![("alice".to_string(), None)]);
        apply(&mut image, &records);
        assert!(image.scram_users().is_empty());
        assert_eq!(
            describe_scram_credentials(&image, Some(&["alice".to_string()]))[0]
                .1
                .as_ref()
                .unwrap_err()
                .0,
            RESOURCE_NOT_FOUND
        );
    }

    #[test]
    fn kafkas_errors_per_user() {
        let image = MetadataImage::default();
        let (records, results) = alter_scram_credentials(
            &image,
            &[("ghost".into(), 1), ("twice".into(), 1)],
            &[
                upsert("few", 1, 4095),
                upsert("many", 2, 16385),
                upsert("", 1, 8192),
                upsert("odd", 7, 8192),
                upsert("twice", 1, 8192),
            ],
        );
        assert!(records.is_empty());
        let code = |u: &str| {
            results
                .iter()
                .find(|(n, _)| n == u)
                .and_then(|(_, e)| e.as_ref())
                .map(|e| e.0)
        };
        assert_eq!(code("ghost"), Some(RESOURCE_NOT_FOUND));
        assert_eq!(code("few"), Some(UNACCEPTABLE_CREDENTIAL));
        assert_eq!(code("many"), Some(UNACCEPTABLE_CREDENTIAL));
        assert_eq!(code(""), Some(UNACCEPTABLE_CREDENTIAL));
        assert_eq!(code("odd"), Some(UNSUPPORTED_SASL_MECHANISM));
        // "twice" failed its deletion (not found) first, so its upsertion is skipped.
        assert_eq!(code("twice"), Some(RESOURCE_NOT_FOUND));
        let (_, results) = alter_scram_credentials(
            &image,
            &[],
            &[upsert("bob", 1, 8192), upsert("bob", 2, 8192)],
        );
        assert_eq!(results, vec![("bob".to_string(), Some(duplicate()))]);
    }

    #[test]
    fn describing_a_user_twice_is_a_duplicate() {
        let image = MetadataImage::default();
        let out = describe_scram_credentials(&image, Some(&["a".to_string(), "a".to_string()]));
        assert_eq!(out[0].1.as_ref().unwrap_err().0, DUPLICATE_RESOURCE);
    }

    #[test]
    fn removing_a_missing_credential_is_refused_by_the_image() {
        let mut image = MetadataImage::default();
        assert!(image
            .apply(&MetadataRecord::RemoveUserScramCredential {
                name: "x".into(),
                mechanism: 1
            })
            .is_err());
    }
}
