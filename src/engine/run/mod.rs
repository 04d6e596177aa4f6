//! One recovery run's next move: given the plan, the status so far, what was observed and
//! the time, [`decide`] returns the new status and the actions to take (start step k of
//! system X, run check C, release X to stage S, mark Y blocked).

pub mod data_loss;
pub mod decide;
pub mod hand_back;
pub mod handover;
pub mod system_status;

pub use decide::{
    Action, Decision, Inputs, Observation, Reruns, RestoreError, StageGate, counted_phase, decide,
    decide_owned, due_reruns, observe, regate, restore_again, restore_elapsed, retry, unrelease,
};
