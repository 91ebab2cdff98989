//! Change announcements from PostgreSQL (LISTEN/NOTIFY): the `user_data_changed` channel, on which
//! a trigger announces every committed change to a user or config row (migration
//! `20261206000001_user_data_notify.sql`).

use sqlx::PgPool;
use sqlx::postgres::{PgListener, PgPoolOptions};

/// The channel the `user` and `config` triggers notify.
pub const USER_DATA_CHANGED: &str = "user_data_changed";

/// A listener on [`USER_DATA_CHANGED`], on a connection of its own to `db`'s server (not one of
/// the pool's: a listener holds its connection for good); notifications committed from the moment
/// this returns are delivered.
pub async fn listen_for_user_data_changes(db: &PgPool) -> sqlx::Result<PgListener> {
    let own = PgPoolOptions::new().max_connections(1).connect_lazy_with((*db.connect_options()).clone());
    let mut listener = PgListener::connect_with(&own).await?;
    listener.listen(USER_DATA_CHANGED).await?;
    Ok(listener)
}
