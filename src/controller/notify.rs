//! Webhook notifications: the transitions people act on (a stage awaits approval or is
//! halted by a rejection, a system failed or was released, with its release notice, a plan
//! finished; a drill waits, is refused, stopped or finished) sent as a JSON POST to a
//! configured URL.
//!
//! The reconcile never waits for a webhook: it queues the notification and moves on. A
//! background task delivers the queue in order, retrying each notification with
//! exponential backoff; when the queue is full, new notifications are dropped with a
//! warning and counted in `lifeline_notifications_total{outcome="dropped"}`. Delivery is
//! at least once per transition and process: receivers deduplicate on `id`, which is
//! deterministic (the plan's uid, the reason and what it is about).

use std::{sync::Arc, time::Duration};

use kube::{Resource, ResourceExt};
use serde::Serialize;
use tokio::sync::mpsc;
use tracing::{debug, warn};

use super::metrics::Metrics;
use crate::api::v1alpha1::{RecoveryPlan, RecoveryPlanStatus};

/// How many notifications wait for delivery before new ones are dropped.
pub const QUEUE: usize = 256;

/// Where and how to deliver notifications.
#[derive(Clone, Debug)]
pub struct NotifyOptions {
    /// The URL every notification is POSTed to.
    pub url: reqwest::Url,
    /// Attempts per notification, the first included.
    pub attempts: u32,
    /// The pause after the first failed attempt; it doubles after each, up to a minute.
    pub backoff: Duration,
    /// How long one POST may take before it counts as failed.
    pub timeout: Duration,
}

impl NotifyOptions {
    /// Defaults for `url`: 6 attempts, backing off from 1 second (about a minute in all),
    /// 10 seconds per attempt.
    pub fn new(url: reqwest::Url) -> Self {
        Self {
            url,
            attempts: 6,
            backoff: Duration::from_secs(1),
            timeout: Duration::from_secs(10),
        }
    }
}

/// The object a notification is about: its namespace and name.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct NamedRef {
    /// The namespace.
    pub namespace: String,
    /// The name.
    pub name: String,
}

/// One notification, as POSTed (`application/json`).
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Notification {
    /// Deterministic: the same transition of the same plan always has the same id.
    pub id: String,
    /// The Event reason: `AwaitingApproval`, `SystemFailed`, `PlanSucceeded`, ...
    pub reason: String,
    /// `Normal` or `Warning`, as the Event.
    pub severity: String,
    /// What happened, in words (the Event's note).
    pub message: String,
    /// The plan, for a plan's transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub plan: Option<NamedRef>,
    /// The drill, for a drill's transition.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub drill: Option<NamedRef>,
    /// The plan's (or drill's) phase after the transition.
    pub phase: String,
    /// The system it is about, "namespace/name", if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// What the plan awaits and from whom (the plan's `status.awaiting`).
    pub awaiting: Vec<crate::api::v1alpha1::AwaitingStage>,
    /// Systems verified of all, "12/24".
    pub progress: String,
    /// For `SystemReleased`: the release notice (to whom, what was tested, the data lost,
    /// what staff must do).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notice: Option<crate::engine::notice::ReleaseNotice>,
}

/// The Event reasons that are also sent to the webhook.
pub const NOTIFIED: &[&str] = &[
    "AwaitingApproval",
    "StageRejected",
    "SystemFailed",
    "SystemBlocked",
    "SoakHeld",
    "SystemDegraded",
    "SystemRecovered",
    "SystemReleased",
    "StepAwaitingConfirmation",
    "PlanSucceeded",
    "PlanFailed",
    "PlanAborted",
];

/// The notification for an Event about `plan`, if its reason is one that is notified.
pub fn for_event(
    plan: &RecoveryPlan,
    status: &RecoveryPlanStatus,
    event: &kube::runtime::events::Event,
) -> Option<Notification> {
    if !NOTIFIED.contains(&event.reason.as_str()) {
        return None;
    }
    let system = event.secondary.as_ref().and_then(|r| {
        if r.kind.as_deref() != Some("ClinicalSystem") {
            return None;
        }
        Some(format!(
            "{}/{}",
            r.namespace.as_deref()?,
            r.name.as_deref()?
        ))
    });
    let uid = plan.meta().uid.clone().unwrap_or_else(|| plan.name_any());
    // A stage awaits approval (or halts) stage after stage: its field path in the plan
    // ("spec.stages{pilot-ward}") tells them apart.
    let about = match &system {
        // One system's Events told apart by their field path (each hold of a soak).
        Some(s) => match event
            .secondary
            .as_ref()
            .and_then(|r| r.field_path.as_deref())
        {
            Some(path) => format!("{s}/{path}"),
            None => s.clone(),
        },
        None => event
            .secondary
            .as_ref()
            .and_then(|r| r.field_path.clone())
            .unwrap_or_default(),
    };
    Some(Notification {
        id: format!("{uid}/{}/{about}", event.reason),
        reason: event.reason.clone(),
        severity: match event.type_ {
            kube::runtime::events::EventType::Warning => "Warning".into(),
            kube::runtime::events::EventType::Normal => "Normal".into(),
        },
        message: event.note.clone().unwrap_or_default(),
        plan: Some(NamedRef {
            namespace: plan.namespace().unwrap_or_default(),
            name: plan.name_any(),
        }),
        drill: None,
        phase: status.phase.to_string(),
        system,
        awaiting: status.awaiting.clone(),
        progress: status.progress.clone().unwrap_or_else(|| "0/0".into()),
        notice: None,
    })
}

/// The drill Event reasons that are also sent to the webhook.
pub const NOTIFIED_DRILL: &[&str] = &[
    "DrillWaiting",
    "DrillRefused",
    "DrillStopped",
    "DrillFinished",
];

/// The notification for a drill's Event, if its reason is one that is notified. `phase`
/// is the drill's phase after it.
pub fn for_drill_event(
    drill: &crate::api::v1alpha1::RecoveryDrill,
    phase: &str,
    event: &kube::runtime::events::Event,
) -> Option<Notification> {
    if !NOTIFIED_DRILL.contains(&event.reason.as_str()) {
        return None;
    }
    let uid = drill.meta().uid.clone().unwrap_or_else(|| drill.name_any());
    let message = event.note.clone().unwrap_or_default();
    Some(Notification {
        id: format!("{uid}/{}/{message}", event.reason),
        reason: event.reason.clone(),
        severity: match event.type_ {
            kube::runtime::events::EventType::Warning => "Warning".into(),
            kube::runtime::events::EventType::Normal => "Normal".into(),
        },
        message,
        plan: None,
        drill: Some(NamedRef {
            namespace: drill.namespace().unwrap_or_default(),
            name: drill.name_any(),
        }),
        phase: phase.to_string(),
        system: None,
        awaiting: Vec::new(),
        progress: String::new(),
        notice: None,
    })
}

/// Queues notifications for delivery by a background task.
#[derive(Clone)]
pub struct Notifier {
    tx: mpsc::Sender<Notification>,
    metrics: Arc<Metrics>,
}

impl Notifier {
    /// Starts the delivery task (on the current Tokio runtime) and returns its queue.
    pub fn spawn(opts: NotifyOptions, metrics: Arc<Metrics>) -> anyhow::Result<Self> {
        use anyhow::Context as _;
        let http = reqwest::Client::builder()
            .user_agent(concat!("lifeline/", env!("CARGO_PKG_VERSION")))
            .timeout(opts.timeout)
            .build()
            .context("build the HTTP client for notifications")?;
        let (tx, mut rx) = mpsc::channel::<Notification>(QUEUE);
        let delivery_metrics = metrics.clone();
        tokio::spawn(async move {
            while let Some(n) = rx.recv().await {
                let outcome = deliver(&http, &opts, &n).await;
                delivery_metrics.notification(outcome);
            }
        });
        Ok(Self { tx, metrics })
    }

    /// Queues `n`; never waits. A full queue drops it, with a warning.
    pub fn send(&self, n: Notification) {
        if let Err(e) = self.tx.try_send(n) {
            let n = match e {
                mpsc::error::TrySendError::Full(n) | mpsc::error::TrySendError::Closed(n) => n,
            };
            warn!(id = %n.id, reason = %n.reason, "notification queue full; dropped");
            self.metrics.notification("dropped");
        }
    }
}

/// POSTs `n`, retrying with backoff; the outcome for the metric.
async fn deliver(http: &reqwest::Client, opts: &NotifyOptions, n: &Notification) -> &'static str {
    let body = match serde_json::to_vec(n) {
        Ok(b) => b,
        Err(e) => {
            warn!(id = %n.id, error = %e, "could not encode a notification");
            return "failed";
        }
    };
    let mut pause = opts.backoff;
    for attempt in 1..=opts.attempts.max(1) {
        let result = http
            .post(opts.url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/json")
            .body(body.clone())
            .send()
            .await;
        let retry = match result {
            Ok(r) if r.status().is_success() => {
                debug!(id = %n.id, attempt, "notification delivered");
                return "delivered";
            }
            Ok(r) => {
                let status = r.status();
                warn!(id = %n.id, attempt, %status, url = %opts.url, "the webhook refused a notification");
                // A client error other than timeout or rate limiting will not go away.
                status.is_server_error() || status == 408 || status == 429
            }
            Err(e) => {
                warn!(id = %n.id, attempt, error = %e, url = %opts.url, "could not deliver a notification");
                true
            }
        };
        if !retry || attempt == opts.attempts {
            break;
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_secs(60));
    }
    warn!(id = %n.id, reason = %n.reason, "notification given up");
    "failed"
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::PlanPhase;
    use kube::runtime::events::{Event, EventType};

    fn plan() -> RecoveryPlan {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
            "metadata": { "name": "northern-care-recovery", "namespace": "northern-care", "uid": "u-1" },
            "spec": { "systems": { "names": ["pas"] } }
        }))
        .expect("a plan")
    }

    fn event(reason: &str) -> Event {
        Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some("plan is AwaitingApproval: 12/24 systems verified".into()),
            action: "Reconcile".into(),
            secondary: None,
        }
    }

    #[test]
    fn awaiting_approval_is_notified_with_what_is_awaited() {
        let status = RecoveryPlanStatus {
            phase: PlanPhase::AwaitingApproval,
            awaiting: vec![crate::api::v1alpha1::AwaitingStage {
                stage: "pilot-ward".into(),
                systems: vec!["northern-care/epr".into()],
                needed: 1,
                required: 1,
                from: "clinical-safety".into(),
                checklist: vec![],
                ..Default::default()
            }],
            progress: Some("12/24".into()),
            ..Default::default()
        };
        let mut ev = event("AwaitingApproval");
        ev.note = Some("stage pilot-ward awaits 1 more approval (of 1)".into());
        ev.secondary = Some(k8s_openapi::api::core::v1::ObjectReference {
            kind: Some("RecoveryPlan".into()),
            name: Some("northern-care-recovery".into()),
            field_path: Some("spec.stages{pilot-ward}".into()),
            ..Default::default()
        });
        let n = for_event(&plan(), &status, &ev).expect("notified");
        assert_eq!(n.id, "u-1/AwaitingApproval/spec.stages{pilot-ward}");
        assert_eq!(n.system, None, "a stage's Event is about no system");
        assert_eq!(n.phase, "AwaitingApproval");
        assert_eq!(
            n.plan.as_ref().map(|p| p.name.as_str()),
            Some("northern-care-recovery")
        );
        assert_eq!(n.progress, "12/24");
        let json = serde_json::to_value(&n).expect("json");
        assert_eq!(json["awaiting"][0]["stage"], "pilot-ward");
        assert_eq!(json["awaiting"][0]["needed"], 1);
        assert_eq!(json["awaiting"][0]["systems"][0], "northern-care/epr");
        assert!(json.get("system").is_none());
        assert!(json.get("drill").is_none());
    }

    #[test]
    fn a_finished_drill_is_notified_and_a_started_one_is_not() {
        let drill: crate::api::v1alpha1::RecoveryDrill =
            serde_json::from_value(serde_json::json!({
                "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryDrill",
                "metadata": { "name": "weekly", "namespace": "staging", "uid": "d-1" },
                "spec": { "systems": { "names": ["lims"] },
                          "faults": [{ "system": "lims", "scaleToZero": {} }] }
            }))
            .expect("a drill");
        let mut ev = event("DrillFinished");
        ev.note = Some("Passed: all 1 systems recovered within their objectives".into());
        let n = for_drill_event(&drill, "Finished", &ev).expect("notified");
        assert_eq!(
            n.id,
            "d-1/DrillFinished/Passed: all 1 systems recovered within their objectives"
        );
        let json = serde_json::to_value(&n).expect("json");
        assert_eq!(json["drill"]["name"], "weekly");
        assert!(json.get("plan").is_none());
        assert_eq!(
            for_drill_event(&drill, "Injecting", &event("DrillStarted")),
            None
        );
    }

    /// The plan's model with its one system `lab` in northern-care, and a reference to it.
    fn lab_model() -> (
        crate::engine::PlanModel,
        k8s_openapi::api::core::v1::ObjectReference,
    ) {
        let spec: crate::api::v1alpha1::ClinicalSystemSpec =
            serde_json::from_value(serde_json::json!({
                "displayName": "Lab", "tier": "critical", "recoveryTimeObjective": "1h",
                "restore": { "steps": [{ "name": "unseal", "manual": { "instructions": "Two custodians unseal the key store", "required": 2 } }] },
                "verify": { "checks": [{ "name": "ready", "workloadReady": { "kind": "Deployment", "name": "lab" } }] }
            }))
            .expect("a spec");
        let all = [crate::engine::SystemSource {
            namespace: "northern-care",
            name: "lab",
            spec: &spec,
            origin: "test",
        }];
        let model = crate::engine::plan(
            &all,
            &["northern-care/lab".to_string()],
            crate::engine::PlanSettings::default(),
        )
        .expect("a model");
        let plan_ref = k8s_openapi::api::core::v1::ObjectReference {
            kind: Some("RecoveryPlan".into()),
            name: Some("northern-care-recovery".into()),
            namespace: Some("northern-care".into()),
            ..Default::default()
        };
        (model, plan_ref)
    }

    /// The one notification among the Events of the change from `prev` to `next`.
    fn notified(prev: &RecoveryPlanStatus, next: &RecoveryPlanStatus) -> Vec<Notification> {
        let (model, plan_ref) = lab_model();
        crate::controller::plan::events::transitions(&model, &plan_ref, prev, next)
            .iter()
            .filter_map(|ev| for_event(&plan(), next, ev))
            .collect()
    }

    #[test]
    fn a_released_system_whose_check_fails_again_is_notified_as_degraded_each_regression() {
        use crate::api::v1alpha1::{SystemPhase, SystemStatus};
        let lab = |phase, regressions, message: Option<&str>| RecoveryPlanStatus {
            phase: PlanPhase::Succeeded,
            progress: Some("1/1".into()),
            systems: vec![SystemStatus {
                name: "northern-care/lab".into(),
                phase,
                verified_at: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(
                    "2026-01-01T00:10:00Z".parse().expect("a timestamp"),
                )),
                regression_count: regressions,
                message: message.map(str::to_string),
                ..Default::default()
            }],
            ..Default::default()
        };
        let released = lab(SystemPhase::Released, 0, None);
        let degraded = lab(
            SystemPhase::Degraded,
            1,
            Some("check 'ready' fails again: Deployment northern-care/lab is scaled to 0"),
        );
        let n = notified(&released, &degraded);
        assert_eq!(n.len(), 1, "{n:#?}");
        let n = &n[0];
        assert_eq!(n.reason, "SystemDegraded");
        assert_eq!(n.severity, "Warning");
        assert_eq!(n.system.as_deref(), Some("northern-care/lab"));
        assert_eq!(
            n.id,
            "u-1/SystemDegraded/northern-care/lab/status.regressions{1}"
        );
        assert!(
            n.message.contains("northern-care/lab")
                && n.message
                    .contains("Deployment northern-care/lab is scaled to 0"),
            "{}",
            n.message
        );
        // Still degraded at the next reconcile: not notified again.
        assert_eq!(notified(&degraded, &degraded), vec![]);
        // A second regression, after the first ended, is its own notification.
        let again = lab(SystemPhase::Degraded, 2, Some("check 'ready' fails again"));
        let second = notified(&lab(SystemPhase::Released, 1, None), &again);
        let degraded_ids: Vec<&str> = second
            .iter()
            .filter(|n| n.reason == "SystemDegraded")
            .map(|n| n.id.as_str())
            .collect();
        assert_eq!(
            degraded_ids,
            ["u-1/SystemDegraded/northern-care/lab/status.regressions{2}"]
        );
    }

    #[test]
    fn a_manual_step_coming_to_wait_for_people_is_notified_with_its_instructions() {
        use crate::api::v1alpha1::{AwaitingStep, SystemPhase, SystemStatus};
        let restoring = |awaiting: Vec<AwaitingStep>| RecoveryPlanStatus {
            phase: PlanPhase::Running,
            progress: Some("0/1".into()),
            systems: vec![SystemStatus {
                name: "northern-care/lab".into(),
                phase: SystemPhase::Restoring,
                ..Default::default()
            }],
            awaiting_steps: awaiting,
            ..Default::default()
        };
        let waiting = AwaitingStep {
            system: "northern-care/lab".into(),
            step: "unseal".into(),
            instructions: "Two custodians unseal the key store".into(),
            needed: 2,
            required: 2,
            from: "anyone who may create Approvals here".into(),
            confirmed_by: vec![],
        };
        let before = restoring(vec![]);
        let after = restoring(vec![waiting.clone()]);
        let n: Vec<Notification> = notified(&before, &after)
            .into_iter()
            .filter(|n| n.reason == "StepAwaitingConfirmation")
            .collect();
        assert_eq!(n.len(), 1, "{n:#?}");
        let n = &n[0];
        assert_eq!(n.severity, "Normal");
        assert_eq!(n.system.as_deref(), Some("northern-care/lab"));
        assert_eq!(
            n.id,
            "u-1/StepAwaitingConfirmation/northern-care/lab/spec.restore.steps{unseal}"
        );
        assert_eq!(
            n.message,
            "step unseal of lab awaits 2 more confirmations (of 2) from anyone who may create Approvals here: Two custodians unseal the key store"
        );
        // One confirmation in: the step still waits, and is not notified again.
        let one = restoring(vec![AwaitingStep {
            needed: 1,
            confirmed_by: vec!["kim".into()],
            ..waiting
        }]);
        assert!(
            notified(&after, &one)
                .iter()
                .all(|n| n.reason != "StepAwaitingConfirmation"),
            "a step already waiting is not notified again"
        );
    }

    #[test]
    fn routine_transitions_are_not_notified() {
        let status = RecoveryPlanStatus::default();
        for reason in ["RestoreStarted", "SystemVerified", "PlanRunning"] {
            assert_eq!(
                for_event(&plan(), &status, &event(reason)),
                None,
                "{reason}"
            );
        }
    }
}

#[cfg(test)]
mod release_notice_tests {
    use super::*;
    use crate::api::v1alpha1::{
        ActionPhase, CheckStatus, DataLoss, HandBackItem, PlanPhase, Stage, StageRelease,
        SystemPhase, SystemStatus,
    };
    use crate::controller::plan::events::told;
    use crate::engine::PlanModel;
    use k8s_openapi::api::core::v1::ObjectReference;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn t(s: &str) -> Time {
        Time(s.parse().expect("a time"))
    }

    /// pas, restored to 5 h before the incident (objective 24 h), one hand-back item of
    /// two done; verified, or released at stage ward.
    fn pas(released: bool) -> SystemStatus {
        SystemStatus {
            name: "northern-care/pas".into(),
            phase: if released {
                SystemPhase::Released
            } else {
                SystemPhase::Verified
            },
            released_stage: released.then(|| "ward".to_string()),
            releases: if released {
                vec![StageRelease {
                    stage: "ward".into(),
                    at: t("2026-05-01T11:00:00Z"),
                }]
            } else {
                Vec::new()
            },
            checks: vec![CheckStatus {
                name: "login".into(),
                phase: ActionPhase::Succeeded,
                attempts: 2,
                ..Default::default()
            }],
            data_loss: Some(DataLoss {
                step: "restore-db".into(),
                restore_point: Some(t("2026-05-01T05:00:00Z")),
                incident_at: t("2026-05-01T10:00:00Z"),
                window_seconds: Some(5 * 3600),
                objective_seconds: Some(24 * 3600),
                objective_met: Some(true),
                problem: None,
            }),
            hand_back: vec![
                HandBackItem {
                    item: "back-enter admissions".into(),
                    done_by: Some("nurse-bob".into()),
                    groups: vec!["nurses".into()],
                    done_at: Some(t("2026-05-01T10:50:00Z")),
                    request: Some("hb-1".into()),
                    comment: None,
                },
                HandBackItem {
                    item: "re-check allergies".into(),
                    done_by: None,
                    groups: Vec::new(),
                    done_at: None,
                    request: None,
                    comment: None,
                },
            ],
            ..Default::default()
        }
    }

    #[test]
    fn a_release_is_notified_with_the_data_lost_and_the_hand_back() {
        let status = |released: bool| RecoveryPlanStatus {
            phase: PlanPhase::Running,
            progress: Some("1/1".into()),
            systems: vec![pas(released)],
            ..Default::default()
        };
        let (prev, next) = (status(false), status(true));
        let stages: Vec<Stage> = serde_json::from_value(serde_json::json!([
            { "name": "ward", "audience": { "description": "Ward 7B staff" }, "approval": { "required": 1 } }
        ]))
        .expect("stages");
        let model = PlanModel {
            systems: vec![],
            index: Default::default(),
            waves: vec![],
            critical_path: Default::default(),
            settings: Default::default(),
        };
        let plan: RecoveryPlan = serde_json::from_value(serde_json::json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
            "metadata": { "name": "r", "namespace": "northern-care", "uid": "u-1" },
            "spec": { "systems": { "names": ["pas"] } }
        }))
        .expect("a plan");
        let notices =
            crate::engine::notice::released("northern-care/r", &stages, &model, &prev, &next);
        let reference = ObjectReference::default();
        let events = told(&model, &reference, &plan, &prev, &next, &notices, true);
        let (ev, n) = events
            .iter()
            .find(|(e, _)| e.reason == "SystemReleased")
            .expect("a SystemReleased Event");
        let note = ev.note.as_deref().unwrap_or_default();
        for needle in [
            "released to Ward 7B staff (ward)",
            "data lost: 5h",
            "(objective 24h: within)",
            "hand-back: 2 items for staff (back-enter admissions; re-check allergies)",
        ] {
            assert!(
                note.contains(needle),
                "{needle:?} not in the Event's note: {note}"
            );
        }
        let json = serde_json::to_value(n.as_ref().expect("notified")).expect("json");
        assert_eq!(json["reason"], "SystemReleased");
        assert_eq!(json["system"], "northern-care/pas");
        assert_eq!(
            json["message"], note,
            "the notification says what the Event says"
        );
        let notice = &json["notice"];
        assert_eq!(notice["stage"], "ward");
        assert_eq!(notice["audience"], "Ward 7B staff");
        assert_eq!(notice["dataLoss"]["restorePoint"], "2026-05-01T05:00:00Z");
        assert_eq!(notice["dataLoss"]["incidentAt"], "2026-05-01T10:00:00Z");
        assert_eq!(notice["dataLoss"]["windowSeconds"], 5 * 3600);
        assert_eq!(notice["dataLoss"]["objectiveSeconds"], 24 * 3600);
        assert_eq!(notice["dataLoss"]["objectiveMet"], true);
        assert_eq!(notice["handBack"][0]["item"], "back-enter admissions");
        assert_eq!(notice["handBack"][0]["doneBy"], "nurse-bob");
        assert_eq!(notice["handBack"][1]["item"], "re-check allergies");
        assert!(
            notice["handBack"][1].get("doneBy").is_none(),
            "not done: {notice}"
        );
        // Without a webhook nothing is notified; the Event still tells the notice.
        let quiet = told(&model, &reference, &plan, &prev, &next, &notices, false);
        assert!(quiet.iter().all(|(_, n)| n.is_none()));
        assert!(quiet.iter().any(|(e, _)| e.note.as_deref() == Some(note)));
    }
}
