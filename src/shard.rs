//! Sharding a camera list across replicas: replica `K` of `N` runs the cameras whose name
//! hashes to it, by rendezvous (highest-random-weight, HRW) hashing — each camera scores every
//! shard with a stable hash of `(name, shard)` and goes to the highest score. Every camera lands
//! in exactly one shard, and going from `N` to `N + 1` replicas moves only the cameras that
//! the new shard wins (about `1 / (N + 1)` of them); the others stay where they were.
//!
//! The hash is SHA-256 of `name`, a zero byte and the shard number (u32, little-endian); its
//! first 8 bytes (big-endian) are the score. It does not depend on the platform, the process or
//! the build, so every replica and `ovstream shards` compute the same table.

use sha2::{Digest, Sha256};
use std::fmt;

/// Most replicas a camera list is split across.
pub const MAX_SHARDS: u32 = 4096;

/// This process's shard: `index` of `count` (`index` from 0).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl Shard {
    /// Shard `index` of `count`.
    ///
    /// # Errors
    /// `count` is 0 or above [`MAX_SHARDS`], or `index ≥ count`.
    pub fn new(index: u32, count: u32) -> Result<Shard, String> {
        if count == 0 || count > MAX_SHARDS {
            return Err(format!("shard count {count}: expected 1 to {MAX_SHARDS}"));
        }
        if index >= count {
            return Err(format!(
                "shard {index} of {count}: the index runs from 0 to {}",
                count - 1
            ));
        }
        Ok(Shard { index, count })
    }

    /// The shard of a StatefulSet pod: the ordinal at the end of `hostname` (`ovstream-3` → 3)
    /// of `count`.
    ///
    /// # Errors
    /// A hostname without a `-N` ordinal at its end, or an ordinal outside `0..count`.
    pub fn from_hostname(hostname: &str, count: u32) -> Result<Shard, String> {
        let ordinal = hostname
            .rsplit_once('-')
            .map(|(_, n)| n)
            .filter(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|n| n.parse::<u32>().ok())
            .ok_or_else(|| {
                format!("hostname `{hostname}` does not end in a StatefulSet ordinal (`name-3`)")
            })?;
        Shard::new(ordinal, count)
    }

    /// Whether this shard runs the camera `name`.
    pub fn owns(&self, name: &str) -> bool {
        owner(name, self.count) == self.index
    }
}

impl std::str::FromStr for Shard {
    type Err = String;

    /// `K/N`, e.g. `0/3`.
    fn from_str(s: &str) -> Result<Shard, String> {
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| format!("shard `{s}`: expected K/N, e.g. 0/3"))?;
        let parse = |v: &str| {
            v.trim()
                .parse::<u32>()
                .map_err(|_| format!("shard `{s}`: expected K/N with whole numbers, e.g. 0/3"))
        };
        Shard::new(parse(k)?, parse(n)?)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

/// The score of camera `name` for shard `shard` (see the module docs).
fn score(name: &str, shard: u32) -> u64 {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update([0u8]);
    h.update(shard.to_le_bytes());
    let digest = h.finalize();
    u64::from_be_bytes(digest[..8].try_into().expect("8 bytes"))
}

/// The shard (of `count`) that runs camera `name`: the highest score, the lower shard on a tie.
pub fn owner(name: &str, count: u32) -> u32 {
    (0..count.max(1))
        .max_by_key(|&k| (score(name, k), std::cmp::Reverse(k)))
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cameras() -> Vec<String> {
        (0..100).map(|i| format!("camera-{i:03}")).collect()
    }

    #[test]
    fn every_camera_lands_in_exactly_one_shard() {
        for n in 1..=8 {
            for name in cameras() {
                let owners: Vec<u32> = (0..n)
                    .filter(|&k| Shard::new(k, n).unwrap().owns(&name))
                    .collect();
                assert_eq!(owners.len(), 1, "{name} over {n}: {owners:?}");
            }
            // No shard is starved: each gets a fair part (100 / n ± a wide margin).
            for k in 0..n {
                let mine = cameras().iter().filter(|c| owner(c, n) == k).count();
                assert!(mine * n as usize >= 40, "shard {k}/{n} has {mine}");
            }
        }
    }

    #[test]
    fn a_fifth_replica_moves_few_cameras_and_only_to_itself() {
        let moved: Vec<String> = cameras()
            .into_iter()
            .filter(|c| owner(c, 4) != owner(c, 5))
            .collect();
        assert!(moved.len() <= 30, "{} of 100 moved", moved.len());
        assert!(!moved.is_empty());
        assert!(moved.iter().all(|c| owner(c, 5) == 4), "{moved:?}");
    }

    #[test]
    fn shards_parse_and_refuse() {
        assert_eq!(
            "2/3".parse::<Shard>().unwrap(),
            Shard { index: 2, count: 3 }
        );
        assert!("3/3".parse::<Shard>().unwrap_err().contains("0 to 2"));
        assert!("0/0".parse::<Shard>().is_err());
        assert!("1".parse::<Shard>().is_err());
        assert!("a/3".parse::<Shard>().is_err());
        assert_eq!(Shard::from_hostname("ovstream-2", 3).unwrap().index, 2);
        assert!(Shard::from_hostname("ovstream-3", 3).is_err());
        assert!(Shard::from_hostname("ovstream", 3).is_err());
        assert!(Shard::from_hostname("ovstream-", 3).is_err());
        // Stable across builds and platforms: a fixed name's owner never changes.
        assert_eq!(owner("door", 1), 0);
        let fixed: Vec<u32> = ["door", "gate", "lobby"]
            .iter()
            .map(|c| owner(c, 3))
            .collect();
        assert_eq!(fixed, FIXED_OWNERS.to_vec());
    }

    /// `owner` of door, gate, lobby over 3 shards, computed independently with Python's
    /// hashlib from the module docs' definition (a change here would move deployed cameras).
    const FIXED_OWNERS: [u32; 3] = [2, 2, 0];
}
