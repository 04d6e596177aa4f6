//! lifeline restores hospital clinical systems after an outage in dependency order,
//! verifies each one, releases them to staff stage by stage, and rehearses the whole
//! recovery in drills on staging clusters.
#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod controller;
pub mod engine;
pub mod error;
pub mod report;
pub mod sim;
pub mod telemetry;
