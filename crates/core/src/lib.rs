//! Crossroads' behaviour as plain Rust: no Telegram, no database, no async runtime, and time
//! passed in. Transports turn what arrives into an [`event::Event`]; the service asks the
//! [`conversation::Conversation`] what the turn [`needs`](conversation::Turn::needs), loads it,
//! and hands it back for a decision: the new state and the replies.
//!
//! One module per feature:
//! - [`welcome`]: `/start`, `/help`, `/book`, `/privacy`, and what the bot says to anything it
//!   cannot keep;
//! - [`settings`]: `/time`, `/timezone`, `/pause`, `/resume`, a shared location, and
//!   reachability; [`panel`]: `/settings` and its buttons;
//! - [`questions`]: the daily question and `/prompt`;
//! - [`words`]: what the user writes, kept as answers and notes;
//! - [`recap`], [`export`], [`deletion`];
//! - [`themes`]: `/themes`, which parts of the article the daily question comes from;
//! - [`safety`]: crisis and advice detection, and the crisis answer.
//!
//! Beneath them: [`command`] (the one declaration of the commands), [`content`] (the validated
//! dialogues), [`markup`] (Telegram HTML), [`model`], [`schedule`], [`zone`], [`rotation`].

#![warn(unreachable_pub)]

mod brief;
pub mod command;
pub mod content;
pub mod conversation;
mod deletion;
mod discreet;
pub mod event;
mod export;
pub mod markup;
pub mod model;
mod panel;
mod questions;
mod recap;
pub mod reply;
pub mod rotation;
pub mod safety;
pub mod schedule;
mod settings;
mod themes;
pub mod voice;
mod welcome;
mod words;
pub mod zone;

#[cfg(any(test, feature = "test-support"))]
pub mod fixtures;
