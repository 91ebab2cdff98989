//! `/api/analytics/...`: what researchers study — each user sees only their own rows, admins
//! everyone's (or one user's with `user_id`).

pub mod calibration;
pub mod export;
pub mod models;
pub mod overview;
pub mod params;
pub mod research;
pub mod studies;
pub mod study_evaluation;
pub mod usage;
