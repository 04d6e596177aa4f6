//! Network isolation: carried by the recovery plan until it ends, watched for breaches,
//! and the release gate it shuts put back on revert.

use super::*;

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
