//! What the bot remembers about a user, and what it keeps of their words.

use chrono::{DateTime, Duration, NaiveDate, NaiveTime, Utc};
use serde::{Deserialize, Serialize};

use super::{rotation::Rotation, schedule::Due, zone::Zone};

/// A Telegram user id; in a private chat it is also the chat id.
pub type UserId = i64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Profile {
    pub user_id: UserId,
    pub joined_at: DateTime<Utc>,
    #[serde(with = "hh_mm")]
    pub prompt_time: NaiveTime,
    pub zone: Zone,
    pub paused: bool,
    /// False once Telegram says the user blocked the bot: nothing is sent until they return.
    pub reachable: bool,
    pub open_prompt: Option<OpenPrompt>,
    pub last_prompted_on: Option<NaiveDate>,
    pub next_due: Option<Due>,
    pub rotation: Rotation,
    #[serde(default)]
    pub pending_deletion: Option<PendingDeletion>,
    /// The last message that fell in the safety check-in band, for one day: a second one close
    /// to a crisis within it gets the crisis answer. Nothing of what was written is kept here.
    #[serde(default)]
    pub last_check_in: Option<CheckIn>,
}

/// When a message fell in the check-in band, which message it was (so that a redelivery gets
/// the same answer), and whether it was answered as a crisis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    pub at: DateTime<Utc>,
    pub message_id: i32,
    pub answered_as_crisis: bool,
}

/// How long a check-in is remembered.
pub const CHECK_IN_MEMORY: Duration = Duration::hours(24);

/// A question sent and not yet answered: the next text the user sends is the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPrompt {
    pub prompt_id: String,
    pub sent_at: DateTime<Utc>,
}

/// A `/delete` waiting for its confirmation button. The nonce ties the button to this request,
/// so an old button, or one from another chat, can never confirm it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingDeletion {
    pub nonce: u64,
    pub asked_at: DateTime<Utc>,
}

/// How long a delete confirmation button stays valid.
pub const DELETION_CONFIRMATION_WINDOW: Duration = Duration::minutes(15);

impl Profile {
    pub fn new(
        user_id: UserId,
        joined_at: DateTime<Utc>,
        prompt_time: NaiveTime,
        zone: Zone,
    ) -> Profile {
        Profile {
            user_id,
            joined_at,
            prompt_time,
            zone,
            paused: false,
            reachable: true,
            open_prompt: None,
            last_prompted_on: None,
            next_due: None,
            rotation: Rotation::default(),
            pending_deletion: None,
            last_check_in: None,
        }
    }

    /// The check-in still remembered at `now`: one older than a day is no longer kept.
    pub fn fresh_check_in(&self, now: DateTime<Utc>) -> Option<CheckIn> {
        self.last_check_in
            .filter(|last| now - last.at <= CHECK_IN_MEMORY)
    }

    /// Lets a check-in go once it is older than a day; returns whether anything changed.
    pub fn forget_stale_check_in(&mut self, now: DateTime<Utc>) -> bool {
        let fresh = self.fresh_check_in(now);
        let changed = fresh != self.last_check_in;
        self.last_check_in = fresh;
        changed
    }

    /// Recomputes the next question from the settings, as of `now`.
    pub fn reschedule(&mut self, now: DateTime<Utc>) {
        self.next_due = (!self.paused && self.reachable).then(|| {
            super::schedule::next_due(&self.zone, self.prompt_time, self.last_prompted_on, now)
        });
    }
}

/// Something the user wrote: the answer to a question, or a note when no question was open.
/// Identified by the Telegram message it came in, so a redelivered or edited message updates
/// the same entry instead of adding another.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub user_id: UserId,
    pub message_id: i32,
    pub written_at: DateTime<Utc>,
    pub local_date: NaiveDate,
    pub prompt_id: Option<String>,
    pub text: String,
    pub edited_at: Option<DateTime<Utc>>,
}

impl Entry {
    pub fn key(&self) -> EntryKey {
        EntryKey {
            user_id: self.user_id,
            written_at: self.written_at,
            message_id: self.message_id,
        }
    }
}

/// Where an entry lives: Telegram keeps a message's original date on every edit and redelivery,
/// so (user, date, message id) names the same entry every time the message comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EntryKey {
    pub user_id: UserId,
    pub written_at: DateTime<Utc>,
    pub message_id: i32,
}

/// Serialises a time of day as `HH:MM`, the form users and config files write.
pub mod hh_mm {
    use chrono::NaiveTime;
    use serde::{Deserialize, Deserializer, Serializer, de::Error};

    pub fn serialize<S: Serializer>(time: &NaiveTime, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&time.format("%H:%M").to_string())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<NaiveTime, D::Error> {
        let text = String::deserialize(deserializer)?;
        NaiveTime::parse_from_str(&text, "%H:%M").map_err(|_| {
            D::Error::custom(format!(
                "{text:?} is not a time of day in 24-hour HH:MM form, like \"09:00\""
            ))
        })
    }
}
