//! Each ClinicalSystem's own status, from the plan that holds it: what
//! [`engine::run::system_status`](crate::engine::run::system_status) says to write, written
//! to the status subresource after the plan's status (which stays the record). A write
//! that fails is logged and made again on the plan's next reconcile: the system's status
//! is a view for `kubectl get csys`, never an input to a decision.

use std::collections::HashMap;

use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;
use tracing::warn;

use crate::{
    api::v1alpha1::{ClinicalSystem, RecoveryPlan, RecoveryPlanStatus},
    controller::Context,
    engine::run::system_status,
};

/// The field manager of the operator's writes to ClinicalSystem status.
const MANAGER: &str = "lifeline-operator";
/// How many ClinicalSystem status writes one reconcile makes at once.
const WRITES_AT_ONCE: usize = 8;

/// Writes, for each system of `status` whose own status should change, what the plan
/// says of it. `systems` are the plan's ClinicalSystems by "namespace/name", as read.
pub async fn mirror(
    ctx: &Context,
    plan: &RecoveryPlan,
    systems: &HashMap<String, &ClinicalSystem>,
    status: &RecoveryPlanStatus,
) {
    use futures::StreamExt as _;
    let key = super::handover::key_of(plan);
    let mut writes: Vec<futures::future::BoxFuture<'_, ()>> = Vec::new();
    for s in &status.systems {
        let Some(cs) = systems.get(&s.name) else {
            continue;
        };
        // What this process wrote last counts over a cache that may not show it yet.
        let uid = cs.metadata.uid.clone().unwrap_or_default();
        let mine = ctx.system_statuses.lock().ok().and_then(|m| {
            m.get(&s.name)
                .filter(|(u, _)| *u == uid)
                .map(|(_, st)| st.clone())
        });
        // Unless the cache shows another plan's word: then that is what stands.
        let others = cs
            .status
            .as_ref()
            .and_then(|c| c.plan.as_deref())
            .is_some_and(|p| p != key);
        let current = if others {
            cs.status.as_ref()
        } else {
            mine.as_ref().or(cs.status.as_ref())
        };
        let Some(want) = system_status::to_write(&key, status.phase, s, current) else {
            continue;
        };
        let (name_key, written) = (s.name.clone(), want.clone());
        let api: Api<ClinicalSystem> =
            Api::namespaced(ctx.client.clone(), &cs.namespace().unwrap_or_default());
        let (name, key) = (cs.name_any(), &key);
        writes.push(Box::pin(async move {
            let patch = json!({ "status": want });
            let params = PatchParams {
                field_manager: Some(MANAGER.to_string()),
                ..PatchParams::default()
            };
            match api.patch_status(&name, &params, &Patch::Merge(&patch)).await {
                Ok(_) => {
                    if let Ok(mut m) = ctx.system_statuses.lock() {
                        m.insert(name_key, (uid, written));
                    }
                }
                Err(e) => {
                    warn!(plan = %key, system = %s.name, error = %e, "writing the ClinicalSystem's status failed; written again on the next reconcile");
                }
            }
        }));
    }
    // A wave's systems change together: their writes go a few at a time.
    futures::stream::iter(writes)
        .buffer_unordered(WRITES_AT_ONCE)
        .collect::<Vec<()>>()
        .await;
}
