//! The pure engine: no Kubernetes client, no clock, no I/O. Everything here is a function
//! of its inputs, so the controller, the simulator and the tests drive the same code.
//!
//! - [`plan`]: the restore order. Validates the dependency graph and computes restore
//!   waves and the critical path.
//! - [`run`]: one recovery run's next move. Given the plan, the status so far, what was
//!   observed and the time, returns the new status and the next actions.
//! - [`approvals`]: which release stages may proceed, from the Approvals people recorded.
//! - [`drill`]: one drill run's next move (claim, record, inject, prove, recover, revert),
//!   its measurements against the objectives, and its schedule.
//! - [`record`]: the hash-chained record of a recovery: what each reconcile adds, and
//!   how a chain is checked.
//! - [`notice`]: a system's release notice: to whom, what was tested, the data lost,
//!   what staff must do.
//! - [`names`]: deterministic names for everything the operator creates.
//! - [`job_policy`]: what a ClinicalSystem's Job template may run (the admission policy's
//!   rules, checked again as the operator creates the Job).
//! - [`conditions`]: status conditions, kept stable across writes.
//! - [`time`]: seconds between timestamps and objectives met, one rule each.

pub mod approvals;
pub mod conditions;
pub mod drill;
pub mod job_policy;
pub mod names;
pub mod notice;
pub mod plan;
pub mod progress;
pub mod record;
pub mod run;
pub mod time;

pub use plan::{
    CriticalPath, PlanErrors, PlanModel, PlanProblem, PlanSettings, StageModel, SystemModel,
    SystemSource, plan, stage_index,
};
pub use run::{
    Action, Decision, Inputs, Observation, RestoreError, StageGate, decide, decide_owned,
    due_reruns, observe, regate, restore_again, restore_elapsed, retry, unrelease,
};
