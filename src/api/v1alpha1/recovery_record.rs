//! RecoveryRecord: one chunk of the append-only, hash-chained record of a recovery (a
//! RecoveryPlan's run, a drill's plan included) or of one drill run. Written by the operator only (an
//! admission policy refuses everyone else), not owned by the plan, so it outlives it;
//! each entry carries the SHA-256 of the one before, so an entry changed, removed,
//! reordered or added is found by `lifeline evidence verify`.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The label naming the plan a record belongs to.
pub const RECORD_PLAN_LABEL: &str = "lifeline.dev/plan";
/// The label carrying the plan's uid (or the drill's).
pub const RECORD_PLAN_UID_LABEL: &str = "lifeline.dev/plan-uid";
/// The label naming the drill a drill run's record belongs to.
pub const RECORD_DRILL_LABEL: &str = "lifeline.dev/drill";
/// The label carrying the run's number, on a drill run's record.
pub const RECORD_RUN_LABEL: &str = "lifeline.dev/drill-run";

/// One chunk of a recovery's record: entries `first..first + entries.len()` of the chain.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "lifeline.dev",
    version = "v1alpha1",
    kind = "RecoveryRecord",
    plural = "recoveryrecords",
    shortname = "lrecord",
    category = "lifeline",
    namespaced,
    doc = "One chunk of the append-only, hash-chained record of a recovery. Written by the operator only; outlives the plan.",
    printcolumn = r#"{"name":"Plan","type":"string","jsonPath":".spec.plan"}"#,
    printcolumn = r#"{"name":"Chunk","type":"integer","jsonPath":".spec.chunk"}"#,
    printcolumn = r#"{"name":"First","type":"integer","jsonPath":".spec.first"}"#,
    printcolumn = r#"{"name":"Sealed","type":"boolean","jsonPath":".spec.sealed"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("!oldSelf.spec.sealed || self.spec == oldSelf.spec").message("a sealed chunk of a record never changes").field_path(".spec"),
    validation = Rule::new("size(self.spec.entries) >= size(oldSelf.spec.entries)").message("a record only grows: entries are never removed").field_path(".spec.entries")
)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryRecordSpec {
    /// The RecoveryPlan recorded, in this namespace (for a drill run's record, the
    /// RecoveryDrill).
    #[schemars(length(min = 1, max = 253))]
    pub plan: String,
    /// Its uid.
    #[schemars(length(min = 1, max = 64))]
    pub plan_uid: String,
    /// What is recorded: a RecoveryPlan's run (the default), or one run of a
    /// RecoveryDrill (its claims, faults with their proof, revert).
    #[serde(default, skip_serializing_if = "RecordSubject::is_plan")]
    pub subject: RecordSubject,
    /// For a drill run's record: the run's number.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<u32>,
    /// This chunk's number, from 0.
    pub chunk: u32,
    /// The sequence number of its first entry.
    pub first: u64,
    /// Set once the next chunk is begun: nothing is added to this one any more.
    #[serde(default)]
    pub sealed: bool,
    /// Until when the record is kept (the operator's retention): it deletes it after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retain_until: Option<Time>,
    /// The entries, in order.
    #[serde(default)]
    #[schemars(length(max = 2000))]
    pub entries: Vec<RecordEntry>,
}

/// What a record records.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub enum RecordSubject {
    /// A RecoveryPlan's run.
    #[default]
    RecoveryPlan,
    /// One run of a RecoveryDrill.
    RecoveryDrill,
}

impl RecordSubject {
    /// Whether it is a plan's record (the default).
    pub fn is_plan(&self) -> bool {
        *self == RecordSubject::RecoveryPlan
    }
}

/// One entry of a record: what happened, when, and the chain.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordEntry {
    /// Its place in the chain, from 0.
    pub seq: u64,
    /// When it happened (as the operator saw it).
    pub at: Time,
    /// What kind of thing happened.
    pub kind: RecordKind,
    /// The system it is about ("namespace/name"), if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// The details, as recorded.
    #[schemars(schema_with = "super::recovery_plan::preserve_object_schema")]
    pub data: serde_json::Value,
    /// SHA-256 (hex) of the entry before (64 zeros for the first).
    pub prev: String,
    /// SHA-256 (hex) of this entry's canonical JSON without `hash`.
    pub hash: String,
}

/// What a record entry records.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum RecordKind {
    /// The plan's phase changed.
    PlanPhase,
    /// A system's phase changed.
    SystemPhase,
    /// A restore step started, succeeded or failed.
    Step,
    /// A check changed: its first failure, a change of error, its pass.
    Check,
    /// A system was released at a stage.
    Release,
    /// A check failed again after verification.
    RegressionStarted,
    /// The checks passed again.
    RegressionEnded,
    /// A system's soak at a stage started: released there with its checks passing, or
    /// its checks passing again after a hold.
    SoakStarted,
    /// A failing check held a system soaking at a stage: its soak starts again once the
    /// check passes.
    SoakHeld,
    /// A system's soak at a stage ended: done (it may go on to the next stage), or cut
    /// short before it was (the system left the stage).
    SoakEnded,
    /// An Approval as the operator saw it when it decided.
    Approval,
    /// A person's intervention, or a confirmation of a manual step.
    Intervention,
    /// A system's data-loss window was worked out (its restore point reported).
    DataLoss,
    /// A system's release notice, as sent: to whom, what was tested, the data-loss
    /// window and the hand-back items.
    Notice,
    /// A person completed a hand-back item.
    HandBack,
    /// A drill run's phase changed (waiting, injecting, recovering, reverting, finished).
    DrillPhase,
    /// A drill run recorded what it will change, as it was before.
    PreDrillState,
    /// A drill's fault was injected, proven, or lifted.
    Fault,
    /// A drill's recovery plan was created.
    DrillRecovery,
    /// A system's measured recovery in a drill.
    DrillSystem,
    /// A drill's approval, people's or the drill's own.
    DrillApproval,
    /// What a drill's revert put back.
    Revert,
}
