//! Cancelling a request's model jobs, written once: the server marks a request cancelled
//! ([`mark`]) when its client cancels or supersedes it or stops waiting; a worker checks the mark
//! before it starts one of the request's jobs ([`is_marked`]) and hears the announcement
//! ([`parse_announcement`]) while it runs one.
//!
//! Two signals, because each covers what the other cannot: the key outlives the moment (a job still
//! queued behind others is dropped when taken), the pub/sub message reaches a generation already
//! running (which stops at its next token). Marks expire on their own
//! ([`CANCELLED_TTL_SECONDS`]); request ids are never reused, so nothing withdraws one.

use redis::RedisResult;
use redis::aio::ConnectionLike;
use uuid::Uuid;

use crate::redis_keys::{CANCEL_CHANNEL, CANCELLED_KEY, CANCELLED_TTL_SECONDS, key};

/// Marks `request_id` cancelled for workers that have not started its jobs, then announces it to
/// those running one.
pub async fn mark(redis: &mut (impl ConnectionLike + Send), request_id: Uuid) -> RedisResult<()> {
    redis::cmd("SET").arg(key(CANCELLED_KEY, request_id)).arg("").arg("EX").arg(CANCELLED_TTL_SECONDS).query_async::<()>(redis).await?;
    redis::cmd("PUBLISH").arg(CANCEL_CHANNEL).arg(request_id.to_string()).query_async::<i64>(redis).await?;
    Ok(())
}

/// Whether `request_id` was marked cancelled (in the last [`CANCELLED_TTL_SECONDS`]).
pub async fn is_marked(redis: &mut (impl ConnectionLike + Send), request_id: Uuid) -> RedisResult<bool> {
    redis::cmd("EXISTS").arg(key(CANCELLED_KEY, request_id)).query_async::<bool>(redis).await
}

/// The request a message on [`CANCEL_CHANNEL`] cancels; `None` for anything else.
pub fn parse_announcement(payload: &str) -> Option<Uuid> {
    Uuid::parse_str(payload.trim()).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_announcement_names_its_request_and_nothing_else_parses() {
        let id = Uuid::new_v4();
        assert_eq!(parse_announcement(&id.to_string()), Some(id));
        assert_eq!(parse_announcement("not a request"), None);
    }
}
