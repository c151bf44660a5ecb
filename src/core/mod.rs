//! The bot's behaviour as plain Rust: no Telegram, no database, time passed in.

pub mod markup;
