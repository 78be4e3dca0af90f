//! Helpers for tests/report_formats.rs.

pub mod xml;
