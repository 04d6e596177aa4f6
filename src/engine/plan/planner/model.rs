//! What the planner is given (the systems and the plan's settings) and what it returns:
//! the validated plan, its systems in restore order, its waves and critical path.

use std::{collections::HashMap, time::Duration};

use serde::Serialize;

use crate::api::v1alpha1::{ApprovalRule, ClinicalSystemSpec, FailurePolicy, Tier};

/// One ClinicalSystem as the planner sees it: its key and spec, and where it came from
/// (a file and document, or "cluster") for error messages.
#[derive(Clone, Debug)]
pub struct SystemSource<'a> {
    /// Namespace.
    pub namespace: &'a str,
    /// Name.
    pub name: &'a str,
    /// The spec.
    pub spec: &'a ClinicalSystemSpec,
    /// Where the object came from, e.g. "playbooks/x/systems.yaml (document 3)".
    pub origin: &'a str,
}

/// What the plan asks for, independent of where it came from.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PlanSettings {
    /// Cap on systems restoring or verifying at once; `None` for no cap.
    pub parallelism: Option<u32>,
    /// What happens after a failure.
    pub failure_policy: FailurePolicy,
    /// Release stages, in order.
    pub stages: Vec<StageModel>,
    /// `spec.incidentStartedAt`: recovery times count from it.
    pub incident_started_at: Option<k8s_openapi::jiff::Timestamp>,
    /// Systems in the plan that another plan recovers ("namespace/name"): this plan does
    /// not run them, so their own hard dependencies need not be in it.
    pub held_elsewhere: std::collections::BTreeSet<String>,
}

impl PlanSettings {
    /// The position of stage `name` among the plan's stages, if it is one of them.
    pub fn stage_index(&self, name: &str) -> Option<usize> {
        stage_index(self.stages.iter().map(|s| s.name.as_str()), name)
    }

    /// The position of the stage a system released at `released` waits for next: 0 for a
    /// system not released yet, `stages.len()` for one released at every stage.
    pub fn next_stage(&self, released: Option<&str>) -> usize {
        released
            .and_then(|r| self.stage_index(r))
            .map_or(0, |i| i + 1)
    }
}

/// The position of stage `name` among `stages`, in order: the one lookup every part of
/// lifeline uses to place a stage.
pub fn stage_index<'a>(mut stages: impl Iterator<Item = &'a str>, name: &str) -> Option<usize> {
    stages.position(|s| s == name)
}

/// A release stage as the engine needs it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct StageModel {
    /// Stage name.
    pub name: String,
    /// Its approval rule.
    pub approval: ApprovalRule,
    /// Checklist items every approver acknowledges.
    pub checklist: Vec<String>,
    /// How long people usually take to decide a system here (for the simulator).
    pub decision_time: Option<Duration>,
    /// How long a system stays here, its checks passing, before it may go on.
    pub soak: Option<Duration>,
}

/// One system in a validated plan. Dependencies are indices into [`PlanModel::systems`].
#[derive(Clone, Debug, PartialEq)]
pub struct SystemModel {
    /// "namespace/name".
    pub key: String,
    /// The name people know it by.
    pub display_name: String,
    /// Tier.
    pub tier: Tier,
    /// Recovery-time objective.
    pub objective: Duration,
    /// Expected restore plus verification time.
    pub expected: Duration,
    /// Hard dependencies (must be verified before this restore starts).
    pub hard_deps: Vec<usize>,
    /// Optional dependencies in the plan (ordering hints only).
    pub optional_deps: Vec<usize>,
    /// Restore step names, in order.
    pub steps: Vec<String>,
    /// Which restore steps are manual (confirmed by an Approval).
    pub manual_steps: Vec<bool>,
    /// Which restore steps may run again without `--force` (not `repeatable: false`).
    pub repeatable_steps: Vec<bool>,
    /// `release.reapproveAfterRestore`.
    pub reapprove_after_restore: bool,
    /// Check names.
    pub checks: Vec<String>,
    /// Whether the system has a release gate (`spec.release`).
    pub has_release_gate: bool,
    /// The pause between runs of a check: of a failing one while verifying, of every one
    /// while soaking or degraded.
    pub retry_interval: Duration,
    /// The pause between runs of its checks once verified (`verify.monitorInterval`).
    pub monitor_interval: Duration,
    /// `release.withdrawOnFailure`: a regression drops the gate to the verification
    /// audience.
    pub withdraw_on_failure: bool,
    /// The recovery-point objective (`recoveryPointObjective`), if it declares one.
    pub point_objective: Option<Duration>,
    /// Which restore steps report a restore point (`restorePoint`).
    pub restore_point_steps: Vec<bool>,
    /// `release.handBack`: what staff must do once it is back.
    pub hand_back: Vec<String>,
}

/// Default pause between runs of a verified system's checks.
pub const DEFAULT_MONITOR_INTERVAL: Duration = Duration::from_secs(60);

/// A ClinicalSystem's monitor interval: `verify.monitorInterval`, else the default, never
/// under a second.
pub fn monitor_interval_of(spec: &crate::api::v1alpha1::ClinicalSystemSpec) -> Duration {
    spec.verify
        .as_ref()
        .and_then(|v| v.monitor_interval.as_ref())
        .and_then(|d| d.parse().ok())
        .unwrap_or(DEFAULT_MONITOR_INTERVAL)
        .max(MIN_RETRY_INTERVAL)
}

/// Default pause between attempts of a failing check.
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(10);
/// The shortest pause between attempts of a check.
pub const MIN_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// A ClinicalSystem's retry interval: `verify.retryInterval`, else the default, and never
/// under a second (the schema refuses less; an object stored before it did is held to it
/// here, so one check never retries in a tight loop).
pub fn retry_interval_of(spec: &crate::api::v1alpha1::ClinicalSystemSpec) -> Duration {
    spec.verify
        .as_ref()
        .and_then(|v| v.retry_interval.as_ref())
        .and_then(|d| d.parse().ok())
        .unwrap_or(DEFAULT_RETRY_INTERVAL)
        .max(MIN_RETRY_INTERVAL)
}

impl SystemModel {
    /// How long the system takes in a plan and in the simulator: its expected time, also
    /// for a system with neither restore steps nor checks yet (a tabletop is run before
    /// they are written). The operator completes such a system as soon as its
    /// dependencies do, as there is nothing to run.
    pub fn planned_duration(&self) -> Duration {
        self.expected
    }
}

/// A validated plan: systems in restore order (wave by wave; within a wave, tier then
/// name), with the waves and critical path.
#[derive(Clone, Debug, PartialEq)]
pub struct PlanModel {
    /// The systems, in restore order.
    pub systems: Vec<SystemModel>,
    /// Index of each system by key.
    pub index: HashMap<String, usize>,
    /// Topological levels over hard dependencies: wave 0 has no hard dependencies in the plan.
    pub waves: Vec<Vec<usize>>,
    /// The longest chain of hard dependencies by planned duration.
    pub critical_path: CriticalPath,
    /// The plan's settings.
    pub settings: PlanSettings,
}

/// The longest chain of hard dependencies, by planned duration.
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct CriticalPath {
    /// Indices into [`PlanModel::systems`], first to last.
    pub systems: Vec<usize>,
    /// The chain's total planned duration.
    pub duration: Duration,
}

impl PlanModel {
    /// The index of a system by "namespace/name".
    pub fn find(&self, key: &str) -> Option<usize> {
        self.index.get(key).copied()
    }

    /// For each system, the systems that hard-depend on it.
    pub fn dependents(&self) -> Vec<Vec<usize>> {
        let mut out = vec![Vec::new(); self.systems.len()];
        for (i, s) in self.systems.iter().enumerate() {
            for &d in &s.hard_deps {
                out[d].push(i);
            }
        }
        out
    }
}
