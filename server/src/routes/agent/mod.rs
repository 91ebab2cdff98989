//! `/api/agent/...`: the repository agent's endpoints — starting a run (`code`, also at `POST
//! /code`), the caller's runs and their event streams (`runs`), and the admins' health report made
//! from the logs (`health`).

pub mod code;
pub mod health;
pub mod runs;
pub mod sse;
