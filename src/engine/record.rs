//! The recovery record, pure: what a reconcile adds to it ([`transitions`]: every change
//! between the status before and after, and every Approval and intervention as the
//! operator saw it), how an entry is sealed into the chain ([`seal`]: the SHA-256 of the
//! entry before, and of its own canonical JSON), and how a chain is checked ([`verify`]:
//! the first entry altered, missing, reordered or added, or a chain cut short).

use std::collections::BTreeSet;

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use serde_json::{Value, json};

use crate::api::v1alpha1::{Approval, RecordEntry, RecordKind, RecoveryPlanStatus, SystemStatus};

/// The most a chunk of a record holds, in bytes of JSON: well under etcd's 1.5 MiB
/// request limit, with room for the object around it.
pub const CHUNK_BYTES: usize = 256 * 1024;

/// The size of `entry` as a chunk stores it (its JSON).
pub fn entry_size(entry: &RecordEntry) -> usize {
    serde_json::to_vec(entry).map_or(0, |v| v.len())
}

/// Whether an entry of `entry_bytes` starts a new chunk after one holding `chunk_bytes`
/// (a chunk is never left empty, whatever one entry weighs).
pub fn starts_new_chunk(chunk_bytes: usize, entry_bytes: usize, chunk_empty: bool) -> bool {
    !chunk_empty && chunk_bytes + entry_bytes > CHUNK_BYTES
}

/// How `entries` fall into chunks: the number of entries in each.
pub fn chunk_lengths(entries: &[RecordEntry]) -> Vec<usize> {
    let mut out = vec![0usize];
    let mut bytes = 0;
    for e in entries {
        let n = entry_size(e);
        if starts_new_chunk(bytes, n, out.last() == Some(&0)) {
            out.push(0);
            bytes = 0;
        }
        bytes += n;
        if let Some(last) = out.last_mut() {
            *last += 1;
        }
    }
    out
}

/// The `prev` of the first entry.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// An entry before it is sealed into the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct Body {
    /// When it happened.
    pub at: Time,
    /// What kind of thing.
    pub kind: RecordKind,
    /// The system it is about.
    pub system: Option<String>,
    /// The details.
    pub data: Value,
}

impl Body {
    /// Whether `entry` records the same thing as this body (time aside): how a reconcile
    /// that ran again after a crash knows what it already recorded.
    pub fn same_as(&self, entry: &RecordEntry) -> bool {
        self.kind == entry.kind && self.system == entry.system && self.data == entry.data
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 (hex) of `entry`'s canonical JSON without its `hash`: keys sorted, no
/// whitespace.
pub fn entry_hash(entry: &RecordEntry) -> String {
    let canonical = json!({
        "seq": entry.seq,
        "at": entry.at,
        "kind": entry.kind,
        "system": entry.system,
        "data": entry.data,
        "prev": entry.prev,
    });
    // serde_json's maps are sorted by key (no `preserve_order`), so this is canonical.
    let text = serde_json::to_string(&canonical).unwrap_or_default();
    hex(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref())
}

/// Seals `body` as entry `seq` after the entry whose hash is `prev`.
pub fn seal(seq: u64, prev: &str, body: Body) -> RecordEntry {
    let mut entry = RecordEntry {
        seq,
        at: body.at,
        kind: body.kind,
        system: body.system,
        data: body.data,
        prev: prev.to_string(),
        hash: String::new(),
    };
    entry.hash = entry_hash(&entry);
    entry
}

/// What is wrong with a chain: the first problem found, naming the entry.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Tamper {
    /// An entry's content no longer matches its hash, or the entry after it no longer
    /// follows it (it was changed and its hash made again).
    #[error("entry {seq} was altered: {why}")]
    Altered {
        /// The entry.
        seq: u64,
        /// What gave it away.
        why: String,
    },
    /// An entry is missing from the chain.
    #[error("entry {seq} is missing: the chain goes from {before} to {after}")]
    Missing {
        /// The missing entry.
        seq: u64,
        /// The entry before the gap (or none).
        before: String,
        /// The entry after it.
        after: u64,
    },
    /// Entries are out of order.
    #[error("entry {seq} is out of order: it stands where entry {expected} belongs")]
    Reordered {
        /// The entry found.
        seq: u64,
        /// The entry that belongs there.
        expected: u64,
    },
    /// An entry appears that the chain does not hold: a second entry with one number, or
    /// one after the head the manifest records.
    #[error("entry {seq} was added: {why}")]
    Added {
        /// The entry.
        seq: u64,
        /// Why it does not belong.
        why: String,
    },
    /// The chain ends before the head the manifest records: entries `entries` to
    /// `expected - 1` are missing from its end.
    #[error(
        "the chain was cut short: entry {entries} and every one after it are missing (it ends after {entries} entries, the manifest records {expected}, head {head})"
    )]
    Truncated {
        /// Entries found.
        entries: u64,
        /// Entries recorded.
        expected: u64,
        /// The head recorded.
        head: String,
    },
}

/// Checks `entries` (in stored order) as a chain from the genesis to `head` (the hash of
/// the last entry, and how many there are, as a manifest or the plan's status records
/// them, when known). Returns the first problem, naming the entry.
pub fn verify(entries: &[RecordEntry], head: Option<(&str, u64)>) -> Result<(), Tamper> {
    // The numbering first: a duplicate, a gap, or entries out of order.
    let mut seen = BTreeSet::new();
    for e in entries {
        if !seen.insert(e.seq) {
            return Err(Tamper::Added {
                seq: e.seq,
                why: "a second entry with this number".into(),
            });
        }
    }
    for (expected, e) in (0u64..).zip(entries) {
        if e.seq != expected {
            if seen.contains(&expected) {
                return Err(Tamper::Reordered {
                    seq: e.seq,
                    expected,
                });
            }
            return Err(Tamper::Missing {
                seq: expected,
                before: expected
                    .checked_sub(1)
                    .map_or("the start".into(), |b| format!("entry {b}")),
                after: e.seq,
            });
        }
    }
    // Each entry's content, then each link.
    let mut prev = GENESIS.to_string();
    for (i, e) in entries.iter().enumerate() {
        if entry_hash(e) != e.hash {
            return Err(Tamper::Altered {
                seq: e.seq,
                why: "its content does not match its hash".into(),
            });
        }
        if e.prev != prev {
            // The entry before was changed and its hash made again.
            let seq = i.checked_sub(1).map_or(e.seq, |b| entries[b].seq);
            return Err(Tamper::Altered {
                seq,
                why: format!("entry {} no longer follows it", e.seq),
            });
        }
        prev = e.hash.clone();
    }
    // The head.
    if let Some((head, count)) = head {
        let found = entries.len() as u64;
        if found < count {
            return Err(Tamper::Truncated {
                entries: found,
                expected: count,
                head: head.to_string(),
            });
        }
        if found > count {
            return Err(Tamper::Added {
                seq: count,
                why: format!("the manifest's head is entry {}", count.saturating_sub(1)),
            });
        }
        if found > 0 && prev != head {
            return Err(Tamper::Altered {
                seq: found - 1,
                why: "it is not the head the manifest records".into(),
            });
        }
    }
    Ok(())
}

fn body(at: &Time, kind: RecordKind, system: Option<&str>, data: Value) -> Body {
    Body {
        at: at.clone(),
        kind,
        system: system.map(str::to_string),
        data,
    }
}

/// What changed in one system between `before` (none: new to the plan) and `after`.
fn system_transitions(
    before: Option<&SystemStatus>,
    after: &SystemStatus,
    now: &Time,
) -> Vec<Body> {
    let mut out = Vec::new();
    let name = Some(after.name.as_str());
    if before.map(|b| b.phase) != Some(after.phase) {
        out.push(body(
            now,
            RecordKind::SystemPhase,
            name,
            json!({
                "from": before.map(|b| b.phase),
                "to": after.phase,
                "tier": after.tier,
                "message": after.message,
                "blockedBy": after.blocked_by,
                "heldBy": after.held_by.as_ref().map(|h| &h.plan),
                "recoverySeconds": after.recovery_seconds,
                "objectiveSeconds": after.objective_seconds,
                "objectiveMet": after.objective_met,
            }),
        ));
    }
    for step in &after.steps {
        let old = before.and_then(|b| b.steps.iter().find(|s| s.name == step.name));
        let changed = old.is_none_or(|o| o.phase != step.phase || o.attempts != step.attempts);
        if changed && (old.is_some() || step.attempts > 0) {
            out.push(body(
                now,
                RecordKind::Step,
                name,
                json!({
                    "step": step.name,
                    "phase": step.phase,
                    "attempt": step.attempts,
                    "message": step.message,
                    "token": step.token,
                }),
            ));
        }
    }
    for check in &after.checks {
        let old = before.and_then(|b| b.checks.iter().find(|c| c.name == check.name));
        let changed = old.is_none_or(|o| {
            o.phase != check.phase
                || o.last_error != check.last_error
                || o.failing_since.is_some() != check.failing_since.is_some()
        });
        if changed && (old.is_some() || check.attempts > 0) {
            out.push(body(
                now,
                RecordKind::Check,
                name,
                json!({
                    "check": check.name,
                    "phase": check.phase,
                    "attempts": check.attempts + check.reruns,
                    "error": check.last_error,
                    "failing": check.failing_since.is_some(),
                }),
            ));
        }
    }
    let released_before = before.map_or(0, |b| b.releases.len());
    for r in after.releases.iter().skip(released_before) {
        out.push(body(
            &r.at,
            RecordKind::Release,
            name,
            json!({ "stage": r.stage }),
        ));
    }
    if after.data_loss.is_some()
        && before.and_then(|b| b.data_loss.as_ref()) != after.data_loss.as_ref()
    {
        out.push(body(
            now,
            RecordKind::DataLoss,
            name,
            serde_json::to_value(&after.data_loss).unwrap_or(Value::Null),
        ));
    }
    for item in &after.hand_back {
        let Some(by) = &item.done_by else { continue };
        let known = before.is_some_and(|b| {
            b.hand_back
                .iter()
                .any(|o| o.item == item.item && o.request == item.request && o.done_by.is_some())
        });
        if !known {
            out.push(body(
                item.done_at.as_ref().unwrap_or(now),
                RecordKind::HandBack,
                name,
                json!({
                    "item": item.item,
                    "by": by,
                    "groups": item.groups,
                    "request": item.request,
                    "comment": item.comment,
                }),
            ));
        }
    }
    let regressions_before = before.map_or(0, |b| b.regression_count);
    if after.regression_count > regressions_before
        && let Some(r) = after.regressions.last()
    {
        out.push(body(
            &r.started_at,
            RecordKind::RegressionStarted,
            name,
            json!({ "check": r.check, "error": r.error, "withdrawn": r.withdrawn, "count": after.regression_count }),
        ));
    }
    for r in &after.regressions {
        let ended_before = before.is_some_and(|b| {
            b.regressions
                .iter()
                .any(|o| o.started_at == r.started_at && o.ended_at.is_some())
        });
        if let Some(end) = r.ended_at.as_ref().filter(|_| !ended_before) {
            out.push(body(
                end,
                RecordKind::RegressionEnded,
                name,
                json!({ "check": r.check, "startedAt": r.started_at, "seconds": r.seconds }),
            ));
        }
    }
    out
}

/// Everything a reconcile adds to the record, in order: the plan's phase (the first entry
/// also says what the run is measured from), each system's transitions (phase, steps,
/// checks, releases, regressions, data loss, hand-back), each release notice sent, each
/// Approval the operator decided on for the first time (copied in full from `approvals`:
/// approver, groups, comment, systems, acknowledged items) and each new intervention.
pub fn transitions(
    prev: &RecoveryPlanStatus,
    next: &RecoveryPlanStatus,
    approvals: &[Approval],
    notices: &[crate::engine::notice::ReleaseNotice],
    now: Timestamp,
) -> Vec<Body> {
    let now = Time(now);
    let mut out = Vec::new();
    if prev.phase != next.phase || prev.started_at.is_none() {
        let mut data = json!({ "from": prev.phase, "to": next.phase, "progress": next.progress });
        if prev.started_at.is_none() {
            data["startedAt"] = json!(next.started_at);
            data["measuredFrom"] = json!(next.measured_from.as_ref().or(next.started_at.as_ref()));
        }
        out.push(body(&now, RecordKind::PlanPhase, None, data));
    }
    for (i, s) in next.systems.iter().enumerate() {
        let before = prev.system(i, &s.name);
        out.extend(system_transitions(before, s, &now));
    }
    for n in notices {
        out.push(body(
            &n.released_at,
            RecordKind::Notice,
            Some(&n.system),
            serde_json::to_value(n).unwrap_or(Value::Null),
        ));
    }
    for a in &next.approvals {
        let known = prev
            .approvals
            .iter()
            .any(|p| p.name == a.name && p.accepted == a.accepted && p.reason == a.reason);
        if known {
            continue;
        }
        let full = approvals
            .iter()
            .find(|x| x.metadata.name.as_deref() == Some(a.name.as_str()));
        out.push(body(
            &now,
            RecordKind::Approval,
            None,
            json!({
                "name": a.name,
                "stage": a.stage,
                "systems": a.systems,
                "decision": a.decision,
                "accepted": a.accepted,
                "reason": a.reason,
                "approver": full.map(|x| &x.spec.approver),
                "comment": full.and_then(|x| x.spec.comment.as_ref()),
                "acknowledged": full.map(|x| &x.spec.acknowledged),
                "planUid": full.and_then(|x| x.spec.plan_uid.as_ref()),
                "createdAt": a.at,
            }),
        ));
    }
    let known = prev.interventions.len() + prev.interventions_not_listed as usize;
    let now_total = next.interventions.len() + next.interventions_not_listed as usize;
    let new = now_total
        .saturating_sub(known)
        .min(next.interventions.len());
    for r in next
        .interventions
        .iter()
        .skip(next.interventions.len() - new)
    {
        out.push(body(
            &r.at,
            RecordKind::Intervention,
            r.system.as_deref(),
            serde_json::to_value(r).unwrap_or(Value::Null),
        ));
    }
    out
}

/// Everything a drill reconcile adds to the record of its current run, in order: the
/// phase, the pre-drill state once recorded, each fault injected, proven and lifted, the
/// recovery plan created, each system's measured recovery, each approval, what the revert
/// put back, and the outcome. `prev` is the status before (its run, if the same run).
pub fn drill_transitions(
    prev: &crate::api::v1alpha1::RecoveryDrillStatus,
    next: &crate::api::v1alpha1::RecoveryDrillStatus,
    now: Timestamp,
) -> Vec<Body> {
    let now = Time(now);
    let Some(run) = &next.run else {
        return Vec::new();
    };
    let before = prev.run.as_ref().filter(|r| r.number == run.number);
    let mut out = Vec::new();
    let phase_changed = prev.phase != next.phase || before.is_none();
    let outcome_new = run.outcome.is_some() && before.and_then(|b| b.outcome) != run.outcome;
    if phase_changed || outcome_new {
        out.push(body(
            &now,
            RecordKind::DrillPhase,
            None,
            json!({
                "from": prev.phase,
                "to": next.phase,
                "run": run.number,
                "trigger": run.trigger,
                "message": next.message,
                "outcome": run.outcome,
                "reason": run.reason,
                "held": next.held,
            }),
        ));
    }
    if !run.pre_state.is_empty() && before.is_none_or(|b| b.pre_state.is_empty()) {
        out.push(body(
            &now,
            RecordKind::PreDrillState,
            None,
            json!({ "objects": run.pre_state }),
        ));
    }
    for f in &run.faults {
        let old = before.and_then(|b| {
            b.faults
                .iter()
                .find(|o| o.system == f.system && o.kind == f.kind && o.target == f.target)
        });
        let newly = |a: Option<&Time>, b: Option<&Time>| a.is_some() && b.is_none();
        for (what, at, was) in [
            (
                "injected",
                f.injected_at.as_ref(),
                old.and_then(|o| o.injected_at.as_ref()),
            ),
            (
                "proven",
                f.proven_at.as_ref(),
                old.and_then(|o| o.proven_at.as_ref()),
            ),
            (
                "lifted",
                f.lifted_at.as_ref(),
                old.and_then(|o| o.lifted_at.as_ref()),
            ),
        ] {
            if newly(at, was) {
                out.push(body(
                    at.unwrap_or(&now),
                    RecordKind::Fault,
                    Some(&f.system),
                    json!({
                        "event": what,
                        "kind": f.kind,
                        "target": f.target,
                        "proof": if what == "proven" { f.proof.clone() } else { None },
                        "podUids": if what == "proven" { f.pod_uids.clone() } else { Vec::new() },
                    }),
                ));
            }
        }
    }
    if run.plan.is_some() && before.is_none_or(|b| b.plan.is_none()) {
        out.push(body(
            run.recovery_started_at.as_ref().unwrap_or(&now),
            RecordKind::DrillRecovery,
            None,
            json!({ "plan": run.plan }),
        ));
    }
    for sys in &run.systems {
        let old = before.and_then(|b| b.systems.iter().find(|o| o.name == sys.name));
        let changed = old.is_none_or(|o| {
            o.phase != sys.phase
                || o.verified_at != sys.verified_at
                || o.fully_released_at != sys.fully_released_at
                || o.objective_met != sys.objective_met
        });
        if changed && (sys.verified_at.is_some() || sys.failed_at.is_some() || old.is_some()) {
            out.push(body(
                &now,
                RecordKind::DrillSystem,
                Some(&sys.name),
                serde_json::to_value(sys).unwrap_or(Value::Null),
            ));
        }
    }
    let approvals_before = before.map_or(0, |b| b.approvals.len());
    for a in run.approvals.iter().skip(approvals_before) {
        out.push(body(
            a.at.as_ref().unwrap_or(&now),
            RecordKind::DrillApproval,
            None,
            serde_json::to_value(a).unwrap_or(Value::Null),
        ));
    }
    let reverted_before = before.map_or(0, |b| b.reverted.len());
    if run.reverted.len() > reverted_before {
        out.push(body(
            &now,
            RecordKind::Revert,
            None,
            json!({ "putBack": run.reverted[reverted_before..] }),
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn chain(n: u64) -> Vec<RecordEntry> {
        let mut out: Vec<RecordEntry> = Vec::new();
        for seq in 0..n {
            let prev = out.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
            out.push(seal(
                seq,
                &prev,
                Body {
                    at: Time(Timestamp::from_second(1_750_000_000 + seq as i64).expect("t")),
                    kind: RecordKind::SystemPhase,
                    system: Some(format!("ward/s{seq}")),
                    data: json!({ "to": "Verified", "n": seq }),
                },
            ));
        }
        out
    }

    fn head(c: &[RecordEntry]) -> Option<(&str, u64)> {
        c.last().map(|e| (e.hash.as_str(), c.len() as u64))
    }

    #[test]
    fn chunks_stay_under_the_limit_and_hold_every_entry() {
        let mut c: Vec<RecordEntry> = Vec::new();
        for seq in 0..3_000u64 {
            let prev = c.last().map_or(GENESIS.to_string(), |e| e.hash.clone());
            c.push(seal(
                seq,
                &prev,
                Body {
                    at: Time(Timestamp::from_second(1_750_000_000).expect("t")),
                    kind: RecordKind::Approval,
                    system: None,
                    data: json!({ "comment": "x".repeat(500 + (seq as usize % 700)) }),
                },
            ));
        }
        let lengths = chunk_lengths(&c);
        assert!(lengths.len() > 1, "{lengths:?}");
        assert_eq!(lengths.iter().sum::<usize>(), c.len());
        let mut at = 0;
        for n in lengths {
            let bytes: usize = c[at..at + n].iter().map(entry_size).sum();
            assert!(n > 0 && bytes <= CHUNK_BYTES, "{n} entries, {bytes} bytes");
            at += n;
        }
    }

    #[test]
    fn a_drill_run_records_each_fault_once_as_injected_then_proven() {
        use crate::api::v1alpha1::{DrillPhase, DrillRun, RecoveryDrillStatus};
        let t = |s: i64| Time(Timestamp::from_second(1_750_000_000 + s).expect("t"));
        let fault: crate::api::v1alpha1::FaultRecord = serde_json::from_value(json!({
            "system": "lims", "kind": "deletePods", "target": "pods of lims"
        }))
        .expect("fault");
        let pre: crate::api::v1alpha1::RecordedState = serde_json::from_value(json!({
            "kind": "Deployment", "name": "lims", "replicas": 2, "existed": true
        }))
        .expect("pre-state");
        let idle = RecoveryDrillStatus::default();
        let mut injecting = RecoveryDrillStatus {
            phase: DrillPhase::Injecting,
            run: Some(DrillRun {
                number: 1,
                started_at: Some(t(0)),
                pre_state: vec![pre],
                faults: vec![fault],
                ..Default::default()
            }),
            ..Default::default()
        };
        if let Some(f) = injecting.run.as_mut().map(|r| &mut r.faults[0]) {
            f.injected_at = Some(t(1));
        }
        let kinds = |b: &[Body]| b.iter().map(|b| b.kind).collect::<Vec<_>>();
        let first = drill_transitions(&idle, &injecting, t(1).0);
        assert_eq!(
            kinds(&first),
            [
                RecordKind::DrillPhase,
                RecordKind::PreDrillState,
                RecordKind::Fault
            ]
        );
        assert_eq!(first[2].data["event"], json!("injected"));
        let mut proven = injecting.clone();
        if let Some(f) = proven.run.as_mut().map(|r| &mut r.faults[0]) {
            f.proven_at = Some(t(2));
            f.proof = Some("none of the 2 deleted pods is left".into());
        }
        let second = drill_transitions(&injecting, &proven, t(2).0);
        assert_eq!(kinds(&second), [RecordKind::Fault]);
        assert_eq!(second[0].data["event"], json!("proven"));
        assert_eq!(
            second[0].data["proof"],
            json!("none of the 2 deleted pods is left")
        );
        assert!(
            drill_transitions(&proven, &proven, t(3).0).is_empty(),
            "nothing new"
        );
    }

    #[test]
    fn an_intact_chain_verifies() {
        let c = chain(5);
        assert_eq!(verify(&c, head(&c)), Ok(()));
        assert_eq!(verify(&[], Some((GENESIS, 0))), Ok(()));
    }

    #[test]
    fn an_edited_entry_is_named() {
        let c = chain(5);
        let mut t = c.clone();
        t[2].data = json!({ "to": "Failed", "n": 2 });
        assert!(matches!(
            verify(&t, head(&c)),
            Err(Tamper::Altered { seq: 2, .. })
        ));
        // Its hash made again: the next entry no longer follows it.
        t[2].hash = entry_hash(&t[2]);
        assert!(matches!(
            verify(&t, head(&c)),
            Err(Tamper::Altered { seq: 2, .. })
        ));
    }

    #[test]
    fn a_missing_reordered_added_or_cut_entry_is_named() {
        let c = chain(5);
        let mut missing = c.clone();
        missing.remove(3);
        assert!(matches!(
            verify(&missing, head(&c)),
            Err(Tamper::Missing {
                seq: 3,
                after: 4,
                ..
            })
        ));
        let mut reordered = c.clone();
        reordered.swap(1, 2);
        assert!(matches!(
            verify(&reordered, head(&c)),
            Err(Tamper::Reordered {
                seq: 2,
                expected: 1
            })
        ));
        let mut cut = c.clone();
        cut.truncate(3);
        assert!(matches!(
            verify(&cut, head(&c)),
            Err(Tamper::Truncated {
                entries: 3,
                expected: 5,
                ..
            })
        ));
        // A forged entry appended with a hash made to fit.
        let mut added = c.clone();
        let forged = seal(
            5,
            &c[4].hash,
            Body {
                at: c[4].at.clone(),
                kind: RecordKind::Approval,
                system: None,
                data: json!({ "approver": "mallory" }),
            },
        );
        added.push(forged);
        assert_eq!(
            verify(&added, None),
            Ok(()),
            "without a head, a well-made addition is a longer chain"
        );
        assert!(matches!(
            verify(&added, head(&c)),
            Err(Tamper::Added { seq: 5, .. })
        ));
        let mut twice = c.clone();
        twice.push(c[4].clone());
        assert!(matches!(
            verify(&twice, head(&c)),
            Err(Tamper::Added { seq: 4, .. })
        ));
    }
}
