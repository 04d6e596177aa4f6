//! Release gates. Each system with `spec.release` gets a NetworkPolicy, named
//! `lifeline-release-<system>`, selecting its pods. Before release it admits only the
//! verification audience: the operator's namespace and the system's own namespace (where
//! the systems of the estate reach each other). Each released stage adds its audience;
//! stages only add. The Service, Ingress and workloads get the label
//! `lifeline.dev/released-stage=<stage>`.
//!
//! The policies are not owned by the plan: deleting a plan leaves the last released state
//! in place, so tidying up never cuts clinicians off. They are lifeline's by their labels
//! (`app.kubernetes.io/managed-by: lifeline`, `lifeline.dev/system: <system>`): a
//! NetworkPolicy of a gate's name without them (someone else's, or another system's whose
//! long name shortened to the same) is never taken over by the forced apply; the release
//! fails naming it. The names stay as they always were, so existing gates are found after
//! an upgrade (a gate under a new name would leave the old one admitting its audience).
//!
//! A gate never opens pods by omission: before it moves to a system's new
//! `release.podSelector`, the selector it had is held by a gate of its own admitting only
//! the verification audience (`lifeline-release-<system>-earlier-<hash>`), whichever plan
//! moves it, and lifeline never deletes such a gate.

use k8s_openapi::api::{
    apps::v1::{Deployment, StatefulSet},
    core::v1::Service,
    networking::v1::{
        IPBlock, Ingress, NetworkPolicy, NetworkPolicyIngressRule, NetworkPolicyPeer,
        NetworkPolicySpec,
    },
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::{
    Api, ResourceExt,
    api::{Patch, PatchParams},
};
use serde_json::json;

use crate::controller::{Context, FIELD_MANAGER};
use crate::{
    api::v1alpha1::{ClinicalSystem, RecoveryPlan, Stage, StepAction, WorkloadKind},
    error::{Error, KubeContext},
};

/// The label carrying the stage a system's objects are released at.
pub const RELEASED_STAGE_LABEL: &str = "lifeline.dev/released-stage";
/// The namespace the operator runs in, always admitted (it runs the checks).
pub const OPERATOR_NAMESPACE: &str = "lifeline-system";

/// The gate's name for a system.
pub use crate::engine::names::release_policy as policy_name;

fn namespace_peer(name: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        namespace_selector: Some(LabelSelector {
            match_labels: Some(
                [("kubernetes.io/metadata.name".to_string(), name.to_string())].into(),
            ),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// The NetworkPolicy for `system` released at `stages[..=released]` (or none released).
/// While drill `isolated_by` isolates the system it admits nobody: NetworkPolicies only
/// add what they allow, so a gate admitting anyone would open the drill's deny-all policy.
pub fn policy(
    system: &ClinicalSystem,
    stages: &[Stage],
    released: Option<usize>,
    isolated_by: Option<&str>,
) -> Option<NetworkPolicy> {
    let release = system.spec.release.as_ref()?;
    let ns = system.namespace().unwrap_or_default();
    let mut from = vec![
        namespace_peer(OPERATOR_NAMESPACE),
        // The estate's own namespace: systems reach their dependencies.
        NetworkPolicyPeer {
            pod_selector: Some(LabelSelector::default()),
            ..Default::default()
        },
    ];
    let upto = released.map_or(0, |k| k + 1);
    for stage in stages.iter().take(upto) {
        let a = &stage.audience;
        if a.namespace_selector.is_some() || a.pod_selector.is_some() {
            from.push(NetworkPolicyPeer {
                namespace_selector: a.namespace_selector.clone(),
                pod_selector: a.pod_selector.clone(),
                ..Default::default()
            });
        }
        for cidr in &a.ip_blocks {
            from.push(NetworkPolicyPeer {
                ip_block: Some(IPBlock {
                    cidr: cidr.clone(),
                    except: None,
                }),
                ..Default::default()
            });
        }
    }
    let stage_label = released
        .and_then(|k| stages.get(k))
        .map_or("none".to_string(), |s| s.name.clone());
    let (ingress, purpose) = match isolated_by {
        Some(drill) => (
            Vec::new(),
            format!(
                "drill {drill} isolates this system: nobody is admitted until the isolation ends"
            ),
        ),
        None => (
            vec![NetworkPolicyIngressRule {
                from: Some(from),
                ports: None,
            }],
            format!("release gate, released at stage {stage_label}"),
        ),
    };
    Some(NetworkPolicy {
        metadata: ObjectMeta {
            annotations: Some([("lifeline.dev/purpose".to_string(), purpose)].into()),
            name: Some(policy_name(&system.name_any())),
            namespace: Some(ns),
            labels: Some(
                [
                    (MANAGED_BY.0.to_string(), MANAGED_BY.1.to_string()),
                    (GATE_SYSTEM_LABEL.to_string(), system.name_any()),
                    (RELEASED_STAGE_LABEL.to_string(), stage_label),
                ]
                .into(),
            ),
            ..Default::default()
        },
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(release.pod_selector.clone()),
            policy_types: Some(vec!["Ingress".to_string()]),
            ingress: Some(ingress),
            ..Default::default()
        }),
    })
}

/// The label every object lifeline makes carries.
const MANAGED_BY: (&str, &str) = ("app.kubernetes.io/managed-by", "lifeline");
/// The label naming the system a gate is for.
const GATE_SYSTEM_LABEL: &str = "lifeline.dev/system";

/// Why `existing`, the NetworkPolicy in `system`'s namespace with the name of one of its
/// gates, is not lifeline's gate of `system`, if it is not: it lacks lifeline's label or
/// is labelled for another system.
pub fn foreign_gate(existing: &NetworkPolicy, system: &str) -> Option<String> {
    let labels = existing.labels();
    let ours = labels.get(MANAGED_BY.0).map(String::as_str) == Some(MANAGED_BY.1);
    let for_system = labels.get(GATE_SYSTEM_LABEL).map(String::as_str);
    if ours && for_system == Some(system) {
        return None;
    }
    let whose = match (ours, for_system) {
        (true, Some(other)) => format!("lifeline's gate of another system, {other}"),
        _ => format!(
            "not lifeline's (no labels {}={} and {GATE_SYSTEM_LABEL}={system})",
            MANAGED_BY.0, MANAGED_BY.1
        ),
    };
    Some(format!(
        "it exists and is {whose}: lifeline never takes over a NetworkPolicy it did not \
         make for ClinicalSystem {system}; rename or delete it, and the gate is applied"
    ))
}

/// The NetworkPolicy of `np`'s name in `ns`, if there is one; fails, naming it, when it
/// is not lifeline's gate of `system` ([`foreign_gate`]).
async fn refuse_foreign(
    policies: &Api<NetworkPolicy>,
    ns: &str,
    np: &NetworkPolicy,
    system: &str,
) -> Result<Option<NetworkPolicy>, Error> {
    let name = np.name_any();
    let existing = policies
        .get_opt(&name)
        .await
        .during(|| format!("read NetworkPolicy {ns}/{name}"))?;
    match existing.as_ref().and_then(|e| foreign_gate(e, system)) {
        Some(why) => Err(Error::InvalidObject {
            what: format!("NetworkPolicy {ns}/{name}"),
            message: why,
        }),
        None => Ok(existing),
    }
}

/// `selector` as the API server stores it: an empty `matchLabels`, `matchExpressions` or
/// `values` is dropped, so a selector read back from a policy compares equal to the one
/// written.
fn stored_form(selector: &LabelSelector) -> LabelSelector {
    LabelSelector {
        match_labels: selector.match_labels.clone().filter(|m| !m.is_empty()),
        match_expressions: selector
            .match_expressions
            .as_ref()
            .map(|all| {
                all.iter()
                    .map(|e| {
                        let mut e = e.clone();
                        e.values = e.values.filter(|v| !v.is_empty());
                        e
                    })
                    .collect::<Vec<_>>()
            })
            .filter(|all| !all.is_empty()),
    }
}

/// Whether two selectors are the same as written (not whether they select the same pods).
pub fn same_selector(a: &LabelSelector, b: &LabelSelector) -> bool {
    stored_form(a) == stored_form(b)
}

/// The selectors whose pods must stay held while `system`'s gate moves to its current
/// `spec.release.podSelector`: the plan's `earlier` ones, and the selector of the gate as
/// it stands (`existing`) when it differs from the current one. That last one is what an
/// earlier plan gated (the selector changed between two plans, or while no reconcile saw
/// it): gates are not owned by plans, so whatever plan moves a gate, the pods it selected
/// are held first, and a gate never opens them by omission.
pub fn to_hold(
    system: &ClinicalSystem,
    existing: Option<&NetworkPolicy>,
    earlier: &[LabelSelector],
) -> Vec<LabelSelector> {
    let mut held: Vec<LabelSelector> = Vec::new();
    let current = system.spec.release.as_ref().map(|r| &r.pod_selector);
    let before = existing
        .and_then(|np| np.spec.as_ref())
        .and_then(|spec| spec.pod_selector.as_ref());
    for sel in earlier.iter().chain(before) {
        if current.is_some_and(|c| same_selector(c, sel))
            || held.iter().any(|h| same_selector(h, sel))
        {
            continue;
        }
        held.push(sel.clone());
    }
    held
}

/// How soon a gate the API server refused is tried again.
pub const GATE_RETRY: std::time::Duration = std::time::Duration::from_secs(5);

/// The gate holding pods `selector` that `system`'s gate selected before its
/// `spec.release` changed: the verification audience only.
pub fn earlier_policy(system: &ClinicalSystem, selector: &LabelSelector) -> NetworkPolicy {
    let mut np = policy(system, &[], None, None).unwrap_or_default();
    let json = serde_json::to_string(selector).unwrap_or_default();
    let name = crate::engine::names::hashed_name(
        &["lifeline-release", &system.name_any(), "earlier"],
        &["release-earlier", &system.name_any(), &json],
    );
    np.metadata.name = Some(name);
    if let Some(spec) = np.spec.as_mut() {
        spec.pod_selector = Some(selector.clone());
    }
    np
}

/// SHA-256 of a system's `spec.release`, as the gate records what it was made for.
pub fn release_hash(release: &crate::api::v1alpha1::Release) -> String {
    let json = serde_json::to_vec(release).unwrap_or_default();
    ring::digest::digest(&ring::digest::SHA256, &json)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Where a system's `spec.release` changed since its gate was made: the gate moves to the
/// new selector, keeps holding the old one's pods, and the system goes back to the
/// verification audience (Approvals made until now count no more for it).
pub fn follow_release_changes(
    model: &crate::engine::PlanModel,
    by_key: &std::collections::HashMap<String, &ClinicalSystem>,
    status: &mut crate::api::v1alpha1::RecoveryPlanStatus,
    now: k8s_openapi::jiff::Timestamp,
) {
    for m in &model.systems {
        let Some(release) = by_key.get(&m.key).and_then(|cs| cs.spec.release.as_ref()) else {
            continue;
        };
        let Some(i) = status.systems.iter().position(|s| s.name == m.key) else {
            continue;
        };
        let hash = release_hash(release);
        let Some(g) = status.systems[i].gate.as_mut() else {
            continue;
        };
        if g.release_hash == hash {
            continue;
        }
        if let Some(old) = g.pod_selector.take()
            && old != release.pod_selector
            && !g.earlier_selectors.contains(&old)
        {
            // The status keeps the latest 10, re-applied with the gate; each selector the
            // gate leaves is held by its own NetworkPolicy before the gate moves
            // ([`to_hold`]), and lifeline never deletes one, listed or not.
            g.earlier_selectors.push(old);
            let excess = g.earlier_selectors.len().saturating_sub(10);
            g.earlier_selectors.drain(..excess);
        }
        g.release_hash = hash;
        g.pod_selector = Some(release.pod_selector.clone());
        g.changed_at = Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::Time(now));
        crate::engine::regate(
            status,
            i,
            "its release settings (spec.release) changed after it was gated: back to the verification audience until each stage approves it again".into(),
        );
    }
}

/// Records in `status` what applying system `i`'s gate came to: applied at its released
/// stage, or refused (the system goes back to the stage last applied, held there).
pub fn record_applied(
    model: &crate::engine::PlanModel,
    status: &mut crate::api::v1alpha1::RecoveryPlanStatus,
    i: usize,
    system: &ClinicalSystem,
    error: Option<&Error>,
    isolated_by: Option<&str>,
) {
    let Some(release) = system.spec.release.as_ref() else {
        return;
    };
    let Some(s) = status.systems.get_mut(i) else {
        return;
    };
    let stage = s.released_stage.clone().unwrap_or_else(|| "none".into());
    let g = s
        .gate
        .get_or_insert_with(|| crate::api::v1alpha1::GateStatus {
            release_hash: release_hash(release),
            pod_selector: Some(release.pod_selector.clone()),
            ..Default::default()
        });
    match error {
        None => {
            g.applied = Some(stage.clone());
            g.isolated_by = isolated_by.map(str::to_string);
            if g.failed_stage.as_deref() == Some(stage.as_str()) {
                g.error = None;
                g.failed_stage = None;
            }
        }
        Some(e) => {
            let why = crate::engine::approvals::truncate(&e.to_string(), 1024);
            g.error = Some(why.clone());
            g.failed_stage = Some(stage.clone());
            let applied = g.applied.clone().filter(|a| a != "none");
            crate::engine::unrelease(
                model,
                status,
                i,
                applied.as_deref(),
                format!("not released at {stage}: its gate could not be applied: {why}"),
            );
        }
    }
}

/// Records a dry run of the gate that had been refused: passing, the system may be
/// released again; failing, it stays held with the API server's words.
pub fn record_retry(
    status: &mut crate::api::v1alpha1::RecoveryPlanStatus,
    i: usize,
    error: Option<&Error>,
) {
    let Some(g) = status.systems.get_mut(i).and_then(|s| s.gate.as_mut()) else {
        return;
    };
    match error {
        None => {
            g.error = None;
            g.failed_stage = None;
        }
        Some(e) => {
            let why = crate::engine::approvals::truncate(&e.to_string(), 1024);
            if g.error.as_deref() != Some(why.as_str()) {
                g.error = Some(why);
            }
        }
    }
}

/// The plan's `GatesApplied` condition, from its systems' gates.
pub fn gates_condition(
    status: &mut crate::api::v1alpha1::RecoveryPlanStatus,
    previous: &crate::api::v1alpha1::RecoveryPlanStatus,
    generation: Option<i64>,
    now: k8s_openapi::jiff::Timestamp,
) {
    use crate::api::v1alpha1::conditions as c;
    let failed: Vec<String> = status
        .systems
        .iter()
        .filter_map(|s| {
            let g = s.gate.as_ref()?;
            Some(format!(
                "{} at {}: {}",
                s.name,
                g.failed_stage.as_deref().unwrap_or("?"),
                g.error.as_deref()?
            ))
        })
        .collect();
    let any_gate = status.systems.iter().any(|s| s.gate.is_some());
    if !any_gate {
        return;
    }
    let new = if failed.is_empty() {
        crate::engine::conditions::NewCondition {
            type_: c::GATES_APPLIED,
            status: true,
            reason: c::reason::APPLIED,
            message: "every release gate is applied as the status says".into(),
        }
    } else {
        crate::engine::conditions::NewCondition {
            type_: c::GATES_APPLIED,
            status: false,
            reason: c::reason::APPLY_FAILED,
            message: crate::engine::approvals::truncate(
                &format!(
                    "not released where a gate could not be applied (held until it can): {}",
                    failed.join("; ")
                ),
                2048,
            ),
        }
    };
    crate::engine::conditions::set_condition(
        &mut status.conditions,
        &previous.conditions,
        new,
        generation,
        now,
    );
}

/// Checks with the API server, without changing anything, that `system`'s gate at
/// `released` would be accepted.
pub async fn dry_run(
    ctx: &Context,
    plan: &RecoveryPlan,
    system: &ClinicalSystem,
    released: Option<usize>,
    isolated_by: Option<&str>,
) -> Result<(), Error> {
    let Some(np) = policy(system, &plan.spec.stages, released, isolated_by) else {
        return Ok(());
    };
    let ns = system.namespace().unwrap_or_default();
    let name = np.name_any();
    let mut pp = PatchParams::apply(FIELD_MANAGER).force();
    pp.dry_run = true;
    let policies = Api::<NetworkPolicy>::namespaced(ctx.client.clone(), &ns);
    refuse_foreign(&policies, &ns, &np, &system.name_any()).await?;
    policies
        .patch(&name, &pp, &Patch::Apply(&np))
        .await
        .during(|| format!("apply NetworkPolicy {ns}/{name}"))?;
    Ok(())
}

/// Applies the gate and the stage labels for `system` at `released` (idempotent), and
/// first the gates that keep holding the pods of its `earlier` selectors and of the
/// selector the gate had, if it changes ([`to_hold`]).
pub async fn apply(
    ctx: &Context,
    plan: &RecoveryPlan,
    system: &ClinicalSystem,
    released: Option<usize>,
    earlier: &[LabelSelector],
    isolated_by: Option<&str>,
) -> Result<(), Error> {
    let Some(np) = policy(system, &plan.spec.stages, released, isolated_by) else {
        return Ok(());
    };
    let ns = system.namespace().unwrap_or_default();
    let pp = PatchParams::apply(FIELD_MANAGER).force();
    let policies = Api::<NetworkPolicy>::namespaced(ctx.client.clone(), &ns);
    let sys = system.name_any();
    let existing = refuse_foreign(&policies, &ns, &np, &sys).await?;
    // Each selector the gate leaves is held by a gate of its own before the gate moves: a
    // held gate that cannot be applied leaves the gate where it was.
    let held = to_hold(system, existing.as_ref(), earlier);
    for held in held.iter().map(|sel| earlier_policy(system, sel)) {
        refuse_foreign(&policies, &ns, &held, &sys).await?;
        let name = held.name_any();
        policies
            .patch(&name, &pp, &Patch::Apply(&held))
            .await
            .during(|| format!("apply NetworkPolicy {ns}/{name}"))?;
    }
    let name = np.name_any();
    policies
        .patch(&name, &pp, &Patch::Apply(&np))
        .await
        .during(|| format!("apply NetworkPolicy {ns}/{name}"))?;
    let Some(k) = released else { return Ok(()) };
    let Some(stage) = plan.spec.stages.get(k) else {
        return Ok(());
    };
    // The gate is what holds staff out, and it is applied: a label that cannot be set
    // is told, and does not undo the release.
    if let Err(e) = label_released(ctx, system, &ns, &stage.name).await {
        tracing::warn!(system = %system.name_any(), namespace = %ns, error = %e, "could not label a released system's objects with its stage");
    }
    Ok(())
}

/// Labels the Service, Ingress and restored workloads of `system` with `stage`.
async fn label_released(
    ctx: &Context,
    system: &ClinicalSystem,
    ns: &str,
    stage: &str,
) -> Result<(), Error> {
    let ns = ns.to_string();
    let label = Patch::Merge(json!({ "metadata": { "labels": { RELEASED_STAGE_LABEL: stage } } }));
    let plain = PatchParams::default();
    let release = system.spec.release.as_ref();
    if let Some(svc) = release.and_then(|r| r.service.as_deref()) {
        label_if_present(
            Api::<Service>::namespaced(ctx.client.clone(), &ns),
            svc,
            &label,
            &plain,
        )
        .await?;
    }
    if let Some(ing) = release.and_then(|r| r.ingress.as_deref()) {
        label_if_present(
            Api::<Ingress>::namespaced(ctx.client.clone(), &ns),
            ing,
            &label,
            &plain,
        )
        .await?;
    }
    for step in system.spec.steps() {
        let (kind, name) = match step.action() {
            Some(StepAction::Scale(s)) => (s.kind, s.name.as_str()),
            Some(StepAction::RolloutRestart(w)) => (w.kind, w.name.as_str()),
            _ => continue,
        };
        match kind {
            WorkloadKind::Deployment => {
                label_if_present(
                    Api::<Deployment>::namespaced(ctx.client.clone(), &ns),
                    name,
                    &label,
                    &plain,
                )
                .await?
            }
            WorkloadKind::StatefulSet => {
                label_if_present(
                    Api::<StatefulSet>::namespaced(ctx.client.clone(), &ns),
                    name,
                    &label,
                    &plain,
                )
                .await?
            }
        }
    }
    Ok(())
}

async fn label_if_present<K>(
    api: Api<K>,
    name: &str,
    patch: &Patch<serde_json::Value>,
    pp: &PatchParams,
) -> Result<(), Error>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    match api.patch(name, pp, patch).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(Error::Kube {
            action: format!("label {name} with its released stage"),
            source: e,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn system() -> ClinicalSystem {
        serde_json::from_value(json!({
            "apiVersion": "lifeline.dev/v1alpha1", "kind": "ClinicalSystem",
            "metadata": { "name": "lims", "namespace": "lab" },
            "spec": {
                "displayName": "LIMS", "tier": "critical", "recoveryTimeObjective": "30m",
                "restore": { "steps": [] }, "verify": { "checks": [] },
                "release": { "podSelector": { "matchLabels": { "app": "lims" } } }
            }
        }))
        .expect("a ClinicalSystem")
    }

    fn stages() -> Vec<Stage> {
        serde_json::from_value(json!([
            { "name": "wards", "audience": { "ipBlocks": ["10.20.0.0/16"] } }
        ]))
        .expect("stages")
    }

    #[test]
    fn a_gate_admits_nobody_while_a_drill_isolates_its_system_whatever_was_released() {
        let np = policy(&system(), &stages(), Some(0), Some("weekly")).expect("a gate");
        let spec = np.spec.expect("spec");
        assert_eq!(spec.ingress, Some(Vec::new()), "no ingress rule: nobody");
        assert_eq!(spec.policy_types, Some(vec!["Ingress".to_string()]));
        let purpose = &np.metadata.annotations.expect("annotations")["lifeline.dev/purpose"];
        assert!(purpose.contains("drill weekly isolates"), "{purpose}");

        let open = policy(&system(), &stages(), Some(0), None).expect("a gate");
        let rules = open.spec.and_then(|s| s.ingress).expect("ingress");
        let peers = rules[0].from.clone().expect("peers");
        assert!(
            peers
                .iter()
                .any(|p| p.ip_block.as_ref().map(|b| b.cidr.as_str()) == Some("10.20.0.0/16")),
            "{peers:?}"
        );
        assert!(
            peers.iter().any(|p| p.namespace_selector.is_some()),
            "{peers:?}"
        );
    }

    #[test]
    fn the_selector_a_gate_leaves_is_held_whichever_plan_moves_it() {
        let lims = system();
        let narrowed: LabelSelector =
            serde_json::from_value(json!({ "matchLabels": { "app": "lims", "tier": "front" } }))
                .expect("a selector");
        let mut moved = lims.clone();
        if let Some(r) = moved.spec.release.as_mut() {
            r.pod_selector = narrowed.clone();
        }
        // The gate an earlier plan left, as the API server gives it back.
        let left: NetworkPolicy = serde_json::from_value(json!({
            "metadata": { "name": policy_name("lims") },
            "spec": { "podSelector": { "matchLabels": { "app": "lims" } } }
        }))
        .expect("a NetworkPolicy");
        let old = lims.spec.release.clone().expect("release").pod_selector;
        assert_eq!(to_hold(&moved, Some(&left), &[]), vec![old.clone()]);
        // Listed already by this plan: held once.
        assert_eq!(
            to_hold(&moved, Some(&left), std::slice::from_ref(&old)),
            vec![old.clone()]
        );
        // The gate already where the system is: nothing to hold, nor for no gate yet.
        assert!(to_hold(&lims, Some(&left), &[]).is_empty());
        assert!(to_hold(&moved, None, &[]).is_empty());
        // The plan's own earlier selectors are held with no gate to read.
        assert_eq!(
            to_hold(&moved, None, std::slice::from_ref(&old)),
            vec![old.clone()]
        );
        // Empty lists the API server drops are the same selector.
        let spelled: LabelSelector = serde_json::from_value(
            json!({ "matchLabels": { "app": "lims", "tier": "front" }, "matchExpressions": [] }),
        )
        .expect("a selector");
        assert!(same_selector(&spelled, &narrowed));
        let stored: NetworkPolicy = serde_json::from_value(json!({
            "spec": { "podSelector": { "matchLabels": { "app": "lims", "tier": "front" } } }
        }))
        .expect("a NetworkPolicy");
        let mut spelled_system = lims.clone();
        if let Some(r) = spelled_system.spec.release.as_mut() {
            r.pod_selector = spelled;
        }
        assert!(to_hold(&spelled_system, Some(&stored), &[]).is_empty());
    }

    #[test]
    fn a_network_policy_of_a_gates_name_is_the_gate_only_when_labelled_for_its_system() {
        let lims = system();
        let gate = policy(&lims, &[], None, None).expect("a gate");
        assert_eq!(foreign_gate(&gate, "lims"), None, "lifeline's own gate");
        // Someone else's policy of that name, made before the plan.
        let theirs: NetworkPolicy = serde_json::from_value(json!({
            "metadata": { "name": policy_name("lims"), "labels": { "team": "network" } },
            "spec": { "podSelector": {} }
        }))
        .expect("a NetworkPolicy");
        let why = foreign_gate(&theirs, "lims").expect("foreign");
        assert!(
            why.contains("is not lifeline's") && why.contains("lifeline.dev/system=lims"),
            "{why}"
        );
        // Another system's gate, whose long name was shortened to the same.
        let why = foreign_gate(&gate, "lims-2").expect("another system's");
        assert!(why.contains("another system, lims"), "{why}");
    }
}
