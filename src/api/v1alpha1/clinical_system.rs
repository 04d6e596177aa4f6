//! ClinicalSystem: one restorable clinical service, what it depends on, how to restore
//! it, how to verify it, and what its release gate controls.

use std::fmt;

use k8s_openapi::{
    api::batch::v1::JobTemplateSpec, apimachinery::pkg::apis::meta::v1::LabelSelector,
};
use kube::{CustomResource, KubeSchema};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use super::common::{
    DNS1123_LABEL_RULE, DNS1123_SUBDOMAIN_RULE, DURATION_MESSAGE, DURATION_RULE, DurationString,
    WorkloadKind, WorkloadRef,
};

/// The default `expectedRecoveryTime` when a system does not give one.
pub const DEFAULT_EXPECTED_RECOVERY_TIME: &str = "5m";

/// A clinical system that lifeline can restore, verify and release to staff: for example
/// the laboratory information system or the electronic patient record.
#[derive(CustomResource, KubeSchema, Clone, Debug, PartialEq, Serialize, Deserialize)]
#[kube(
    group = "lifeline.dev",
    version = "v1alpha1",
    kind = "ClinicalSystem",
    plural = "clinicalsystems",
    shortname = "csys",
    category = "lifeline",
    namespaced,
    doc = "A clinical system that lifeline restores, verifies and releases to staff.",
    status = "ClinicalSystemStatus",
    printcolumn = r#"{"name":"Display Name","type":"string","jsonPath":".spec.displayName"}"#,
    printcolumn = r#"{"name":"Tier","type":"string","jsonPath":".spec.tier"}"#,
    printcolumn = r#"{"name":"Phase","type":"string","jsonPath":".status.phase"}"#,
    printcolumn = r#"{"name":"Released","type":"string","jsonPath":".status.releasedStage"}"#,
    printcolumn = r#"{"name":"Plan","type":"string","jsonPath":".status.plan"}"#,
    printcolumn = r#"{"name":"Verified","type":"date","jsonPath":".status.lastVerified"}"#,
    printcolumn = r#"{"name":"RTO","type":"string","jsonPath":".spec.recoveryTimeObjective"}"#,
    printcolumn = r#"{"name":"Degraded Since","type":"date","priority":1,"jsonPath":".status.degradedSince"}"#,
    printcolumn = r#"{"name":"Data Loss (s)","type":"integer","priority":1,"jsonPath":".status.dataLossSeconds"}"#,
    printcolumn = r#"{"name":"Age","type":"date","jsonPath":".metadata.creationTimestamp"}"#,
    validation = Rule::new("!has(self.spec.dependsOn) || self.spec.dependsOn.all(d, d.name != self.metadata.name || (has(d.namespace) && d.namespace != ''))")
        .message("a system may not depend on itself")
        .field_path(".spec.dependsOn")
)]
#[serde(rename_all = "camelCase")]
pub struct ClinicalSystemSpec {
    /// The name staff know the system by, e.g. "Laboratory Information System".
    #[schemars(length(min = 1, max = 200))]
    pub display_name: String,

    /// What the system does and who relies on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,

    /// The team that owns the system and how to reach them during a recovery.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub owner: Option<Owner>,

    /// How much the hospital depends on the system. When restores compete for capacity,
    /// mission-critical systems start first.
    pub tier: Tier,

    /// The recovery-time objective: how soon after the recovery starts the system must be
    /// verified, e.g. "30m", "4h" or "1h30m".
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub recovery_time_objective: DurationString,

    /// The recovery-point objective: how much of the data entered before the incident the
    /// trust accepts losing, e.g. "24h" (a nightly backup). A restore step that reports the
    /// point its data was restored to (`restore.steps[].restorePoint`) gives the system's
    /// data-loss window, which is compared with this.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub recovery_point_objective: Option<DurationString>,

    /// How long restore plus verification usually takes, e.g. "20m". Used for planning
    /// (the critical path) and by the simulator. Default: 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub expected_recovery_time: Option<DurationString>,

    /// Other ClinicalSystems this one needs. A hard dependency must be verified before
    /// this system's restore starts; an optional one does not hold the restore back.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 100))]
    pub depends_on: Vec<Dependency>,

    /// How to bring the system back: ordered steps, run one after another.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore: Option<Restore>,

    /// How to prove the system works before anything that depends on it starts, and
    /// before it is released to staff.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verify: Option<Verify>,

    /// What the release gate controls: the pods that receive staff traffic once the system
    /// is released, and the Service and Ingress that carry it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub release: Option<Release>,
}

/// A system's state as the operator last saw it, from the plan that holds it (written by
/// the operator; the plan's status has the detail). `kubectl get csys` shows it.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClinicalSystemStatus {
    /// The RecoveryPlan that holds the system ("namespace/name").
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan: Option<String>,
    /// Its phase in that plan.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phase: Option<super::SystemPhase>,
    /// Why it is in that phase, for people. While it waits for its dependencies, only that:
    /// the plan's status names the ones still awaited.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// The last stage it was released at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub released_stage: Option<String>,
    /// When every check last passed after a restore.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_verified: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// While it is Degraded: since when.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub degraded_since: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
    /// Whether it was verified within its recovery-time objective.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objective_met: Option<bool>,
    /// Its data-loss window, in seconds: from the point its data was restored to, to the
    /// incident's start.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_loss_seconds: Option<u64>,
}

/// How much the hospital depends on a system.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Tier {
    /// Patients are harmed within minutes without it (e.g. ED tracking, identity).
    MissionCritical,
    /// Care is unsafe or badly delayed within hours (e.g. pathology results).
    Critical,
    /// Work degrades to paper without immediate harm (e.g. bed management).
    Important,
    /// Can wait until the others are back (e.g. outpatient letters).
    Deferrable,
}

impl Tier {
    /// Every tier, most urgent first.
    pub const ALL: [Tier; 4] = [
        Tier::MissionCritical,
        Tier::Critical,
        Tier::Important,
        Tier::Deferrable,
    ];

    /// The tier as written in manifests.
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::MissionCritical => "mission-critical",
            Tier::Critical => "critical",
            Tier::Important => "important",
            Tier::Deferrable => "deferrable",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The team that owns a system.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Owner {
    /// The owning team, e.g. "Pathology IT".
    #[schemars(length(min = 1))]
    pub team: String,
    /// How to reach them: a phone extension, pager or channel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact: Option<String>,
}

/// A dependency on another ClinicalSystem.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Dependency {
    /// The ClinicalSystem's name.
    #[x_kube(validation = Rule::new(DNS1123_SUBDOMAIN_RULE).message("must be a DNS-1123 name: lower-case letters, digits, '-' and '.'"))]
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// Its namespace. Default: the namespace of the system that depends on it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DNS1123_LABEL_RULE).message("must be a DNS-1123 label: lower-case letters, digits and '-'"))]
    #[schemars(length(max = 63))]
    pub namespace: Option<String>,
    /// An optional dependency improves the system but does not hold its restore back.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub optional: bool,
}

/// How to restore a system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Restore {
    /// Steps run in order; each must succeed before the next starts.
    #[serde(default)]
    #[schemars(length(max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub steps: Vec<RestoreStep>,
    /// How long one attempt of the whole restore (the first, a retry, a restore again)
    /// may take before the system is marked Failed, e.g. "30m". Time the plan spends
    /// paused does not count.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub timeout: Option<DurationString>,
}

/// One restore step. Exactly one of `scale`, `rolloutRestart`, `job`, `waitFor` and
/// `manual` is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.scale), has(self.rolloutRestart), has(self.job), has(self.waitFor), has(self.manual)].filter(x, x).size() == 1")
    .message("a restore step must set exactly one of scale, rolloutRestart, job, waitFor or manual"))]
#[x_kube(validation = Rule::new("!has(self.restorePoint) || !has(self.restorePoint.terminationMessage) || !self.restorePoint.terminationMessage || has(self.job)")
    .message("restorePoint.terminationMessage: only a job step's pod writes a termination message"))]
#[x_kube(validation = Rule::new("!has(self.restorePoint) || !has(self.restorePoint.field) || has(self.restorePoint.object) || has(self.waitFor)")
    .message("restorePoint.object: name the object that holds the field (only a waitFor step's own object is assumed)"))]
pub struct RestoreStep {
    /// The step's name, unique within the system (it names the Job a `job` step creates).
    #[x_kube(validation = Rule::new(DNS1123_LABEL_RULE).message("must be a DNS-1123 label: lower-case letters, digits and '-'"))]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// Scale a Deployment or StatefulSet and wait until it is available at that size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleStep>,
    /// Restart a Deployment or StatefulSet's pods and wait until the rollout completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rollout_restart: Option<WorkloadRef>,
    /// Run a Job (a database integrity check, a restore from backup) and wait until it
    /// completes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Box<JobStep>>,
    /// Wait until an object reaches a condition.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub wait_for: Option<WaitForStep>,
    /// A step a person does and confirms with an Approval naming this system and step
    /// (for systems outside the cluster).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub manual: Option<ManualStep>,
    /// Where the step reports the point in time its data was restored to (the backup's
    /// time), from which lifeline works out the system's data-loss window.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restore_point: Option<RestorePointSource>,
    /// False for a step that must not run twice without someone insisting, such as a
    /// restore from backup (it overwrites what staff entered since): `lifeline restore`
    /// refuses to run it again without `--force`. Default true.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repeatable: Option<bool>,
}

/// Where a restore step reports the point its data was restored to. Exactly one of
/// `terminationMessage` and `field` is set.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("(has(self.terminationMessage) && self.terminationMessage) != has(self.field)")
    .message("set exactly one of terminationMessage: true and field"))]
pub struct RestorePointSource {
    /// For a `job` step: its pod writes `{"restorePoint": "<RFC 3339 time>"}` as its
    /// termination message (to `/dev/termination-log`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub termination_message: Option<bool>,
    /// The field of an object that holds the time (RFC 3339), as a dotted path, e.g.
    /// "status.recoveryTarget.targetTime".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new("self.matches('^[A-Za-z0-9_-]+(\\\\.[A-Za-z0-9_-]+)*$')").message("must be a dotted path of field names, e.g. status.recoveryTarget.targetTime"))]
    #[schemars(length(min = 1, max = 253))]
    pub field: Option<String>,
    /// The object that holds `field`, in the system's namespace. Default: a `waitFor`
    /// step's own object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object: Option<ObjectRef>,
}

/// An object in the system's namespace, of any kind.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ObjectRef {
    /// The object's apiVersion, e.g. "postgresql.cnpg.io/v1".
    #[schemars(length(min = 1, max = 253))]
    pub api_version: String,
    /// Its kind.
    #[schemars(length(min = 1, max = 63))]
    pub kind: String,
    /// Its name.
    #[x_kube(validation = Rule::new(DNS1123_SUBDOMAIN_RULE).message("must be a DNS-1123 name: lower-case letters, digits, '-' and '.'"))]
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
}

/// What a restore step does, read from a [`RestoreStep`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StepAction<'a> {
    /// See [`RestoreStep::scale`].
    Scale(&'a ScaleStep),
    /// See [`RestoreStep::rollout_restart`].
    RolloutRestart(&'a WorkloadRef),
    /// See [`RestoreStep::job`].
    Job(&'a JobStep),
    /// See [`RestoreStep::wait_for`].
    WaitFor(&'a WaitForStep),
    /// See [`RestoreStep::manual`].
    Manual(&'a ManualStep),
}

impl RestoreStep {
    /// The one action this step sets, or `None` when it sets none or several (the CRD
    /// schema rejects those; files read by the CLI are checked here).
    pub fn action(&self) -> Option<StepAction<'_>> {
        exactly_one([
            self.scale.as_ref().map(StepAction::Scale),
            self.rollout_restart
                .as_ref()
                .map(StepAction::RolloutRestart),
            self.job.as_deref().map(StepAction::Job),
            self.wait_for.as_ref().map(StepAction::WaitFor),
            self.manual.as_ref().map(StepAction::Manual),
        ])
    }
}

/// The only `Some` of `set`, or `None` when none or several are set.
fn exactly_one<T>(set: impl IntoIterator<Item = Option<T>>) -> Option<T> {
    let mut found = set.into_iter().flatten();
    match (found.next(), found.next()) {
        (Some(a), None) => Some(a),
        _ => None,
    }
}

/// Scale a workload.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct ScaleStep {
    /// `Deployment` or `StatefulSet`.
    pub kind: WorkloadKind,
    /// The workload's name, in the system's namespace.
    #[x_kube(validation = Rule::new(DNS1123_SUBDOMAIN_RULE).message("must be a DNS-1123 name: lower-case letters, digits, '-' and '.'"))]
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The number of replicas to run, 0 to 1000.
    #[schemars(range(min = 0, max = 1000))]
    pub replicas: i32,
}

/// Run a Job.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct JobStep {
    /// A `batch/v1` JobTemplateSpec (`metadata` and `spec`). The Job is created with a
    /// deterministic name derived from the plan, system and step.
    #[schemars(schema_with = "crate::api::v1alpha1::recovery_plan::preserve_object_schema")]
    pub template: JobTemplateSpec,
}

/// Wait until an object reaches a condition.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaitForStep {
    /// The object's apiVersion, e.g. "apps/v1" or "postgresql.cnpg.io/v1".
    #[schemars(length(min = 1, max = 317))]
    pub api_version: String,
    /// The object's kind.
    #[schemars(length(min = 1, max = 63))]
    pub kind: String,
    /// The object's name, in the system's namespace.
    #[x_kube(validation = Rule::new(DNS1123_SUBDOMAIN_RULE).message("must be a DNS-1123 name: lower-case letters, digits, '-' and '.'"))]
    #[schemars(length(min = 1, max = 253))]
    pub name: String,
    /// The condition type in `status.conditions`, e.g. "Ready" or "Available".
    #[schemars(length(min = 1, max = 316))]
    pub condition: String,
    /// The status the condition must have. Default: "True".
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(max = 64))]
    pub status: Option<String>,
}

/// A step that a person does and then confirms.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ManualStep {
    /// What the person must do, in words they can follow under pressure.
    #[schemars(length(min = 1, max = 4096))]
    pub instructions: String,
    /// How many distinct people must confirm it (two custodians for a vault unseal).
    /// Default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 1, max = 10))]
    pub required: Option<u32>,
    /// If set, only people in one of these groups may confirm it.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20), inner(length(min = 1, max = 253)))]
    pub approver_groups: Vec<String>,
}

/// How to verify a system.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verify {
    /// Checks that must all pass. They run after the restore, and again are recorded in
    /// status so whoever approves release can see what was tested.
    #[serde(default)]
    #[schemars(length(max = 50))]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["name"]))]
    pub checks: Vec<Check>,
    /// How long to wait between attempts of a failing check, at least 1s. Default: 10s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    #[x_kube(validation = Rule::new("!self.matches('^(0+(ms|s|m|h))+$') && !self.matches('^[0-9]{1,3}ms$')").message("must be at least 1s"))]
    pub retry_interval: Option<DurationString>,
    /// How long a check may keep failing before the system is marked Failed. Default: 5m.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub deadline: Option<DurationString>,
    /// How often the checks run again once the system is verified, for as long as the
    /// plan lasts, at least 1s. Default: 1m. A failing one makes the system Degraded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    #[x_kube(validation = Rule::new("!self.matches('^(0+(ms|s|m|h))+$') && !self.matches('^[0-9]{1,3}ms$')").message("must be at least 1s"))]
    pub monitor_interval: Option<DurationString>,
}

/// One verification check. Exactly one of `http`, `tcp`, `job` and `workloadReady` is set.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.http), has(self.tcp), has(self.job), has(self.workloadReady)].filter(x, x).size() == 1")
    .message("a check must set exactly one of http, tcp, job or workloadReady"))]
pub struct Check {
    /// The check's name, unique within the system.
    #[x_kube(validation = Rule::new(DNS1123_LABEL_RULE).message("must be a DNS-1123 label: lower-case letters, digits and '-'"))]
    #[schemars(length(min = 1, max = 63))]
    pub name: String,
    /// An HTTP request the operator makes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http: Option<HttpCheck>,
    /// A TCP connection the operator opens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<TcpCheck>,
    /// A Job that must complete: a synthetic patient journey, for example.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job: Option<Box<JobStep>>,
    /// A Deployment or StatefulSet that must be fully available.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub workload_ready: Option<WorkloadRef>,
}

/// What a check does, read from a [`Check`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum CheckAction<'a> {
    /// See [`Check::http`].
    Http(&'a HttpCheck),
    /// See [`Check::tcp`].
    Tcp(&'a TcpCheck),
    /// See [`Check::job`].
    Job(&'a JobStep),
    /// See [`Check::workload_ready`].
    WorkloadReady(&'a WorkloadRef),
}

impl Check {
    /// The one action this check sets, or `None` when it sets none or several.
    pub fn action(&self) -> Option<CheckAction<'_>> {
        exactly_one([
            self.http.as_ref().map(CheckAction::Http),
            self.tcp.as_ref().map(CheckAction::Tcp),
            self.job.as_deref().map(CheckAction::Job),
            self.workload_ready.as_ref().map(CheckAction::WorkloadReady),
        ])
    }
}

/// An HTTP check.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct HttpCheck {
    /// The URL to GET, e.g. "http://lims.pathology.svc:8080/healthz".
    #[x_kube(validation = Rule::new("self.startsWith('http://') || self.startsWith('https://')").message("must be an http:// or https:// URL"))]
    #[schemars(length(min = 1, max = 2048))]
    pub url: String,
    /// Status codes that count as a pass. Default: [200].
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 20))]
    pub expected_status: Vec<u16>,
    /// Text the response body must contain (at most 1024 characters). The status says
    /// whether it did, never what the body held.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(length(min = 1, max = 1024))]
    pub body_contains: Option<String>,
    /// Follow redirects, on the same host and port only (at most 5). Default: a redirect
    /// is the answer, which passes only if its status is expected.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub follow_redirects: bool,
    /// How long one attempt may take. Default: 5s.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[x_kube(validation = Rule::new(DURATION_RULE).message(DURATION_MESSAGE))]
    pub timeout: Option<DurationString>,
}

/// A TCP check: the port accepts a connection.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct TcpCheck {
    /// Host name or IP address.
    #[schemars(length(min = 1, max = 253))]
    pub host: String,
    /// Port, 1 to 65535.
    #[schemars(range(min = 1, max = 65535))]
    pub port: u16,
}

/// What the release gate of a system controls.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Release {
    /// The pods that serve staff. The release gate's NetworkPolicy selects them.
    #[schemars(schema_with = "super::common::bounded_label_selector_schema")]
    pub pod_selector: LabelSelector,
    /// The Service in front of those pods, labelled with the released stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service: Option<String>,
    /// The Ingress that exposes the system to staff, labelled with the released stage.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ingress: Option<String>,
    /// After a restore again (`lifeline restore`), release the system again only on new
    /// approvals. Default false: once verified it goes straight back to the stage it was
    /// last approved at.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub reapprove_after_restore: bool,
    /// When a check fails again after release, drop the gate back to the verification
    /// audience (and release again only on new approvals). Default false: staff keep
    /// access, as the paper fallback may be worse; the system is marked Degraded.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub withdraw_on_failure: bool,
    /// What staff must do once the system is back, each a short instruction, e.g.
    /// "back-enter paper results since the restore point". Every release notice lists
    /// them; `lifeline handback` records a person completing one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(length(max = 30), inner(length(min = 1, max = 256)))]
    #[schemars(extend("x-kubernetes-list-type" = "set"))]
    pub hand_back: Vec<String>,
}

impl ClinicalSystemSpec {
    /// The restore steps, empty when there are none.
    pub fn steps(&self) -> &[RestoreStep] {
        self.restore
            .as_ref()
            .map(|r| r.steps.as_slice())
            .unwrap_or(&[])
    }

    /// The verification checks, empty when there are none.
    pub fn checks(&self) -> &[Check] {
        self.verify
            .as_ref()
            .map(|v| v.checks.as_slice())
            .unwrap_or(&[])
    }
}
