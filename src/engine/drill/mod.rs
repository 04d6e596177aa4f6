//! Where a drill's next move is decided. A run goes
//! `Idle -> (Waiting) -> Injecting -> Recovering -> Reverting -> Finished`, and
//! [`decide`] takes it one move on from what the drill says ([`Facts`]: its spec, its
//! status, the time) and what the controller saw in the cluster ([`Observed`]), returning
//! the new status and the [`Action`]s to carry out, the way [`crate::engine::decide`]
//! does for plans. No client, no clock, no I/O: the controller observes what [`wants`]
//! names, writes the status this returns, then acts; the tests feed it observations.
//!
//! - **Start**: on a new `lifeline.dev/run-requested` token or when the schedule fires.
//!   A run *claims* its systems (`status.held`) or waits for the drill that holds one,
//!   and *records* in `run.preState` everything it will change, before anything is
//!   injected: both are in the status written before the first action.
//! - **Injecting**: each fault is injected (its moment recorded, then the action taken,
//!   and taken again until it shows), then *proven* from what was observed (pods gone,
//!   policy in place). Once every proof is in status, the recovery plan is created.
//! - **Recovering**: measures each system from its fault to verified and released, lifts
//!   faults whose duration is over, and ends on the plan's end, the timeout or
//!   `spec.abort`.
//! - **Reverting**: deletes the plan, puts back what the recovery did not (from the
//!   record), and finishes only once what was observed matches the record; then
//!   *releases* the claim. Deleting the drill mid-run reverts first (finalizer).
//!
//! [`faults`] decides each kind of fault; [`validate`] whether a drill may run;
//! [`measure`] its figures; [`schedule`] when it fires.

pub mod faults;
pub mod measure;
pub mod schedule;
pub mod validate;

mod decide;
mod revert;
mod start;
#[cfg(test)]
mod tests;

use std::{collections::BTreeMap, time::Duration};

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::LabelSelector, jiff::Timestamp};

pub use decide::{decide, wants};
pub use measure::{
    AUTO_APPROVER, approvals, breached, fault_time, measure, outcome, summary, unproven,
};
pub use schedule::Schedule;

use crate::api::v1alpha1::{
    ClinicalSystem, DrillOutcome, FaultKind, PlanDrill, RecoveryDrillSpec, RecoveryDrillStatus,
    RecoveryPlanSpec, RecoveryPlanStatus, WorkloadKind, WorkloadRef,
};

/// The default `spec.timeout`.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(3600);
/// The default `spec.historyLimit`.
pub const DEFAULT_HISTORY: usize = 5;
/// How often a running drill looks again (besides the watches).
pub const POLL: Duration = Duration::from_secs(1);
/// How often a waiting drill looks again for its systems to be free.
pub const WAIT_POLL: Duration = Duration::from_secs(5);
/// How soon a drill looks again after a move whose status must be written first.
pub const NEXT_MOVE: Duration = Duration::from_millis(100);
/// The label on objects a drill creates, naming it.
pub const DRILL_LABEL: &str = "lifeline.dev/drill";
/// The label on a drill's plan, naming the run.
pub const DRILL_RUN_LABEL: &str = "lifeline.dev/drill-run";

/// What the drill object says: everything [`decide`] needs besides the cluster.
pub struct Facts<'a> {
    /// The drill's name.
    pub name: &'a str,
    /// Its namespace.
    pub namespace: &'a str,
    /// Its spec.
    pub spec: &'a RecoveryDrillSpec,
    /// Its status as last written.
    pub status: &'a RecoveryDrillStatus,
    /// `metadata.generation`.
    pub generation: Option<i64>,
    /// `metadata.creationTimestamp` (a schedule counts from it before its first firing).
    pub created: Option<Timestamp>,
    /// The `lifeline.dev/run-requested` token, if set.
    pub requested: Option<&'a str>,
    /// Whether the drill is being deleted.
    pub deleting: bool,
    /// Whether it carries the revert finalizer.
    pub has_finalizer: bool,
    /// Who the operator is, recorded as the plan's `requestedBy`.
    pub operator: Option<&'a str>,
    /// Now.
    pub now: Timestamp,
}

/// A workload as observed.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WorkloadSeen {
    /// `spec.replicas`.
    pub desired: i32,
    /// `status.replicas`.
    pub replicas: i32,
    /// Its pods not being deleted.
    pub pods: usize,
}

/// A pod as observed (not being deleted).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PodSeen {
    /// Its name.
    pub name: String,
    /// Its uid.
    pub uid: String,
}

/// A NetworkPolicy as observed.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PolicySeen {
    /// Its `lifeline.dev/drill` label: the drill that made it, if one did.
    pub drill: Option<String>,
    /// Its spec, as JSON.
    pub spec: Option<serde_json::Value>,
}

/// The run's RecoveryPlan as observed.
#[derive(Clone, Debug, PartialEq)]
pub enum PlanSeen {
    /// There is none.
    Missing,
    /// There is one.
    Present {
        /// Whether it is being deleted.
        deleting: bool,
        /// `metadata.generation`.
        generation: Option<i64>,
        /// Its `spec.drill` (the checks it fails on purpose).
        drill: Option<PlanDrill>,
        /// Its status.
        status: Box<RecoveryPlanStatus>,
    },
}

/// What the controller saw in the cluster: always the namespace and the systems, and
/// whatever else [`wants`] named.
#[derive(Clone, Debug)]
pub struct Observed {
    /// The drill namespace's labels.
    pub namespace_labels: BTreeMap<String, String>,
    /// The drill's systems, or why they could not be had ([`validate::select`]).
    pub systems: Result<Vec<ClinicalSystem>, String>,
    /// Who holds one of the systems, if another drill's run does ("ClinicalSystem lims is
    /// held by drill staging/weekly").
    pub holder: Option<String>,
    /// Workloads, `None` where one does not exist.
    pub workloads: BTreeMap<(WorkloadKind, String), Option<WorkloadSeen>>,
    /// NetworkPolicies by name, `None` where one does not exist.
    pub policies: BTreeMap<String, Option<PolicySeen>>,
    /// The pods each `deletePods` or `isolate` fault selects, by system and kind.
    pub pods: BTreeMap<(String, FaultKind), Vec<PodSeen>>,
    /// The run's plan, if it was looked at.
    pub plan: Option<PlanSeen>,
    /// What connecting to each isolated system showed, by system
    /// ([`faults::probe_targets`]).
    pub probes: BTreeMap<String, ProbeSeen>,
}

/// What connecting to an isolated system's check targets showed: each `http` and `tcp`
/// check target that is a Service name, tried from the operator.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProbeSeen {
    /// Targets ("host:port: error") that refused the connection or did not answer.
    pub blocked: Vec<String>,
    /// Targets ("host:port") that accepted a connection.
    pub open: Vec<String>,
    /// Targets ("host:port: why") that could not be tried (a name that does not resolve
    /// here, an address checks may not reach).
    pub untried: Vec<String>,
    /// When the last try ended (the move's own time is taken before it observes).
    pub finished_at: Option<k8s_openapi::jiff::Timestamp>,
}

impl Default for Observed {
    fn default() -> Self {
        Self {
            namespace_labels: BTreeMap::new(),
            systems: Ok(Vec::new()),
            holder: None,
            workloads: BTreeMap::new(),
            policies: BTreeMap::new(),
            pods: BTreeMap::new(),
            plan: None,
            probes: BTreeMap::new(),
        }
    }
}

impl Observed {
    /// The workload, if it was observed and exists.
    pub fn workload(&self, kind: WorkloadKind, name: &str) -> Option<&WorkloadSeen> {
        self.workloads
            .get(&(kind, name.to_string()))
            .and_then(Option::as_ref)
    }

    /// The policy, if it was observed and exists.
    pub fn policy(&self, name: &str) -> Option<&PolicySeen> {
        self.policies.get(name).and_then(Option::as_ref)
    }

    /// Whether the policy was observed to exist.
    pub fn policy_exists(&self, name: &str) -> bool {
        self.policy(name).is_some()
    }
}

/// What [`decide`] needs observed, beyond the namespace and the systems.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Wants {
    /// Whether another drill's claim on the systems matters now (a run is due to start).
    pub holder: bool,
    /// Workloads to read (with their pods).
    pub workloads: Vec<WorkloadRef>,
    /// NetworkPolicies to read.
    pub policies: Vec<String>,
    /// The pods of each system's `deletePods` or `isolate` fault, by selector.
    pub pods: Vec<(String, FaultKind, LabelSelector)>,
    /// The plan to read.
    pub plan: Option<String>,
    /// Isolated systems to try to connect to, with the targets to try ("host", port).
    pub probes: Vec<(String, Vec<(String, u16)>)>,
}

/// Something the controller does in the cluster, after the status that records it is
/// written. Each is idempotent: done twice, it is done once.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Add the revert finalizer to the drill.
    AddFinalizer,
    /// Remove it: the drill may go.
    RemoveFinalizer,
    /// Set a workload's replicas (a `scaleToZero` fault, or putting one back).
    SetReplicas {
        /// The workload.
        workload: WorkloadRef,
        /// How many.
        replicas: i32,
    },
    /// Delete these pods (each by uid, so a replacement of the same name is spared).
    DeletePods {
        /// The pods.
        pods: Vec<PodSeen>,
    },
    /// Apply the deny-all NetworkPolicy `policy` isolating `system`'s pods.
    Isolate {
        /// The policy's name.
        policy: String,
        /// The system.
        system: String,
        /// Its pods.
        selector: LabelSelector,
        /// The system's release gate, when one was there before the drill: shut as well
        /// (it admits nobody), since a policy only adds what it allows and a gate that
        /// admits its audience would open the isolation until the recovery plan shuts it
        /// in turn. The revert puts it back as it was.
        gate: Option<String>,
    },
    /// Delete a NetworkPolicy (an isolation lifted, or one that was not there before).
    DeletePolicy {
        /// Its name.
        name: String,
    },
    /// Put a NetworkPolicy's spec back as it was before the drill.
    RestorePolicy {
        /// Its name.
        name: String,
        /// The spec, as JSON.
        spec: serde_json::Value,
    },
    /// Create the run's RecoveryPlan, owned by the drill.
    CreatePlan {
        /// Its name.
        name: String,
        /// The run's number.
        run: u32,
        /// Its spec.
        spec: Box<RecoveryPlanSpec>,
    },
    /// Delete the run's RecoveryPlan (so it cannot undo the revert).
    DeletePlan {
        /// Its name.
        name: String,
    },
}

/// A moment people are told about (an Event, and the notification webhook).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NoticeKind {
    /// A run waits for another drill.
    Waiting,
    /// A run was refused.
    Refused,
    /// A run started.
    Started,
    /// Every fault was proven and the recovery started.
    RecoveryStarted,
    /// The run was stopped (abort or timeout).
    Stopped,
    /// The run finished, so.
    Finished(DrillOutcome),
}

impl NoticeKind {
    /// The Event reason.
    pub fn reason(&self) -> &'static str {
        match self {
            NoticeKind::Waiting => "DrillWaiting",
            NoticeKind::Refused => "DrillRefused",
            NoticeKind::Started => "DrillStarted",
            NoticeKind::RecoveryStarted => "RecoveryStarted",
            NoticeKind::Stopped => "DrillStopped",
            NoticeKind::Finished(_) => "DrillFinished",
        }
    }

    /// Whether it is a warning.
    pub fn is_warning(&self) -> bool {
        match self {
            NoticeKind::Refused | NoticeKind::Stopped => true,
            NoticeKind::Finished(o) => *o != DrillOutcome::Passed,
            _ => false,
        }
    }
}

/// A moment and what to say of it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Notice {
    /// Which moment.
    pub kind: NoticeKind,
    /// For people.
    pub note: String,
}

/// One move of a drill.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    /// The status to write before anything is done.
    pub status: RecoveryDrillStatus,
    /// What to do then, in order.
    pub actions: Vec<Action>,
    /// What to tell people once the status is written.
    pub notices: Vec<Notice>,
    /// When to look again besides the watches; `None`: on change only.
    pub requeue: Option<Duration>,
}
