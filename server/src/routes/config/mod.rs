//! `/api/config/...` (admin): the HOCON config rows users are assigned to, validated before they
//! are stored, plus the language table and the models with the workers that serve them.
//!
//! Upstream declares `/{config_id}` before `/languages` and `/models`, which shadows both (422);
//! here static segments win, so every endpoint answers.

pub mod crud;
pub mod models;
