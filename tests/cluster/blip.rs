//! A control-plane blip is not a clinical failure. Northern Care is restored twice at
//! once: on the shared cluster, undisturbed, and on a cluster of this test's own whose
//! kube-apiserver is stopped for 90 s in the middle of the restore and restarted, and
//! whose etcd is then frozen for 30 s. Both runs must end the same: every system
//! verified, every step run as often, as many restore Jobs, the same Deployments
//! restarted and scaled alike (check Jobs are not compared: a verified system's checks run
//! again every monitor interval, so the longer run runs them more); and in the disturbed
//! run no system may ever be Failed or Blocked.

use std::{
    collections::BTreeMap,
    process::Command,
    time::{Duration, Instant},
};

use k8s_openapi::api::{apps::v1::Deployment, batch::v1::Job, core::v1::Namespace};
use kube::{Api, Client, ResourceExt, api::PostParams};
use lifeline::{
    api::v1alpha1::{ActionPhase, PlanPhase, RecoveryPlan, SystemPhase},
    controller::{RunOptions, run},
};
use serde_json::json;

use crate::support::{
    OwnCluster, TestNamespace, admin_client, client_from, ensure_crds, object,
    playbook::{ServiceStandIn, apply_playbook_where, confirm_manual_steps, playbook},
    repo_root, with_namespace,
};

const PLAN: &str = "northern-care-blip";
/// How long the kube-apiserver stays down.
const APISERVER_DOWN: u64 = 90;
/// How long etcd stays frozen.
const ETCD_FROZEN: u64 = 30;
/// How long each wait of a run may take. After the restart and the freeze the run goes
/// on at the pace of the operator's timers for a while (its watches fail with "too old
/// resource version" until the API server's watch cache catches up), so the disturbed
/// run takes minutes where the undisturbed one takes seconds.
const RUN: Duration = Duration::from_secs(900);
const RESTART_ANNOTATION: &str = "lifeline.dev/restart-token";

impl OwnCluster {
    /// Runs `scripts/cluster ARGS --name NAME`, failing the test if it fails.
    async fn script(&self, args: &[&str]) {
        let mut full: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        full.extend(["--name".to_string(), self.name.clone()]);
        let out = tokio::task::spawn_blocking(move || {
            Command::new(repo_root().join("scripts/cluster"))
                .args(&full)
                .output()
                .expect("run scripts/cluster")
        })
        .await
        .expect("join");
        assert!(
            out.status.success(),
            "scripts/cluster {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

/// A system's phase, and per step (name, phase, attempts).
type SystemEnd = (SystemPhase, Vec<(String, ActionPhase, u32)>);

/// What a run came to, by system name (without the namespace).
#[derive(Debug, PartialEq)]
struct Outcome {
    /// Each system's phase, and per step (name, phase, attempts).
    systems: BTreeMap<String, SystemEnd>,
    /// Restore-step Jobs per system.
    jobs: BTreeMap<String, usize>,
    /// Per Deployment: (replicas, restarted).
    deployments: BTreeMap<String, (i32, bool)>,
}

/// The northern-care estate in `ns`, with the playbook's plan less its release stages (a
/// run needs no approvals to end), and its manual steps confirmed.
async fn install(ns: &TestNamespace) {
    ensure_crds(&ns.client).await;
    apply_playbook_where(ns, "northern-care", |d| d.kind() != "RecoveryPlan").await;
    let mut plan = playbook("northern-care")
        .into_iter()
        .find(|d| d.kind() == "RecoveryPlan")
        .expect("the playbook's plan")
        .object;
    plan["metadata"] = json!({ "name": PLAN, "namespace": ns.name });
    if let Some(spec) = plan["spec"].as_object_mut() {
        spec.remove("stages");
        spec.remove("requestedBy");
    }
    ns.api::<RecoveryPlan>()
        .create(&PostParams::default(), &object(plan))
        .await
        .expect("create the plan");
    confirm_manual_steps(ns, PLAN).await;
}

/// The plan as it stands, or None while the API server does not answer.
async fn read(ns: &TestNamespace) -> Option<RecoveryPlan> {
    tokio::time::timeout(
        Duration::from_secs(5),
        crate::support::read_plan(&ns.api::<RecoveryPlan>(), PLAN),
    )
    .await
    .ok()?
    .ok()
}

fn short(name: &str) -> String {
    name.rsplit('/').next().unwrap_or(name).to_string()
}

/// Fails the test if any system of `plan` is Failed or Blocked.
fn assert_nothing_failed(plan: &RecoveryPlan) {
    for s in plan.status.iter().flat_map(|s| &s.systems) {
        assert!(
            !matches!(s.phase, SystemPhase::Failed | SystemPhase::Blocked),
            "{} is {} during the blip: {:?}",
            s.name,
            s.phase,
            s.message
        );
    }
}

/// Where the plan stands, for a failure message: its phase and each system not verified.
fn describe(plan: Option<&RecoveryPlan>) -> String {
    let Some(status) = plan.and_then(|p| p.status.as_ref()) else {
        return "never read".into();
    };
    let mut out = format!(
        "{} {}",
        status.phase,
        status.progress.as_deref().unwrap_or("")
    );
    for s in status.systems.iter().filter(|s| !s.phase.is_verified()) {
        out.push_str(&format!("\n  {} {}: {:?}", s.name, s.phase, s.message));
        for c in s
            .checks
            .iter()
            .filter(|c| c.phase != ActionPhase::Succeeded)
        {
            out.push_str(&format!(
                "\n    check {} {:?} x{}: {:?}",
                c.name, c.phase, c.attempts, c.last_error
            ));
        }
    }
    out
}

fn verified(plan: &RecoveryPlan) -> usize {
    plan.status
        .iter()
        .flat_map(|s| &s.systems)
        .filter(|s| s.phase.is_verified())
        .count()
}

/// Polls the plan (a watch would break with the API server) until `done`, checking that
/// nothing failed at each look.
async fn until(
    ns: &TestNamespace,
    what: &str,
    done: impl Fn(&RecoveryPlan) -> bool,
) -> RecoveryPlan {
    let start = Instant::now();
    let mut last = None;
    loop {
        if let Some(plan) = read(ns).await {
            assert_nothing_failed(&plan);
            if done(&plan) {
                return plan;
            }
            last = Some(plan);
        }
        assert!(
            start.elapsed() < RUN,
            "timed out in {} waiting for {what}: {}",
            ns.name,
            describe(last.as_ref())
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

async fn outcome(ns: &TestNamespace, plan: &RecoveryPlan) -> Outcome {
    let mut systems = BTreeMap::new();
    for s in plan.status.iter().flat_map(|s| &s.systems) {
        let steps = s
            .steps
            .iter()
            .map(|st| (st.name.clone(), st.phase, st.attempts))
            .collect();
        systems.insert(short(&s.name), (s.phase, steps));
    }
    // The Jobs of restore steps (each step's token names its Job). Check Jobs are left
    // out: a verified system's checks run again every monitor interval, so a run that
    // lasts longer runs them more often, by design.
    let step_jobs: std::collections::BTreeSet<String> = plan
        .status
        .iter()
        .flat_map(|s| &s.systems)
        .flat_map(|s| s.steps.iter().filter_map(|st| st.token.clone()))
        .collect();
    let mut jobs = BTreeMap::new();
    for j in ns
        .api::<Job>()
        .list(&Default::default())
        .await
        .expect("list Jobs")
        .items
    {
        if !step_jobs.contains(&j.name_any()) {
            continue;
        }
        let system = j
            .labels()
            .get("lifeline.dev/system")
            .cloned()
            .unwrap_or_default();
        *jobs.entry(system).or_insert(0) += 1;
    }
    let mut deployments = BTreeMap::new();
    for d in ns
        .api::<Deployment>()
        .list(&Default::default())
        .await
        .expect("list Deployments")
        .items
    {
        let spec = d.spec.clone().unwrap_or_default();
        let restarted = spec
            .template
            .metadata
            .as_ref()
            .and_then(|m| m.annotations.as_ref())
            .is_some_and(|a| a.contains_key(RESTART_ANNOTATION));
        deployments.insert(d.name_any(), (spec.replicas.unwrap_or(1), restarted));
    }
    Outcome {
        systems,
        jobs,
        deployments,
    }
}

/// Runs the operator for `ns` until the plan succeeds; with `blip`, stops that cluster's
/// API server and freezes its etcd in the middle. Returns how it ended.
async fn restore(ns: TestNamespace, client: Client, blip: Option<&OwnCluster>) -> Outcome {
    install(&ns).await;
    let standin = ServiceStandIn::start("northern-care").await;
    let mut opts = RunOptions::local(&ns.name, "blip");
    opts.resolve = standin.resolve.clone();
    let operator = tokio::spawn(run(client, opts));
    if let Some(cluster) = blip {
        // Mid-restore: a few systems verified, others restoring.
        let at = until(&ns, "a few systems verified", |p| verified(p) >= 3).await;
        let total = at.status.as_ref().map_or(0, |s| s.systems.len());
        assert!(
            verified(&at) < total,
            "the blip comes mid-restore, not after it"
        );
        cluster
            .script(&[
                "restart-apiserver",
                "--down-for",
                &APISERVER_DOWN.to_string(),
            ])
            .await;
        until(&ns, "the plan readable again", |_| true).await;
        cluster
            .script(&["pause-etcd", "--for", &ETCD_FROZEN.to_string()])
            .await;
    }
    let done = until(&ns, "the plan Succeeded", |p| {
        p.status
            .as_ref()
            .is_some_and(|s| s.phase == PlanPhase::Succeeded)
    })
    .await;
    let out = outcome(&ns, &done).await;
    operator.abort();
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn northern_care_rides_out_an_api_server_restart_and_an_etcd_pause() {
    let own = OwnCluster::up(&format!("lt-blip-{}", std::process::id()));
    let stormy_client = client_from(&own.kubeconfig).await;
    let ns_name = "blip-northern-care".to_string();
    Api::<Namespace>::all(stormy_client.clone())
        .create(
            &PostParams::default(),
            &object(
                json!({ "apiVersion": "v1", "kind": "Namespace", "metadata": { "name": ns_name } }),
            ),
        )
        .await
        .expect("namespace on the test's own cluster");
    let stormy_ns = TestNamespace {
        name: ns_name,
        client: stormy_client.clone(),
    };
    let stormy = restore(stormy_ns, stormy_client, Some(&own));
    let calm = async {
        let mut out = None;
        with_namespace("blip-calm", |ns| {
            let out = &mut out;
            async move {
                *out = Some(restore(ns, admin_client().await, None).await);
            }
        })
        .await;
        out.expect("the calm run ended")
    };
    let (stormy, calm) = tokio::join!(stormy, calm);
    assert!(calm.systems.len() >= 20, "the whole estate: {calm:?}");
    assert!(
        calm.systems.values().all(|(p, _)| p.is_verified()),
        "{calm:?}"
    );
    assert_eq!(
        stormy.systems, calm.systems,
        "every system and step as in the undisturbed run"
    );
    assert_eq!(stormy.jobs, calm.jobs, "as many restore Jobs per system");
    assert_eq!(
        stormy.deployments, calm.deployments,
        "every Deployment scaled and restarted alike"
    );
}
