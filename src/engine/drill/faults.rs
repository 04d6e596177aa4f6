//! Each kind of fault, decided: what a fault acts on, the record it starts from, when it
//! is injected, what proves it took effect, and when it is lifted. The controller carries
//! out the actions this returns (`controller/drill/faults/`, one file per kind).

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::LabelSelector, jiff::Timestamp};
use kube::ResourceExt;

use super::{Action, Observed};
use crate::{
    api::v1alpha1::{
        ClinicalSystem, Fault, FaultKind, FaultRecord, PlanDrill, RecordedKind, RecordedState,
        ScaleToZeroFault, StepAction, WorkloadKind, WorkloadRef,
    },
    engine::names,
};

/// The workloads a system's `scale` steps name: what its recovery scales back up.
pub fn scale_targets(system: &ClinicalSystem) -> Vec<WorkloadRef> {
    let mut out: Vec<WorkloadRef> = Vec::new();
    for step in system.spec.steps() {
        if let Some(StepAction::Scale(s)) = step.action() {
            let w = WorkloadRef {
                kind: s.kind,
                name: s.name.clone(),
            };
            if !out.contains(&w) {
                out.push(w);
            }
        }
    }
    out
}

/// The workloads a `scaleToZero` fault acts on: those it names, or the system's.
pub fn workload_targets(f: &ScaleToZeroFault, system: &ClinicalSystem) -> Vec<WorkloadRef> {
    if f.workloads.is_empty() {
        scale_targets(system)
    } else {
        f.workloads.clone()
    }
}

/// The pods a `deletePods` or `isolate` fault acts on: its selector, or the system's
/// `release.podSelector`.
pub fn fault_selector(f: &Fault, system: &ClinicalSystem) -> Option<LabelSelector> {
    let own = match f.kind()? {
        FaultKind::DeletePods => f.delete_pods.as_ref().and_then(|p| p.selector.clone()),
        FaultKind::Isolate => f.isolate.as_ref().and_then(|p| p.selector.clone()),
        FaultKind::ScaleToZero | FaultKind::FailCheck => return None,
    };
    own.or_else(|| system.spec.release.as_ref().map(|r| r.pod_selector.clone()))
}

/// One record per fault and target of drill `drill`, nothing injected yet.
pub fn records(drill: &str, faults: &[Fault], systems: &[ClinicalSystem]) -> Vec<FaultRecord> {
    let mut out = Vec::new();
    let record = |system: &str, kind: FaultKind, target: String| FaultRecord {
        system: system.to_string(),
        kind,
        target,
        injected_at: None,
        proven_at: None,
        proof: None,
        lifted_at: None,
        pod_uids: vec![],
        workload: None,
        check: None,
    };
    for f in faults {
        let Some(system) = systems.iter().find(|s| s.name_any() == f.system) else {
            continue;
        };
        let Some(kind) = f.kind() else { continue };
        match kind {
            FaultKind::ScaleToZero => {
                for w in f
                    .scale_to_zero
                    .as_ref()
                    .map(|sz| workload_targets(sz, system))
                    .unwrap_or_default()
                {
                    out.push(FaultRecord {
                        workload: Some(w.clone().into()),
                        ..record(&f.system, kind, format!("{}/{}", w.kind, w.name))
                    });
                }
            }
            FaultKind::DeletePods => {
                out.push(record(&f.system, kind, format!("pods of {}", f.system)));
            }
            FaultKind::Isolate => out.push(record(
                &f.system,
                kind,
                format!(
                    "NetworkPolicy/{}",
                    names::isolation_policy(drill, &f.system)
                ),
            )),
            FaultKind::FailCheck => {
                let check = f
                    .fail_check
                    .as_ref()
                    .map(|fc| fc.check.clone())
                    .unwrap_or_default();
                out.push(FaultRecord {
                    check: Some(check.clone()),
                    ..record(&f.system, kind, format!("check {check}"))
                });
            }
        }
    }
    out
}

/// The spec fault a record was made from.
pub fn spec_of<'a>(faults: &'a [Fault], rec: &FaultRecord) -> Option<&'a Fault> {
    faults.iter().find(|f| {
        f.system == rec.system
            && f.kind() == Some(rec.kind)
            && match rec.kind {
                FaultKind::FailCheck => {
                    f.fail_check.as_ref().map(|fc| &fc.check) == rec.check.as_ref()
                }
                _ => true,
            }
    })
}

/// The error a check records when a drill's plan fails it on purpose.
pub fn forced_failure_error(drill: &str) -> String {
    format!("failed on purpose by drill {drill} (failCheck fault)")
}

/// Why `check` of `system` fails on purpose at `now`, if the plan was created by drill
/// `drill` with a `failCheck` fault for it that is still in force.
pub fn forced_failure(
    drill: Option<&PlanDrill>,
    system: &str,
    check: &str,
    now: Timestamp,
) -> Option<String> {
    let drill = drill?;
    drill
        .fail_checks
        .iter()
        .find(|f| {
            f.system == system && f.check == check && f.until.as_ref().is_none_or(|u| now < u.0)
        })
        .map(|_| forced_failure_error(&drill.name))
}

/// What the pre-drill record says of `w`'s replicas.
fn replicas_before(pre_state: &[RecordedState], w: &WorkloadRef) -> i32 {
    pre_state
        .iter()
        .find(|r| r.kind == RecordedKind::from(w.kind) && r.name == w.name)
        .and_then(|r| r.replicas)
        .unwrap_or(0)
}

/// Moves one fault on while the run injects: injects it (recording the moment, then
/// acting, so a crash in between acts again on the next reconcile), acts again while it
/// has not taken effect, and records the proof once what was observed shows it did.
/// A `failCheck` is injected here and proven by the plan's record of the failure.
pub fn inject(
    drill: &str,
    rec: &mut FaultRecord,
    selector: Option<&LabelSelector>,
    pre_state: &[RecordedState],
    observed: &Observed,
    now: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time,
) -> Option<Action> {
    if rec.proven_at.is_some() {
        return None;
    }
    match rec.kind {
        FaultKind::ScaleToZero => {
            let w: WorkloadRef = rec.workload.clone()?.into();
            if rec.injected_at.is_none() {
                rec.injected_at = Some(now.clone());
                return Some(Action::SetReplicas {
                    workload: w,
                    replicas: 0,
                });
            }
            let seen = observed.workload(w.kind, &w.name)?;
            if seen.desired == 0 && seen.replicas == 0 && seen.pods == 0 {
                rec.proven_at = Some(now.clone());
                rec.proof = Some(format!(
                    "{} scaled from {} to 0 replicas; no pod left",
                    rec.target,
                    replicas_before(pre_state, &w)
                ));
                None
            } else if seen.desired != 0 {
                Some(Action::SetReplicas {
                    workload: w,
                    replicas: 0,
                })
            } else {
                None
            }
        }
        FaultKind::DeletePods => {
            let pods = observed.pods.get(&(rec.system.clone(), rec.kind))?;
            if rec.injected_at.is_none() {
                // Which pods, recorded with the moment before any is deleted: the proof
                // is that none of these is left, whatever replaces them.
                rec.injected_at = Some(now.clone());
                rec.pod_uids = pods.iter().map(|p| p.uid.clone()).collect();
                if pods.is_empty() {
                    rec.proven_at = Some(now.clone());
                    rec.proof = Some("no pod was running to delete".into());
                    return None;
                }
                return Some(Action::DeletePods { pods: pods.clone() });
            }
            let left: Vec<_> = pods
                .iter()
                .filter(|p| rec.pod_uids.contains(&p.uid))
                .cloned()
                .collect();
            if left.is_empty() {
                rec.proven_at = Some(now.clone());
                rec.proof = Some(format!(
                    "{} pods deleted, none of them left ({} replacements since)",
                    rec.pod_uids.len(),
                    pods.len()
                ));
                None
            } else {
                Some(Action::DeletePods { pods: left })
            }
        }
        FaultKind::Isolate => {
            let policy = names::isolation_policy(drill, &rec.system);
            let selector = selector?.clone();
            if rec.injected_at.is_none() {
                rec.injected_at = Some(now.clone());
            } else if observed.policy_exists(&policy) {
                let pods = observed
                    .pods
                    .get(&(rec.system.clone(), rec.kind))
                    .map_or(0, Vec::len);
                rec.proven_at = Some(now.clone());
                rec.proof = Some(format!(
                    "deny-all NetworkPolicy {policy} in place, selecting {pods} pods"
                ));
                return None;
            }
            Some(Action::Isolate {
                policy,
                system: rec.system.clone(),
                selector,
            })
        }
        FaultKind::FailCheck => {
            if rec.injected_at.is_none() {
                rec.injected_at = Some(now.clone());
            }
            None
        }
    }
}

/// The workload kind of a pre-drill record, for a Deployment or StatefulSet.
pub fn workload_of(r: &RecordedState) -> Option<WorkloadRef> {
    r.kind.workload().map(|kind: WorkloadKind| WorkloadRef {
        kind,
        name: r.name.clone(),
    })
}
