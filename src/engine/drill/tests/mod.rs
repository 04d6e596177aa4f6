//! The drill engine driven without a cluster: an in-memory world carries out its actions
//! (and, sometimes, loses them, as a crash between the status write and the action
//! would), a stand-in plan recovers the systems, and the properties are checked at every
//! move and at the end of every run.
//!
//! The harness is here; the properties in `properties`, the start of a run in `start`,
//! and network isolation in `isolation`.

mod isolation;
mod properties;
mod start;

use std::collections::BTreeMap;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use proptest::prelude::*;
use serde_json::json;

use super::*;
use crate::api::v1alpha1::{
    ClinicalSystem, DrillPhase, FaultKind, PlanPhase, RecordedKind, RecoveryDrillSpec,
    RecoveryDrillStatus, RecoveryPlanStatus, SystemPhase, SystemStatus, WorkloadKind,
};
use crate::engine::names;

const NS: &str = "staging";
const DRILL: &str = "weekly";

fn at(secs: i64) -> Timestamp {
    Timestamp::from_second(1_780_000_000 + secs).expect("a timestamp")
}

fn systems() -> Vec<ClinicalSystem> {
    let system = |name: &str, kind: &str| -> ClinicalSystem {
        serde_json::from_value(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
            "metadata": { "name": name, "namespace": NS },
            "spec": {
                "displayName": name,
                "owner": { "team": "Pathology IT" },
                "tier": "critical",
                "recoveryTimeObjective": "30m",
                "restore": { "steps": [
                    { "name": "scale-up", "scale": { "kind": kind, "name": name, "replicas": 1 } }
                ] },
                "verify": { "checks": [
                    { "name": "api", "workloadReady": { "kind": kind, "name": name } }
                ] },
                "release": { "podSelector": { "matchLabels": { "app": name } } }
            }
        }))
        .expect("a ClinicalSystem")
    };
    vec![system("lims", "Deployment"), system("pacs", "StatefulSet")]
}

/// Which faults a drill has.
#[derive(Clone, Copy, Debug, Default)]
struct Faults {
    scale_lims: bool,
    delete_pacs: bool,
    isolate_lims: Option<Option<u32>>,
    fail_pacs: Option<Option<u32>>,
}

fn spec(faults: Faults, timeout: Option<&str>, abort: bool) -> RecoveryDrillSpec {
    let mut list = Vec::new();
    if faults.scale_lims {
        list.push(json!({ "system": "lims", "scaleToZero": {} }));
    }
    if faults.delete_pacs {
        list.push(json!({ "system": "pacs", "deletePods": {} }));
    }
    if let Some(d) = faults.isolate_lims {
        let mut f = json!({ "system": "lims", "isolate": {} });
        if let Some(s) = d {
            f["isolate"]["duration"] = json!(format!("{s}s"));
        }
        list.push(f);
    }
    if let Some(d) = faults.fail_pacs {
        let mut f = json!({ "system": "pacs", "failCheck": { "check": "api" } });
        if let Some(s) = d {
            f["failCheck"]["duration"] = json!(format!("{s}s"));
        }
        list.push(f);
    }
    let mut spec = json!({ "systems": { "names": ["lims", "pacs"] }, "faults": list });
    if let Some(t) = timeout {
        spec["timeout"] = json!(t);
    }
    spec["abort"] = json!(abort);
    serde_json::from_value(spec).expect("a drill spec")
}

/// Something that happens to a run from outside, at a move.
#[derive(Clone, Copy, Debug)]
enum Intervention {
    None,
    Abort,
    Delete,
    DeletePlan,
    PlanFails,
    /// The namespace loses its staging label: the run in progress becomes invalid.
    Unstage,
}

/// The cluster as the drill sees it, and the plan's progress.
#[derive(Clone, Debug)]
struct World {
    workloads: BTreeMap<(WorkloadKind, String), WorkloadSeen>,
    policies: BTreeMap<String, PolicySeen>,
    pods: BTreeMap<String, Vec<PodSeen>>,
    plan: Option<(
        bool,
        RecoveryPlanStatus,
        Option<crate::api::v1alpha1::PlanDrill>,
    )>,
    status: RecoveryDrillStatus,
    finalizer: bool,
    deleting: bool,
    gone: bool,
    staging: bool,
    next_uid: u32,
    plan_fails: bool,
}

/// The gate the recovery applies to each system, and the one that was there before.
fn gate(name: &str, stage: &str) -> serde_json::Value {
    json!({ "podSelector": { "matchLabels": { "app": name } }, "stage": stage })
}

impl World {
    /// The estate before the drill; `gated`: lims was released to staff already.
    fn new(gated: bool) -> World {
        let mut w = World {
            workloads: BTreeMap::new(),
            policies: BTreeMap::new(),
            pods: BTreeMap::new(),
            plan: None,
            status: RecoveryDrillStatus::default(),
            finalizer: false,
            deleting: false,
            gone: false,
            staging: true,
            next_uid: 0,
            plan_fails: false,
        };
        for (kind, name) in [
            (WorkloadKind::Deployment, "lims"),
            (WorkloadKind::StatefulSet, "pacs"),
        ] {
            w.workloads.insert(
                (kind, name.to_string()),
                WorkloadSeen {
                    desired: 3,
                    replicas: 3,
                    pods: 3,
                },
            );
            let pods = (0..3).map(|_| w.pod(name)).collect();
            w.pods.insert(name.to_string(), pods);
        }
        // lims was released before the drill (or not yet); pacs has no gate yet.
        if gated {
            w.policies.insert(
                names::release_policy("lims"),
                PolicySeen {
                    drill: None,
                    spec: Some(gate("lims", "all-sites")),
                },
            );
        }
        w
    }

    fn pod(&mut self, system: &str) -> PodSeen {
        self.next_uid += 1;
        PodSeen {
            name: format!("{system}-{}", self.next_uid),
            uid: format!("uid-{}", self.next_uid),
        }
    }

    fn observe(&self, f: &Facts<'_>) -> Observed {
        let systems = systems();
        let w = wants(f, &systems);
        let mut o = Observed {
            namespace_labels: if self.staging {
                BTreeMap::from([(
                    crate::api::v1alpha1::ENVIRONMENT_LABEL.to_string(),
                    crate::api::v1alpha1::STAGING.to_string(),
                )])
            } else {
                BTreeMap::new()
            },
            systems: Ok(systems),
            ..Default::default()
        };
        for wl in &w.workloads {
            o.workloads.insert(
                (wl.kind, wl.name.clone()),
                self.workloads.get(&(wl.kind, wl.name.clone())).cloned(),
            );
        }
        for p in &w.policies {
            o.policies.insert(p.clone(), self.policies.get(p).cloned());
        }
        for (system, kind, _) in &w.pods {
            o.pods.insert(
                (system.clone(), *kind),
                self.pods.get(system).cloned().unwrap_or_default(),
            );
        }
        if w.plan.is_some() {
            o.plan = Some(match &self.plan {
                None => PlanSeen::Missing,
                Some((deleting, status, drill)) => PlanSeen::Present {
                    deleting: *deleting,
                    generation: Some(1),
                    drill: drill.clone(),
                    status: Box::new(status.clone()),
                },
            });
        }
        o
    }

    fn act(&mut self, a: &Action) {
        match a {
            Action::AddFinalizer => self.finalizer = true,
            Action::RemoveFinalizer => {
                self.finalizer = false;
                if self.deleting {
                    self.gone = true;
                }
            }
            Action::SetReplicas { workload, replicas } => {
                if let Some(w) = self
                    .workloads
                    .get_mut(&(workload.kind, workload.name.clone()))
                {
                    *w = WorkloadSeen {
                        desired: *replicas,
                        replicas: *replicas,
                        pods: usize::try_from(*replicas).unwrap_or(0),
                    };
                }
            }
            Action::DeletePods { pods } => {
                for (system, list) in self.pods.clone() {
                    let kept: Vec<PodSeen> =
                        list.into_iter().filter(|p| !pods.contains(p)).collect();
                    self.pods.insert(system, kept);
                }
            }
            Action::Isolate { policy, gate, .. } => {
                if let Some(g) = gate.as_ref().and_then(|g| self.policies.get_mut(g)) {
                    g.spec = Some(json!({ "shut by": DRILL }));
                }
                self.policies.insert(
                    policy.clone(),
                    PolicySeen {
                        drill: Some(DRILL.into()),
                        spec: Some(json!({ "deny": "all" })),
                    },
                );
            }
            Action::DeletePolicy { name } => {
                self.policies.remove(name);
            }
            Action::RestorePolicy { name, spec } => {
                self.policies.insert(
                    name.clone(),
                    PolicySeen {
                        drill: None,
                        spec: Some(spec.clone()),
                    },
                );
            }
            Action::CreatePlan { spec, .. } => {
                if self.plan.is_none() {
                    self.plan = Some((false, RecoveryPlanStatus::default(), spec.drill.clone()));
                }
            }
            Action::DeletePlan { .. } => {
                if let Some(p) = self.plan.as_mut() {
                    p.0 = true;
                }
            }
        }
    }

    /// What the world does by itself between two moves: controllers replace deleted
    /// pods, a deleted plan goes, and a live plan recovers every system (scaling it to
    /// 1 replica, fewer than before the drill, and releasing it through a new gate).
    fn tick(&mut self, now: Timestamp) {
        for (system, kind) in [
            ("lims", WorkloadKind::Deployment),
            ("pacs", WorkloadKind::StatefulSet),
        ] {
            let want = self
                .workloads
                .get(&(kind, system.to_string()))
                .map_or(0, |w| w.desired);
            let want = usize::try_from(want).unwrap_or(0);
            while self.pods.get(system).map_or(0, Vec::len) < want {
                let p = self.pod(system);
                self.pods.entry(system.to_string()).or_default().push(p);
            }
            if let Some(pods) = self.pods.get_mut(system) {
                pods.truncate(want);
            }
            if let Some(w) = self.workloads.get_mut(&(kind, system.to_string())) {
                w.pods = self.pods.get(system).map_or(0, Vec::len);
            }
        }
        match &self.plan {
            Some((true, ..)) => self.plan = None,
            Some((false, status, _)) if !status.phase_is_final() => {
                for (kind, name) in [
                    (WorkloadKind::Deployment, "lims"),
                    (WorkloadKind::StatefulSet, "pacs"),
                ] {
                    self.act(&Action::SetReplicas {
                        workload: crate::api::v1alpha1::WorkloadRef {
                            kind,
                            name: name.into(),
                        },
                        replicas: 1,
                    });
                    self.policies.insert(
                        names::release_policy(name),
                        PolicySeen {
                            drill: None,
                            spec: Some(gate(name, "it-validation")),
                        },
                    );
                }
                let failing = self.plan_fails;
                let done = Time(now);
                let system = |name: &str| SystemStatus {
                    name: format!("{NS}/{name}"),
                    phase: if failing {
                        SystemPhase::Failed
                    } else {
                        SystemPhase::Verified
                    },
                    verified_at: (!failing).then(|| done.clone()),
                    failed_at: failing.then(|| done.clone()),
                    objective_seconds: Some(1800),
                    ..Default::default()
                };
                let status = RecoveryPlanStatus {
                    phase: if failing {
                        PlanPhase::Failed
                    } else {
                        PlanPhase::Succeeded
                    },
                    observed_generation: Some(1),
                    systems: vec![system("lims"), system("pacs")],
                    ..Default::default()
                };
                if let Some(p) = self.plan.as_mut() {
                    p.1 = status;
                }
            }
            _ => {}
        }
    }
}

/// The pre-drill record says `kind`/`name` had `replicas`.
fn recorded(status: &RecoveryDrillStatus, name: &str) -> Option<i32> {
    status
        .run
        .as_ref()?
        .pre_state
        .iter()
        .find(|r| r.name == name && r.kind != RecordedKind::NetworkPolicy)
        .and_then(|r| r.replicas)
}

/// What one run did, move by move.
struct Trace {
    world: World,
    decisions: Vec<Decision>,
}

/// Runs a drill with `faults` from a request to its end, `intervention` at move `when`,
/// losing the actions of the moves in `lost` (an operator that died right after writing
/// the status), moving the clock `step` seconds a move.
fn run(
    faults: Faults,
    gated: bool,
    intervention: Intervention,
    when: usize,
    lost: &[usize],
    step: i64,
) -> Trace {
    let mut world = World::new(gated);
    let mut decisions = Vec::new();
    let mut abort = false;
    for i in 0..400 {
        if world.deleting && !world.finalizer {
            // Nothing holds it: the API server removes it at once.
            world.gone = true;
        }
        if world.gone {
            break;
        }
        if i == when {
            match intervention {
                Intervention::None => {}
                Intervention::Abort => abort = true,
                Intervention::Delete => world.deleting = true,
                Intervention::DeletePlan => world.plan = None,
                Intervention::PlanFails => world.plan_fails = true,
                Intervention::Unstage => world.staging = false,
            }
        }
        let spec = spec(faults, Some("1h"), abort);
        let now = at(i64::try_from(i).unwrap_or(0) * step);
        let status = world.status.clone();
        let f = Facts {
            name: DRILL,
            namespace: NS,
            spec: &spec,
            status: &status,
            generation: Some(1),
            created: Some(at(-60)),
            requested: Some("token-1"),
            deleting: world.deleting,
            has_finalizer: world.finalizer,
            operator: Some("system:serviceaccount:lifeline-system:lifeline"),
            now,
        };
        let o = world.observe(&f);
        let d = decide(&f, &o);
        world.status = d.status.clone();
        if !lost.contains(&i) {
            for a in &d.actions {
                world.act(a);
            }
        }
        world.tick(now);
        let settled = d.actions.is_empty()
            && world.status.phase == DrillPhase::Finished
            && world.plan.is_none();
        decisions.push(d);
        if settled && !world.deleting {
            break;
        }
    }
    Trace { world, decisions }
}

/// What must hold once a run is over, whatever happened on the way: everything the drill
/// changed is back as recorded, its claims released, its faults lifted.
fn assert_put_back(t: &Trace) -> Result<(), TestCaseError> {
    let w = &t.world;
    let status = &w.status;
    let never_started = status.run.as_ref().is_none_or(|r| r.started_at.is_none());
    prop_assert!(
        w.gone
            || status.phase == DrillPhase::Finished
            || (never_started && !status.phase.is_active()),
        "the run ended: {:?} {:?}",
        status.phase,
        status.message
    );
    let Some(run) = status.run.as_ref() else {
        return Ok(());
    };
    prop_assert!(status.held.is_empty(), "claims released: {:?}", status.held);
    prop_assert!(w.plan.is_none(), "the plan is gone");
    for r in &run.pre_state {
        match r.kind.workload() {
            Some(kind) => {
                let now = w.workloads.get(&(kind, r.name.clone())).map(|x| x.desired);
                prop_assert_eq!(now, r.replicas, "{} {} put back", r.kind, r.name);
            }
            None if !r.existed => {
                prop_assert!(!w.policies.contains_key(&r.name), "{} deleted", r.name);
            }
            None => {
                let now = w.policies.get(&r.name).and_then(|p| p.spec.clone());
                let was: Option<serde_json::Value> = r
                    .policy_spec
                    .as_deref()
                    .map(|s| serde_json::from_str(s).expect("json"));
                prop_assert_eq!(now, was, "{} restored", &r.name);
            }
        }
    }
    for f in &run.faults {
        if f.kind == FaultKind::Isolate && f.injected_at.is_some() {
            prop_assert!(f.lifted_at.is_some(), "isolation lifted");
            prop_assert!(
                !w.policies
                    .contains_key(&names::isolation_policy(DRILL, "lims"))
            );
        }
    }
    Ok(())
}

/// What must hold at every move: nothing is injected before the pre-drill record is in
/// the status already written; the plan is created only once every proof is; the
/// finalizer goes only once the run is over.
fn assert_each_move(t: &Trace) -> Result<(), TestCaseError> {
    let mut written = RecoveryDrillStatus::default();
    for d in &t.decisions {
        let before = written.run.as_ref();
        for a in &d.actions {
            match a {
                Action::SetReplicas { workload, .. }
                    if before.is_none_or(|r| r.finished_at.is_some()) =>
                {
                    prop_assert!(false, "{workload:?} scaled with no run recorded");
                }
                Action::SetReplicas {
                    workload,
                    replicas: 0,
                } => {
                    prop_assert!(
                        recorded(&written, &workload.name).is_some(),
                        "{} scaled to zero before its replicas were recorded",
                        workload.name
                    );
                }
                Action::DeletePods { pods } => {
                    let run = before.expect("a run");
                    prop_assert!(!run.pre_state.is_empty(), "pre-drill state recorded");
                    let recorded_uids: Vec<&String> = d
                        .status
                        .run
                        .iter()
                        .flat_map(|r| &r.faults)
                        .flat_map(|f| &f.pod_uids)
                        .collect();
                    for p in pods {
                        prop_assert!(recorded_uids.contains(&&p.uid), "{p:?} recorded first");
                    }
                }
                Action::Isolate { policy, gate, .. } => {
                    let run = before.expect("a run");
                    for name in std::iter::once(policy).chain(gate) {
                        prop_assert!(
                            run.pre_state
                                .iter()
                                .any(|r| r.kind == RecordedKind::NetworkPolicy && r.name == *name),
                            "{} changed before it was recorded",
                            name
                        );
                    }
                }
                Action::CreatePlan { .. } => {
                    let run = before.expect("a run");
                    for f in &run.faults {
                        prop_assert!(
                            f.kind == FaultKind::FailCheck || f.proven_at.is_some(),
                            "{f:?} proven and written before the plan"
                        );
                    }
                }
                Action::RemoveFinalizer => {
                    let run = d.status.run.as_ref();
                    prop_assert!(
                        run.is_none_or(|r| r.started_at.is_none() || r.finished_at.is_some()),
                        "the finalizer goes only after the revert"
                    );
                }
                _ => {}
            }
        }
        written = d.status.clone();
    }
    Ok(())
}

/// A drill asked to run (token "t") a second after its creation.
fn facts<'a>(
    spec: &'a RecoveryDrillSpec,
    status: &'a RecoveryDrillStatus,
    namespace: &'a str,
    has_finalizer: bool,
) -> Facts<'a> {
    Facts {
        name: DRILL,
        namespace,
        spec,
        status,
        generation: Some(1),
        created: Some(at(0)),
        requested: Some("t"),
        deleting: false,
        has_finalizer,
        operator: None,
        now: at(1),
    }
}
