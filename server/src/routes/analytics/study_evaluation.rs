//! `GET /api/analytics/studies/{study_id}/evaluation` (admin): each arm against the baseline (the
//! default config) by acceptance — usage, the pooled per-generation z-test upstream reports, and the
//! inference a reviewer accepts: user-level (delta-method) intervals with Holm's correction across
//! arms, an always-valid sequential view for studies still running, CUPED on each user's pre-study
//! acceptance, and the sample-ratio check on the assignment. The arithmetic is in `analytics/`.

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Duration, Utc};
use serde::Serialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::studies::study_id;
use super::usage::ConfidenceInterval;
use crate::analytics::cluster::{Difference, UserCounts};
use crate::analytics::evaluation::{ArmInference, ArmParticipants, infer};
use crate::analytics::sequential::DEFAULT_MIXING_SD;
use crate::analytics::srm::SRM_ALARM_P;
use crate::analytics::stats::two_proportions;
use crate::contract::error::ApiError;
use crate::db::analytics::studies as arms_db;
use crate::db::studies::{self, StudyRow};
use crate::http::auth::AdminCaller;
use crate::services::state::AppState;
use crate::services::studies as study_flows;

/// An arm needs at least this many generations before its comparison is worth reading.
pub const MIN_GENERATIONS_PER_ARM: i64 = 100;

/// How far before the study a participant's acceptance is read as the CUPED covariate.
pub const PRE_PERIOD_DAYS: i64 = 30;

/// Significance level of every test and interval here.
const ALPHA: f64 = 0.05;

/// `GET /api/analytics/studies/{study_id}/evaluation`.
#[derive(Debug, Serialize, ToSchema)]
pub struct StudyEvaluationResponse {
    /// The study.
    pub study: EvaluatedStudy,
    /// One row per arm, by config id.
    pub results: Vec<ArmEvaluation>,
    /// What a reader must know before trusting the figures: arms with fewer than
    /// `min_generations_per_arm` generations, a sample-ratio mismatch, a per-generation result the
    /// per-user analysis does not confirm.
    pub warnings: Vec<String>,
    /// Completion generations an arm needs before its comparison means much.
    pub min_generations_per_arm: i64,
    /// Assigned users per arm against the planned equal split; `null` with fewer than two arms
    /// or no assigned users.
    pub sample_ratio: Option<SampleRatioCheck>,
    /// The methods' parameters.
    pub methods: EvaluationMethods,
}

/// The study an evaluation is about.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluatedStudy {
    /// The study.
    pub study_id: Uuid,
    /// Its name.
    pub name: String,
    /// When it starts.
    pub starts_at: DateTime<Utc>,
    /// When it ends; `null` while open-ended (the evaluation runs up to now).
    pub ends_at: Option<DateTime<Utc>>,
    /// The baseline arm.
    pub default_config_id: i64,
}

/// The parameters behind the figures.
#[derive(Debug, Serialize, ToSchema)]
pub struct EvaluationMethods {
    /// Significance level of every test and interval (0.05).
    pub alpha: f64,
    /// Days before the study whose acceptance is each user's CUPED covariate.
    pub cuped_pre_period_days: i64,
    /// τ, the standard deviation of the mSPRT's normal mixture over the difference.
    pub sequential_mixing_sd: f64,
    /// p-value below which the sample-ratio check raises its warning.
    pub sample_ratio_alarm_p: f64,
}

/// The sample-ratio check.
#[derive(Debug, Serialize, ToSchema)]
pub struct SampleRatioCheck {
    /// Users assigned per arm, by config id.
    pub assigned_users: Vec<AssignedUsers>,
    /// Pearson's χ² against the equal split.
    pub chi_square: f64,
    /// Arms − 1.
    pub degrees_of_freedom: usize,
    /// P(χ² ≥ observed) under the planned split (0..1).
    pub p_value: f64,
    /// `p_value` below `methods.sample_ratio_alarm_p`: assignment or logging is broken.
    pub mismatch: bool,
}

/// An arm's assigned users.
#[derive(Debug, Serialize, ToSchema)]
pub struct AssignedUsers {
    /// The arm's config.
    pub config_id: i64,
    /// Users assigned to it.
    pub users: i64,
}

/// One arm of an evaluation.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArmEvaluation {
    /// The arm's config.
    pub config_id: i64,
    /// Whether it is the baseline (the default config).
    pub is_baseline: bool,
    /// The queries it served to its participants during the study.
    pub metrics: ArmMetrics,
    /// Against the baseline; absent for the baseline itself (and when the baseline has no row).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vs_baseline: Option<BaselineComparison>,
}

/// An arm's usage during the study; times in ms, averages `null` without rows to average.
#[derive(Debug, Serialize, ToSchema)]
pub struct ArmMetrics {
    /// Users assigned to it.
    pub total_users: i64,
    /// Of them, users it served a query.
    pub active_users: i64,
    /// active_users / total_users (0..1; 0 without users).
    pub activation_rate: f64,
    /// Queries it served.
    pub total_queries: i64,
    /// Completion generations.
    pub total_generations: i64,
    /// Share of them accepted (0..1).
    pub acceptance_rate: Option<f64>,
    /// Completion generations accepted.
    pub total_accepted: i64,
    /// Mean generation time.
    pub avg_generation_time: Option<f64>,
    /// Mean confidence of completion generations (0..1).
    pub avg_confidence: Option<f64>,
    /// Distinct sessions.
    pub total_sessions: i64,
    /// Mean time the server took per query.
    pub avg_serving_time: Option<f64>,
}

/// An arm against the baseline; `null` values when there is nothing to compare.
#[derive(Debug, Serialize, ToSchema)]
pub struct BaselineComparison {
    /// Relative change in acceptance rate, in % of the baseline's.
    pub acceptance_rate_uplift_pct: Option<f64>,
    /// Arm's acceptance rate − the baseline's (−1..1).
    pub acceptance_rate_difference: Option<f64>,
    /// Naive 95 % interval of that difference, generations treated as independent.
    pub difference_95ci: Option<ConfidenceInterval>,
    /// Pooled two-proportion z statistic (per generation: overstates significance when users
    /// differ; see `robust`).
    pub z: Option<f64>,
    /// Its two-sided p-value (0..1).
    pub p_value: Option<f64>,
    /// Naive: p_value < 0.05.
    pub is_significant: bool,
    /// The arm's acceptance rate is higher.
    pub is_better_acceptance: bool,
    /// Relative change in mean generation time, in % of the baseline's.
    pub generation_time_change_pct: Option<f64>,
    /// The arm generates faster.
    pub is_faster: bool,
    /// User-level inference (the verdict to read); `null` with fewer than two active users in
    /// either arm.
    pub robust: Option<RobustComparison>,
    /// The same estimate as an always-valid test, safe to read at every look at a running study.
    pub sequential: Option<SequentialComparison>,
    /// CUPED-adjusted; `null` without pre-study acceptance for at least two participants.
    pub cuped: Option<CupedComparison>,
}

/// The difference with users as the unit of analysis (delta method).
#[derive(Debug, Serialize, ToSchema)]
pub struct RobustComparison {
    /// Arm's rate − the baseline's.
    pub difference: f64,
    /// Its standard error over users.
    pub standard_error: f64,
    /// 95 % interval.
    pub difference_95ci: ConfidenceInterval,
    /// Two-sided p-value.
    pub p_value: f64,
    /// After Holm's correction over the study's arms.
    pub holm_p_value: f64,
    /// holm_p_value < alpha.
    pub is_significant: bool,
}

/// The mSPRT view of the robust estimate.
#[derive(Debug, Serialize, ToSchema)]
pub struct SequentialComparison {
    /// Always-valid p-value at this look.
    pub p_value: f64,
    /// 95 % confidence sequence of the difference.
    pub confidence_sequence: ConfidenceInterval,
    /// p_value < alpha.
    pub is_significant: bool,
}

/// The CUPED-adjusted difference.
#[derive(Debug, Serialize, ToSchema)]
pub struct CupedComparison {
    /// Adjusted arm's rate − the baseline's.
    pub difference: f64,
    /// Its standard error.
    pub standard_error: f64,
    /// 95 % interval.
    pub difference_95ci: ConfidenceInterval,
    /// Two-sided p-value (not Holm-corrected).
    pub p_value: f64,
    /// θ, the regression of users' contributions on their pre-study rates.
    pub theta: f64,
    /// Participants (both arms) with a pre-study rate.
    pub users_with_covariate: usize,
    /// Adjusted / unadjusted variance of the difference (below 1: CUPED helped).
    pub variance_ratio: f64,
}

fn robust(d: Difference, holm_p_value: f64) -> RobustComparison {
    RobustComparison {
        difference: d.difference,
        standard_error: d.standard_error,
        difference_95ci: d.interval.into(),
        p_value: d.p_value,
        holm_p_value,
        is_significant: holm_p_value < ALPHA,
    }
}

fn user_level(inference: &ArmInference) -> (Option<RobustComparison>, Option<SequentialComparison>, Option<CupedComparison>) {
    let robust = inference.robust.zip(inference.holm_p_value).map(|(d, holm)| robust(d, holm));
    let sequential = inference.sequential.map(|s| SequentialComparison {
        p_value: s.p_value,
        confidence_sequence: s.interval.into(),
        is_significant: s.p_value < ALPHA,
    });
    let cuped = inference.cuped.map(|c| CupedComparison {
        difference: c.difference.difference,
        standard_error: c.difference.standard_error,
        difference_95ci: c.difference.interval.into(),
        p_value: c.difference.p_value,
        theta: c.theta,
        users_with_covariate: c.users_with_covariate,
        variance_ratio: c.variance_ratio,
    });
    (robust, sequential, cuped)
}

/// Each arm's participants, in `arms` order (arms nobody was assigned to are empty).
fn participants(arms: &[i64], rows: &[arms_db::ParticipantCounts]) -> Vec<ArmParticipants> {
    arms.iter()
        .map(|&config_id| ArmParticipants {
            config_id,
            users: rows
                .iter()
                .filter(|r| r.config_id == config_id)
                .map(|r| UserCounts {
                    pre_rate: (r.pre_generations > 0).then(|| r.pre_accepted as f64 / r.pre_generations as f64),
                    ..UserCounts::new(r.accepted, r.generations)
                })
                .collect(),
        })
        .collect()
}

/// Per arm, over the queries each served (its exposure) from the study's participants during the
/// study: usage and acceptance, and against the baseline the pooled z-test, the user-level
/// interval with Holm's correction, the always-valid sequential test and CUPED; the sample-ratio
/// check over the assignment; warnings for small arms, a mismatch, and per-generation results the
/// per-user analysis does not confirm.
#[utoipa::path(get, path = "/api/analytics/studies/{study_id}/evaluation", tag = "studies", security(("auth_token" = ["admin"]), ("bearer" = ["admin"])),
    params(("study_id" = Uuid, Path, description = "The study")),
    responses(
        (status = 200, description = "Per arm against the baseline", body = StudyEvaluationResponse),
        (status = 400, description = "Not a UUID", body = crate::contract::responses::Detail),
        (status = 404, description = "No such study", body = crate::contract::responses::Detail)
    ))]
pub async fn evaluation(
    State(state): State<AppState>,
    _admin: AdminCaller,
    Path(raw): Path<String>,
) -> Result<Json<StudyEvaluationResponse>, ApiError> {
    let id = study_id(&raw)?;
    let StudyRow { name, starts_at, ends_at, default_config_id: default, .. } = study_flows::find(&state, id).await?;
    let rows = arms_db::arm_usage(&state.db, id, starts_at, ends_at).await.map_err(ApiError::database)?;
    let arms = studies::arms(&state.db, id).await.map_err(ApiError::database)?;
    let pre_start = starts_at - Duration::days(PRE_PERIOD_DAYS);
    let counts = arms_db::participant_counts(&state.db, id, starts_at, ends_at, pre_start).await.map_err(ApiError::database)?;
    let inference = infer(&participants(&arms, &counts), default);
    let baseline = rows.iter().find(|r| r.config_id == default).copied();
    let mut warnings: Vec<String> = Vec::new();
    let sample_ratio = inference.sample_ratio.map(|srm| {
        let assigned_users: Vec<AssignedUsers> = arms
            .iter()
            .map(|&config_id| AssignedUsers { config_id, users: counts.iter().filter(|c| c.config_id == config_id).count() as i64 })
            .collect();
        if srm.mismatch() {
            let split: Vec<String> = assigned_users.iter().map(|a| format!("config {}: {}", a.config_id, a.users)).collect();
            warnings.push(format!(
                "sample ratio mismatch: assigned users ({}) are not the planned equal split (χ² = {:.2}, p = {:.2e}); assignment or logging is broken, so no comparison here can be trusted",
                split.join(", "),
                srm.chi_square,
                srm.p_value
            ));
        }
        SampleRatioCheck {
            assigned_users,
            chi_square: srm.chi_square,
            degrees_of_freedom: srm.degrees_of_freedom,
            p_value: srm.p_value,
            mismatch: srm.mismatch(),
        }
    });
    let results = rows
        .iter()
        .map(|arm| {
            let (config, users, active, generations, accepted, generation_time) =
                (arm.config_id, arm.total_users, arm.active_users, arm.total_generations, arm.total_accepted, arm.avg_generation_time);
            if generations < MIN_GENERATIONS_PER_ARM {
                warnings.push(format!(
                    "config {config} has {generations} generations; at least {MIN_GENERATIONS_PER_ARM} per arm are needed before its comparison means much"
                ));
            }
            let rate = (generations > 0).then(|| accepted as f64 / generations as f64);
            let vs_baseline = baseline.filter(|_| config != default).map(|base| {
                let comparison = two_proportions(accepted, generations, base.total_accepted, base.total_generations);
                let base_rate = (base.total_generations > 0).then(|| base.total_accepted as f64 / base.total_generations as f64);
                let uplift = rate.zip(base_rate).filter(|(_, b)| *b > 0.0).map(|(r, b)| (r - b) / b * 100.0);
                let time_change = generation_time.zip(base.avg_generation_time).filter(|(_, b)| *b > 0.0).map(|(t, b)| (t - b) / b * 100.0);
                let (robust, sequential, cuped) =
                    inference.arms.iter().find(|a| a.config_id == config).map(user_level).unwrap_or((None, None, None));
                let naive_significant = comparison.is_some_and(|c| c.p_value < ALPHA);
                if naive_significant && robust.as_ref().is_none_or(|r| !r.is_significant) {
                    warnings.push(format!(
                        "config {config}: significant per generation but not per user — the difference rests on how a few users behave; read the user-level interval"
                    ));
                }
                BaselineComparison {
                    acceptance_rate_uplift_pct: uplift,
                    acceptance_rate_difference: comparison.map(|c| c.difference),
                    difference_95ci: comparison.map(|c| c.interval.into()),
                    z: comparison.map(|c| c.z),
                    p_value: comparison.map(|c| c.p_value),
                    is_significant: naive_significant,
                    is_better_acceptance: comparison.is_some_and(|c| c.difference > 0.0),
                    generation_time_change_pct: time_change,
                    is_faster: time_change.is_some_and(|c| c < 0.0),
                    robust,
                    sequential,
                    cuped,
                }
            });
            ArmEvaluation {
                config_id: config,
                is_baseline: config == default,
                metrics: ArmMetrics {
                    total_users: users,
                    active_users: active,
                    activation_rate: if users > 0 { active as f64 / users as f64 } else { 0.0 },
                    total_queries: arm.total_queries,
                    total_generations: generations,
                    acceptance_rate: rate,
                    total_accepted: accepted,
                    avg_generation_time: generation_time,
                    avg_confidence: arm.avg_confidence,
                    total_sessions: arm.total_sessions,
                    avg_serving_time: arm.avg_serving_time,
                },
                vs_baseline,
            }
        })
        .collect();
    Ok(Json(StudyEvaluationResponse {
        study: EvaluatedStudy { study_id: id, name, starts_at, ends_at, default_config_id: default },
        results,
        warnings,
        min_generations_per_arm: MIN_GENERATIONS_PER_ARM,
        sample_ratio,
        methods: EvaluationMethods {
            alpha: ALPHA,
            cuped_pre_period_days: PRE_PERIOD_DAYS,
            sequential_mixing_sd: DEFAULT_MIXING_SD,
            sample_ratio_alarm_p: SRM_ALARM_P,
        },
    }))
}
