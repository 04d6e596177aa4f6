//! What a plan's status records of approvals: each Approval the operator counted, and
//! what waits for people (a manual step, a release stage).

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

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
    pub decision: crate::api::v1alpha1::Decision,
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
            crate::api::v1alpha1::short_name(&self.system),
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
        let names: Vec<&str> = self
            .systems
            .iter()
            .map(|s| crate::api::v1alpha1::short_name(s))
            .collect();
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
