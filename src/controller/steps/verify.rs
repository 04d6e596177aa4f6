//! Verification checks against the cluster. `http` and `tcp` checks are made by the
//! operator itself, with a timeout; `job` and `workloadReady` through the API. One call of
//! [`attempt`] is one attempt; the engine records each and the reconciler spaces them by
//! the system's retry interval until its deadline.

use std::time::Duration;

use kube::ResourceExt;

use super::{
    restore::{StepProgress, run_job},
    workload,
};
use crate::api::v1alpha1::{Check, CheckAction, ClinicalSystem, RecoveryPlan};
use crate::{controller::Context, engine::names};

/// Default time one HTTP attempt may take.
pub const DEFAULT_HTTP_TIMEOUT: Duration = Duration::from_secs(5);
/// Time one TCP connection attempt may take.
pub const TCP_TIMEOUT: Duration = Duration::from_secs(5);

/// The result of one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Attempt {
    /// The check passed.
    Passed,
    /// The check failed, with why.
    Failed(String),
    /// Still running (a Job check): nothing to record yet.
    Pending,
}

/// Runs one attempt of `check`. `attempt` is the 1-based number of this attempt (it
/// names a Job check's Job).
pub async fn attempt(
    ctx: &Context,
    plan: &RecoveryPlan,
    system: &ClinicalSystem,
    check: &Check,
    attempt: u32,
) -> Attempt {
    let ns = system.namespace().unwrap_or_default();
    match check.action() {
        None => Attempt::Failed(
            "the check must set exactly one of http, tcp, job or workloadReady".into(),
        ),
        Some(CheckAction::Http(h)) => {
            let timeout = h
                .timeout
                .as_ref()
                .and_then(|t| t.parse().ok())
                .unwrap_or(DEFAULT_HTTP_TIMEOUT);
            let expected: &[u16] = if h.expected_status.is_empty() {
                &[200]
            } else {
                &h.expected_status
            };
            match ctx.http.get(&h.url).timeout(timeout).send().await {
                Err(e) => Attempt::Failed(format!("GET {}: {}", h.url, describe_reqwest(&e))),
                Ok(resp) => {
                    let code = resp.status().as_u16();
                    if !expected.contains(&code) {
                        return Attempt::Failed(format!(
                            "GET {}: status {code}, expected {expected:?}",
                            h.url
                        ));
                    }
                    match &h.body_contains {
                        None => Attempt::Passed,
                        Some(needle) => match resp.text().await {
                            Ok(body) if body.contains(needle.as_str()) => Attempt::Passed,
                            Ok(_) => Attempt::Failed(format!(
                                "GET {}: the body does not contain {needle:?}",
                                h.url
                            )),
                            Err(e) => Attempt::Failed(format!(
                                "GET {}: reading the body: {}",
                                h.url,
                                describe_reqwest(&e)
                            )),
                        },
                    }
                }
            }
        }
        Some(CheckAction::Tcp(t)) => {
            let host = ctx
                .resolve
                .iter()
                .find(|(h, _)| *h == t.host)
                .map_or(t.host.clone(), |(_, ip)| ip.to_string());
            let addr = format!("{host}:{}", t.port);
            match tokio::time::timeout(TCP_TIMEOUT, tokio::net::TcpStream::connect(&addr)).await {
                Ok(Ok(_)) => Attempt::Passed,
                Ok(Err(e)) => Attempt::Failed(format!("connect {addr}: {e}")),
                Err(_) => {
                    Attempt::Failed(format!("connect {addr}: no answer within {TCP_TIMEOUT:?}"))
                }
            }
        }
        Some(CheckAction::WorkloadReady(w)) => {
            match workload::state(&ctx.client, &ns, w.kind, &w.name).await {
                Err(e) => Attempt::Failed(e.to_string()),
                Ok(None) => Attempt::Failed(format!("{} {ns}/{} does not exist", w.kind, w.name)),
                Ok(Some(s)) if s.desired > 0 && s.rolled_out() => Attempt::Passed,
                Ok(Some(s)) if s.desired == 0 => {
                    Attempt::Failed(format!("{} {ns}/{} is scaled to 0", w.kind, w.name))
                }
                Ok(Some(s)) => {
                    Attempt::Failed(format!("{} {ns}/{}: {}", w.kind, w.name, s.describe()))
                }
            }
        }
        Some(CheckAction::Job(j)) => {
            let sys = system.name_any();
            let uid = plan.uid().unwrap_or_default();
            let name = names::check_job(&plan.name_any(), &uid, &sys, &check.name, attempt);
            match run_job(ctx, plan, &ns, &sys, &name, j).await {
                Ok(StepProgress::Succeeded { .. }) => Attempt::Passed,
                Ok(StepProgress::Failed(why)) => Attempt::Failed(why),
                Ok(StepProgress::Running(_)) => Attempt::Pending,
                Err(e) => Attempt::Failed(e.to_string()),
            }
        }
    }
}

/// A reqwest error without its URL repeated, with the root cause.
fn describe_reqwest(e: &reqwest::Error) -> String {
    use std::error::Error as _;
    let mut msg = if e.is_timeout() {
        "timed out".to_string()
    } else if e.is_connect() {
        "connection failed".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = e.source();
    let mut last = None;
    while let Some(s) = source {
        last = Some(s.to_string());
        source = s.source();
    }
    if let Some(root) = last {
        msg.push_str(": ");
        msg.push_str(&root);
    }
    msg
}
