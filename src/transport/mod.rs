//! The edges: Telegram, and the terminal chat. Both only convert between their world and the
//! service's events and replies.

pub mod commands;
pub mod polling;
pub mod telegram;
pub mod terminal;
