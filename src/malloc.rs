//! glibc's allocator, told to give memory back. Its defaults suit short programs, not a bulk
//! run: every thread that allocates while the others hold their arenas gets an arena of its own
//! (up to eight per core), and an arena keeps what its thread freed. A bulk run's blocking
//! threads (archive reading, git, comparison) each filled one and kept it: libc's versions
//! alone peaked at 381 MB RSS over 184 MB of heap (`BENCHMARKS.md`, "real crates").
//!
//! The only `unsafe` of the crate: calls into glibc that take and return plain integers.
//! Elsewhere (musl, macOS) these do nothing.

/// Arenas the allocator may have: one for the async threads, one for the blocking ones, and
/// threads beyond that share them (they contend little: the blocking work is git and zlib).
const ARENAS: i32 = 2;

/// Blocks from this size up are mapped on their own and unmapped when freed. It is glibc's
/// default; setting it stops glibc from raising it after each large block freed (up to 32 MiB),
/// which put an archive's 100 KB files in the arenas, where they stayed: `h2` 0.1's versions
/// (500 such files, 58 MB a version) peaked at 180 MB RSS with the threshold raised, 137 MB
/// with it held.
const MMAP_THRESHOLD: i32 = 128 << 10;

/// Cap the allocator's arenas and hold its mmap threshold; called first thing in `main`, before
/// any thread is started, so that no thread has an arena of its own beyond [`ARENAS`].
pub fn configure() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `mallopt` takes two integers and changes a setting of the allocator; it is safe
    // to call at any time, and this is called before any other thread exists.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        libc::mallopt(libc::M_MMAP_THRESHOLD, MMAP_THRESHOLD);
    }
}

/// Give the pages that freed memory left empty back to the system, in every arena. Called after
/// a repository's caches are released (a blob index of libc's history is tens of MB): without
/// it the freed pages stay in the process until the same arena reuses them.
pub fn trim() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    #[allow(unsafe_code)]
    // SAFETY: `malloc_trim` takes a byte count to keep and only returns free pages to the
    // system; it locks each arena itself, so it may run while other threads allocate.
    unsafe {
        libc::malloc_trim(0);
    }
}
