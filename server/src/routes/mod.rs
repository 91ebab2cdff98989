//! One module per resource or action, mirroring the URL (`/api/health` → `routes/health.rs`).

pub mod health;
pub mod metrics;
pub mod ping;
