//! Crossroads: a Telegram reflection companion for people at a crossroads in a long relationship.

pub mod content;
pub mod core;
pub mod store;
