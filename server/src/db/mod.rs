//! PostgreSQL queries, one module per table family. Functions take a pool or transaction and parsed
//! domain values; they never validate.

pub mod projects;
pub mod users;
