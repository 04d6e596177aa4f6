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
use crate::api::v1alpha1::{Check, CheckAction, ClinicalSystem, HttpCheck, RecoveryPlan, TcpCheck};
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
    /// The API server could not be asked: nothing to record, and nothing counts against
    /// the check (see [`crate::controller::cluster::outage`]).
    Unreachable(String),
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
        Some(CheckAction::Http(h)) => bounded(http(ctx, h).await),
        Some(CheckAction::Tcp(t)) => bounded(tcp(ctx, t).await),
        Some(CheckAction::WorkloadReady(w)) => {
            match workload::state_cached(ctx, &ns, w.kind, &w.name).await {
                Err(e) if e.is_unreachable() => {
                    Attempt::Unreachable(format!("could not ask the API server: {e}"))
                }
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
                Err(e) if e.is_unreachable() => {
                    Attempt::Unreachable(format!("could not ask the API server: {e}"))
                }
                Err(e) => Attempt::Failed(e.to_string()),
            }
        }
    }
}

/// The most of an error a check's status keeps.
pub const ERROR_LIMIT: usize = 300;

/// `a` with its error cut to [`ERROR_LIMIT`] bytes at a character boundary.
fn bounded(a: Attempt) -> Attempt {
    match a {
        Attempt::Failed(why) if why.len() > ERROR_LIMIT => {
            let mut end = ERROR_LIMIT - '…'.len_utf8();
            while !why.is_char_boundary(end) {
                end -= 1;
            }
            Attempt::Failed(format!("{}…", &why[..end]))
        }
        other => other,
    }
}

/// One attempt of an `http` check. The status keeps the status code and whether the body
/// matched, never the body itself; the URL's host must be one checks may reach, and
/// redirects are followed only when the check asks, and then on the same host only.
async fn http(ctx: &Context, h: &HttpCheck) -> Attempt {
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
    let url = match reqwest::Url::parse(&h.url) {
        Ok(url) => url,
        Err(e) => return Attempt::Failed(format!("GET {}: not a URL: {e}", h.url)),
    };
    // A name is checked by the client's resolver as it connects; an address here.
    let literal = url
        .host_str()
        .map(|h| h.trim_start_matches('[').trim_end_matches(']'))
        .and_then(|h| h.parse::<std::net::IpAddr>().ok());
    if let Some(ip) = literal
        && let Err(why) = ctx.reach.allows(&ip.to_string(), ip)
    {
        return Attempt::Failed(format!("GET {}: {why}", h.url));
    }
    let client = if h.follow_redirects {
        &ctx.http_same_host
    } else {
        &ctx.http
    };
    let resp = match client.get(url).timeout(timeout).send().await {
        Err(e) => return Attempt::Failed(format!("GET {}: {}", h.url, describe_reqwest(&e))),
        Ok(resp) => resp,
    };
    let code = resp.status().as_u16();
    if resp.status().is_redirection() && !expected.contains(&code) {
        return Attempt::Failed(format!(
            "GET {}: status {code}, a redirect{}",
            h.url,
            if h.follow_redirects {
                " to another host, which checks never follow"
            } else {
                ", not followed (set followRedirects to follow one on the same host)"
            }
        ));
    }
    if !expected.contains(&code) {
        return Attempt::Failed(format!(
            "GET {}: status {code}, expected {expected:?}",
            h.url
        ));
    }
    let Some(needle) = &h.body_contains else {
        return Attempt::Passed;
    };
    match resp.text().await {
        Ok(body) if body.contains(needle.as_str()) => Attempt::Passed,
        Ok(_) => Attempt::Failed(format!(
            "GET {}: the body does not contain the text the check expects",
            h.url
        )),
        Err(e) => Attempt::Failed(format!(
            "GET {}: reading the body: {}",
            h.url,
            describe_reqwest(&e)
        )),
    }
}

/// One attempt of a `tcp` check, to an address checks may reach.
async fn tcp(ctx: &Context, t: &TcpCheck) -> Attempt {
    let addr = format!("{}:{}", t.host, t.port);
    let addrs = match ctx.reach.resolve(&t.host, t.port).await {
        Ok(addrs) => addrs,
        Err(why) => return Attempt::Failed(format!("connect {addr}: {why}")),
    };
    match tokio::time::timeout(TCP_TIMEOUT, tokio::net::TcpStream::connect(&addrs[..])).await {
        Ok(Ok(_)) => Attempt::Passed,
        Ok(Err(e)) => Attempt::Failed(format!("connect {addr}: {e}")),
        Err(_) => Attempt::Failed(format!("connect {addr}: no answer within {TCP_TIMEOUT:?}")),
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
