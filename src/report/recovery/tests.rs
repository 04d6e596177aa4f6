use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use serde_json::{Value, json};

use super::*;
use crate::api::v1alpha1::{RecordEntry, RecordKind};
use crate::engine::record::{Body, GENESIS, seal};
use crate::report::gantt::{Segment, SegmentKind};

fn t(s: i64) -> Time {
    Time(Timestamp::from_second(1_764_633_600 + s).expect("t"))
}

fn chain(bodies: Vec<(i64, RecordKind, Option<&str>, Value)>) -> Vec<RecordEntry> {
    let mut out: Vec<RecordEntry> = Vec::new();
    for (seq, (at, kind, system, data)) in bodies.into_iter().enumerate() {
        let prev = out.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
        out.push(seal(
            seq as u64,
            &prev,
            Body {
                at: t(at),
                kind,
                system: system.map(str::to_string),
                data,
            },
        ));
    }
    out
}

/// A recovery of two systems: pas restored from a backup 5h old (objective 24h), epr
/// missing its 30m objective, approved for the ward, a retry, a pause, a regression,
/// one hand-back item done of two.
fn record() -> Vec<RecordEntry> {
    use RecordKind::*;
    let pas = Some("ward/pas");
    let epr = Some("ward/epr");
    chain(vec![
        (
            0,
            PlanPhase,
            None,
            json!({"from": "Pending", "to": "Running", "startedAt": t(0), "measuredFrom": t(-600)}),
        ),
        (
            0,
            SystemPhase,
            pas,
            json!({"from": null, "to": "Restoring", "tier": "mission-critical", "objectiveSeconds": 3600}),
        ),
        (
            0,
            SystemPhase,
            epr,
            json!({"from": null, "to": "Waiting", "tier": "critical", "objectiveSeconds": 1800}),
        ),
        (
            60,
            Step,
            pas,
            json!({"step": "restore-db", "phase": "Failed", "attempt": 1, "message": "backup volume not mounted"}),
        ),
        (
            60,
            SystemPhase,
            pas,
            json!({"from": "Restoring", "to": "Failed", "message": "step restore-db failed"}),
        ),
        (
            120,
            Intervention,
            pas,
            json!({"action": "retry", "system": "ward/pas", "by": "duty-manager", "vouched": true, "at": t(120)}),
        ),
        (
            120,
            SystemPhase,
            pas,
            json!({"from": "Failed", "to": "Restoring"}),
        ),
        (
            120,
            Step,
            pas,
            json!({"step": "restore-db", "phase": "Running", "attempt": 2}),
        ),
        (
            300,
            DataLoss,
            pas,
            json!({"step": "restore-db", "restorePoint": t(-600 - 5 * 3600), "incidentAt": t(-600), "windowSeconds": 18000, "objectiveSeconds": 86400, "objectiveMet": true}),
        ),
        (
            360,
            Check,
            pas,
            json!({"check": "login", "phase": "Succeeded", "attempts": 1, "failing": false}),
        ),
        (
            360,
            SystemPhase,
            pas,
            json!({"from": "Verifying", "to": "Verified", "objectiveSeconds": 3600}),
        ),
        (
            400,
            Intervention,
            None,
            json!({"action": "pause", "by": "unknown", "vouched": false, "at": t(400)}),
        ),
        (
            500,
            Intervention,
            None,
            json!({"action": "resume", "by": "duty-manager", "vouched": true, "at": t(500)}),
        ),
        (
            600,
            Approval,
            None,
            json!({"name": "ward-1", "stage": "ward", "systems": ["ward/pas"], "decision": "Approve", "accepted": true, "reason": "counted", "approver": {"username": "cso-ann", "groups": ["clinical-safety-officers"]}, "comment": "paper results re-entered on 7B", "acknowledged": ["paper records back-entered"]}),
        ),
        (600, Release, pas, json!({"stage": "ward"})),
        (
            600,
            Notice,
            pas,
            json!({"plan": "ward/p", "system": "ward/pas", "displayName": "Patient Administration", "stage": "ward", "audience": "Ward 7B staff", "releasedAt": t(600), "checks": [{"name": "login", "passed": true, "runs": 1}], "handBack": [{"item": "back-enter admissions"}, {"item": "re-check allergies"}]}),
        ),
        (
            700,
            HandBack,
            pas,
            json!({"item": "back-enter admissions", "by": "nurse-bob", "request": "hb-1"}),
        ),
        (
            800,
            RegressionStarted,
            pas,
            json!({"check": "login", "error": "503", "withdrawn": false, "count": 1}),
        ),
        (
            860,
            RegressionEnded,
            pas,
            json!({"check": "login", "startedAt": t(800), "seconds": 60}),
        ),
        (
            900,
            SystemPhase,
            epr,
            json!({"from": "Waiting", "to": "Restoring"}),
        ),
        (
            2400,
            SystemPhase,
            epr,
            json!({"from": "Verifying", "to": "Verified", "objectiveSeconds": 1800}),
        ),
    ])
}

#[test]
fn figures_come_from_the_records_timestamps() {
    let entries = record();
    let r = Recovery::from_entries("ward/p", "uid-1", &entries, None);
    assert_eq!(r.chain, Ok(()));
    assert_eq!(r.origin, Some(t(-600).0));
    let pas = &r.systems[0];
    assert_eq!(pas.key, "ward/pas");
    // From the incident's start (-600) to the Verified entry (360).
    assert_eq!(pas.recovery_seconds(r.origin), Some(960));
    assert_eq!(pas.objective_met(r.origin), Some(true));
    assert_eq!(pas.restore_started, Some(t(0).0));
    assert_eq!(pas.step_failures.len(), 1);
    assert_eq!(pas.reattempts, 1);
    assert_eq!(pas.regressions.len(), 1);
    assert_eq!(pas.regressions[0].ended, Some(t(860).0));
    assert_eq!(pas.hand_back_open(), vec!["re-check allergies"]);
    assert_eq!(
        pas.data_loss.as_ref().and_then(|d| d.window_seconds),
        Some(18_000)
    );
    let epr = &r.systems[1];
    assert_eq!(epr.recovery_seconds(r.origin), Some(3000));
    assert_eq!(epr.objective_met(r.origin), Some(false));
    assert_eq!(r.approvals.len(), 1);
    assert_eq!(r.interventions.len(), 3);
}

#[test]
fn the_report_shows_approvals_interventions_data_loss_hand_back_and_what_to_fix() {
    let entries = record();
    let r = Recovery::from_entries("ward/p", "uid-1", &entries, None);
    let text = markdown(&r);
    for needle in [
        "Recovery report: ward/p",
        "hash chain verifies: 21 entries",
        "2 of 2 systems verified; 1 of them within their recovery-time objective",
        "cso-ann (clinical-safety-officers)",
        "paper results re-entered on 7B",
        "data lost: 5h",
        "re-check allergies | NOT DONE",
        "nurse-bob",
        "ward/epr took 50m against its objective of 30m",
        "ward/pas: hand-back not done: re-check allergies",
        "1 intervention was made by editing the plan directly",
        "ward/pas failed 1 time before it came back (step restore-db failed)",
        "ward/pas failed again 1 time after it was verified",
    ] {
        assert!(text.contains(needle), "{needle:?} missing from:\n{text}");
    }
    let page = html(&r);
    assert!(page.contains("<figure id=\"gantt\">"));
    assert!(page.contains("<tr data-system=\"ward/pas\">"));
    assert!(!page.contains("<script"));
    assert!(gantt_svg(&r).is_some_and(|s| s.starts_with("<svg")));
}

#[test]
fn a_tampered_record_is_reported_as_not_evidence() {
    let mut entries = record();
    entries[13].data["approver"]["username"] = json!("mallory");
    let r = Recovery::from_entries("ward/p", "uid-1", &entries, None);
    assert!(r.chain.is_err());
    let text = markdown(&r);
    assert!(
        text.contains("THE RECORD DOES NOT VERIFY: entry 13 was altered"),
        "{text}"
    );
    assert!(text.contains("find out who changed it"));
}

#[test]
fn an_empty_record_reports_without_panicking() {
    let r = Recovery::from_entries("ward/p", "u", &[], None);
    let text = markdown(&r);
    assert!(text.contains("0 of 0 systems verified"));
    assert!(html(&r).contains("</html>"));
    assert_eq!(gantt_svg(&r), None);
}

/// pas is restored (its steps done at 120, its checks at 300), released to it-validation
/// at once and soaks there, held by a regression from 500 to 560, soaks again until 1160,
/// waits for people until its release at ward at 1500. epr fails at 60, is retried at 100,
/// is verified at once at 400 and still waits for people when the plan awaits approval.
fn soaked_record() -> Vec<RecordEntry> {
    use RecordKind::*;
    let pas = Some("ward/pas");
    let epr = Some("ward/epr");
    chain(vec![
        (
            0,
            PlanPhase,
            None,
            json!({"from": "Pending", "to": "Running", "startedAt": t(0), "measuredFrom": t(0)}),
        ),
        (
            0,
            SystemPhase,
            pas,
            json!({"from": null, "to": "Restoring", "objectiveSeconds": 3600}),
        ),
        (
            0,
            SystemPhase,
            epr,
            json!({"from": null, "to": "Restoring", "objectiveSeconds": 3600}),
        ),
        (
            60,
            SystemPhase,
            epr,
            json!({"from": "Restoring", "to": "Failed", "message": "step restore-db failed"}),
        ),
        (
            100,
            SystemPhase,
            epr,
            json!({"from": "Failed", "to": "Restoring"}),
        ),
        (
            120,
            SystemPhase,
            pas,
            json!({"from": "Restoring", "to": "Verifying"}),
        ),
        (
            300,
            SystemPhase,
            pas,
            json!({"from": "Verifying", "to": "Released"}),
        ),
        (300, Release, pas, json!({"stage": "it-validation"})),
        (
            300,
            SoakStarted,
            pas,
            json!({"stage": "it-validation", "since": t(300), "until": t(900), "holds": 0}),
        ),
        (
            400,
            SystemPhase,
            epr,
            json!({"from": "Restoring", "to": "Verified"}),
        ),
        (
            500,
            RegressionStarted,
            pas,
            json!({"check": "login", "error": "503", "withdrawn": false, "count": 1}),
        ),
        (
            500,
            SoakHeld,
            pas,
            json!({"stage": "it-validation", "heldBy": "check 'login' failing: 503", "holds": 1}),
        ),
        (
            560,
            RegressionEnded,
            pas,
            json!({"check": "login", "startedAt": t(500), "seconds": 60}),
        ),
        (
            560,
            SoakStarted,
            pas,
            json!({"stage": "it-validation", "since": t(560), "until": t(1160), "holds": 1}),
        ),
        (
            1160,
            SoakEnded,
            pas,
            json!({"stage": "it-validation", "completed": true, "since": t(560), "holds": 1, "seconds": 600}),
        ),
        (
            1200,
            PlanPhase,
            None,
            json!({"from": "Running", "to": "AwaitingApproval"}),
        ),
        (1500, Release, pas, json!({"stage": "ward"})),
        (
            1600,
            PlanPhase,
            None,
            json!({"from": "AwaitingApproval", "to": "AwaitingApproval"}),
        ),
    ])
}

fn part(kind: SegmentKind, start: i64, end: Option<i64>, failed: bool, note: &str) -> Segment {
    Segment {
        kind,
        start: start as f64,
        end: end.map(|e| e as f64),
        failed,
        note: (!note.is_empty()).then(|| note.to_string()),
    }
}

#[test]
fn the_chart_shows_each_restore_verification_soak_wait_and_regression_from_the_records_timestamps()
{
    use SegmentKind::*;
    let entries = soaked_record();
    let r = Recovery::from_entries("ward/p", "uid-1", &entries, None);
    assert_eq!(r.chain, Ok(()));
    let chart = model::chart(&r).expect("a chart");
    let pas = &chart.rows[0];
    assert_eq!(pas.name, "ward/pas");
    assert_eq!(
        pas.segments,
        [
            part(Restore, 0, Some(120), false, ""),
            part(Verification, 120, Some(300), false, ""),
            part(
                Waiting,
                1160,
                Some(1500),
                false,
                "before its release at stage ward"
            ),
            part(
                Soak,
                300,
                Some(500),
                false,
                "stage it-validation, held: check 'login' failing: 503"
            ),
            part(Soak, 560, Some(1160), false, "stage it-validation, done"),
            part(Regression, 500, Some(560), false, "check login: 503"),
        ]
    );
    // Each part's times are the entries' own.
    let at = |kind: RecordKind, system: &str| -> Vec<f64> {
        entries
            .iter()
            .filter(|e| e.kind == kind && e.system.as_deref() == Some(system))
            .map(|e| (e.at.0.as_second() - t(0).0.as_second()) as f64)
            .collect()
    };
    assert_eq!(at(RecordKind::SoakStarted, "ward/pas"), [300.0, 560.0]);
    assert_eq!(
        pas.segments
            .iter()
            .filter(|s| s.kind == Soak)
            .map(|s| s.start)
            .collect::<Vec<_>>(),
        at(RecordKind::SoakStarted, "ward/pas")
    );
    assert_eq!(
        pas.segments
            .iter()
            .filter(|s| s.kind == Regression)
            .map(|s| (s.start, s.end))
            .collect::<Vec<_>>(),
        [(
            at(RecordKind::RegressionStarted, "ward/pas")[0],
            Some(at(RecordKind::RegressionEnded, "ward/pas")[0])
        )]
    );
    let epr = &chart.rows[1];
    assert_eq!(
        epr.segments,
        [
            part(Restore, 0, Some(60), true, ""),
            part(Restore, 100, Some(400), false, ""),
            part(Waiting, 400, None, false, "still waiting at the last entry"),
        ],
        "a failed attempt, its retry verified at once, and a wait still open"
    );

    // The SVG draws every part at its times, with a legend line naming them.
    let svg = gantt_svg(&r).expect("an SVG");
    for needle in [
        r#"data-segment="restore" data-start="0" data-end="120""#,
        r#"data-segment="verification" data-start="120" data-end="300""#,
        r#"data-segment="soak" data-start="300" data-end="500""#,
        r#"data-segment="soak" data-start="560" data-end="1160""#,
        r#"data-segment="waiting" data-start="1160" data-end="1500""#,
        r#"data-segment="regression" data-start="500" data-end="560""#,
        r#"data-segment="restore" data-start="0" data-end="60" data-failed="true""#,
        r#"data-segment="waiting" data-start="400" data-end="1600" data-open="true""#,
        ">waiting for people</text>",
        ">soak at a stage</text>",
        ">regression</text>",
        ">verification (checks)</text>",
    ] {
        assert!(svg.contains(needle), "{needle} not in:\n{svg}");
    }
    assert_eq!(
        svg.matches(r#"class="legend-segment""#).count(),
        SegmentKind::ALL.len()
    );
    assert!(
        !svg.contains(r#"class="bar""#),
        "rows in parts draw no single bar"
    );
    assert_eq!(svg.matches("<g").count(), svg.matches("</g>").count());
    // The timeline tells each soak too.
    let text = markdown_linking(&r, Some("chart.svg"));
    for needle in [
        "soak at stage it-validation started, until",
        "held at stage it-validation: check 'login' failing: 503",
        "soak at stage it-validation started again after a hold",
        "soaked at stage it-validation for 10m",
        "each soak at a stage (yellow)",
    ] {
        assert!(text.contains(needle), "{needle:?} not in:\n{text}");
    }
    assert!(html(&r).contains("each wait for people before a release (thin)"));
}
