//! Structured logs: JSON lines by default, each carrying the fields of its enclosing spans — so every
//! line written while serving a request carries that request's `request.id`.

use crate::settings::LogFormat;
use tracing_subscriber::EnvFilter;

/// Installs the global subscriber (once per process; later calls are no-ops, which lets tests build
/// many servers). The filter comes from `RUST_LOG`, default `info`.
pub fn init(format: LogFormat) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    // stderr: stdout stays free for command output (`code4me-server admin ...`); containers and
    // run.sh capture both.
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_target(true).with_writer(std::io::stderr);
    let result = match format {
        LogFormat::Json => builder.json().flatten_event(true).with_current_span(false).with_span_list(true).try_init(),
        LogFormat::Pretty => builder.try_init(),
    };
    // Already installed (a second server in the same test process): keep the first one.
    drop(result);
}
