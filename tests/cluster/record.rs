//! The recovery record on the local control plane: a recovery with approvals in two
//! batches, a failure and its retry, a pause, a regression, restore points reported by the
//! restore Jobs (one window within its objective, one over) and a hand-back item done,
//! recorded in RecoveryRecords that outlive the plan and its Approvals; the release notice
//! and, after the plan is deleted, `lifeline report` show it all, `lifeline evidence
//! export` then `verify` pass, and a bundle with one byte changed does not. The record
//! holds each check's first failure and its pass, every Approval in full (groups and the
//! checklist items acknowledged), and, in a second plan beside it, a restore again and an
//! abort with the person who asked.

use std::time::Duration;

use k8s_openapi::jiff::{SignedDuration, Timestamp};
use kube::api::{DeleteParams, ListParams};
use lifeline::api::v1alpha1::{
    Approval, ClinicalSystem, Intervention, PlanPhase, RecordKind, RecoveryPlan, RecoveryRecord,
    SystemPhase,
};
use serde_json::json;

use crate::support::{
    Operator, StubTcp, TestNamespace, clinical_system, create, create_approval, ensure_crds,
    object,
    plan_status::{find, phase, status},
    recovery_plan, steps, wait_for, with_namespace,
};

const RUN: Duration = Duration::from_secs(60);

/// The ward stage's checklist, which every approver acknowledges.
const CHECKLIST: [&str; 2] = ["paper results back-entered", "ward manager told"];

async fn cli(args: Vec<String>) -> std::process::Output {
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    crate::support::lifeline(&refs).await
}

fn approval(name: &str, system: &str, who: &str) -> Approval {
    object(json!({
        "apiVersion": "lifeline.dev/v1alpha1", "kind": "Approval",
        "metadata": { "name": name },
        "spec": { "plan": "record", "stage": "ward", "systems": [system], "decision": "approve",
                  "comment": format!("{who} looked at {system}"), "acknowledged": CHECKLIST,
                  "approver": { "username": who, "groups": ["clinical-safety"] } }
    }))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_record_outlives_the_plan_and_its_approvals_and_verifies() {
    with_namespace("record", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        // `lab` checks a port nothing listens on yet: it fails, and is retried once it does.
        let listener = StubTcp::start().await;
        let port = listener.port;
        drop(listener);
        // The incident began 10 minutes ago; lab's backup is 3 h older than that (its
        // objective 1 h: over), pas's 5 h (objective 24 h: within).
        let incident = Timestamp::from_second(Timestamp::now().as_second() - 600).expect("a time");
        let restored = |hours: i64| {
            let mut step = steps::job("restore");
            let point = (incident - SignedDuration::from_hours(hours)).to_string();
            step["job"]["template"]["spec"]["template"]["metadata"] = json!({
                "annotations": { "kwok.lifeline.dev/termination-message": json!({ "restorePoint": point }).to_string() }
            });
            step["restorePoint"] = json!({ "terminationMessage": true });
            (step, point)
        };
        let (lab_restore, _) = restored(3);
        let (pas_restore, pas_point) = restored(5);
        let mut lab = clinical_system(
            "lab",
            &[],
            vec![lab_restore],
            vec![steps::tcp("accepts", port)],
        );
        lab["spec"]["verify"]["deadline"] = json!("2s");
        lab["spec"]["verify"]["monitorInterval"] = json!("1s");
        lab["spec"]["recoveryPointObjective"] = json!("1h");
        let mut pas = clinical_system("pas", &[], vec![pas_restore], vec![]);
        pas["spec"]["displayName"] = json!("Patient Administration");
        pas["spec"]["recoveryPointObjective"] = json!("24h");
        pas["spec"]["release"] = json!({
            "podSelector": { "matchLabels": { "app": "pas" } },
            "handBack": ["back-enter paper results since the restore point", "re-check allergies recorded on paper"]
        });
        // `spare`, in a plan of its own, is restored again and then its plan aborted.
        let spare = clinical_system("spare", &[], vec![steps::job("restore")], vec![]);
        for s in [lab, pas, spare] {
            create::<ClinicalSystem>(&ns, &object(s)).await;
        }
        let _op = Operator::start("record", &ns.name, &[]);
        let mut plan = recovery_plan("record", &["lab", "pas"]);
        plan["spec"]["incidentStartedAt"] = json!(incident.to_string());
        plan["spec"]["stages"] = json!([{ "name": "ward", "audience": { "description": "Ward 7B staff" }, "approval": { "required": 1 }, "checklist": CHECKLIST }]);
        create::<RecoveryPlan>(&ns, &object(plan)).await;
        let mut second = recovery_plan("spare", &["spare"]);
        second["spec"]["stages"] = json!([{ "name": "ward", "approval": { "required": 1 } }]);
        create::<RecoveryPlan>(&ns, &object(second)).await;
        let plans = ns.api::<RecoveryPlan>();
        let n = ns.name.clone();
        let args = |a: &[&str]| -> Vec<String> {
            a.iter()
                .map(|s| s.to_string())
                .chain(["-n".to_string(), n.clone()])
                .collect()
        };

        // pas is approved first, on its own.
        wait_for(&plans, "record", "pas verified and lab failed", RUN, |p| {
            let s = status(p);
            find(&s, &ns.name, "pas").is_some_and(|x| x.phase == SystemPhase::Verified)
                && find(&s, &ns.name, "lab").is_some_and(|x| x.phase == SystemPhase::Failed)
        })
        .await;
        // spare is restored again, then its plan aborted.
        wait_for(&plans, "spare", "spare verified", RUN, |p| {
            find(&status(p), &ns.name, "spare").is_some_and(|x| x.phase == SystemPhase::Verified)
        })
        .await;
        let out = cli(args(&["restore", "spare", "spare"])).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        wait_for(&plans, "spare", "spare restored again and verified", RUN, |p| {
            find(&status(p), &ns.name, "spare").is_some_and(|x| {
                x.phase == SystemPhase::Verified && x.restored_again.iter().any(|r| r.verified_at.is_some())
            })
        })
        .await;
        let out = cli(args(&["abort", "spare"])).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        wait_for(&plans, "spare", "spare aborted", RUN, |p| phase(p) == PlanPhase::Aborted).await;
        create_approval(&ns, approval("pas-alice", "pas", "alice")).await;
        let released = wait_for(&plans, "record", "pas released", RUN, |p| {
            find(&status(p), &ns.name, "pas").is_some_and(|x| x.phase == SystemPhase::Released)
        })
        .await;
        // Its data-loss window: from the restore point its Job reported to the incident.
        let pas_status = find(&status(&released), &ns.name, "pas").expect("pas").clone();
        let loss = pas_status.data_loss.clone().expect("pas's data-loss window");
        assert_eq!(loss.restore_point.as_ref().map(|t| t.0.to_string()), Some(pas_point.clone()));
        assert_eq!(loss.window_seconds, Some(5 * 3600), "{loss:?}");
        assert_eq!(loss.objective_met, Some(true), "{loss:?}");
        assert_eq!(pas_status.hand_back.len(), 2);
        // Its release notice: in the Event, on the printable page.
        let notice_file = tempfile::tempdir().expect("tempdir");
        let notice_path = notice_file.path().join("pas.html");
        let out = cli(args(&["notice", "record", "pas", "-o", &notice_path.to_string_lossy()])).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let page = std::fs::read_to_string(&notice_path).expect("notice");
        for needle in ["Ward 7B staff", "data lost: 5h", "re-check allergies recorded on paper", "alice"] {
            assert!(page.contains(needle), "{needle:?} not in the notice:\n{page}");
        }
        crate::support::eventually("the release Event tells the notice", RUN, || {
            let events = ns.api::<k8s_openapi::api::events::v1::Event>();
            async move {
                let notes: Vec<String> = events
                    .list(&ListParams::default())
                    .await
                    .map_err(|e| e.to_string())?
                    .items
                    .into_iter()
                    .filter(|e| e.reason.as_deref() == Some("SystemReleased"))
                    .filter_map(|e| e.note)
                    .collect();
                if notes.iter().any(|n| n.contains("Ward 7B staff") && n.contains("hand-back: 2 items")) {
                    Ok(())
                } else {
                    Err(format!("{notes:?}"))
                }
            }
        })
        .await;
        // A nurse records one hand-back item as done.
        let out = cli(args(&["handback", "record", "pas", "--item", "1", "--comment", "7B results back-entered"])).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        wait_for(&plans, "record", "the hand-back recorded", RUN, |p| {
            find(&status(p), &ns.name, "pas").is_some_and(|x| x.hand_back[0].done_by.is_some())
        })
        .await;
        let again = cli(args(&["handback", "record", "pas", "--item", "back-enter"])).await;
        assert!(!again.status.success());
        assert!(String::from_utf8_lossy(&again.stderr).contains("already done by"));
        // A pause and a resume, then lab's port answers and lab is retried.
        for cmd in ["pause", "resume"] {
            let out = cli(args(&[cmd, "record"])).await;
            assert!(
                out.status.success(),
                "{cmd}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
            let want = if cmd == "pause" { 1 } else { 2 };
            wait_for(&plans, "record", &format!("the {cmd} recorded"), RUN, |p| {
                status(p).interventions.len() >= want
            })
            .await;
        }
        let _listening = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("listen on lab's port");
        let out = cli(args(&["retry", "record", "lab"])).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        wait_for(&plans, "record", "lab verified", RUN, |p| {
            find(&status(p), &ns.name, "lab").is_some_and(|x| x.phase == SystemPhase::Verified)
        })
        .await;
        create_approval(&ns, approval("lab-dana", "lab", "dana")).await;
        wait_for(&plans, "record", "lab released", RUN, |p| {
            find(&status(p), &ns.name, "lab").is_some_and(|x| x.phase == SystemPhase::Released)
        })
        .await;
        // lab's port stops answering: a regression; then it answers again.
        drop(_listening);
        wait_for(&plans, "record", "lab degraded", RUN, |p| {
            find(&status(p), &ns.name, "lab").is_some_and(|x| x.phase == SystemPhase::Degraded)
        })
        .await;
        let _listening = tokio::net::TcpListener::bind(("127.0.0.1", port))
            .await
            .expect("listen on lab's port again");
        let done = wait_for(&plans, "record", "lab back and the plan Succeeded", RUN, |p| {
            let s = status(p);
            phase(p) == PlanPhase::Succeeded
                && find(&s, &ns.name, "lab").is_some_and(|x| {
                    x.phase == SystemPhase::Released && x.regressions.iter().any(|r| r.ended_at.is_some())
                })
        })
        .await;
        let lab_loss = find(&status(&done), &ns.name, "lab").and_then(|x| x.data_loss.clone()).expect("lab's window");
        assert_eq!(lab_loss.window_seconds, Some(3 * 3600));
        assert_eq!(lab_loss.objective_met, Some(false), "over its 1 h objective");
        let head = status(&done)
            .record
            .expect("the plan's status holds the record's head");
        assert!(head.entries > 10, "{head:?}");

        // The Approvals and the plan go; the record stays, and says all of it.
        ns.api::<Approval>()
            .delete_collection(&DeleteParams::default(), &ListParams::default())
            .await
            .expect("delete Approvals");
        plans
            .delete("record", &DeleteParams::default())
            .await
            .expect("delete the plan");
        crate::support::eventually("the plan gone", RUN, || {
            let plans = plans.clone();
            async move {
                match plans.get_opt("record").await {
                    Ok(None) => Ok(()),
                    other => Err(format!("{other:?}")),
                }
            }
        })
        .await;
        let chunks = ns
            .api::<RecoveryRecord>()
            .list(&ListParams::default())
            .await
            .expect("list records")
            .items;
        assert!(
            !chunks.is_empty() && chunks.iter().all(|c| c.metadata.owner_references.is_none()),
            "records are not owned by the plan"
        );

        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("record.json");
        let file_arg = file.to_string_lossy().to_string();
        let out = cli(args(&["evidence", "export", "record", "-o", &file_arg])).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = cli(vec!["evidence".into(), "verify".into(), file_arg.clone()]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(String::from_utf8_lossy(&out.stdout).contains("verifies"));

        let bundle: lifeline::cli::evidence::Bundle =
            serde_json::from_str(&std::fs::read_to_string(&file).expect("read")).expect("bundle");
        assert_eq!(
            bundle.manifest.entries, head.entries,
            "every entry the plan's status counted"
        );
        assert_eq!(bundle.manifest.head, head.head);
        let kinds = |k: RecordKind| bundle.entries.iter().filter(|e| e.kind == k).count();
        let approvals: Vec<String> = bundle
            .entries
            .iter()
            .filter(|e| e.kind == RecordKind::Approval && e.data["accepted"] == json!(true))
            .map(|e| {
                format!(
                    "{} {}",
                    e.data["approver"]["username"].as_str().unwrap_or(""),
                    e.data["systems"][0].as_str().unwrap_or("")
                )
            })
            .collect();
        assert_eq!(approvals.len(), 2, "{approvals:?}");
        assert!(
            approvals
                .iter()
                .any(|a| a.starts_with("alice") && a.ends_with("/pas")),
            "{approvals:?}"
        );
        assert!(
            approvals
                .iter()
                .any(|a| a.starts_with("dana") && a.ends_with("/lab")),
            "{approvals:?}"
        );
        let comment = bundle
            .entries
            .iter()
            .find(|e| e.kind == RecordKind::Approval)
            .map(|e| e.data["comment"].clone());
        assert!(comment.is_some_and(|c| c.as_str().is_some_and(|c| c.contains("looked at"))));
        // Each Approval in full, as the operator saw it when it decided.
        for e in bundle.entries.iter().filter(|e| e.kind == RecordKind::Approval) {
            let who = e.data["approver"]["username"].as_str().unwrap_or_default();
            assert_eq!(e.data["approver"]["groups"], json!(["clinical-safety"]), "{who}: {}", e.data);
            assert_eq!(e.data["acknowledged"], json!(CHECKLIST), "{who}: {}", e.data);
            assert_eq!(e.data["stage"], json!("ward"), "{who}: {}", e.data);
            assert_eq!(e.data["decision"], json!("approve"), "{who}: {}", e.data);
            assert_eq!(e.data["planUid"].as_str(), Some(bundle.manifest.plan_uid.as_str()), "{who}: {}", e.data);
        }
        // lab's check: its first failure, then its pass once the port answered (after the
        // retry), each an entry of its own.
        let lab_key = format!("{}/lab", ns.name);
        let accepts: Vec<&lifeline::api::v1alpha1::RecordEntry> = bundle
            .entries
            .iter()
            .filter(|e| e.kind == RecordKind::Check && e.system.as_deref() == Some(lab_key.as_str()) && e.data["check"] == json!("accepts"))
            .collect();
        let first = accepts.first().expect("lab's check recorded");
        assert!(
            first.data["phase"] != json!("Succeeded") && first.data["error"].as_str().is_some_and(|e| e.contains("connection refused")),
            "the first entry is its failure, with the error: {}",
            first.data
        );
        let retried = bundle
            .entries
            .iter()
            .find(|e| e.kind == RecordKind::Intervention && e.data["action"] == json!("retry"))
            .expect("the retry recorded");
        let passed = accepts
            .iter()
            .find(|e| e.data["phase"] == json!("Succeeded") && e.data["failing"] == json!(false))
            .expect("its pass recorded");
        // The retry reruns the checks in the reconcile that acts on it: the pass is recorded
        // then, with the retry beside it.
        assert!(
            first.seq < retried.seq && first.at.0 < retried.at.0 && passed.at.0 >= retried.at.0,
            "failure {} at {}, retry {} at {}, pass {} at {}",
            first.seq, first.at.0, retried.seq, retried.at.0, passed.seq, passed.at.0
        );
        let interventions: Vec<&str> = bundle
            .entries
            .iter()
            .filter(|e| e.kind == RecordKind::Intervention)
            .filter_map(|e| e.data["action"].as_str())
            .collect();
        assert_eq!(interventions, ["pause", "resume", "retry"]);
        let lab_failed = bundle.entries.iter().any(|e| {
            e.kind == RecordKind::SystemPhase
                && e.data["to"] == json!("Failed")
                && e.system.as_deref().is_some_and(|s| s.ends_with("/lab"))
        });
        assert!(
            lab_failed,
            "the failure the retry recovered stays in the record"
        );
        assert_eq!(kinds(RecordKind::Release), 2);

        assert_eq!(kinds(RecordKind::RegressionStarted), 1);
        assert_eq!(kinds(RecordKind::RegressionEnded), 1);
        assert_eq!(kinds(RecordKind::HandBack), 1);
        assert_eq!(kinds(RecordKind::DataLoss), 2);
        assert!(kinds(RecordKind::Notice) >= 2);

        // The report, made from the record with the plan and its Approvals gone.
        let report = dir.path().join("report.html");
        let out = cli(args(&["report", "record", "-o", &report.to_string_lossy()])).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let page = std::fs::read_to_string(&report).expect("report");
        let out = cli(args(&["report", "plan/record"])).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        for needle in [
            "hash chain verifies",
            "alice looked at pas",
            "dana looked at lab",
            "| pause |",
            "| retry |",
            "data lost: 5h",
            "OVER",
            "7B results back-entered",
            "NOT DONE",
            "check accepts failed again",
            "lost 3h of data against its recovery-point objective of 1h",
        ] {
            assert!(text.contains(needle), "{needle:?} not in the report:\n{text}");
        }
        assert!(page.contains("<figure id=\"gantt\">") && page.contains("data-system=\"") && !page.contains("<script"));
        assert_eq!(bundle.report.as_deref().map(|r| r.contains("alice looked at pas")), Some(true));
        // The report's figures are the record's timestamps.
        let recovery = lifeline::report::recovery::Recovery::from_entries(&bundle.manifest.plan, &bundle.manifest.plan_uid, &bundle.entries, None);
        for sys in ["lab", "pas"] {
            let key = format!("{}/{sys}", ns.name);
            let verified = bundle.entries.iter().find(|e| e.kind == RecordKind::SystemPhase && e.system.as_deref() == Some(key.as_str()) && e.data["to"] == json!("Verified")).expect("verified entry").at.0;
            let seen = recovery.systems.iter().find(|s| s.key == key).expect("in the report");
            assert_eq!(seen.recovery_seconds(recovery.origin), Some((verified - incident).get_seconds().unsigned_abs()), "{sys}");
            assert_eq!(recovery.origin.map(|o| o.as_second()), Some(incident.as_second()));
        }

        // spare's record: the restore again and the abort, each with who asked (the
        // Intervention the CLI made, vouched for by the API server).
        let spare_file = dir.path().join("spare.json");
        let out = cli(args(&["evidence", "export", "spare", "-o", &spare_file.to_string_lossy()])).await;
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let spare: lifeline::cli::evidence::Bundle =
            serde_json::from_str(&std::fs::read_to_string(&spare_file).expect("read")).expect("bundle");
        let asked = ns.api::<Intervention>().list(&ListParams::default()).await.expect("list Interventions").items;
        for (action, system) in [("restore", Some(format!("{}/spare", ns.name))), ("abort", None)] {
            let request = asked
                .iter()
                .find(|i| i.spec.plan == "spare" && i.spec.action.to_string().eq_ignore_ascii_case(action))
                .unwrap_or_else(|| panic!("the {action} Intervention"));
            let e = spare
                .entries
                .iter()
                .find(|e| e.kind == RecordKind::Intervention && e.data["action"] == json!(action))
                .unwrap_or_else(|| panic!("the {action} recorded"));
            assert!(!request.spec.requester.username.is_empty());
            assert_eq!(e.data["by"].as_str(), Some(request.spec.requester.username.as_str()), "{action}: {}", e.data);
            assert_eq!(e.data["vouched"], json!(true), "{action}: {}", e.data);
            assert_eq!(e.data["request"].as_str(), request.metadata.name.as_deref(), "{action}: {}", e.data);
            assert_eq!(e.system, system, "{action}");
        }
        let restored_again = spare.entries.iter().any(|e| {
            e.kind == RecordKind::Step && e.data["phase"] == json!("Succeeded") && e.data["attempt"] == json!(2)
        });
        assert!(restored_again, "the restore's second run recorded");

        // Signed at export with a key of the trust's: verified with its public key only.
        let key = dir.path().join("trust.pk8");
        let out = cli(vec![
            "evidence".into(),
            "keygen".into(),
            "-o".into(),
            key.to_string_lossy().to_string(),
        ])
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let public = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let signed = dir.path().join("signed.json").to_string_lossy().to_string();
        let out = cli(args(&[
            "evidence",
            "export",
            "record",
            "-o",
            &signed,
            "--sign-key",
            &key.to_string_lossy(),
        ]))
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let out = cli(vec![
            "evidence".into(),
            "verify".into(),
            signed.clone(),
            "--public-key".into(),
            public.clone(),
        ])
        .await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let (_, other) = lifeline::cli::evidence::keygen().expect("another key");
        let out = cli(vec![
            "evidence".into(),
            "verify".into(),
            signed,
            "--public-key".into(),
            other,
        ])
        .await;
        assert!(!out.status.success(), "another key does not verify it");

        // One byte changed in one entry: verify names it and fails.
        let mut forged = bundle.clone();
        let k = forged
            .entries
            .iter()
            .position(|e| e.kind == RecordKind::Approval)
            .expect("an approval entry");
        forged.entries[k].data["comment"] = json!("mallory looked at pas");
        let forged_file = dir.path().join("forged.json");
        lifeline::cli::evidence::write(&forged, &forged_file).expect("write");
        let out = cli(vec![
            "evidence".into(),
            "verify".into(),
            forged_file.to_string_lossy().to_string(),
        ])
        .await;
        assert!(!out.status.success());
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&format!("entry {} was altered", forged.entries[k].seq)),
            "{err}"
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_record_past_its_retention_is_deleted_and_one_within_it_kept() {
    with_namespace("record-retention", |ns: TestNamespace| async move {
        ensure_crds(&ns.client).await;
        let record = |name: &str, until: &str| -> RecoveryRecord {
            object(json!({
                "apiVersion": "lifeline.dev/v1alpha1", "kind": "RecoveryRecord",
                "metadata": { "name": name },
                "spec": { "plan": "old", "planUid": "u", "chunk": 0, "first": 0, "retainUntil": until, "entries": [] }
            }))
        };
        let records = ns.api::<RecoveryRecord>();
        for (name, until) in [("expired", "2025-01-01T00:00:00Z"), ("kept", "2099-01-01T00:00:00Z")] {
            records.create(&Default::default(), &record(name, until)).await.expect("create a record");
        }
        // The operator sweeps when it starts, then hourly.
        let _op = Operator::start("record-retention", &ns.name, &[]);
        crate::support::eventually("the expired record deleted", RUN, || {
            let records = records.clone();
            async move {
                let names: Vec<String> = records.list(&ListParams::default()).await.map_err(|e| e.to_string())?.items.into_iter().filter_map(|r| r.metadata.name).collect();
                if names == ["kept"] { Ok(()) } else { Err(format!("{names:?}")) }
            }
        })
        .await;
    })
    .await;
}
