//! Approval: a person's recorded decision about a plan: release it at a stage, or
//! confirm that a manual restore step is done. Immutable once created.

use std::fmt;

use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{DNS1123_LABEL_RULE, DNS1123_SUBDOMAIN_RULE};

/// A person's decision about a RecoveryPlan. The API server checks that `approver` is the
/// person creating it; the operator checks the stage's approval rule.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "lifeline.dev",
    version = "v1alpha1",
    kind = "Approval",
    plural = "approvals",
    shortname = "lapproval",
    category = "lifeline",
    namespaced,
    doc = "A person's recorded decision: release a plan at a stage, or confirm a manual restore step. Immutable.",
    printcolumn = r#"{"name":"Plan","type":"string","jsonPath":".spec.plan"}"#,
    printcolumn = r#"{"name":"Stage","type":"string","jsonPath":".spec.stage"}"#,
    printcolumn = r#"{"name":"Systems","type":"string","jsonPath":".spec.systems"}"#,
    printcolumn = r#"{"name":"System","type":"string","jsonPath":".spec.system"}"#,
    printcolumn = r#"{"name":"Decision","type":"string","jsonPath":".spec.decision"}"#,
    printcolumn = r#"{"name":"Approver","type":"string","jsonPath":".spec.approver.username"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("self.spec == oldSelf.spec").message("an Approval is immutable: create a new one instead").field_path(".spec")
)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.stage) ? !has(self.system) && !has(self.step) : has(self.system) && has(self.step)")
    .message("set either spec.stage, or both spec.system and spec.step"))]
#[x_kube(validation = Rule::new("has(self.stage) == (has(self.systems) && size(self.systems) > 0)")
    .message("spec.systems: a stage Approval names the systems it decides, and only a stage Approval does"))]
pub struct ApprovalSpec {
    /// The RecoveryPlan, in the Approval's namespace.
    #[x_kube(validation = Rule::new(DNS1123_SUBDOMAIN_RULE).message("must be a DNS-1123 name: lower-case letters, digits, '-' and '.'"))]
    #[schemars(length(min = 1, max = 253))]
    pub plan: String,
    /// The uid of the RecoveryPlan it decides, as `lifeline approve` records it: it counts
    /// for that plan only, never for a later plan of the same name, whatever the clock.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 64))]
    pub plan_uid: Option<String>,
    /// The release stage this decides.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DNS1123_LABEL_RULE).message("must be a DNS-1123 label: lower-case letters, digits and '-'"))]
    #[schemars(length(min = 1, max = 63))]
    pub stage: Option<String>,
    /// The systems this stage decision covers ("name", or "namespace/name" for a system in
    /// another namespace), as `lifeline approve` shows them verified and waiting. A system
    /// verified later waits for a decision that names it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 500), inner(length(min = 1, max = 317)))]
    pub systems: Vec<String>,
    /// The system ("name" or "namespace/name") whose manual step this confirms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 317))]
    pub system: Option<String>,
    /// The manual step this confirms.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DNS1123_LABEL_RULE).message("must be a DNS-1123 label: lower-case letters, digits and '-'"))]
    #[schemars(length(min = 1, max = 63))]
    pub step: Option<String>,
    /// `approve` or `reject`.
    pub decision: Decision,
    /// Why: what the approver saw, or why they rejected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 4096))]
    pub comment: Option<String>,
    /// Checklist items of the stage that the approver acknowledges, verbatim.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 500)))]
    pub acknowledged: Vec<String>,
    /// Who decided. Must be the authenticated user creating the Approval.
    pub approver: Approver,
}

/// `approve` or `reject`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum Decision {
    /// Release the systems at the stage, or confirm the step.
    Approve,
    /// Do not release: holds the systems at the stage, with the comment as the reason,
    /// until the stage's quorum approves them again.
    Reject,
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Decision::Approve => "approve",
            Decision::Reject => "reject",
        })
    }
}

/// The person who decided.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Approver {
    /// Their username, as the API server authenticates them.
    #[schemars(length(min = 1, max = 253))]
    pub username: String,
    /// Their groups, as the API server authenticates them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100), inner(length(min = 1, max = 253)))]
    pub groups: Vec<String>,
}
