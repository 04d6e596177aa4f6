//! One system's record in a plan's status: its steps, checks, gate, soak, releases,
//! regressions, restores again, data-loss window and hand-back.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, Time};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::{ActionPhase, SystemPhase, is_zero, is_zero_u64};

/// One system's record in a plan.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SystemStatus {
    /// "namespace/name".
    pub name: String,
    /// The system's tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier: Option<crate::api::v1alpha1::Tier>,
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
    /// Why the check was not tried when it was due, while that lasts: "could not ask the
    /// API server: ..." (the operator could not read what the check reads). Nothing counts
    /// against the check meanwhile, nor does its deadline run; cleared by its next attempt.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}
