//! A plan's per-system progress in its RecoveryProgress shards, against the real control
//! plane: a plan larger than a shard spreads over several, each within bounds, and a plan
//! whose shard is deleted under it stops and says so rather than restore its systems again.

use std::time::Duration;

use crate::support::{
    Operator, TestNamespace, clinical_system, create, ensure_crds, object,
    plan_status::{phase, status},
    recovery_plan, wait_for, with_namespace,
};
use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ListParams},
};
use lifeline::{
    api::v1alpha1::{
        ClinicalSystem, PlanPhase, RECORD_PLAN_UID_LABEL, RecoveryPlan, RecoveryProgress,
        SystemPhase, conditions,
    },
    engine::progress::{MAX_SHARD_BYTES, MAX_SYSTEMS_PER_SHARD, shard_of},
};
use serde_json::json;

/// How long the plans here may take (they take seconds to tens of seconds on kwok).
const RUN: Duration = Duration::from_secs(180);

async fn shards_of(ns: &TestNamespace, plan: &RecoveryPlan) -> Vec<RecoveryProgress> {
    let uid = plan.uid().expect("a uid");
    ns.api::<RecoveryProgress>()
        .list(&ListParams::default().labels(&format!("{RECORD_PLAN_UID_LABEL}={uid}")))
        .await
        .expect("list the plan's RecoveryProgress")
        .items
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_of_150_systems_keeps_its_progress_in_bounded_shards_each_system_in_one() {
    with_namespace("progress-shards", |ns| async move {
        ensure_crds(&ns.client).await;
        // Ten levels of 15 systems, each depending on one of the level before.
        let names: Vec<String> = (0..150).map(|i| format!("s{i:03}")).collect();
        for (i, name) in names.iter().enumerate() {
            let deps: Vec<&str> = if i < 15 {
                vec![]
            } else {
                vec![names[i - 15].as_str()]
            };
            create::<ClinicalSystem>(&ns, &object(clinical_system(name, &deps, vec![], vec![])))
                .await;
        }
        let _op = Operator::start("progress-shards", &ns.name, &[]);
        let refs: Vec<&str> = names.iter().map(String::as_str).collect();
        create::<RecoveryPlan>(&ns, &object(recovery_plan("estate", &refs))).await;
        let plans = ns.api::<RecoveryPlan>();
        let done = wait_for(&plans, "estate", "Succeeded", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        let st = status(&done);
        assert_eq!(
            st.systems.len(),
            150,
            "every system read back from the shards"
        );
        assert!(
            st.systems.iter().all(|s| s.phase.is_verified()),
            "{:?}",
            st.systems
                .iter()
                .map(|s| (&s.name, s.phase))
                .collect::<Vec<_>>()
        );
        // The plan's status names each shard; the shards are exactly those, none left over.
        let objects = st
            .progress_objects
            .clone()
            .expect("the status names its shards");
        assert!(
            objects.shards >= 4,
            "150 systems need at least three shards of 64: {objects:?}"
        );
        assert_eq!(objects.systems, 150);
        let listed = shards_of(&ns, &done).await;
        let mut listed_names: Vec<String> = listed.iter().map(|p| p.name_any()).collect();
        let mut named: Vec<String> = objects.objects.iter().map(|o| o.name.clone()).collect();
        listed_names.sort();
        named.sort();
        assert_eq!(listed_names, named, "no shard left over, none missing");
        let mut seen = std::collections::BTreeSet::new();
        for p in &listed {
            assert_eq!(p.spec.shards, objects.shards);
            assert!(
                p.spec.systems.len() <= MAX_SYSTEMS_PER_SHARD,
                "{} holds {}",
                p.name_any(),
                p.spec.systems.len()
            );
            let bytes = serde_json::to_vec(p).expect("json").len();
            assert!(
                bytes <= MAX_SHARD_BYTES + 4096,
                "{} is {bytes} bytes",
                p.name_any()
            );
            let owner = p.owner_references();
            assert_eq!(
                (owner.len(), owner[0].uid.as_str()),
                (1, done.uid().unwrap_or_default().as_str()),
                "owned by the plan"
            );
            for s in &p.spec.systems {
                assert_eq!(
                    shard_of(&s.name, objects.shards),
                    p.spec.shard,
                    "{} is in its own shard",
                    s.name
                );
                assert!(seen.insert(s.name.clone()), "{} is in two shards", s.name);
            }
        }
        assert_eq!(seen.len(), 150);
        // The plan object itself stays small whatever the estate.
        let raw = serde_json::to_vec(&plans.get("estate").await.expect("plan"))
            .expect("json")
            .len();
        assert!(raw < 32 * 1024, "the plan object is {raw} bytes");
        // Deleted with the plan.
        plans
            .delete("estate", &DeleteParams::foreground())
            .await
            .expect("delete the plan");
        crate::support::eventually("the shards to go with the plan", RUN, || {
            let (ns, done) = (&ns, &done);
            async move {
                let left = shards_of(ns, done).await.len();
                if left == 0 {
                    Ok(())
                } else {
                    Err(format!("{left} left"))
                }
            }
        })
        .await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_progress_is_deleted_stops_and_waits_for_a_person() {
    with_namespace("progress-lost", |ns| async move {
        ensure_crds(&ns.client).await;
        let identity = clinical_system("identity", &[], vec![], vec![]);
        let vault = clinical_system(
            "vault",
            &["identity"],
            vec![json!({ "name": "unseal", "manual": { "instructions": "Two custodians unseal the vault" } })],
            vec![],
        );
        create::<ClinicalSystem>(&ns, &object(identity)).await;
        create::<ClinicalSystem>(&ns, &object(vault)).await;
        let mut op = Operator::start("progress-lost", &ns.name, &[]);
        create::<RecoveryPlan>(&ns, &object(recovery_plan("vault", &["identity", "vault"]))).await;
        let plans = ns.api::<RecoveryPlan>();
        let waiting = wait_for(&plans, "vault", "the unseal waiting for a person", RUN, |p| !status(p).awaiting_steps.is_empty()).await;
        assert_eq!(crate::support::plan_status::sys(&status(&waiting), &ns.name, "identity").phase, SystemPhase::Verified);
        // Someone deletes the plan's progress; the operator, restarted, finds it gone.
        op.kill();
        let shards: Api<RecoveryProgress> = ns.api();
        for p in shards_of(&ns, &waiting).await {
            shards.delete(&p.name_any(), &DeleteParams::default()).await.expect("delete a shard");
        }
        op.spawn();
        let stopped = wait_for(&plans, "vault", "StatusComplete=False (ProgressLost)", RUN, |p| {
            p.status.as_ref().is_some_and(|s| {
                s.conditions.iter().any(|c| {
                    c.type_ == conditions::STATUS_COMPLETE && c.status == "False" && c.reason == conditions::reason::PROGRESS_LOST
                })
            })
        })
        .await;
        let condition = stopped.status.as_ref().and_then(|s| s.conditions.iter().find(|c| c.type_ == conditions::STATUS_COMPLETE)).cloned().expect("the condition");
        assert!(condition.message.contains("does nothing more for this plan"), "{}", condition.message);
        crate::support::event_note(&ns, "ProgressLost", RUN, |n| n.contains("lifeline does nothing more")).await;
        // Nothing was written as new over the lost progress: no shard came back.
        assert!(shards_of(&ns, &stopped).await.is_empty(), "the operator wrote no new progress over the lost one");
        op.assert_running();
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn systems_added_past_a_shard_double_the_shards_taking_over_a_half_done_doubling() {
    with_namespace("progress-reshard", |ns| async move {
        ensure_crds(&ns.client).await;
        let labelled = |name: &str, steps: Vec<serde_json::Value>| {
            let mut s = clinical_system(name, &[], steps, vec![]);
            s["metadata"]["labels"] = json!({ "estate": "reshard" });
            s
        };
        // Sixty systems fit one shard; one of them waits for a person, so the plan runs on.
        for i in 0..59 {
            create::<ClinicalSystem>(&ns, &object(labelled(&format!("s{i:03}"), vec![]))).await;
        }
        let unseal = json!({ "name": "unseal", "manual": { "instructions": "Two custodians unseal the vault" } });
        create::<ClinicalSystem>(&ns, &object(labelled("vault", vec![unseal]))).await;
        let _op = Operator::start("progress-reshard", &ns.name, &[]);
        let plan: RecoveryPlan = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryPlan",
            "metadata": { "name": "estate" },
            "spec": { "systems": { "selector": { "matchLabels": { "estate": "reshard" } } } }
        }));
        create::<RecoveryPlan>(&ns, &plan).await;
        let plans = ns.api::<RecoveryPlan>();
        let one = wait_for(&plans, "estate", "59 verified, the vault waiting", RUN, |p| {
            status(p).systems.iter().filter(|s| s.phase.is_verified()).count() == 59
        })
        .await;
        assert_eq!(status(&one).progress_objects.map(|o| o.shards), Some(1));
        let uid = one.uid().expect("uid");
        // A doubling that wrote its two shards and stopped before the status naming them:
        // the objects are there, with what they held then.
        let shards: Api<RecoveryProgress> = ns.api();
        for k in 0..2 {
            let name = lifeline::controller::cluster::progress::object_name("estate", &uid, 2, k);
            let mut half: RecoveryProgress = object(json!({
                "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryProgress",
                "metadata": { "name": name, "labels": { RECORD_PLAN_UID_LABEL: uid } },
                "spec": { "plan": "estate", "planUid": uid, "shards": 2, "shard": k, "systems": [], "positions": [] }
            }));
            half.metadata.owner_references = Some(vec![kube::Resource::controller_owner_ref(&one, &()).expect("owner")]);
            shards.create(&Default::default(), &half).await.expect("a half-done doubling's shard");
        }
        // Twenty more systems: past one shard's 64, so the shards double.
        for i in 59..79 {
            create::<ClinicalSystem>(&ns, &object(labelled(&format!("s{i:03}"), vec![]))).await;
        }
        let two = wait_for(&plans, "estate", "79 verified in two shards", RUN, |p| {
            let st = status(p);
            st.systems.iter().filter(|s| s.phase.is_verified()).count() == 79
                && st.progress_objects.as_ref().is_some_and(|o| o.shards >= 2)
        })
        .await;
        let st = status(&two);
        let objects = st.progress_objects.clone().expect("named");
        assert_eq!(st.systems.len(), 80, "every system once");
        // The shard of one count is gone; those named are exactly those there.
        let listed = crate::support::eventually("the shard of the old count to be deleted", RUN, || {
            let (ns, two) = (&ns, &two);
            async move {
                let listed = shards_of(ns, two).await;
                if listed.iter().all(|p| p.spec.shards == objects.shards) { Ok(listed) } else { Err(format!("{:?}", listed.iter().map(|p| (p.name_any(), p.spec.shards)).collect::<Vec<_>>())) }
            }
        })
        .await;
        let mut seen = std::collections::BTreeSet::new();
        for p in &listed {
            for s in &p.spec.systems {
                assert!(seen.insert(s.name.clone()), "{} twice", s.name);
            }
        }
        assert_eq!(seen.len(), 80);
        assert_eq!(phase(&two), PlanPhase::Running, "the vault still waits for its custodians");
    })
    .await;
}
