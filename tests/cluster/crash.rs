//! Crash safety of the operator (`lifeline run` as a subprocess) against the real local
//! control plane.
//!
//! - A Northern-Care-like plan of 13 systems is restored while the operator is killed
//!   with SIGKILL at six different points and started again each time. The run must end
//!   exactly as an uninterrupted one would: every step run once, every Job created once,
//!   every Deployment restarted or scaled once, no check skipped.
//! - Two operators with leader election: only the leader acts; when it is killed, the
//!   standby takes the Lease over and finishes the plan without repeating work.

use std::{
    collections::{BTreeMap, BTreeSet},
    time::{Duration, Instant},
};

use crate::support::{
    Operator, Recording, StubHttp, StubTcp, TestNamespace, clinical_system, create, ensure_crds,
    eventually, fake_deployment, object,
    plan_status::{
        Topology, assert_dependency_order, assert_each_step_once_and_checks_passed, check_attempts,
        find, phase, status, sys, sys_phase,
    },
    recovery_plan, steps, systems_named, wait_for, with_namespace,
};
use k8s_openapi::api::{
    apps::v1::Deployment, batch::v1::Job, coordination::v1::Lease, events::v1::Event,
};
use kube::{Api, ResourceExt, api::ListParams};
use lifeline::{
    api::v1alpha1::{ActionPhase, ClinicalSystem, PlanPhase, RecoveryPlan, SystemPhase},
    engine::names,
};
use serde_json::{Value, json};

/// How long the whole plan may take, restarts included.
const RUN: Duration = Duration::from_secs(90);
/// How long to wait for each crash point.
const POINT: Duration = Duration::from_secs(45);
/// A leader's Lease lasts 15 s and is renewed 5 s before it ends; a standby takes over
/// some time after it expires.
const TAKEOVER: Duration = Duration::from_secs(40);
/// The restart-token annotation a rolloutRestart step writes into the pod template.
const RESTART_ANNOTATION: &str = "lifeline.dev/restart-token";
/// The Lease the operators elect a leader with.
const LEASE: &str = "lifeline-operator";
const PLAN: &str = "northern-care";

/// Sets `verify.retryInterval` and `verify.deadline` on a ClinicalSystem manifest.
fn with_verify(mut system: Value, retry_interval: &str, deadline: &str) -> Value {
    system["spec"]["verify"]["retryInterval"] = json!(retry_interval);
    system["spec"]["verify"]["deadline"] = json!(deadline);
    system
}

/// Sets a system's tier.
fn tier(mut system: Value, tier: &str) -> Value {
    system["spec"]["tier"] = json!(tier);
    system
}

fn restart_token(d: &Deployment) -> Option<String> {
    d.spec
        .as_ref()
        .and_then(|s| s.template.metadata.as_ref())
        .and_then(|m| m.annotations.as_ref())
        .and_then(|a| a.get(RESTART_ANNOTATION))
        .cloned()
}

fn job_complete(job: &Job) -> bool {
    job.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c.type_ == "Complete" && c.status == "True")
        })
}

/// One line about where the plan stood, for the crash log.
fn summary(plan: &RecoveryPlan) -> String {
    let st = status(plan);
    let active: Vec<String> = st
        .systems
        .iter()
        .filter(|s| s.phase.is_active())
        .map(|s| {
            let name = s.name.rsplit('/').next().unwrap_or_default();
            format!("{name}={}", s.phase)
        })
        .collect();
    format!(
        "{} {} verified; active: {}",
        st.phase,
        st.progress.as_deref().unwrap_or("0/0"),
        active.join(", ")
    )
}

/// The Northern-Care-like estate: which Deployments a rolloutRestart or scale step
/// touches, and the stubs that http and tcp checks reach.
struct Estate {
    systems: Vec<Value>,
    /// Deployments at 1 replica that a rolloutRestart step restarts: (deployment,
    /// system, step).
    restarted: Vec<(&'static str, &'static str, &'static str)>,
    /// Deployments at 0 replicas that a scale step scales to 1.
    scaled: Vec<&'static str>,
    /// (system, step) of every job step.
    job_steps: Vec<(&'static str, &'static str)>,
    /// (system, check) of every job check.
    job_checks: Vec<(&'static str, &'static str)>,
    /// The paths of http checks on the stub.
    http_paths: Vec<&'static str>,
}

const TOPOLOGY: Topology<'static> = &[
    ("core-network", &[]),
    ("identity", &["core-network"]),
    ("integration-engine", &["identity"]),
    ("pas", &["identity", "integration-engine"]),
    ("epr", &["pas"]),
    ("lims", &["integration-engine"]),
    ("ris", &["integration-engine"]),
    ("pacs", &["ris"]),
    ("results-viewer", &["lims", "ris", "epr"]),
    ("pharmacy", &["pas"]),
    ("eprescribing", &["pharmacy", "epr"]),
    ("ed-tracking", &["identity", "pas"]),
    ("bed-management", &["pas"]),
];

fn estate(stub: &StubHttp, dns: &StubTcp, dicom: &StubTcp) -> Estate {
    use steps::*;
    let deps = |name: &str| -> Vec<&str> {
        TOPOLOGY
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, d)| d.to_vec())
            .unwrap_or_default()
    };
    let s = |name: &str, restore: Vec<Value>, checks: Vec<Value>| {
        clinical_system(name, &deps(name), restore, checks)
    };
    let systems = vec![
        tier(
            s(
                "core-network",
                vec![job("restore-config")],
                vec![tcp("dns", dns.port)],
            ),
            "mission-critical",
        ),
        tier(
            s(
                "identity",
                vec![restart("restart-directory", "directory")],
                vec![ready("directory", "directory"), job_check("login")],
            ),
            "mission-critical",
        ),
        s(
            "integration-engine",
            vec![job("replay-queue"), restart("restart-engine", "engine")],
            vec![
                ready("engine", "engine"),
                http("health", &stub.url("/engine")),
            ],
        ),
        s(
            "pas",
            vec![scale("scale-up", "pas", 1), job("reindex")],
            vec![ready("pas", "pas")],
        ),
        s(
            "epr",
            vec![job("integrity-check"), scale("scale-up", "epr", 1)],
            vec![job_check("open-record")],
        ),
        with_verify(
            s(
                "lims",
                vec![restart("restart", "lims")],
                vec![http("api", &stub.url("/lims"))],
            ),
            "1s",
            "2m",
        ),
        s(
            "ris",
            vec![scale("scale-up", "ris", 1)],
            vec![ready("ris", "ris")],
        ),
        s(
            "pacs",
            vec![job("restore-index"), restart("restart", "pacs")],
            vec![tcp("dicom", dicom.port)],
        ),
        s(
            "results-viewer",
            vec![restart("restart", "viewer")],
            vec![http("ui", &stub.url("/viewer")), job_check("journey")],
        ),
        s(
            "pharmacy",
            vec![job("restore-db"), scale("scale-up", "pharmacy", 1)],
            vec![ready("pharmacy", "pharmacy")],
        ),
        s(
            "eprescribing",
            vec![restart("restart", "eprescribing")],
            vec![job_check("prescribe")],
        ),
        s(
            "ed-tracking",
            vec![scale("scale-up", "ed", 1), job("sync-attendances")],
            vec![ready("ed", "ed"), http("board", &stub.url("/ed"))],
        ),
        tier(
            s(
                "bed-management",
                vec![job("rebuild-census")],
                vec![http("beds", &stub.url("/beds"))],
            ),
            "deferrable",
        ),
    ];
    Estate {
        systems,
        restarted: vec![
            ("directory", "identity", "restart-directory"),
            ("engine", "integration-engine", "restart-engine"),
            ("lims", "lims", "restart"),
            ("pacs", "pacs", "restart"),
            ("viewer", "results-viewer", "restart"),
            ("eprescribing", "eprescribing", "restart"),
        ],
        scaled: vec!["pas", "epr", "ris", "pharmacy", "ed"],
        job_steps: vec![
            ("core-network", "restore-config"),
            ("integration-engine", "replay-queue"),
            ("pas", "reindex"),
            ("epr", "integrity-check"),
            ("pacs", "restore-index"),
            ("pharmacy", "restore-db"),
            ("ed-tracking", "sync-attendances"),
            ("bed-management", "rebuild-census"),
        ],
        job_checks: vec![
            ("identity", "login"),
            ("epr", "open-record"),
            ("results-viewer", "journey"),
            ("eprescribing", "prescribe"),
        ],
        http_paths: vec!["/engine", "/lims", "/viewer", "/ed", "/beds"],
    }
}

/// Creates the estate's Deployments and ClinicalSystems; returns each Deployment's
/// generation as created.
async fn install(ns: &TestNamespace, estate: &Estate) -> BTreeMap<String, i64> {
    let mut generations = BTreeMap::new();
    let deployments = estate
        .restarted
        .iter()
        .map(|(d, _, _)| (*d, 1))
        .chain(estate.scaled.iter().map(|d| (*d, 0)));
    for (name, replicas) in deployments {
        let d = create(ns, &fake_deployment(name, replicas)).await;
        generations.insert(name.to_string(), d.metadata.generation.unwrap_or_default());
    }
    for s in &estate.systems {
        create::<ClinicalSystem>(ns, &object(s.clone())).await;
    }
    generations
}

/// Kills the operator with SIGKILL and starts it again, noting where the plan stood.
async fn crash(op: &mut Operator, plans: &Api<RecoveryPlan>, point: &str, log: &mut Vec<String>) {
    op.assert_running();
    op.kill();
    let at = crate::support::read_plan(plans, PLAN).await.map_or_else(
        |e| format!("(could not read the plan: {e})"),
        |p| summary(&p),
    );
    log.push(format!("killed {point}: {at}"));
    op.spawn();
}

/// The operator is killed at six points of a 13-system restore and restarted each time;
/// the run ends as an uninterrupted one would.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_at_six_points_repeats_and_skips_nothing() {
    with_namespace("crash-sigkill", |ns| async move {
        ensure_crds(&ns.client).await;
        let stub = StubHttp::start(200).await;
        stub.fail_first("/lims", 2);
        let dns = StubTcp::start().await;
        let dicom = StubTcp::start().await;
        let estate = estate(&stub, &dns, &dicom);
        let generations = install(&ns, &estate).await;
        let n = ns.name.clone();

        let plans = ns.api::<RecoveryPlan>();
        let jobs_api = ns.api::<Job>();
        let deployments = ns.api::<Deployment>();
        let plan_versions = crate::support::PlanRecording::start(plans.clone(), &n).await;
        let job_versions =
            Recording::start(jobs_api.clone(), Some(&format!("lifeline.dev/plan={PLAN}"))).await;
        let deployment_versions = Recording::start(deployments.clone(), None).await;

        let started = Instant::now();
        let mut op = Operator::start("operator", &n, &[]);
        let names: Vec<&str> = TOPOLOGY.iter().map(|(n, _)| *n).collect();
        let plan: RecoveryPlan = create(&ns, &object(recovery_plan(PLAN, &names))).await;
        let uid = plan.uid().expect("the plan has a uid");
        let mut kills = Vec::new();

        // 1. Right after the first Job is created (whatever its name).
        eventually("the first Job", POINT, || {
            let created = job_versions.versions().len();
            async move {
                if created > 0 {
                    Ok(())
                } else {
                    Err("no Job yet".to_string())
                }
            }
        })
        .await;
        crash(
            &mut op,
            &plans,
            "after the first Job was created",
            &mut kills,
        )
        .await;

        // 2. Right after a rollout-restart annotation appears.
        wait_for(&deployments, "directory", "restarted", POINT, |d| {
            restart_token(d).is_some()
        })
        .await;
        crash(
            &mut op,
            &plans,
            "after directory's restart annotation appeared",
            &mut kills,
        )
        .await;

        // 3. Right after the status write that records a step as started, which comes
        //    before the step's Job is created.
        wait_for(
            &plans,
            PLAN,
            "replay-queue recorded as started",
            POINT,
            |p| {
                status(p)
                    .systems
                    .iter()
                    .find(|s| s.name == format!("{n}/integration-engine"))
                    .and_then(|s| s.steps.first())
                    .is_some_and(|st| st.phase != ActionPhase::Pending)
            },
        )
        .await;
        let job = names::step_job(PLAN, &uid, "integration-engine", "replay-queue", 1);
        op.kill();
        let existed = jobs_api.get_opt(&job).await.expect("read Job").is_some();
        op.spawn();
        kills.push(format!(
            "killed right after the status write that started integration-engine/replay-queue \
             (its Job {} at the kill)",
            if existed {
                "already existed"
            } else {
                "did not exist yet"
            }
        ));

        // 4. Mid-verification: lims's http check has failed once (it fails twice, a
        //    second apart, then passes). Each condition below also holds at any later
        //    point, so a slow step cannot make the test miss its crash point.
        wait_for(&plans, PLAN, "lims's check failing", POINT, |p| {
            check_attempts(p, &n, "lims", "api") >= 1
        })
        .await;
        crash(
            &mut op,
            &plans,
            "while lims's check was being retried",
            &mut kills,
        )
        .await;

        // 5. After five systems are verified.
        wait_for(&plans, PLAN, "5 systems verified", POINT, |p| {
            status(p)
                .systems
                .iter()
                .filter(|s| s.phase.is_verified())
                .count()
                >= 5
        })
        .await;
        crash(&mut op, &plans, "after 5 systems were verified", &mut kills).await;

        // 6. While results-viewer is verifying (its job check).
        wait_for(&plans, PLAN, "results-viewer verifying", POINT, |p| {
            matches!(
                sys_phase(p, &n, "results-viewer"),
                SystemPhase::Verifying | SystemPhase::Verified
            )
        })
        .await;
        crash(
            &mut op,
            &plans,
            "while results-viewer was verifying",
            &mut kills,
        )
        .await;

        let done = wait_for(&plans, PLAN, "Succeeded", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        op.assert_running();
        println!(
            "crash test: plan Succeeded {:.1?} after it was created, with {} kills:\n  {}",
            started.elapsed(),
            kills.len(),
            kills.join("\n  ")
        );
        let st = status(&done);
        assert_eq!(st.progress.as_deref(), Some("13/13"), "{st:#?}");

        // No step repeated or skipped; every check ran and passed; order kept throughout.
        assert_each_step_once_and_checks_passed(&st);
        assert_dependency_order(&n, TOPOLOGY, &plan_versions.versions(), &st);
        for (name, _) in TOPOLOGY {
            let s = sys(&st, &n, name);
            assert_eq!(s.phase, SystemPhase::Verified, "{s:#?}");
            for c in &s.checks {
                assert!(c.finished_at.is_some(), "{name} check {}: {c:#?}", c.name);
            }
        }

        // Every Job created exactly once: the expected names, one uid each over the whole
        // run, none deleted, all complete.
        let expected: BTreeSet<String> = estate
            .job_steps
            .iter()
            .map(|(s, step)| names::step_job(PLAN, &uid, s, step, 1))
            .chain(
                estate
                    .job_checks
                    .iter()
                    .map(|(s, c)| names::check_job(PLAN, &uid, s, c, 1)),
            )
            .collect();
        assert_eq!(expected.len(), 12);
        let mut uids: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        for j in job_versions.versions() {
            uids.entry(j.name_any())
                .or_default()
                .insert(j.uid().unwrap_or_default());
        }
        for (name, u) in &uids {
            assert_eq!(u.len(), 1, "Job {name} was created {} times", u.len());
        }
        assert!(
            job_versions.deleted().is_empty(),
            "Jobs deleted during the run: {:?}",
            job_versions
                .deleted()
                .iter()
                .map(|j| j.name_any())
                .collect::<Vec<_>>()
        );
        let jobs = jobs_api
            .list(&ListParams::default())
            .await
            .expect("list Jobs");
        let listed: BTreeSet<String> = jobs.items.iter().map(|j| j.name_any()).collect();
        let mut per_system: BTreeMap<String, usize> = BTreeMap::new();
        for j in &jobs.items {
            let system = j
                .labels()
                .get("lifeline.dev/system")
                .cloned()
                .unwrap_or_default();
            *per_system.entry(system).or_default() += 1;
        }
        let mut wanted: BTreeMap<String, usize> = BTreeMap::new();
        for (system, _) in estate.job_steps.iter().chain(&estate.job_checks) {
            *wanted.entry(system.to_string()).or_default() += 1;
        }
        assert_eq!(
            per_system, wanted,
            "Jobs per system (one per job step and job check): {listed:#?}"
        );
        assert_eq!(listed, expected, "the Jobs in the namespace");
        assert_eq!(
            uids.keys().cloned().collect::<BTreeSet<_>>(),
            expected,
            "the Jobs ever seen"
        );
        for j in &jobs.items {
            assert!(job_complete(j), "Job {} is not complete", j.name_any());
            let first_seen = uids[&j.name_any()].iter().next().cloned();
            assert_eq!(j.uid(), first_seen, "Job {} was replaced", j.name_any());
            assert_eq!(
                j.owner_references().first().map(|o| o.uid.as_str()),
                Some(uid.as_str())
            );
        }
        for (system, step) in &estate.job_steps {
            let s = sys(&st, &n, system);
            let step_status = s.steps.iter().find(|x| x.name == *step).expect("step");
            assert_eq!(
                step_status.token.as_deref(),
                Some(names::step_job(PLAN, &uid, system, step, 1).as_str())
            );
        }

        // Each Deployment restarted (or scaled) exactly once: one token ever written, one
        // generation more than at creation.
        let seen = deployment_versions.versions();
        for (deployment, system, step) in &estate.restarted {
            let token = names::restart_token(&uid, system, step, 1);
            let tokens: BTreeSet<String> = seen
                .iter()
                .filter(|d| d.name_any() == *deployment)
                .filter_map(restart_token)
                .collect();
            assert_eq!(
                tokens,
                BTreeSet::from([token.clone()]),
                "restart tokens written to {deployment}"
            );
            let d = deployments.get(deployment).await.expect("get Deployment");
            assert_eq!(
                d.metadata.generation,
                Some(generations[*deployment] + 1),
                "{deployment} was restarted exactly once"
            );
            let recorded = sys(&st, &n, system)
                .steps
                .iter()
                .find(|x| x.name == *step)
                .and_then(|x| x.token.clone());
            assert_eq!(recorded, Some(token), "{system}/{step} token");
        }
        for deployment in &estate.scaled {
            let d = deployments.get(deployment).await.expect("get Deployment");
            assert_eq!(
                (
                    d.metadata.generation,
                    d.spec.as_ref().and_then(|s| s.replicas)
                ),
                (Some(generations[*deployment] + 1), Some(1)),
                "{deployment} was scaled exactly once"
            );
        }

        // Events: a crash may lose the Event of a transition written just before it (the
        // status write comes first), but must never report a transition twice.
        let events = eventually("the PlanSucceeded Event", POINT, || {
            let ns = &ns;
            async move {
                let events = plan_events(ns, PLAN).await;
                if events
                    .iter()
                    .any(|e| e.reason.as_deref() == Some("PlanSucceeded"))
                {
                    Ok(events)
                } else {
                    Err("no PlanSucceeded Event yet".to_string())
                }
            }
        })
        .await;
        let mut reported: BTreeMap<(String, String), i32> = BTreeMap::new();
        for e in events {
            let reason = e.reason.clone().unwrap_or_default();
            let note = e.note.clone().unwrap_or_default();
            let subjects = match reason.as_str() {
                "RestoreStarted" | "SystemVerified" | "SystemFailed" | "SystemBlocked" => {
                    systems_named(&note)
                }
                _ => vec![String::new()],
            };
            for subject in subjects {
                *reported.entry((reason.clone(), subject)).or_default() +=
                    e.series.as_ref().map_or(1, |s| s.count);
            }
        }
        let repeated: Vec<_> = reported.iter().filter(|(_, c)| **c > 1).collect();
        assert!(
            repeated.is_empty(),
            "transitions reported more than once: {repeated:#?}"
        );
        let mut lost = Vec::new();
        for (name, _) in TOPOLOGY {
            for reason in ["RestoreStarted", "SystemVerified"] {
                if !reported.contains_key(&(reason.to_string(), format!("{n}/{name}"))) {
                    lost.push(format!("{reason} {name}"));
                }
            }
        }
        println!("crash test: Events lost to the kills: {lost:?}");

        // Checks outside the cluster were really made: each http path answered 200 and
        // each tcp listener accepted; lims's first two failed.
        for path in &estate.http_paths {
            assert!(
                stub.count(path, 200) >= 1,
                "no successful request to {path}: {:?}",
                stub.answered()
            );
        }
        assert_eq!(stub.count("/lims", 500), 2, "{:?}", stub.answered());
        assert!(dns.accepted() >= 1 && dicom.accepted() >= 1);
        // A kill can fall between a request and the status write that records it, so
        // status may count fewer attempts than were made, never more.
        let lims = &sys(&st, &n, "lims").checks[0];
        let requests = stub.count("/lims", 500) + stub.count("/lims", 200);
        assert!(
            lims.attempts >= 1 && lims.attempts as usize <= requests,
            "lims's check: {} attempts recorded, {requests} requests made",
            lims.attempts
        );
    })
    .await;
}

/// The Events about `plan`.
async fn plan_events(ns: &TestNamespace, plan: &str) -> Vec<Event> {
    let events: Api<Event> = ns.api();
    let list = events
        .list(&ListParams::default())
        .await
        .expect("list Events");
    list.items
        .into_iter()
        .filter(|e| {
            e.regarding.as_ref().is_some_and(|r| {
                r.kind.as_deref() == Some("RecoveryPlan") && r.name.as_deref() == Some(plan)
            })
        })
        .collect()
}

/// (reason, note, reporting instance) of each Event about `plan`.
async fn plan_event_lines(ns: &TestNamespace, plan: &str) -> Vec<(String, String, String)> {
    plan_events(ns, plan)
        .await
        .into_iter()
        .map(|e| {
            (
                e.reason.unwrap_or_default(),
                e.note.unwrap_or_default(),
                e.reporting_instance.unwrap_or_default(),
            )
        })
        .collect()
}

/// Whether the operator's log says it was elected (not merely waiting to be).
fn elected(op: &Operator) -> bool {
    op.log()
        .lines()
        .any(|l| l.contains("elected leader") && !l.contains("waiting to be elected leader"))
}

/// Two operators with leader election: only the leader acts; killed mid-restore, the
/// standby takes over and finishes without repeating work.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standby_takes_over_when_the_leader_is_killed() {
    with_namespace("crash-leader", |ns| async move {
        ensure_crds(&ns.client).await;
        let stub = StubHttp::start(200).await;
        stub.fail_first("/gate", u32::MAX);
        let n = ns.name.clone();
        let topology: Topology<'_> = &[
            ("quick-a", &[]),
            ("quick-b", &[]),
            ("gate", &[]),
            ("after-1", &["gate"]),
            ("after-2", &["after-1"]),
            ("after-3", &["after-2", "quick-b"]),
        ];
        let systems = [
            clinical_system(
                "quick-a",
                &[],
                vec![steps::scale("scale-up", "quick-a", 1)],
                vec![steps::ready("ready", "quick-a")],
            ),
            clinical_system(
                "quick-b",
                &[],
                vec![steps::job("restore")],
                vec![steps::job_check("smoke")],
            ),
            with_verify(
                clinical_system(
                    "gate",
                    &[],
                    vec![steps::scale("scale-up", "gate", 1)],
                    vec![steps::http("api", &stub.url("/gate"))],
                ),
                "1s",
                "5m",
            ),
            clinical_system(
                "after-1",
                &["gate"],
                vec![steps::job("migrate")],
                vec![steps::job_check("journey")],
            ),
            clinical_system(
                "after-2",
                &["after-1"],
                vec![steps::restart("restart", "app-2")],
                vec![steps::ready("ready", "app-2")],
            ),
            clinical_system(
                "after-3",
                &["after-2", "quick-b"],
                vec![steps::scale("scale-up", "app-3", 1)],
                vec![steps::ready("ready", "app-3")],
            ),
        ];
        for (name, replicas) in [("quick-a", 0), ("gate", 0), ("app-2", 1), ("app-3", 0)] {
            create(&ns, &fake_deployment(name, replicas)).await;
        }
        for s in &systems {
            create::<ClinicalSystem>(&ns, &object(s.clone())).await;
        }

        let args = |id: &'static str| {
            [
                "--leader-elect",
                "--lease-namespace",
                n.as_str(),
                "--identity",
                id,
            ]
        };
        let mut ops = vec![
            Operator::start("a", &n, &args("a")),
            Operator::start("b", &n, &args("b")),
        ];
        let leases: Api<Lease> = ns.api();
        let lease = wait_for(&leases, LEASE, "held", Duration::from_secs(30), |l| {
            l.spec.as_ref().and_then(|s| s.holder_identity.as_ref()).is_some()
        })
        .await;
        let leader_id = lease
            .spec
            .and_then(|s| s.holder_identity)
            .expect("a holder");
        let leader = ops
            .iter()
            .position(|o| o.label == leader_id)
            .unwrap_or_else(|| panic!("the Lease is held by {leader_id:?}, neither a nor b"));
        let standby = 1 - leader;
        let standby_id = ops[standby].label.clone();

        let plans = ns.api::<RecoveryPlan>();
        let names: Vec<&str> = topology.iter().map(|(n, _)| *n).collect();
        create::<RecoveryPlan>(&ns, &object(recovery_plan("restore", &names))).await;
        wait_for(&plans, "restore", "quick-a and quick-b verified, gate failing", POINT, |p| {
            sys_phase(p, &n, "quick-a") == SystemPhase::Verified
                && sys_phase(p, &n, "quick-b") == SystemPhase::Verified
                && check_attempts(p, &n, "gate", "api") >= 2
        })
        .await;
        for op in &mut ops {
            op.assert_running();
        }

        // Only the leader acts: every Event so far is its, and the standby has not been
        // elected nor started a step.
        let before = plan_event_lines(&ns, "restore").await;
        assert!(
            before.iter().any(|(reason, _, _)| reason == "SystemVerified"),
            "{before:#?}"
        );
        for (reason, note, instance) in &before {
            assert_eq!(instance, &leader_id, "{reason} {note} was reported by {instance}");
        }
        assert!(elected(&ops[leader]), "the leader's log says it was elected");
        let standby_log = ops[standby].log();
        assert!(
            standby_log.contains("waiting to be elected leader")
                && !elected(&ops[standby])
                && !standby_log.contains("restore step started"),
            "the standby only waits:\n{standby_log}"
        );

        // Kill the leader mid-restore (no Lease release), and let gate pass.
        let killed = Instant::now();
        ops[leader].kill();
        stub.fail_first("/gate", 0);
        wait_for(&leases, LEASE, "taken over by the standby", TAKEOVER, |l| {
            l.spec.as_ref().and_then(|s| s.holder_identity.as_deref()) == Some(standby_id.as_str())
        })
        .await;
        let takeover = killed.elapsed();
        let done = wait_for(&plans, "restore", "Succeeded", RUN, |p| {
            phase(p) == PlanPhase::Succeeded
        })
        .await;
        let finished = killed.elapsed();
        ops[standby].assert_running();
        println!(
            "leader election: {leader_id} killed; {standby_id} holds the Lease after {takeover:.1?} and finished the plan {finished:.1?} after the kill"
        );
        assert!(elected(&ops[standby]), "the standby's log says it was elected");

        let st = status(&done);
        assert_each_step_once_and_checks_passed(&st);
        let gate = sys(&st, &n, "gate");
        assert!(
            gate.verified_at.is_some()
                && find(&st, &n, "after-3").is_some_and(|s| s.phase == SystemPhase::Verified),
            "{st:#?}"
        );

        // The standby finished what the leader left: it reported the rest, and nothing
        // the leader had already reported.
        // (The Events follow the status write that shows them: wait for them.)
        let standby_events = eventually("the standby's Events", POINT, || {
            let (ns, n, standby_id) = (&ns, &n, &standby_id);
            async move {
                let mine: Vec<(String, String, String)> = plan_event_lines(ns, "restore")
                    .await
                    .into_iter()
                    .filter(|(_, _, i)| i == standby_id)
                    .collect();
                for system in ["gate", "after-1", "after-2", "after-3"] {
                    let key = format!("{n}/{system}");
                    if !mine.iter().any(|(r, note, _)| {
                        r == "SystemVerified" && systems_named(note).contains(&key)
                    })
                    {
                        return Err(format!("no SystemVerified for {key} from {standby_id}: {mine:#?}"));
                    }
                }
                if !mine.iter().any(|(r, _, _)| r == "PlanSucceeded") {
                    return Err(format!("no PlanSucceeded from {standby_id}: {mine:#?}"));
                }
                Ok(mine)
            }
        })
        .await;
        for (reason, note, _) in &standby_events {
            assert!(
                !before.iter().any(|(r, n, _)| r == reason && n == note),
                "{standby_id} repeated the leader's {reason}: {note}"
            );
        }
        let jobs = ns
            .api::<Job>()
            .list(&ListParams::default())
            .await
            .expect("list Jobs");
        let listed: BTreeSet<String> = jobs.items.iter().map(|j| j.name_any()).collect();
        let uid = ns
            .api::<RecoveryPlan>()
            .get("restore")
            .await
            .expect("the plan")
            .uid()
            .expect("a uid");
        let expected: BTreeSet<String> = [
            names::step_job("restore", &uid, "quick-b", "restore", 1),
            names::check_job("restore", &uid, "quick-b", "smoke", 1),
            names::step_job("restore", &uid, "after-1", "migrate", 1),
            names::check_job("restore", &uid, "after-1", "journey", 1),
        ]
        .into();
        assert_eq!(listed, expected);
        let app2 = ns
            .api::<Deployment>()
            .get("app-2")
            .await
            .expect("get app-2");
        assert_eq!(app2.metadata.generation, Some(2), "app-2 restarted once");
    })
    .await;
}
