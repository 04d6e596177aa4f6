//! Plans that hand over, against the cluster: what every other plan claims (see
//! [`crate::engine::run::handover`]), from the operator's cache of plans and from what
//! this process wrote since, which the cache may not show yet. Deciding and recording a
//! plan's claims happen under one lock, so two plans reconciled at once cannot both start
//! one system.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use kube::ResourceExt;

use crate::api::v1alpha1::{ClinicalSystem, RecoveryPlan, RecoveryPlanStatus, SystemPhase};
use crate::controller::Context;
use crate::engine::run::handover::{Holder, PlanClaims, holders};
use crate::error::Error;

/// How long a reconcile waits for the operator's cache of plans to be filled at start.
const CACHE_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

/// What each plan claimed when this process last wrote its status, by "namespace/name",
/// with the plan's uid and when.
#[derive(Default)]
pub struct Written(HashMap<String, (String, PlanClaims, std::time::Instant)>);

/// How long a write of this process stands for a plan the cache does not show: long
/// enough for the cache to catch up with a new plan, not so long that a deleted plan
/// holds systems.
const UNCACHED: std::time::Duration = std::time::Duration::from_secs(10);

/// "namespace/name" of a plan.
pub fn key_of(plan: &RecoveryPlan) -> String {
    format!(
        "{}/{}",
        plan.namespace().unwrap_or_default(),
        plan.name_any()
    )
}

/// What `plan` claims with `status`: nothing once it is being deleted (its Jobs go with
/// it).
pub fn claims_of(plan: &RecoveryPlan, status: &RecoveryPlanStatus) -> PlanClaims {
    if plan.metadata.deletion_timestamp.is_some() {
        return PlanClaims {
            plan: key_of(plan),
            ..Default::default()
        };
    }
    PlanClaims::of(
        &key_of(plan),
        plan.metadata.creation_timestamp.as_ref().map(|t| t.0),
        status,
        plan.spec.drill.is_some(),
    )
}

/// Records what `plan` claims now that `status` is written.
pub fn record(ctx: &Context, plan: &RecoveryPlan, status: &RecoveryPlanStatus) {
    if let Ok(mut w) = ctx.written_claims.lock() {
        w.0.insert(
            key_of(plan),
            (
                plan.uid().unwrap_or_default(),
                claims_of(plan, status),
                std::time::Instant::now(),
            ),
        );
    }
}

/// Forgets a plan that is gone.
pub fn forget(ctx: &Context, namespace: &str, name: &str) {
    if let Ok(mut w) = ctx.written_claims.lock() {
        w.0.remove(&format!("{namespace}/{name}"));
    }
}

/// What every plan but `me` claims.
pub async fn others(ctx: &Context, me: &RecoveryPlan) -> Result<Vec<PlanClaims>, Error> {
    let Some(store) = ctx.plans.get() else {
        return Ok(Vec::new());
    };
    if tokio::time::timeout(CACHE_WAIT, store.wait_until_ready())
        .await
        .is_err()
    {
        return Err(Error::NotReady(
            "the operator's cache of RecoveryPlans is not filled yet, so it cannot tell which systems other plans hold".into(),
        ));
    }
    let me = key_of(me);
    let written = ctx
        .written_claims
        .lock()
        .map(|w| w.0.clone())
        .unwrap_or_default();
    let mut out = Vec::new();
    let mut seen = BTreeSet::new();
    // Plans this process has not written since it started: their systems are in their
    // RecoveryProgress shards, listed once (all at once), then known from what this
    // process writes for them.
    let mut unread = Vec::new();
    for p in store.state() {
        let key = key_of(&p);
        if key == me {
            continue;
        }
        seen.insert(key.clone());
        let uid = p.uid().unwrap_or_default();
        match written.get(&key).filter(|(u, _, _)| *u == uid) {
            Some(_) if p.metadata.deletion_timestamp.is_some() => {}
            Some((_, claims, _)) => out.push(claims.clone()),
            None if p.metadata.deletion_timestamp.is_some() => {
                out.push(claims_of(&p, &RecoveryPlanStatus::default()));
            }
            None => unread.push((key, uid, p)),
        }
    }
    let lists: Vec<futures::future::BoxFuture<'static, Result<Vec<_>, Error>>> = unread
        .iter()
        .map(|(_, uid, p)| {
            let (client, ns, uid) = (
                ctx.client.clone(),
                p.namespace().unwrap_or_default(),
                uid.clone(),
            );
            Box::pin(
                async move { crate::controller::cluster::progress::list(&client, &ns, &uid).await },
            ) as futures::future::BoxFuture<'static, _>
        })
        .collect();
    let listed = crate::controller::cluster::bounded(lists).await;
    for ((key, uid, p), listed) in unread.into_iter().zip(listed) {
        let mut status = p.status.clone().unwrap_or_default();
        status.systems =
            crate::controller::cluster::progress::assemble(Some(&status), listed?).systems;
        let claims = claims_of(&p, &status);
        // Kept unless this process wrote the plan meanwhile: what it wrote is newer.
        if let Ok(mut w) = ctx.written_claims.lock()
            && w.0.get(&key).is_none_or(|(u, _, _)| *u != uid)
        {
            w.0.insert(key, (uid, claims.clone(), std::time::Instant::now()));
        }
        out.push(claims);
    }
    // Written by this process just now, not in the cache yet.
    for (key, (_, claims, at)) in written {
        if key != me && !seen.contains(&key) && at.elapsed() < UNCACHED {
            out.push(claims);
        }
    }
    Ok(out)
}

/// The systems of `keys` another plan holds, for `plan` whose status so far is `status`.
pub fn held<'a>(
    plan: &RecoveryPlan,
    status: &RecoveryPlanStatus,
    others: &[PlanClaims],
    keys: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, Holder> {
    holders(&claims_of(plan, status), others, keys)
}

/// The systems a plan runs: those it selects, and each hard dependency of those that
/// another plan holds (or held, and verified), which it counts without restoring. The
/// second set lets the planner accept a plan that leaves such a dependency out.
pub fn with_held_dependencies(
    selected: Vec<String>,
    by_key: &HashMap<String, &ClinicalSystem>,
    status: &RecoveryPlanStatus,
    held: &BTreeMap<String, Holder>,
) -> (Vec<String>, BTreeSet<String>) {
    let mut elsewhere: BTreeSet<String> = held.keys().cloned().collect();
    elsewhere.extend(
        status
            .systems
            .iter()
            .filter(|s| {
                s.phase == SystemPhase::Held
                    && s.held_by.as_ref().is_some_and(|b| b.phase.is_verified())
            })
            .map(|s| s.name.clone()),
    );
    let mut keys = selected;
    let mut added = Vec::new();
    for key in &keys {
        let Some(cs) = by_key.get(key) else { continue };
        let ns = key.split_once('/').map_or("", |(ns, _)| ns);
        for dep in cs.spec.depends_on.iter().filter(|d| !d.optional) {
            let dep_key = format!("{}/{}", dep.namespace.as_deref().unwrap_or(ns), dep.name);
            if elsewhere.contains(&dep_key)
                && by_key.contains_key(&dep_key)
                && !keys.contains(&dep_key)
                && !added.contains(&dep_key)
            {
                added.push(dep_key);
            }
        }
    }
    keys.extend(added);
    (keys, elsewhere)
}
