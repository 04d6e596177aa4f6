//! `lifeline version`: the client's version and, from the cluster, the API server's and
//! the operator's (its Deployment's version label and image, how many replicas are ready,
//! and which pod holds the leader Lease), as `kubectl version` does for Kubernetes.

use anyhow::Context as _;
use k8s_openapi::api::{apps::v1::Deployment, coordination::v1::Lease};
use kube::Api;
use serde_json::{Value, json};

use super::{VersionArgs, VersionOutput, connect};

/// The operator's Deployment and Lease, in `--operator-namespace`.
const OPERATOR: &str = "lifeline-operator";

/// `lifeline version`.
pub(super) fn version_cmd(args: VersionArgs) -> anyhow::Result<()> {
    let client_version = env!("CARGO_PKG_VERSION");
    let server = if args.client {
        None
    } else {
        Some(super::runtime()?.block_on(server_versions(&args.operator_namespace)))
    };
    match args.output {
        VersionOutput::Json | VersionOutput::Yaml => {
            let mut v = json!({ "client": { "version": client_version } });
            if let Some(Ok(s)) = &server {
                v["server"] = s.clone();
            }
            match args.output {
                VersionOutput::Yaml => print!("{}", serde_yaml::to_string(&v)?),
                _ => println!("{}", serde_json::to_string_pretty(&v)?),
            }
        }
        VersionOutput::Text => {
            println!("Client: lifeline {client_version}");
            if let Some(Ok(s)) = &server {
                println!(
                    "Kubernetes API server: {}",
                    s["kubernetes"].as_str().unwrap_or("unknown")
                );
                match &s["operator"] {
                    Value::Null => println!(
                        "Operator: not installed in namespace {} (no Deployment {OPERATOR})",
                        args.operator_namespace
                    ),
                    op => println!(
                        "Operator: lifeline {} ({}), {} of {} replicas ready, leader {}",
                        op["version"].as_str().unwrap_or("unknown"),
                        op["image"].as_str().unwrap_or("no image"),
                        op["readyReplicas"].as_i64().unwrap_or(0),
                        op["replicas"].as_i64().unwrap_or(0),
                        op["leader"].as_str().unwrap_or("none")
                    ),
                }
            }
        }
    }
    match server {
        Some(Err(e)) => Err(e),
        _ => Ok(()),
    }
}

/// The API server's version and the operator's, as JSON.
async fn server_versions(namespace: &str) -> anyhow::Result<Value> {
    let client = connect::client().await?;
    let info = client
        .apiserver_version()
        .await
        .context("read the Kubernetes API server's version")?;
    let deployment = Api::<Deployment>::namespaced(client.clone(), namespace)
        .get_opt(OPERATOR)
        .await
        .with_context(|| format!("read deployment {namespace}/{OPERATOR}"))?;
    let operator = match deployment {
        None => Value::Null,
        Some(d) => {
            let leader = Api::<Lease>::namespaced(client, namespace)
                .get_opt(OPERATOR)
                .await
                .ok()
                .flatten()
                .and_then(|l| l.spec)
                .and_then(|s| s.holder_identity);
            json!({
                "version": d.metadata.labels.as_ref()
                    .and_then(|l| l.get("app.kubernetes.io/version")).cloned(),
                "image": d.spec.as_ref()
                    .and_then(|s| s.template.spec.as_ref())
                    .and_then(|p| p.containers.first())
                    .and_then(|c| c.image.clone()),
                "replicas": d.spec.as_ref().and_then(|s| s.replicas),
                "readyReplicas": d.status.as_ref().and_then(|s| s.ready_replicas).unwrap_or(0),
                "leader": leader,
            })
        }
    };
    Ok(json!({ "kubernetes": info.git_version, "operator": operator }))
}
