mod acquire;
mod deactivate;
