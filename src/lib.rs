//! Crossroads: a Telegram reflection companion for people at a crossroads in a long relationship.

pub mod core;
