//! `/api/agent/...`: the repository agent's endpoints. So far its health report, which the log
//! analyzer makes from the server's own logs.

pub mod health;
