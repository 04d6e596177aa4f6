//! Starting a run: when one is due, claiming its systems or waiting for the drill that
//! holds one, and recording everything it will change before anything is touched.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::ResourceExt;

use super::{
    Decision, Facts, NEXT_MOVE, Notice, NoticeKind, Observed, WAIT_POLL,
    decide::{Due, history_limit, push_history, until},
    faults::{self, scale_targets, workload_targets},
};
use crate::{
    api::v1alpha1::{
        ClinicalSystem, DrillPhase, DrillRun, DrillTrigger, RecordedKind, RecordedState,
        WorkloadRef,
    },
    engine::names,
};

/// The workloads a run records before it starts: those its faults scale to zero (true:
/// recorded even when missing, and the run is refused then), then those its recovery
/// scales (recorded where they exist, to put back what it changed), each once.
pub(super) fn pre_state_workloads(
    f: &Facts<'_>,
    systems: &[ClinicalSystem],
) -> Vec<(WorkloadRef, bool)> {
    let mut out: Vec<(WorkloadRef, bool)> = Vec::new();
    let mut add = |w: WorkloadRef, broken: bool| {
        if !out.iter().any(|(x, _)| *x == w) {
            out.push((w, broken));
        }
    };
    for fault in &f.spec.faults {
        let system = systems.iter().find(|s| s.name_any() == fault.system);
        if let (Some(sz), Some(system)) = (&fault.scale_to_zero, system) {
            for w in workload_targets(sz, system) {
                add(w, true);
            }
        }
    }
    for w in systems.iter().flat_map(scale_targets) {
        add(w, false);
    }
    out
}

/// The deny-all policies of the drill's `isolate` faults on its systems.
fn isolation_policies(f: &Facts<'_>, systems: &[ClinicalSystem]) -> Vec<String> {
    f.spec
        .faults
        .iter()
        .filter(|x| x.isolate.is_some() && systems.iter().any(|s| s.name_any() == x.system))
        .map(|x| names::isolation_policy(f.name, &x.system))
        .collect()
}

/// The NetworkPolicies a run records before it starts: its isolation policies and the
/// release gates its recovery applies.
pub(super) fn pre_state_policies(f: &Facts<'_>, systems: &[ClinicalSystem]) -> Vec<String> {
    let mut out = isolation_policies(f, systems);
    out.extend(
        systems
            .iter()
            .filter(|s| s.spec.release.is_some())
            .map(|s| names::release_policy(&s.name_any())),
    );
    out
}

/// Everything the run will change, as observed before it changes anything.
fn record_pre_state(f: &Facts<'_>, o: &Observed, systems: &[ClinicalSystem]) -> Vec<RecordedState> {
    let mut out: Vec<RecordedState> = Vec::new();
    for (w, broken) in pre_state_workloads(f, systems) {
        let seen = o.workload(w.kind, &w.name);
        if seen.is_none() && !broken {
            continue;
        }
        out.push(RecordedState {
            kind: RecordedKind::from(w.kind),
            name: w.name,
            replicas: seen.map(|s| s.desired),
            existed: seen.is_some(),
            policy_spec: None,
        });
    }
    for name in isolation_policies(f, systems) {
        if out
            .iter()
            .any(|r| r.kind == RecordedKind::NetworkPolicy && r.name == name)
        {
            continue;
        }
        let existing = o.policy(&name);
        // A policy left by an earlier run of this drill is the drill's own.
        let ours = existing.is_some_and(|p| p.drill.as_deref() == Some(f.name));
        out.push(RecordedState {
            kind: RecordedKind::NetworkPolicy,
            existed: existing.is_some() && !ours,
            // Someone else's policy of that name is put back as it was.
            policy_spec: existing
                .filter(|_| !ours)
                .and_then(|p| p.spec.as_ref())
                .map(|spec| spec.to_string()),
            replicas: None,
            name,
        });
    }
    // The recovery applies release gates: record them to put back as they were.
    for s in systems.iter().filter(|s| s.spec.release.is_some()) {
        let name = names::release_policy(&s.name_any());
        let existing = o.policy(&name);
        out.push(RecordedState {
            kind: RecordedKind::NetworkPolicy,
            existed: existing.is_some(),
            policy_spec: existing
                .and_then(|p| p.spec.as_ref())
                .map(|spec| spec.to_string()),
            replicas: None,
            name,
        });
    }
    out
}

/// What an aborted drill says while `spec.abort` is set.
const ABORT_MESSAGE: &str = "spec.abort is set: no run starts until it is cleared";

pub(super) fn start(f: &Facts<'_>, o: &Observed, systems: &[ClinicalSystem], d: &mut Decision) {
    let due = Due::of(f);
    let st = &mut d.status;
    if f.spec.schedule.is_some() {
        st.next_schedule_time = due.next.map(Time);
    }
    if !due.any() {
        // What the last move said stays (a refusal's reason is recorded nowhere else),
        // but for an abort that no longer holds.
        if !f.spec.abort && st.message.as_deref() == Some(ABORT_MESSAGE) {
            st.message = None;
        }
        d.requeue = due.next.map(|t| until(f.now, t));
        return;
    }
    // The request this run answers: a new one, or the one a waiting run was for.
    let request = if due.manual {
        f.requested.map(str::to_string)
    } else if due.waiting {
        st.run.as_ref().and_then(|r| r.token.clone())
    } else {
        None
    };
    if due.manual {
        st.run_token = f.requested.map(str::to_string);
    }
    if let Some(at) = due.fired {
        st.last_schedule_time = Some(Time(at));
    }
    if f.spec.abort {
        st.phase = if st.run.is_some() {
            DrillPhase::Finished
        } else {
            DrillPhase::Idle
        };
        st.run = st.run.take().filter(|r| r.started_at.is_some());
        st.message = Some(ABORT_MESSAGE.into());
        return;
    }
    let trigger = if due.waiting {
        st.run.as_ref().map(|r| r.trigger).unwrap_or_default()
    } else if due.manual {
        DrillTrigger::Manual
    } else {
        DrillTrigger::Schedule
    };
    let number = st
        .run
        .as_ref()
        .filter(|r| r.started_at.is_some())
        .map(|r| r.number)
        .into_iter()
        .chain(st.history.iter().map(|h| h.number))
        .max()
        .unwrap_or(0)
        + 1;
    // Claim every system, or wait for the drill that holds one.
    if let Some(holder) = &o.holder {
        if !due.waiting {
            d.notices.push(Notice {
                kind: NoticeKind::Waiting,
                note: holder.clone(),
            });
            // The runs before this one stay in history; this one is pending.
            if let Some(done) = st.run.take().filter(|r| r.started_at.is_some()) {
                push_history(st, &done, history_limit(f));
            }
            st.run = Some(DrillRun {
                number,
                trigger,
                token: request,
                ..Default::default()
            });
        }
        st.phase = DrillPhase::Waiting;
        st.message = Some(format!(
            "waiting: {holder}; this run starts when it is free"
        ));
        d.requeue = Some(WAIT_POLL);
        return;
    }
    let pre_state = record_pre_state(f, o, systems);
    // A workload to scale that is not there: nothing to break, nothing to measure.
    if let Some(missing) = pre_state
        .iter()
        .find(|r| r.replicas.is_none() && !r.existed && r.kind != RecordedKind::NetworkPolicy)
    {
        let why = format!(
            "spec.faults: {}/{} does not exist in namespace {}; the run was not started",
            missing.kind, missing.name, f.namespace
        );
        d.notices.push(Notice {
            kind: NoticeKind::Refused,
            note: why.clone(),
        });
        st.message = Some(why);
        if due.waiting {
            st.phase = DrillPhase::Idle;
            st.run = None;
        }
        return;
    }
    st.held = systems.iter().map(|s| s.name_any()).collect();
    st.run = Some(DrillRun {
        number,
        trigger,
        token: request,
        started_at: Some(Time(f.now)),
        pre_state,
        faults: faults::records(f.name, &f.spec.faults, systems),
        ..Default::default()
    });
    st.phase = DrillPhase::Injecting;
    st.message = Some(format!("run {number} ({trigger}): injecting faults"));
    d.notices.push(Notice {
        kind: NoticeKind::Started,
        note: format!("run {number} started ({trigger}); pre-drill state recorded"),
    });
    d.requeue = Some(NEXT_MOVE);
}
