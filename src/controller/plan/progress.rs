//! The plan controller's side of a plan's per-system progress: read from the plan's
//! RecoveryProgress shards once per process (a fresh list, after this process became the
//! one acting), then kept as this process writes it, since nobody else writes it (the
//! admission policy lifeline-progress-writer). Written before the plan's status, which
//! then names each shard with the version written, so a crash between the two leaves the
//! shards ahead, never behind, and the next read takes them.

use std::collections::BTreeMap;

use kube::{
    Api, ResourceExt,
    api::{DeleteParams, ObjectMeta, PostParams},
};

use crate::{
    api::v1alpha1::{
        ProgressObjects, ProgressRef, RECORD_PLAN_UID_LABEL, RecoveryPlan, RecoveryPlanStatus,
        RecoveryProgress, RecoveryProgressSpec, SystemStatus,
    },
    controller::{Context, FIELD_MANAGER, cluster},
    engine::progress::{Part, layout_keeping},
    error::{Error, KubeContext},
};

/// One shard as this process last wrote or read it.
#[derive(Clone, Debug)]
struct Stored {
    name: String,
    resource_version: String,
    part: Part,
}

/// A plan's shards as this process knows them.
#[derive(Clone, Debug, Default)]
pub struct Known {
    shards: u32,
    by_shard: BTreeMap<u32, Stored>,
    /// Shards of another count, with their resourceVersions: taken over when the shards
    /// are doubled to that count again (a resharding interrupted before the status naming
    /// them landed), else deleted once a status naming their successors is written.
    stale: Vec<(String, String)>,
}

/// What the operator knows of each plan's shards, by the plan's uid.
pub type Memo = std::sync::Mutex<std::collections::HashMap<String, Known>>;

/// Forgets a plan (gone, or a write of its shards failed: the next reconcile lists them).
pub fn forget(ctx: &Context, uid: &str) {
    if let Ok(mut m) = ctx.progress.lock() {
        m.remove(uid);
    }
}

/// The plan's systems' progress, in its order: what this process wrote, or (the first
/// time, or after a failed write) its shards as listed. A shard the status names that is
/// gone is an error: its systems' progress is lost, and the plan must not restore them
/// again as if new.
pub async fn load(ctx: &Context, plan: &RecoveryPlan) -> Result<Vec<SystemStatus>, Error> {
    let uid = plan.uid().unwrap_or_default();
    // Merged under the lock, from what is kept: not a copy of every shard first.
    if let Some(merged) = ctx.progress.lock().ok().and_then(|m| {
        m.get(&uid).map(|known| {
            crate::engine::progress::merge(
                known
                    .by_shard
                    .values()
                    .map(|s| (&s.part.systems[..], &s.part.positions[..])),
            )
        })
    }) {
        return Ok(merged);
    }
    let ns = plan.namespace().unwrap_or_default();
    let listed = cluster::progress::list(&ctx.client, &ns, &uid).await?;
    let got = cluster::progress::assemble(plan.status.as_ref(), listed);
    let lost = |problem: String| Error::ProgressLost {
        plan: format!("{ns}/{}", plan.name_any()),
        problem,
    };
    if !got.missing.is_empty() {
        return Err(lost(format!(
            "RecoveryProgress {} named in its status, not found",
            got.missing.join(", ")
        )));
    }
    // A plan that started without naming its shards was run by an earlier lifeline, which
    // kept the systems' progress in the plan's own status: it is not read here.
    let status = plan.status.as_ref();
    if got.current.is_empty()
        && status.is_some_and(|s| s.started_at.is_some() && s.progress_objects.is_none())
    {
        return Err(lost(
            "it started under an earlier version of lifeline, which kept each system's progress in the plan's status".into(),
        ));
    }
    let known = Known {
        shards: got.shards,
        by_shard: got
            .current
            .into_iter()
            .map(|p| {
                (
                    p.spec.shard,
                    Stored {
                        name: p.name_any(),
                        resource_version: p.resource_version().unwrap_or_default(),
                        part: Part {
                            systems: p.spec.systems,
                            positions: p.spec.positions,
                        },
                    },
                )
            })
            .collect(),
        stale: got.stale,
    };
    if let Ok(mut m) = ctx.progress.lock() {
        m.insert(uid, known);
    }
    Ok(got.systems)
}

/// Writes the shards whose systems changed in `next` (only those), and names every shard
/// with its version in `next.progress_objects`. Writes go out a few at a time; any
/// failure forgets what this process knew of the plan's shards, so the next reconcile
/// reads them again rather than trust a write that may or may not have landed.
pub async fn store(
    ctx: &Context,
    plan: &RecoveryPlan,
    next: &mut RecoveryPlanStatus,
) -> Result<(), Error> {
    let uid = plan.uid().unwrap_or_default();
    let ns = plan.namespace().unwrap_or_default();
    let name = plan.name_any();
    // Taken out while the writes go (one plan is never reconciled twice at once), put back
    // once they all landed; forgotten if any failed.
    let mut known = ctx
        .progress
        .lock()
        .ok()
        .and_then(|mut m| m.remove(&uid))
        .unwrap_or_default();
    let laid = layout_keeping(&next.systems, known.shards, |k, part| {
        known.by_shard.get(&k).is_some_and(|s| s.part == *part)
    });
    if laid.shards != known.shards {
        let old = std::mem::take(&mut known.by_shard);
        known
            .stale
            .extend(old.into_values().map(|s| (s.name, s.resource_version)));
        known.shards = laid.shards;
    }
    let api: Api<RecoveryProgress> = Api::namespaced(ctx.client.clone(), &ns);
    let owner = crate::controller::steps::restore::owner(plan);
    let mut writes = Vec::new();
    for (k, part) in (0u32..).zip(laid.parts) {
        let before = known.by_shard.get(&k);
        if before.is_some_and(|b| b.part == part) || (before.is_none() && part.systems.is_empty()) {
            continue;
        }
        let object_name = cluster::progress::object_name(&name, &uid, laid.shards, k);
        // A shard of this count written before (by a resharding that did not finish) is
        // replaced, not created again.
        let earlier = known
            .stale
            .iter()
            .position(|(n, _)| *n == object_name)
            .map(|i| known.stale.remove(i).1);
        let object = RecoveryProgress {
            metadata: ObjectMeta {
                name: Some(object_name),
                namespace: Some(ns.clone()),
                labels: Some([(RECORD_PLAN_UID_LABEL.to_string(), uid.clone())].into()),
                owner_references: owner.clone().map(|o| vec![o]),
                resource_version: before
                    .map(|b| b.resource_version.clone())
                    .or(earlier.clone()),
                ..ObjectMeta::default()
            },
            spec: RecoveryProgressSpec {
                plan: name.clone(),
                plan_uid: uid.clone(),
                shards: laid.shards,
                shard: k,
                systems: part.systems.clone(),
                positions: part.positions.clone(),
            },
        };
        let api = api.clone();
        let exists = before.is_some() || earlier.is_some();
        writes.push(Box::pin(async move {
            let params = PostParams {
                field_manager: Some(FIELD_MANAGER.to_string()),
                ..PostParams::default()
            };
            let object_name = object.name_any();
            let written = if exists {
                api.replace(&object_name, &params, &object).await
            } else {
                api.create(&params, &object).await
            };
            written
                .during(|| {
                    format!(
                        "write RecoveryProgress {}/{object_name}",
                        object.namespace().unwrap_or_default()
                    )
                })
                .map(|w| {
                    (
                        k,
                        object_name,
                        w.resource_version().unwrap_or_default(),
                        part,
                    )
                })
        })
            as futures::future::BoxFuture<
                '_,
                Result<(u32, String, String, Part), Error>,
            >);
    }
    let results = cluster::bounded(writes).await;
    let mut failed = None;
    for r in results {
        match r {
            Ok((k, name, resource_version, part)) => {
                known.by_shard.insert(
                    k,
                    Stored {
                        name,
                        resource_version,
                        part,
                    },
                );
            }
            Err(e) => failed = failed.or(Some(e)),
        }
    }
    if let Some(e) = failed {
        forget(ctx, &uid);
        return Err(e);
    }
    next.progress_objects = Some(ProgressObjects {
        shards: known.shards,
        systems: u32::try_from(next.systems.len()).unwrap_or(u32::MAX),
        objects: known
            .by_shard
            .iter()
            .map(|(k, s)| ProgressRef {
                name: s.name.clone(),
                shard: *k,
                resource_version: s.resource_version.clone(),
                systems: u32::try_from(s.part.systems.len()).unwrap_or(u32::MAX),
            })
            .collect(),
    });
    if let Ok(mut m) = ctx.progress.lock() {
        m.insert(uid, known);
    }
    Ok(())
}

/// Deletes the shards of an earlier count, once the status naming their successors is
/// written. A failure is logged and tried again after the next write.
pub async fn sweep(ctx: &Context, plan: &RecoveryPlan) {
    let uid = plan.uid().unwrap_or_default();
    let stale = ctx
        .progress
        .lock()
        .ok()
        .and_then(|mut m| m.get_mut(&uid).map(|k| std::mem::take(&mut k.stale)))
        .unwrap_or_default();
    if stale.is_empty() {
        return;
    }
    let ns = plan.namespace().unwrap_or_default();
    let api: Api<RecoveryProgress> = Api::namespaced(ctx.client.clone(), &ns);
    let mut left = Vec::new();
    for (name, resource_version) in stale {
        match api.delete(&name, &DeleteParams::default()).await {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(e) => {
                tracing::warn!(plan = %plan.name_any(), object = %name, error = %e, "could not delete a RecoveryProgress left from a resharding; tried again later");
                left.push((name, resource_version));
            }
        }
    }
    if !left.is_empty()
        && let Ok(mut m) = ctx.progress.lock()
        && let Some(k) = m.get_mut(&uid)
    {
        k.stale.extend(left);
    }
}
