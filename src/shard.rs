//! Horizontal sharding: which replica checks which UserID, as kube-state-metrics assigns
//! objects to its shards.
//!
//! A UserID belongs to shard `jump_hash(fnv1a_64(its bytes), total)`: the Lamping–Veach
//! jump consistent hash over 64-bit FNV-1a, the assignment kube-state-metrics makes
//! (`pkg/sharding/listwatch.go`, with `hash/fnv` and `github.com/dgryski/go-jump`). A
//! change of the number of shards from M to M+1 moves only about 1/(M+1) of the UserIDs.
//! This module knows nothing of the configuration; it only answers "is this UserID mine"
//! and "what is my share of a rate".

use std::fmt;
use std::num::NonZeroU32;

/// This process's place among the shards: `ordinal` in `0..total`. `total` 1 is no sharding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    ordinal: u32,
    total: NonZeroU32,
}

impl Default for Shard {
    fn default() -> Self {
        Shard::NONE
    }
}

/// Why the shard flags cannot be used; each is a usage error (exit code 2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShardError {
    #[error("--total-shards must be at least 1 (1, the default, means no sharding)")]
    NoShards,
    #[error("--shard {ordinal} is not below --total-shards {total}: shards are numbered 0 to {}", total - 1)]
    OutOfRange { ordinal: u32, total: u32 },
    #[error("--shard.pod-name {name:?} does not end in -<ordinal> (a StatefulSet's pods are named <statefulset>-0, <statefulset>-1, ...)")]
    NoOrdinal { name: String },
    #[error("--shard.pod-name {name:?} names shard {ordinal}, which is not below --total-shards {total}: shards are numbered 0 to {}", total - 1)]
    PodOutOfRange {
        name: String,
        ordinal: u32,
        total: u32,
    },
}

impl Shard {
    /// No sharding: one process checks every UserID.
    pub const NONE: Shard = Shard {
        ordinal: 0,
        total: NonZeroU32::MIN,
    };

    /// Shard `ordinal` of `total`.
    pub fn new(ordinal: u32, total: u32) -> Result<Shard, ShardError> {
        let total = NonZeroU32::new(total).ok_or(ShardError::NoShards)?;
        if ordinal >= total.get() {
            return Err(ShardError::OutOfRange {
                ordinal,
                total: total.get(),
            });
        }
        Ok(Shard { ordinal, total })
    }

    /// The shard the flags name: `--shard.pod-name`, when given, wins over `--shard`.
    pub fn from_flags(
        ordinal: u32,
        total: u32,
        pod_name: Option<&str>,
    ) -> Result<Shard, ShardError> {
        if total == 0 {
            return Err(ShardError::NoShards);
        }
        let Some(name) = pod_name else {
            return Shard::new(ordinal, total);
        };
        let ordinal = pod_ordinal(name).ok_or_else(|| ShardError::NoOrdinal {
            name: name.to_owned(),
        })?;
        Shard::new(ordinal, total).map_err(|_| ShardError::PodOutOfRange {
            name: name.to_owned(),
            ordinal,
            total,
        })
    }

    pub fn ordinal(self) -> u32 {
        self.ordinal
    }

    pub fn total(self) -> u32 {
        self.total.get()
    }

    /// Whether there is more than one shard.
    pub fn is_sharded(self) -> bool {
        self.total.get() > 1
    }

    /// Whether this shard checks `user_id`.
    pub fn owns(self, user_id: &str) -> bool {
        !self.is_sharded() || jump_hash(fnv1a_64(user_id.as_bytes()), self.total) == self.ordinal
    }

    /// This shard's part of a per-app rate limit: the rate divided by the number of
    /// shards, rounded down, at least 1. All shards together then start no more calls in
    /// a second than the whole rate (as long as the rate is at least the number of shards).
    pub fn share(self, rate: NonZeroU32) -> NonZeroU32 {
        NonZeroU32::new(rate.get() / self.total.get()).unwrap_or(NonZeroU32::MIN)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "shard {} of {}", self.ordinal, self.total)
    }
}

/// The ordinal at the end of a StatefulSet pod's name (`tim-account-exporter-2` → 2).
fn pod_ordinal(name: &str) -> Option<u32> {
    let (_, digits) = name.rsplit_once('-')?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok()
}

/// 64-bit FNV-1a (Fowler–Noll–Vo), as Go's `hash/fnv.New64a`.
pub fn fnv1a_64(bytes: &[u8]) -> u64 {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    bytes.iter().fold(OFFSET_BASIS, |hash, byte| {
        (hash ^ u64::from(*byte)).wrapping_mul(PRIME)
    })
}

/// The jump consistent hash of Lamping and Veach ("A Fast, Minimal Memory, Consistent
/// Hash Algorithm", 2014): the bucket of `key` among `buckets`. The arithmetic, doubles
/// included, is the paper's, so the answer matches its C++ code and Go's `go-jump`.
pub fn jump_hash(mut key: u64, buckets: NonZeroU32) -> u32 {
    let buckets = i64::from(buckets.get());
    let (mut bucket, mut next) = (-1_i64, 0_i64);
    while next < buckets {
        bucket = next;
        key = key.wrapping_mul(2_862_933_555_777_941_757).wrapping_add(1);
        // The conversions are the paper's: the quotient is below 2^31 * (bucket + 1), far
        // inside i64, and the cast truncates toward zero as C++ does.
        #[allow(clippy::cast_precision_loss, clippy::cast_possible_truncation)]
        {
            next = ((bucket + 1) as f64 * ((1_i64 << 31) as f64 / ((key >> 33) + 1) as f64)) as i64;
        }
    }
    u32::try_from(bucket).expect("a bucket is below the number of buckets")
}

#[cfg(test)]
mod tests;
