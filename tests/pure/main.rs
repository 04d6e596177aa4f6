//! The tests that need no cluster, in one test binary (`cargo test --test pure`), one
//! module per area: the engine's scenarios and properties, approvals, the status table,
//! the `lifeline` binary as a user runs it, and the drill report drawn by headless
//! Chromium.

mod approvals;
mod architecture;
mod awaiting;
mod cli;
mod engine;
mod engine_properties;
mod evidence;
mod fixture;
mod handover;
mod job_policy;
mod release;
mod release_properties;
mod report_browser;
mod status_table;

// Reading the status table, shared with the `cluster` binary.
#[path = "../shared/table.rs"]
mod table;
