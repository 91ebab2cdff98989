//! Polling instead of sleeping: a test waits for the condition it needs, never for a guessed
//! duration, so it is as fast as the system allows and fails with what it was waiting for.
//!
//! A sleep that *is* the behaviour under test (a slow client, a lifetime running out) stays a
//! sleep, with a comment saying so.

use std::time::Duration;

use tokio::time::Instant;

/// The first pause between two checks; it doubles up to [`MAX_PAUSE`], so a quick condition is
/// seen at once and a slow one does not hammer Redis or PostgreSQL.
const FIRST_PAUSE: Duration = Duration::from_millis(10);

/// The longest pause between two checks.
const MAX_PAUSE: Duration = Duration::from_millis(200);

/// Polls `condition` until it is true; panics naming `what` if `timeout` passes first.
pub async fn wait_until(what: &str, timeout: Duration, mut condition: impl AsyncFnMut() -> bool) {
    wait_for(what, timeout, async || condition().await.then_some(())).await;
}

/// Polls `probe` until it yields a value and returns it; panics naming `what` if `timeout`
/// passes first.
pub async fn wait_for<T>(what: &str, timeout: Duration, probe: impl AsyncFnMut() -> Option<T>) -> T {
    match poll(timeout, probe).await {
        Some(value) => value,
        None => panic!("timed out after {timeout:?} waiting for: {what}"),
    }
}

/// Polls `probe` until it yields a value, or returns `None` once `timeout` has passed (for
/// callers that explain a timeout themselves). `probe` runs at least once.
pub async fn poll<T>(timeout: Duration, mut probe: impl AsyncFnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    let mut pause = FIRST_PAUSE;
    loop {
        if let Some(value) = probe().await {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        tokio::time::sleep(pause.min(deadline - Instant::now())).await;
        pause = (pause * 2).min(MAX_PAUSE);
    }
}
