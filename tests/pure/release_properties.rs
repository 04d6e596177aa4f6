//! Releases, system by system, over random interleavings of systems being verified,
//! people approving and rejecting, and checks failing and passing again while systems
//! soak: no system is ever released at a stage that needs people without an accepted,
//! unrejected approval naming it, no system skips a stage, and none leaves a stage with a
//! soak before it has been released there that long with its checks passing.

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use lifeline::{
    api::v1alpha1::{Approval, ApprovalRule, Decision},
    engine::{
        Action, Inputs, Observation, PlanSettings, StageGate, StageModel,
        approvals::{PlanFacts, evaluate},
        decide,
    },
};
use proptest::prelude::*;
use serde_json::json;

use super::fixture::{Run, at, key, must_plan, sys, time};

const PEOPLE: [&str; 3] = ["alice", "bob", "carol"];

/// Something that happens during the recovery.
#[derive(Clone, Debug)]
enum Event {
    /// System `i` finishes its step and passes its check.
    Verify(usize),
    /// Person `who` approves (or rejects) the systems in `mask` at stage `stage`.
    Decide {
        stage: usize,
        who: usize,
        mask: u8,
        reject: bool,
    },
    /// System `i`'s check runs again (while it soaks) and passes or fails.
    Rerun { system: usize, passed: bool },
}

fn events(systems: usize) -> impl Strategy<Value = Vec<Event>> {
    let one = prop_oneof![
        (0..systems).prop_map(Event::Verify),
        (1usize..3, 0usize..3, 1u8..16, proptest::bool::weighted(0.2)).prop_map(
            |(stage, who, mask, reject)| Event::Decide {
                stage,
                who,
                mask,
                reject
            }
        ),
        ((0..systems), proptest::bool::weighted(0.6))
            .prop_map(|(system, passed)| Event::Rerun { system, passed }),
    ];
    proptest::collection::vec(one, 1..60)
}

/// The soak at the `ward` stage, in seconds, when the run has one.
const SOAK: i64 = 30;

fn settings(required: [u32; 2], soak: bool) -> PlanSettings {
    let stage = |name: &str, required: u32| StageModel {
        name: name.into(),
        approval: ApprovalRule {
            required,
            approver_groups: vec![],
            allow_requester: false,
            distinct_groups: false,
        },
        checklist: vec![],
        decision_time: None,
        soak: None,
    };
    let ward = StageModel {
        soak: soak.then(|| std::time::Duration::from_secs(SOAK as u64)),
        ..stage("ward", required[0])
    };
    PlanSettings {
        stages: vec![
            stage("it-validation", 0),
            ward,
            stage("all-sites", required[1]),
        ],
        ..Default::default()
    }
}

fn approval(n: usize, stage: &str, who: &str, systems: Vec<String>, reject: bool) -> Approval {
    serde_json::from_value(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
        "metadata": { "name": format!("d{n}"), "namespace": "ward",
                      "creationTimestamp": time(10 * n as i64 + 1) },
        "spec": {
            "plan": "recovery", "stage": stage, "systems": systems,
            "decision": if reject { "reject" } else { "approve" },
            "comment": "decided",
            "approver": { "username": who }
        }
    }))
    .expect("an Approval")
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn no_system_is_released_unapproved_or_skips_a_stage(
        n in 2usize..5,
        required in (1u32..3, 0u32..3),
        soak in proptest::bool::ANY,
        events in events(4),
    ) {
        let names: Vec<String> = (0..n).map(|i| format!("s{i}")).collect();
        let systems: Vec<_> = names.iter().map(|s| sys(s).steps(1).checks(1).gate()).collect();
        let settings = settings([required.0, required.1], soak);
        let mut run = Run::new(must_plan(&systems, settings.clone()));
        // Only the decisions below, with the Approvals' gates, may release anything.
        run.gates = vec![StageGate::Awaiting; settings.stages.len()];
        // The test's own account of each system's soak at `ward`: when its current run of
        // passing checks there began, whether the soak is done, whether a check fails.
        let mut clean_since: Vec<Option<i64>> = vec![None; n];
        let mut soaked: Vec<bool> = vec![false; n];
        let mut failing: Vec<bool> = vec![false; n];
        let keys: Vec<String> = names.iter().map(|s| key(s)).collect();
        let mut approvals: Vec<Approval> = Vec::new();
        let created = Time(at(0));
        run.decide();
        for (step, event) in events.iter().enumerate() {
            run.now = 10 * step as i64 + 5;
            match event {
                Event::Verify(i) if *i < n => {
                    let name = names[*i].clone();
                    if run.phase(&name) == lifeline::api::v1alpha1::SystemPhase::Restoring {
                        run.step_ok(&name, 0);
                        run.decide();
                        run.check_ok(&name, 0);
                    }
                }
                Event::Verify(_) => {}
                Event::Rerun { system, passed } if *system < n => {
                    let name = &names[*system];
                    if !run.sys(name).phase.is_verified() {
                        continue;
                    }
                    run.observe(Observation::CheckRerun {
                        system: run.idx(name),
                        check: 0,
                        passed: *passed,
                        error: (!passed).then(|| "refused".to_string()),
                    });
                    let at_ward = run.sys(name).released_stage.as_deref() == Some("ward");
                    if !passed {
                        failing[*system] = true;
                        if at_ward && !soaked[*system] {
                            clean_since[*system] = None;
                        }
                    } else if failing[*system] {
                        failing[*system] = false;
                        if at_ward && !soaked[*system] {
                            clean_since[*system] = Some(run.now);
                        }
                    }
                }
                Event::Rerun { .. } => {}
                Event::Decide { stage, who, mask, reject } => {
                    let covered: Vec<String> = (0..n)
                        .filter(|i| mask & (1 << i) != 0)
                        .map(|i| names[i].clone())
                        .collect();
                    if !covered.is_empty() {
                        approvals.push(approval(
                            step,
                            &settings.stages[*stage].name,
                            PEOPLE[*who],
                            covered,
                            *reject,
                        ));
                    }
                }
            }
            let plan = PlanFacts {
                name: "recovery",
                uid: None,
                namespace: "ward",
                created: Some(&created),
                requested_by: Some("commander"),
                regated: &[],
            };
            let eval = evaluate(&plan, &settings, &keys, &approvals);
            // Where each system is released, as the decision's releases move it on.
            let mut at_stage: Vec<Option<usize>> = run
                .status
                .systems
                .iter()
                .map(|s| s.released_stage.as_deref().and_then(|r| settings.stage_index(r)))
                .collect();
            let d = decide(&run.model, &run.status, &Inputs {
                gates: eval.gates.clone(),
                system_gates: eval.system_gates.clone(),
                ..run.inputs()
            });
            // A soak under way at `ward` is done at this decision when it has lasted.
            for i in 0..n {
                if soak && at_stage[i] == Some(1) && !soaked[i] && !failing[i]
                    && clean_since[i].is_some_and(|t| run.now - t >= SOAK)
                {
                    soaked[i] = true;
                }
            }
            for a in &d.actions {
                let Action::Release { system, stage } = a else { continue };
                let k = *stage;
                let key = &keys[*system];
                // No skipping: released at k only from k - 1 (or not released, for 0).
                let was = at_stage[*system];
                prop_assert_eq!(was.map_or(0, |w| w + 1), k, "{} skipped to stage {}", key, k);
                at_stage[*system] = Some(k);
                prop_assert!(!failing[*system], "{} released at {} with a check failing", key, k);
                if k == 1 {
                    clean_since[*system] = Some(run.now);
                    // A soak of 0 s is done at once; ours are longer.
                }
                if soak && k == 2 {
                    prop_assert!(soaked[*system], "{} left ward before soaking there {}s with its checks passing", key, SOAK);
                }
                if settings.stages[k].approval.required == 0 {
                    continue;
                }
                // An accepted approval naming it at that stage, and no rejection holding it.
                let approved = eval.records.iter().any(|r| {
                    r.accepted && r.decision == Decision::Approve
                        && r.stage == settings.stages[k].name && r.systems.contains(key)
                });
                prop_assert!(approved, "{} released at {} with no approval naming it", key, k);
                let people = eval.approvers.get(&(k, key.clone())).map_or(0, Vec::len) as u32;
                prop_assert!(people >= settings.stages[k].approval.required, "{} released at {} with {} people", key, k, people);
            }
            run.status = d.status;
        }
    }
}
