//! RecoveryDrill: a rehearsal of a recovery in a staging namespace. It breaks the systems
//! on purpose (faults), runs a RecoveryPlan to bring them back, measures each system from
//! fault to verified and released, and puts back whatever the recovery did not.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{
    FailurePolicy, Stage, SystemSelection, WorkloadRef,
    common::{DNS1123_LABEL_RULE, DURATION_MESSAGE, DURATION_RULE, DurationString},
};

/// The label a namespace needs before a RecoveryDrill is admitted in it (and before the
/// operator acts on one there).
pub const ENVIRONMENT_LABEL: &str = "lifeline.dev/environment";
/// The value of [`ENVIRONMENT_LABEL`] that allows drills.
pub const STAGING: &str = "staging";
/// The drill's annotation that asks for a run: set to a new token (any string; `lifeline
/// drill run` uses a timestamp) and the operator starts one run for it.
pub const RUN_ANNOTATION: &str = "lifeline.dev/run-requested";
/// The finalizer that reverts a drill's faults before it is deleted.
pub const DRILL_FINALIZER: &str = "lifeline.dev/drill-revert";

/// A chaos drill: which systems, what to break, how to recover, and when.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "lifeline.dev",
    version = "v1alpha1",
    kind = "RecoveryDrill",
    plural = "recoverydrills",
    shortname = "rdrill",
    category = "lifeline",
    namespaced,
    status = "RecoveryDrillStatus",
    doc = "A chaos drill in a staging namespace: injects faults into ClinicalSystems, runs a RecoveryPlan to restore them, measures recovery against each objective, and reverts.",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Run","type":"integer","jsonPath":".status.run.number"}"#,
    printcolumn = r#"{"name":"Outcome","type":"string","jsonPath":".status.run.outcome"}"#,
    printcolumn = r#"{"name":"Schedule","type":"string","jsonPath":".spec.schedule"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryDrillSpec {
    /// The systems in the drill (and in its recovery plan): ClinicalSystems in the drill's
    /// namespace, by label selector or by name. Nothing outside the namespace is touched.
    pub systems: SystemSelection,

    /// What to break, per system.
    #[schemars(length(min = 1, max = 200))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub faults: Vec<Fault>,

    /// How to recover: the RecoveryPlan the drill creates for each run, less what the
    /// drill sets itself (the systems, the requester, pause and abort).
    #[serde(default)]
    pub recovery: DrillRecovery,

    /// `automatic` (default): release stages need no people, and each release is
    /// recorded as a drill auto-approval. `real`: people approve as in a real recovery,
    /// to rehearse the human part.
    #[serde(default)]
    pub approvals: DrillApprovals,

    /// The longest a run may take, from its start to the recovery's end ("1h" if unset).
    /// A run that times out is stopped and reverted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub timeout: Option<DurationString>,

    /// Run on a schedule: a cron expression ("0 3 * * 6" is 03:00 every Saturday, UTC;
    /// a sixth leading field gives seconds). Unset: runs only when asked
    /// (`lifeline drill run`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 100))]
    #[x_kube(validation = Rule::new(r"self.matches('^\\s*\\S+(\\s+\\S+){4,5}\\s*$')").message("must be a cron expression of five fields, or six with leading seconds"))]
    pub schedule: Option<String>,

    /// How many past runs to keep in `status.history`. Default 5. (A run's RecoveryPlan is
    /// deleted when the run ends; its measurements are kept in the drill's status.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 50))]
    pub history_limit: Option<u32>,

    /// Set to stop the current run and revert it; no new run starts while it is set.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub abort: bool,
}

/// The recovery a drill runs: the parts of a RecoveryPlan spec the drill does not set.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("!has(self.stages) || size(self.stages) == 0 || !has(self.stages[size(self.stages) - 1].soak)")
    .message("the last stage cannot have a soak: soak holds a system before the next stage, and the last has none")
    .field_path(".stages"))]
pub struct DrillRecovery {
    /// As a RecoveryPlan's `parallelism`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub parallelism: Option<u32>,
    /// As a RecoveryPlan's `failurePolicy`.
    #[serde(default)]
    pub failure_policy: FailurePolicy,
    /// As a RecoveryPlan's `stages`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub stages: Vec<Stage>,
}

/// Who approves a drill's release stages.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DrillApprovals {
    /// Stages open without people; recorded as drill auto-approvals.
    #[default]
    Automatic,
    /// People approve, with `lifeline approve`, as in a real recovery.
    Real,
}

/// One fault: exactly one of `scaleToZero`, `deletePods`, `isolate` and `failCheck`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.scaleToZero), has(self.deletePods), has(self.isolate), has(self.failCheck)].filter(x, x).size() == 1")
    .message("a fault must set exactly one of scaleToZero, deletePods, isolate or failCheck"))]
pub struct Fault {
    /// The ClinicalSystem, by name, in the drill's namespace (and in `systems`).
    #[x_kube(validation = Rule::new(DNS1123_LABEL_RULE).message("must be the name of a ClinicalSystem in the drill's namespace"))]
    #[schemars(length(min = 1, max = 63))]
    pub system: String,
    /// Scale workloads to zero replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_to_zero: Option<ScaleToZeroFault>,
    /// Delete the system's pods (their controllers recreate them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delete_pods: Option<DeletePodsFault>,
    /// Cut the system's pods off the network with a deny-all NetworkPolicy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolate: Option<IsolateFault>,
    /// Make one of the system's checks fail on purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fail_check: Option<FailCheckFault>,
}

impl Fault {
    /// Which kind of fault this is (the schema admits exactly one).
    pub fn kind(&self) -> Option<FaultKind> {
        if self.scale_to_zero.is_some() {
            Some(FaultKind::ScaleToZero)
        } else if self.delete_pods.is_some() {
            Some(FaultKind::DeletePods)
        } else if self.isolate.is_some() {
            Some(FaultKind::Isolate)
        } else if self.fail_check.is_some() {
            Some(FaultKind::FailCheck)
        } else {
            None
        }
    }

    /// How long the fault lasts, for the kinds that can end on their own (`isolate` and
    /// `failCheck` with a `duration`), as written.
    pub fn duration(&self) -> Option<&DurationString> {
        self.isolate
            .as_ref()
            .and_then(|i| i.duration.as_ref())
            .or_else(|| self.fail_check.as_ref().and_then(|f| f.duration.as_ref()))
    }
}

/// Scale workloads to zero.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleToZeroFault {
    /// The workloads. Empty: every Deployment and StatefulSet the system's `scale` restore
    /// steps name (what its recovery scales back up).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub workloads: Vec<WorkloadRef>,
}

/// Delete pods.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DeletePodsFault {
    /// Which pods. Unset: the system's `release.podSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
}

/// Isolate pods with a deny-all (ingress and egress) NetworkPolicy.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct IsolateFault {
    /// Which pods. Unset: the system's `release.podSelector`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// How long the isolation lasts, as a network outage that heals. Unset: until the
    /// run ends (a system that stays isolated cannot pass checks that reach it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub duration: Option<DurationString>,
}

/// Make a check fail on purpose.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailCheckFault {
    /// The check's name in the system's `verify.checks`.
    #[schemars(length(min = 1, max = 63))]
    pub check: String,
    /// How long the check fails, from the fault's injection. Unset: for the whole run
    /// (the system then fails, and the drill rehearses what that blocks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub duration: Option<DurationString>,
}

/// A check a drill's plan fails on purpose (set by the drill on the plan it creates).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ForcedCheckFailure {
    /// The ClinicalSystem, by name.
    pub system: String,
    /// The check's name.
    pub check: String,
    /// Until when; unset: for good.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Time>,
}

/// Where a plan comes from when a drill created it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PlanDrill {
    /// The drill's name.
    pub name: String,
    /// Checks this plan fails on purpose (the drill's `failCheck` faults).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    pub fail_checks: Vec<ForcedCheckFailure>,
    /// Systems the drill cuts off the network (its `isolate` faults): while one is in
    /// force the plan's release gate for the system admits nobody, not even the
    /// verification audience, so the isolation holds for its whole duration.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 200))]
    pub isolations: Vec<DrillIsolation>,
}

/// A system a drill's plan keeps isolated (set by the drill on the plan it creates).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillIsolation {
    /// The ClinicalSystem, by name.
    pub system: String,
    /// Until when; unset: until the run ends.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Time>,
}

/// Where a drill is.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DrillPhase {
    /// No run in progress; waiting for a request or the schedule.
    #[default]
    Idle,
    /// A run is asked for but another drill holds one of its systems.
    Waiting,
    /// Recording the pre-drill state and injecting faults, then proving them.
    Injecting,
    /// The recovery plan is running.
    Recovering,
    /// Putting back what the recovery did not.
    Reverting,
    /// The last run has ended (see `run.outcome`); waiting for the next.
    Finished,
}

impl DrillPhase {
    /// True while a run holds its systems: injecting, recovering or reverting.
    pub fn is_active(self) -> bool {
        matches!(
            self,
            DrillPhase::Injecting | DrillPhase::Recovering | DrillPhase::Reverting
        )
    }

    /// True unless the drill is idle or its last run has finished (a waiting run counts).
    pub fn is_running(self) -> bool {
        !matches!(self, DrillPhase::Idle | DrillPhase::Finished)
    }
}

impl std::fmt::Display for DrillPhase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// How a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum DrillOutcome {
    /// Every system was verified (and released through every stage) and every objective met.
    Passed,
    /// The recovery finished, but some system failed or missed its objective.
    ObjectivesMissed,
    /// The recovery failed.
    Failed,
    /// The run hit the drill's timeout.
    TimedOut,
    /// Stopped by `spec.abort` or by deleting the drill.
    Aborted,
    /// The drill could not run (a system outside the namespace, a bad schedule, ...).
    Refused,
}

impl std::fmt::Display for DrillOutcome {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}

/// The observed state of a drill.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoveryDrillStatus {
    /// Where the drill is.
    #[serde(default)]
    pub phase: DrillPhase,
    /// Why, for people (what it waits for, why it was refused).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The systems this drill holds while a run is in progress: no other drill's run may
    /// take them until it ends.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub held: Vec<String>,
    /// The current run, or the last one: everything the report is made from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run: Option<DrillRun>,
    /// The last runs, newest first (`spec.historyLimit` of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50))]
    pub history: Vec<DrillRunSummary>,
    /// The `lifeline.dev/run-requested` token last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_token: Option<String>,
    /// When the schedule last fired.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_schedule_time: Option<Time>,
    /// When the schedule fires next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_schedule_time: Option<Time>,
    /// The generation last acted on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    /// `Ready` (the drill is valid and not running) and `Running`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<Condition>,
}

/// One run of a drill, in full.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillRun {
    /// 1 for the first run of this drill, then 2, ...
    pub number: u32,
    /// `manual` (`lifeline drill run`) or `schedule`.
    pub trigger: DrillTrigger,
    /// For a manual run, the `lifeline.dev/run-requested` token that started it, so the
    /// person who asked can tell their run from an earlier one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// When the run started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When the recovery plan was created (every fault proven by then).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_started_at: Option<Time>,
    /// When the run ended (reverted).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// How it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub outcome: Option<DrillOutcome>,
    /// Why it ended so, for people.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The RecoveryPlan this run created (owned by the drill).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Everything the drill changes, as it was before the drill touched it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pre_state: Vec<RecordedState>,
    /// Each fault: what was done, when, and the proof it took effect.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub faults: Vec<FaultRecord>,
    /// Each system's measured recovery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<DrillSystemResult>,
    /// Each release approval, people's or the drill's own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub approvals: Vec<DrillApprovalRecord>,
    /// What the revert put back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub reverted: Vec<String>,
    /// Where the run's hash-chained record stands (its RecoveryRecords).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record: Option<super::RecordHead>,
}

/// The state of one object before the drill changed it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecordedState {
    /// `Deployment`, `StatefulSet` or `NetworkPolicy`.
    pub kind: RecordedKind,
    /// Its name, in the drill's namespace.
    pub name: String,
    /// For a workload, its replicas.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replicas: Option<i32>,
    /// Whether it existed (a NetworkPolicy the drill creates did not).
    pub existed: bool,
    /// For a NetworkPolicy that existed, its spec as JSON, to put back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy_spec: Option<String>,
}

/// One injected fault.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaultRecord {
    /// The system.
    pub system: String,
    /// `scaleToZero`, `deletePods`, `isolate` or `failCheck`.
    pub kind: FaultKind,
    /// What it acts on, for people: "Deployment/lims", "NetworkPolicy/lifeline-drill-...",
    /// "check api".
    pub target: String,
    /// The workload a `scaleToZero` fault scales.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload: Option<FaultWorkload>,
    /// The check a `failCheck` fault fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check: Option<String>,
    /// When it was injected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub injected_at: Option<Time>,
    /// When it was seen to have taken effect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proven_at: Option<Time>,
    /// What was seen: "0 pods left of 3", "the check failed: ...".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proof: Option<String>,
    /// When it was lifted (a fault with a duration), if it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lifted_at: Option<Time>,
    /// The uids of the pods a deletePods fault deleted (proof: none of them is left).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pod_uids: Vec<String>,
    /// An `isolate` fault, watched while it holds: from its proof until it is lifted the
    /// operator keeps trying to connect to the system, and counts what got through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub watch: Option<IsolationWatch>,
}

/// The connections tried to an isolated system while its isolation held. Any that got
/// through is a breach: the network did not enforce the drill's policy, so it may not
/// enforce the release gates either.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct IsolationWatch {
    /// How many times the system's targets were tried.
    pub tries: u32,
    /// When they were last tried (once every few seconds, so that the watch does not
    /// write the drill's status at every move).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_tried_at: Option<Time>,
    /// How many of those tries a connection got through.
    pub breaches: u32,
    /// When a connection first got through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_breach_at: Option<Time>,
    /// When a connection last got through.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_breach_at: Option<Time>,
    /// The targets ("host:port") that accepted a connection, at most 10.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub through: Vec<String>,
}

/// The workload a `scaleToZero` fault scales, as recorded (the spec's `WorkloadRef`,
/// without its admission rules: status is written by the operator only).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FaultWorkload {
    /// `Deployment` or `StatefulSet`.
    pub kind: super::WorkloadKind,
    /// Its name, in the drill's namespace.
    pub name: String,
}

impl From<WorkloadRef> for FaultWorkload {
    fn from(w: WorkloadRef) -> Self {
        Self {
            kind: w.kind,
            name: w.name,
        }
    }
}

impl From<FaultWorkload> for WorkloadRef {
    fn from(w: FaultWorkload) -> Self {
        Self {
            kind: w.kind,
            name: w.name,
        }
    }
}

/// One system's measured recovery in a drill.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillSystemResult {
    /// The system's name.
    pub name: String,
    /// The name staff know it by (its `spec.displayName`), for the report.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    /// Its tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<super::Tier>,
    /// Its phase in the recovery plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<super::SystemPhase>,
    /// The recovery-time objective, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_seconds: Option<u64>,
    /// When its first fault was injected (the run's start for a system without faults).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fault_at: Option<Time>,
    /// When its restore started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_started_at: Option<Time>,
    /// When it was verified.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<Time>,
    /// When it was first released (the first stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_at: Option<Time>,
    /// When it was released at the last stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fully_released_at: Option<Time>,
    /// When it failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<Time>,
    /// Seconds from `faultAt` to `verifiedAt`: the measured recovery time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_seconds: Option<u64>,
    /// Seconds from `faultAt` to `releasedAt`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release_seconds: Option<u64>,
    /// Whether `recoverySeconds` met the objective (unset until verified or failed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_met: Option<bool>,
    /// Checks that failed during the run (each at its last failure).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub failed_checks: Vec<FailedCheck>,
}

/// A check that failed during a drill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct FailedCheck {
    /// The check's name.
    pub check: String,
    /// Its last error.
    pub message: String,
    /// Failed attempts.
    pub failures: u32,
    /// Whether it passed in the end.
    pub passed_in_the_end: bool,
    /// Whether the drill made it fail on purpose (a failCheck fault).
    pub injected: bool,
}

/// A release approval in a drill.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillApprovalRecord {
    /// The stage.
    pub stage: String,
    /// The systems it decided ("namespace/name" for people's, the name for the drill's).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<String>,
    /// Who: a username, or "drill auto-approval".
    pub by: String,
    /// When.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Time>,
    /// Their comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// Whether it counted ("ignored: ..." otherwise, in `comment`).
    pub accepted: bool,
    /// Whether the drill approved it itself (`approvals: automatic`).
    pub automatic: bool,
}

/// A past run, in brief.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DrillRunSummary {
    /// The run's number.
    pub number: u32,
    /// `manual` or `schedule`.
    pub trigger: DrillTrigger,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// How it ended.
    pub outcome: DrillOutcome,
    /// Systems verified of those in the drill, "22/24".
    pub verified: String,
    /// Objectives met of those measured, "20/24".
    pub objectives_met: String,
    /// The longest measured recovery, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longest_recovery_seconds: Option<u64>,
    /// Why it ended so.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// What started a run.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum DrillTrigger {
    /// `lifeline drill run` (the `lifeline.dev/run-requested` annotation).
    #[default]
    Manual,
    /// The drill's `schedule`.
    Schedule,
}

impl std::fmt::Display for DrillTrigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DrillTrigger::Manual => "manual",
            DrillTrigger::Schedule => "schedule",
        })
    }
}

/// The kind of a fault a drill injects.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "camelCase")]
pub enum FaultKind {
    /// Scale a workload to zero replicas.
    ScaleToZero,
    /// Delete a system's pods.
    DeletePods,
    /// Cut a system's pods off the network with a deny-all NetworkPolicy.
    Isolate,
    /// Make one of a system's checks fail.
    FailCheck,
}

impl FaultKind {
    /// Every kind, in the order a report lists them.
    pub const ALL: [FaultKind; 4] = [
        FaultKind::ScaleToZero,
        FaultKind::DeletePods,
        FaultKind::Isolate,
        FaultKind::FailCheck,
    ];

    /// The name the API uses: `scaleToZero`, `deletePods`, `isolate`, `failCheck`.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultKind::ScaleToZero => "scaleToZero",
            FaultKind::DeletePods => "deletePods",
            FaultKind::Isolate => "isolate",
            FaultKind::FailCheck => "failCheck",
        }
    }
}

impl std::fmt::Display for FaultKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The kind of an object whose pre-drill state a run records.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
pub enum RecordedKind {
    /// An `apps/v1` Deployment.
    Deployment,
    /// An `apps/v1` StatefulSet.
    StatefulSet,
    /// A `networking.k8s.io/v1` NetworkPolicy.
    NetworkPolicy,
}

impl RecordedKind {
    /// The workload kind, for a Deployment or StatefulSet.
    pub fn workload(self) -> Option<super::WorkloadKind> {
        match self {
            RecordedKind::Deployment => Some(super::WorkloadKind::Deployment),
            RecordedKind::StatefulSet => Some(super::WorkloadKind::StatefulSet),
            RecordedKind::NetworkPolicy => None,
        }
    }
}

impl From<super::WorkloadKind> for RecordedKind {
    fn from(k: super::WorkloadKind) -> Self {
        match k {
            super::WorkloadKind::Deployment => RecordedKind::Deployment,
            super::WorkloadKind::StatefulSet => RecordedKind::StatefulSet,
        }
    }
}

impl std::fmt::Display for RecordedKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(self, f)
    }
}
