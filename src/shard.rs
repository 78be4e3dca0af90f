//! `--shard I/N`: a stable partition of the work list, so N machines (a Kubernetes Indexed Job,
//! a CI matrix) each take one part and together cover every package exactly once. The part is
//! chosen by a SHA-256 of the package key, not Rust's randomised hasher, so every machine,
//! every run and every provero version agree on it.

use sha2::{Digest, Sha256};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// Zero-based, like `JOB_COMPLETION_INDEX` and `strategy.job-index`.
    pub index: u64,
    pub count: u64,
}

impl Shard {
    /// `I/N` with `0 <= I < N`.
    pub fn parse(s: &str) -> Result<Shard, String> {
        let bad = || format!("--shard takes I/N with 0 <= I < N (e.g. 0/4), got `{s}`");
        let (i, n) = s.trim().split_once('/').ok_or_else(bad)?;
        let index: u64 = i.trim().parse().map_err(|_| bad())?;
        let count: u64 = n.trim().parse().map_err(|_| bad())?;
        if count == 0 || index >= count {
            return Err(bad());
        }
        Ok(Shard { index, count })
    }

    /// Does this shard own the package with this key (`ecosystem:name@version`)?
    pub fn owns(&self, key: &str) -> bool {
        shard_of(key, self.count) == self.index
    }
}

/// Which of `count` shards a key belongs to.
pub fn shard_of(key: &str, count: u64) -> u64 {
    let d = Sha256::digest(key.as_bytes());
    let mut first = [0u8; 8];
    first.copy_from_slice(&d[..8]);
    u64::from_be_bytes(first) % count.max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_forms() {
        assert_eq!(Shard::parse("2/5").unwrap(), Shard { index: 2, count: 5 });
        for bad in ["5/5", "1/0", "x/2", "3", "-1/2"] {
            assert!(Shard::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn shards_cover_every_key_once_and_are_stable() {
        let keys: Vec<String> = (0..1000).map(|i| format!("crates:c{i}@1.0.{i}")).collect();
        let n = 7;
        let mut seen = vec![0; keys.len()];
        for i in 0..n {
            let s = Shard { index: i, count: n };
            for (k, key) in keys.iter().enumerate() {
                if s.owns(key) {
                    seen[k] += 1;
                }
            }
        }
        assert!(seen.iter().all(|&c| c == 1));
        // Fixed value: a change here would re-shard every deployment.
        // Pinned (also what `python3 -c` with hashlib gives): a change would re-shard every
        // deployment mid-run.
        assert_eq!(shard_of("crates:serde@1.0.210", 16), 10);
        assert_eq!(shard_of("crates:serde@1.0.210", 3), 2);
        let sizes: Vec<usize> = (0..n)
            .map(|i| keys.iter().filter(|k| shard_of(k, n) == i).count())
            .collect();
        assert!(sizes.iter().all(|&s| s > 100), "balanced: {sizes:?}");
    }
}
