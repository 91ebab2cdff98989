//! A Redis pub/sub subscription that survives Redis restarts. redis-rs' pub/sub connection does
//! not reconnect by itself, and every listener in the project (expiry events, replies, queue
//! wake-ups, cancellations) needs the same loop around it.

use std::time::Duration;

use futures::StreamExt;

/// Pause between reconnection attempts.
const RETRY_EVERY: Duration = Duration::from_millis(250);

/// Subscribes to `channels` and hands every message (`channel`, `payload`) to `on_message`,
/// forever (until the future is dropped). `on_subscribed(true)` runs each time the subscription is
/// in place — after a reconnect, too, so a listener can catch up on what it missed —
/// `on_subscribed(false)` each time it is lost. `what` names the listener in logs.
/// (`on_message` returns a plain future rather than being an async closure so the whole listener
/// stays provably `Send` for `tokio::spawn`.)
pub async fn subscribe_forever<Fut: Future<Output = ()>>(
    client: redis::Client,
    channels: Vec<String>,
    what: &'static str,
    mut on_subscribed: impl FnMut(bool),
    mut on_message: impl FnMut(String, String) -> Fut,
) {
    loop {
        match client.get_async_pubsub().await {
            Ok(mut pubsub) => match pubsub.subscribe(&channels).await {
                Ok(()) => {
                    on_subscribed(true);
                    let mut messages = pubsub.on_message();
                    while let Some(message) = messages.next().await {
                        let payload: String = message.get_payload().unwrap_or_default();
                        on_message(message.get_channel_name().to_owned(), payload).await;
                    }
                    on_subscribed(false);
                    tracing::warn!(listener = what, "lost the Redis subscription; resubscribing");
                }
                Err(error) => tracing::warn!(listener = what, %error, "could not subscribe; retrying"),
            },
            Err(error) => tracing::warn!(listener = what, %error, "Redis pub/sub unreachable; retrying"),
        }
        tokio::time::sleep(RETRY_EVERY).await;
    }
}
