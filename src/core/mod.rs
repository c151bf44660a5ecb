//! The bot's behaviour as plain Rust: no Telegram, no database, time passed in.

pub mod command;
pub mod conversation;
pub mod export;
pub mod markup;
pub mod model;
pub mod recap;
pub mod reply;
pub mod rotation;
pub mod safety;
pub mod schedule;
pub mod voice;
pub mod zone;
