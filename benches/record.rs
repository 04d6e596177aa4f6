//! The recovery record at the scale of a whole trust's estate: the chain of a
//! 2,000-system recovery built (every entry sealed), split into chunks, written as an
//! evidence bundle and verified again from its JSON, as `lifeline evidence export` and
//! `verify` do, and its report made (Markdown and HTML), as `lifeline report` does. Prints the record's size and chunking once, then times each part.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use lifeline::{
    api::v1alpha1::{RecordEntry, RecordKind},
    engine::record::{Body, CHUNK_BYTES, GENESIS, chunk_lengths, entry_size, seal, verify},
};
use serde_json::json;

const SYSTEMS: usize = 2_000;

/// What a recovery of `systems` systems records, as the operator would: per system its
/// phases (Pending to Released), three steps started and done, two checks (a first
/// failure, then the pass), its data-loss window, two stage releases each with its
/// release notice, a hand-back item done; an Approval per 50 systems with a comment and a
/// checklist; about 25 entries a system.
fn bodies(systems: usize) -> Vec<Body> {
    let at = |s: usize| Time(Timestamp::from_second(1_750_000_000 + s as i64).expect("t"));
    let mut out = Vec::new();
    for i in 0..systems {
        let system = Some(format!("northern-care/system-{i:04}"));
        let phases = [
            "Pending",
            "Waiting",
            "Restoring",
            "Verifying",
            "Verified",
            "Released",
        ];
        for (k, to) in phases.iter().enumerate() {
            out.push(Body {
                at: at(i * 10 + k),
                kind: RecordKind::SystemPhase,
                system: system.clone(),
                data: json!({ "from": k.checked_sub(1).map(|p| phases[p]), "to": to, "message": format!("system {i} {to}"), "objectiveSeconds": 14_400 }),
            });
        }
        for step in ["start-database", "verify-database", "start-app"] {
            for phase in ["Running", "Succeeded"] {
                out.push(Body {
                    at: at(i * 10 + 3),
                    kind: RecordKind::Step,
                    system: system.clone(),
                    data: json!({ "step": step, "phase": phase, "attempt": 1, "token": format!("northern-care-system-{i:04}-{step}-1-0123456789ab") }),
                });
            }
        }
        for check in ["ready", "healthy"] {
            out.push(Body {
                at: at(i * 10 + 4),
                kind: RecordKind::Check,
                system: system.clone(),
                data: json!({ "check": check, "phase": "Running", "attempts": 1, "error": "GET http://app.northern-care.svc:8080/healthz: status 503, expected [200]", "failing": false }),
            });
            out.push(Body {
                at: at(i * 10 + 5),
                kind: RecordKind::Check,
                system: system.clone(),
                data: json!({ "check": check, "phase": "Succeeded", "attempts": 2, "error": null, "failing": false }),
            });
        }
        out.push(Body {
            at: at(i * 10 + 3),
            kind: RecordKind::DataLoss,
            system: system.clone(),
            data: json!({ "step": "start-database", "restorePoint": at(0), "incidentAt": at(3600), "windowSeconds": 3600, "objectiveSeconds": 86_400, "objectiveMet": true }),
        });
        for stage in ["it-validation", "pilot-ward"] {
            out.push(Body {
                at: at(i * 10 + 6),
                kind: RecordKind::Release,
                system: system.clone(),
                data: json!({ "stage": stage }),
            });
            out.push(Body {
                at: at(i * 10 + 6),
                kind: RecordKind::Notice,
                system: system.clone(),
                data: json!({ "plan": "northern-care/recovery", "system": format!("northern-care/system-{i:04}"), "displayName": format!("System {i}"),
                              "stage": stage, "audience": "Ward 7B staff at Royal Oldham", "releasedAt": at(i * 10 + 6),
                              "checks": [{ "name": "ready", "passed": true, "runs": 2 }, { "name": "healthy", "passed": true, "runs": 2 }],
                              "dataLoss": { "step": "start-database", "restorePoint": at(0), "incidentAt": at(3600), "windowSeconds": 3600, "objectiveSeconds": 86_400, "objectiveMet": true },
                              "handBack": [{ "item": "back-enter paper results since the restore point" }, { "item": "re-check allergies recorded on paper" }] }),
            });
        }
        out.push(Body {
            at: at(i * 10 + 8),
            kind: RecordKind::HandBack,
            system: system.clone(),
            data: json!({ "item": "back-enter paper results since the restore point", "by": "nurse-bob", "groups": ["ward-7b"], "request": format!("hb-{i}"), "comment": null }),
        });
        if i % 50 == 49 {
            let names: Vec<String> = (i - 49..=i)
                .map(|n| format!("northern-care/system-{n:04}"))
                .collect();
            out.push(Body {
                at: at(i * 10 + 7),
                kind: RecordKind::Approval,
                system: None,
                data: json!({ "name": format!("pilot-ward-alice-{i}"), "stage": "pilot-ward", "systems": names, "decision": "approve", "accepted": true,
                              "reason": "counts", "approver": { "username": "alice", "groups": ["clinical-safety"] },
                              "comment": "Results viewer checked against the paper log for ward 7B; allergies re-checked.", "acknowledged": ["paper records back-entered", "ward briefed"] }),
            });
        }
    }
    out
}

fn chain(bodies: Vec<Body>) -> Vec<RecordEntry> {
    let mut out: Vec<RecordEntry> = Vec::with_capacity(bodies.len());
    for (seq, b) in (0u64..).zip(bodies) {
        let prev = out.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
        out.push(seal(seq, &prev, b));
    }
    out
}

fn record(c: &mut Criterion) {
    let entries = chain(bodies(SYSTEMS));
    let chunks = chunk_lengths(&entries);
    let bytes: usize = entries.iter().map(entry_size).sum();
    let mut at = 0;
    let mut largest = 0;
    for n in &chunks {
        let size: usize = entries[at..at + n].iter().map(entry_size).sum();
        largest = largest.max(size);
        at += n;
    }
    assert!(largest <= CHUNK_BYTES, "a chunk of {largest} bytes");
    let bundle = serde_json::to_vec(
        &json!({ "manifest": { "entries": entries.len() }, "entries": entries }),
    )
    .expect("json");
    println!(
        "record of {SYSTEMS} systems: {} entries, {:.1} MiB of JSON, {} chunks (largest {} KiB, limit {} KiB), bundle {:.1} MiB",
        entries.len(),
        bytes as f64 / 1_048_576.0,
        chunks.len(),
        largest / 1024,
        CHUNK_BYTES / 1024,
        bundle.len() as f64 / 1_048_576.0
    );
    let head = (
        entries.last().expect("entries").hash.clone(),
        entries.len() as u64,
    );

    let mut g = c.benchmark_group("record_2k");
    g.sample_size(10);
    g.bench_function("seal", |b| {
        b.iter_batched(
            || bodies(SYSTEMS),
            |bs| black_box(chain(bs)),
            criterion::BatchSize::LargeInput,
        )
    });
    g.bench_function("export_json", |b| {
        b.iter(|| black_box(serde_json::to_vec(&json!({ "entries": &entries })).expect("json")))
    });
    g.bench_function("verify_from_json", |b| {
        b.iter(|| {
            let parsed: serde_json::Value = serde_json::from_slice(&bundle).expect("parse");
            let entries: Vec<RecordEntry> =
                serde_json::from_value(parsed["entries"].clone()).expect("entries");
            verify(&entries, Some((&head.0, head.1))).expect("verifies");
        })
    });
    g.bench_function("report", |b| {
        b.iter(|| {
            let r = lifeline::report::recovery::Recovery::from_entries(
                "northern-care/recovery",
                "uid",
                &entries,
                Some((&head.0, head.1)),
            );
            black_box((
                lifeline::report::recovery::markdown(&r),
                lifeline::report::recovery::html(&r),
            ))
        })
    });
    g.finish();
}

/// On a cluster (`LIFELINE_BENCH_KUBECONFIG`): the record stored as the operator stores it,
/// one RecoveryRecord per chunk in a namespace of its own, then `lifeline evidence export`
/// (the binary, as a user runs it: it lists the chunks and writes the bundle) and
/// `lifeline evidence verify` of that bundle, three times each, and the namespace deleted.
fn on_cluster(entries: &[RecordEntry]) {
    let Some(kubeconfig) = std::env::var_os("LIFELINE_BENCH_KUBECONFIG") else {
        println!(
            "record on a cluster: not measured (set LIFELINE_BENCH_KUBECONFIG to a cluster with lifeline's CRDs)"
        );
        return;
    };
    use k8s_openapi::api::core::v1::Namespace;
    use kube::{Api, Client, Config, api::PostParams, config::KubeConfigOptions};
    use lifeline::api::v1alpha1::{
        RECORD_PLAN_LABEL, RECORD_PLAN_UID_LABEL, RecordSubject, RecoveryRecord, RecoveryRecordSpec,
    };
    let ns = format!("record-bench-{}", std::process::id());
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let client = rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).expect("read kubeconfig");
        let cfg = Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
            .await
            .expect("kubeconfig");
        Client::try_from(cfg).expect("client")
    });
    let uid = "00000000-0000-4000-8000-000000002000";
    let write = std::time::Instant::now();
    rt.block_on(async {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        namespaces
            .create(
                &PostParams::default(),
                &serde_json::from_value(json!({ "metadata": { "name": ns } })).expect("ns"),
            )
            .await
            .expect("create the namespace");
        let records: Api<RecoveryRecord> = Api::namespaced(client.clone(), &ns);
        let (mut at, mut chunk) = (0usize, 0u32);
        let lengths = chunk_lengths(entries);
        let last = lengths.len().saturating_sub(1);
        for (i, n) in lengths.into_iter().enumerate() {
            let mut r = RecoveryRecord::new(
                &format!("recovery-record-{chunk}"),
                RecoveryRecordSpec {
                    plan: "recovery".into(),
                    plan_uid: uid.into(),
                    subject: RecordSubject::RecoveryPlan,
                    run: None,
                    chunk,
                    first: at as u64,
                    sealed: i != last,
                    retain_until: None,
                    entries: entries[at..at + n].to_vec(),
                },
            );
            r.metadata.labels = Some(
                [
                    (RECORD_PLAN_LABEL.to_string(), "recovery".to_string()),
                    (RECORD_PLAN_UID_LABEL.to_string(), uid.to_string()),
                ]
                .into(),
            );
            records
                .create(&PostParams::default(), &r)
                .await
                .unwrap_or_else(|e| panic!("create chunk {chunk}: {e}"));
            at += n;
            chunk += 1;
        }
    });
    let written = write.elapsed();
    let dir = tempfile::tempdir().expect("tempdir");
    let bundle = dir.path().join("recovery.json");
    let lifeline = |args: &[&str]| {
        let t = std::time::Instant::now();
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_lifeline"))
            .args(args)
            .env("KUBECONFIG", &kubeconfig)
            .output()
            .expect("run lifeline");
        assert!(
            out.status.success(),
            "lifeline {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        t.elapsed()
    };
    let b = bundle.display().to_string();
    let mut export: Vec<_> = (0..3)
        .map(|_| lifeline(&["evidence", "export", "recovery", "-n", &ns, "-o", &b]))
        .collect();
    let mut check: Vec<_> = (0..3)
        .map(|_| lifeline(&["evidence", "verify", &b]))
        .collect();
    export.sort();
    check.sort();
    println!(
        "record on a cluster: {} chunks written in {:.1} s; lifeline evidence export {:.2} s (median of 3, {:.2} to {:.2}), bundle {:.1} MiB; lifeline evidence verify {:.2} s (median of 3, {:.2} to {:.2})",
        chunk_lengths(entries).len(),
        written.as_secs_f64(),
        export[1].as_secs_f64(),
        export[0].as_secs_f64(),
        export[2].as_secs_f64(),
        std::fs::metadata(&bundle).map(|m| m.len()).unwrap_or(0) as f64 / 1_048_576.0,
        check[1].as_secs_f64(),
        check[0].as_secs_f64(),
        check[2].as_secs_f64(),
    );
    rt.block_on(async {
        let namespaces: Api<Namespace> = Api::all(client.clone());
        let _ = namespaces.delete(&ns, &Default::default()).await;
    });
}

fn cluster(_: &mut Criterion) {
    on_cluster(&chain(bodies(SYSTEMS)));
}

criterion_group!(benches, record, cluster);
criterion_main!(benches);
