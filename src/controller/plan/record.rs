//! The recovery record, against the cluster: each reconcile's transitions
//! ([`crate::engine::record::transitions`]) sealed into the chain and appended to the
//! plan's RecoveryRecord chunks before the status that reports them is written, so a crash
//! in between finds them there and does not record them twice. Chunks are not owned by the
//! plan (they outlive it) and stay well under etcd's request size.

use k8s_openapi::{apimachinery::pkg::apis::meta::v1::Time, jiff::Timestamp};
use kube::{
    Api, ResourceExt,
    api::{ObjectMeta, Patch, PatchParams},
};

use crate::api::v1alpha1::{
    Approval, RECORD_PLAN_LABEL, RECORD_PLAN_UID_LABEL, RecordHead, RecoveryPlan,
    RecoveryPlanStatus, RecoveryRecord, RecoveryRecordSpec,
};
use crate::controller::{Context, FIELD_MANAGER};
use crate::engine::record::{GENESIS, entry_size as size, seal, starts_new_chunk, transitions};
use crate::error::{Error, KubeContext};

pub use crate::engine::record::CHUNK_BYTES;
/// How long records are kept by default: 400 days, past a year's review and audit.
pub const DEFAULT_RETENTION: std::time::Duration = std::time::Duration::from_secs(400 * 86_400);

/// The name of chunk `chunk` of the record of the plan `plan` (uid `uid`).
pub fn chunk_name(plan: &str, uid: &str, chunk: u32) -> String {
    let n = chunk.to_string();
    crate::engine::names::hashed_name(&[plan, "record", &n], &[uid, "record", &n])
}

/// A new, empty chunk.
fn new_chunk(
    plan: &RecoveryPlan,
    chunk: u32,
    first: u64,
    retention: std::time::Duration,
) -> RecoveryRecord {
    let uid = plan.uid().unwrap_or_default();
    let created = plan
        .metadata
        .creation_timestamp
        .as_ref()
        .map_or_else(Timestamp::now, |t| t.0);
    RecoveryRecord {
        metadata: ObjectMeta {
            name: Some(chunk_name(&plan.name_any(), &uid, chunk)),
            namespace: plan.namespace(),
            labels: Some(
                [
                    (RECORD_PLAN_LABEL.to_string(), plan.name_any()),
                    (RECORD_PLAN_UID_LABEL.to_string(), uid.clone()),
                    (
                        "app.kubernetes.io/managed-by".to_string(),
                        "lifeline".to_string(),
                    ),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec: RecoveryRecordSpec {
            plan: plan.name_any(),
            plan_uid: uid,
            chunk,
            first,
            sealed: false,
            retain_until: Some(Time(crate::engine::time::after(created, retention))),
            entries: Vec::new(),
        },
    }
}

async fn write(api: &Api<RecoveryRecord>, chunk: &RecoveryRecord) -> Result<(), Error> {
    let name = chunk.name_any();
    let mut body = serde_json::to_value(chunk).map_err(|source| Error::Serialize {
        what: format!("RecoveryRecord {name}"),
        source,
    })?;
    body["apiVersion"] = "lifeline.dev/v1alpha1".into();
    body["kind"] = "RecoveryRecord".into();
    if let Some(meta) = body["metadata"].as_object_mut() {
        meta.remove("resourceVersion");
        meta.remove("managedFields");
        meta.remove("uid");
        meta.remove("creationTimestamp");
    }
    api.patch(
        &name,
        &PatchParams::apply(FIELD_MANAGER).force(),
        &Patch::Apply(&body),
    )
    .await
    .during(|| format!("append to RecoveryRecord {name}"))?;
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
    let mut bodies = transitions(prev, next, approvals, notices, now);
    let head = prev.record.clone().unwrap_or(RecordHead {
        entries: 0,
        chunk: 0,
        head: GENESIS.to_string(),
    });
    next.record = Some(head.clone());
    if bodies.is_empty() {
        return Ok(());
    }
    let ns = plan.namespace().unwrap_or_default();
    let uid = plan.uid().unwrap_or_default();
    let api: Api<RecoveryRecord> = Api::namespaced(ctx.client.clone(), &ns);
    let retention = ctx.record_retention;
    let (mut count, mut last, mut k) = (head.entries, head.head.clone(), head.chunk);
    let mut chunk = loop {
        let name = chunk_name(&plan.name_any(), &uid, k);
        let found = api
            .get_opt(&name)
            .await
            .during(|| format!("read RecoveryRecord {ns}/{name}"))?;
        let chunk = found.unwrap_or_else(|| new_chunk(plan, k, count, retention));
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
            write(&api, &chunk).await?;
            k += 1;
            chunk = new_chunk(plan, k, count, retention);
            bytes = 0;
        }
        bytes += n;
        last = entry.hash.clone();
        count += 1;
        chunk.spec.entries.push(entry);
    }
    write(&api, &chunk).await?;
    next.record = Some(RecordHead {
        entries: count,
        chunk: k,
        head: last,
    });
    Ok(())
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
