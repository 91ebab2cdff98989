mod activate;
mod create;
