//! Logging: `tracing` with structured fields, JSON when running in a cluster and
//! human-readable in a terminal. `RUST_LOG` sets the filter (default `info`);
//! `LIFELINE_LOG_FORMAT=json|text` overrides the format.

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. Calling it twice is harmless.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let json = match std::env::var("LIFELINE_LOG_FORMAT").as_deref() {
        Ok("json") => true,
        Ok("text") => false,
        _ => std::env::var_os("KUBERNETES_SERVICE_HOST").is_some(),
    };
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if json {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
