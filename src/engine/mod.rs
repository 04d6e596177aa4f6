//! The pure recovery engine: no Kubernetes client, no clock, no I/O.
//!
//! - [`planner`] validates the dependency graph and computes restore waves and the
//!   critical path.
//! - [`decide`](mod@decide) is the state machine: given the plan, the status so far and
//!   the time, it returns the next actions and the new status.
//!
//! The controller drives it against a cluster, the simulator against an in-memory world
//! in virtual time, and the tests feed it observations directly.

pub mod approvals;
pub mod decide;
pub mod drill;
pub mod planner;
pub mod selection;
pub mod settings;

pub use decide::{
    Action, Decision, Inputs, Observation, StageGate, decide, decide_owned, observe, retry,
};
pub use planner::{
    CriticalPath, PlanErrors, PlanModel, PlanProblem, PlanSettings, StageModel, SystemModel,
    SystemSource, plan,
};
