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
    /// Discreet mode: what the bot sends opens with a neutral line and hides the rest behind a
    /// spoiler, the user's own messages are deleted once kept, and recaps, briefs and exports
    /// are protected and deleted after a while.
    #[serde(default)]
    pub discreet: bool,
    /// Whether the user was told, once, that their messages are deleted from the chat.
    #[serde(default)]
    pub discreet_deletion_explained: bool,
    /// Ties the buttons under the newest /settings to this user: an older keyboard, or data
    /// made up for another chat, does not match it.
    #[serde(default)]
    pub settings_nonce: Option<u64>,
    /// /timezone offered zones as buttons that type their name: until a zone is chosen, a
    /// message that is exactly one of them is that choice rather than words to keep.
    #[serde(default)]
    pub zone_offered: bool,
    /// The questions delivered lately, newest last, at most [`ASKED_MEMORY`]: a Telegram reply
    /// to one of them is its answer, whatever question is open now.
    #[serde(default)]
    pub asked: Vec<Asked>,
    /// The themes the user turned off in `/themes`. The ones turned off are kept, not the ones
    /// on, so a theme added to the dialogues later is on for everyone.
    #[serde(default)]
    pub themes_off: Vec<String>,
    /// Ties `/themes` buttons to the latest list shown, so an older list's buttons do nothing.
    #[serde(default)]
    pub themes_nonce: Option<u64>,
}

/// A question as it reached the user: which Telegram message carried it, which question, when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Asked {
    pub message_id: i32,
    pub prompt_id: String,
    pub sent_at: DateTime<Utc>,
}

/// How many delivered questions are remembered for replies: about two months of daily ones.
pub const ASKED_MEMORY: usize = 60;

/// When a message fell in the check-in band, which message it was (so that a redelivery gets
/// the same answer), and whether it was answered as a crisis.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckIn {
    pub at: DateTime<Utc>,
    pub message_id: i32,
    pub answered_as_crisis: bool,
}

/// Counts for the practice's admins: how many, never who.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    pub users: usize,
    /// Users who wrote something in the last 7 and the last 30 days.
    pub active_week: usize,
    pub active_month: usize,
    pub questions_sent: u64,
    pub answers_kept: u64,
    pub crisis_answers: u64,
    pub check_ins: u64,
    pub bookings_offered: u64,
}

/// How long a check-in is remembered.
pub const CHECK_IN_MEMORY: Duration = Duration::hours(24);

/// A question sent and not yet answered: the next text the user sends is the answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OpenPrompt {
    pub prompt_id: String,
    pub sent_at: DateTime<Utc>,
    /// The Telegram message that carried the question, once delivered.
    #[serde(default)]
    pub message_id: Option<i32>,
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
            discreet: false,
            settings_nonce: None,
            zone_offered: false,
            asked: Vec::new(),
            themes_off: Vec::new(),
            themes_nonce: None,
            discreet_deletion_explained: false,
        }
    }

    /// Remembers that a question reached the user as `message_id`, forgetting the oldest past
    /// [`ASKED_MEMORY`].
    pub fn remember_asked(&mut self, asked: Asked) {
        // Telegram never reuses a message id in a chat; a redelivered confirmation is the same.
        self.asked
            .retain(|known| known.message_id != asked.message_id);
        self.asked.push(asked);
        let over = self.asked.len().saturating_sub(ASKED_MEMORY);
        self.asked.drain(..over);
    }

    /// The question delivered as `message_id`, if it is still remembered.
    pub fn asked_as(&self, message_id: i32) -> Option<&Asked> {
        self.asked
            .iter()
            .find(|asked| asked.message_id == message_id)
    }

    /// Forgets questions delivered before `cutoff`, with the retention of the words; returns
    /// whether anything changed.
    pub fn forget_asked_before(&mut self, cutoff: DateTime<Utc>) -> bool {
        let before = self.asked.len();
        self.asked.retain(|asked| asked.sent_at >= cutoff);
        self.asked.len() != before
    }

    /// Whether questions of `theme` may come.
    pub fn chooses(&self, theme: &str) -> bool {
        !self.themes_off.iter().any(|off| off == theme)
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
