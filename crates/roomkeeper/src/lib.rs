//! Wiring: configuration, start-up and the command line. The binary (`main.rs`) only
//! parses arguments and calls in here, so tests can start the very same app.

pub mod app;
pub mod cli;
pub mod config;
pub mod paths;

pub use app::{prepare, serve, shutdown_signal};
pub use config::{Config, LogFormat, Overrides};
