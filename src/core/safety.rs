//! What a message sounds like: a crisis, a request for advice, or neither.

/// What the bot must answer, beyond keeping the words.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Concern {
    /// Thoughts of suicide or self-harm, harm to others, or violence at home.
    Crisis,
    /// A request for advice or a decision, which the bot never gives.
    Advice,
    None,
}

pub fn assess(text: &str) -> Concern {
    let lowered = text.to_lowercase();
    if ["kill myself", "suicid", "end it all"]
        .iter()
        .any(|p| lowered.contains(p))
    {
        Concern::Crisis
    } else if ["should i", "what do i do", "advice"]
        .iter()
        .any(|p| lowered.contains(p))
    {
        Concern::Advice
    } else {
        Concern::None
    }
}
