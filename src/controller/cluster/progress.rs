//! Reading a plan's per-system progress from its RecoveryProgress shards
//! ([`crate::engine::progress`] says how it is split). The CLI and the drill controller
//! read a plan with [`fetch`]; the plan controller reads its shards once per process and
//! keeps what it writes ([`crate::controller::plan::progress`]).

use kube::{Api, Client, ResourceExt, api::ListParams};

use crate::{
    api::v1alpha1::{
        RECORD_PLAN_UID_LABEL, RecoveryPlan, RecoveryPlanStatus, RecoveryProgress, SystemStatus,
    },
    engine::progress::merge,
    error::{Error, KubeContext},
};

/// The name of shard `shard` of `shards` of the plan `plan` (uid `uid`).
pub fn object_name(plan: &str, uid: &str, shards: u32, shard: u32) -> String {
    let (n, k) = (shards.to_string(), shard.to_string());
    crate::engine::names::hashed_name(&[plan, "progress", &k], &[uid, "progress", &n, &k])
}

/// Every RecoveryProgress object of the plan with uid `uid` in `namespace`, read from
/// the API server.
pub async fn list(
    client: &Client,
    namespace: &str,
    uid: &str,
) -> Result<Vec<RecoveryProgress>, Error> {
    let api: Api<RecoveryProgress> = Api::namespaced(client.clone(), namespace);
    let listed = api
        .list(&ListParams::default().labels(&format!("{RECORD_PLAN_UID_LABEL}={uid}")))
        .await
        .during(|| format!("list the RecoveryProgress objects of plan {uid} in {namespace}"))?;
    Ok(listed.items)
}

/// What a plan's shards say, against what its status says they are.
#[derive(Debug, Default)]
pub struct Assembled {
    /// The number of shards in use.
    pub shards: u32,
    /// The shards in use (those of other counts are left from a resharding).
    pub current: Vec<RecoveryProgress>,
    /// Shards of another count (left from a resharding, or written ahead of a status
    /// that did not land), with their resourceVersions: to take over or delete.
    pub stale: Vec<(String, String)>,
    /// The systems, in the plan's order.
    pub systems: Vec<SystemStatus>,
    /// Shards the status names that are not there.
    pub missing: Vec<String>,
}

/// The plan's systems from its listed shards. The shard count is the status's; a status
/// that names none yet (its first write did not land) takes the listed shards' own.
pub fn assemble(status: Option<&RecoveryPlanStatus>, listed: Vec<RecoveryProgress>) -> Assembled {
    let refs = status.and_then(|s| s.progress_objects.as_ref());
    let shards = match refs {
        Some(r) => r.shards,
        None => listed.iter().map(|p| p.spec.shards).max().unwrap_or(1),
    }
    .max(1);
    let (current, other): (Vec<RecoveryProgress>, Vec<RecoveryProgress>) =
        listed.into_iter().partition(|p| p.spec.shards == shards);
    let missing = refs
        .map(|r| {
            r.objects
                .iter()
                .filter(|o| !current.iter().any(|p| p.name_any() == o.name))
                .map(|o| o.name.clone())
                .collect()
        })
        .unwrap_or_default();
    let systems = merge(
        current
            .iter()
            .map(|p| (&p.spec.systems[..], &p.spec.positions[..])),
    );
    Assembled {
        shards,
        stale: other
            .iter()
            .map(|p| (p.name_any(), p.resource_version().unwrap_or_default()))
            .collect(),
        current,
        systems,
        missing,
    }
}

/// Whether `listed` are exactly the shards, at the versions, that `status` names: the
/// plan and its systems as they were at one moment.
pub fn matches(status: &RecoveryPlanStatus, listed: &[RecoveryProgress]) -> bool {
    let Some(refs) = status.progress_objects.as_ref() else {
        return listed.is_empty();
    };
    let current: Vec<&RecoveryProgress> = listed
        .iter()
        .filter(|p| p.spec.shards == refs.shards)
        .collect();
    current.len() == refs.objects.len()
        && refs.objects.iter().all(|r| {
            current.iter().any(|p| {
                p.name_any() == r.name
                    && p.resource_version().as_deref() == Some(r.resource_version.as_str())
            })
        })
}

/// How long [`fetch`] tries for a plan and shards that go together.
const CONSISTENT_WITHIN: std::time::Duration = std::time::Duration::from_secs(2);

/// `plan` with its systems' progress filled in from its shards. The operator writes the
/// shards a moment before the plan's status, so shards ahead of the plan (or a plan read
/// before its shards moved on) are read again, for up to two seconds, until the two go
/// together; after that, what the shards say now.
pub async fn fetch(client: &Client, mut plan: RecoveryPlan) -> Result<RecoveryPlan, Error> {
    let Some(uid) = plan.uid() else {
        return Ok(plan);
    };
    let ns = plan.metadata.namespace.clone().unwrap_or_default();
    let name = plan.name_any();
    let api: Api<RecoveryPlan> = Api::namespaced(client.clone(), &ns);
    let started = std::time::Instant::now();
    loop {
        let Some(status) = plan.status.as_mut() else {
            return Ok(plan);
        };
        let listed = list(client, &ns, &uid).await?;
        let together = matches(status, &listed);
        let got = assemble(Some(status), listed);
        status.systems = got.systems;
        // A shard the status names that is not there never comes back: waiting is no use.
        if together || !got.missing.is_empty() || started.elapsed() > CONSISTENT_WITHIN {
            return Ok(plan);
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        match api
            .get_opt(&name)
            .await
            .during(|| format!("read RecoveryPlan {ns}/{name}"))?
        {
            Some(again) if again.uid().as_deref() == Some(uid.as_str()) => plan = again,
            _ => return Ok(plan),
        }
    }
}

/// The RecoveryPlan `name` in `namespace` with its systems' progress, or none.
pub async fn get(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<Option<RecoveryPlan>, Error> {
    let api: Api<RecoveryPlan> = Api::namespaced(client.clone(), namespace);
    match api
        .get_opt(name)
        .await
        .during(|| format!("read RecoveryPlan {namespace}/{name}"))?
    {
        Some(plan) => fetch(client, plan).await.map(Some),
        None => Ok(None),
    }
}
