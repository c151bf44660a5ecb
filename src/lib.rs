//! Crossroads: a Telegram reflection companion for people at a crossroads in a long relationship.

pub mod app;
pub mod clock;
pub mod config;
pub mod content;
pub mod core;
pub mod service;
pub mod store;
pub mod telemetry;
pub mod transport;
