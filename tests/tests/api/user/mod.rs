mod authenticate;
mod create;
mod delete;
mod get;
mod google;
mod reset_password;
mod update;
mod verify;
