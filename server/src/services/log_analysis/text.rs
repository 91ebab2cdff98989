//! The report as text for a terminal (`code4me-server logs analyze` without `--json`).

use std::fmt::Write;

use crate::contract::log_report::{LogHealthStatus, LogLatency, LogReport};

/// Renders the report; every section is present, saying "none" when it is empty.
pub fn render(report: &LogReport) -> String {
    let mut out = String::new();
    // Writing to a String cannot fail.
    let _ = write_report(&mut out, report);
    out
}

fn write_report(out: &mut String, report: &LogReport) -> std::fmt::Result {
    let window = match report.since {
        Some(since) => format!("since {}", since.format("%Y-%m-%d %H:%M:%S UTC")),
        None => "every line".to_owned(),
    };
    writeln!(out, "Log report at {} ({window})", report.generated_at.format("%Y-%m-%d %H:%M:%S UTC"))?;
    for source in &report.sources {
        match &source.error {
            Some(error) => writeln!(out, "  {}: not read ({error})", source.name)?,
            None if source.truncated => writeln!(out, "  {}: {} lines (its end only)", source.name, source.lines)?,
            None => writeln!(out, "  {}: {} lines", source.name, source.lines)?,
        }
    }
    let lines = &report.lines;
    writeln!(
        out,
        "Lines: {} in the window ({} JSON, {} unparsable), {} before it",
        lines.total, lines.parsed, lines.unparsable, lines.before_window
    )?;

    let health = &report.health;
    match health.score {
        Some(score) => writeln!(out, "\nHealth: {score}/100 ({})", status(health.status))?,
        None => writeln!(out, "\nHealth: unknown (no line in the window)")?,
    }
    for reason in &health.reasons {
        writeln!(out, "  -{:<5} {}", reason.points, reason.reason)?;
    }

    let requests = &report.requests;
    writeln!(
        out,
        "\nRequests: {} ({} 5xx, {} 4xx){}",
        requests.count,
        requests.server_errors,
        requests.client_errors,
        requests.latency.as_ref().map(|l| format!(", {}", percentiles(l))).unwrap_or_default()
    )?;

    writeln!(out, "\nErrors and warnings by kind")?;
    if report.errors.is_empty() {
        writeln!(out, "  none")?;
    }
    for error in &report.errors {
        writeln!(out, "  {:<5} {:>6}  {}  ({})", error.level, error.count, error.kind, error.target)?;
        for (route, count) in &error.routes {
            writeln!(out, "  {:>13}  while serving {route}", format!("{count}×"))?;
        }
    }

    writeln!(out, "\nLatency by route")?;
    if report.routes.is_empty() {
        writeln!(out, "  none")?;
    }
    for route in &report.routes {
        let budget = route.p90_budget_ms.map(|b| format!(", p90 budget {b} ms")).unwrap_or_default();
        writeln!(out, "  {} {}: {}{budget}", route.method, route.route, percentiles(&route.latency))?;
    }

    writeln!(out, "\nLatency by stage")?;
    if report.stages.is_empty() {
        writeln!(out, "  none logged")?;
    }
    for stage in &report.stages {
        writeln!(out, "  {}: {}", stage.stage, percentiles(&stage.latency))?;
    }

    writeln!(out, "\nSlowest requests")?;
    if report.slowest.is_empty() {
        writeln!(out, "  none")?;
    }
    for request in &report.slowest {
        let id = request.request_id.as_deref().unwrap_or("-");
        let at = request.timestamp.map(|t| t.format("%Y-%m-%d %H:%M:%S").to_string()).unwrap_or_default();
        writeln!(out, "  {:>9} ms  {}  {} {}  {at}  request {id}", request.latency_ms, request.status, request.method, request.path)?;
    }

    writeln!(out, "\nProviders")?;
    if report.providers.is_empty() {
        writeln!(out, "  none logged")?;
    }
    for provider in &report.providers {
        let rate = provider.success_rate.map(|r| format!("{}%", super::score::round(100.0 * r, 1))).unwrap_or_else(|| "-".to_owned());
        let timing = provider.latency.as_ref().map(|l| format!("; {}", percentiles(l))).unwrap_or_default();
        writeln!(
            out,
            "  {}: {} answered, {} failed, {} other; success rate {rate}{timing}",
            provider.provider, provider.succeeded, provider.failed, provider.other
        )?;
    }
    Ok(())
}

fn status(status: LogHealthStatus) -> &'static str {
    match status {
        LogHealthStatus::Healthy => "healthy",
        LogHealthStatus::Degraded => "degraded",
        LogHealthStatus::Unhealthy => "unhealthy",
        LogHealthStatus::Unknown => "unknown",
    }
}

fn percentiles(latency: &LogLatency) -> String {
    format!("n={} p50 {} ms, p90 {} ms, p99 {} ms, max {} ms", latency.count, latency.p50_ms, latency.p90_ms, latency.p99_ms, latency.max_ms)
}
