mod acquire;
mod deactivate;
mod expiry;
