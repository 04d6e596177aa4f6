//! The drill engine driven without a cluster: an in-memory world carries out its actions
//! (and, sometimes, loses them, as a crash between the status write and the action
//! would), a stand-in plan recovers the systems, and the properties are checked at every
//! move and at the end of every run.

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

fn faults_strategy() -> impl Strategy<Value = Faults> {
    (
        any::<bool>(),
        any::<bool>(),
        proptest::option::of(proptest::option::of(1u32..30)),
        proptest::option::of(proptest::option::of(1u32..30)),
    )
        .prop_map(
            |(scale_lims, delete_pacs, isolate_lims, fail_pacs)| Faults {
                scale_lims,
                delete_pacs,
                isolate_lims,
                fail_pacs,
            },
        )
        .prop_filter("at least one fault", |f| {
            f.scale_lims || f.delete_pacs || f.isolate_lims.is_some() || f.fail_pacs.is_some()
        })
}

fn intervention_strategy() -> impl Strategy<Value = Intervention> {
    prop_oneof![
        Just(Intervention::None),
        Just(Intervention::Abort),
        Just(Intervention::Delete),
        Just(Intervention::DeletePlan),
        Just(Intervention::PlanFails),
        Just(Intervention::Unstage),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// Every fault injected is put back on every path to the end (a clean run, an abort,
    /// a deletion, a deleted or failing plan, the namespace no longer staging, at any
    /// move, with or without a release gate before the drill), even when the operator dies
    /// after writing a status and before acting on it.
    #[test]
    fn every_path_to_the_end_puts_everything_back(
        faults in faults_strategy(),
        intervention in intervention_strategy(),
        gated in any::<bool>(),
        when in 0usize..25,
        lost in proptest::collection::vec(0usize..30, 0..6),
        step in 1i64..8,
    ) {
        let t = run(faults, gated, intervention, when, &lost, step);
        assert_each_move(&t)?;
        assert_put_back(&t)?;
    }
}

#[test]
fn a_run_that_becomes_invalid_at_any_move_is_put_back_in_full() {
    // The namespace stops being staging mid-run: the run is refused and reverted, from a
    // full look at what it recorded, whatever the move.
    let faults = Faults {
        scale_lims: true,
        delete_pacs: true,
        isolate_lims: Some(None),
        fail_pacs: None,
    };
    for when in 0..20 {
        for gated in [false, true] {
            let t = run(faults, gated, Intervention::Unstage, when, &[], 2);
            assert_each_move(&t).unwrap_or_else(|e| panic!("move {when}: {e}"));
            assert_put_back(&t).unwrap_or_else(|e| panic!("move {when}: {e}"));
        }
    }
}

#[test]
fn a_clean_run_records_injects_proves_recovers_and_reverts_in_that_order() {
    let faults = Faults {
        scale_lims: true,
        delete_pacs: true,
        isolate_lims: Some(None),
        fail_pacs: None,
    };
    let t = run(faults, true, Intervention::None, usize::MAX, &[], 2);
    let phases: Vec<DrillPhase> = t.decisions.iter().map(|d| d.status.phase).collect();
    let mut seen: Vec<DrillPhase> = phases.clone();
    seen.dedup();
    assert_eq!(
        seen,
        [
            DrillPhase::Idle,
            DrillPhase::Injecting,
            DrillPhase::Recovering,
            DrillPhase::Reverting,
            DrillPhase::Finished
        ],
        "{phases:?}"
    );
    let run = t.world.status.run.clone().expect("a run");
    assert_eq!(
        run.outcome,
        Some(crate::api::v1alpha1::DrillOutcome::Passed)
    );
    assert_eq!(run.faults.len(), 3);
    for f in &run.faults {
        assert!(f.proven_at.is_some(), "{f:?}");
    }
    // The recovery scaled lims and pacs to 1 and rewrote lims' gate; the revert put back
    // 3 replicas each and the gate as it was, and removed the gate pacs did not have.
    assert!(
        run.reverted
            .contains(&"Deployment/lims: replicas 1 -> 3, as before the drill".to_string()),
        "{:?}",
        run.reverted
    );
    assert!(run.reverted.contains(&format!(
        "NetworkPolicy/{}: deleted (it did not exist before the drill)",
        names::release_policy("pacs")
    )));
    assert_eq!(
        t.world.policies[&names::release_policy("lims")].spec,
        Some(gate("lims", "all-sites"))
    );
    assert!(
        t.decisions
            .iter()
            .flat_map(|d| &d.notices)
            .any(|n| n.kind == NoticeKind::Finished(crate::api::v1alpha1::DrillOutcome::Passed))
    );
    assert_put_back(&t).expect("put back");
}

/// A drill that scales lims to zero, and nothing else.
fn lims_off() -> RecoveryDrillSpec {
    let lims = Faults {
        scale_lims: true,
        ..Default::default()
    };
    spec(lims, None, false)
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

#[test]
fn a_new_drill_gets_its_finalizer_before_anything_else() {
    let spec = lims_off();
    let status = RecoveryDrillStatus::default();
    let f = facts(&spec, &status, NS, false);
    let d = decide(&f, &World::new(true).observe(&f));
    assert_eq!(d.actions, [Action::AddFinalizer]);
    assert_eq!(d.status, status);
}

#[test]
fn a_drill_outside_staging_is_refused_and_its_request_consumed() {
    let spec = lims_off();
    let status = RecoveryDrillStatus::default();
    let f = facts(&spec, &status, "wards", true);
    let mut o = World::new(true).observe(&f);
    o.namespace_labels.clear();
    let d = decide(&f, &o);
    assert!(d.actions.is_empty());
    assert_eq!(d.status.phase, DrillPhase::Idle);
    assert_eq!(d.status.run_token.as_deref(), Some("t"));
    assert_eq!(d.notices.len(), 1);
    assert_eq!(d.notices[0].kind, NoticeKind::Refused);
    assert!(
        d.notices[0]
            .note
            .contains("not labelled lifeline.dev/environment=staging")
    );
    let ready = d
        .status
        .conditions
        .iter()
        .find(|c| c.type_ == "Ready")
        .expect("Ready");
    assert_eq!(
        (ready.status.as_str(), ready.reason.as_str()),
        ("False", "Invalid")
    );
}

#[test]
fn a_run_refused_for_a_missing_workload_keeps_saying_why_on_the_moves_after() {
    let spec = lims_off();
    let status = RecoveryDrillStatus::default();
    let f = facts(&spec, &status, NS, true);
    let mut o = World::new(true).observe(&f);
    o.workloads.clear();
    let d = decide(&f, &o);
    let why = d.status.message.clone().unwrap_or_default();
    assert!(why.contains("does not exist"), "{why}");
    assert!(d.status.run.is_none(), "nothing started");
    // The request is taken; nothing is due on the next move, which says the same.
    let again = Facts {
        now: at(2),
        ..facts(&spec, &d.status, NS, true)
    };
    let next = decide(&again, &World::new(true).observe(&again));
    assert!(next.actions.is_empty());
    assert_eq!(next.status.message.as_deref(), Some(why.as_str()));
}

#[test]
fn a_run_held_by_another_drill_waits_and_says_which() {
    let spec = lims_off();
    let status = RecoveryDrillStatus::default();
    let f = facts(&spec, &status, NS, true);
    assert!(
        wants(&f, &systems()).holder,
        "a run due to start looks for claims"
    );
    let mut o = World::new(true).observe(&f);
    o.holder = Some("ClinicalSystem lims is held by drill staging/other".into());
    let d = decide(&f, &o);
    assert!(d.actions.is_empty(), "nothing is touched while waiting");
    assert_eq!(d.status.phase, DrillPhase::Waiting);
    assert!(d.status.held.is_empty());
    assert_eq!(d.requeue, Some(WAIT_POLL));
    assert_eq!(d.notices[0].kind, NoticeKind::Waiting);
}

#[test]
fn the_recovery_plan_carries_each_isolation_until_it_ends() {
    let faults = Faults {
        isolate_lims: Some(Some(30)),
        ..Faults::default()
    };
    let t = run(faults, true, Intervention::None, usize::MAX, &[], 2);
    let spec = t
        .decisions
        .iter()
        .flat_map(|d| &d.actions)
        .find_map(|a| match a {
            Action::CreatePlan { spec, .. } => Some(spec.clone()),
            _ => None,
        })
        .expect("the run creates its plan");
    let drill = spec.drill.as_ref().expect("the plan names its drill");
    let injected = t
        .world
        .status
        .run
        .as_ref()
        .and_then(|r| r.faults.iter().find(|f| f.kind == FaultKind::Isolate))
        .and_then(|f| f.injected_at.clone())
        .expect("the isolation was injected");
    let until = drill
        .isolations
        .iter()
        .find(|i| i.system == "lims")
        .and_then(|i| i.until.clone())
        .expect("lims isolated until a time");
    assert_eq!(
        crate::engine::time::seconds_between(injected.0, until.0),
        Some(30)
    );
    // In force up to that moment, for lims only; not after it.
    let before = until.0 - k8s_openapi::jiff::SignedDuration::from_secs(1);
    assert_eq!(
        super::faults::isolation_in_force(Some(drill), "lims", before),
        Some((DRILL, Some(until.0)))
    );
    assert_eq!(
        super::faults::isolation_in_force(Some(drill), "pacs", before),
        None
    );
    assert_eq!(
        super::faults::isolation_in_force(Some(drill), "lims", until.0),
        None
    );
    assert_eq!(
        super::faults::isolation_in_force(None, "lims", before),
        None
    );
    // Meanwhile lims' connecting checks are not tried; a readiness check still is.
    let check = |c: serde_json::Value| -> crate::api::v1alpha1::Check {
        serde_json::from_value(c).expect("check")
    };
    let page =
        check(serde_json::json!({ "name": "page", "http": { "url": "http://lims.lab.svc/" } }));
    let port = check(
        serde_json::json!({ "name": "port", "tcp": { "host": "lims.lab.svc", "port": 5432 } }),
    );
    let ready = check(
        serde_json::json!({ "name": "ready", "workloadReady": { "kind": "Deployment", "name": "lims" } }),
    );
    let held = |c: &crate::api::v1alpha1::Check, system: &str, now| {
        super::faults::failed_by_drill(Some(drill), system, c, now)
    };
    let why = held(&page, "lims", before).expect("held while isolated");
    assert!(
        why.starts_with(&format!("not tried: drill {DRILL} isolates lims until 20")),
        "{why}"
    );
    assert!(held(&port, "lims", before).is_some());
    assert_eq!(
        held(&ready, "lims", before),
        None,
        "does not connect to lims"
    );
    assert_eq!(held(&page, "pacs", before), None, "pacs is not isolated");
    assert_eq!(held(&page, "lims", until.0), None, "tried once it ends");
}

#[test]
fn an_isolation_without_a_duration_is_in_force_for_the_whole_plan() {
    let drill = crate::api::v1alpha1::PlanDrill {
        name: DRILL.into(),
        fail_checks: Vec::new(),
        isolations: vec![crate::api::v1alpha1::DrillIsolation {
            system: "lims".into(),
            until: None,
        }],
    };
    assert_eq!(
        super::faults::isolation_in_force(Some(&drill), "lims", at(86_400 * 365)),
        Some((DRILL, None))
    );
}

#[test]
fn an_isolation_is_watched_while_it_holds_and_a_connection_that_gets_through_is_a_breach() {
    let spec = spec(
        Faults {
            isolate_lims: Some(Some(30)),
            ..Faults::default()
        },
        None,
        false,
    );
    let isolated = crate::api::v1alpha1::FaultRecord {
        system: "lims".into(),
        kind: FaultKind::Isolate,
        target: format!("NetworkPolicy/{}", names::isolation_policy(DRILL, "lims")),
        injected_at: Some(Time(at(1))),
        proven_at: Some(Time(at(2))),
        proof: Some("connections fail".into()),
        lifted_at: None,
        pod_uids: vec![],
        workload: None,
        check: None,
        watch: None,
    };
    let mut status = RecoveryDrillStatus {
        phase: DrillPhase::Recovering,
        run: Some(crate::api::v1alpha1::DrillRun {
            number: 1,
            token: Some("t".into()),
            started_at: Some(Time(at(1))),
            plan: Some(names::drill_plan(DRILL, 1)),
            faults: vec![isolated],
            ..Default::default()
        }),
        run_token: Some("t".into()),
        ..Default::default()
    };
    let recovering = RecoveryPlanStatus {
        phase: PlanPhase::Running,
        observed_generation: Some(1),
        ..Default::default()
    };
    let mut world = World::new(true);
    world.plan = Some((false, recovering.clone(), None));
    // Tries at 10 s (refused), 16 s (one got through), 22 s (refused); one at 12 s, too
    // soon after the one before (it does not count, and is not asked for); one that began
    // at 30 s and ended at 31 s, when the isolation (injected at 1 s, for 30 s) was over;
    // and one at 31 s, on the move that lifts it: neither counts.
    // lims with a Service to try.
    let mut served = systems();
    served[0]
        .spec
        .verify
        .get_or_insert_with(|| serde_json::from_value(json!({ "checks": [] })).expect("verify"))
        .checks
        .push(
            serde_json::from_value(
                json!({ "name": "page", "http": { "url": "http://lims.staging.svc:8080/" } }),
            )
            .expect("check"),
        );
    let through = || vec!["lims.staging.svc:8080".to_string()];
    let refused = || vec!["lims.staging.svc:8080: refused".to_string()];
    let tries = [
        (10, 10, vec![], refused()),
        (12, 12, through(), vec![]),
        (16, 16, through(), vec![]),
        (22, 24, vec![], refused()),
        (30, 31, through(), vec![]),
        (31, 31, through(), vec![]),
    ];
    for (secs, ended, open, blocked) in tries {
        let f = Facts {
            now: at(secs),
            ..facts(&spec, &status, NS, true)
        };
        if secs == 16 {
            assert_eq!(wants(&f, &served).probes.len(), 1, "tried again");
        }
        if secs == 12 {
            assert!(
                wants(&f, &served).probes.is_empty(),
                "not tried again within {:?}",
                super::decide::WATCH_INTERVAL
            );
        }
        let mut o = world.observe(&f);
        o.probes.insert(
            "lims".into(),
            ProbeSeen {
                open,
                blocked,
                untried: vec![],
                finished_at: Some(at(ended)),
            },
        );
        status = decide(&f, &o).status;
    }
    let rec = &status.run.as_ref().expect("run").faults[0];
    assert!(rec.lifted_at.is_some(), "lifted once its 30 s are over");
    let watch = rec.watch.clone().expect("watched");
    assert_eq!((watch.tries, watch.breaches), (3, 1), "{watch:?}");
    assert_eq!(watch.first_breach_at, Some(Time(at(16))));
    assert_eq!(watch.last_tried_at, Some(Time(at(24))));
    assert_eq!(watch.through, ["lims.staging.svc:8080"]);

    // The run's reason names the breach when the recovery is over.
    let mut done = recovering;
    done.phase = PlanPhase::Succeeded;
    world.plan = Some((false, done, None));
    let f = Facts {
        now: at(40),
        ..facts(&spec, &status, NS, true)
    };
    let d = decide(&f, &world.observe(&f));
    let reason = d.status.run.and_then(|r| r.reason).unwrap_or_default();
    assert!(
        reason.contains("isolation breached, connections got through while it held: lims: 1 of 3 tries got through (lims.staging.svc:8080), first at "),
        "{reason}"
    );
}

#[test]
fn an_isolation_shuts_the_release_gate_an_earlier_recovery_left_and_the_revert_puts_it_back() {
    let isolate = || Faults {
        isolate_lims: Some(Some(30)),
        ..Faults::default()
    };
    let gates = |t: &Trace| -> Vec<Option<String>> {
        t.decisions
            .iter()
            .flat_map(|d| &d.actions)
            .filter_map(|a| match a {
                Action::Isolate { gate, .. } => Some(gate.clone()),
                _ => None,
            })
            .collect()
    };
    let gated = run(isolate(), true, Intervention::None, usize::MAX, &[], 2);
    let shut = gates(&gated);
    assert!(!shut.is_empty(), "lims isolated");
    assert!(
        shut.iter()
            .all(|g| g.as_deref() == Some(names::release_policy("lims").as_str())),
        "every isolation of lims shuts its gate too: {shut:?}"
    );
    assert_eq!(
        gated
            .world
            .policies
            .get(&names::release_policy("lims"))
            .and_then(|p| p.spec.clone()),
        Some(gate("lims", "all-sites")),
        "put back as it was before the drill"
    );
    // No gate before the drill: none to shut (the recovery plan makes one, shut).
    let ungated = run(isolate(), false, Intervention::None, usize::MAX, &[], 2);
    assert!(gates(&ungated).iter().all(Option::is_none));
}
