//! What the engine is told besides the plan and the status: the time, a pause or an
//! abort, the gate of each release stage and the systems other plans hold.

use std::collections::BTreeMap;

use k8s_openapi::jiff::Timestamp;

use crate::engine::plan::PlanModel;

/// Whether a release stage may proceed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StageGate {
    /// Approved (or needs no approval): systems may be released at this stage.
    Open,
    /// Waiting for approval.
    Awaiting,
    /// Rejected, with the reason.
    Rejected(String),
}

/// What the engine is told besides the plan and the status.
#[derive(Clone, Debug)]
pub struct Inputs {
    /// The current time.
    pub now: Timestamp,
    /// `spec.paused`: start nothing new.
    pub paused: bool,
    /// The plan was aborted: cancel what has not finished.
    pub aborted: bool,
    /// One gate per stage of the plan, in order, for every system the stage decides as a
    /// whole. Missing entries count as `Awaiting`.
    pub gates: Vec<StageGate>,
    /// The gate of one system at one stage (stage index, "namespace/name"), from the
    /// Approvals that name it; where present it decides for that system instead of the
    /// stage's gate.
    pub system_gates: BTreeMap<(usize, String), StageGate>,
    /// The systems of the plan that another plan holds ("namespace/name"), see
    /// [`super::super::handover`].
    pub holders: BTreeMap<String, crate::engine::run::handover::Holder>,
}

impl Inputs {
    /// The gate of system `key` at stage `k`.
    pub fn gate(&self, k: usize, key: &str) -> &StageGate {
        gate_of(&self.gates, &self.system_gates, k, key)
    }
}

/// The gate of system `key` at stage `k`: its own where it has one, else the stage's,
/// else awaiting.
pub fn gate_of<'a>(
    gates: &'a [StageGate],
    system_gates: &'a BTreeMap<(usize, String), StageGate>,
    k: usize,
    key: &str,
) -> &'a StageGate {
    const AWAITING: &StageGate = &StageGate::Awaiting;
    system_gates
        .get(&(k, key.to_string()))
        .or_else(|| gates.get(k))
        .unwrap_or(AWAITING)
}

impl Inputs {
    /// Inputs at `now` with every stage open, not paused, not aborted.
    pub fn at(now: Timestamp, model: &PlanModel) -> Self {
        Self {
            now,
            paused: false,
            aborted: false,
            gates: vec![StageGate::Open; model.settings.stages.len()],
            system_gates: BTreeMap::new(),
            holders: BTreeMap::new(),
        }
    }
}
