//! The recovery record, against the cluster: each reconcile's transitions
//! ([`crate::engine::record::transitions`] for a plan,
//! [`crate::engine::record::drill_transitions`] for a drill run) sealed into the chain and
//! appended to the RecoveryRecord chunks of the plan or run before the status that reports
//! them is written, so a crash in between finds them there and does not record them twice.
//! Chunks are not owned by the plan or drill (they outlive it) and stay well under etcd's
//! request size.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams},
};

use crate::api::v1alpha1::{
    Approval, RECORD_DRILL_LABEL, RECORD_PLAN_LABEL, RECORD_PLAN_UID_LABEL, RECORD_RUN_LABEL,
    RecordHead, RecordSubject, RecoveryDrill, RecoveryPlan, RecoveryPlanStatus, RecoveryRecord,
    RecoveryRecordSpec,
};
use crate::controller::{Context, FIELD_MANAGER};
use crate::engine::record::{
    Body, GENESIS, entry_size as size, seal, starts_new_chunk, transitions,
};
use crate::error::{Error, KubeContext};

pub use crate::engine::record::CHUNK_BYTES;
/// How long records are kept by default: 400 days, past a year's review and audit.
pub const DEFAULT_RETENTION: std::time::Duration = std::time::Duration::from_secs(400 * 86_400);

/// The name of chunk `chunk` of the record of the plan `plan` (uid `uid`).
pub fn chunk_name(plan: &str, uid: &str, chunk: u32) -> String {
    let n = chunk.to_string();
    crate::engine::names::hashed_name(&[plan, "record", &n], &[uid, "record", &n])
}

/// The name of chunk `chunk` of the record of run `run` of the drill `drill` (uid `uid`).
pub fn drill_chunk_name(drill: &str, uid: &str, run: u32, chunk: u32) -> String {
    let (r, n) = (run.to_string(), chunk.to_string());
    crate::engine::names::hashed_name(
        &[drill, "run", &r, "record", &n],
        &[uid, "run", &r, "record", &n],
    )
}

/// What a record is of: a plan's run, or one run of a drill.
#[derive(Clone, Debug)]
pub struct Subject {
    /// The namespace.
    pub namespace: String,
    /// The plan's or drill's name.
    pub name: String,
    /// Its uid.
    pub uid: String,
    /// When it was created: the retention counts from here.
    pub created: Timestamp,
    /// Plan or drill.
    pub kind: RecordSubject,
    /// For a drill: the run.
    pub run: Option<u32>,
}

impl Subject {
    /// The record of `plan`'s run.
    pub fn of_plan(plan: &RecoveryPlan) -> Subject {
        Subject {
            namespace: plan.namespace().unwrap_or_default(),
            name: plan.name_any(),
            uid: plan.uid().unwrap_or_default(),
            created: plan
                .metadata
                .creation_timestamp
                .as_ref()
                .map_or_else(Timestamp::now, |t| t.0),
            kind: RecordSubject::RecoveryPlan,
            run: None,
        }
    }

    /// The record of run `run` of `drill`, which started at `started` (its retention
    /// counts from there).
    pub fn of_drill_run(drill: &RecoveryDrill, run: u32, started: Option<Timestamp>) -> Subject {
        Subject {
            namespace: drill.namespace().unwrap_or_default(),
            name: drill.name_any(),
            uid: drill.uid().unwrap_or_default(),
            created: started.unwrap_or_else(Timestamp::now),
            kind: RecordSubject::RecoveryDrill,
            run: Some(run),
        }
    }

    fn chunk_name(&self, chunk: u32) -> String {
        match self.run {
            Some(run) => drill_chunk_name(&self.name, &self.uid, run, chunk),
            None => chunk_name(&self.name, &self.uid, chunk),
        }
    }

    fn labels(&self) -> std::collections::BTreeMap<String, String> {
        let mut labels: std::collections::BTreeMap<String, String> = [
            (RECORD_PLAN_UID_LABEL.to_string(), self.uid.clone()),
            (
                "app.kubernetes.io/managed-by".to_string(),
                "lifeline".to_string(),
            ),
        ]
        .into();
        match self.run {
            Some(run) => {
                labels.insert(RECORD_DRILL_LABEL.to_string(), self.name.clone());
                labels.insert(RECORD_RUN_LABEL.to_string(), run.to_string());
            }
            None => {
                labels.insert(RECORD_PLAN_LABEL.to_string(), self.name.clone());
            }
        }
        labels
    }
}

/// A new, empty chunk.
fn new_chunk(
    subject: &Subject,
    chunk: u32,
    first: u64,
    retention: std::time::Duration,
) -> RecoveryRecord {
    RecoveryRecord {
        metadata: ObjectMeta {
            name: Some(subject.chunk_name(chunk)),
            namespace: Some(subject.namespace.clone()),
            labels: Some(subject.labels()),
            ..Default::default()
        },
        spec: RecoveryRecordSpec {
            plan: subject.name.clone(),
            plan_uid: subject.uid.clone(),
            subject: subject.kind,
            run: subject.run,
            chunk,
            first,
            sealed: false,
            retain_until: Some(Time(crate::engine::time::after(subject.created, retention))),
            entries: Vec::new(),
        },
    }
}

async fn write(
    ctx: &Context,
    api: &Api<RecoveryRecord>,
    chunk: &RecoveryRecord,
) -> Result<(), Error> {
    let name = chunk.name_any();
    let mut body = serde_json::to_value(chunk).map_err(|source| Error::Serialize {
        what: format!("RecoveryRecord {name}"),
        source,
    })?;
    body["apiVersion"] = "lifeline.dev/v1alpha1".into();
    body["kind"] = "RecoveryRecord".into();
    if let Some(meta) = body["metadata"].as_object_mut() {
        // The version the chunk was read or last written at stays: the API server
        // refuses the append (a conflict, tried again after reading it) if the stored
        // chunk has changed since, so a kept chunk can never overwrite entries.
        meta.remove("managedFields");
        meta.remove("uid");
        meta.remove("creationTimestamp");
    }
    let written = api
        .patch(
            &name,
            &PatchParams::apply(FIELD_MANAGER).force(),
            &Patch::Apply(&body),
        )
        .await
        .during(|| format!("append to RecoveryRecord {name}"));
    match written {
        Ok(written) => ctx.keep_chunk(written),
        Err(e) => {
            // It may have been stored all the same (a timeout): read it next time.
            ctx.let_go_chunk(
                chunk.metadata.namespace.as_deref().unwrap_or_default(),
                &name,
            );
            return Err(e);
        }
    }
    Ok(())
}

/// Appends what changed from `prev` to `next` to the plan's record, and sets
/// `next.record` to the new head.
pub async fn append(
    ctx: &Context,
    plan: &RecoveryPlan,
    prev: &RecoveryPlanStatus,
    next: &mut RecoveryPlanStatus,
    approvals: &[Approval],
    notices: &[crate::engine::notice::ReleaseNotice],
    now: Timestamp,
) -> Result<(), Error> {
    let bodies = transitions(prev, next, approvals, notices, now);
    next.record =
        Some(append_bodies(ctx, &Subject::of_plan(plan), prev.record.clone(), bodies).await?);
    Ok(())
}

/// Seals `bodies` into the chain of `subject`'s record after `head` (none: the record is
/// new), writes them to its chunks, and returns the new head. Entries a run before a crash
/// wrote after the head it reported are found and not written twice.
pub async fn append_bodies(
    ctx: &Context,
    subject: &Subject,
    head: Option<RecordHead>,
    mut bodies: Vec<Body>,
) -> Result<RecordHead, Error> {
    let head = head.unwrap_or(RecordHead {
        entries: 0,
        chunk: 0,
        head: GENESIS.to_string(),
    });
    if bodies.is_empty() {
        return Ok(head);
    }
    let ns = &subject.namespace;
    let api: Api<RecoveryRecord> = Api::namespaced(ctx.client.clone(), ns);
    let retention = ctx.record_retention;
    let (mut count, mut last, mut k) = (head.entries, head.head.clone(), head.chunk);
    let mut chunk = loop {
        let name = subject.chunk_name(k);
        // The chunk as this process last wrote it, if it did: only the operator writes
        // records (the admission policy refuses everyone else), so it is what is stored.
        // A process that has not written it since it started reads it.
        let found = match ctx.kept_chunk(ns, &name) {
            Some(kept) => Some(kept),
            None => api
                .get_opt(&name)
                .await
                .during(|| format!("read RecoveryRecord {ns}/{name}"))?,
        };
        let chunk = found.unwrap_or_else(|| new_chunk(subject, k, count, retention));
        // Entries written before a crash, after the status last written: already recorded.
        let from = count;
        for e in chunk.spec.entries.iter().filter(|e| e.seq >= from) {
            if bodies.first().is_some_and(|b| b.same_as(e)) {
                bodies.remove(0);
            }
            count = e.seq + 1;
            last = e.hash.clone();
        }
        if !chunk.spec.sealed {
            break chunk;
        }
        k += 1;
    };
    let mut bytes: usize = chunk.spec.entries.iter().map(size).sum();
    for b in bodies {
        let entry = seal(count, &last, b);
        let n = size(&entry);
        if starts_new_chunk(bytes, n, chunk.spec.entries.is_empty()) {
            chunk.spec.sealed = true;
            write(ctx, &api, &chunk).await?;
            k += 1;
            chunk = new_chunk(subject, k, count, retention);
            bytes = 0;
        }
        bytes += n;
        last = entry.hash.clone();
        count += 1;
        chunk.spec.entries.push(entry);
    }
    write(ctx, &api, &chunk).await?;
    Ok(RecordHead {
        entries: count,
        chunk: k,
        head: last,
    })
}

/// How often the operator deletes records past their `retainUntil`.
pub const SWEEP_INTERVAL: std::time::Duration = std::time::Duration::from_secs(3600);

/// Deletes the RecoveryRecords of `namespace` (every namespace when none) whose
/// `retainUntil` has passed. Returns how many it deleted.
pub async fn sweep(client: &kube::Client, namespace: Option<&str>) -> Result<usize, Error> {
    let api: Api<RecoveryRecord> = match namespace {
        Some(ns) => Api::namespaced(client.clone(), ns),
        None => Api::all(client.clone()),
    };
    let now = Timestamp::now();
    let mut deleted = 0;
    let list = api
        .list(&kube::api::ListParams::default())
        .await
        .during(|| "list RecoveryRecords past their retention".to_string())?;
    for r in list.items {
        let expired = r.spec.retain_until.as_ref().is_some_and(|t| t.0 < now);
        if !expired {
            continue;
        }
        let ns = r.namespace().unwrap_or_default();
        let scoped: Api<RecoveryRecord> = Api::namespaced(client.clone(), &ns);
        match scoped.delete(&r.name_any(), &Default::default()).await {
            Ok(_) => {
                deleted += 1;
                tracing::info!(record = %format!("{ns}/{}", r.name_any()), plan = %r.spec.plan, "deleted a recovery record past its retention");
            }
            Err(kube::Error::Api(e)) if e.code == 404 => {}
            Err(e) => {
                return Err(Error::Kube {
                    action: format!("delete RecoveryRecord {ns}/{}", r.name_any()),
                    source: e,
                });
            }
        }
    }
    Ok(deleted)
}
