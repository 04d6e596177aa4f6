//! Ending a run: the plan deleted first, everything put back from the record, and the
//! run finished only once the cluster is seen to match it; and a deleted drill reverted
//! before its finalizer goes.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{
    Action, Decision, Facts, NEXT_MOVE, Notice, NoticeKind, Observed, POLL, PlanSeen,
    decide::{history_limit, plan_of, push_history, record_measurements},
    faults::{self},
};
use crate::api::v1alpha1::{DrillOutcome, DrillPhase, DrillRun, FaultKind};

/// What putting `run`'s record back takes, as observed: the actions, and a line each for
/// the record of what was put back.
fn put_back(run: &DrillRun, o: &Observed) -> Vec<(Action, String)> {
    let mut out = Vec::new();
    for r in &run.pre_state {
        if let Some(w) = faults::workload_of(r) {
            let (Some(want), true) = (r.replicas, r.existed) else {
                continue;
            };
            if let Some(seen) = o.workload(w.kind, &w.name)
                && seen.desired != want
            {
                out.push((
                    Action::SetReplicas {
                        workload: w,
                        replicas: want,
                    },
                    format!(
                        "{}/{}: replicas {} -> {want}, as before the drill",
                        r.kind, r.name, seen.desired
                    ),
                ));
            }
            continue;
        }
        if !r.existed {
            if o.policy_exists(&r.name) {
                out.push((
                    Action::DeletePolicy {
                        name: r.name.clone(),
                    },
                    format!(
                        "NetworkPolicy/{}: deleted (it did not exist before the drill)",
                        r.name
                    ),
                ));
            }
        } else if let Some(spec) = r
            .policy_spec
            .as_deref()
            .and_then(|s| serde_json::from_str::<serde_json::Value>(s).ok())
        {
            let current = o.policy(&r.name).and_then(|p| p.spec.as_ref());
            if current != Some(&spec) {
                out.push((
                    Action::RestorePolicy {
                        name: r.name.clone(),
                        spec,
                    },
                    format!("NetworkPolicy/{}: restored as before the drill", r.name),
                ));
            }
        }
    }
    out
}

pub(super) fn revert(f: &Facts<'_>, o: &Observed, d: &mut Decision) {
    let now = Time(f.now);
    let limit = history_limit(f);
    let st = &mut d.status;
    let Some(mut run) = st.run.clone() else {
        st.phase = DrillPhase::Idle;
        return;
    };
    // Measure once more from the plan's last status, then the plan goes first, so it
    // cannot undo the revert.
    match &o.plan {
        Some(PlanSeen::Present {
            deleting: false,
            drill,
            status,
            ..
        }) => {
            if run.plan.is_some() {
                record_measurements(
                    f,
                    &mut run,
                    drill.as_ref(),
                    status,
                    o.systems.as_deref().unwrap_or(&[]),
                );
            }
            d.actions.push(Action::DeletePlan {
                name: plan_of(f, &run),
            });
            st.run = Some(run);
            d.requeue = Some(POLL);
            return;
        }
        Some(PlanSeen::Present { deleting: true, .. }) => {
            d.requeue = Some(POLL);
            return;
        }
        Some(PlanSeen::Missing) | None => {}
    }
    // Finish only on a full look at what the record names.
    let unseen = run.pre_state.iter().any(|r| match faults::workload_of(r) {
        Some(w) => !o.workloads.contains_key(&(w.kind, w.name)),
        None => !o.policies.contains_key(&r.name),
    });
    if unseen {
        st.run = Some(run);
        d.requeue = Some(NEXT_MOVE);
        return;
    }
    let todo = put_back(&run, o);
    if !todo.is_empty() {
        // Put back, and finish only once the cluster is seen to match the record.
        for (action, line) in todo {
            if !run.reverted.contains(&line) {
                run.reverted.push(line);
            }
            d.actions.push(action);
        }
        st.run = Some(run);
        d.requeue = Some(NEXT_MOVE);
        return;
    }
    for x in run.faults.iter_mut() {
        if x.kind == FaultKind::Isolate && x.lifted_at.is_none() && x.injected_at.is_some() {
            x.lifted_at = Some(now.clone());
        }
    }
    st.held.clear();
    run.finished_at = Some(now);
    let outcome = *run.outcome.get_or_insert(DrillOutcome::Aborted);
    let reason = run.reason.clone().unwrap_or_default();
    push_history(st, &run, limit);
    st.message = Some(format!("run {} {outcome}: {reason}", run.number));
    st.run = Some(run);
    st.phase = DrillPhase::Finished;
    d.notices.push(Notice {
        kind: NoticeKind::Finished(outcome),
        note: format!("{outcome}: {reason}"),
    });
    d.requeue = Some(NEXT_MOVE);
}

/// The drill is being deleted: stop the run, put everything back, then let it go.
pub(super) fn finalize(f: &Facts<'_>, o: &Observed, d: &mut Decision) {
    if !f.has_finalizer {
        return;
    }
    let st = &mut d.status;
    if let Some(run) = st.run.as_mut()
        && run.finished_at.is_none()
        && run.started_at.is_some()
    {
        if run.outcome.is_none() {
            run.outcome = Some(DrillOutcome::Aborted);
            run.reason = Some("the drill was deleted".into());
        }
        st.phase = DrillPhase::Reverting;
        revert(f, o, d);
        if d.status.phase == DrillPhase::Reverting {
            return;
        }
    }
    d.actions.push(Action::RemoveFinalizer);
    d.requeue = None;
}
