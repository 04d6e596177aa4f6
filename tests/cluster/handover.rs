//! Plans that hand over, on the local control plane: a second plan leaves alone what a
//! first one holds, counts what it released, re-runs none of it and never narrows its
//! release gates.

use std::time::Duration;

use k8s_openapi::api::networking::v1::NetworkPolicy;
use kube::ResourceExt;
use lifeline::api::v1alpha1::{Approval, ClinicalSystem, PlanPhase, RecoveryPlan, SystemPhase};
use serde_json::json;

use crate::support::{
    Operator, Recording, clinical_system, create, create_approval, ensure_crds, jobs_of, object,
    plan_status::{find, phase, status, sys},
    recovery_plan, steps, wait_for, with_namespace,
};

const RUN: Duration = Duration::from_secs(60);

/// The stages gate `policy` admitted, in the order the watch saw them.
fn stages_seen(recording: &Recording<NetworkPolicy>, policy: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for np in recording
        .versions()
        .iter()
        .filter(|p| p.name_any() == policy)
    {
        let stage = np
            .labels()
            .get("lifeline.dev/released-stage")
            .cloned()
            .unwrap_or_default();
        if out.last() != Some(&stage) {
            out.push(stage);
        }
    }
    out
}

/// `a` (a restore Job, then a manual step) and `b` (a restore Job) are the first plan's;
/// the second selects `a` and its own `c`, which needs both, and leaves `b` out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_plan_leaves_what_the_first_holds_and_reruns_nothing_of_it() {
    with_namespace("handover", |ns| async move {
        ensure_crds(&ns.client).await;
        let gated = |mut s: serde_json::Value, app: &str| {
            s["spec"]["release"] = json!({ "podSelector": { "matchLabels": { "app": app } } });
            s
        };
        let a = gated(
            clinical_system(
                "a",
                &[],
                vec![
                    steps::job("restore"),
                    json!({ "name": "sign-off", "manual": { "instructions": "The PAS lead signs the restore off" } }),
                ],
                vec![],
            ),
            "a",
        );
        let b = gated(clinical_system("b", &[], vec![steps::job("restore")], vec![]), "b");
        let c = clinical_system("c", &["a", "b"], vec![steps::job("restore")], vec![]);
        for s in [a, b, c] {
            create::<ClinicalSystem>(&ns, &object(s)).await;
        }
        let gates = Recording::start(ns.api::<NetworkPolicy>(), None).await;
        let _op = Operator::start("handover", &ns.name, &[]);
        let plans = ns.api::<RecoveryPlan>();
        let mut first = recovery_plan("first", &["a", "b"]);
        first["spec"]["stages"] =
            json!([{ "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] } }]);
        create::<RecoveryPlan>(&ns, &object(first)).await;
        wait_for(&plans, "first", "b released and a waiting for its sign-off", RUN, |p| {
            let s = status(p);
            !s.awaiting_steps.is_empty()
                && find(&s, &ns.name, "b").is_some_and(|b| b.phase == SystemPhase::Released)
        })
        .await;

        // The second plan: a is the first's (restoring there), b the first's (released
        // there, and not selected here), c its own, waiting for both.
        create::<RecoveryPlan>(&ns, &object(recovery_plan("second", &["a", "c"]))).await;
        let second = wait_for(&plans, "second", "a and b held by the first plan", RUN, |p| {
            let s = status(p);
            ["a", "b"].iter().all(|n| {
                find(&s, &ns.name, n).is_some_and(|x| x.phase == SystemPhase::Held)
            })
        })
        .await;
        let st = status(&second);
        let held_a = sys(&st, &ns.name, "a").held_by.clone().expect("a's heldBy");
        let held_b = sys(&st, &ns.name, "b").held_by.clone().expect("b's heldBy");
        let first_key = format!("{}/first", ns.name);
        assert_eq!((held_a.plan.as_str(), held_a.phase), (first_key.as_str(), SystemPhase::Restoring));
        assert_eq!(
            (held_b.plan.as_str(), held_b.phase, held_b.stage.as_deref()),
            (first_key.as_str(), SystemPhase::Released, Some("ward"))
        );
        assert_eq!(sys(&st, &ns.name, "c").phase, SystemPhase::Waiting);
        assert!(st.awaiting_steps.is_empty(), "the second plan does not ask for a's sign-off: {:?}", st.awaiting_steps);
        // The systems' own status stays the first plan's word while the second waits.
        let systems = ns.api::<ClinicalSystem>();
        for n in ["a", "b"] {
            crate::support::eventually(
                &format!("{n}'s own status to be the first plan's"),
                Duration::from_secs(30),
                || {
                    let (systems, first_key) = (systems.clone(), first_key.clone());
                    async move {
                        let own = systems.get(n).await.map_err(|e| e.to_string())?.status.unwrap_or_default();
                        if own.plan.as_deref() == Some(first_key.as_str()) && own.phase != Some(SystemPhase::Held) {
                            Ok(())
                        } else {
                            Err(format!("{own:?}"))
                        }
                    }
                },
            )
            .await;
        }

        // The sign-off in the first plan: a is verified and released there, and the
        // second goes on with c at once.
        let sign_off: Approval = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
            "metadata": { "name": "a-sign-off" },
            "spec": { "plan": "first", "system": "a", "step": "sign-off", "decision": "approve",
                      "approver": { "username": "pas-lead" } }
        }));
        create_approval(&ns, sign_off).await;
        let done = wait_for(&plans, "second", "Succeeded", RUN, |p| phase(p) == PlanPhase::Succeeded).await;
        let st = status(&done);
        assert_eq!(sys(&st, &ns.name, "c").phase, SystemPhase::Verified);
        assert_eq!(st.progress.as_deref(), Some("3/3"));
        for n in ["a", "b"] {
            let s = sys(&st, &ns.name, n);
            assert_eq!(s.phase, SystemPhase::Held, "{n}: {s:?}");
            assert!(s.steps.iter().all(|x| x.attempts == 0), "nothing of {n} ran in the second plan: {:?}", s.steps);
        }
        wait_for(&plans, "first", "Succeeded", RUN, |p| phase(p) == PlanPhase::Succeeded).await;
        assert_eq!(jobs_of(&ns, "a").await.len(), 1, "a's restore ran once");
        assert_eq!(jobs_of(&ns, "b").await.len(), 1, "b's restore ran once");
        assert_eq!(jobs_of(&ns, "c").await.len(), 1);

        // No gate of the first plan's systems ever narrowed: each went from the
        // verification audience to the ward, and stayed there.
        for policy in ["lifeline-release-a", "lifeline-release-b"] {
            let seen = stages_seen(&gates, policy);
            assert_eq!(seen, ["none", "ward"], "{policy}'s gate over time");
        }

        // Asked to restore a held system again, the second plan says whose it is.
        let out = crate::support::lifeline(&["restore", "second", "b", "-n", &ns.name]).await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Held"), "{err}");
    })
    .await;
}
