//! Verification checks against the cluster. `http` and `tcp` checks are made by the
//! operator itself, with a timeout; `job` and `workloadReady` through the API. One call of
//! [`attempt`] is one attempt; the engine records each and the reconciler spaces them by
//! the system's retry interval until its deadline.

use std::time::Duration;

use kube::ResourceExt;

use super::reach::Refused;
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
            let at = format!("spec.verify.checks{{{}}}.job", check.name);
            match run_job(ctx, plan, &ns, &sys, &at, &name, j).await {
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
        Ok(Err(e)) => Attempt::Failed(format!("connect {addr}: {}", io_error_class(e.kind()))),
        Err(_) => Attempt::Failed(format!("connect {addr}: no answer within {TCP_TIMEOUT:?}")),
    }
}

/// A reqwest error by its class only ("connection refused", "TLS: the certificate is not
/// valid for this name", "timed out"...), never with text from the error itself: a
/// library's message may carry bytes from the target (rustls's name mismatch lists the
/// certificate's names), and the check's status must not become a read oracle for whoever
/// writes the check. A refusal of the operator's own (where checks may connect) is said
/// in full.
fn describe_reqwest(e: &reqwest::Error) -> String {
    describe_error(
        e,
        e.is_timeout(),
        e.is_connect(),
        e.is_body() || e.is_decode(),
    )
}

/// [`describe_reqwest`] for any error chain: `timeout`, `connect` and `body` say what the
/// top error already knows of itself.
fn describe_error(
    e: &(dyn std::error::Error + 'static),
    timeout: bool,
    connect: bool,
    body: bool,
) -> String {
    let mut io_class = None;
    let mut link: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(l) = link {
        if let Some(refused) = l.downcast_ref::<Refused>() {
            return refused.to_string();
        }
        if let Some(t) = l.downcast_ref::<rustls::Error>() {
            return tls_class(t).to_string();
        }
        let io = l.downcast_ref::<std::io::Error>();
        if let Some(io) = io
            && io.kind() != std::io::ErrorKind::Other
        {
            io_class.get_or_insert(io_error_class(io.kind()));
        }
        // An io::Error's source() skips the error it wraps (tokio-rustls wraps rustls's
        // in two): follow the wrapped one.
        link = match io.and_then(|io| io.get_ref()) {
            Some(inner) => Some(inner as &(dyn std::error::Error + 'static)),
            None => l.source(),
        };
    }
    let class = if timeout {
        "timed out"
    } else if let Some(class) = io_class {
        class
    } else if connect {
        "connection failed"
    } else if body {
        "reading the answer failed"
    } else {
        "no valid HTTP answer"
    };
    class.to_string()
}

/// What went wrong in a TLS handshake, by class.
fn tls_class(e: &rustls::Error) -> &'static str {
    use rustls::{CertificateError as C, Error as E};
    match e {
        E::InvalidCertificate(C::NotValidForName | C::NotValidForNameContext { .. }) => {
            "TLS: the certificate is not valid for this name"
        }
        E::InvalidCertificate(C::Expired | C::ExpiredContext { .. }) => {
            "TLS: the certificate has expired"
        }
        E::InvalidCertificate(C::NotValidYet | C::NotValidYetContext { .. }) => {
            "TLS: the certificate is not valid yet"
        }
        E::InvalidCertificate(C::UnknownIssuer) => {
            "TLS: the certificate is not signed by an authority the operator trusts"
        }
        E::InvalidCertificate(C::Revoked) => "TLS: the certificate is revoked",
        E::InvalidCertificate(_) => "TLS: the certificate is not valid",
        E::NoCertificatesPresented => "TLS: the server presented no certificate",
        E::AlertReceived(_) => "TLS handshake failed: the server refused it",
        _ => "TLS handshake failed",
    }
}

/// What went wrong on a connection, by class.
fn io_error_class(kind: std::io::ErrorKind) -> &'static str {
    use std::io::ErrorKind as K;
    match kind {
        K::ConnectionRefused => "connection refused",
        K::ConnectionReset | K::ConnectionAborted | K::BrokenPipe => "connection reset",
        K::TimedOut => "timed out",
        K::HostUnreachable | K::NetworkUnreachable | K::NetworkDown => "no route to the host",
        K::UnexpectedEof => "the connection closed early",
        K::AddrNotAvailable | K::AddrInUse => "no local address to connect from",
        _ => "connection failed",
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::controller::steps::reach::{Reach, Resolver};

    /// An error with a message and a source, as hyper and reqwest wrap theirs.
    #[derive(Debug)]
    struct Wrap(&'static str, Box<dyn std::error::Error + Send + Sync>);

    impl std::fmt::Display for Wrap {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str(self.0)
        }
    }

    impl std::error::Error for Wrap {
        fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
            Some(&*self.1)
        }
    }

    #[test]
    fn a_tls_name_mismatch_is_told_by_class_never_with_the_certificates_names() {
        let mismatch =
            rustls::Error::InvalidCertificate(rustls::CertificateError::NotValidForNameContext {
                expected: rustls::pki_types::ServerName::try_from("lims.pathology.svc")
                    .expect("a name")
                    .to_owned(),
                presented: vec!["payroll-db.corp.internal".into(), "10.1.2.3".into()],
            });
        assert!(
            mismatch.to_string().contains("payroll-db.corp.internal"),
            "rustls names the certificate's names: {mismatch}"
        );
        // As tokio-rustls hands it on: an io::Error wrapping it, in hyper's connect error,
        // in reqwest's.
        let chain = Wrap(
            "error sending request",
            Box::new(Wrap(
                "client error (Connect)",
                Box::new(std::io::Error::new(
                    std::io::ErrorKind::InvalidData,
                    mismatch,
                )),
            )),
        );
        assert_eq!(
            describe_error(&chain, false, true, false),
            "TLS: the certificate is not valid for this name"
        );
        let expired = rustls::Error::InvalidCertificate(rustls::CertificateError::Expired);
        assert_eq!(
            describe_error(&expired, false, true, false),
            "TLS: the certificate has expired"
        );
        let other = rustls::Error::General("bytes the server sent".into());
        assert_eq!(
            describe_error(&other, false, true, false),
            "TLS handshake failed"
        );
    }

    fn client(reach: Reach) -> reqwest::Client {
        let _ = rustls::crypto::ring::default_provider().install_default();
        reqwest::Client::builder()
            .dns_resolver(Arc::new(Resolver(Arc::new(reach))))
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("an HTTP client")
    }

    fn loopback() -> Reach {
        Reach::new(vec!["127.0.0.0/8".parse().expect("cidr")], vec![])
    }

    /// A listener on loopback that answers every connection with `answer` and closes it.
    async fn answering(answer: &'static [u8]) -> u16 {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let port = listener.local_addr().expect("address").port();
        tokio::spawn(async move {
            while let Ok((mut conn, _)) = listener.accept().await {
                let mut buf = [0u8; 1024];
                let _ = conn.read(&mut buf).await;
                let _ = conn.write_all(answer).await;
                let _ = conn.shutdown().await;
            }
        });
        port
    }

    #[tokio::test]
    async fn errors_are_told_by_class_and_the_operators_own_refusals_in_full() {
        let c = client(loopback());
        // Nothing listens: refused.
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
            l.local_addr().expect("address").port()
        };
        let e = c
            .get(format!("http://127.0.0.1:{port}/"))
            .send()
            .await
            .expect_err("nothing listens");
        assert_eq!(describe_reqwest(&e), "connection refused");
        // A server whose answer is not HTTP, or not TLS: its bytes are not repeated.
        let port = answering(b"SECRET-FROM-THE-TARGET\r\n\r\n").await;
        for url in [
            format!("http://127.0.0.1:{port}/"),
            format!("https://localhost:{port}/"),
        ] {
            let e = c.get(&url).send().await.expect_err("not HTTP");
            let why = describe_reqwest(&e);
            assert!(!why.contains("SECRET"), "{url}: {why}");
            assert!(
                [
                    "no valid HTTP answer",
                    "TLS handshake failed",
                    "the connection closed early"
                ]
                .contains(&why.as_str()),
                "{url}: {why}"
            );
        }
        // The operator's own refusal, for where the name resolves, is said in full.
        let none = client(Reach::new(vec![], vec![]));
        let e = none
            .get(format!("http://localhost:{port}/"))
            .send()
            .await
            .expect_err("no networks allowed");
        let why = describe_reqwest(&e);
        assert!(
            why.contains("outside the networks checks may reach"),
            "{why}"
        );
    }
}
