//! The drill's state machine: [`wants`] says what to observe, [`decide`] the next move.

use std::time::Duration;

use k8s_openapi::{
    apimachinery::pkg::apis::meta::v1::Time,
    jiff::{SignedDuration, Timestamp},
};
use kube::ResourceExt;

use super::{
    Action, DEFAULT_HISTORY, DEFAULT_TIMEOUT, Decision, Facts, NEXT_MOVE, Notice, NoticeKind,
    Observed, POLL, PlanSeen, ProbeSeen, Wants,
    faults::{self, fault_selector, spec_of},
    measure,
    schedule::Schedule,
    validate,
};
use crate::{
    api::v1alpha1::{
        ClinicalSystem, DrillApprovals, DrillIsolation, DrillOutcome, DrillPhase, DrillRun,
        DurationString, FaultKind, FaultRecord, ForcedCheckFailure, PlanDrill, RecoveryDrillStatus,
        RecoveryPlanSpec, RecoveryPlanStatus, SystemSelection, format_duration,
    },
    engine::{conditions, names},
};

pub(super) fn duration_of(d: Option<&DurationString>) -> Option<Duration> {
    d.and_then(|d| d.parse().ok())
}

pub(super) fn plus(t: &Time, d: Duration) -> Time {
    let secs = i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 2);
    Time(
        t.0.checked_add(SignedDuration::from_secs(secs))
            .unwrap_or(t.0),
    )
}

/// The time from `now` to `t`, at least a little.
pub(super) fn until(now: Timestamp, t: Timestamp) -> Duration {
    crate::engine::time::elapsed(now, t).max(Duration::from_millis(100))
}

/// Whether a run is due to start now: asked for with a new token, fired by the schedule,
/// or waiting for another drill. With the schedule's firing and next time.
pub(super) struct Due {
    pub(super) manual: bool,
    pub(super) fired: Option<Timestamp>,
    pub(super) next: Option<Timestamp>,
    pub(super) waiting: bool,
}

impl Due {
    pub(super) fn of(f: &Facts<'_>) -> Due {
        let manual = f.requested.is_some() && f.requested != f.status.run_token.as_deref();
        let (mut fired, mut next) = (None, None);
        if let Some(expr) = &f.spec.schedule
            && let Ok(schedule) = Schedule::parse(expr)
        {
            let last = f
                .status
                .last_schedule_time
                .as_ref()
                .map(|t| t.0)
                .or(f.created)
                .unwrap_or(f.now);
            (fired, next) = schedule.due(last, f.now);
        }
        Due {
            manual,
            fired,
            next,
            waiting: f.status.phase == DrillPhase::Waiting,
        }
    }

    pub(super) fn any(&self) -> bool {
        self.manual || self.fired.is_some() || self.waiting
    }
}

/// What [`decide`] needs observed for the drill in `f`, whose systems are `systems`.
pub fn wants(f: &Facts<'_>, systems: &[ClinicalSystem]) -> Wants {
    let mut w = Wants::default();
    let run = f.status.run.as_ref();
    let active_run = run.is_some_and(|r| r.started_at.is_some() && r.finished_at.is_none());
    let phase = if f.deleting && active_run {
        DrillPhase::Reverting
    } else {
        f.status.phase
    };
    match phase {
        DrillPhase::Idle | DrillPhase::Finished | DrillPhase::Waiting => {
            if f.deleting || f.spec.abort || !Due::of(f).any() {
                return w;
            }
            w.holder = true;
            for (target, _) in super::start::pre_state_workloads(f, systems) {
                w.workloads.push(target);
            }
            w.policies = super::start::pre_state_policies(f, systems);
        }
        DrillPhase::Injecting => {
            let Some(run) = run else { return w };
            for rec in run.faults.iter().filter(|r| r.proven_at.is_none()) {
                match rec.kind {
                    FaultKind::ScaleToZero => {
                        w.workloads.extend(rec.workload.clone().map(Into::into))
                    }
                    FaultKind::DeletePods | FaultKind::Isolate => {
                        let system = systems.iter().find(|s| s.name_any() == rec.system);
                        if let (Some(spec), Some(system)) = (spec_of(&f.spec.faults, rec), system)
                            && let Some(sel) = fault_selector(spec, system)
                        {
                            w.pods.push((rec.system.clone(), rec.kind, sel));
                        }
                        if rec.kind == FaultKind::Isolate {
                            w.policies
                                .push(names::isolation_policy(f.name, &rec.system));
                            if let Some(system) = system {
                                let targets = super::faults::probe_targets(system);
                                if !targets.is_empty() {
                                    w.probes.push((rec.system.clone(), targets));
                                }
                            }
                        }
                    }
                    FaultKind::FailCheck => {}
                }
            }
            w.plan = run.plan.clone();
        }
        DrillPhase::Recovering => {
            let Some(run) = run else { return w };
            w.policies = run
                .faults
                .iter()
                .filter(|r| r.kind == FaultKind::Isolate)
                .map(|r| names::isolation_policy(f.name, &r.system))
                .collect();
            // An isolation is watched while it holds: its system is tried again every
            // WATCH_INTERVAL.
            for rec in run
                .faults
                .iter()
                .filter(|r| watched(r) && watch_due(r, f.now))
            {
                if let Some(system) = systems.iter().find(|s| s.name_any() == rec.system) {
                    let targets = super::faults::probe_targets(system);
                    if !targets.is_empty() && !w.probes.iter().any(|(s, _)| *s == rec.system) {
                        w.probes.push((rec.system.clone(), targets));
                    }
                }
            }
            w.plan = Some(plan_of(f, run));
        }
        DrillPhase::Reverting => {
            let Some(run) = run else { return w };
            for r in &run.pre_state {
                match faults::workload_of(r) {
                    Some(wl) => w.workloads.push(wl),
                    None => w.policies.push(r.name.clone()),
                }
            }
            w.plan = Some(plan_of(f, run));
        }
    }
    w.workloads.dedup();
    w.policies.sort();
    w.policies.dedup();
    w
}

/// Whether `rec` is an isolation that holds: proven, not yet lifted.
fn watched(rec: &FaultRecord) -> bool {
    rec.kind == FaultKind::Isolate && rec.proven_at.is_some() && rec.lifted_at.is_none()
}

/// How often a holding isolation's system is tried.
pub const WATCH_INTERVAL: Duration = Duration::from_secs(5);

/// Whether `rec`'s system is due to be tried again at `now`.
fn watch_due(rec: &FaultRecord, now: k8s_openapi::jiff::Timestamp) -> bool {
    rec.watch
        .as_ref()
        .and_then(|w| w.last_tried_at.as_ref())
        .is_none_or(|last| crate::engine::time::elapsed(last.0, now) >= WATCH_INTERVAL)
}

/// Counts one try of an isolation that holds until `due` (`None`: the run's end), from
/// what was `seen` at `now`; a connection that got through is a breach. A try that ended
/// once the isolation was over is not counted: the gate may have opened meanwhile.
fn watch(rec: &mut FaultRecord, seen: &ProbeSeen, now: &Time, due: Option<&Time>) {
    if seen.open.is_empty() && seen.blocked.is_empty() {
        return;
    }
    if let (Some(ended), Some(due)) = (seen.finished_at, due)
        && ended >= due.0
    {
        return;
    }
    let now = &seen.finished_at.map_or_else(|| now.clone(), Time);
    let w = rec.watch.get_or_insert_with(Default::default);
    w.tries += 1;
    w.last_tried_at = Some(now.clone());
    if seen.open.is_empty() {
        return;
    }
    w.breaches += 1;
    w.first_breach_at.get_or_insert_with(|| now.clone());
    w.last_breach_at = Some(now.clone());
    for t in &seen.open {
        if w.through.len() < 10 && !w.through.contains(t) {
            w.through.push(t.clone());
        }
    }
}

/// The name of the run's plan.
pub(super) fn plan_of(f: &Facts<'_>, run: &DrillRun) -> String {
    run.plan
        .clone()
        .unwrap_or_else(|| names::drill_plan(f.name, run.number))
}

/// One move of the drill in `f`, given what was observed.
pub fn decide(f: &Facts<'_>, o: &Observed) -> Decision {
    let mut d = Decision {
        status: f.status.clone(),
        actions: Vec::new(),
        notices: Vec::new(),
        requeue: None,
    };
    if f.deleting {
        super::revert::finalize(f, o, &mut d);
        return d;
    }
    if !f.has_finalizer {
        d.actions.push(Action::AddFinalizer);
        return d;
    }
    d.status.observed_generation = f.generation;
    let problem =
        validate::staging_problem(f.namespace, &o.namespace_labels).or_else(|| match &o.systems {
            Err(e) => Some(e.clone()),
            Ok(systems) => validate::problem(f.namespace, f.spec, systems),
        });
    if let Some(problem) = &problem {
        let st = &mut d.status;
        if st.phase.is_active() {
            // A run in progress that becomes invalid is stopped and reverted.
            if st.phase != DrillPhase::Reverting
                && let Some(run) = st.run.as_mut()
            {
                run.outcome = Some(DrillOutcome::Refused);
                run.reason = Some(problem.clone());
                st.phase = DrillPhase::Reverting;
                // Revert on the next move, from what a revert observes.
                d.requeue = Some(NEXT_MOVE);
                conditions::drill(f.status, &mut d.status, Some(problem), f.generation, f.now);
                return d;
            }
        } else {
            if st.message.as_deref() != Some(problem.as_str()) {
                d.notices.push(Notice {
                    kind: NoticeKind::Refused,
                    note: problem.clone(),
                });
            }
            st.message = Some(problem.clone());
            if st.phase == DrillPhase::Waiting {
                st.phase = DrillPhase::Idle;
                st.run = st.run.take().filter(|r| r.started_at.is_some());
            }
            // Consume the request: a refused run is not started later by surprise.
            st.run_token = f.requested.map(str::to_string).or(st.run_token.take());
            conditions::drill(f.status, &mut d.status, Some(problem), f.generation, f.now);
            return d;
        }
    }
    let systems = o.systems.as_deref().unwrap_or_default();
    match d.status.phase {
        DrillPhase::Idle | DrillPhase::Finished | DrillPhase::Waiting => {
            super::start::start(f, o, systems, &mut d)
        }
        phase @ (DrillPhase::Injecting | DrillPhase::Recovering) => {
            if d.status.run.is_none() {
                d.status.phase = DrillPhase::Idle;
            } else if !stop(f, &mut d) {
                if phase == DrillPhase::Injecting {
                    inject(f, o, systems, &mut d);
                } else {
                    recover(f, o, &mut d);
                }
            }
        }
        DrillPhase::Reverting => super::revert::revert(f, o, &mut d),
    }
    conditions::drill(
        f.status,
        &mut d.status,
        problem.as_deref(),
        f.generation,
        f.now,
    );
    d
}

pub(super) fn history_limit(f: &Facts<'_>) -> usize {
    f.spec
        .history_limit
        .map(|n| n as usize)
        .unwrap_or(DEFAULT_HISTORY)
}

/// Moves a finished run into the history (newest first, at most `limit`).
pub(super) fn push_history(status: &mut RecoveryDrillStatus, run: &DrillRun, limit: usize) {
    if run.finished_at.is_none() || status.history.iter().any(|h| h.number == run.number) {
        return;
    }
    status.history.insert(0, measure::summary(run));
    status.history.truncate(limit);
}

// ----- injecting -----

/// Ends the run on `spec.abort` or the timeout: records why and goes to Reverting.
fn stop(f: &Facts<'_>, d: &mut Decision) -> bool {
    let timeout = duration_of(f.spec.timeout.as_ref()).unwrap_or(DEFAULT_TIMEOUT);
    let st = &mut d.status;
    let Some(run) = st.run.as_mut() else {
        return false;
    };
    let (outcome, reason) = if f.spec.abort {
        (DrillOutcome::Aborted, "spec.abort was set".to_string())
    } else if run
        .started_at
        .as_ref()
        .is_some_and(|t| f.now >= plus(t, timeout).0)
    {
        (
            DrillOutcome::TimedOut,
            format!(
                "the run took longer than its timeout of {}",
                format_duration(timeout)
            ),
        )
    } else {
        return false;
    };
    run.outcome = Some(outcome);
    run.reason = Some(reason.clone());
    st.phase = DrillPhase::Reverting;
    st.message = Some(format!("run {}: {reason}; reverting", run.number));
    d.notices.push(Notice {
        kind: NoticeKind::Stopped,
        note: reason,
    });
    d.requeue = Some(NEXT_MOVE);
    true
}

fn inject(f: &Facts<'_>, o: &Observed, systems: &[ClinicalSystem], d: &mut Decision) {
    let now = Time(f.now);
    let st = &mut d.status;
    let Some(run) = st.run.as_mut() else { return };
    let before = run.faults.clone();
    for rec in run.faults.iter_mut() {
        let system = systems.iter().find(|s| s.name_any() == rec.system);
        let selector = spec_of(&f.spec.faults, rec)
            .zip(system)
            .and_then(|(spec, system)| fault_selector(spec, system));
        let pods_removed = before.iter().any(|x| {
            x.system == rec.system
                && matches!(x.kind, FaultKind::DeletePods | FaultKind::ScaleToZero)
        });
        let facts = faults::Injecting {
            drill: f.name,
            selector: selector.as_ref(),
            pre_state: &run.pre_state,
            pods_removed,
        };
        if let Some(a) = faults::inject(&facts, rec, o, &now) {
            d.actions.push(a);
        }
    }
    let ready = run
        .faults
        .iter()
        .all(|x| x.kind == FaultKind::FailCheck || x.proven_at.is_some());
    if !ready {
        d.requeue = Some(POLL);
        return;
    }
    if run.faults != before {
        // The proofs go into status before the plan exists: once the plan scales a
        // workload back up, its scaleToZero could never be proven again.
        d.requeue = Some(NEXT_MOVE);
        return;
    }
    // Every fault has taken effect, as recorded: start the recovery.
    let name = plan_of(f, run);
    let number = run.number;
    let created = matches!(o.plan, Some(PlanSeen::Present { .. }));
    if run.plan.is_some() && created {
        run.systems = measure::measure(run, None, &[], &[]);
        measure::name_systems(run, systems);
        st.phase = DrillPhase::Recovering;
        st.message = Some(format!(
            "run {number}: every fault proven; recovering with RecoveryPlan {name}"
        ));
        d.notices.push(Notice {
            kind: NoticeKind::RecoveryStarted,
            note: format!("run {number}: faults proven; RecoveryPlan {name} created"),
        });
        d.requeue = Some(POLL);
        return;
    }
    if run.plan.is_none() {
        run.plan = Some(name.clone());
        run.recovery_started_at = Some(now);
    }
    d.actions.push(Action::CreatePlan {
        spec: Box::new(plan_spec(f, run, systems)),
        name,
        run: number,
    });
    d.requeue = Some(NEXT_MOVE);
}

/// When fault `r` (written as `fault`) ends: injected plus its duration; `None` for a
/// fault that lasts until the run ends.
fn ends_at(
    r: &crate::api::v1alpha1::FaultRecord,
    fault: &crate::api::v1alpha1::Fault,
) -> Option<Time> {
    match (&r.injected_at, duration_of(fault.duration())) {
        (Some(t), Some(d)) => Some(plus(t, d)),
        _ => None,
    }
}

/// The spec of the run's RecoveryPlan.
fn plan_spec(f: &Facts<'_>, run: &DrillRun, systems: &[ClinicalSystem]) -> RecoveryPlanSpec {
    let spec = f.spec;
    let mut stages = spec.recovery.stages.clone();
    if spec.approvals == DrillApprovals::Automatic {
        for s in &mut stages {
            s.approval = Default::default();
            s.checklist.clear();
        }
    }
    let fail_checks = run
        .faults
        .iter()
        .filter(|r| r.kind == FaultKind::FailCheck)
        .filter_map(|r| {
            Some(ForcedCheckFailure {
                system: r.system.clone(),
                check: r.check.clone().unwrap_or_default(),
                until: ends_at(r, spec_of(&spec.faults, r)?),
            })
        })
        .collect();
    let isolations = run
        .faults
        .iter()
        .filter(|r| r.kind == FaultKind::Isolate && r.lifted_at.is_none())
        .filter_map(|r| {
            Some(DrillIsolation {
                system: r.system.clone(),
                until: ends_at(r, spec_of(&spec.faults, r)?),
            })
        })
        .collect();
    RecoveryPlanSpec {
        systems: SystemSelection {
            selector: None,
            names: Some(systems.iter().map(|s| s.name_any()).collect()),
            // A drill stays within its own (staging) namespace.
            namespaces: Vec::new(),
        },
        parallelism: spec.recovery.parallelism,
        failure_policy: spec.recovery.failure_policy,
        paused: false,
        abort: false,
        stages,
        incident_started_at: None,
        requested_by: f.operator.filter(|u| !u.is_empty()).map(str::to_string),
        drill: Some(PlanDrill {
            name: f.name.to_string(),
            fail_checks,
            isolations,
        }),
    }
}

// ----- recovering -----

/// Each system's measurements and the approvals, from the plan's status.
pub(super) fn record_measurements(
    f: &Facts<'_>,
    run: &mut DrillRun,
    drill: Option<&PlanDrill>,
    status: &RecoveryPlanStatus,
    systems: &[ClinicalSystem],
) {
    let forced: Vec<(String, String)> = drill
        .map(|d| {
            d.fail_checks
                .iter()
                .map(|x| (x.system.clone(), x.check.clone()))
                .collect()
        })
        .unwrap_or_default();
    let isolated = super::faults::isolated_checks(&run.faults, systems);
    run.systems = measure::measure(run, Some(status), &forced, &isolated);
    measure::name_systems(run, systems);
    run.approvals = measure::approvals(
        Some(status),
        &f.spec.recovery.stages,
        f.spec.approvals == DrillApprovals::Automatic,
    );
}

fn recover(f: &Facts<'_>, o: &Observed, d: &mut Decision) {
    let now = Time(f.now);
    let st = &mut d.status;
    let Some(run) = st.run.as_mut() else { return };
    let name = plan_of(f, run);
    let Some(PlanSeen::Present {
        generation,
        drill,
        status: plan,
        ..
    }) = &o.plan
    else {
        run.outcome = Some(DrillOutcome::Aborted);
        run.reason = Some(format!("RecoveryPlan {name} was deleted"));
        st.phase = DrillPhase::Reverting;
        d.requeue = Some(NEXT_MOVE);
        return;
    };
    let mut next = POLL * 2;
    let forced_error = faults::forced_failure_error(f.name);
    // Faults with a duration are lifted when it is over; failCheck faults are proven by
    // the plan's record of the failure.
    for rec in run.faults.iter_mut() {
        let duration = spec_of(&f.spec.faults, rec).and_then(|x| duration_of(x.duration()));
        if rec.kind == FaultKind::FailCheck && rec.proven_at.is_none() {
            let check = rec.check.clone().unwrap_or_default();
            let seen = plan
                .systems
                .iter()
                .find(|s| s.name.rsplit('/').next() == Some(rec.system.as_str()))
                .and_then(|s| s.checks.iter().find(|c| c.name == check))
                .filter(|c| c.last_error.as_deref() == Some(forced_error.as_str()));
            if let Some(c) = seen {
                rec.proven_at = c
                    .last_failed_at
                    .clone()
                    .or_else(|| c.last_attempt_at.clone())
                    .or(Some(now.clone()));
                rec.proof = Some(format!(
                    "check {check} failed: {}",
                    c.last_error.clone().unwrap_or_default()
                ));
            }
        }
        let policy = names::isolation_policy(f.name, &rec.system);
        let due = match (duration, rec.injected_at.as_ref()) {
            (Some(dur), Some(at)) => Some(plus(at, dur)),
            _ => None,
        };
        if watched(rec)
            && due.as_ref().is_none_or(|d| f.now < d.0)
            && watch_due(rec, f.now)
            && let Some(seen) = o.probes.get(&rec.system)
        {
            watch(rec, seen, &now, due.as_ref());
        }
        if let (Some(due), None) = (due, rec.lifted_at.as_ref()) {
            if f.now >= due.0 {
                if rec.kind == FaultKind::Isolate {
                    d.actions.push(Action::DeletePolicy { name: policy });
                }
                rec.lifted_at = Some(if rec.kind == FaultKind::FailCheck {
                    due
                } else {
                    now.clone()
                });
            } else {
                next = next.min(until(f.now, due.0));
            }
        } else if rec.kind == FaultKind::Isolate
            && rec.lifted_at.is_some()
            && o.policy_exists(&policy)
        {
            // Lifted in status, still in place: the deletion did not happen yet.
            d.actions.push(Action::DeletePolicy { name: policy });
        }
    }
    record_measurements(
        f,
        run,
        drill.as_ref(),
        plan,
        o.systems.as_deref().unwrap_or(&[]),
    );
    let done = plan.phase_is_final() && plan.observed_generation == *generation;
    if done {
        let (outcome, mut reason) = measure::outcome(plan.phase, &run.systems);
        let unproven = measure::unproven(run);
        if !unproven.is_empty() {
            reason.push_str(&format!(
                "; faults never seen to take effect: {}",
                unproven.join(", ")
            ));
        }
        let breached = measure::breached(run);
        if !breached.is_empty() {
            reason.push_str(&format!(
                "; isolation breached, connections got through while it held: {}",
                breached.join("; ")
            ));
        }
        run.outcome = Some(outcome);
        run.reason = Some(reason.clone());
        st.message = Some(format!("run {}: {reason}; reverting", run.number));
        st.phase = DrillPhase::Reverting;
        d.requeue = Some(NEXT_MOVE);
        return;
    }
    st.message = Some(format!(
        "run {}: recovering, {} systems verified",
        run.number,
        plan.progress.clone().unwrap_or_else(|| "0/0".into())
    ));
    d.requeue = Some(next.max(Duration::from_millis(200)));
}
