//! A RecoveryPlan's reconcile: [`reconcile`](mod@reconcile) loads, plans, observes,
//! decides (the pure engine), records and acts; [`status`] writes the status;
//! [`events`] tells people; [`release`] applies the release gates; [`handover`] tells
//! which systems other plans hold; [`interventions`] records who intervened; [`record`]
//! appends to the hash-chained record; [`system_status`] writes each ClinicalSystem's own
//! status from the plan's.

pub mod events;
pub mod hand_back;
pub mod handover;
pub mod interventions;
pub mod progress;
pub mod reconcile;
pub mod record;
pub mod release;
pub mod status;
pub mod system_status;

pub use reconcile::{error_policy, reconcile};
