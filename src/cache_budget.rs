//! How many bytes the run's caches may hold together, so memory stays flat however long the
//! work list is. `PROVERO_CACHE_BYTES` sets it (a hidden knob for tests and for machines with
//! little memory: a tiny value makes every cache evict at once, which must never change a
//! result, only cost time); the default keeps a bulk run well under 200 MB.
//!
//! Split: a quarter for registry metadata ([`crate::http::Http::get_meta`]), a quarter for the
//! archive content of the packages in flight ([`held_mib`]: every version of `h2` 0.1 unpacks
//! to 58 MB, and eight of them at once were most of a 680 MB peak), the rest for the
//! repositories' object caches ([`crate::shared_repo`]). Beside them, a sixteenth of the
//! budget is how much of the work list is held before it moves to disk ([`work_entries`]).

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

/// MiB of downloaded and unpacked artifacts the packages in flight may hold together (at least
/// 1: one package always runs, however large).
pub fn held_mib() -> u32 {
    ((total() / 4) >> 20).max(1) as u32
}

/// What an entry of the work list costs in memory, about (its 16 bytes, its version's text,
/// its de-duplication slot, and room the tables grow into): measured by heaptrack at 47.
const WORK_ENTRY_BYTES: usize = 48;

/// How many entries the work list holds in memory before it moves to disk (a sixteenth of
/// the budget: about 170,000 by default, 8 MiB); past that, what the run holds of the list
/// and of each package's place in the report stays flat ([`crate::worklist`]).
pub fn work_entries() -> usize {
    total() / 16 / WORK_ENTRY_BYTES
}

/// Repositories' caches (trees, commits, reachability, history indexes) together.
pub fn repos() -> usize {
    total() - 2 * meta()
}

/// About how many MiB a downloaded artifact will hold once read: the download itself plus what
/// it unpacks to (a gzip stream says so in its last four bytes; anything else is taken as
/// four times its size), at least 1 and at most the whole of [`held_mib`]. Asked before the
/// artifact is read, so that the packages waiting for room hold only their downloads.
pub fn held_estimate(artifact: &[u8]) -> u32 {
    let n = artifact.len() as u64;
    let unpacked = match artifact {
        [0x1f, 0x8b, ..] if artifact.len() >= 18 => {
            let t = &artifact[artifact.len() - 4..];
            // ISIZE is the size modulo 2^32: never take it as less than the stream itself.
            u64::from(u32::from_le_bytes([t[0], t[1], t[2], t[3]])).max(n)
        }
        _ => n * 4,
    };
    (n + unpacked)
        .div_ceil(1 << 20)
        .clamp(1, u64::from(held_mib())) as u32
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

    #[test]
    fn an_artifact_is_estimated_by_what_it_unpacks_to() {
        use std::io::Write as _;
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
        gz.write_all(&vec![0u8; 3 << 20]).unwrap();
        let gz = gz.finish().unwrap();
        assert!(gz.len() < 1 << 20, "zeros compress");
        assert_eq!(
            super::held_estimate(&gz),
            4,
            "3 MiB unpacked and the stream"
        );
        assert_eq!(super::held_estimate(b"PK\x03\x04"), 1, "never nothing");
        let huge = vec![0u8; 40 << 20];
        assert_eq!(
            super::held_estimate(&huge),
            super::held_mib(),
            "never over the budget"
        );
    }
}
