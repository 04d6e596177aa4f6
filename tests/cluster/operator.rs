//! The operator, `lifeline run` as a subprocess scoped to one test namespace, against the
//! real local control plane: restores in dependency order, a failing check and its retry,
//! pause, abort, and the Events and metrics a person reads.
//!
//! kwok makes pods Ready and Jobs Complete by themselves but nothing serves traffic, so
//! `http` checks reach a stub server the test runs on 127.0.0.1 ([`StubHttp`]).

use std::{collections::HashMap, net::SocketAddr, time::Duration};

use crate::support::{
    Operator, PlanRecording, StubHttp, TestNamespace, clinical_system, create, ensure_crds,
    eventually, fake_deployment, jobs_of, lifeline as cli, object,
    plan_status::{
        Topology, assert_dependency_order, assert_each_step_once_and_checks_passed, check_attempts,
        find, phase, status, sys, sys_phase,
    },
    recovery_plan, steps, systems_named, wait_for, with_namespace,
};
use k8s_openapi::api::{apps::v1::Deployment, batch::v1::Job, events::v1::Event};
use kube::{
    Api, ResourceExt,
    api::{ListParams, Patch, PatchParams},
};
use lifeline::{
    api::v1alpha1::{ActionPhase, ClinicalSystem, PlanPhase, RecoveryPlan, SystemPhase},
    engine::names,
};
use serde_json::{Value, json};

/// How long a small plan may take to finish on the kwok cluster (it takes seconds).
const RUN: Duration = Duration::from_secs(60);
/// How long a single transition may take to show in status.
const STEP: Duration = Duration::from_secs(30);
/// The restart-token annotation a rolloutRestart step writes into the pod template.
const RESTART_ANNOTATION: &str = "lifeline.dev/restart-token";

/// Creates the Deployments and ClinicalSystems of a test plan.
async fn install(ns: &TestNamespace, deployments: &[(&str, i32)], systems: &[Value]) {
    for (name, replicas) in deployments {
        create(ns, &fake_deployment(name, *replicas)).await;
    }
    for s in systems {
        create::<ClinicalSystem>(ns, &object(s.clone())).await;
    }
}

/// Sets `verify.retryInterval` and `verify.deadline` on a ClinicalSystem manifest.
fn with_verify(mut system: Value, retry_interval: &str, deadline: &str) -> Value {
    system["spec"]["verify"]["retryInterval"] = json!(retry_interval);
    system["spec"]["verify"]["deadline"] = json!(deadline);
    system
}

/// A merge patch on the plan.
async fn patch_plan(plans: &Api<RecoveryPlan>, name: &str, patch: Value) -> RecoveryPlan {
    plans
        .patch(name, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .unwrap_or_else(|e| panic!("patch RecoveryPlan {name} with {patch}: {e}"))
}

/// Changes the spec (so the generation moves) and waits until the operator has
/// reconciled that generation: proof that it is alive and acting on the plan.
async fn bump_generation(plans: &Api<RecoveryPlan>, name: &str, parallelism: u32) {
    let patched = patch_plan(
        plans,
        name,
        json!({ "spec": { "parallelism": parallelism } }),
    )
    .await;
    let generation = patched.metadata.generation;
    wait_for(
        plans,
        name,
        &format!("reconciled at generation {generation:?}"),
        STEP,
        |p| p.status.as_ref().and_then(|s| s.observed_generation) >= generation,
    )
    .await;
}

/// Holds `invariant` over `window`, checking it every 200 ms: for asserting that
/// something does NOT happen while the operator keeps working.
async fn hold_for<F, Fut>(what: &str, window: Duration, mut invariant: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Result<(), String>>,
{
    let end = tokio::time::Instant::now() + window;
    loop {
        if let Err(e) = invariant().await {
            panic!("{what} did not hold: {e}");
        }
        if tokio::time::Instant::now() >= end {
            return;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A raw HTTP/1.0 GET against the operator's metrics server: (status, body).
async fn http_get(addr: SocketAddr, path: &str) -> Result<(u16, String), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut conn = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| format!("connect {addr}: {e}"))?;
    conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").as_bytes())
        .await
        .map_err(|e| format!("send to {addr}: {e}"))?;
    let mut raw = Vec::new();
    conn.read_to_end(&mut raw)
        .await
        .map_err(|e| format!("read from {addr}: {e}"))?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .ok_or_else(|| format!("no HTTP response: {text:?}"))?;
    let code = head
        .split_whitespace()
        .nth(1)
        .and_then(|c| c.parse().ok())
        .ok_or_else(|| format!("no status line: {head:?}"))?;
    Ok((code, body.to_string()))
}

/// The value of the sample `series` (name and labels exactly as exposed) in a
/// Prometheus text exposition.
fn sample(metrics: &str, series: &str) -> Option<f64> {
    metrics.lines().find_map(|l| {
        let rest = l.strip_prefix(series)?.strip_prefix(' ')?;
        rest.split_whitespace().next()?.parse().ok()
    })
}

/// 1. A diamond (identity -> lab, pharmacy -> results) with a chain after it
///    (results -> portal) and an independent root (network), with job, scale and
///    rolloutRestart steps and workloadReady, http and job checks, restores to Succeeded,
///    in dependency order, each step once, with deterministic Jobs owned by the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restores_a_diamond_and_a_chain_in_dependency_order() {
    with_namespace("operator-diamond", |ns| async move {
        ensure_crds(&ns.client).await;
        let stub = StubHttp::start(200).await;
        let topology: Topology<'_> = &[
            ("identity", &[]),
            ("network", &[]),
            ("lab", &["identity", "network"]),
            ("pharmacy", &["identity"]),
            ("results", &["lab", "pharmacy"]),
            ("portal", &["results"]),
        ];
        let systems = [
            clinical_system(
                "identity",
                &[],
                vec![steps::scale("scale-up", "identity", 1)],
                vec![steps::ready("ready", "identity")],
            ),
            clinical_system(
                "network",
                &[],
                vec![steps::job("prepare")],
                vec![steps::job_check("smoke")],
            ),
            clinical_system(
                "lab",
                &["identity", "network"],
                vec![steps::restart("restart", "lab")],
                vec![
                    steps::http("api", &stub.url("/lab")),
                    steps::ready("ready", "lab"),
                ],
            ),
            clinical_system(
                "pharmacy",
                &["identity"],
                vec![
                    steps::job("restore-db"),
                    steps::scale("scale-up", "pharmacy", 1),
                ],
                vec![steps::ready("ready", "pharmacy")],
            ),
            clinical_system(
                "results",
                &["lab", "pharmacy"],
                vec![steps::scale("scale-up", "results", 1)],
                vec![steps::http("ui", &stub.url("/results"))],
            ),
            clinical_system(
                "portal",
                &["results"],
                vec![steps::job("warm-cache")],
                vec![steps::job_check("journey")],
            ),
        ];
        install(
            &ns,
            &[("identity", 0), ("lab", 1), ("pharmacy", 0), ("results", 0)],
            &systems,
        )
        .await;

        let mut op = Operator::start("operator", &ns.name, &[]);
        let plans = ns.api::<RecoveryPlan>();
        let recording = PlanRecording::start(plans.clone(), &ns.name).await;
        let names: Vec<&str> = topology.iter().map(|(n, _)| *n).collect();
        let plan: RecoveryPlan = create(&ns, &object(recovery_plan("restore", &names))).await;
        let done = wait_for(&plans, "restore", "Succeeded", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        op.assert_running();
        let st = status(&done);

        // Order: from every version seen on the way, and from the timestamps.
        assert_dependency_order(&ns.name, topology, &recording.versions(), &st);
        assert_eq!(st.progress.as_deref(), Some("6/6"));
        assert!(st.finished_at.is_some(), "{st:#?}");
        for (name, _) in topology {
            let s = sys(&st, &ns.name, name);
            assert_eq!(s.phase, SystemPhase::Verified, "{s:#?}");
            assert!(
                s.restore_started_at.is_some() && s.verified_at.is_some(),
                "{s:#?}"
            );
        }
        assert_each_step_once_and_checks_passed(&st);

        // Each ClinicalSystem's own status says which plan holds it and how it stands, and
        // `kubectl get csys` shows it in columns.
        let csys = ns.api::<ClinicalSystem>();
        for (name, _) in topology {
            let verified_at = sys(&st, &ns.name, name).verified_at.clone();
            eventually(
                &format!("{name}'s own status"),
                Duration::from_secs(30),
                || {
                    let csys = csys.clone();
                    let verified_at = verified_at.clone();
                    let plan_key = format!("{}/restore", ns.name);
                    async move {
                        let cs = csys.get(name).await.map_err(|e| e.to_string())?;
                        let own = cs.status.clone().unwrap_or_default();
                        if own.plan.as_deref() == Some(plan_key.as_str())
                            && own.phase == Some(SystemPhase::Verified)
                            && own.last_verified == verified_at
                        {
                            Ok(())
                        } else {
                            Err(format!("{:?}", cs.status))
                        }
                    }
                },
            )
            .await;
        }
        let table = crate::support::cluster().kubectl(&["get", "csys", "-n", &ns.name]);
        let header = table.lines().next().unwrap_or_default();
        for column in ["NAME", "TIER", "PHASE", "RELEASED", "PLAN", "VERIFIED"] {
            assert!(header.contains(column), "kubectl get csys: {table}");
        }
        let lab = table
            .lines()
            .find(|l| l.starts_with("lab "))
            .unwrap_or_else(|| panic!("lab in {table}"));
        assert!(
            lab.contains("Verified") && lab.contains(&format!("{}/restore", ns.name)),
            "{table}"
        );

        // Jobs: one per job step and job check, named after plan, system and step, owned
        // by the plan, labelled with plan and system.
        let uid = plan.uid().expect("the plan has a uid");
        let jobs = ns
            .api::<Job>()
            .list(&ListParams::default())
            .await
            .expect("list Jobs");
        let mut found: Vec<String> = jobs.items.iter().map(|j| j.name_any()).collect();
        found.sort();
        let mut expected = vec![
            names::check_job("restore", &uid, "network", "smoke", 1),
            names::step_job("restore", &uid, "network", "prepare", 1),
            names::step_job("restore", &uid, "pharmacy", "restore-db", 1),
            names::check_job("restore", &uid, "portal", "journey", 1),
            names::step_job("restore", &uid, "portal", "warm-cache", 1),
        ];
        expected.sort();
        assert_eq!(found, expected, "the Jobs in the namespace");
        for job in &jobs.items {
            let owners = job.owner_references();
            assert_eq!(owners.len(), 1, "{}: {owners:?}", job.name_any());
            let o = &owners[0];
            assert_eq!(
                (
                    o.kind.as_str(),
                    o.name.as_str(),
                    o.uid.as_str(),
                    o.controller
                ),
                ("RecoveryPlan", "restore", uid.as_str(), Some(true)),
                "owner of Job {}",
                job.name_any()
            );
            let labels = job.labels();
            assert_eq!(
                labels.get("lifeline.dev/plan").map(String::as_str),
                Some("restore")
            );
            let system = labels
                .get("lifeline.dev/system")
                .unwrap_or_else(|| panic!("Job {} has no system label", job.name_any()));
            assert!(
                job.name_any().starts_with(&format!("restore-{system}-")),
                "Job {} is labelled with system {system}",
                job.name_any()
            );
        }
        // A job step's token is its Job; a rolloutRestart step's token is the annotation
        // it wrote into the pod template.
        let prepare = &sys(&st, &ns.name, "network").steps[0];
        assert_eq!(
            prepare.token.as_deref(),
            Some(names::step_job("restore", &uid, "network", "prepare", 1).as_str())
        );
        let restart = &sys(&st, &ns.name, "lab").steps[0];
        let lab = ns.api::<Deployment>().get("lab").await.expect("get lab");
        let annotation = lab
            .spec
            .as_ref()
            .and_then(|s| s.template.metadata.as_ref())
            .and_then(|m| m.annotations.as_ref())
            .and_then(|a| a.get(RESTART_ANNOTATION))
            .cloned();
        assert!(annotation.is_some(), "lab was not restarted: {lab:#?}");
        assert_eq!(restart.token, annotation, "lab's restart token");
        assert_eq!(lab.metadata.generation, Some(2), "lab restarted once");
        // Each http check reached the stub (and nothing was asked of it before its system
        // was restoring).
        assert!(stub.count("/lab", 200) >= 1, "{:?}", stub.answered());
        assert!(stub.count("/results", 200) >= 1, "{:?}", stub.answered());
    })
    .await;
}

/// 2. A check that keeps failing fails its system after its deadline, blocks the
///    dependents (naming the failed system), and lets an independent branch finish; the
///    retry annotation, once the service is healthy, completes the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_check_blocks_dependents_and_retry_recovers() {
    with_namespace("operator-failing-check", |ns| async move {
        ensure_crds(&ns.client).await;
        let stub = StubHttp::start(500).await;
        let topology: Topology<'_> = &[
            ("lims", &[]),
            ("viewer", &["lims"]),
            ("audit", &["viewer"]),
            ("bedboard", &[]),
        ];
        let systems = [
            with_verify(
                clinical_system(
                    "lims",
                    &[],
                    vec![steps::scale("scale-up", "lims", 1)],
                    vec![steps::http("api", &stub.url("/lims"))],
                ),
                "1s",
                "5s",
            ),
            clinical_system(
                "viewer",
                &["lims"],
                vec![steps::scale("scale-up", "viewer", 1)],
                vec![steps::ready("ready", "viewer")],
            ),
            clinical_system(
                "audit",
                &["viewer"],
                vec![steps::job("export")],
                vec![steps::job_check("journey")],
            ),
            clinical_system(
                "bedboard",
                &[],
                vec![steps::scale("scale-up", "bedboard", 1)],
                vec![steps::ready("ready", "bedboard")],
            ),
        ];
        install(
            &ns,
            &[("lims", 0), ("viewer", 0), ("bedboard", 0)],
            &systems,
        )
        .await;
        let mut op = Operator::start("operator", &ns.name, &[]);
        let plans = ns.api::<RecoveryPlan>();
        let recording = PlanRecording::start(plans.clone(), &ns.name).await;
        let names: Vec<&str> = topology.iter().map(|(n, _)| *n).collect();
        create::<RecoveryPlan>(&ns, &object(recovery_plan("restore", &names))).await;

        let failed = wait_for(&plans, "restore", "Failed", RUN, |p| {
            phase(p) == PlanPhase::Failed
        })
        .await;
        op.assert_running();
        let st = status(&failed);
        let lims = sys(&st, &ns.name, "lims");
        assert_eq!(lims.phase, SystemPhase::Failed, "{lims:#?}");
        let check = &lims.checks[0];
        assert_eq!(check.phase, ActionPhase::Failed, "{check:#?}");
        assert!(
            check.attempts > 1,
            "a failing check is retried until its deadline: {check:#?}"
        );
        let last_error = check.last_error.clone().unwrap_or_default();
        assert!(
            last_error.contains("status 500") && last_error.contains("/lims"),
            "{check:#?}"
        );
        let message = lims.message.clone().unwrap_or_default();
        assert!(
            message.contains("check 'api'") && message.contains(&last_error),
            "the message names the check and the last error: {message:?}"
        );
        assert!(lims.failed_at.is_some(), "{lims:#?}");
        assert!(
            stub.count("/lims", 500) >= check.attempts as usize,
            "every recorded attempt reached the service: {} recorded, {:?} answered",
            check.attempts,
            stub.answered()
        );
        let key = format!("{}/lims", ns.name);
        for dependent in ["viewer", "audit"] {
            let s = sys(&st, &ns.name, dependent);
            assert_eq!(s.phase, SystemPhase::Blocked, "{s:#?}");
            assert_eq!(s.blocked_by.as_deref(), Some(key.as_str()), "{s:#?}");
            assert!(s.restore_started_at.is_none(), "{s:#?}");
        }
        let bedboard = sys(&st, &ns.name, "bedboard");
        assert_eq!(bedboard.phase, SystemPhase::Verified, "{bedboard:#?}");
        assert_eq!(st.progress.as_deref(), Some("1/4"));
        let viewer = ns
            .api::<Deployment>()
            .get("viewer")
            .await
            .expect("get viewer");
        assert_eq!(
            viewer.spec.and_then(|s| s.replicas),
            Some(0),
            "a blocked system's restore never ran"
        );

        // The service recovers; a person asks for a retry.
        stub.set_status(200);
        let attempts_before = check.attempts;
        patch_plan(
            &plans,
            "restore",
            json!({ "metadata": { "annotations": { "retry.lifeline.dev/lims": "1" } } }),
        )
        .await;
        let done = wait_for(&plans, "restore", "Succeeded after the retry", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        op.assert_running();
        let st = status(&done);
        for (name, _) in topology {
            assert_eq!(
                sys(&st, &ns.name, name).phase,
                SystemPhase::Verified,
                "{st:#?}"
            );
        }
        let lims = sys(&st, &ns.name, "lims");
        assert_eq!(lims.retry_token.as_deref(), Some("1"), "{lims:#?}");
        assert!(lims.failed_at.is_none(), "{lims:#?}");
        assert!(
            lims.checks[0].attempts > attempts_before,
            "the check ran again: {lims:#?}"
        );
        // A retry of a failed check does not repeat the restore steps that succeeded.
        assert_each_step_once_and_checks_passed(&st);
        assert_dependency_order(&ns.name, topology, &recording.versions(), &st);
        let failed_seen = recording
            .versions()
            .iter()
            .any(|p| phase(p) == PlanPhase::Failed);
        assert!(failed_seen, "the recording saw the Failed phase");
    })
    .await;
}

/// 3. Pausing before a dependency is verified: what is running finishes (a check keeps
///    being retried and passes), but the dependent does not start while paused, though
///    ready; unpausing completes the plan.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn paused_plan_starts_nothing_new_until_unpaused() {
    with_namespace("operator-paused", |ns| async move {
        ensure_crds(&ns.client).await;
        let stub = StubHttp::start(200).await;
        stub.fail_first("/base", u32::MAX);
        stub.fail_first("/other", u32::MAX);
        let topology: Topology<'_> = &[("base", &[]), ("app", &["base"]), ("other", &[])];
        let systems = [
            with_verify(
                clinical_system(
                    "base",
                    &[],
                    vec![steps::scale("scale-up", "base", 1)],
                    vec![steps::http("api", &stub.url("/base"))],
                ),
                "1s",
                "2m",
            ),
            clinical_system(
                "app",
                &["base"],
                vec![steps::scale("scale-up", "app", 1)],
                vec![steps::ready("ready", "app")],
            ),
            with_verify(
                clinical_system(
                    "other",
                    &[],
                    vec![steps::scale("scale-up", "other", 1)],
                    vec![steps::http("api", &stub.url("/other"))],
                ),
                "1s",
                "2m",
            ),
        ];
        install(&ns, &[("base", 0), ("app", 0), ("other", 0)], &systems).await;
        let mut op = Operator::start("operator", &ns.name, &[]);
        let plans = ns.api::<RecoveryPlan>();
        let recording = PlanRecording::start(plans.clone(), &ns.name).await;
        create::<RecoveryPlan>(
            &ns,
            &object(recovery_plan("restore", &["base", "app", "other"])),
        )
        .await;
        let n = ns.name.clone();
        wait_for(&plans, "restore", "verifying base and other", STEP, |p| {
            check_attempts(p, &n, "base", "api") >= 1 && check_attempts(p, &n, "other", "api") >= 1
        })
        .await;

        let paused = patch_plan(&plans, "restore", json!({ "spec": { "paused": true } })).await;
        let paused_generation = paused.metadata.generation;
        wait_for(&plans, "restore", "Paused", STEP, |p| {
            phase(p) == PlanPhase::Paused
                && p.status.as_ref().and_then(|s| s.observed_generation) >= paused_generation
        })
        .await;

        // What was running goes on: base's check passes; other's fails three more times,
        // about three seconds of activity, then passes.
        stub.fail_first("/base", 0);
        stub.fail_first("/other", 3);
        let base_done = wait_for(&plans, "restore", "base verified while paused", STEP, |p| {
            sys_phase(p, &n, "base") == SystemPhase::Verified
        })
        .await;
        let other_attempts = check_attempts(&base_done, &n, "other", "api");
        let other_done = wait_for(
            &plans,
            "restore",
            "other verified while paused",
            STEP,
            |p| sys_phase(p, &n, "other") == SystemPhase::Verified,
        )
        .await;
        op.assert_running();
        assert!(
            check_attempts(&other_done, &n, "other", "api") > other_attempts,
            "the operator kept working while paused"
        );
        let st = status(&other_done);
        assert_eq!(st.phase, PlanPhase::Paused, "{st:#?}");
        let app = sys(&st, &n, "app");
        assert!(
            matches!(app.phase, SystemPhase::Pending | SystemPhase::Waiting),
            "{app:#?}"
        );
        assert_eq!(
            app.message.as_deref(),
            Some("ready; the plan is paused"),
            "{app:#?}"
        );
        // In every version since the pause took effect, app had not started.
        let versions = recording.versions();
        let paused_from = versions
            .iter()
            .position(|p| {
                phase(p) == PlanPhase::Paused
                    && p.status.as_ref().and_then(|s| s.observed_generation) >= paused_generation
            })
            .expect("the recording saw the pause take effect");
        for p in &versions[paused_from..] {
            let s = status(p);
            let Some(app) = find(&s, &n, "app") else {
                continue;
            };
            assert!(
                matches!(app.phase, SystemPhase::Pending | SystemPhase::Waiting)
                    && app.restore_started_at.is_none(),
                "app started while paused: {s:#?}"
            );
            assert_eq!(s.phase, PlanPhase::Paused, "{s:#?}");
        }
        let app_deployment = ns.api::<Deployment>().get("app").await.expect("get app");
        assert_eq!(app_deployment.spec.and_then(|s| s.replicas), Some(0));

        patch_plan(&plans, "restore", json!({ "spec": { "paused": false } })).await;
        let done = wait_for(&plans, "restore", "Succeeded after unpausing", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        let st = status(&done);
        assert_dependency_order(&n, topology, &recording.versions(), &st);
        assert_each_step_once_and_checks_passed(&st);
        // app started only after the pause: after other was verified, which happened
        // while paused.
        let app = sys(&st, &n, "app");
        let other = sys(&st, &n, "other");
        assert!(
            app.restore_started_at.as_ref().map(|t| t.0) >= other.verified_at.as_ref().map(|t| t.0),
            "app started at {:?}, before the plan was unpaused (other verified at {:?})",
            app.restore_started_at,
            other.verified_at
        );
    })
    .await;
}

/// 4. Aborting mid-run cancels every unfinished system, keeps what finished, marks the
///    plan Aborted, and stops the checks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_cancels_unfinished_systems() {
    with_namespace("operator-abort", |ns| async move {
        ensure_crds(&ns.client).await;
        let stub = StubHttp::start(500).await;
        let systems = [
            clinical_system(
                "quick",
                &[],
                vec![steps::scale("scale-up", "quick", 1)],
                vec![steps::ready("ready", "quick")],
            ),
            with_verify(
                clinical_system(
                    "slow",
                    &[],
                    vec![steps::job("restore-db")],
                    vec![steps::http("api", &stub.url("/slow"))],
                ),
                "1s",
                "2m",
            ),
            clinical_system(
                "after",
                &["slow"],
                vec![steps::scale("scale-up", "after", 1)],
                vec![steps::ready("ready", "after")],
            ),
        ];
        install(&ns, &[("quick", 0), ("after", 0)], &systems).await;
        let mut op = Operator::start("operator", &ns.name, &[]);
        let plans = ns.api::<RecoveryPlan>();
        create::<RecoveryPlan>(
            &ns,
            &object(recovery_plan("restore", &["quick", "slow", "after"])),
        )
        .await;
        let n = ns.name.clone();
        wait_for(
            &plans,
            "restore",
            "quick verified, slow verifying",
            STEP,
            |p| {
                sys_phase(p, &n, "quick") == SystemPhase::Verified
                    && check_attempts(p, &n, "slow", "api") >= 1
            },
        )
        .await;

        patch_plan(&plans, "restore", json!({ "spec": { "abort": true } })).await;
        let aborted = wait_for(&plans, "restore", "Aborted", STEP, |p| {
            phase(p) == PlanPhase::Aborted
        })
        .await;
        op.assert_running();
        let st = status(&aborted);
        assert!(st.finished_at.is_some(), "{st:#?}");
        assert_eq!(
            sys(&st, &n, "quick").phase,
            SystemPhase::Verified,
            "{st:#?}"
        );
        for name in ["slow", "after"] {
            let s = sys(&st, &n, name);
            assert_eq!(s.phase, SystemPhase::Cancelled, "{s:#?}");
            assert_eq!(s.message.as_deref(), Some("the plan was aborted"), "{s:#?}");
        }
        assert!(sys(&st, &n, "after").restore_started_at.is_none());

        // The operator is still reconciling the plan, but makes no more check attempts
        // and starts nothing.
        let hits = stub.answered().len();
        bump_generation(&plans, "restore", 3).await;
        hold_for(
            "nothing more happens after the abort",
            Duration::from_millis(2500),
            || {
                let plans = plans.clone();
                let stub = &stub;
                let n = n.clone();
                async move {
                    let now = stub.answered().len();
                    if now != hits {
                        return Err(format!("{} more check requests", now - hits));
                    }
                    let p = crate::support::read_plan(&plans, "restore")
                        .await
                        .map_err(|e| e.to_string())?;
                    if phase(&p) != PlanPhase::Aborted
                        || sys_phase(&p, &n, "after") != SystemPhase::Cancelled
                    {
                        return Err(format!("{:#?}", p.status));
                    }
                    Ok(())
                }
            },
        )
        .await;
        let after = ns
            .api::<Deployment>()
            .get("after")
            .await
            .expect("get after");
        assert_eq!(after.spec.and_then(|s| s.replicas), Some(0));
    })
    .await;
}

/// 5. Events on the plan for the transitions a person cares about, reported by the
///    operator's identity; `/metrics`, `/healthz` and `/readyz` on the metrics address.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishes_events_and_metrics() {
    with_namespace("operator-events", |ns| async move {
        ensure_crds(&ns.client).await;
        let systems = [
            clinical_system(
                "db",
                &[],
                vec![steps::job("restore")],
                vec![steps::job_check("smoke")],
            ),
            clinical_system(
                "app",
                &["db"],
                vec![steps::scale("scale-up", "app", 1)],
                vec![steps::ready("ready", "app")],
            ),
        ];
        install(&ns, &[("app", 0)], &systems).await;
        let mut op = Operator::start("operator", &ns.name, &["--identity", "op-events"]);
        let plans = ns.api::<RecoveryPlan>();
        create::<RecoveryPlan>(&ns, &object(recovery_plan("restore", &["db", "app"]))).await;
        wait_for(&plans, "restore", "Succeeded", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        op.assert_running();

        let events: Api<Event> = ns.api();
        let n = ns.name.clone();
        let by_reason: HashMap<String, Vec<Event>> = eventually("the plan's Events", STEP, || {
            let events = events.clone();
            let n = n.clone();
            async move {
                let list = events
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?;
                let mut by_reason: HashMap<String, Vec<Event>> = HashMap::new();
                for e in list.items {
                    let regarding = e.regarding.clone().unwrap_or_default();
                    if regarding.kind.as_deref() == Some("RecoveryPlan")
                        && regarding.name.as_deref() == Some("restore")
                    {
                        by_reason
                            .entry(e.reason.clone().unwrap_or_default())
                            .or_default()
                            .push(e);
                    }
                }
                let notes = |reason: &str| -> Vec<String> {
                    by_reason
                        .get(reason)
                        .map(|v| v.iter().filter_map(|e| e.note.clone()).collect())
                        .unwrap_or_default()
                };
                for reason in ["RestoreStarted", "SystemVerified"] {
                    for system in ["db", "app"] {
                        let key = format!("{n}/{system}");
                        if !notes(reason)
                            .iter()
                            .any(|note| systems_named(note).contains(&key))
                        {
                            return Err(format!("no {reason} Event for {key}: {by_reason:#?}"));
                        }
                    }
                }
                if !by_reason.contains_key("PlanSucceeded") {
                    return Err(format!("no PlanSucceeded Event: {by_reason:#?}"));
                }
                Ok(by_reason)
            }
        })
        .await;
        for (reason, list) in &by_reason {
            for e in list {
                assert_eq!(
                    (
                        e.reporting_controller.as_deref(),
                        e.reporting_instance.as_deref()
                    ),
                    (Some("lifeline-operator"), Some("op-events")),
                    "{reason}: {e:#?}"
                );
            }
        }
        assert_eq!(by_reason["PlanSucceeded"].len(), 1, "{by_reason:#?}");
        let verified = &by_reason["SystemVerified"];
        let mut named: Vec<String> = verified
            .iter()
            .flat_map(|e| systems_named(e.note.as_deref().unwrap_or_default()))
            .collect();
        named.sort();
        assert_eq!(
            named,
            [format!("{n}/app"), format!("{n}/db")],
            "each system verified named once: {verified:#?}"
        );
        assert!(
            verified.iter().all(|e| e.type_.as_deref() == Some("Normal")
                && e.note
                    .as_deref()
                    .is_some_and(|n| n.starts_with("verified within the objective: "))),
            "{verified:#?}"
        );

        let addr = op.metrics_addr;
        let (code, body) = http_get(addr, "/healthz").await.expect("GET /healthz");
        assert_eq!((code, body.trim()), (200, "ok"));
        let (code, _) = http_get(addr, "/readyz").await.expect("GET /readyz");
        assert_eq!(code, 200, "ready after the first reconcile");
        let (code, metrics) = http_get(addr, "/metrics").await.expect("GET /metrics");
        assert_eq!(code, 200, "{metrics}");
        assert_eq!(
            sample(&metrics, r#"lifeline_plans{phase="Succeeded"}"#),
            Some(1.0),
            "{metrics}"
        );
        assert_eq!(
            sample(&metrics, r#"lifeline_plans{phase="Running"}"#),
            Some(0.0),
            "{metrics}"
        );
        assert_eq!(
            sample(
                &metrics,
                r#"lifeline_system_recovery_seconds_count{tier="critical"}"#
            ),
            Some(2.0),
            "each verified system is observed once: {metrics}"
        );
        assert!(
            sample(&metrics, "lifeline_reconcile_duration_seconds_count").unwrap_or(0.0) >= 1.0,
            "{metrics}"
        );
        // The operator counts its own requests: the two restore Jobs it created, the
        // Events it published, and its ClinicalSystems read from its caches: listed to
        // fill them and once when the plan starts (systems applied with the plan may not be in it
        // yet), never by the reconciles after that (there were at least four: one per
        // status write).
        let requests = |verb: &str, resource: &str| {
            sample(
                &metrics,
                &format!(r#"lifeline_api_requests_total{{verb="{verb}",resource="{resource}"}}"#),
            )
            .unwrap_or(0.0)
        };
        assert!(requests("POST", "jobs") >= 2.0, "{metrics}");
        assert!(requests("POST", "events") >= 1.0, "{metrics}");
        assert!(requests("WATCH", "clinicalsystems") >= 1.0, "{metrics}");
        assert!(
            requests("PATCH", "recoveryplans/status") >= 4.0,
            "{metrics}"
        );
        assert!(
            requests("LIST", "clinicalsystems") <= requests("WATCH", "clinicalsystems") + 1.0,
            "ClinicalSystems listed only to start each watch and at the plan's start: {metrics}"
        );
        // One watch of the plans, shared by the plan and drill controllers.
        assert_eq!(requests("WATCH", "recoveryplans"), 1.0, "{metrics}");

        // A deleted plan no longer counts in the phase gauge (the reconcile that finds it
        // gone forgets it).
        plans
            .delete("restore", &kube::api::DeleteParams::default())
            .await
            .expect("delete the plan");
        eventually(
            "the deleted plan to leave lifeline_plans",
            STEP,
            || async move {
                let (_, metrics) = http_get(addr, "/metrics")
                    .await
                    .map_err(|e| e.to_string())?;
                match sample(&metrics, r#"lifeline_plans{phase="Succeeded"}"#) {
                    Some(0.0) => Ok(()),
                    n => Err(format!("lifeline_plans{{phase=\"Succeeded\"}} is {n:?}")),
                }
            },
        )
        .await;
    })
    .await;
}

/// 6. A Job that the API server forbids for the moment (a ResourceQuota allows no more
///    Jobs) is created once the quota allows it, and the plan finishes.
///    The refusal is not transient, and no watched object changes when the quota is
///    lifted, so the operator looks again after `REFUSED_REQUEUE` (30 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_forbidden_by_quota_is_created_once_allowed() {
    use k8s_openapi::api::core::v1::ResourceQuota;
    with_namespace("operator-quota", |ns| async move {
        ensure_crds(&ns.client).await;
        let quota: ResourceQuota = object(json!({
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": { "name": "no-jobs" },
            "spec": { "hard": { "count/jobs.batch": "0" } }
        }));
        create(&ns, &quota).await;
        let systems = [clinical_system(
            "db",
            &[],
            vec![steps::job("restore")],
            vec![],
        )];
        install(&ns, &[], &systems).await;
        let op = Operator::start("operator", &ns.name, &[]);
        let plans = ns.api::<RecoveryPlan>();
        create::<RecoveryPlan>(&ns, &object(recovery_plan("restore", &["db"]))).await;
        eventually("the operator to be refused the Job", STEP, || {
            let log = op.log();
            async move {
                // The reconcile itself failed (not only the first start of the step).
                if log
                    .lines()
                    .any(|l| l.contains("reconcile failed") && l.contains("exceeded quota"))
                {
                    Ok(())
                } else {
                    Err("not refused yet".to_string())
                }
            }
        })
        .await;
        ns.api::<ResourceQuota>()
            .delete("no-jobs", &Default::default())
            .await
            .expect("delete the quota");
        wait_for(
            &plans,
            "restore",
            "Succeeded once Jobs are allowed",
            RUN,
            |p| phase(p) == PlanPhase::Succeeded,
        )
        .await;
    })
    .await;
}

#[tokio::test]
async fn a_job_the_plan_did_not_create_never_counts_as_its_step() {
    with_namespace("operator-foreign-job", |ns| async move {
        ensure_crds(&ns.client).await;
        let systems = [clinical_system(
            "db",
            &[],
            vec![steps::job("restore")],
            vec![],
        )];
        install(&ns, &[], &systems).await;
        // The plan exists before the operator runs; someone creates a Job with the name
        // its step's Job will have, completed and not owned by the plan.
        let plan: RecoveryPlan = create(&ns, &object(recovery_plan("restore", &["db"]))).await;
        let uid = plan.uid().expect("a uid");
        let name = names::step_job("restore", &uid, "db", "restore", 1);
        let mut foreign =
            serde_json::to_value(crate::support::job_body()["template"].clone()).expect("json");
        foreign["apiVersion"] = json!("batch/v1");
        foreign["kind"] = json!("Job");
        foreign["metadata"] = json!({ "name": name });
        create::<Job>(&ns, &object(foreign)).await;
        let op = Operator::start("operator", &ns.name, &[]);
        let plans = ns.api::<RecoveryPlan>();
        let failed = wait_for(&plans, "restore", "db Failed", RUN, |p| {
            p.status.as_ref().is_some_and(|s| {
                s.systems
                    .first()
                    .is_some_and(|x| x.phase == SystemPhase::Failed)
            })
        })
        .await;
        let db = failed.status.expect("status").systems.remove(0);
        let message = db.message.unwrap_or_default();
        assert!(
            message.contains(&format!(
                "Job {}/{name} exists and is not owned by RecoveryPlan",
                ns.name
            )),
            "{message}"
        );
        drop(op);
    })
    .await;
}

/// The confused deputy of the security review: a ClinicalSystem stored while the admission
/// policy `lifeline-system-jobs` is not in force (the cluster tests' default: no binding
/// selects their namespaces) with a privileged restore step sharing the node's PID
/// namespace. The operator refuses the step, naming the system, step and field, and no Job
/// is ever created.
#[tokio::test]
async fn a_privileged_job_step_admitted_without_the_policy_is_refused_and_no_job_is_made() {
    with_namespace("operator-deputy", |ns| async move {
        ensure_crds(&ns.client).await;
        let mut step = steps::job("restore");
        let pod = &mut step["job"]["template"]["spec"]["template"]["spec"];
        pod["hostPID"] = json!(true);
        pod["containers"][0]["securityContext"]["privileged"] = json!(true);
        // As the API server requires of a privileged container.
        pod["containers"][0]["securityContext"]["allowPrivilegeEscalation"] = json!(true);
        let systems = [clinical_system("db", &[], vec![step], vec![])];
        install(&ns, &[], &systems).await;
        create::<RecoveryPlan>(&ns, &object(recovery_plan("restore", &["db"]))).await;
        let op = Operator::start("operator", &ns.name, &[]);
        let plans = ns.api::<RecoveryPlan>();
        let failed = wait_for(&plans, "restore", "db Failed", RUN, |p| {
            p.status.as_ref().is_some_and(|s| {
                s.systems
                    .first()
                    .is_some_and(|x| x.phase == SystemPhase::Failed)
            })
        })
        .await;
        let db = failed.status.expect("status").systems.remove(0);
        let message = db.message.unwrap_or_default();
        assert!(
            message.contains(&format!(
                "ClinicalSystem {}/db: spec.restore.steps{{restore}}.job.template.spec.template.spec.hostPID:",
                ns.name
            )) && message.contains("(and 2 more)")
                && message.contains("lifeline-system-jobs"),
            "{message}"
        );
        let jobs = ns
            .api::<Job>()
            .list(&ListParams::default())
            .await
            .expect("list Jobs");
        assert!(
            jobs.items.is_empty(),
            "no Job is created: {:?}",
            jobs.items.iter().map(|j| j.name_any()).collect::<Vec<_>>()
        );
        drop(op);
    })
    .await;
}

/// A server on 127.0.0.1 that redirects `/moved` to `/ok` on itself, `/away` to
/// 127.0.0.2 on the same port, answers `/ok` with 200 and `/record` with a body holding
/// what a check must never echo.
async fn redirecting_server() -> SocketAddr {
    use axum::{Router, http::StatusCode, http::header::LOCATION, routing::get};
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind the redirecting server");
    let addr = listener.local_addr().expect("address");
    let port = addr.port();
    let app = Router::new()
        .route("/ok", get(|| async { "ok" }))
        .route(
            "/record",
            get(|| async { "patient 943 476 5919: allergic to penicillin" }),
        )
        .route(
            "/moved",
            get(|| async { (StatusCode::FOUND, [(LOCATION, "/ok")]) }),
        )
        .route(
            "/away",
            get(move || async move {
                (
                    StatusCode::FOUND,
                    [(LOCATION, format!("http://127.0.0.2:{port}/ok"))],
                )
            }),
        );
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

/// The checks a ClinicalSystem's author writes reach only what they should: never a
/// metadata or link-local address, never a network the operator does not allow, no
/// redirect unless asked and then on the same host only, and the status never echoes
/// what the target sent beyond its status code. (Nothing leaves the machine: refused
/// addresses are refused before any connection.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn checks_reach_only_what_they_should_and_echo_nothing() {
    with_namespace("operator-reach", |ns| async move {
        ensure_crds(&ns.client).await;
        let server = redirecting_server().await;
        let url = |path: &str| format!("http://{server}{path}");
        let http = |name: &str, url: String, extra: Value| {
            let mut check = json!({ "name": name, "http": { "url": url, "timeout": "2s" } });
            if let (Some(c), Some(extra)) = (check["http"].as_object_mut(), extra.as_object()) {
                c.extend(extra.clone());
            }
            check
        };
        let cases: Vec<(&str, Value)> = vec![
            (
                "metadata",
                http(
                    "probe",
                    "http://169.254.169.254/latest/meta-data/".into(),
                    json!({}),
                ),
            ),
            (
                "metadata-v6",
                http("probe", "http://[fd00:ec2::254]/latest/".into(), json!({})),
            ),
            (
                "private",
                json!({ "name": "probe", "tcp": { "host": "10.0.0.1", "port": 5432 } }),
            ),
            ("unfollowed", http("probe", url("/moved"), json!({}))),
            (
                "elsewhere",
                http("probe", url("/away"), json!({ "followRedirects": true })),
            ),
            (
                "followed",
                http("probe", url("/moved"), json!({ "followRedirects": true })),
            ),
            (
                "record",
                http(
                    "probe",
                    url("/record"),
                    json!({ "bodyContains": "no allergies" }),
                ),
            ),
        ];
        for (name, check) in &cases {
            let mut system = clinical_system(name, &[], vec![], vec![check.clone()]);
            system["spec"]["verify"]["deadline"] = json!("3s");
            create::<ClinicalSystem>(&ns, &object(system)).await;
        }
        let _op = Operator::start("reach", &ns.name, &[]);
        let names: Vec<&str> = cases.iter().map(|(n, _)| *n).collect();
        create::<RecoveryPlan>(&ns, &object(recovery_plan("reach", &names))).await;
        let plans = ns.api::<RecoveryPlan>();
        let done = wait_for(&plans, "reach", "every system settled", RUN, |p| {
            let st = status(p);
            !st.systems.is_empty() && st.systems.iter().all(|s| s.phase.is_terminal())
        })
        .await;
        let st = status(&done);
        let outcome = |name: &str| {
            let s = sys(&st, &ns.name, name);
            (s.phase, s.checks[0].last_error.clone().unwrap_or_default())
        };
        let expect_failed = |name: &str, needle: &str| {
            let (phase, error) = outcome(name);
            assert_eq!(phase, SystemPhase::Failed, "{name}: {error}");
            assert!(error.contains(needle), "{name}: {error}");
            assert!(error.len() <= 300, "{name}: a bounded error: {error}");
        };
        expect_failed(
            "metadata",
            "169.254.169.254 is a link-local address (cloud metadata), which checks never reach",
        );
        expect_failed(
            "metadata-v6",
            "fd00:ec2::254 is a cloud metadata address, which checks never reach",
        );
        expect_failed(
            "private",
            "connect 10.0.0.1:5432: 10.0.0.1 is outside the networks checks may reach",
        );
        expect_failed(
            "unfollowed",
            "status 302, a redirect, not followed (set followRedirects",
        );
        expect_failed(
            "elsewhere",
            "status 302, a redirect to another host, which checks never follow",
        );
        expect_failed(
            "record",
            "the body does not contain the text the check expects",
        );
        let (_, error) = outcome("record");
        assert!(
            !error.contains("penicillin") && !error.contains("943"),
            "nothing of the body: {error}"
        );
        assert_eq!(
            outcome("followed").0,
            SystemPhase::Verified,
            "{:?}",
            outcome("followed")
        );
    })
    .await;
}

/// A system `pas` whose one restore step is manual (a custodian confirms it), with a
/// restore timeout of `timeout`.
fn manual_system(timeout: &str) -> Value {
    let mut s = clinical_system(
        "pas",
        &[],
        vec![
            json!({ "name": "unseal", "manual": { "instructions": "Two custodians unseal the vault" } }),
        ],
        vec![],
    );
    s["spec"]["restore"]["timeout"] = json!(timeout);
    s
}

/// The Approval confirming pas's manual step.
fn confirmation() -> lifeline::api::v1alpha1::Approval {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
        "metadata": { "name": "pas-unseal" },
        "spec": { "plan": "timeouts", "system": "pas", "step": "unseal", "decision": "approve",
                  "approver": { "username": "custodian" } }
    }))
}

/// Waits until the clock is `seconds` past `t`.
async fn until_past(t: &k8s_openapi::apimachinery::pkg::apis::meta::v1::Time, seconds: i64) {
    let due = t.0.as_second() + seconds;
    eventually(&format!("{seconds}s to pass"), RUN, || async move {
        let now = k8s_openapi::jiff::Timestamp::now().as_second();
        if now > due {
            Ok(())
        } else {
            Err(format!("{now} <= {due}"))
        }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_step_that_timed_out_once_gets_its_whole_timeout_again_on_retry() {
    with_namespace("operator-timeout-retry", |ns| async move {
        ensure_crds(&ns.client).await;
        create::<ClinicalSystem>(&ns, &object(manual_system("3s"))).await;
        let _op = Operator::start("timeout-retry", &ns.name, &[]);
        create::<RecoveryPlan>(&ns, &object(recovery_plan("timeouts", &["pas"]))).await;
        let plans = ns.api::<RecoveryPlan>();
        let failed = wait_for(&plans, "timeouts", "pas failed on its timeout", RUN, |p| {
            find(&status(p), &ns.name, "pas").is_some_and(|s| s.phase == SystemPhase::Failed)
        })
        .await;
        let first = sys(&status(&failed), &ns.name, "pas").clone();
        assert!(
            first
                .message
                .as_deref()
                .is_some_and(|m| m.contains("did not finish within its timeout of 3s")),
            "{:?}",
            first.message
        );
        // Well past the first attempt's timeout, the custodians confirm and the commander
        // retries: the retry has its whole 3s, and the confirmation is already there.
        until_past(first.attempt_started_at.as_ref().expect("attempt"), 5).await;
        create::<lifeline::api::v1alpha1::Approval>(&ns, &confirmation()).await;
        plans
            .patch(
                "timeouts",
                &PatchParams::default(),
                &Patch::Merge(json!({
                    "metadata": { "annotations": { "retry.lifeline.dev/pas": "retry-1" } }
                })),
            )
            .await
            .expect("retry");
        let done = wait_for(&plans, "timeouts", "Succeeded", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        let pas = sys(&status(&done), &ns.name, "pas").clone();
        assert_eq!(pas.steps[0].phase, ActionPhase::Succeeded);
        assert!(
            pas.attempt_started_at.as_ref().expect("attempt").0
                > first.attempt_started_at.expect("first").0
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_longer_than_the_restore_timeout_does_not_fail_the_step() {
    with_namespace("operator-timeout-pause", |ns| async move {
        ensure_crds(&ns.client).await;
        create::<ClinicalSystem>(&ns, &object(manual_system("4s"))).await;
        let _op = Operator::start("timeout-pause", &ns.name, &[]);
        create::<RecoveryPlan>(&ns, &object(recovery_plan("timeouts", &["pas"]))).await;
        let plans = ns.api::<RecoveryPlan>();
        let restoring = wait_for(&plans, "timeouts", "pas restoring", RUN, |p| {
            find(&status(p), &ns.name, "pas").is_some_and(|s| s.phase == SystemPhase::Restoring)
        })
        .await;
        let pause = |paused: bool| Patch::Merge(json!({ "spec": { "paused": paused } }));
        plans
            .patch("timeouts", &PatchParams::default(), &pause(true))
            .await
            .expect("pause");
        wait_for(&plans, "timeouts", "Paused", RUN, |p| {
            phase(p) == PlanPhase::Paused
        })
        .await;
        // Paused for longer than the whole timeout; then the confirmation, and resume.
        let started = sys(&status(&restoring), &ns.name, "pas")
            .attempt_started_at
            .clone()
            .expect("attempt");
        until_past(&started, 6).await;
        let still = crate::support::read_plan(&plans, "timeouts")
            .await
            .expect("plan");
        assert_eq!(
            sys(&status(&still), &ns.name, "pas").phase,
            SystemPhase::Restoring,
            "a paused plan times nothing out"
        );
        create::<lifeline::api::v1alpha1::Approval>(&ns, &confirmation()).await;
        plans
            .patch("timeouts", &PatchParams::default(), &pause(false))
            .await
            .expect("resume");
        let done = wait_for(&plans, "timeouts", "Succeeded", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        let pas = sys(&status(&done), &ns.name, "pas").clone();
        // Confirmed during the pause, the step may finish before the resume: either way it
        // never timed out.
        assert_eq!(pas.steps[0].phase, ActionPhase::Succeeded);
        assert_eq!(
            pas.steps[0].attempts, 1,
            "it never failed and was never retried"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restore_again_reruns_a_system_from_a_step_and_leaves_its_dependencies_alone() {
    with_namespace("operator-restore-again", |ns| async move {
        ensure_crds(&ns.client).await;
        let mut db = clinical_system(
            "db",
            &[],
            vec![
                json!({ "name": "restore-from-backup", "repeatable": false, "job": crate::support::job_body() }),
                steps::scale("start", "db", 1),
            ],
            vec![steps::ready("ready", "db")],
        );
        db["spec"]["verify"]["monitorInterval"] = json!("1h");
        let mut app = clinical_system(
            "app",
            &["db"],
            vec![
                steps::scale("start", "app", 1),
                steps::job("migrate"),
                steps::restart("restart", "app"),
            ],
            vec![steps::ready("ready", "app")],
        );
        app["spec"]["release"] = json!({ "podSelector": { "matchLabels": { "app": "app" } } });
        app["spec"]["verify"]["monitorInterval"] = json!("1h");
        install(&ns, &[("db", 0), ("app", 0)], &[db, app]).await;
        let mut op = Operator::start("restore-again", &ns.name, &[]);
        let mut plan = recovery_plan("restore", &["db", "app"]);
        plan["spec"]["stages"] = json!([{ "name": "ward", "audience": { "ipBlocks": ["10.20.7.0/24"] } }]);
        create::<RecoveryPlan>(&ns, &object(plan)).await;
        let plans = ns.api::<RecoveryPlan>();
        wait_for(&plans, "restore", "Succeeded", RUN, |p| phase(p) == PlanPhase::Succeeded).await;
        let (db_jobs, app_jobs) = (jobs_of(&ns, "db").await, jobs_of(&ns, "app").await);
        assert_eq!((db_jobs.len(), app_jobs.len()), (1, 1), "{db_jobs:?} {app_jobs:?}");

        // The app is restored again from its migration: its later steps run again, its
        // earlier one and its dependency do not.
        let out = cli(&["restore", "restore", "app", "--from-step", "migrate", "-n", &ns.name]).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        // The operator is killed once it has taken the request on, and started again: the
        // request is carried out once, and nothing is repeated or skipped.
        wait_for(&plans, "restore", "the restore again taken on", RUN, |p| {
            find(&status(p), &ns.name, "app").is_some_and(|s| !s.restored_again.is_empty())
        })
        .await;
        op.assert_running();
        op.kill();
        op.spawn();
        let again = wait_for(&plans, "restore", "app restored again and back at the ward", RUN, |p| {
            find(&status(p), &ns.name, "app").is_some_and(|s| {
                s.restored_again.first().is_some_and(|r| r.verified_at.is_some())
                    && s.released_stage.as_deref() == Some("ward")
            })
        })
        .await;
        let app = sys(&status(&again), &ns.name, "app").clone();
        assert_eq!(app.restored_again[0].from_step, "migrate");
        let attempts: Vec<(String, u32)> = app.steps.iter().map(|s| (s.name.clone(), s.attempts)).collect();
        assert_eq!(attempts, [("start".to_string(), 1), ("migrate".to_string(), 2), ("restart".to_string(), 2)]);
        assert_eq!(jobs_of(&ns, "app").await.len(), 2, "one more migration Job");
        assert_eq!(jobs_of(&ns, "db").await, db_jobs, "nothing of the dependency ran again");
        let db = sys(&status(&again), &ns.name, "db").clone();
        assert!(db.steps.iter().all(|s| s.attempts == 1), "{:?}", db.steps);
        assert!(app.verified_at.is_some() && app.restored_again[0].verified_at > app.verified_at, "the first verification stays the record");

        // The database's restore from backup is not run again unasked.
        let refused = cli(&["restore", "restore", "db", "-n", &ns.name]).await;
        assert!(!refused.status.success());
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(err.contains("step restore-from-backup is repeatable: false") && err.contains("--force"), "{err}");
        let forced = cli(&["restore", "restore", "db", "--force", "-n", &ns.name]).await;
        assert!(forced.status.success(), "{}", String::from_utf8_lossy(&forced.stderr));
        wait_for(&plans, "restore", "db restored again, forced", RUN, |p| {
            find(&status(p), &ns.name, "db").is_some_and(|s| s.restored_again.first().is_some_and(|r| r.forced && r.verified_at.is_some()))
        })
        .await;
        assert_eq!(jobs_of(&ns, "db").await.len(), 2, "the backup restored again, as forced");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_two_person_manual_step_waits_for_two_distinct_people_and_says_so() {
    with_namespace("operator-two-custodians", |ns| async move {
        ensure_crds(&ns.client).await;
        let vault = clinical_system(
            "vault",
            &[],
            vec![json!({ "name": "unseal", "manual": { "instructions": "Two key custodians unseal the vault", "required": 2 } })],
            vec![],
        );
        create::<ClinicalSystem>(&ns, &object(vault)).await;
        let _op = Operator::start("two-custodians", &ns.name, &[]);
        create::<RecoveryPlan>(&ns, &object(recovery_plan("vault", &["vault"]))).await;
        let plans = ns.api::<RecoveryPlan>();
        let waiting = wait_for(&plans, "vault", "the unseal awaiting two people", RUN, |p| !status(p).awaiting_steps.is_empty()).await;
        let entry = status(&waiting).awaiting_steps[0].clone();
        assert_eq!((entry.step.as_str(), entry.needed, entry.required), ("unseal", 2, 2));
        assert_eq!(entry.instructions, "Two key custodians unseal the vault");
        crate::support::event_note(&ns, "StepAwaitingConfirmation", RUN, |n| n.contains("step unseal of vault awaits 2 more confirmations (of 2)")).await;
        let shown = cli(&["status", "vault", "-n", &ns.name]).await;
        let shown = String::from_utf8_lossy(&shown.stdout).to_string();
        assert!(shown.contains("Awaiting: step unseal of vault awaits 2 more confirmations (of 2)"), "{shown}");

        // One custodian confirms twice (the CLI, as the test's user): one confirmation.
        for _ in 0..2 {
            let out = cli(&["confirm", "vault", "vault", "unseal", "--comment", "key 1 turned", "-n", &ns.name]).await;
            assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
            // Another Approval name each second: wait for the next second.
            let now = k8s_openapi::jiff::Timestamp::now().as_second();
            eventually("the next second", RUN, || async move {
                if k8s_openapi::jiff::Timestamp::now().as_second() > now { Ok(()) } else { Err("same second".to_string()) }
            })
            .await;
        }
        let once = wait_for(&plans, "vault", "one confirmation counted", RUN, |p| {
            status(p).awaiting_steps.first().is_some_and(|a| a.needed == 1)
        })
        .await;
        let entry = status(&once).awaiting_steps[0].clone();
        assert_eq!(entry.confirmed_by.len(), 1, "{entry:?}");
        assert_eq!(sys(&status(&once), &ns.name, "vault").phase, SystemPhase::Restoring);

        // A second, distinct person completes it.
        let second: lifeline::api::v1alpha1::Approval = object(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
            "metadata": { "name": "unseal-lee" },
            "spec": { "plan": "vault", "system": "vault", "step": "unseal", "decision": "approve",
                      "comment": "key 2 turned", "approver": { "username": "lee" } }
        }));
        create::<lifeline::api::v1alpha1::Approval>(&ns, &second).await;
        let done = wait_for(&plans, "vault", "Succeeded", RUN, |p| phase(p) == PlanPhase::Succeeded).await;
        assert!(status(&done).awaiting_steps.is_empty());
        assert_eq!(sys(&status(&done), &ns.name, "vault").steps[0].token.as_deref(), Some("unseal-lee"));
    })
    .await;
}

/// `lifeline confirm --reject --comment R` fails the manual step with the reason and
/// names who rejected it, in the step, the interventions and `lifeline status`; a restore
/// again and an abort are recorded with the person who asked, vouched for by the API
/// server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rejected_manual_step_fails_naming_who_and_restore_and_abort_record_the_person() {
    use lifeline::api::v1alpha1::InterventionKind;
    with_namespace("operator-reject-step", |ns| async move {
        ensure_crds(&ns.client).await;
        let me = lifeline::controller::cluster::identity::whoami(&ns.client)
            .await
            .expect("who the test's user is")
            .username;
        let vault = clinical_system(
            "vault",
            &[],
            vec![json!({ "name": "unseal", "manual": { "instructions": "The custodian unseals the vault" } })],
            vec![],
        );
        let mut lab = clinical_system(
            "lab",
            &[],
            vec![steps::scale("start", "lab", 1)],
            vec![steps::ready("ready", "lab")],
        );
        lab["spec"]["verify"]["monitorInterval"] = json!("1h");
        let idle = clinical_system(
            "idle",
            &[],
            vec![json!({ "name": "sign-off", "manual": { "instructions": "sign it off" } })],
            vec![],
        );
        install(&ns, &[("lab", 0)], &[vault, lab, idle]).await;
        let _op = Operator::start("reject-step", &ns.name, &[]);
        create::<RecoveryPlan>(&ns, &object(recovery_plan("vault", &["vault", "lab"]))).await;
        create::<RecoveryPlan>(&ns, &object(recovery_plan("idle", &["idle"]))).await;
        let plans = ns.api::<RecoveryPlan>();
        wait_for(&plans, "vault", "lab verified and the unseal awaiting", RUN, |p| {
            !status(p).awaiting_steps.is_empty()
                && find(&status(p), &ns.name, "lab").is_some_and(|s| s.phase.is_verified())
        })
        .await;
        let recorded = |p: &RecoveryPlan, kind: InterventionKind| {
            status(p).interventions.into_iter().find(|r| r.action == kind)
        };

        // A restore again, recorded with who asked.
        let out = cli(&["restore", "vault", "lab", "-n", &ns.name]).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let again = wait_for(&plans, "vault", "lab restored again and the restore recorded", RUN, |p| {
            find(&status(p), &ns.name, "lab").is_some_and(|s| s.restored_again.first().is_some_and(|r| r.verified_at.is_some()))
                && recorded(p, InterventionKind::Restore).is_some()
        })
        .await;
        let restore = recorded(&again, InterventionKind::Restore).expect("the restore recorded");
        let lab_key = format!("{}/lab", ns.name);
        assert_eq!(
            (restore.by.as_str(), restore.vouched, restore.system.as_deref()),
            (me.as_str(), true, Some(lab_key.as_str())),
            "{restore:?}"
        );
        assert!(restore.request.is_some() && restore.refused.is_none(), "{restore:?}");

        // A rejection without a reason is refused; with one, it fails the step.
        let out = cli(&["confirm", "vault", "vault", "unseal", "--reject", "-n", &ns.name]).await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("a rejection needs a reason"), "{err}");
        let out = cli(&["confirm", "vault", "vault", "unseal", "--reject", "--comment", "the seal was tampered with", "-n", &ns.name]).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let failed = wait_for(&plans, "vault", "vault failed by the rejection", RUN, |p| {
            sys_phase(p, &ns.name, "vault") == SystemPhase::Failed && recorded(p, InterventionKind::Reject).is_some()
        })
        .await;
        let vault = sys(&status(&failed), &ns.name, "vault").clone();
        assert_eq!(vault.steps[0].phase, ActionPhase::Failed, "{vault:#?}");
        let message = vault.steps[0].message.clone().unwrap_or_default();
        assert!(
            message.contains(&format!("{me} rejected manual step 'unseal'"))
                && message.contains("the seal was tampered with"),
            "{message}"
        );
        assert!(status(&failed).awaiting_steps.is_empty(), "a rejected step waits no more");
        let reject = recorded(&failed, InterventionKind::Reject).expect("the rejection recorded");
        assert_eq!(
            (reject.by.as_str(), reject.vouched, reject.step.as_deref(), reject.reason.as_deref()),
            (me.as_str(), true, Some("unseal"), Some("the seal was tampered with")),
            "{reject:?}"
        );
        let shown = cli(&["status", "vault", "-n", &ns.name]).await;
        let shown = String::from_utf8_lossy(&shown.stdout).to_string();
        assert!(
            shown.contains(&format!("reject step unseal of vault by {me}: the seal was tampered with"))
                && shown.contains(&format!("restore lab by {me}")),
            "{shown}"
        );

        // An abort, recorded with who asked.
        let out = cli(&["abort", "idle", "-n", &ns.name]).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let aborted = wait_for(&plans, "idle", "aborted and the abort recorded", RUN, |p| {
            phase(p) == PlanPhase::Aborted && recorded(p, InterventionKind::Abort).is_some()
        })
        .await;
        let abort = recorded(&aborted, InterventionKind::Abort).expect("the abort recorded");
        assert_eq!((abort.by.as_str(), abort.vouched), (me.as_str(), true), "{abort:?}");
        assert!(abort.requested_at.is_some() && abort.request.is_some(), "{abort:?}");
    })
    .await;
}

/// The monitoring path survives a SIGKILL: a verified system whose check fails again is
/// Degraded; the operator is killed as soon as that is recorded, the check is mended
/// while it is down, and once started again the system is back with exactly the one
/// regression, begun and ended, and no second SystemDegraded.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_regression_and_its_end_are_recorded_once_across_a_sigkill() {
    with_namespace("operator-kill-monitoring", |ns| async move {
        ensure_crds(&ns.client).await;
        let mut lab = clinical_system(
            "lab",
            &[],
            vec![steps::scale("start", "lab", 1)],
            vec![steps::ready("ready", "lab")],
        );
        lab["spec"]["verify"]["monitorInterval"] = json!("1s");
        install(&ns, &[("lab", 0)], &[lab]).await;
        let mut op = Operator::start("kill-monitoring", &ns.name, &[]);
        create::<RecoveryPlan>(&ns, &object(recovery_plan("watch", &["lab"]))).await;
        let plans = ns.api::<RecoveryPlan>();
        wait_for(&plans, "watch", "Succeeded", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;

        // The laboratory system breaks after its release: its workload goes to 0.
        let deployments = ns.api::<Deployment>();
        deployments
            .patch(
                "lab",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "replicas": 0 } })),
            )
            .await
            .expect("scale lab to 0");
        wait_for(&plans, "watch", "lab Degraded", RUN, |p| {
            sys_phase(p, &ns.name, "lab") == SystemPhase::Degraded
        })
        .await;
        op.assert_running();
        op.kill();
        deployments
            .patch(
                "lab",
                &PatchParams::default(),
                &Patch::Merge(json!({ "spec": { "replicas": 1 } })),
            )
            .await
            .expect("mend lab");
        op.spawn();
        let back = wait_for(&plans, "watch", "lab verified again", RUN, |p| {
            find(&status(p), &ns.name, "lab").is_some_and(|s| {
                s.phase == SystemPhase::Verified
                    && s.regressions.iter().all(|r| r.ended_at.is_some())
            })
        })
        .await;
        let lab = sys(&status(&back), &ns.name, "lab").clone();
        assert_eq!(lab.regression_count, 1, "{:?}", lab.regressions);
        assert_eq!(lab.regressions.len(), 1);
        let r = &lab.regressions[0];
        assert_eq!(r.check, "ready");
        assert!(
            r.seconds.is_some() && r.ended_at > Some(r.started_at.clone()),
            "{r:?}"
        );
        let degraded = crate::support::event_notes(&ns, "SystemDegraded").await;
        assert!(
            degraded.len() <= 1,
            "the regression is not announced twice: {degraded:?}"
        );
        // It stays watched: the monitor runs its check again (1s interval), the check
        // passes, and nothing more is recorded.
        let runs_before = lab.checks[0].reruns;
        hold_for("one regression, verified", Duration::from_secs(3), || {
            let plans = plans.clone();
            let ns = ns.name.clone();
            async move {
                let p = crate::support::read_plan(&plans, "watch")
                    .await
                    .map_err(|e| e.to_string())?;
                let s = sys(&status(&p), &ns, "lab").clone();
                if s.regression_count == 1 && s.phase == SystemPhase::Verified {
                    Ok(())
                } else {
                    Err(format!("{:?}: {:?}", s.phase, s.regressions))
                }
            }
        })
        .await;
        let later = wait_for(&plans, "watch", "the check run again", RUN, |p| {
            find(&status(p), &ns.name, "lab").is_some_and(|s| s.checks[0].reruns > runs_before)
        })
        .await;
        assert_eq!(sys(&status(&later), &ns.name, "lab").regression_count, 1);
    })
    .await;
}

/// A confirmation arriving survives a SIGKILL: the operator is killed the moment a
/// person confirms a manual step; started again, it completes the step once, records the
/// confirmation once, and runs the next step once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_confirmation_arriving_at_a_sigkill_is_acted_on_once() {
    with_namespace("operator-kill-confirm", |ns| async move {
        ensure_crds(&ns.client).await;
        let vault = clinical_system(
            "vault",
            &[],
            vec![
                json!({ "name": "unseal", "manual": { "instructions": "The custodian unseals the vault" } }),
                steps::job("verify-seal"),
            ],
            vec![],
        );
        create::<ClinicalSystem>(&ns, &object(vault)).await;
        let mut op = Operator::start("kill-confirm", &ns.name, &[]);
        create::<RecoveryPlan>(&ns, &object(recovery_plan("vault", &["vault"]))).await;
        let plans = ns.api::<RecoveryPlan>();
        wait_for(&plans, "vault", "the unseal awaiting its custodian", RUN, |p| !status(p).awaiting_steps.is_empty()).await;
        let out = cli(&["confirm", "vault", "vault", "unseal", "--comment", "unsealed at 09:12", "-n", &ns.name]).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        op.kill();
        op.spawn();
        let done = wait_for(&plans, "vault", "Succeeded", RUN, |p| phase(p) == PlanPhase::Succeeded).await;
        let st = status(&done);
        let vault = sys(&st, &ns.name, "vault");
        let attempts: Vec<(&str, u32)> = vault.steps.iter().map(|s| (s.name.as_str(), s.attempts)).collect();
        assert_eq!(attempts, [("unseal", 1), ("verify-seal", 1)]);
        assert_eq!(jobs_of(&ns, "vault").await.len(), 1, "the next step ran once");
        // A step the operator carries out is not confirmed by people.
        let refused = cli(&["confirm", "vault", "vault", "verify-seal", "-n", &ns.name]).await;
        assert!(!refused.status.success());
        let err = String::from_utf8_lossy(&refused.stderr);
        assert!(err.contains("is not a manual step"), "{err}");
        let confirms: Vec<_> = st
            .interventions
            .iter()
            .filter(|r| r.action == lifeline::api::v1alpha1::InterventionKind::Confirm)
            .collect();
        assert_eq!(confirms.len(), 1, "{:?}", st.interventions);
        assert_eq!(confirms[0].step.as_deref(), Some("unseal"));
        assert_eq!(confirms[0].reason.as_deref(), Some("unsealed at 09:12"));
        assert!(confirms[0].vouched);
    })
    .await;
}

/// Names that one `-` join made the same are distinct Jobs on the real API server: system
/// `x-y` step `z` and system `x` step `y-z` of one plan each get a Job of their own and
/// both run, and a system's check Job and step Job of one name (`run`) are two Jobs. Each
/// is the plan's, completed, and recorded by the step that made it.
#[tokio::test]
async fn jobs_whose_names_one_dash_join_would_share_are_distinct_and_all_run() {
    with_namespace("operator-names", |ns| async move {
        ensure_crds(&ns.client).await;
        let systems = [
            clinical_system("x-y", &[], vec![steps::job("z")], vec![]),
            clinical_system("x", &[], vec![steps::job("y-z")], vec![]),
            clinical_system(
                "db",
                &[],
                vec![steps::job("run")],
                vec![steps::job_check("run")],
            ),
        ];
        install(&ns, &[], &systems).await;
        create::<RecoveryPlan>(&ns, &object(recovery_plan("restore", &["x-y", "x", "db"]))).await;
        let op = Operator::start("operator", &ns.name, &[]);
        let plans = ns.api::<RecoveryPlan>();
        let done = wait_for(&plans, "restore", "Succeeded", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        let st = status(&done);
        assert_each_step_once_and_checks_passed(&st);
        let uid = done.uid().expect("a uid");
        // Joined with '-', the two steps' identities are one string.
        assert_eq!(
            ["restore", "x-y", "z", "1"].join("-"),
            ["restore", "x", "y-z", "1"].join("-")
        );
        let expected = [
            ("x-y", names::step_job("restore", &uid, "x-y", "z", 1)),
            ("x", names::step_job("restore", &uid, "x", "y-z", 1)),
            ("db", names::step_job("restore", &uid, "db", "run", 1)),
            ("db", names::check_job("restore", &uid, "db", "run", 1)),
        ];
        let distinct: std::collections::HashSet<&String> =
            expected.iter().map(|(_, n)| n).collect();
        assert_eq!(distinct.len(), 4, "{expected:?}");
        let jobs = ns.api::<Job>();
        for (system, name) in &expected {
            let job = jobs
                .get(name)
                .await
                .unwrap_or_else(|e| panic!("Job {name} of {system}: {e}"));
            assert!(
                job.owner_references()
                    .iter()
                    .any(|o| o.kind == "RecoveryPlan" && o.uid == uid),
                "Job {name} is the plan's: {:?}",
                job.owner_references()
            );
            assert_eq!(
                job.labels().get("lifeline.dev/system").map(String::as_str),
                Some(*system),
                "Job {name}"
            );
            assert!(
                job.status.as_ref().and_then(|s| s.succeeded).unwrap_or(0) >= 1,
                "Job {name} ran to completion: {:?}",
                job.status
            );
        }
        for (system, name) in &expected[..3] {
            let step = &sys(&st, &ns.name, system).steps[0];
            assert_eq!(step.phase, ActionPhase::Succeeded, "{system}: {step:?}");
            assert_eq!(step.token.as_deref(), Some(name.as_str()), "{system}");
        }
        drop(op);
    })
    .await;
}
