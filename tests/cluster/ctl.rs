//! The client-side commands (`lifeline::cli::{status, control}`): the status table rendered from
//! hand-built plans (no cluster), and `status`, `retry`, `pause`, `resume` and `abort`
//! against the real local control plane, on plans whose status the test writes as
//! admin (no operator runs here, so nothing else touches them).

use std::{
    io::Write,
    sync::{Arc, Mutex},
    time::Duration,
};

use crate::support::{TestNamespace, ensure_crds, object, with_namespace};
use k8s_openapi::jiff::Timestamp;
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams, PostParams},
};
use lifeline::{
    api::v1alpha1::{PlanPhase, RETRY_ANNOTATION_PREFIX, RecoveryPlan, SystemPhase},
    cli::{
        control,
        error::CtlError,
        status::{self, StatusOutput, human_duration, render_table},
    },
};
use serde_json::{Value, json};

// ---------------------------------------------------------------------------------
// render_table: pure, on hand-built plans.
// ---------------------------------------------------------------------------------

/// When the hand-built runs start.
const T0: &str = "2022-05-12T08:00:00Z";

/// `T0` plus `minutes`, as RFC 3339.
fn at(minutes: i64) -> String {
    let t: Timestamp = T0.parse().expect("T0 parses");
    (t + k8s_openapi::jiff::SignedDuration::from_secs(minutes * 60)).to_string()
}

/// `T0` plus `minutes`, as a timestamp.
fn now_at(minutes: i64) -> Timestamp {
    at(minutes).parse().expect("valid timestamp")
}

/// Plan `northern-care/major-incident` with `spec` merged over a minimal spec, and
/// `status` as given (`Value::Null`: no status).
fn plan_with(spec: Value, status: Value) -> RecoveryPlan {
    let mut plan = json!({
        "apiVersion": "lifeline.dev/v1alpha1",
        "kind": "RecoveryPlan",
        "metadata": { "name": "major-incident", "namespace": "northern-care" },
        "spec": { "systems": { "names": ["identity", "lims", "results-viewer"] } },
    });
    if let (Some(base), Some(extra)) = (plan["spec"].as_object_mut(), spec.as_object()) {
        base.extend(extra.clone());
    }
    if !status.is_null() {
        plan["status"] = status;
    }
    object(plan)
}

/// A plan twelve minutes into its run: one system verified, one restoring, one from
/// another namespace failed on a check, one blocked, one waiting.
fn running_plan() -> RecoveryPlan {
    plan_with(
        json!({}),
        json!({
            "phase": "Running",
            "progress": "1/5",
            "currentStage": "it-validation",
            "startedAt": at(0),
            "systems": [
                {
                    "name": "northern-care/identity", "tier": "mission-critical",
                    "phase": "Released", "releasedStage": "it-validation",
                    "restoreStartedAt": at(0), "verifiedAt": at(5), "recoverySeconds": 300,
                    "objectiveSeconds": 1800, "objectiveMet": true,
                    "steps": [
                        { "name": "restore-ldap", "phase": "Succeeded", "attempts": 1 },
                        { "name": "scale-up", "phase": "Succeeded", "attempts": 1 }
                    ],
                    "checks": [
                        { "name": "ldap-bind", "phase": "Succeeded", "attempts": 1 },
                        { "name": "sso-login", "phase": "Succeeded", "attempts": 2 }
                    ]
                },
                {
                    "name": "northern-care/lims", "tier": "critical", "phase": "Restoring",
                    "restoreStartedAt": at(5), "objectiveSeconds": 1800,
                    "steps": [
                        { "name": "integrity-check", "phase": "Succeeded", "attempts": 1 },
                        { "name": "restore-db", "phase": "Running", "attempts": 1 },
                        { "name": "scale-up", "phase": "Pending", "attempts": 0 }
                    ],
                    "checks": [
                        { "name": "lims-http", "phase": "Pending", "attempts": 0 },
                        { "name": "lims-db", "phase": "Pending", "attempts": 0 },
                        { "name": "patient-journey", "phase": "Pending", "attempts": 0 }
                    ]
                },
                {
                    "name": "pathology/analyser-gateway", "tier": "important", "phase": "Failed",
                    "message": "check analyser-http failed after 5 attempts",
                    "restoreStartedAt": at(1), "failedAt": at(8), "objectiveSeconds": 3600,
                    "steps": [{ "name": "scale-up", "phase": "Succeeded", "attempts": 1 }],
                    "checks": [
                        { "name": "analyser-tcp", "phase": "Succeeded", "attempts": 1 },
                        {
                            "name": "analyser-http", "phase": "Failed", "attempts": 5,
                            "lastError": "connection refused"
                        }
                    ]
                },
                {
                    "name": "northern-care/results-viewer", "tier": "critical",
                    "phase": "Blocked", "blockedBy": "pathology/analyser-gateway",
                    "objectiveSeconds": 2700
                },
                {
                    "name": "northern-care/bed-management", "tier": "deferrable",
                    "phase": "Waiting", "message": "waiting for a free slot (parallelism 2)",
                    "objectiveSeconds": 14400
                }
            ]
        }),
    )
}

/// The table's rows as cells, split at the header's column starts, keyed by SYSTEM.
/// Fails unless every line after the header has exactly the header's columns, each
/// cell starting where its header starts.
fn table_rows(table: &str) -> Vec<Vec<(String, String)>> {
    let lines: Vec<&str> = table.lines().collect();
    let header_at = lines
        .iter()
        .position(|l| l.starts_with("SYSTEM "))
        .unwrap_or_else(|| panic!("no header row in:\n{table}"));
    let header: Vec<char> = lines[header_at].chars().collect();
    let starts: Vec<usize> = (0..header.len())
        .filter(|&i| header[i] != ' ' && (i == 0 || header[i - 1] == ' '))
        .collect();
    let names: Vec<String> = cells(&header, &starts);
    lines[header_at + 1..]
        .iter()
        .map(|line| {
            let chars: Vec<char> = line.chars().collect();
            for &s in &starts[1..] {
                if s < chars.len() {
                    assert!(
                        chars[s - 1] == ' ',
                        "a cell runs into the next column in {line:?}\n{table}"
                    );
                }
            }
            names.iter().cloned().zip(cells(&chars, &starts)).collect()
        })
        .collect()
}

fn cells(chars: &[char], starts: &[usize]) -> Vec<String> {
    starts
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let end = starts
                .get(i + 1)
                .copied()
                .unwrap_or(chars.len())
                .min(chars.len());
            let s = s.min(end);
            chars[s..end].iter().collect::<String>().trim().to_string()
        })
        .collect()
}

/// The row whose SYSTEM is `system`, as (column, cell) pairs.
fn row<'a>(rows: &'a [Vec<(String, String)>], system: &str) -> &'a [(String, String)] {
    rows.iter()
        .find(|r| r[0].1 == system)
        .unwrap_or_else(|| panic!("no row for {system} in {rows:?}"))
}

fn cell<'a>(row: &'a [(String, String)], column: &str) -> &'a str {
    &row.iter()
        .find(|(c, _)| c == column)
        .unwrap_or_else(|| panic!("no column {column}"))
        .1
}

#[test]
fn table_of_a_running_plan() {
    let table = render_table(&running_plan(), now_at(12));
    let first = table.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "recoveryplan northern-care/major-incident: Running, 1/5 verified, stage it-validation, \
         elapsed 12m",
        "\n{table}"
    );
    let rows = table_rows(&table);
    let columns: Vec<&str> = rows[0].iter().map(|(c, _)| c.as_str()).collect();
    assert_eq!(
        columns,
        [
            "SYSTEM",
            "TIER",
            "PHASE",
            "STEP",
            "ELAPSED/OBJECTIVE",
            "CHECKS",
            "MESSAGE"
        ]
    );
    assert_eq!(rows.len(), 5, "one row per system:\n{table}");

    let expect = |system: &str, want: [&str; 6]| {
        let r = row(&rows, system);
        let got: Vec<&str> = [
            "TIER",
            "PHASE",
            "STEP",
            "ELAPSED/OBJECTIVE",
            "CHECKS",
            "MESSAGE",
        ]
        .iter()
        .map(|c| cell(r, c))
        .collect();
        assert_eq!(got, want, "row {system}:\n{table}");
    };
    // Verified at 5m: the elapsed time stops there.
    expect(
        "identity",
        [
            "mission-critical",
            "Released (it-validation)",
            "scale-up",
            "5m/30m",
            "2/2 passed",
            "",
        ],
    );
    // Still restoring: counts to now.
    expect(
        "lims",
        [
            "critical",
            "Restoring",
            "restore-db",
            "12m/30m",
            "0/3 passed",
            "",
        ],
    );
    // Another namespace keeps its namespace; failed at 8m: counts to the failure.
    expect(
        "pathology/analyser-gateway",
        [
            "important",
            "Failed",
            "scale-up",
            "8m/60m",
            "analyser-http failed: connection refused",
            "check analyser-http failed after 5 attempts",
        ],
    );
    expect(
        "results-viewer",
        [
            "critical",
            "Blocked",
            "-",
            "12m/45m",
            "-",
            "blocked by pathology/analyser-gateway",
        ],
    );
    expect(
        "bed-management",
        [
            "deferrable",
            "Waiting",
            "-",
            "12m/4h",
            "-",
            "waiting for a free slot (parallelism 2)",
        ],
    );
    assert!(
        table.lines().all(|l| l == l.trim_end()),
        "no trailing spaces:\n{table}"
    );
}

#[test]
fn a_finished_plan_stops_the_clock_at_its_end() {
    let plan = plan_with(
        json!({}),
        json!({
            "phase": "Succeeded",
            "progress": "1/1",
            "currentStage": "all-sites",
            "startedAt": at(0),
            "finishedAt": at(40),
            "systems": [{
                "name": "northern-care/identity", "tier": "mission-critical",
                "phase": "Released", "releasedStage": "all-sites",
                "verifiedAt": at(25), "objectiveSeconds": 1800,
                "steps": [{ "name": "scale-up", "phase": "Succeeded", "attempts": 1 }]
            }]
        }),
    );
    // Three hours later, nothing has moved.
    let table = render_table(&plan, now_at(180));
    assert!(
        table.starts_with(
            "recoveryplan northern-care/major-incident: Succeeded, 1/1 verified, stage all-sites, \
             elapsed 40m\n"
        ),
        "{table}"
    );
    // No recoverySeconds: measured from the run's start to verifiedAt.
    let rows = table_rows(&table);
    assert_eq!(cell(row(&rows, "identity"), "ELAPSED/OBJECTIVE"), "25m/30m");
}

#[test]
fn a_plan_the_operator_has_not_seen_yet() {
    let table = render_table(&plan_with(json!({}), Value::Null), now_at(0));
    assert_eq!(
        table,
        "recoveryplan northern-care/major-incident: Pending, 0/0 verified, no stage released yet, \
         not started\n\nNo systems yet: the operator has not looked at this plan.\n"
    );
}

#[test]
fn requests_not_yet_acted_on_show_in_the_summary() {
    let running = json!({ "phase": "Running", "startedAt": at(0) });
    let paused = json!({ "phase": "Paused", "startedAt": at(0) });
    let summary = |spec: Value, status: &Value| {
        render_table(&plan_with(spec, status.clone()), now_at(3))
            .lines()
            .next()
            .unwrap_or_default()
            .to_string()
    };
    assert!(summary(json!({ "paused": true }), &running).contains(": Running (pause requested),"));
    assert!(summary(json!({}), &paused).contains(": Paused (resume requested),"));
    assert!(summary(json!({ "paused": true }), &paused).contains(": Paused,"));
    assert!(
        summary(json!({ "paused": true, "abort": true }), &paused)
            .contains(": Paused (abort requested),")
    );
    // Progress is counted when the status does not carry it.
    assert!(summary(json!({}), &running).contains(", 0/0 verified, no stage released yet,"));
}

#[test]
fn cells_stay_on_one_line_and_long_check_errors_are_cut() {
    let long = "x".repeat(200);
    let plan = plan_with(
        json!({}),
        json!({
            "phase": "Failed",
            "startedAt": at(0),
            "conditions": [{
                "type": "Ready", "status": "False", "reason": "InvalidPlan",
                "message": "dependency cycle:\nlims -> pas -> lims",
                "lastTransitionTime": at(0)
            }],
            "systems": [{
                "name": "northern-care/lims", "phase": "Failed", "failedAt": at(2),
                "steps": [{
                    "name": "restore-db", "phase": "Failed", "attempts": 2,
                    "message": "job restore-db failed:\n  pg_restore: error: could not connect"
                }],
                "checks": [
                    { "name": "lims-http", "phase": "Failed", "attempts": 3, "lastError": long },
                    { "name": "lims-db", "phase": "Failed", "attempts": 3 }
                ]
            }]
        }),
    );
    let table = render_table(&plan, now_at(10));
    assert!(
        table.contains("Not ready (InvalidPlan): dependency cycle: lims -> pas -> lims\n"),
        "{table}"
    );
    let rows = table_rows(&table);
    let lims = row(&rows, "lims");
    // No system message: the failed step's, on one line.
    assert_eq!(
        cell(lims, "MESSAGE"),
        "job restore-db failed: pg_restore: error: could not connect"
    );
    assert_eq!(cell(lims, "STEP"), "restore-db");
    assert_eq!(cell(lims, "TIER"), "-");
    assert_eq!(cell(lims, "ELAPSED/OBJECTIVE"), "2m/-");
    let checks = cell(lims, "CHECKS");
    assert!(
        checks.starts_with("lims-http failed: xxxx") && checks.ends_with("x… (+1 more)"),
        "{checks}"
    );
    assert!(checks.chars().count() < 80, "{checks}");
}

#[test]
fn durations_read_like_kubectl_ages() {
    let cases = [
        (0, "0s"),
        (45, "45s"),
        (119, "119s"),
        (125, "2m5s"),
        (300, "5m"),
        (754, "12m"),
        (1800, "30m"),
        (5400, "90m"),
        (3 * 3600 + 5 * 60, "3h5m"),
        (4 * 3600, "4h"),
        (30 * 3600, "30h"),
        (3 * 86400 + 3600, "3d1h"),
        (30 * 86400, "30d"),
    ];
    for (seconds, want) in cases {
        assert_eq!(human_duration(seconds), want, "{seconds}s");
    }
}

// ---------------------------------------------------------------------------------
// Against the local control plane.
// ---------------------------------------------------------------------------------

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
    api.patch_status(
        PLAN,
        &PatchParams::default(),
        &Patch::Merge(json!({ "status": status })),
    )
    .await
    .unwrap_or_else(|e| panic!("patch status: {e}"));
}

async fn get(api: &Api<RecoveryPlan>) -> RecoveryPlan {
    api.get(PLAN)
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
        let stored = serde_json::to_value(get(&api).await.status).expect("status as JSON");
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
        let (result, ()) = tokio::time::timeout(SETTLE, async { tokio::join!(watch, drive) })
            .await
            .unwrap_or_else(|_| {
                panic!(
                    "status --watch did not stop within {SETTLE:?}; it printed:\n{}",
                    out.text()
                )
            });
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
