//! provero: is what the registry serves the same code as the tagged source it claims to come
//! from? See ARCHITECTURE.md for the pipeline and where each stage lives.

pub mod allow;
pub mod archive;
pub mod artifact_cache;
pub mod attest;
pub mod best_commit;
pub mod cache_budget;
pub mod cli;
pub mod compare;
pub mod config;
pub mod ecosystem;
pub mod engine;
pub mod expand;
pub mod finding;
pub mod gate;
pub mod git;
pub mod history;
pub mod http;
pub mod in_flight;
pub mod input;
pub mod listing;
pub mod locate;
pub mod log;
pub mod objects;
pub mod preflight;
pub mod profile;
pub mod rebuild;
pub mod regression;
pub mod repo_url;
pub mod report;
pub mod shard;
pub mod shared_repo;
pub mod source;
pub mod spec;
pub mod spill;
pub mod stdout;
pub mod store;
pub mod submodules;
pub mod tags;
pub mod verify;
pub mod version_range;
pub mod worklist;

pub mod crates;
pub mod gems;
pub mod pypi;
