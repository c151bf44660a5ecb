//! Crossroads: a Telegram reflection companion for people at a crossroads in a long relationship.
//!
//! This crate is the application: configuration, logging, the service that joins the core
//! (`crossroads-core`, plain Rust) to the store (`crossroads-store`, sled), and the transports
//! (Telegram and the terminal chat) that only convert.

#![warn(unreachable_pub)]

pub mod app;
pub mod backup;
pub mod clock;
pub mod config;
pub mod memory;
pub mod ops;
pub mod service;
pub mod telemetry;
pub mod transport;
