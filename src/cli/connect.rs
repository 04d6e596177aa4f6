//! Reaching the cluster as kubectl does: `--kubeconfig` (else `KUBECONFIG`, else
//! `~/.kube/config`, else the pod's service account), `--context` (else the current
//! context), and the context's namespace as the default for `-n`. Errors are one line
//! that names the kubeconfig or the server and says what to try.

use std::{path::PathBuf, sync::OnceLock};

use anyhow::{Context as _, anyhow};
use kube::config::{KubeConfigOptions, Kubeconfig};

/// What the global flags say about the cluster to reach.
#[derive(Clone, Debug, Default)]
pub struct Target {
    /// `--kubeconfig`.
    pub kubeconfig: Option<PathBuf>,
    /// `--context`.
    pub context: Option<String>,
}

static TARGET: OnceLock<Target> = OnceLock::new();
/// `--dry-run`: every write is sent with `dryRun=All`, so the API server (admission
/// included) checks it and stores nothing, and what would be recorded is printed.
static DRY_RUN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Sets `--dry-run` for this process.
pub fn set_dry_run(on: bool) {
    DRY_RUN.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether this process only tries its writes (`--dry-run`).
pub fn dry_run() -> bool {
    DRY_RUN.load(std::sync::atomic::Ordering::Relaxed)
}

/// After a write made under `--dry-run`: prints what the API server would have stored.
pub fn show_dry_run<K: serde::Serialize + kube::Resource + Clone>(what: &str, object: &K) {
    if !dry_run() {
        return;
    }
    let mut object = object.clone();
    object.meta_mut().managed_fields = None;
    println!(
        "{what} would be recorded (server dry run: the API server and its admission policies accepted it; nothing was stored):"
    );
    match serde_yaml::to_string(&object) {
        Ok(y) => print!("{y}"),
        Err(e) => println!("(cannot show it: {e})"),
    }
}
/// The server the last client was made for, for error messages.
static SERVER: OnceLock<String> = OnceLock::new();

/// Sets the global flags, once, before any command runs.
pub fn set_target(target: Target) {
    let _ = TARGET.set(target);
}

fn target() -> Target {
    TARGET.get().cloned().unwrap_or_default()
}

/// The server commands talk to, once a client was made.
pub fn server() -> Option<&'static str> {
    SERVER.get().map(String::as_str)
}

fn options(target: &Target) -> KubeConfigOptions {
    KubeConfigOptions {
        context: target.context.clone(),
        ..KubeConfigOptions::default()
    }
}

/// Where the kubeconfig is read from, for messages.
fn kubeconfig_source(target: &Target) -> String {
    match (&target.kubeconfig, std::env::var_os("KUBECONFIG")) {
        (Some(path), _) => format!("--kubeconfig {}", path.display()),
        (None, Some(env)) if !env.is_empty() => format!("KUBECONFIG={}", env.to_string_lossy()),
        _ => "~/.kube/config".to_string(),
    }
}

/// The kubeconfig the flags name, when there is one to read.
fn read_kubeconfig(target: &Target) -> anyhow::Result<Option<Kubeconfig>> {
    if let Some(path) = &target.kubeconfig {
        return Kubeconfig::read_from(path)
            .map(Some)
            .map_err(|e| anyhow!("cannot read the kubeconfig {}: {e}", path.display()));
    }
    match Kubeconfig::read() {
        Ok(k) => Ok(Some(k)),
        // No kubeconfig at all: perhaps a pod with a service account.
        Err(_) if std::env::var_os("KUBECONFIG").is_none() => Ok(None),
        Err(e) => Err(anyhow!(
            "cannot read the kubeconfig ({}): {e}",
            kubeconfig_source(target)
        )),
    }
}

/// A client for the cluster the flags name, and its default namespace (the context's).
pub async fn client() -> anyhow::Result<kube::Client> {
    kube::Client::try_from(config().await?).context("set up the Kubernetes client")
}

/// [`client`], each of whose requests is counted in the operator's metrics
/// ([`crate::controller::cluster::requests`]).
pub async fn counted_client() -> anyhow::Result<kube::Client> {
    let builder = kube::client::ClientBuilder::try_from(config().await?)
        .context("set up the Kubernetes client")?;
    Ok(builder
        .with_layer(&crate::controller::cluster::requests::layer())
        .build())
}

/// The client configuration for the cluster the flags name.
async fn config() -> anyhow::Result<kube::Config> {
    let target = target();
    let config = match read_kubeconfig(&target)? {
        Some(kubeconfig) => kube::Config::from_custom_kubeconfig(kubeconfig, &options(&target))
            .await
            .map_err(|e| {
                anyhow!(
                    "the kubeconfig ({}) gives no usable cluster{}: {e}",
                    kubeconfig_source(&target),
                    target
                        .context
                        .as_deref()
                        .map(|c| format!(" for context {c}"))
                        .unwrap_or_default()
                )
            })?,
        None => kube::Config::incluster().map_err(|_| {
            anyhow!(
                "no kubeconfig: KUBECONFIG is not set, ~/.kube/config does not exist and this \
                 is not a pod with a service account; set KUBECONFIG or pass --kubeconfig"
            )
        })?,
    };
    let _ = SERVER.set(config.cluster_url.to_string());
    Ok(config)
}

/// The namespace of the kubeconfig's context (what kubectl uses without `-n`), or
/// `default` when there is no kubeconfig or its context names none.
pub fn context_namespace() -> String {
    let target = target();
    let Ok(Some(kubeconfig)) = read_kubeconfig(&target) else {
        return "default".to_string();
    };
    let context = target
        .context
        .clone()
        .or_else(|| kubeconfig.current_context.clone());
    kubeconfig
        .contexts
        .iter()
        .find(|c| Some(&c.name) == context.as_ref())
        .and_then(|c| c.context.as_ref())
        .and_then(|c| c.namespace.clone())
        .filter(|n| !n.is_empty())
        .unwrap_or_else(|| "default".to_string())
}

/// An error as one line: the causes in order, each said once (a cause whose text the
/// line already holds is left out), and a connection that failed said as what it is,
/// with the server and what to try.
pub fn one_line(err: &anyhow::Error) -> String {
    let texts: Vec<String> = err
        .chain()
        .map(|c| c.to_string().replace('\n', " ").trim().to_string())
        .collect();
    // Each cause's text without what its own causes add (kube's errors repeat their
    // source's text: "ServiceError: client error (Connect)" over "client error (Connect)").
    let mut parts: Vec<String> = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        let cut = texts[i + 1..]
            .iter()
            .filter(|later| !later.is_empty())
            .filter_map(|later| text.find(later.as_str()))
            .min()
            .unwrap_or(text.len());
        let own = text[..cut].trim_end_matches([':', ' ']).trim().to_string();
        if !own.is_empty() && !parts.contains(&own) {
            parts.push(own);
        }
    }
    let unreachable = err.chain().find_map(|cause| {
        use std::io::ErrorKind::*;
        cause
            .downcast_ref::<std::io::Error>()
            .filter(|io| {
                matches!(
                    io.kind(),
                    ConnectionRefused | ConnectionReset | TimedOut | HostUnreachable | NotFound
                )
            })
            .map(ToString::to_string)
    });
    let connection = texts.iter().any(|p| {
        p.contains("client error (Connect)")
            || p.contains("tcp connect error")
            || p.contains("error trying to connect")
            || p.contains("dns error")
    });
    if connection {
        let server = server().unwrap_or("the server in the kubeconfig");
        let why = unreachable.unwrap_or_else(|| "no connection".to_string());
        let what = parts
            .first()
            .filter(|p| !p.contains("client error") && !p.contains("Error"))
            .map(|p| format!("{p}: "))
            .unwrap_or_default();
        return format!(
            "{what}cannot reach the Kubernetes API server at {server} ({why}); \
             is the cluster up and is this the right context? (kubectl cluster-info)"
        );
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cause_already_said_is_not_said_again() {
        let inner = anyhow!("connection refused");
        let err = inner
            .context("HyperError: connection refused")
            .context("read recoveryplan ns/p");
        assert_eq!(
            one_line(&err),
            "read recoveryplan ns/p: HyperError: connection refused"
        );
    }

    #[test]
    fn a_refused_connection_names_the_server_and_what_to_try() {
        let io = std::io::Error::new(std::io::ErrorKind::ConnectionRefused, "refused");
        let err = anyhow::Error::new(io)
            .context("client error (Connect)")
            .context("read recoveryplan ns/p");
        let line = one_line(&err);
        assert!(
            line.starts_with("read recoveryplan ns/p: cannot reach the Kubernetes API server at "),
            "{line}"
        );
        assert!(line.contains("(refused)") && line.contains("kubectl cluster-info"));
        assert!(!line.contains('\n'));
    }
}
