//! `/api/analytics/research/...`: what completion research reports besides acceptance — how much of
//! an accepted completion survives in the code after 30 s, 2 min, 5 min and 10 min, the effort
//! figures (characters accepted per active user-day, shown and accepted shares, the share of new
//! code that came from suggestions), and latency by stage. Same window, scope and authorisation rules as the other
//! analytics: each user sees their own rows, admins everyone's or one user's.

use axum::Json;
use axum::extract::{Query, State};
use code4me_shared::survival::MOSTLY_UNCHANGED;
use serde::Serialize;
use utoipa::ToSchema;

use super::params::{Filters, ModelScopeFilters, Params};
use super::usage::ConfidenceInterval;
use crate::analytics::stats::wilson;
use crate::contract::error::ApiError;
use crate::db::analytics::research;
use crate::http::auth::ResearchCaller;
use crate::services::state::AppState;

/// Seconds after acceptance at which survival is reported.
pub const SURVIVAL_CHECKPOINTS: [i32; 4] = [30, 120, 300, 600];

/// `GET /api/analytics/research/code-survival`.
#[derive(Debug, Serialize, ToSchema)]
pub struct CodeSurvivalResponse {
    /// One row per checkpoint, ascending.
    pub data: Vec<SurvivalPoint>,
    /// Edit similarity at or above which a completion counts as mostly unchanged (0.8).
    pub mostly_unchanged_threshold: f64,
    /// The rows covered.
    pub filters: ModelScopeFilters,
}

/// Survival at one checkpoint.
#[derive(Debug, Serialize, ToSchema)]
pub struct SurvivalPoint {
    /// Seconds after acceptance.
    pub checkpoint_seconds: i32,
    /// Accepted completions with a ground truth at or after the checkpoint (before the next).
    pub generations: i64,
    /// Share still in the code verbatim (0..1); `null` without generations.
    pub unchanged_rate: Option<f64>,
    /// Its Wilson 95 % interval.
    pub unchanged_95ci: Option<ConfidenceInterval>,
    /// Share still there with edit similarity ≥ the threshold (0..1).
    pub mostly_unchanged_rate: Option<f64>,
    /// Its Wilson 95 % interval.
    pub mostly_unchanged_95ci: Option<ConfidenceInterval>,
    /// Mean edit similarity (0..1).
    pub avg_similarity: Option<f64>,
}

/// How much of the accepted completions is still in the code after 30 s, 2 min, 5 min and 10
/// min: per checkpoint, each accepted completion's earliest ground truth at or after it (and before
/// the next), scored when it was stored by the fewest edits turning the completion into part of
/// the later text. A checkpoint without ground truths at that time (the JetBrains plugin sends them
/// at 15, 45 and 90 s by default) has no generations.
#[utoipa::path(get, path = "/api/analytics/research/code-survival", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams, ("model_id" = Option<i64>, Query, description = "One model")),
    responses((status = 200, description = "Survival per checkpoint", body = CodeSurvivalResponse)))]
pub async fn code_survival(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<CodeSurvivalResponse>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let rows = research::survival(&state.db, &filters.rows(), &SURVIVAL_CHECKPOINTS).await.map_err(ApiError::database)?;
    let share = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    let data = rows
        .into_iter()
        .map(|row| SurvivalPoint {
            checkpoint_seconds: row.checkpoint_seconds,
            generations: row.generations,
            unchanged_rate: share(row.unchanged, row.generations),
            unchanged_95ci: wilson(row.unchanged, row.generations).map(Into::into),
            mostly_unchanged_rate: share(row.mostly_unchanged, row.generations),
            mostly_unchanged_95ci: wilson(row.mostly_unchanged, row.generations).map(Into::into),
            avg_similarity: row.avg_similarity,
        })
        .collect();
    Ok(Json(CodeSurvivalResponse { data, mostly_unchanged_threshold: MOSTLY_UNCHANGED, filters: filters.with_model() }))
}

/// `GET /api/analytics/research/effort`.
#[derive(Debug, Serialize, ToSchema)]
pub struct EffortResponse {
    /// Completion generations (a query two models answered counts twice).
    pub requested: i64,
    /// Of them, generations shown (non-empty, with a shown time).
    pub shown: i64,
    /// Of them, generations accepted.
    pub accepted: i64,
    /// shown / requested (0..1); `null` without generations.
    pub shown_rate: Option<f64>,
    /// accepted / shown (0..1); `null` without shown completions.
    pub acceptance_per_shown: Option<f64>,
    /// Characters of the accepted completions.
    pub accepted_chars: i64,
    /// Distinct (user, UTC day) pairs with a completion generation.
    pub active_user_days: i64,
    /// accepted_chars / active_user_days; `null` without active days.
    pub accepted_chars_per_active_user_day: Option<f64>,
    /// Net growth of the edited documents (per session and file, the largest reported length
    /// minus the smallest, summed).
    pub document_growth_chars: i64,
    /// accepted_chars / document_growth_chars, at most 1: the share of new code that came from
    /// suggestions. An estimate — deleting code shrinks the growth — and `null` without growth.
    pub suggested_share_of_new_code: Option<f64>,
    /// The rows covered.
    pub filters: ModelScopeFilters,
}

/// Effort: how many completions were asked for, shown and accepted, characters accepted per
/// active user-day, and the share of new code that came from suggestions.
#[utoipa::path(get, path = "/api/analytics/research/effort", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams, ("model_id" = Option<i64>, Query, description = "One model")),
    responses((status = 200, description = "Effort figures", body = EffortResponse)))]
pub async fn effort(State(state): State<AppState>, caller: ResearchCaller, Query(params): Query<Params>) -> Result<Json<EffortResponse>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let e = research::effort(&state.db, &filters.rows()).await.map_err(ApiError::database)?;
    let ratio = |part: i64, whole: i64| (whole > 0).then(|| part as f64 / whole as f64);
    Ok(Json(EffortResponse {
        requested: e.requested,
        shown: e.shown,
        accepted: e.accepted,
        shown_rate: ratio(e.shown, e.requested),
        acceptance_per_shown: ratio(e.accepted, e.shown),
        accepted_chars: e.accepted_chars,
        active_user_days: e.active_user_days,
        accepted_chars_per_active_user_day: ratio(e.accepted_chars, e.active_user_days),
        document_growth_chars: e.document_growth_chars,
        suggested_share_of_new_code: ratio(e.accepted_chars, e.document_growth_chars).map(|share| share.min(1.0)),
        filters: filters.with_model(),
    }))
}

/// `GET /api/analytics/research/latency-stages`.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatencyStagesResponse {
    /// One row per model with stage timings, by name.
    pub data: Vec<ModelStages>,
    /// The rows covered.
    pub filters: ModelScopeFilters,
}

/// One model's completion latency by stage.
#[derive(Debug, Serialize, ToSchema)]
pub struct ModelStages {
    /// The model's name.
    pub model_name: String,
    /// Completion generations with stage timings (those stored since they were recorded, by the
    /// local workers).
    pub generations: i64,
    /// From the server queueing the job to a worker taking it.
    pub queue_wait: StagePercentiles,
    /// From the model starting to its first token: reading the prompt.
    pub prefill: StagePercentiles,
    /// The rest of the model's time: generating the tokens after the first.
    pub decode: StagePercentiles,
    /// The server's time for the query beyond queue and model: its own work and the pub/sub hops
    /// (the client's network is not seen by the server).
    pub server_and_transport: StagePercentiles,
    /// The server's whole time for the query.
    pub total: StagePercentiles,
}

/// A stage's percentiles, in ms; `null` when no generation has it.
#[derive(Debug, Serialize, ToSchema)]
pub struct StagePercentiles {
    /// Median.
    pub p50_ms: Option<f64>,
    /// 90th percentile.
    pub p90_ms: Option<f64>,
}

/// Completion latency by stage per model — queue wait, prefill, decode, and what the server adds —
/// as medians and 90th percentiles over the generations that carry stage timings.
#[utoipa::path(get, path = "/api/analytics/research/latency-stages", tag = "analytics", security(("auth_token" = []), ("bearer" = [])),
    params(super::params::ScopeParams, ("model_id" = Option<i64>, Query, description = "One model")),
    responses((status = 200, description = "Latency by stage per model", body = LatencyStagesResponse)))]
pub async fn latency_stages(
    State(state): State<AppState>,
    caller: ResearchCaller,
    Query(params): Query<Params>,
) -> Result<Json<LatencyStagesResponse>, ApiError> {
    let filters = Filters::parse(caller, &params)?;
    let rows = research::stage_latency(&state.db, &filters.rows()).await.map_err(ApiError::database)?;
    let stage = |p50_ms, p90_ms| StagePercentiles { p50_ms, p90_ms };
    let data = rows
        .into_iter()
        .map(|r| ModelStages {
            model_name: r.model_name,
            generations: r.generations,
            queue_wait: stage(r.queue_wait_p50, r.queue_wait_p90),
            prefill: stage(r.prefill_p50, r.prefill_p90),
            decode: stage(r.decode_p50, r.decode_p90),
            server_and_transport: stage(r.server_p50, r.server_p90),
            total: stage(r.total_p50, r.total_p90),
        })
        .collect();
    Ok(Json(LatencyStagesResponse { data, filters: filters.with_model() }))
}
