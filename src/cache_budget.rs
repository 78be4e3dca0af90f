//! How many bytes the run's caches may hold together, so memory stays flat however long the
//! work list is. `PROVERO_CACHE_BYTES` sets it (a hidden knob for tests and for machines with
//! little memory: a tiny value makes every cache evict at once, which must never change a
//! result, only cost time); the default keeps a bulk run well under 200 MB.
//!
//! Split: a quarter for registry metadata ([`crate::http::Http::get_meta`]), the rest for the
//! repositories' object caches ([`crate::shared_repo`]).

use std::sync::OnceLock;

/// The default budget of every cache together.
pub const DEFAULT_BYTES: usize = 128 << 20;

/// The environment variable that overrides [`DEFAULT_BYTES`].
pub const ENV: &str = "PROVERO_CACHE_BYTES";

/// Every cache together, in bytes.
pub fn total() -> usize {
    static TOTAL: OnceLock<usize> = OnceLock::new();
    *TOTAL.get_or_init(|| parse(std::env::var(ENV).ok().as_deref()))
}

fn parse(v: Option<&str>) -> usize {
    match v.map(str::trim) {
        None | Some("") => DEFAULT_BYTES,
        Some(v) => v.parse().unwrap_or_else(|_| {
            tracing::warn!("{ENV}={v} is not a number of bytes; using {DEFAULT_BYTES}");
            DEFAULT_BYTES
        }),
    }
}

/// Registry metadata kept in memory.
pub fn meta() -> usize {
    total() / 4
}

/// Repositories' caches (trees, commits, reachability, history indexes) together.
pub fn repos() -> usize {
    total() - meta()
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_knob_is_bytes_or_the_default() {
        assert_eq!(super::parse(None), super::DEFAULT_BYTES);
        assert_eq!(super::parse(Some("0")), 0);
        assert_eq!(super::parse(Some(" 4096 ")), 4096);
        assert_eq!(super::parse(Some("lots")), super::DEFAULT_BYTES);
    }
}
