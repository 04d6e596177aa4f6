//! The operator: watches RecoveryPlans (and the ClinicalSystems, Jobs, workloads and
//! Approvals they use) and drives the pure engine against the cluster.
//!
//! - [`plan`]: a RecoveryPlan's reconcile (load, plan, observe, decide, record, act), its
//!   status, Events and release gates.
//! - [`steps`]: restore steps and checks against the cluster, and the workloads they act on.
//! - [`drill`]: a RecoveryDrill's reconcile (observe, decide, record, act), with each
//!   kind of fault carried out in [`drill::faults`].
//! - [`cluster`]: what the reconcilers share in talking to the API server.
//! - [`metrics`]: Prometheus metrics; [`notify`]: the notification webhook.
//! - `context`: what every reconcile shares ([`Context`]); `run`: the operator process
//!   ([`run`]), its watches and controllers; `health`: `/metrics`, `/healthz`, `/readyz` and
//!   the probe that notices the API server not answering.

pub mod cluster;
pub mod drill;
pub mod metrics;
pub mod notify;
pub mod plan;
pub mod steps;

mod context;
mod health;
mod run;

pub use cluster::list_parsed;
pub use context::Context;
pub use run::{RunOptions, run};

/// The field manager for everything the operator writes.
pub const FIELD_MANAGER: &str = "lifeline-operator";
/// The Lease that elects the acting replica.
pub const LEASE_NAME: &str = "lifeline-operator";
/// How many plans are reconciled at once.
pub const CONCURRENCY: u16 = 4;
/// How long a leader's lease lasts without renewal.
pub const LEASE_SECONDS: u64 = 15;
/// How long before expiry the leader renews.
pub const LEASE_GRACE_SECONDS: u64 = 5;
