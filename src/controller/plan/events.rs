//! Kubernetes Events for the transitions a person cares about: a system starts restoring,
//! is verified (with its recovery time against the objective), fails, is blocked, is
//! released; the plan finishes or awaits approval. The ones people act on also go to the
//! webhook, if one is configured ([`crate::controller::notify`]).

use k8s_openapi::api::core::v1::ObjectReference;
use kube::{
    Resource,
    runtime::events::{Event, EventType},
};
use tracing::warn;

use crate::controller::Context;
use crate::engine::notice::ReleaseNotice;
use crate::{
    api::v1alpha1::{
        AwaitingStage, PlanPhase, RecoveryPlan, RecoveryPlanStatus, SystemPhase, format_duration,
    },
    engine::PlanModel,
};

/// A reference to the ClinicalSystem "namespace/name", for an Event's `related` object
/// (which also keeps one system's Events apart from another's).
fn system_ref(key: &str) -> Option<ObjectReference> {
    let (namespace, name) = key.split_once('/')?;
    Some(ObjectReference {
        api_version: Some("lifeline.dev/v1alpha1".into()),
        kind: Some("ClinicalSystem".into()),
        name: Some(name.into()),
        namespace: Some(namespace.into()),
        ..Default::default()
    })
}

/// Normal Events of reason `reason` that name `items` (each a system's key, then what is
/// said of it), as few as fit: "restore started: ward/a, ward/b". Each note holds what an
/// Event may carry ([`NOTE_LIMIT`]), so none is cut and every system is named. An Event of
/// one system relates to its ClinicalSystem, as every per-system Event does; one of several
/// relates to the plan's `status.systems{FIRST,+N}`, so that two batches are two Events and
/// not one series.
pub fn batched(
    plan: &ObjectReference,
    reason: &str,
    action: &str,
    lead: &str,
    items: &[impl AsRef<str>],
) -> Vec<Event> {
    let mut out = Vec::new();
    let mut rest = items;
    while let Some((first, _)) = rest.split_first() {
        let mut note = String::from(lead);
        let mut taken = 0;
        for item in rest {
            let item = item.as_ref();
            let more = if taken == 0 { 0 } else { 2 };
            if taken > 0 && note.len() + more + item.len() > NOTE_LIMIT {
                break;
            }
            if taken > 0 {
                note.push_str(", ");
            }
            note.push_str(item);
            taken += 1;
        }
        let key = first.as_ref().split(' ').next().unwrap_or_default();
        let secondary = if taken == 1 {
            system_ref(key)
        } else {
            Some(ObjectReference {
                field_path: Some(format!("status.systems{{{key},+{}}}", taken - 1)),
                ..plan.clone()
            })
        };
        out.push(Event {
            type_: EventType::Normal,
            reason: reason.into(),
            note: Some(note),
            action: action.into(),
            secondary,
        });
        rest = &rest[taken..];
    }
    out
}

/// The Events for the changes from `prev` to `next` of the plan `plan` refers to.
pub fn transitions(
    model: &PlanModel,
    plan: &ObjectReference,
    prev: &RecoveryPlanStatus,
    next: &RecoveryPlanStatus,
) -> Vec<Event> {
    let mut out = Vec::new();
    // The routine transitions of a wave (restores started, systems verified within their
    // objectives) are told in one Event per reconcile, naming the systems; the rest, each
    // system in its own.
    let mut started: Vec<&str> = Vec::new();
    let mut verified: Vec<String> = Vec::new();
    for (i, s) in next.systems.iter().enumerate() {
        let was = prev.system(i, &s.name);
        let old_phase = was.map(|p| p.phase).unwrap_or_default();
        if s.verified_at.is_some() && was.is_none_or(|p| p.verified_at.is_none()) {
            let objective = model
                .systems
                .get(i)
                .map(|m| m.objective)
                .unwrap_or_default();
            let took = std::time::Duration::from_secs(s.recovery_seconds.unwrap_or(0));
            let met = s.objective_met.unwrap_or(false);
            if met {
                verified.push(format!(
                    "{} after {} (objective {})",
                    s.name,
                    format_duration(took),
                    format_duration(objective)
                ));
            } else {
                out.push(Event {
                    type_: EventType::Warning,
                    reason: "SystemVerified".into(),
                    note: Some(format!(
                        "{} verified after {} (objective {}: {})",
                        s.name,
                        format_duration(took),
                        format_duration(objective),
                        "missed"
                    )),
                    action: "Verify".into(),
                    secondary: system_ref(&s.name),
                });
            }
        }
        // One Event per stage newly released at (an automatic stage and the one after it
        // can be passed in one decision): each carries its own release notice.
        let released_before = was.map_or(0, |p| p.releases.len());
        for stage in s.releases.iter().skip(released_before).map(|r| &r.stage) {
            out.push(Event {
                type_: EventType::Normal,
                reason: "SystemReleased".into(),
                note: Some(format!("{} released to stage {stage}", s.name)),
                action: "Release".into(),
                // One notice (and notification) per stage released at.
                secondary: system_ref(&s.name).map(|r| ObjectReference {
                    field_path: Some(format!("spec.stages{{{stage}}}")),
                    ..r
                }),
            });
        }
        let old_soak = was.and_then(|p| p.soak.as_ref());
        if let Some(soak) = &s.soak {
            let same_stage = old_soak.is_some_and(|o| o.stage == soak.stage);
            if let Some(why) = &soak.held_by
                && (!same_stage || old_soak.is_some_and(|o| o.held_by.is_none()))
            {
                out.push(Event {
                    type_: EventType::Warning,
                    reason: "SoakHeld".into(),
                    note: Some(format!(
                        "{} held at stage {}: {why}; its soak starts again once the check passes",
                        s.name, soak.stage
                    )),
                    action: "Release".into(),
                    // Each hold its own Event (and notification), not a count on the first.
                    secondary: system_ref(&s.name).map(|r| ObjectReference {
                        field_path: Some(format!(
                            "status.soak{{{}}}.holds{{{}}}",
                            soak.stage, soak.holds
                        )),
                        ..r
                    }),
                });
            }
            if let Some(done) = &soak.completed_at
                && (!same_stage || old_soak.is_some_and(|o| o.completed_at.is_none()))
            {
                let took = soak.since.as_ref().map(|t| {
                    std::time::Duration::from_secs(
                        crate::engine::time::seconds_between(t.0, done.0).unwrap_or(0),
                    )
                });
                out.push(Event {
                    type_: EventType::Normal,
                    reason: "SoakCompleted".into(),
                    note: Some(format!(
                        "{} soaked at stage {}{}{}",
                        s.name,
                        soak.stage,
                        took.map(|d| format!(" for {}", format_duration(d)))
                            .unwrap_or_default(),
                        match soak.holds {
                            0 => String::new(),
                            n => format!(
                                " with its checks passing, after {n} hold{}",
                                if n == 1 { "" } else { "s" }
                            ),
                        }
                    )),
                    action: "Release".into(),
                    secondary: system_ref(&s.name),
                });
            }
        }
        if s.phase == old_phase {
            continue;
        }
        if old_phase == SystemPhase::Degraded
            && matches!(s.phase, SystemPhase::Released | SystemPhase::Verified)
        {
            let took = s
                .regressions
                .last()
                .and_then(|r| r.seconds)
                .map(|secs| {
                    format!(
                        " after {}",
                        format_duration(std::time::Duration::from_secs(secs))
                    )
                })
                .unwrap_or_default();
            out.push(Event {
                type_: EventType::Normal,
                reason: "SystemRecovered".into(),
                note: Some(format!("{}: its checks pass again{took}", s.name)),
                action: "Verify".into(),
                secondary: system_ref(&s.name).map(|r| ObjectReference {
                    field_path: Some(format!("status.regressions{{{}}}", s.regression_count)),
                    ..r
                }),
            });
            continue;
        }
        if s.phase == SystemPhase::Restoring {
            started.push(&s.name);
            continue;
        }
        let (type_, reason, action) = match s.phase {
            SystemPhase::Degraded => (EventType::Warning, "SystemDegraded", "Verify"),
            SystemPhase::Failed => (EventType::Warning, "SystemFailed", "Restore"),
            SystemPhase::Blocked => (EventType::Warning, "SystemBlocked", "Restore"),
            SystemPhase::Cancelled => (EventType::Normal, "SystemCancelled", "Restore"),
            SystemPhase::Held => (EventType::Normal, "SystemHeld", "Restore"),
            _ => continue,
        };
        // Each regression its own Event (and notification), not a count on the first.
        let secondary = if s.phase == SystemPhase::Degraded {
            system_ref(&s.name).map(|r| ObjectReference {
                field_path: Some(format!("status.regressions{{{}}}", s.regression_count)),
                ..r
            })
        } else {
            system_ref(&s.name)
        };
        out.push(Event {
            type_,
            reason: reason.into(),
            note: Some(match &s.message {
                Some(m) => format!("{}: {m}", s.name),
                None => s.name.clone(),
            }),
            action: action.into(),
            secondary,
        });
    }
    out.extend(batched(
        plan,
        "RestoreStarted",
        "Restore",
        "restore started: ",
        &started,
    ));
    out.extend(batched(
        plan,
        "SystemVerified",
        "Verify",
        "verified within the objective: ",
        &verified,
    ));
    // Each stage that newly awaits approval, or newly halts on a rejection: stage after
    // stage, whatever the plan's phase (systems still restoring keep it Running).
    // Each time systems come to wait at a stage (or are held there by a rejection), one
    // Event names them.
    // A system that only soaks waits for nobody: its Events are the soak's, above.
    let for_people = |e: &AwaitingStage| e.halted.is_some() || e.needed > 0;
    for entry in next.awaiting.iter().filter(|e| for_people(e)) {
        let halted = entry.halted.is_some();
        let waited_before = |system: &String| {
            prev.awaiting.iter().filter(|p| for_people(p)).any(|p| {
                p.stage == entry.stage && p.halted.is_some() == halted && p.systems.contains(system)
            })
        };
        let newly: Vec<String> = entry
            .systems
            .iter()
            .filter(|s| !waited_before(s))
            .cloned()
            .collect();
        if newly.is_empty() {
            continue;
        }
        let entry = AwaitingStage {
            systems: newly,
            ..entry.clone()
        };
        let stage = &entry.stage;
        let names: Vec<&str> = entry
            .systems
            .iter()
            .map(|s| crate::api::v1alpha1::short_name(s))
            .collect();
        out.push(Event {
            type_: if halted {
                EventType::Warning
            } else {
                EventType::Normal
            },
            reason: if halted {
                "StageRejected"
            } else {
                "AwaitingApproval"
            }
            .into(),
            note: Some(entry.to_string()),
            action: "Release".into(),
            // Related to the plan's stage and the systems: Events with the same reason and
            // related object are one series, and a second batch would only count up the
            // first's.
            secondary: Some(ObjectReference {
                field_path: Some(format!(
                    "spec.stages{{{stage}}}.systems{{{}}}",
                    names.join(",")
                )),
                ..plan.clone()
            }),
        });
    }
    // Each manual step that comes to wait for people, with its instructions.
    for entry in &next.awaiting_steps {
        let before = prev
            .awaiting_steps
            .iter()
            .any(|p| p.system == entry.system && p.step == entry.step);
        if before {
            continue;
        }
        out.push(Event {
            type_: EventType::Normal,
            reason: "StepAwaitingConfirmation".into(),
            note: Some(entry.to_string()),
            action: "Restore".into(),
            secondary: system_ref(&entry.system).map(|r| ObjectReference {
                field_path: Some(format!("spec.restore.steps{{{}}}", entry.step)),
                ..r
            }),
        });
    }
    // The plan's phase; AwaitingApproval is told stage by stage above.
    if next.phase != prev.phase && next.phase != PlanPhase::AwaitingApproval {
        let (type_, reason) = match next.phase {
            PlanPhase::Succeeded => (EventType::Normal, "PlanSucceeded"),
            PlanPhase::Failed => (EventType::Warning, "PlanFailed"),
            PlanPhase::AwaitingApproval => (EventType::Normal, "AwaitingApproval"),
            PlanPhase::Paused => (EventType::Normal, "PlanPaused"),
            PlanPhase::Aborted => (EventType::Warning, "PlanAborted"),
            PlanPhase::Running | PlanPhase::Pending => (EventType::Normal, "PlanRunning"),
        };
        out.push(Event {
            type_,
            reason: reason.into(),
            note: Some(format!(
                "plan is {}: {} systems verified",
                next.phase,
                next.progress.as_deref().unwrap_or("0/0")
            )),
            action: "Reconcile".into(),
            secondary: None,
        });
    }
    out
}

/// The most an Event's note may hold: events.k8s.io/v1 refuses a longer one.
pub const NOTE_LIMIT: usize = 1024;

/// `note` cut to [`NOTE_LIMIT`] bytes at a character boundary, ending in "…" when cut (a
/// rejection's reason can be longer than an Event may carry; status keeps it whole).
pub fn fit_note(note: &str) -> String {
    if note.len() <= NOTE_LIMIT {
        return note.to_string();
    }
    let mut end = NOTE_LIMIT - '…'.len_utf8();
    while !note.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &note[..end])
}

/// Publishes the Events for the changes from `prev` to `next`. Best effort: an Event
/// that cannot be written is logged, never fails the reconcile.
pub async fn publish_transitions(
    ctx: &Context,
    plan: &RecoveryPlan,
    model: &PlanModel,
    prev: &RecoveryPlanStatus,
    next: &RecoveryPlanStatus,
    notices: &[ReleaseNotice],
) {
    let reference = plan.object_ref(&());
    let told = told(
        model,
        &reference,
        plan,
        prev,
        next,
        notices,
        ctx.notifier.is_some(),
    );
    let mut out = Vec::with_capacity(told.len());
    for (ev, notification) in told {
        if let (Some(notifier), Some(n)) = (&ctx.notifier, notification) {
            notifier.send(n);
        }
        out.push(ev);
    }
    publish_all(ctx, &reference, &out).await;
}

/// The Events of the changes from `prev` to `next`, each with its webhook notification
/// when `notify` and its reason is one that is notified. A release tells its notice (to
/// whom, what was tested, the data lost, what staff must do): in short in the Event's
/// note, whole in the notification.
pub(crate) fn told(
    model: &PlanModel,
    reference: &ObjectReference,
    plan: &RecoveryPlan,
    prev: &RecoveryPlanStatus,
    next: &RecoveryPlanStatus,
    notices: &[ReleaseNotice],
    notify: bool,
) -> Vec<(Event, Option<crate::controller::notify::Notification>)> {
    let mut out = Vec::new();
    for mut ev in transitions(model, reference, prev, next) {
        let notice = (ev.reason == "SystemReleased")
            .then(|| {
                let r = ev.secondary.as_ref()?;
                let system = format!("{}/{}", r.namespace.as_deref()?, r.name.as_deref()?);
                let stage = r
                    .field_path
                    .as_deref()?
                    .strip_prefix("spec.stages{")?
                    .strip_suffix('}')?
                    .to_string();
                notices
                    .iter()
                    .find(|n| n.system == system && n.stage == stage)
            })
            .flatten();
        if let Some(n) = notice {
            ev.note = Some(crate::engine::notice::summary(n));
        }
        let notification = notify
            .then(|| crate::controller::notify::for_event(plan, next, &ev))
            .flatten()
            .map(|mut n| {
                n.notice = notice.cloned();
                n
            });
        ev.note = ev.note.as_deref().map(fit_note);
        out.push((ev, notification));
    }
    out
}

/// Publishes `events` about `reference`, a bounded number at a time
/// ([`crate::controller::cluster::FAN_OUT`]): none waits for another.
pub async fn publish_all(ctx: &Context, reference: &ObjectReference, events: &[Event]) {
    let sends = events
        .iter()
        .map(|ev| -> futures::future::BoxFuture<'_, ()> {
            Box::pin(async move {
                if let Err(e) = ctx.recorder.publish(ev, reference).await {
                    warn!(reason = %ev.reason, error = %e, "could not publish an Event");
                }
            })
        });
    crate::controller::cluster::bounded(sends.collect()).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::v1alpha1::AwaitingStage;

    fn status(phase: PlanPhase, awaiting: &[AwaitingStage]) -> RecoveryPlanStatus {
        RecoveryPlanStatus {
            phase,
            awaiting: awaiting.to_vec(),
            ..Default::default()
        }
    }

    fn awaits(stage: &str, needed: u32, required: u32, from: &str) -> AwaitingStage {
        AwaitingStage {
            stage: stage.into(),
            systems: vec!["northern-care/epr".into()],
            needed,
            required,
            from: from.into(),
            checklist: vec![],
            ..Default::default()
        }
    }

    fn model() -> PlanModel {
        PlanModel {
            systems: vec![],
            index: Default::default(),
            waves: vec![],
            critical_path: Default::default(),
            settings: Default::default(),
        }
    }

    fn reasons(prev: &RecoveryPlanStatus, next: &RecoveryPlanStatus) -> Vec<(String, String)> {
        transitions(&model(), &ObjectReference::default(), prev, next)
            .into_iter()
            .map(|e| (e.reason, e.note.unwrap_or_default()))
            .collect()
    }

    const PILOT: &str =
        "stage pilot-ward awaits 1 more approval (of 1) from clinical-safety for epr";
    const ED: &str =
        "stage emergency-departments awaits 2 more approvals (of 2) from anyone for epr";

    fn pilot_ward() -> AwaitingStage {
        awaits("pilot-ward", 1, 1, "clinical-safety")
    }

    fn emergency() -> AwaitingStage {
        awaits("emergency-departments", 2, 2, "anyone")
    }

    #[test]
    fn each_stage_that_comes_to_await_approval_is_an_event_whatever_the_phase() {
        let none = status(PlanPhase::Running, &[]);
        // Systems still restoring keep the plan Running; the stage awaits all the same.
        let pilot = status(PlanPhase::Running, &[pilot_ward()]);
        assert_eq!(
            reasons(&none, &pilot),
            [("AwaitingApproval".to_string(), PILOT.to_string())]
        );
        // Once the plan's phase is AwaitingApproval, no second Event for the same stage.
        let waiting = status(PlanPhase::AwaitingApproval, &[pilot_ward()]);
        assert_eq!(reasons(&pilot, &waiting), []);
        // The pilot ward approved, the next stage awaits: a new Event, the phase unchanged.
        let ed = status(PlanPhase::AwaitingApproval, &[emergency()]);
        assert_eq!(
            reasons(&waiting, &ed),
            [("AwaitingApproval".to_string(), ED.to_string())]
        );
        // One approval of two: the same stage still awaits, no new Event.
        let one_more = status(
            PlanPhase::AwaitingApproval,
            &[awaits("emergency-departments", 1, 2, "anyone")],
        );
        assert_eq!(reasons(&ed, &one_more), []);
    }

    #[test]
    fn a_stage_halted_by_a_rejection_is_a_warning() {
        let pilot = status(PlanPhase::AwaitingApproval, &[pilot_ward()]);
        let halted = status(
            PlanPhase::AwaitingApproval,
            &[AwaitingStage {
                halted: Some("rejected by carol: ward printers not back".into()),
                needed: 0,
                ..pilot_ward()
            }],
        );
        let events = transitions(&model(), &ObjectReference::default(), &pilot, &halted);
        assert_eq!(events.len(), 1);
        assert_eq!(events[0].reason, "StageRejected");
        assert_eq!(events[0].type_, EventType::Warning);
    }

    #[test]
    fn a_waves_routine_transitions_are_few_events_that_name_every_system() {
        let plan = ObjectReference {
            kind: Some("RecoveryPlan".into()),
            name: Some("estate".into()),
            namespace: Some("ward".into()),
            ..Default::default()
        };
        let names: Vec<String> = (0..100).map(|i| format!("ward/system-{i:03}")).collect();
        let events = batched(
            &plan,
            "RestoreStarted",
            "Restore",
            "restore started: ",
            &names,
        );
        assert!(events.len() > 1 && events.len() < 10, "{}", events.len());
        let mut named = Vec::new();
        for e in &events {
            let note = e.note.as_deref().expect("a note");
            assert!(note.len() <= NOTE_LIMIT, "{}", note.len());
            let list = note.strip_prefix("restore started: ").expect("the lead");
            named.extend(list.split(", ").map(str::to_string));
            let related = e.secondary.as_ref().expect("related");
            assert_eq!(related.kind.as_deref(), Some("RecoveryPlan"));
        }
        assert_eq!(named, names, "every system named once, in order");
        let paths: std::collections::HashSet<_> = events
            .iter()
            .map(|e| e.secondary.as_ref().and_then(|r| r.field_path.clone()))
            .collect();
        assert_eq!(paths.len(), events.len(), "each batch its own series");
        // One system: an Event about it, as before.
        let one = batched(
            &plan,
            "RestoreStarted",
            "Restore",
            "restore started: ",
            &names[..1],
        );
        assert_eq!(one.len(), 1);
        assert_eq!(
            one[0].secondary.as_ref().and_then(|r| r.kind.as_deref()),
            Some("ClinicalSystem")
        );
        assert_eq!(
            one[0].secondary.as_ref().and_then(|r| r.name.as_deref()),
            Some("system-000")
        );
        assert!(batched(&plan, "RestoreStarted", "Restore", "x", &[] as &[String]).is_empty());
    }

    #[test]
    fn long_notes_are_cut_to_what_an_event_may_carry_at_a_character_boundary() {
        assert_eq!(fit_note("short"), "short");
        let long = format!(
            "stage all-sites halted: rejected by dana: {}",
            "é".repeat(800)
        );
        let cut = fit_note(&long);
        assert!(cut.len() <= NOTE_LIMIT, "{}", cut.len());
        assert!(cut.ends_with('…'));
        assert!(long.starts_with(cut.trim_end_matches('…')));
        let exact = "x".repeat(NOTE_LIMIT);
        assert_eq!(fit_note(&exact), exact);
    }

    #[test]
    fn awaiting_entries_read_as_sentences() {
        assert_eq!(pilot_ward().to_string(), PILOT);
        assert_eq!(emergency().to_string(), ED);
        let halted = AwaitingStage {
            halted: Some("rejected by dana: stage 2 halted: no".into()),
            ..awaits("all-sites", 0, 2, "anyone")
        };
        assert_eq!(
            halted.to_string(),
            "stage all-sites halted for epr: rejected by dana: stage 2 halted: no"
        );
    }
}

#[cfg(test)]
mod soak_tests {
    use super::*;
    use crate::api::v1alpha1::{SoakStatus, SystemStatus};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

    fn with_soak(soak: SoakStatus) -> RecoveryPlanStatus {
        RecoveryPlanStatus {
            systems: vec![SystemStatus {
                name: "northern-care/epr".into(),
                phase: SystemPhase::Released,
                released_stage: Some("ward".into()),
                soak: Some(soak),
                ..Default::default()
            }],
            ..Default::default()
        }
    }

    fn soaking() -> SoakStatus {
        SoakStatus {
            stage: "ward".into(),
            since: Some(Time("2026-05-01T10:00:00Z".parse().expect("time"))),
            until: Some(Time("2026-05-02T10:00:00Z".parse().expect("time"))),
            ..Default::default()
        }
    }

    fn held(holds: u32) -> SoakStatus {
        SoakStatus {
            stage: "ward".into(),
            holds,
            held_by: Some("check 'login' failing since 2026-05-01T11:00:00Z: status 503".into()),
            ..Default::default()
        }
    }

    fn events(prev: &RecoveryPlanStatus, next: &RecoveryPlanStatus) -> Vec<Event> {
        let model = PlanModel {
            systems: vec![],
            index: Default::default(),
            waves: vec![],
            critical_path: Default::default(),
            settings: Default::default(),
        };
        transitions(&model, &ObjectReference::default(), prev, next)
    }

    #[test]
    fn each_hold_of_a_soak_is_its_own_warning_and_notification() {
        let first = events(&with_soak(soaking()), &with_soak(held(1)));
        assert_eq!(first.len(), 1);
        assert_eq!(first[0].reason, "SoakHeld");
        assert_eq!(first[0].type_, EventType::Warning);
        assert_eq!(
            first[0].note.as_deref(),
            Some(
                "northern-care/epr held at stage ward: check 'login' failing since \
                 2026-05-01T11:00:00Z: status 503; its soak starts again once the check passes"
            )
        );
        assert!(
            events(&with_soak(held(1)), &with_soak(held(1))).is_empty(),
            "a hold is told once"
        );
        let second = events(&with_soak(soaking()), &with_soak(held(2)));
        let plan: RecoveryPlan = serde_json::from_value(serde_json::json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
            "metadata": { "name": "r", "namespace": "northern-care", "uid": "u-1" },
            "spec": { "systems": { "names": ["epr"] } }
        }))
        .expect("a plan");
        let status = with_soak(held(2));
        let ids: Vec<String> = [&first[0], &second[0]]
            .iter()
            .map(|e| {
                crate::controller::notify::for_event(&plan, &status, e)
                    .expect("notified")
                    .id
            })
            .collect();
        assert_ne!(
            ids[0], ids[1],
            "a receiver that deduplicates by id sees both holds"
        );
    }

    #[test]
    fn a_completed_soak_is_told_with_its_length_and_holds() {
        let done = SoakStatus {
            completed_at: Some(Time("2026-05-02T10:00:00Z".parse().expect("time"))),
            holds: 1,
            ..soaking()
        };
        let out = events(&with_soak(soaking()), &with_soak(done));
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].reason, "SoakCompleted");
        assert_eq!(
            out[0].note.as_deref(),
            Some(
                "northern-care/epr soaked at stage ward for 24h with its checks passing, after 1 hold"
            )
        );
    }
}
