//! The plan's status: the live record of a recovery run.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ApprovalRecord, AwaitingStage, AwaitingStep, PlanPhase, SystemStatus, is_zero};

/// The live record of a recovery run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryPlanStatus {
    /// The plan's phase.
    #[serde(default)]
    pub phase: PlanPhase,
    /// The generation of the spec this status reflects.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// Verified systems out of the total, e.g. "12/23".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress: Option<String>,
    /// The latest stage every verified system has been released at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub current_stage: Option<String>,
    /// When the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// What recovery times are measured from: `spec.incidentStartedAt` when the plan
    /// names it (else `startedAt`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub measured_from: Option<Time>,
    /// Since when the plan is paused, while it is: the time does not count against any
    /// restore timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paused_since: Option<Time>,
    /// When the run reached a final phase.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// One entry per selected system, in restore order. Not stored in the plan: each
    /// system's progress is kept in the plan's RecoveryProgress shards (`progressObjects`
    /// names them), and filled in here when the plan is read with them
    /// ([`crate::controller::cluster::progress`]).
    #[serde(skip)]
    #[schemars(skip)]
    pub systems: Vec<SystemStatus>,
    /// Where each system's progress is stored: the plan's RecoveryProgress objects, with
    /// the version of each that this status goes with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub progress_objects: Option<ProgressObjects>,
    /// Every release-stage Approval the operator considered, in the order they count, with
    /// whether it was accepted and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<ApprovalRecord>,
    /// Manual restore steps waiting for people to confirm them, in restore order (the
    /// first 100: `awaitingStepsNotListed` counts the rest, so that an estate of thousands
    /// cannot grow the status past what the API server stores).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub awaiting_steps: Vec<AwaitingStep>,
    /// Manual steps waiting for people beyond those listed in `awaitingSteps`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub awaiting_steps_not_listed: u32,
    /// Ignored Approvals left out of `approvals`: every one that counts is listed, and the
    /// latest ignored ones up to a limit, so that no number of them can grow the status
    /// past what the API server stores.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub approvals_not_listed: u32,
    /// Each stage that verified systems wait at: for how many more approvals and from
    /// whom, or the rejection that halts it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub awaiting: Vec<AwaitingStage>,
    /// People's interventions as the operator acted on them, oldest first: pause, resume,
    /// abort, retry, restore, and confirmations of manual steps, each with who asked (the
    /// latest 50; `interventionsNotListed` counts those left out).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub interventions: Vec<InterventionRecord>,
    /// Interventions recorded but no longer listed in `interventions`.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub interventions_not_listed: u32,
    /// Where the run's hash-chained record stands (the RecoveryRecords of this plan).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<RecordHead>,
    /// Conditions: `Ready` (the plan is valid and running) and `Progressing`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<Condition>,
}

/// Where a plan's per-system progress is stored.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressObjects {
    /// How many shards the progress is split into.
    pub shards: u32,
    /// How many systems they hold in all.
    pub systems: u32,
    /// Each shard, with the resourceVersion written with this status.
    #[serde(default)]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub objects: Vec<ProgressRef>,
}

/// One RecoveryProgress object of a plan.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProgressRef {
    /// Its name.
    pub name: String,
    /// Its shard number.
    pub shard: u32,
    /// Its resourceVersion as written.
    pub resource_version: String,
    /// How many systems it holds.
    pub systems: u32,
}

/// The head of a plan's record: how many entries, in how many chunks, and the hash of
/// the last one. Kept in the plan's status as a check on the record.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordHead {
    /// Entries in the record.
    pub entries: u64,
    /// The chunk being written, from 0.
    pub chunk: u32,
    /// SHA-256 (hex) of the last entry.
    pub head: String,
}

/// What a person did to a plan, as the operator acted on it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum InterventionKind {
    /// Paused the plan.
    Pause,
    /// Resumed it.
    Resume,
    /// Aborted it.
    Abort,
    /// Retried a failed system.
    Retry,
    /// Restored a verified system again.
    Restore,
    /// Confirmed a manual step.
    Confirm,
    /// Rejected a manual step.
    Reject,
    /// Completed a hand-back item.
    HandBack,
}

impl fmt::Display for InterventionKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InterventionKind::Pause => "pause",
            InterventionKind::Resume => "resume",
            InterventionKind::Abort => "abort",
            InterventionKind::Retry => "retry",
            InterventionKind::Restore => "restore",
            InterventionKind::Confirm => "confirm",
            InterventionKind::Reject => "reject",
            InterventionKind::HandBack => "handBack",
        })
    }
}

/// One intervention in a plan's record.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct InterventionRecord {
    /// What was done.
    pub action: InterventionKind,
    /// The system it was about ("namespace/name").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The manual step confirmed or rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    /// Who asked: from the Intervention (or Approval) that asked, vouched for by the API
    /// server; "unknown" when the plan was changed directly, without one.
    pub by: String,
    /// Their groups, as the API server authenticated them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// Whether the API server vouched for `by` (the request was an Intervention or an
    /// Approval, whose requester admission checks).
    pub vouched: bool,
    /// The Intervention or Approval object that asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// Why, as the person wrote it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// When they asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_at: Option<Time>,
    /// When the operator acted on it.
    pub at: Time,
    /// Set when the operator refused it, with why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused: Option<String>,
}

impl RecoveryPlanStatus {
    /// The system `name`, which is at position `i` of another status of the same plan:
    /// found there at once, or looked for when the plan's systems changed. Comparing two
    /// statuses system by system with a search for each was most of a reconcile's time at
    /// an estate's scale.
    pub fn system(&self, i: usize, name: &str) -> Option<&SystemStatus> {
        match self.systems.get(i) {
            Some(s) if s.name == name => Some(s),
            _ => self.systems.iter().find(|p| p.name == name),
        }
    }

    /// True once the plan has finished (Succeeded, Failed or Aborted).
    pub fn phase_is_final(&self) -> bool {
        matches!(
            self.phase,
            PlanPhase::Succeeded | PlanPhase::Failed | PlanPhase::Aborted
        )
    }
}
