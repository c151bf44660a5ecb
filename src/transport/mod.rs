//! The edges: Telegram, and the terminal chat. Both only convert between their world and the
//! core's events and replies; neither sees the store.

mod location;
mod polling;
pub mod telegram;
pub mod terminal;
mod updates;
pub mod webhook;
