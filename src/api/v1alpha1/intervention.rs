//! Intervention: a person's request to pause, resume, abort, retry or restore a plan's
//! system, recorded before it takes effect, or their word that a hand-back item is done. The API server vouches for who asked (an
//! admission policy checks `requester` against the requesting user) and the object never
//! changes, so the plan's record of who intervened cannot be forged or rewritten.

use std::fmt;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{Approver, common::DNS1123_SUBDOMAIN_RULE};

/// A person's request about a RecoveryPlan. `lifeline pause`, `resume`, `abort`, `retry`
/// and `restore` create one, then make the change it names: the operator records the
/// change with the person the Intervention names.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "lifeline.dev",
    version = "v1alpha1",
    kind = "Intervention",
    plural = "interventions",
    shortname = "lintervention",
    category = "lifeline",
    namespaced,
    doc = "A person's request to pause, resume, abort, retry or restore: who asked, vouched for by the API server. Immutable.",
    printcolumn = r#"{"name":"Plan","type":"string","jsonPath":".spec.plan"}"#,
    printcolumn = r#"{"name":"Action","type":"string","jsonPath":".spec.action"}"#,
    printcolumn = r#"{"name":"System","type":"string","jsonPath":".spec.system"}"#,
    printcolumn = r#"{"name":"Requester","type":"string","jsonPath":".spec.requester.username"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("self.spec == oldSelf.spec").message("an Intervention is a record: it cannot be changed; create a new one instead").field_path(".spec")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(self.action == 'retry' || self.action == 'restore' || self.action == 'handBack') == has(self.system)")
    .message("spec.system: a retry, a restore or a hand-back names its system, and only they do"))]
#[x_kube(validation = Rule::new("(self.action == 'handBack') == has(self.item)")
    .message("spec.item: a hand-back names the item done, and only it does"))]
#[x_kube(validation = Rule::new("self.action == 'restore' || (!has(self.fromStep) && !has(self.force))")
    .message("spec.fromStep and spec.force belong to a restore only"))]
pub struct InterventionSpec {
    /// The RecoveryPlan, in the Intervention's namespace.
    #[x_kube(validation = Rule::new(DNS1123_SUBDOMAIN_RULE).message("must be a DNS-1123 name: lower-case letters, digits, '-' and '.'"))]
    #[schemars(length(min = 1, max = 253))]
    pub plan: String,
    /// The uid of that RecoveryPlan: the request is for it only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub plan_uid: Option<String>,
    /// What is asked.
    pub action: InterventionAction,
    /// The system retried or restored ("namespace/name").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 317))]
    pub system: Option<String>,
    /// For a restore: the step it restores from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 63))]
    pub from_step: Option<String>,
    /// For a restore: run steps marked `repeatable: false` as well.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force: Option<bool>,
    /// For a hand-back: the item done, as the system's `release.handBack` words it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 256))]
    pub item: Option<String>,
    /// Why, for the record (for a hand-back, what was done).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 1024))]
    pub reason: Option<String>,
    /// Who asks. Must be the authenticated user creating the Intervention.
    pub requester: Approver,
}

/// What an Intervention asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum InterventionAction {
    /// Start nothing new.
    Pause,
    /// Go on after a pause.
    Resume,
    /// Stop the plan for good.
    Abort,
    /// Resume a failed system.
    Retry,
    /// Restore a verified system again.
    Restore,
    /// Record that a hand-back item of a released system is done.
    HandBack,
}

impl fmt::Display for InterventionAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            InterventionAction::Pause => "pause",
            InterventionAction::Resume => "resume",
            InterventionAction::Abort => "abort",
            InterventionAction::Retry => "retry",
            InterventionAction::Restore => "restore",
            InterventionAction::HandBack => "handBack",
        })
    }
}
