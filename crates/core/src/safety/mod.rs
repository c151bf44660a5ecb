//! Safety: what a message sounds like (a crisis, a request for advice, or neither), and the
//! crisis answer, which comes before every other flow.

//!
//! Detection is a rule engine ([`engine`](self)) over data: the rules and the words its guards
//! use are in `rules/*.toml`. Rules rather than a model: every decision can be read, explained
//! and corrected, and nothing leaves the machine.

mod answer;
mod engine;

/// What the bot must answer, beyond keeping the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concern {
    /// Thoughts of suicide or self-harm, harm to others, or violence or abuse at home.
    Crisis,
    /// A request for advice or a decision, which the bot never gives.
    Advice,
    None,
}

/// What a message sounds like. A crisis outranks a request for advice.
pub fn assess(text: &str) -> Concern {
    engine::assess(text)
}
