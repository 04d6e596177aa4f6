//! The playbooks and the CRD manifests apply cleanly to a real API server: every object
//! under `playbooks/quickstart` and `playbooks/northern-care` is admitted (with the CRDs
//! installed), reads back as the lifeline types, and `kubectl apply -k manifests/crds/`
//! passes a server-side dry run.
//!
//! Each playbook is applied into a fresh test namespace instead of its own
//! (`support::playbook`), so tests sharing a cluster do not touch each other's objects.

use std::collections::{BTreeMap, BTreeSet};

use crate::support::{
    self, TestNamespace, cluster, ensure_crds, playbook::apply_playbook, repo_root, with_namespace,
};
use kube::api::ListParams;
use lifeline::api::v1alpha1::{ClinicalSystem, RecoveryPlan};

/// Lists the ClinicalSystems and RecoveryPlans as the lifeline types (so every stored
/// object also deserializes into them) and compares their names with what was applied.
async fn assert_lifeline_objects(
    ns: &TestNamespace,
    applied: &BTreeMap<String, BTreeSet<String>>,
) -> (Vec<ClinicalSystem>, Vec<RecoveryPlan>) {
    let systems = ns
        .api::<ClinicalSystem>()
        .list(&ListParams::default())
        .await
        .expect("list ClinicalSystems as the lifeline type")
        .items;
    let plans = ns
        .api::<RecoveryPlan>()
        .list(&ListParams::default())
        .await
        .expect("list RecoveryPlans as the lifeline type")
        .items;
    let names =
        |items: Vec<Option<String>>| -> BTreeSet<String> { items.into_iter().flatten().collect() };
    assert_eq!(
        names(systems.iter().map(|s| s.metadata.name.clone()).collect()),
        applied.get("ClinicalSystem").cloned().unwrap_or_default(),
        "ClinicalSystems"
    );
    assert_eq!(
        names(plans.iter().map(|p| p.metadata.name.clone()).collect()),
        applied.get("RecoveryPlan").cloned().unwrap_or_default(),
        "RecoveryPlans"
    );
    (systems, plans)
}

#[tokio::test]
async fn quickstart_playbook_is_admitted() {
    with_namespace("playbook-quickstart", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let applied = apply_playbook(&ns, "quickstart").await;
        let (systems, plans) = assert_lifeline_objects(&ns, &applied).await;

        let mut names: Vec<_> = systems
            .iter()
            .filter_map(|s| s.metadata.name.as_deref())
            .collect();
        names.sort();
        assert_eq!(names, ["identity", "patient-records", "results-viewer"]);
        let plan_names: Vec<_> = plans
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        assert_eq!(plan_names, ["quickstart"]);
        for kind in ["Deployment", "Service"] {
            assert_eq!(
                applied.get(kind).map(|n| n.len()),
                Some(3),
                "{kind}s applied"
            );
        }
    })
    .await;
}

#[tokio::test]
async fn northern_care_playbook_is_admitted() {
    with_namespace("playbook-northern-care", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let applied = apply_playbook(&ns, "northern-care").await;
        let (systems, plans) = assert_lifeline_objects(&ns, &applied).await;

        // Guards against the walk missing systems/ and its files.
        assert!(
            systems.len() >= 20,
            "the Northern Care estate has its full set of systems, got {}",
            systems.len()
        );
        let plan_names: Vec<_> = plans
            .iter()
            .filter_map(|p| p.metadata.name.as_deref())
            .collect();
        assert_eq!(plan_names, ["northern-care-recovery"]);
        // Every system the plan selects by label carries the label.
        let selected = systems
            .iter()
            .filter(|s| {
                s.metadata
                    .labels
                    .as_ref()
                    .and_then(|l| l.get("lifeline.dev/estate"))
                    .is_some_and(|v| v == "northern-care")
            })
            .count();
        assert_eq!(selected, systems.len(), "every system is in the estate");
    })
    .await;
}

#[tokio::test]
async fn drills_playbook_is_admitted_and_names_only_northern_care_systems() {
    with_namespace("playbook-drills", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let applied = apply_playbook(&ns, "drills").await;
        let names: Vec<&str> = applied
            .get("RecoveryDrill")
            .map(|n| n.iter().map(String::as_str).collect())
            .unwrap_or_default();
        assert_eq!(names, ["pathology-weekly", "total-outage"]);
        let drills = ns
            .api::<lifeline::api::v1alpha1::RecoveryDrill>()
            .list(&ListParams::default())
            .await
            .expect("list RecoveryDrills as the lifeline type")
            .items;
        // Every system a drill breaks or names is one of the estate's.
        let estate: BTreeSet<String> = support::playbook::playbook("northern-care")
            .iter()
            .filter(|d| d.kind() == "ClinicalSystem")
            .map(|d| d.name().to_string())
            .collect();
        for d in &drills {
            for f in &d.spec.faults {
                assert!(
                    estate.contains(&f.system),
                    "{:?}: {}",
                    d.metadata.name,
                    f.system
                );
            }
            for n in d.spec.systems.names.iter().flatten() {
                assert!(estate.contains(n), "{:?}: {n}", d.metadata.name);
            }
            if let Some(s) = &d.spec.schedule {
                lifeline::engine::drill::Schedule::parse(s).expect("the schedule parses");
            }
        }
    })
    .await;
}

#[tokio::test]
async fn crd_kustomization_passes_a_server_side_dry_run() {
    // The dry run reads the operator Deployment and then patches it: not while `rbac`
    // creates and deletes that Deployment for real.
    let _only_one = support::LIFELINE_SYSTEM_DEPLOYMENT.lock().await;
    // With the CRDs installed first, the dry run is an update whatever else runs on the
    // cluster; were they missing, a test installing them at the same moment could turn
    // kubectl's create into AlreadyExists.
    ensure_crds(&support::admin_client().await).await;
    // The operator's objects go in lifeline-system, which a dry run cannot create.
    support::apply_manifests(&["namespace.yaml"]).await;
    let dir = repo_root().join("manifests/crds");
    let out = tokio::task::spawn_blocking(move || {
        let dir = dir.to_str().expect("UTF-8 path");
        cluster().kubectl(&["apply", "-k", dir, "--dry-run=server"])
    })
    .await
    .expect("kubectl apply -k");
    for crd in lifeline::api::v1alpha1::crds() {
        let name = crd.metadata.name.expect("a CRD has a name");
        let line = format!("customresourcedefinition.apiextensions.k8s.io/{name} ");
        assert!(
            out.lines()
                .any(|l| l.starts_with(&line) && l.ends_with("(server dry run)")),
            "kubectl apply -k manifests/crds/ --dry-run=server applies {name}:\n{out}"
        );
    }
}
