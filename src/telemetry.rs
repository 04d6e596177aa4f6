//! Logging: `tracing` with structured fields, JSON when running in a cluster and
//! human-readable in a terminal. `RUST_LOG` sets the filter (default `info`).

use tracing_subscriber::{EnvFilter, fmt};

/// Installs the global subscriber. Calling it twice is harmless.
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let in_cluster = std::env::var_os("KUBERNETES_SERVICE_HOST").is_some();
    let builder = fmt().with_env_filter(filter).with_writer(std::io::stderr);
    let _ = if in_cluster {
        builder.json().try_init()
    } else {
        builder.try_init()
    };
}
