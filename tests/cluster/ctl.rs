//! The client-side commands (`lifeline::cli::{status, control}`): `status`, `retry`,
//! `pause`, `resume` and `abort` against the real local control plane, on plans whose
//! status the test writes as admin (no operator runs here, so nothing else touches them).
//! The status table rendered from hand-built plans (no cluster) is in the `pure` binary
//! (`tests/pure/status_table.rs`).

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::support::{TestNamespace, ensure_crds, object, with_namespace};
use crate::table::{at, cell, row, table_rows};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use lifeline::{
    api::v1alpha1::{PlanPhase, RETRY_ANNOTATION_PREFIX, RecoveryPlan, SystemPhase},
    cli::{
        control,
        error::CtlError,
        status::{self, StatusOutput},
    },
};
use serde_json::{Value, json};

/// How long a test waits for the API server to show a change.
const SETTLE: Duration = Duration::from_secs(30);

const PLAN: &str = "major-incident";

/// A status with `lims` Failed and `results-viewer` Blocked on it, in `ns`.
fn failed_status(ns: &str) -> Value {
    json!({
        "phase": "Failed",
        "progress": "0/2",
        "startedAt": at(0),
        "finishedAt": at(9),
        "systems": [
            {
                "name": format!("{ns}/lims"), "tier": "critical", "phase": "Failed",
                "message": "step restore-db failed: job restore-db failed",
                "failedAt": at(9), "objectiveSeconds": 1800,
                "steps": [{ "name": "restore-db", "phase": "Failed", "attempts": 1 }]
            },
            {
                "name": format!("{ns}/results-viewer"), "tier": "critical", "phase": "Blocked",
                "blockedBy": format!("{ns}/lims"), "objectiveSeconds": 2700
            }
        ]
    })
}

/// Creates the plan and, when `status` is not null, writes it through the status
/// subresource as admin.
async fn create_plan(ns: &TestNamespace, status: Value) -> Api<RecoveryPlan> {
    let api: Api<RecoveryPlan> = ns.api();
    let plan: RecoveryPlan = object(json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "RecoveryPlan",
        "metadata": { "name": PLAN },
        "spec": { "systems": { "names": ["lims", "results-viewer"] } }
    }));
    api.create(&PostParams::default(), &plan)
        .await
        .unwrap_or_else(|e| panic!("create plan: {e}"));
    if !status.is_null() {
        set_status(&api, status).await;
    }
    api
}

async fn set_status(api: &Api<RecoveryPlan>, status: Value) {
    crate::support::write_status(api, PLAN, status).await;
}

async fn get(api: &Api<RecoveryPlan>) -> RecoveryPlan {
    crate::support::read_plan(api, PLAN)
        .await
        .unwrap_or_else(|e| panic!("get plan: {e}"))
}

fn retry_annotations(plan: &RecoveryPlan) -> Vec<(String, String)> {
    plan.annotations()
        .iter()
        .filter(|(k, _)| k.starts_with(RETRY_ANNOTATION_PREFIX))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect()
}

#[tokio::test]
async fn retry_annotates_the_plan_for_a_failed_system() {
    with_namespace("ctl-retry", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let api = create_plan(&ns, failed_status(&ns.name)).await;

        let token = control::retry(ns.client.clone(), &ns.name, PLAN, "lims")
            .await
            .unwrap_or_else(|e| panic!("retry lims: {e}"));
        let plan = get(&api).await;
        assert_eq!(
            retry_annotations(&plan),
            [(format!("{RETRY_ANNOTATION_PREFIX}lims"), token.clone())]
        );

        // Again, by namespace/name: a new token, so the operator retries once more.
        let again = control::retry(
            ns.client.clone(),
            &ns.name,
            PLAN,
            &format!("{}/lims", ns.name),
        )
        .await
        .unwrap_or_else(|e| panic!("retry {}/lims: {e}", ns.name));
        assert_ne!(again, token);
        let plan = get(&api).await;
        assert_eq!(
            retry_annotations(&plan),
            [(format!("{RETRY_ANNOTATION_PREFIX}lims"), again)]
        );
        // The spec and the status are untouched.
        assert!(!plan.spec.paused && !plan.spec.abort);
        assert_eq!(plan.status.map(|s| s.phase), Some(PlanPhase::Failed));
    })
    .await;
}

#[tokio::test]
async fn retry_refuses_what_cannot_be_retried() {
    with_namespace("ctl-retry-refused", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let plan_name = format!("{}/{PLAN}", ns.name);

        let err = control::retry(ns.client.clone(), &ns.name, PLAN, "lims")
            .await
            .expect_err("no plan yet");
        assert!(matches!(err, CtlError::PlanNotFound { .. }), "{err:?}");
        assert_eq!(
            err.to_string(),
            format!(
                "recoveryplan {plan_name} not found in namespace {}",
                ns.name
            )
        );

        let api = create_plan(&ns, Value::Null).await;
        let err = control::retry(ns.client.clone(), &ns.name, PLAN, "lims")
            .await
            .expect_err("no status yet");
        assert!(
            err.to_string().contains("lims is not in this plan"),
            "{err}"
        );

        set_status(&api, failed_status(&ns.name)).await;
        let err = control::retry(ns.client.clone(), &ns.name, PLAN, "results-viewer")
            .await
            .expect_err("a blocked system");
        assert!(
            matches!(
                err,
                CtlError::NotFailed {
                    phase: SystemPhase::Blocked,
                    ..
                }
            ),
            "{err:?}"
        );
        assert_eq!(
            err.to_string(),
            format!(
                "recoveryplan {plan_name}: results-viewer is Blocked, not Failed: only a failed \
                 system can be retried"
            )
        );

        let err = control::retry(ns.client.clone(), &ns.name, PLAN, "pas")
            .await
            .expect_err("not in the plan");
        assert_eq!(
            err.to_string(),
            format!(
                "recoveryplan {plan_name}: pas is not in this plan (its systems: lims, \
                 results-viewer)"
            )
        );
        let err = control::retry(ns.client.clone(), &ns.name, PLAN, "elsewhere/lims")
            .await
            .expect_err("same name, other namespace");
        assert!(matches!(err, CtlError::UnknownSystem { .. }), "{err:?}");

        // An aborted plan is final.
        let params = PatchParams::default();
        api.patch(
            PLAN,
            &params,
            &Patch::Merge(json!({ "spec": { "abort": true } })),
        )
        .await
        .unwrap_or_else(|e| panic!("set abort: {e}"));
        let err = control::retry(ns.client.clone(), &ns.name, PLAN, "lims")
            .await
            .expect_err("aborted");
        assert!(matches!(err, CtlError::Aborted { .. }), "{err:?}");

        let annotations = retry_annotations(&get(&api).await);
        assert!(annotations.is_empty(), "{annotations:?}");
    })
    .await;
}

#[tokio::test]
async fn pause_resume_and_abort_set_the_spec() {
    with_namespace("ctl-pause", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let err = control::pause(ns.client.clone(), &ns.name, PLAN)
            .await
            .expect_err("no plan yet");
        assert!(matches!(err, CtlError::PlanNotFound { .. }), "{err:?}");

        let api = create_plan(&ns, json!({ "phase": "Running", "startedAt": at(0) })).await;
        let spec = |p: &RecoveryPlan| (p.spec.paused, p.spec.abort);

        control::pause(ns.client.clone(), &ns.name, PLAN)
            .await
            .unwrap_or_else(|e| panic!("pause: {e}"));
        assert_eq!(spec(&get(&api).await), (true, false));
        // Idempotent.
        control::pause(ns.client.clone(), &ns.name, PLAN)
            .await
            .unwrap_or_else(|e| panic!("pause again: {e}"));
        assert_eq!(spec(&get(&api).await), (true, false));

        control::resume(ns.client.clone(), &ns.name, PLAN)
            .await
            .unwrap_or_else(|e| panic!("resume: {e}"));
        assert_eq!(spec(&get(&api).await), (false, false));

        control::abort(ns.client.clone(), &ns.name, PLAN)
            .await
            .unwrap_or_else(|e| panic!("abort: {e}"));
        let plan = get(&api).await;
        assert_eq!(spec(&plan), (false, true));
        // Written by the CLI's field manager.
        let managers: Vec<_> = plan
            .managed_fields()
            .iter()
            .filter_map(|m| m.manager.clone())
            .collect();
        assert!(
            managers.iter().any(|m| m == control::FIELD_MANAGER),
            "{managers:?}"
        );
    })
    .await;
}

#[tokio::test]
async fn abort_refuses_a_finished_plan() {
    with_namespace("ctl-abort-finished", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let api = create_plan(
            &ns,
            json!({ "phase": "Succeeded", "startedAt": at(0), "finishedAt": at(30) }),
        )
        .await;
        let err = control::abort(ns.client.clone(), &ns.name, PLAN)
            .await
            .expect_err("finished");
        assert_eq!(
            err.to_string(),
            format!(
                "recoveryplan {}/{PLAN} has already finished (Succeeded): there is nothing to \
                 abort",
                ns.name
            )
        );
        assert!(!get(&api).await.spec.abort);
    })
    .await;
}

#[tokio::test]
async fn status_prints_a_table_or_the_status_as_json() {
    with_namespace("ctl-status", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let mut out = Vec::new();
        let err = status::status(
            ns.client.clone(),
            &ns.name,
            PLAN,
            false,
            StatusOutput::Table,
            &mut out,
        )
        .await
        .expect_err("no plan yet");
        assert!(matches!(err, CtlError::PlanNotFound { .. }), "{err:?}");
        assert!(out.is_empty());

        let api = create_plan(&ns, failed_status(&ns.name)).await;
        status::status(
            ns.client.clone(),
            &ns.name,
            PLAN,
            false,
            StatusOutput::Table,
            &mut out,
        )
        .await
        .unwrap_or_else(|e| panic!("status: {e}"));
        let table = String::from_utf8(out).expect("UTF-8");
        assert!(
            table.starts_with(&format!(
                "recoveryplan {}/{PLAN}: Failed, 0/2 verified, no stage released yet, elapsed 9m\n",
                ns.name
            )),
            "{table}"
        );
        let rows = table_rows(&table);
        assert_eq!(cell(row(&rows, "lims"), "PHASE"), "Failed");
        assert_eq!(
            cell(row(&rows, "results-viewer"), "MESSAGE"),
            format!("blocked by {}/lims", ns.name)
        );

        let mut out = Vec::new();
        status::status(
            ns.client.clone(),
            &ns.name,
            PLAN,
            false,
            StatusOutput::Json,
            &mut out,
        )
        .await
        .unwrap_or_else(|e| panic!("status -o json: {e}"));
        let printed: Value = serde_json::from_slice(&out).expect("JSON");
        // The plan's status with its systems' progress, as stored (in the plan and its
        // RecoveryProgress objects).
        let stored =
            lifeline::cli::status::status_json(&get(&api).await.status.unwrap_or_default());
        assert_eq!(printed, stored);
        assert_eq!(printed["systems"][0]["phase"], "Failed");
    })
    .await;
}

/// An output that many tasks can read while `status --watch` writes to it; each flush
/// (one per rendering) wakes [`SharedOut::wait_until`].
#[derive(Clone, Default)]
struct SharedOut {
    buf: Arc<Mutex<Vec<u8>>>,
    flushed: Arc<tokio::sync::Notify>,
}

impl SharedOut {
    fn text(&self) -> String {
        let buf = self.buf.lock().map(|b| b.clone()).unwrap_or_default();
        String::from_utf8_lossy(&buf).into_owned()
    }

    /// Waits until what was written satisfies `cond`.
    async fn wait_until(&self, cond: impl Fn(&str) -> bool) {
        loop {
            let flushed = self.flushed.notified();
            if cond(&self.text()) {
                return;
            }
            flushed.await;
        }
    }
}

impl Write for SharedOut {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf
            .lock()
            .map_err(|_| std::io::Error::other("poisoned"))?
            .extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.flushed.notify_waiters();
        Ok(())
    }
}

#[tokio::test]
async fn status_watch_redraws_on_change_and_stops_when_the_plan_finishes() {
    with_namespace("ctl-watch", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let mut running = failed_status(&ns.name);
        running["phase"] = json!("Running");
        running["finishedAt"] = Value::Null;
        running["systems"][0]["phase"] = json!("Restoring");
        running["systems"][1]["phase"] = json!("Waiting");
        let api = create_plan(&ns, running).await;

        let out = SharedOut::default();
        let mut writer = out.clone();
        let watch = status::status(
            ns.client.clone(),
            &ns.name,
            PLAN,
            true,
            StatusOutput::Table,
            &mut writer,
        );
        let drive = async {
            out.wait_until(|t| t.contains(": Running, 0/2 verified"))
                .await;
            set_status(
                &api,
                json!({ "progress": "1/2", "systems": [
                    {
                        "name": format!("{}/lims", ns.name), "phase": "Verified",
                        "verifiedAt": at(20), "recoverySeconds": 1200,
                        "objectiveSeconds": 1800
                    },
                    { "name": format!("{}/results-viewer", ns.name), "phase": "Restoring" }
                ]}),
            )
            .await;
            out.wait_until(|t| t.contains(": Running, 1/2 verified"))
                .await;
            set_status(
                &api,
                json!({ "phase": "Succeeded", "progress": "2/2", "finishedAt": at(40) }),
            )
            .await;
        };
        let Ok((result, ())) =
            tokio::time::timeout(SETTLE, async { tokio::join!(watch, drive) }).await
        else {
            // Whether the status changes reached the API server, beside what was drawn.
            panic!(
                "status --watch did not stop within {SETTLE:?}; it printed:\n{}\nthe plan now:\n{}",
                out.text(),
                crate::support::describe(&api, PLAN).await
            )
        };
        result.unwrap_or_else(|e| panic!("status --watch: {e}"));
        let text = out.text();
        let renders: Vec<&str> = text
            .split("recoveryplan ")
            .filter(|r| !r.is_empty())
            .collect();
        let last = renders.last().copied().unwrap_or_default();
        assert!(
            last.starts_with(&format!("{}/{PLAN}: Succeeded, 2/2 verified", ns.name)),
            "the last table shows the final state:\n{text}"
        );
        assert!(
            renders.len() >= 3,
            "a table per change (running, one verified, succeeded):\n{text}"
        );
        let rows = table_rows(&format!("recoveryplan {last}"));
        assert_eq!(cell(row(&rows, "lims"), "ELAPSED/OBJECTIVE"), "20m/30m");
    })
    .await;
}

#[tokio::test]
async fn status_watch_fails_when_the_plan_is_deleted() {
    with_namespace("ctl-watch-deleted", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let api = create_plan(&ns, json!({ "phase": "Running", "startedAt": at(0) })).await;
        let out = SharedOut::default();
        let mut writer = out.clone();
        let watch = status::status(
            ns.client.clone(),
            &ns.name,
            PLAN,
            true,
            StatusOutput::Json,
            &mut writer,
        );
        let drive = async {
            out.wait_until(|t| t.contains("\"Running\"")).await;
            api.delete(PLAN, &Default::default())
                .await
                .unwrap_or_else(|e| panic!("delete plan: {e}"));
        };
        let (result, ()) = tokio::time::timeout(SETTLE, async { tokio::join!(watch, drive) })
            .await
            .unwrap_or_else(|_| panic!("status --watch did not notice the deletion"));
        let err = result.expect_err("deleted");
        assert_eq!(
            err.to_string(),
            format!("recoveryplan {}/{PLAN} was deleted", ns.name)
        );
    })
    .await;
}

#[tokio::test]
async fn a_wrong_plan_name_or_namespace_says_which_and_what_there_is() {
    with_namespace("ctl-not-found", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        create_plan(&ns, Value::Null).await;
        let stderr = |out: &std::process::Output| String::from_utf8_lossy(&out.stderr).to_string();

        let out = crate::support::lifeline(&["status", "major-incidnt", "-n", &ns.name]).await;
        assert!(!out.status.success());
        let err = stderr(&out);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains(&format!(
                "recoveryplan {}/major-incidnt not found in namespace {}; did you mean {PLAN}?",
                ns.name, ns.name
            )),
            "{err}"
        );

        let missing = format!("{}-nowhere", ns.name);
        let out = crate::support::lifeline(&["retry", PLAN, "lims", "-n", &missing]).await;
        assert!(!out.status.success());
        let err = stderr(&out);
        assert!(
            err.contains(&format!("namespace {missing} does not exist")),
            "{err}"
        );
    })
    .await;
}

#[tokio::test]
async fn list_and_status_print_as_kubectl_get_does() {
    with_namespace("ctl-list", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        create_plan(&ns, failed_status(&ns.name)).await;
        let run = |args: Vec<String>| async move {
            let args: Vec<&str> = args.iter().map(String::as_str).collect();
            let out = crate::support::lifeline(&args).await;
            assert!(
                out.status.success(),
                "{args:?}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            String::from_utf8_lossy(&out.stdout).to_string()
        };
        let n = ns.name.clone();
        let table = run(vec!["list".into(), "-n".into(), n.clone()]).await;
        let mut lines = table.lines();
        let header = lines.next().unwrap_or_default();
        assert!(
            header.starts_with("NAME") && header.contains("PHASE"),
            "{table}"
        );
        assert!(
            lines.any(|l| l.starts_with(PLAN) && l.contains("Failed") && l.contains("0/2")),
            "{table}"
        );
        let all = run(vec!["list".into(), "-A".into()]).await;
        assert!(all.starts_with("NAMESPACE"), "{all}");
        assert!(
            all.lines()
                .any(|l| l.starts_with(&format!("{n} ")) && l.contains(PLAN)),
            "{all}"
        );
        let names = run(vec![
            "list".into(),
            "-n".into(),
            n.clone(),
            "-o".into(),
            "name".into(),
        ])
        .await;
        assert_eq!(names, format!("recoveryplan.lifeline.dev/{PLAN}\n"));
        let json: Value = serde_json::from_str(
            &run(vec![
                "list".into(),
                "-n".into(),
                n.clone(),
                "-o".into(),
                "json".into(),
            ])
            .await,
        )
        .expect("JSON");
        assert_eq!(json["kind"], "List");
        assert_eq!(json["items"][0]["metadata"]["name"], PLAN);
        let yaml = run(vec![
            "status".into(),
            PLAN.into(),
            "-n".into(),
            n.clone(),
            "-o".into(),
            "yaml".into(),
        ])
        .await;
        let status: Value = serde_yaml::from_str(&yaml).expect("YAML");
        assert_eq!(status["phase"], "Failed", "{yaml}");
        let name = run(vec![
            "status".into(),
            PLAN.into(),
            "-n".into(),
            n.clone(),
            "-o".into(),
            "name".into(),
        ])
        .await;
        assert_eq!(name, format!("recoveryplan.lifeline.dev/{PLAN}\n"));
        let drills = run(vec!["drill".into(), "list".into(), "-n".into(), n.clone()]).await;
        assert_eq!(drills, "No RecoveryDrills found.\n");
    })
    .await;
}

#[tokio::test]
async fn retry_dry_run_shows_what_would_be_recorded_and_stores_nothing() {
    with_namespace("ctl-retry-dry-run", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let api = create_plan(&ns, failed_status(&ns.name)).await;
        let out =
            crate::support::lifeline(&["retry", PLAN, "lims", "-n", &ns.name, "--dry-run"]).await;
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        assert!(
            out.status.success(),
            "{stdout}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("would be recorded (server dry run")
                && stdout.contains("action: retry"),
            "{stdout}"
        );
        assert!(!stdout.contains("requested (token"), "{stdout}");
        let plan = api.get(PLAN).await.expect("the plan");
        assert!(
            !plan
                .annotations()
                .keys()
                .any(|k| k.starts_with(RETRY_ANNOTATION_PREFIX)),
            "a dry run stored its retry: {:?}",
            plan.annotations()
        );
        let interventions = ns
            .api::<lifeline::api::v1alpha1::Intervention>()
            .list(&Default::default())
            .await
            .expect("list interventions");
        assert!(interventions.items.is_empty(), "{:?}", interventions.items);
    })
    .await;
}

#[tokio::test]
async fn logs_names_what_has_no_job_to_show() {
    with_namespace("ctl-logs", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        create_plan(&ns, failed_status(&ns.name)).await;
        let out = crate::support::lifeline(&["logs", PLAN, "results-viewer", "-n", &ns.name]).await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.contains("no step or check of it has run a Job")
                && err.contains("only a job step or job check has pod logs"),
            "{err}"
        );
        let out = crate::support::lifeline(&["logs", PLAN, "nobody", "-n", &ns.name]).await;
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("nobody is not in this plan"), "{err}");
    })
    .await;
}
