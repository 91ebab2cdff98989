//! The server's side of the queues: model work goes out on `llm` (one job per model, so several
//! models run in parallel on different workers), answers come back on this instance's reply
//! channel ([`code4me_shared::reply`]), telemetry goes out on `db` (writes recorded together share a
//! job: [`telemetry`]), project files for the retrieval index on `index`, and cancellations through [`code4me_shared::cancellation`]. The same pub/sub
//! connection hears revoked sessions for this instance's WebSockets ([`revocations`]).
//!
//! Invariant: the server never runs a model and never writes telemetry itself.

pub mod agent_events;
pub mod replies;
pub mod revocations;
pub mod room_relay;
pub mod telemetry;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use code4me_shared::cancellation;
use code4me_shared::jobs::Job;
use code4me_shared::jobs::agent::AgentJob;
use code4me_shared::jobs::index::{IndexFilesRecord, IndexJob};
use code4me_shared::jobs::llm::{LlmJob, LlmTask};
use code4me_shared::jobs::telemetry::DbWrite;
use code4me_shared::pubsub::subscribe_forever;
use code4me_shared::queue::Producer;
use code4me_shared::redis_keys::{AGENT_EVENTS_CHANNEL, REVOCATIONS_CHANNEL, reply_channel};
use code4me_shared::reply::{Answer, Failure, ReplyEvent};
use redis::aio::ConnectionManager;
use tokio::sync::watch;
use tokio::time::Instant;
use uuid::Uuid;

use self::agent_events::AgentEvents;
use self::replies::{Replies, ReplyRouter};
use self::revocations::Revocations;
use self::telemetry::TelemetrySink;

/// Handles to the queues and this instance's reply channel; cheap to clone.
#[derive(Clone)]
pub struct Pipeline {
    reply_channel: String,
    router: ReplyRouter,
    revocations: Revocations,
    agent_events: AgentEvents,
    llm: Producer<LlmJob>,
    db: TelemetrySink,
    index: Producer<IndexJob>,
    agent: Producer<AgentJob>,
    redis: ConnectionManager,
    subscribed: watch::Receiver<bool>,
    _listener: Arc<AbortOnDrop>,
}

/// One model's outcome for a request.
#[derive(Debug, Clone)]
pub struct ModelOutcome {
    /// The model.
    pub model_id: i64,
    /// Its answer, or why there is none.
    pub result: Result<Answer, Failure>,
}

impl Pipeline {
    /// Starts this instance's subscription: its reply channel (a fresh one per process) and the
    /// shared revocations channel.
    pub fn start(redis: ConnectionManager, client: redis::Client) -> Self {
        let channel = reply_channel(&Uuid::new_v4().simple().to_string());
        let (router, revocations, agent_events) = (ReplyRouter::default(), Revocations::default(), AgentEvents::default());
        let (ready_tx, ready_rx) = watch::channel(false);
        let listener = tokio::spawn(listen(client, channel.clone(), router.clone(), revocations.clone(), agent_events.clone(), ready_tx));
        Self {
            reply_channel: channel,
            router,
            revocations,
            agent_events,
            llm: Producer::new(redis.clone()),
            db: TelemetrySink::start(Producer::new(redis.clone())),
            index: Producer::new(redis.clone()),
            agent: Producer::new(redis.clone()),
            redis,
            subscribed: ready_rx,
            _listener: Arc::new(AbortOnDrop(listener)),
        }
    }

    /// The WebSockets of this instance, by session, told when a session is revoked.
    pub fn revocations(&self) -> &Revocations {
        &self.revocations
    }

    /// The agent event streams of this instance, by run, told when a run has a new event.
    pub fn agent_events(&self) -> &AgentEvents {
        &self.agent_events
    }

    /// Pushes one `llm` job per model for `request_id` and returns the stream of their replies.
    /// Fails (nothing pushed) when Redis is unreachable.
    pub async fn submit(&self, request_id: Uuid, model_ids: &[i64], task: &LlmTask, stream: bool, timeout: Duration) -> anyhow::Result<Replies> {
        let mut subscribed = self.subscribed.clone();
        tokio::time::timeout(Duration::from_secs(2), subscribed.wait_for(|ready| *ready))
            .await
            .context("the reply subscription is not ready (is Redis up?)")?
            .context("the reply listener stopped")?;
        let replies = self.router.expect(request_id);
        let now_ms = chrono::Utc::now().timestamp_millis();
        let deadline_ms = now_ms + i64::try_from(timeout.as_millis()).unwrap_or(i64::MAX / 2);
        for &model_id in model_ids {
            let job = LlmJob {
                version: LlmJob::VERSION,
                request_id,
                model_id,
                reply_to: self.reply_channel.clone(),
                stream,
                deadline_ms,
                enqueued_ms: now_ms,
                task: task.clone(),
            };
            self.llm.push(job).await?;
        }
        Ok(replies)
    }

    /// Waits for every model's answer until `timeout`; models still silent then get a timeout
    /// error (and their jobs are cancelled). `on_token` sees streamed text as it arrives, with its
    /// model and choice.
    pub async fn gather(
        &self,
        request_id: Uuid,
        replies: &mut Replies,
        model_ids: &[i64],
        timeout: Duration,
        mut on_token: impl FnMut(i64, u32, &str),
    ) -> Vec<ModelOutcome> {
        let deadline = Instant::now() + timeout;
        let mut outcomes: BTreeMap<i64, Result<Answer, Failure>> = BTreeMap::new();
        while outcomes.len() < model_ids.len() {
            let Ok(Some(reply)) = tokio::time::timeout_at(deadline, replies.next()).await else { break };
            if !model_ids.contains(&reply.model_id) || outcomes.contains_key(&reply.model_id) {
                continue; // a duplicate delivery, or a stranger
            }
            match reply.event {
                ReplyEvent::Started { .. } => {}
                ReplyEvent::Token { text, choice } => on_token(reply.model_id, choice, &text),
                ReplyEvent::Done(answer) => {
                    outcomes.insert(reply.model_id, Ok(*answer));
                }
                ReplyEvent::Failed(failure) => {
                    outcomes.insert(reply.model_id, Err(failure));
                }
            }
        }
        if outcomes.len() < model_ids.len() {
            self.cancel(request_id).await;
        }
        model_ids
            .iter()
            .map(|&model_id| ModelOutcome {
                model_id,
                result: outcomes.remove(&model_id).unwrap_or_else(|| Err(Failure::TimedOut(format!("no answer within {} ms", timeout.as_millis())))),
            })
            .collect()
    }

    /// Queues telemetry; returns once Redis holds it (then it is never lost). Writes recorded at
    /// the same time share a job ([`TelemetrySink`]).
    pub async fn record(&self, write: DbWrite) -> anyhow::Result<()> {
        self.db.record(write).await
    }

    /// Queues project files for the retrieval index (their own queue: embedding is slow, and
    /// telemetry must not wait behind it); returns once Redis holds them.
    pub async fn index(&self, record: IndexFilesRecord) -> anyhow::Result<()> {
        self.index.push(IndexJob::new(record)).await
    }

    /// Queues a repository agent run on `agent`.
    pub async fn agent(&self, job: AgentJob) -> anyhow::Result<()> {
        self.agent.push(job).await
    }

    /// Cancels a request: jobs not started yet are dropped when taken, running generations stop
    /// at their next token. Best effort (a cancel lost to a Redis failure only wastes work).
    pub async fn cancel(&self, request_id: Uuid) {
        let mut redis = self.redis.clone();
        if let Err(error) = cancellation::mark(&mut redis, request_id).await {
            tracing::warn!(%error, %request_id, "could not cancel a request");
        }
    }
}

/// This instance's one pub/sub connection, forever (resubscribing after failures): replies on its
/// own channel go to the waiting requests, revocations to the WebSockets of the revoked session;
/// `ready` tells whether the subscription is in place, and every (re)subscription makes every
/// WebSocket re-check its session, since what was published while it was down is lost.
async fn listen(
    client: redis::Client,
    reply_channel: String,
    router: ReplyRouter,
    revocations: Revocations,
    agent_events: AgentEvents,
    ready: watch::Sender<bool>,
) {
    let on_subscribed = |subscribed| {
        let _ = ready.send(subscribed);
        if subscribed {
            revocations.recheck_all();
            agent_events.signal_all();
        }
    };
    let channels = vec![reply_channel, REVOCATIONS_CHANNEL.to_owned(), AGENT_EVENTS_CHANNEL.to_owned()];
    subscribe_forever(client, channels, "replies", on_subscribed, |channel, payload| {
        if channel == REVOCATIONS_CHANNEL {
            revocations.route(&payload)
        } else if channel == AGENT_EVENTS_CHANNEL {
            agent_events.route(&payload)
        } else {
            router.route(&payload)
        }
        std::future::ready(())
    })
    .await;
}

/// Stops the reply listener with the last handle.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
