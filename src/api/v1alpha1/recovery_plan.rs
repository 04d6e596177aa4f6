//! RecoveryPlan: one recovery run, and its status, the live record of that run.

use std::fmt;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{Condition, LabelSelector, Time};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DNS1123_LABEL_RULE, DURATION_MESSAGE, DURATION_RULE, DurationString};

/// Schema for an embedded Kubernetes object kept as-is (e.g. a Job template): an object
/// whose fields the API server validates when the object itself is created.
pub(crate) fn preserve_object_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// The annotation prefix that asks the operator to retry a failed system: the plan's
/// annotation `retry.lifeline.dev/<system name>` set to a new token (any string, e.g. a
/// timestamp) retries that system once; `lifeline retry` sets it.
pub const RETRY_ANNOTATION_PREFIX: &str = "retry.lifeline.dev/";

/// The annotation prefix that asks the operator to restore a verified system again: the
/// plan's annotation `restore.lifeline.dev/<system name>` set to a [`RestoreRequest`] in
/// JSON with a new token; `lifeline restore` sets it.
pub const RESTORE_ANNOTATION_PREFIX: &str = "restore.lifeline.dev/";

/// A request to restore a verified system again, as `lifeline restore` writes it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoreRequest {
    /// Identifies the request: each is carried out once.
    pub token: String,
    /// The step to restore from (default: the first).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from_step: Option<String>,
    /// Run steps marked `repeatable: false` as well.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// A recovery run: which systems to restore, how many at once, what to do when one
/// fails, and the stages in which restored systems are released to staff.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "lifeline.dev",
    version = "v1alpha1",
    kind = "RecoveryPlan",
    plural = "recoveryplans",
    shortname = "rplan",
    category = "lifeline",
    namespaced,
    status = "RecoveryPlanStatus",
    doc = "A recovery run: restores the selected ClinicalSystems in dependency order, verifies them and releases them to staff in stages.",
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Verified","type":"string","jsonPath":".status.progress"}"#,
    printcolumn = r#"{"name":"Stage","type":"string","jsonPath":".status.currentStage"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.stages) == has(oldSelf.stages) && (!has(self.stages) || self.stages == oldSelf.stages)")
    .message("stages are immutable once the plan exists: the approval rules cannot change during a recovery; create a new plan")
    .field_path(".stages"))]
#[x_kube(validation = Rule::new("!has(self.stages) || size(self.stages) == 0 || !has(self.stages[size(self.stages) - 1].soak)")
    .message("the last stage cannot have a soak: soak holds a system before the next stage, and the last has none")
    .field_path(".stages"))]
pub struct RecoveryPlanSpec {
    /// Which ClinicalSystems this plan restores: by label selector or by name, in the
    /// plan's namespace and any others it lists.
    pub systems: SystemSelection,

    /// The most systems restoring or verifying at once. Unset: as many as the dependency
    /// graph allows. When the cap bites, ready systems start in tier order
    /// (mission-critical first), then by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10000))]
    pub parallelism: Option<u32>,

    /// What happens when a system fails: `continue` (default) lets independent systems go
    /// on and blocks the failed system's dependents; `halt` starts nothing new.
    #[serde(default)]
    pub failure_policy: FailurePolicy,

    /// While true, nothing new starts; what is running finishes.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub paused: bool,

    /// Set to stop the plan for good: nothing new starts and every system not yet
    /// finished is Cancelled. A Job already started runs to its end, unwatched.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub abort: bool,

    /// Stages in which verified systems are released to staff, in order (for example:
    /// IT validation, a pilot ward, the emergency departments, all sites). Immutable:
    /// the approval rules people decide under cannot be loosened during the recovery.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub stages: Vec<Stage>,

    /// The user who requested the recovery. Must be the user who creates the plan
    /// (enforced by an admission policy), and may not approve its release stages.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested_by: Option<String>,

    /// When the incident began, if before the plan (the outage started at 02:10; the plan
    /// was written at 09:30): every recovery time and objective is measured from it, and
    /// manual-step confirmations made before it do not count. Default: when the plan
    /// started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub incident_started_at: Option<Time>,

    /// Set by a RecoveryDrill on the plan it creates: the drill, and the checks it fails
    /// on purpose.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drill: Option<super::PlanDrill>,
}

/// Which systems a plan selects. Exactly one of `selector` and `names`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.selector) != has(self.names)").message("set exactly one of systems.selector and systems.names"))]
pub struct SystemSelection {
    /// ClinicalSystems in the plan's namespace whose labels match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<LabelSelector>,
    /// ClinicalSystems in the plan's namespace, by name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "system_names_schema")]
    pub names: Option<Vec<String>>,
    /// Other namespaces the plan selects systems in as well (by the same selector or
    /// names), for an estate whose teams keep their systems apart: a `dependsOn` with a
    /// namespace then resolves there. Default: the plan's namespace only.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(schema_with = "namespace_names_schema")]
    pub namespaces: Vec<String>,
}

impl SystemSelection {
    /// The namespaces a plan in `own` selects systems in: its own, then those listed.
    pub fn namespaces_from(&self, own: &str) -> Vec<String> {
        let mut out = vec![own.to_string()];
        for n in &self.namespaces {
            if !out.contains(n) {
                out.push(n.clone());
            }
        }
        out
    }
}

/// A list of namespace names: DNS-1123 labels, at most 20.
fn namespace_names_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "maxItems": 20,
        "items": {
            "type": "string",
            "maxLength": 63,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
        }
    })
}

/// A list of ClinicalSystem names: DNS-1123, at most 1000.
fn system_names_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "array",
        "minItems": 1,
        "maxItems": 1000,
        "items": {
            "type": "string",
            "maxLength": 253,
            "pattern": "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
        }
    })
}

/// What happens when a system fails.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum FailurePolicy {
    /// Independent systems go on; dependents of the failed system are Blocked.
    #[default]
    Continue,
    /// Nothing new starts after a failure.
    Halt,
}

/// A release stage.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Stage {
    /// The stage's name, e.g. "pilot-ward".
    #[x_kube(validation = Rule::new(DNS1123_LABEL_RULE).message("must be a DNS-1123 label: lower-case letters, digits and '-'"))]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Who can reach released systems from this stage on. Stages only add to the audience.
    #[serde(default)]
    pub audience: Audience,
    /// Who must approve before systems are released at this stage.
    #[serde(default)]
    pub approval: ApprovalRule,
    /// Items every approver must acknowledge, e.g. "paper records back-entered".
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 500)))]
    pub checklist: Vec<String>,
    /// How long people usually take to decide a system at this stage once it waits there,
    /// e.g. "2h". `lifeline simulate` waits this long for each system's approval (else
    /// `--approval-delay`, else not at all); the operator does not use it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub expected_decision_time: Option<DurationString>,
    /// How long a system stays released at this stage, its checks passing, before it may
    /// go on to the next stage, e.g. "24h". Its checks run again at its retry interval
    /// all that time; a failing check holds it here and starts the soak again once the
    /// check passes. Not on the last stage, which has no next.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub soak: Option<DurationString>,
}

/// Who can reach a released system.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Audience {
    /// A description for people, e.g. "Ward 7B staff at Royal Oldham".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Namespaces whose pods may connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<LabelSelector>,
    /// Pods (in the namespaces above, or the system's own) that may connect.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// Networks that may connect, as CIDRs: ward and site networks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 50), inner(length(min = 1, max = 64)))]
    #[x_kube(validation = Rule::new("self.all(c, isCIDR(c))").message("each must be a CIDR such as 10.20.7.0/24 or fd00::/64"))]
    pub ip_blocks: Vec<String>,
}

/// Who must approve a stage.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRule {
    /// How many distinct people must approve. 0: the stage is released automatically.
    #[serde(default)]
    #[schemars(range(min = 0, max = 10))]
    pub required: u32,
    /// If set, approvers must belong to one of these groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 253)))]
    pub approver_groups: Vec<String>,
    /// Count the quorum over distinct groups as well as distinct people: `required: 2`
    /// then needs two people who can each stand for a different group (of
    /// `approverGroups`, when set). Guards against one person with two usernames in one
    /// group meeting a quorum alone.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub distinct_groups: bool,
    /// Separation of duties is on by default: the plan's requester (`spec.requestedBy`)
    /// may not approve its stages. Set true to let the requester's approval count for
    /// this stage (a small site with one person on call).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_requester: bool,
}

/// The plan's phase.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum PlanPhase {
    /// Not started yet.
    #[default]
    Pending,
    /// Systems are being restored or verified.
    Running,
    /// Everything that can be verified is; a release stage awaits approval.
    AwaitingApproval,
    /// Every system verified and released.
    Succeeded,
    /// A system failed and nothing more can make progress.
    Failed,
    /// `spec.paused` is set.
    Paused,
    /// The plan was aborted.
    Aborted,
}

impl fmt::Display for PlanPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A system's phase within a plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum SystemPhase {
    /// Not looked at yet.
    #[default]
    Pending,
    /// Waiting for its hard dependencies, or for capacity.
    Waiting,
    /// Running its restore steps.
    Restoring,
    /// Running its checks.
    Verifying,
    /// Restored and every check passed.
    Verified,
    /// Released to staff at one or more stages.
    Released,
    /// Verified (and perhaps released), and a check fails again: staff keep access
    /// unless the system's release says `withdrawOnFailure`.
    Degraded,
    /// A step or check failed.
    Failed,
    /// A hard dependency failed (or is blocked), so it cannot start.
    Blocked,
    /// The plan stopped before this system finished.
    Cancelled,
    /// Another plan recovers it (`heldBy`): this plan leaves it alone, its steps, checks
    /// and release gate included, and counts it as restored once that plan has verified
    /// it.
    Held,
}

impl SystemPhase {
    /// True when nothing more will happen to the system in this run (short of a retry).
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            SystemPhase::Verified
                | SystemPhase::Released
                | SystemPhase::Degraded
                | SystemPhase::Failed
                | SystemPhase::Blocked
                | SystemPhase::Cancelled
        )
    }

    /// True once the system has been verified (and perhaps released).
    pub fn is_verified(self) -> bool {
        matches!(
            self,
            SystemPhase::Verified | SystemPhase::Released | SystemPhase::Degraded
        )
    }

    /// True while the system uses a parallelism slot.
    pub fn is_active(self) -> bool {
        matches!(self, SystemPhase::Restoring | SystemPhase::Verifying)
    }
}

impl fmt::Display for SystemPhase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// The progress of one step or check.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
pub enum ActionPhase {
    /// Not started.
    #[default]
    Pending,
    /// Started, not finished.
    Running,
    /// Finished successfully (a check passed).
    Succeeded,
    /// Finished unsuccessfully, after any retries.
    Failed,
}

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

/// One system's record in a plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemStatus {
    /// "namespace/name".
    pub name: String,
    /// The system's tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<super::Tier>,
    /// The system's phase.
    #[serde(default)]
    pub phase: SystemPhase,
    /// Why the system is in this phase, for people: the failed step and its error, the
    /// dependency it is blocked on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// For a Blocked system, the dependency ("namespace/name") that failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub blocked_by: Option<String>,
    /// When the first restore step started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_started_at: Option<Time>,
    /// When every check had passed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<Time>,
    /// When the system failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_at: Option<Time>,
    /// Seconds from the start of the run to `verifiedAt`: the measured recovery time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recovery_seconds: Option<u64>,
    /// The recovery-time objective, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_seconds: Option<u64>,
    /// Whether the measured recovery time met the objective (set once verified).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_met: Option<bool>,
    /// Each restore step's progress, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub steps: Vec<StepStatus>,
    /// Each check's result.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checks: Vec<CheckStatus>,
    /// The last stage the system was released at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_stage: Option<String>,
    /// When the system was released at each stage, in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub releases: Vec<StageRelease>,
    /// The value of the plan's `retry.lifeline.dev/<system>` annotation last acted on, so
    /// a retry request is carried out once.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_token: Option<String>,
    /// When it joined a plan already under way (a system added mid-recovery); its
    /// recovery time still counts from the incident's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub added_at: Option<Time>,
    /// When its current restore attempt began (the first, a retry, a restore again): its
    /// restore timeout counts from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_started_at: Option<Time>,
    /// Seconds the plan spent paused during the current restore attempt: they do not
    /// count against the restore timeout.
    #[serde(default, skip_serializing_if = "is_zero_u64")]
    pub paused_seconds: u64,
    /// While a hard dependency (or one of its own) is degraded or restored again: which,
    /// for people. Nothing is cut off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_risk: Option<String>,
    /// Each time a check failed again after the system was verified: which, from when to
    /// when (the latest 20; `regressionCount` counts them all).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regressions: Vec<Regression>,
    /// How many regressions the system has had.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub regression_count: u32,
    /// When its gate was withdrawn to the verification audience for a regression
    /// (`release.withdrawOnFailure`): it is released again only by Approvals made after.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn_at: Option<Time>,
    /// The last request to restore it again that the operator acted on (its token).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_token: Option<String>,
    /// Each time it was restored again: when, from which step, forced or not (the latest
    /// 20).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub restored_again: Vec<RestoredAgain>,
    /// After a restore again, the stage it was last approved at: it goes back there
    /// without new approvals once verified (unless its release says
    /// `reapproveAfterRestore`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resume_stage: Option<String>,
    /// After a restore again with `release.reapproveAfterRestore`: Approvals made until
    /// then count no more for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reapprove_after: Option<Time>,
    /// Its release gate as this plan keeps it: which `spec.release` it gates, the pod
    /// selectors it gated before, and the stage whose audience it last applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateStatus>,
    /// Its latest soak: at the stage it is released at, when that stage has one, else at
    /// the last stage before it that had.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak: Option<SoakStatus>,
    /// While it is `Held`: the plan that recovers it, and how far that plan has got.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<HeldBy>,
    /// How much data the restore lost: the point its data was restored to, against the
    /// incident's start and the system's recovery-point objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_loss: Option<DataLoss>,
    /// What staff must do now the system is back (`release.handBack`), and who has done
    /// what, since its latest restore.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hand_back: Vec<HandBackItem>,
}

/// A system's data-loss window: from the point its data was restored to, to the
/// incident's start. What staff entered in between is lost and must be entered again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DataLoss {
    /// The restore step that reported it.
    pub step: String,
    /// The point in time the data was restored to, as the step reported it; none when
    /// the step did not report one it was declared to (see `problem`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_point: Option<Time>,
    /// What the window runs to: the incident's start (`spec.incidentStartedAt`, else
    /// the plan's start).
    pub incident_at: Time,
    /// The window, in seconds (0 when the data was restored to a point after the
    /// incident's start).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window_seconds: Option<u64>,
    /// The recovery-point objective, in seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_seconds: Option<u64>,
    /// Whether the window is within the objective (set when both are known).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_met: Option<bool>,
    /// Why the window is unknown: the step did not report a restore point it was
    /// declared to, or reported one lifeline could not read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub problem: Option<String>,
}

/// One hand-back item of a system and who completed it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HandBackItem {
    /// The item, as `release.handBack` words it.
    pub item: String,
    /// Who completed it, vouched for by the API server (from their Intervention).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_by: Option<String>,
    /// Their groups.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub groups: Vec<String>,
    /// When they recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub done_at: Option<Time>,
    /// The Intervention that recorded it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    /// What they wrote with it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
}

/// The plan that holds a system another plan selects, as that plan last saw it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct HeldBy {
    /// The holding plan ("namespace/name").
    pub plan: String,
    /// The system's phase in that plan.
    pub phase: SystemPhase,
    /// The stage it is released at there.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stage: Option<String>,
    /// When this plan first found it held.
    pub since: Time,
    /// Set once the holding plan no longer holds it (it was deleted) after it verified
    /// the system: this plan still counts it as restored and does not restore it over
    /// again.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub plan_gone: bool,
}

/// A stage a system was released at, and when.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StageRelease {
    /// The stage's name.
    #[schemars(length(max = 63))]
    pub stage: String,
    /// When the release was decided.
    pub at: Time,
}

/// One restore step's progress.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct StepStatus {
    /// The step's name.
    pub name: String,
    /// Its progress.
    #[serde(default)]
    pub phase: ActionPhase,
    /// When it started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When it finished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// How many times it has been started (a retry adds one).
    #[serde(default)]
    pub attempts: u32,
    /// The error, for a failed step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// A token that identifies this step's side effect (a rollout-restart annotation value,
    /// a Job name), so a restarted controller finds it instead of repeating it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// The point in time the step restored the data to, as it reported it
    /// (`restorePoint`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_point: Option<Time>,
    /// Why a restore point the step was declared to report is missing or unreadable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_point_problem: Option<String>,
}

/// A system's release gate as a plan keeps it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateStatus {
    /// SHA-256 of the system's `spec.release` the gate was made for.
    pub release_hash: String,
    /// The pod selector of that `spec.release`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod_selector: Option<LabelSelector>,
    /// Pod selectors the plan gated before `spec.release` changed: their pods stay held
    /// at the verification audience, so narrowing the selector opens nothing (at most 10).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_selectors: Vec<LabelSelector>,
    /// When `spec.release` last changed under the plan: the system went back to the
    /// verification audience, and Approvals made until then count no more for it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_at: Option<Time>,
    /// The stage whose audience the gate admits, as last applied ("none": the
    /// verification audience only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied: Option<String>,
    /// Why the gate could not be applied, as the API server said, while it cannot: the
    /// system is held where it is until a dry run of that gate succeeds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// The stage whose gate could not be applied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_stage: Option<String>,
    /// The drill whose `isolate` fault the gate, as last applied, enforces: it then
    /// admits nobody, whatever stage the system is released at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolated_by: Option<String>,
}

/// A system's soak at the stage it is released at: how long it has been released there
/// with its checks passing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SoakStatus {
    /// The stage it soaks at.
    pub stage: String,
    /// When the current run of passing checks at this stage began: the release, or the
    /// moment a failing check passed again. Unset while a check fails.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Time>,
    /// When the soak ends if the checks keep passing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Time>,
    /// When the soak was done: the system may go on to the next stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<Time>,
    /// How many times a failing check held the system and started its soak again.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub holds: u32,
    /// While a check fails: which, since when and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub held_by: Option<String>,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}

/// A restore of a verified system run again.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RestoredAgain {
    /// When the operator acted on the request.
    pub at: Time,
    /// The step it restored from.
    pub from_step: String,
    /// Whether steps marked `repeatable: false` ran again on `--force`.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub forced: bool,
    /// When it was verified again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verified_at: Option<Time>,
}

/// A check failing again after its system was verified.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Regression {
    /// The check.
    pub check: String,
    /// When it was first seen failing.
    pub started_at: Time,
    /// When the checks all passed again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended_at: Option<Time>,
    /// How long it lasted, in seconds, once it ended.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seconds: Option<u64>,
    /// The error when it was first seen.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Whether the gate was withdrawn to the verification audience.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdrawn: bool,
}

/// One check's result.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct CheckStatus {
    /// The check's name.
    pub name: String,
    /// `Succeeded` means passed.
    #[serde(default)]
    pub phase: ActionPhase,
    /// Attempts made so far.
    #[serde(default)]
    pub attempts: u32,
    /// When the first attempt started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<Time>,
    /// When it passed or finally failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<Time>,
    /// The last error seen; kept once the check passes, as the record of its failures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// When the last attempt finished; the next is due a retry interval later.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_attempt_at: Option<Time>,
    /// When the last failed attempt finished (the time of `lastError`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_failed_at: Option<Time>,
    /// Runs after the check passed (while the system soaks at a stage).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub reruns: u32,
    /// Since when the check, having passed, fails again; unset while it passes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failing_since: Option<Time>,
}

/// What the operator made of one Approval, kept in the plan's status.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ApprovalRecord {
    /// The Approval object's name.
    pub name: String,
    /// The stage it decides.
    pub stage: String,
    /// The systems it decides ("namespace/name"), as it named them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<String>,
    /// Who decided.
    pub approver: String,
    /// `approve` or `reject`.
    pub decision: super::Decision,
    /// Whether it counts.
    pub accepted: bool,
    /// Why it counts or not, for people ("ignored: approver is the plan's requester").
    pub reason: String,
    /// The approver's comment.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub comment: Option<String>,
    /// When the Approval was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at: Option<Time>,
}

/// A manual restore step waiting for people to confirm it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwaitingStep {
    /// The system ("namespace/name").
    pub system: String,
    /// The step.
    pub step: String,
    /// What the people must do.
    pub instructions: String,
    /// How many more distinct people must confirm it.
    pub needed: u32,
    /// How many in all.
    pub required: u32,
    /// Who may confirm, for people.
    pub from: String,
    /// Who has confirmed it so far.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub confirmed_by: Vec<String>,
}

impl std::fmt::Display for AwaitingStep {
    /// "step S of X awaits 1 more confirmation (of 2) from G: INSTRUCTIONS".
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "step {} of {} awaits {} more confirmation{} (of {}) from {}",
            self.step,
            super::short_name(&self.system),
            self.needed,
            if self.needed == 1 { "" } else { "s" },
            self.required,
            self.from
        )?;
        if !self.confirmed_by.is_empty() {
            write!(f, " (confirmed by {})", self.confirmed_by.join(", "))?;
        }
        write!(f, ": {}", self.instructions)
    }
}

/// Verified systems waiting at a release stage for the same thing.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AwaitingStage {
    /// The stage.
    pub stage: String,
    /// The verified systems waiting at it for this ("namespace/name").
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub systems: Vec<String>,
    /// How many more people must approve each of them (0 when a rejection holds them).
    pub needed: u32,
    /// How many approvals a system needs at this stage in all (`approval.required`).
    pub required: u32,
    /// Who may approve, for people ("clinical-safety or duty-managers").
    pub from: String,
    /// The checklist each approver acknowledges.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub checklist: Vec<String>,
    /// When a rejection holds them: the rejection's reason.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub halted: Option<String>,
    /// When they still soak at the stage before: when the soak ends if their checks keep
    /// passing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak_until: Option<Time>,
    /// When a failing check holds them at the stage before: which and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub soak_held: Option<String>,
}

impl std::fmt::Display for AwaitingStage {
    /// "stage S awaits 1 more approval (of 2) from G for a, b", or "stage S halted for a:
    /// REASON" (systems by name when they are in one namespace).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.systems.iter().map(|s| super::short_name(s)).collect();
        let names = names.join(", ");
        if let Some(reason) = &self.halted {
            return write!(f, "stage {} halted for {names}: {reason}", self.stage);
        }
        if let Some(why) = &self.soak_held {
            return write!(
                f,
                "stage {} waits for {names}, held at the stage before: {why}",
                self.stage
            );
        }
        let until = self.soak_until.as_ref().map(|t| {
            t.0.round(k8s_openapi::jiff::Unit::Second)
                .unwrap_or(t.0)
                .to_string()
        });
        match (self.needed, until) {
            (0, Some(until)) => write!(
                f,
                "stage {} waits for {names} to soak at the stage before until {until}",
                self.stage
            ),
            (needed, until) => {
                write!(
                    f,
                    "stage {} awaits {} more approval{} (of {}) from {} for {names}",
                    self.stage,
                    needed,
                    if needed == 1 { "" } else { "s" },
                    self.required,
                    self.from
                )?;
                match until {
                    Some(until) => write!(f, ", soaking until {until}"),
                    None => Ok(()),
                }
            }
        }
    }
}
