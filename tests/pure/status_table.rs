//! The status table `lifeline status` prints (`lifeline::cli::status::render_table`),
//! rendered from hand-built plans: no cluster. `status` against the cluster is in the
//! `cluster` binary (`tests/cluster/ctl.rs`).

use k8s_openapi::jiff::Timestamp;
use lifeline::{
    api::v1alpha1::RecoveryPlan,
    cli::status::{human_duration, render_release, render_table},
};
use serde_json::{Value, json};

use crate::table::{at, cell, row, table_rows};

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
    let systems = status.get("systems").cloned();
    if !status.is_null() {
        plan["status"] = status;
    }
    let mut plan: RecoveryPlan =
        serde_json::from_value(plan).expect("the hand-built plan is a RecoveryPlan");
    // Systems' progress is not stored in the plan (it is in its RecoveryProgress shards),
    // so it is filled in as `lifeline status` does after reading them.
    if let (Some(st), Some(systems)) = (plan.status.as_mut(), systems) {
        st.systems = serde_json::from_value(systems).expect("the systems are SystemStatuses");
    }
    plan
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
            "8m/1h",
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
fn durations_read_as_everywhere_else_to_the_minute_past_ten() {
    let cases = [
        (0, "0s"),
        (45, "45s"),
        (119, "1m59s"),
        (125, "2m5s"),
        (300, "5m"),
        (754, "12m"),
        (1800, "30m"),
        (5400, "1h30m"),
        (3 * 3600 + 5 * 60 + 7, "3h5m"),
        (4 * 3600, "4h"),
        (30 * 3600 + 59, "30h"),
        (3 * 86400 + 3600 + 125, "73h"),
        (30 * 86400, "720h"),
    ];
    for (seconds, want) in cases {
        assert_eq!(human_duration(seconds), want, "{seconds}s");
    }
}

#[test]
fn at_80_columns_the_table_drops_columns_in_a_known_order_and_the_summary_stays_on_top() {
    use lifeline::cli::status::{DROPPED_FIRST, render_table_width};
    let plan = running_plan();
    let full = render_table(&plan, now_at(12));
    assert!(
        full.lines().any(|l| l.chars().count() > 80),
        "the fixture is wider than 80 columns:\n{full}"
    );
    let fitted = render_table_width(&plan, now_at(12), Some(80));
    for line in fitted.lines() {
        assert!(
            line.chars().count() <= 80,
            "{line:?} is wider than 80:\n{fitted}"
        );
    }
    assert!(
        fitted.starts_with("recoveryplan northern-care/major-incident: Running"),
        "{fitted}"
    );
    let header = fitted
        .lines()
        .find(|l| l.starts_with("SYSTEM"))
        .expect("a header");
    for kept in ["SYSTEM", "PHASE", "ELAPSED/OBJECTIVE", "MESSAGE"] {
        assert!(header.contains(kept), "{kept} stays: {header}");
    }
    assert_eq!(DROPPED_FIRST[0], "CHECKS");
    assert!(!header.contains("CHECKS"), "CHECKS goes first: {header}");
    // One row per system still, each starting with its name.
    for system in ["identity", "lims", "bed-management"] {
        assert!(
            fitted.lines().any(|l| l.starts_with(system)),
            "{system}:\n{fitted}"
        );
    }
    // Wide enough, nothing is dropped.
    let wide = render_table_width(&plan, now_at(12), Some(400));
    assert_eq!(wide, full);
}

#[test]
fn on_a_terminal_phases_have_symbols_and_colours_and_in_a_pipe_none() {
    use lifeline::cli::status::{render_table_styled, render_table_width};
    let plan = running_plan();
    let styled = render_table_styled(&plan, now_at(12), Some(100), true);
    assert!(
        styled.contains("\u{1b}[32m✓ Released (it-validation)"),
        "{styled}"
    );
    assert!(styled.contains("\u{1b}[31m✗ Failed"), "{styled}");
    let visible = |line: &str| {
        let mut n = 0;
        let mut escape = false;
        for c in line.chars() {
            match (escape, c) {
                (false, '\u{1b}') => escape = true,
                (true, 'm') => escape = false,
                (true, _) => {}
                (false, _) => n += 1,
            }
        }
        n
    };
    for line in styled.lines() {
        assert!(visible(line) <= 100, "{line:?}");
    }
    let plain = render_table_width(&plan, now_at(12), Some(100));
    assert!(!plain.contains('\u{1b}') && !plain.contains('✓'), "{plain}");
    assert!(!render_table(&plan, now_at(12)).contains('\u{1b}'));
}

#[test]
fn a_released_system_whose_check_fails_again_shows_degraded_and_its_dependents_at_risk() {
    let plan = plan_with(
        json!({}),
        json!({
            "phase": "Succeeded",
            "progress": "2/2",
            "currentStage": "ward",
            "startedAt": at(0),
            "finishedAt": at(20),
            "systems": [
                {
                    "name": "northern-care/identity", "tier": "mission-critical",
                    "phase": "Degraded", "releasedStage": "ward",
                    "verifiedAt": at(5), "recoverySeconds": 300, "objectiveSeconds": 1800,
                    "message": "check ready fails again since 2026-01-01T01:00:00Z: Deployment northern-care/identity is scaled to 0",
                    "regressionCount": 1,
                    "steps": [{ "name": "scale-up", "phase": "Succeeded", "attempts": 1 }],
                    "checks": [{ "name": "ready", "phase": "Succeeded", "attempts": 3,
                                 "failingSince": at(60),
                                 "lastError": "Deployment northern-care/identity is scaled to 0" }]
                },
                {
                    "name": "northern-care/lims", "tier": "critical",
                    "phase": "Released", "releasedStage": "ward",
                    "verifiedAt": at(15), "recoverySeconds": 900, "objectiveSeconds": 1800,
                    "atRisk": "its dependency northern-care/identity is degraded",
                    "steps": [{ "name": "restore-db", "phase": "Succeeded", "attempts": 1 }]
                }
            ]
        }),
    );
    let table = render_table(&plan, now_at(61));
    let rows = table_rows(&table);
    let identity = row(&rows, "identity");
    assert_eq!(cell(identity, "PHASE"), "Degraded (ward)", "\n{table}");
    assert_eq!(
        cell(identity, "MESSAGE"),
        "check ready fails again since 2026-01-01T01:00:00Z: Deployment northern-care/identity is scaled to 0",
        "\n{table}"
    );
    let lims = row(&rows, "lims");
    assert_eq!(
        cell(lims, "PHASE"),
        "Released (ward)",
        "its gate is unchanged"
    );
    assert_eq!(
        cell(lims, "MESSAGE"),
        "at risk: its dependency northern-care/identity is degraded",
        "\n{table}"
    );
}

#[test]
fn each_system_shows_what_it_waits_for_approvals_a_rejection_or_its_soaks_time_left() {
    let system = |name: &str, stage: &str, soak: Value| {
        json!({
            "name": format!("northern-care/{name}"), "tier": "critical",
            "phase": "Released", "releasedStage": stage,
            "verifiedAt": at(5), "recoverySeconds": 300, "objectiveSeconds": 1800,
            "soak": soak
        })
    };
    let plan = plan_with(
        json!({}),
        json!({
            "phase": "AwaitingApproval",
            "progress": "4/4",
            "currentStage": "pilot-ward",
            "startedAt": at(0),
            "systems": [
                system("pas", "pilot-ward", json!({ "stage": "pilot-ward", "since": at(10), "until": at(20) })),
                system("epr", "it-validation", Value::Null),
                system("lims", "pilot-ward", Value::Null),
                system("ris", "pilot-ward", json!({
                    "stage": "pilot-ward", "holds": 1,
                    "heldBy": "check 'ris-healthy' failing since 2026-01-01T00:14:00Z: status 503"
                })),
            ],
            "awaiting": [
                { "stage": "pilot-ward", "systems": ["northern-care/epr"], "needed": 1, "required": 1,
                  "from": "clinical-safety-officers" },
                { "stage": "emergency-departments", "systems": ["northern-care/pas"], "needed": 2,
                  "required": 2, "from": "clinical-safety-officers", "soakUntil": at(20) },
                { "stage": "emergency-departments", "systems": ["northern-care/lims"], "needed": 0,
                  "required": 2, "from": "clinical-safety-officers",
                  "halted": "rejected by dr-okafor: results phoned to ED not reconciled" },
                { "stage": "emergency-departments", "systems": ["northern-care/ris"], "needed": 2,
                  "required": 2, "from": "clinical-safety-officers",
                  "soakHeld": "check 'ris-healthy' failing since 2026-01-01T00:14:00Z: status 503" }
            ]
        }),
    );
    let message = |minutes: i64, system: &str| {
        let table = render_table(&plan, now_at(minutes));
        let rows = table_rows(&table);
        cell(row(&rows, system), "MESSAGE").to_string()
    };
    assert_eq!(message(16, "epr"), "awaits 1 more approval for pilot-ward");
    assert_eq!(
        message(16, "pas"),
        "awaits 2 more approvals for emergency-departments; soaking at pilot-ward, 4m left",
        "the soak's time left, from its end and now"
    );
    assert_eq!(
        message(19, "pas"),
        "awaits 2 more approvals for emergency-departments; soaking at pilot-ward, 1m left"
    );
    assert_eq!(
        message(21, "pas"),
        "awaits 2 more approvals for emergency-departments; soaking at pilot-ward, ending",
        "past its end until the operator moves it on"
    );
    assert_eq!(
        message(16, "lims"),
        "held at emergency-departments: rejected by dr-okafor: results phoned to ED not reconciled"
    );
    assert_eq!(
        message(16, "ris"),
        "held at pilot-ward: check 'ris-healthy' failing since 2026-01-01T00:14:00Z: status 503"
    );
}

#[test]
fn a_check_not_tried_because_the_api_server_did_not_answer_says_so() {
    let plan = plan_with(
        json!({}),
        json!({
            "phase": "Running",
            "progress": "0/1",
            "startedAt": at(0),
            "systems": [{
                "name": "northern-care/lims", "tier": "critical", "phase": "Verifying",
                "restoreStartedAt": at(0), "objectiveSeconds": 1800,
                "steps": [{ "name": "restore-db", "phase": "Succeeded", "attempts": 1 }],
                "checks": [
                    { "name": "db", "phase": "Succeeded", "attempts": 1 },
                    { "name": "ready", "phase": "Running", "attempts": 0,
                      "message": "could not ask the API server: connection refused" }
                ]
            }]
        }),
    );
    let table = render_table(&plan, now_at(3));
    let rows = table_rows(&table);
    assert_eq!(
        cell(row(&rows, "lims"), "CHECKS"),
        "1/2 passed; ready not tried: could not ask the API server: connection refused",
        "\n{table}"
    );
}

#[test]
fn each_systems_data_loss_window_and_hand_back_progress_show_below_the_table() {
    let hand_back = |done: &[bool]| -> Vec<Value> {
        [
            "back-enter paper results since the restore point",
            "re-check allergies recorded on paper",
        ]
        .iter()
        .zip(done)
        .map(|(item, done)| {
            if *done {
                json!({ "item": item, "doneBy": "nurse-bob", "doneAt": at(40), "request": "hb-1" })
            } else {
                json!({ "item": item })
            }
        })
        .collect()
    };
    let loss = |hours_before: i64, objective_hours: u64, met: bool| {
        json!({
            "step": "restore-db", "restorePoint": at(-hours_before * 60), "incidentAt": at(0),
            "windowSeconds": hours_before * 3600, "objectiveSeconds": objective_hours * 3600,
            "objectiveMet": met
        })
    };
    let plan = plan_with(
        json!({ "stages": [{ "name": "ward", "approval": { "required": 1 } }] }),
        json!({
            "phase": "AwaitingApproval",
            "progress": "4/4",
            "startedAt": at(0),
            "systems": [
                {
                    "name": "northern-care/pas", "tier": "mission-critical", "phase": "Released",
                    "releasedStage": "ward", "releases": [{ "stage": "ward", "at": at(30) }],
                    "verifiedAt": at(20), "recoverySeconds": 1200, "objectiveSeconds": 3600,
                    "dataLoss": loss(5, 24, true), "handBack": hand_back(&[true, false])
                },
                {
                    "name": "northern-care/lims", "tier": "critical", "phase": "Released",
                    "releasedStage": "ward", "releases": [{ "stage": "ward", "at": at(35) }],
                    "verifiedAt": at(25), "recoverySeconds": 1500, "objectiveSeconds": 3600,
                    "dataLoss": loss(3, 1, false), "handBack": hand_back(&[true, true])
                },
                {
                    "name": "northern-care/ris", "tier": "important", "phase": "Verified",
                    "verifiedAt": at(28), "recoverySeconds": 1680, "objectiveSeconds": 3600,
                    "dataLoss": { "step": "restore-db", "incidentAt": at(0), "objectiveSeconds": 14400,
                                  "problem": "the Job's termination message holds no restorePoint" },
                    "handBack": hand_back(&[false, false])
                },
                {
                    "name": "northern-care/epr", "tier": "critical", "phase": "Verified",
                    "verifiedAt": at(29), "recoverySeconds": 1740, "objectiveSeconds": 3600
                }
            ]
        }),
    );
    // As `lifeline status` prints it: the table, then the release.
    let text = format!(
        "{}{}",
        render_table(&plan, now_at(45)),
        render_release(&plan)
    );
    let section = |heading: &str| -> Vec<&str> {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines
            .iter()
            .position(|l| *l == heading)
            .unwrap_or_else(|| panic!("no {heading:?} in:\n{text}"));
        lines[start + 1..]
            .iter()
            .take_while(|l| l.starts_with("  "))
            .copied()
            .collect()
    };
    assert_eq!(
        section("Data loss:"),
        [
            "  pas: data lost: 5h (restored to 2022-05-12T03:00:00Z, the incident began 2022-05-12T08:00:00Z) (objective 24h: within)",
            "  lims: data lost: 3h (restored to 2022-05-12T05:00:00Z, the incident began 2022-05-12T08:00:00Z) (objective 1h: OVER)",
            "  ris: data-loss window UNKNOWN: the Job's termination message holds no restorePoint (objective 4h)",
        ],
        "one line per system with a window, none for epr:\n{text}"
    );
    assert_eq!(
        section("Hand-back:"),
        [
            "  pas: 1/2 done; to do: 2. re-check allergies recorded on paper",
            "  lims: 2/2 done",
        ],
        "released systems only: ris is not released yet:\n{text}"
    );
}
