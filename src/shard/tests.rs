//! Fixed vectors of the hash and the assignment, and the shard flags.
//!
//! Where the vectors come from:
//! - `jump_hash`: the tests of `github.com/dgryski/go-jump` (the hash kube-state-metrics
//!   shards with), which were generated from the paper's reference C++ code, and Guava's
//!   golden values that the same file carries.
//! - `fnv1a_64`: the published FNV-1a test vectors (the empty string, "a", "foobar").
//! - the assignment of UserIDs: computed apart from this crate, with the paper's algorithm
//!   and FNV-1a written out in Python (integers masked to 64 bits, the quotient in
//!   doubles), after checking that script against the two sources above:
//!
//! ```text
//! M = 2**64 - 1
//! def jump(key, n):
//!     b, j = -1, 0
//!     while j < n:
//!         b, key = j, (key * 2862933555777941757 + 1) & M
//!         j = int(float(b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
//!     return b
//! def fnv1a64(data):
//!     h = 0xcbf29ce484222325
//!     for byte in data:
//!         h = ((h ^ byte) * 0x100000001b3) & M
//!     return h
//! ```

use std::collections::HashMap;
use std::num::NonZeroU32;

use super::*;

fn n(value: u32) -> NonZeroU32 {
    NonZeroU32::new(value).unwrap()
}

#[test]
fn jump_hash_matches_the_reference_code() {
    let expected = [
        (0_u64, [0_u32; 19]),
        (
            1,
            [0, 0, 0, 0, 0, 0, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 6, 17, 17],
        ),
        (
            0xdead_beef,
            [0, 1, 2, 3, 3, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 5, 16, 16, 16],
        ),
        (
            0x0ddc_0ffe_ebad_f00d,
            [0, 1, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 2, 15, 15, 15, 15],
        ),
    ];
    for (key, buckets) in expected {
        for (index, bucket) in buckets.into_iter().enumerate() {
            let total = u32::try_from(index).unwrap() + 1;
            assert_eq!(
                jump_hash(key, n(total)),
                bucket,
                "key {key:#x}, {total} buckets"
            );
        }
    }
}

#[test]
fn jump_hash_matches_guavas_golden_values() {
    let golden_100 = [
        0, 55, 62, 8, 45, 59, 86, 97, 82, 59, 73, 37, 17, 56, 86, 21, 90, 37, 38, 83,
    ];
    for (key, bucket) in golden_100.into_iter().enumerate() {
        assert_eq!(jump_hash(key as u64, n(100)), bucket, "key {key}");
    }
    for (key, buckets, bucket) in [
        (10_863_919_174_838_991_u64, 11, 6),
        (2_016_238_256_797_177_309, 11, 3),
        (1_673_758_223_894_951_030, 11, 5),
        (2, 100_001, 80_343),
        (2201, 100_001, 22_152),
        (2202, 100_001, 15_018),
    ] {
        assert_eq!(jump_hash(key, n(buckets)), bucket, "key {key}");
    }
}

#[test]
fn fnv1a_64_matches_the_published_vectors() {
    assert_eq!(fnv1a_64(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fnv1a_64(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fnv1a_64(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn user_ids_go_to_the_shards_the_reference_computes() {
    // (UserID, its FNV-1a, its shard among 1, 2, 3, 5 and 10 shards)
    let vectors: [(&str, u64, [u32; 5]); 10] = [
        ("ops_bot", 0x3460_a905_6cf6_b531, [0, 0, 0, 4, 8]),
        ("alert_bot", 0x3b89_61f9_f61f_ff1b, [0, 1, 2, 2, 8]),
        ("deploy_bot", 0x0a57_b802_b771_5630, [0, 1, 1, 1, 5]),
        ("support_01", 0x50e5_c017_a4ad_470a, [0, 1, 1, 1, 1]),
        ("support_04", 0x50e5_bd17_a4ad_41f1, [0, 0, 0, 4, 5]),
        ("u00000", 0x0dbe_9b21_1aba_8c00, [0, 1, 1, 1, 9]),
        ("u00001", 0x0dbe_9c21_1aba_8db3, [0, 1, 1, 1, 8]),
        ("user-42", 0x32c6_d7a5_4d35_dacb, [0, 0, 0, 0, 9]),
        ("客服_01", 0x6faa_3eb2_ad2e_1379, [0, 0, 0, 3, 9]),
        ("administrator", 0xe7b6_7755_395b_0a6a, [0, 0, 0, 0, 0]),
    ];
    for (user_id, hash, shards) in vectors {
        assert_eq!(fnv1a_64(user_id.as_bytes()), hash, "{user_id}");
        for (total, ordinal) in [1, 2, 3, 5, 10].into_iter().zip(shards) {
            assert_eq!(jump_hash(hash, n(total)), ordinal, "{user_id} of {total}");
            for candidate in 0..total {
                let shard = Shard::new(candidate, total).unwrap();
                assert_eq!(shard.owns(user_id), candidate == ordinal);
            }
        }
    }
}

#[test]
fn every_user_id_has_exactly_one_shard_and_growing_moves_few() {
    let ids: Vec<String> = (0..10_000).map(|i| format!("user_{i}")).collect();
    let owner = |id: &str, total: u32| {
        let owners: Vec<u32> = (0..total)
            .filter(|&o| Shard::new(o, total).unwrap().owns(id))
            .collect();
        assert_eq!(owners.len(), 1, "{id} among {total}: {owners:?}");
        owners[0]
    };
    let mut per_shard: HashMap<u32, usize> = HashMap::new();
    let mut moved = 0;
    for id in &ids {
        let before = owner(id, 3);
        let after = owner(id, 4);
        *per_shard.entry(before).or_default() += 1;
        if before != after {
            // Jump hash only ever moves a key to the new bucket.
            assert_eq!(after, 3, "{id}");
            moved += 1;
        }
    }
    // About a quarter moves from 3 to 4 shards; each of 3 holds about a third.
    assert!((2_200..2_800).contains(&moved), "{moved} moved");
    for count in per_shard.values() {
        assert!((3_000..3_700).contains(count), "{per_shard:?}");
    }
}

#[test]
fn the_share_of_a_rate_is_divided_down_and_at_least_one() {
    let shard = |total| Shard::new(0, total).unwrap();
    assert_eq!(shard(1).share(n(100)), n(100));
    assert_eq!(shard(3).share(n(100)), n(33));
    assert_eq!(shard(3).share(n(50)), n(16));
    assert_eq!(shard(4).share(n(3)), n(1));
    assert_eq!(shard(100).share(n(100)), n(1));
}

#[test]
fn the_flags_name_a_shard_or_a_clear_usage_error() {
    assert_eq!(Shard::from_flags(0, 1, None), Ok(Shard::NONE));
    let two_of_three = Shard::from_flags(2, 3, None).unwrap();
    assert_eq!((two_of_three.ordinal(), two_of_three.total()), (2, 3));
    assert!(two_of_three.is_sharded() && !Shard::NONE.is_sharded());
    // The pod name wins over --shard.
    let pod = Shard::from_flags(0, 3, Some("tim-account-exporter-1")).unwrap();
    assert_eq!(pod.ordinal(), 1);
    assert_eq!(
        Shard::from_flags(0, 12, Some("exporter-11"))
            .unwrap()
            .ordinal(),
        11
    );
    assert_eq!(Shard::from_flags(0, 0, None), Err(ShardError::NoShards));
    assert_eq!(
        Shard::from_flags(3, 3, None),
        Err(ShardError::OutOfRange {
            ordinal: 3,
            total: 3
        })
    );
    for name in ["exporter", "exporter-", "exporter-x1", "exporter-+1", "-"] {
        assert_eq!(
            Shard::from_flags(0, 3, Some(name)),
            Err(ShardError::NoOrdinal {
                name: name.to_owned()
            }),
            "{name}"
        );
    }
    let err = Shard::from_flags(0, 3, Some("exporter-3")).unwrap_err();
    assert_eq!(
        err.to_string(),
        "--shard.pod-name \"exporter-3\" names shard 3, which is not below --total-shards 3: shards are numbered 0 to 2"
    );
    assert_eq!(
        ShardError::OutOfRange {
            ordinal: 5,
            total: 2
        }
        .to_string(),
        "--shard 5 is not below --total-shards 2: shards are numbered 0 to 1"
    );
}
