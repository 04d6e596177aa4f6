//! RecoveryPlan: one recovery run, and its status, the live record of that run.
//!
//! The spec is here; the status in `status` (the plan's record), `system_status` (each
//! system's record), `approvals` (the Approvals counted and what waits for people) and
//! `phase` (the phases of a plan, a system and a step or check).

mod approvals;
mod phase;
mod status;
mod system_status;

pub use approvals::*;
pub use phase::*;
pub use status::*;
pub use system_status::*;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
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
/// timestamp) retries that system once; `lifeline retry` sets it. For a system in another
/// namespace than the plan's, the namespace heads the key's prefix:
/// `<namespace>.retry.lifeline.dev/<system name>` (a key has one '/').
pub const RETRY_ANNOTATION_PREFIX: &str = "retry.lifeline.dev/";

/// The annotation prefix that asks the operator to restore a verified system again: the
/// plan's annotation `restore.lifeline.dev/<system name>` set to a [`RestoreRequest`] in
/// JSON with a new token; `lifeline restore` sets it
/// (`<namespace>.restore.lifeline.dev/<system name>` for another namespace's system).
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

fn is_zero(n: &u32) -> bool {
    *n == 0
}

fn is_zero_u64(n: &u64) -> bool {
    *n == 0
}
