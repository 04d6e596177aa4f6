//! `lifeline run`, which starts the operator, and `lifeline crd`, which prints the
//! CustomResourceDefinitions it serves.

use anyhow::Context;

use super::{RunArgs, runtime};

/// `lifeline run`: the operator, until it is stopped.
pub(super) fn run_cmd(args: RunArgs) -> anyhow::Result<()> {
    let identity = args.identity.unwrap_or_else(|| {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|h| h.trim().to_string())
            .unwrap_or_else(|_| "lifeline".to_string());
        format!("{host}-{}", std::process::id())
    });
    runtime()?.block_on(async move {
        let client = super::connect::counted_client().await?;
        crate::controller::run(
            client,
            crate::controller::RunOptions {
                metrics_addr: args.metrics_addr,
                leader_election: args.leader_elect,
                lease_namespace: args.lease_namespace,
                identity,
                namespace: args.namespace,
                watch_namespaces: args.also_watch,
                resolve: args.resolve,
                check_networks: args.check_networks,
                record_retention: args.record_retention,
                notify: args
                    .notify_url
                    .map(|url| crate::controller::notify::NotifyOptions {
                        attempts: args.notify_attempts.max(1),
                        ..crate::controller::notify::NotifyOptions::new(url)
                    }),
            },
        )
        .await
    })
}

/// Every CRD as a multi-document YAML stream: exactly what `manifests/crds/crds.yaml` holds.
pub fn crds_yaml() -> anyhow::Result<String> {
    let mut out = String::new();
    for crd in crate::api::v1alpha1::crds() {
        out.push_str("---\n");
        out.push_str(&serde_yaml::to_string(&crd).context("serialize CRD")?);
    }
    Ok(out)
}
