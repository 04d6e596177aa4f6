//! Reads what the drill engine needs to decide: always the namespace and the drill's
//! systems, then whatever [`crate::engine::drill::wants`] names (other drills' claims,
//! workloads, policies, pods, the run's plan).

use k8s_openapi::api::core::v1::Namespace;
use kube::{Api, ResourceExt, api::ListParams};

use super::faults::{delete_pods, isolate, scale_to_zero};
use crate::{
    api::v1alpha1::{ClinicalSystem, RecoveryDrill, RecoveryPlan},
    controller::{Context, list_parsed},
    engine::drill::{Facts, Observed, PlanSeen, ProbeSeen, validate, wants},
    error::{Error, KubeContext},
};

/// How long a connection to an isolated system may take before it counts as blocked.
const PROBE_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Tries a TCP connection to each target, from here (the operator), where checks may
/// reach, all at once: a refusal or a timeout is a block, an accepted connection is
/// closed at once.
async fn probe(ctx: &Context, targets: &[(String, u16)]) -> ProbeSeen {
    enum Tried {
        Open(String),
        Blocked(String),
        Untried(String),
    }
    let one = |host: &str, port: u16| {
        let host = host.to_string();
        async move {
            let addrs = match ctx.reach.resolve(&host, port).await {
                Ok(a) => a,
                Err(why) => return Tried::Untried(format!("{host}:{port}: {why}")),
            };
            let Some(addr) = addrs.first().copied() else {
                return Tried::Untried(format!("{host}:{port}: no address"));
            };
            match tokio::time::timeout(PROBE_TIMEOUT, tokio::net::TcpStream::connect(addr)).await {
                Ok(Ok(_)) => Tried::Open(format!("{host}:{port}")),
                Ok(Err(e)) => Tried::Blocked(format!("{host}:{port} ({addr}): {e}")),
                Err(_) => Tried::Blocked(format!(
                    "{host}:{port} ({addr}): no answer within {}s",
                    PROBE_TIMEOUT.as_secs()
                )),
            }
        }
    };
    let tried =
        futures::future::join_all(targets.iter().map(|(host, port)| one(host, *port))).await;
    let mut seen = ProbeSeen {
        finished_at: Some(k8s_openapi::jiff::Timestamp::now()),
        ..ProbeSeen::default()
    };
    for t in tried {
        match t {
            Tried::Open(x) => seen.open.push(x),
            Tried::Blocked(x) => seen.blocked.push(x),
            Tried::Untried(x) => seen.untried.push(x),
        }
    }
    seen
}

/// What the cluster shows for the drill in `f`.
pub async fn observe(ctx: &Context, f: &Facts<'_>) -> Result<Observed, Error> {
    let ns = f.namespace;
    let namespaces: Api<Namespace> = Api::all(ctx.client.clone());
    let namespace = namespaces
        .get(ns)
        .await
        .during(|| format!("read Namespace {ns}"))?;
    let (all, malformed) = list_parsed::<ClinicalSystem>(&ctx.client, ns).await?;
    let systems = validate::select(ns, f.spec, &all, &malformed);
    let want = wants(f, systems.as_deref().unwrap_or_default());
    let mut o = Observed {
        namespace_labels: namespace.labels().clone(),
        holder: None,
        ..Default::default()
    };
    if want.holder
        && let Ok(systems) = &systems
    {
        o.holder = holder(ctx, f, systems).await?;
    }
    for w in &want.workloads {
        let seen = scale_to_zero::observe(ctx, ns, w).await?;
        o.workloads.insert((w.kind, w.name.clone()), seen);
    }
    for name in &want.policies {
        o.policies
            .insert(name.clone(), isolate::observe(ctx, ns, name).await?);
    }
    for (system, kind, sel) in &want.pods {
        o.pods.insert(
            (system.clone(), *kind),
            delete_pods::pods_matching(ctx, ns, sel).await?,
        );
    }
    let probed = futures::future::join_all(
        want.probes
            .iter()
            .map(|(system, targets)| async move { (system.clone(), probe(ctx, targets).await) }),
    )
    .await;
    o.probes.extend(probed);
    if let Some(name) = &want.plan {
        let plans: Api<RecoveryPlan> = Api::namespaced(ctx.client.clone(), ns);
        o.plan = Some(
            match plans
                .get_opt(name)
                .await
                .during(|| format!("read RecoveryPlan {ns}/{name}"))?
            {
                None => PlanSeen::Missing,
                Some(p) => {
                    let p = crate::controller::cluster::progress::fetch(&ctx.client, p).await?;
                    PlanSeen::Present {
                        deleting: p.metadata.deletion_timestamp.is_some(),
                        generation: p.metadata.generation,
                        drill: p.spec.drill.clone(),
                        status: Box::new(p.status.unwrap_or_default()),
                    }
                }
            },
        );
    }
    o.systems = systems;
    Ok(o)
}

/// Who holds one of `systems`, if another drill's run does. Drills claim their systems in
/// `status.held`; runs start one at a time (under `Context::drill_starts`) and the other
/// drills are read from the API server, so two runs never take the same system.
async fn holder(
    ctx: &Context,
    f: &Facts<'_>,
    systems: &[ClinicalSystem],
) -> Result<Option<String>, Error> {
    let drills: Api<RecoveryDrill> = Api::namespaced(ctx.client.clone(), f.namespace);
    let others = drills
        .list(&ListParams::default())
        .await
        .during(|| format!("list RecoveryDrills in {}", f.namespace))?;
    for other in others.items.iter().filter(|o| o.name_any() != f.name) {
        let st = other.status.clone().unwrap_or_default();
        if !st.phase.is_active() {
            continue;
        }
        if let Some(s) = systems.iter().find(|s| st.held.contains(&s.name_any())) {
            return Ok(Some(format!(
                "ClinicalSystem {} is held by drill {}/{}",
                s.name_any(),
                f.namespace,
                other.name_any()
            )));
        }
    }
    Ok(None)
}
