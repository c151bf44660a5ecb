//! What the user writes: every text is kept, as the answer to the open question or as a note
//! for the day, and acknowledged in a few warm words, or with the crisis or advice answer.

use crate::{
    content::args,
    conversation::{Conversation, Outcome},
    event::Incoming,
    model::{Entry, Profile, UserId},
    reply::Outbound,
    safety::Concern,
};

impl Conversation<'_> {
    /// Text the user wrote. It is kept whatever it says; what the bot says back depends on what
    /// it sounds like.
    pub(crate) fn keep(
        &self,
        user_id: UserId,
        profile: Option<Profile>,
        incoming: Incoming,
        already_kept: Option<Entry>,
        concern: Concern,
    ) -> Outcome {
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        if !profile.reachable {
            profile.reachable = true;
            profile.reschedule(self.now);
        }
        let entry = match already_kept {
            // The same message again (Telegram redelivered it): same entry, same answer.
            Some(kept) => Entry {
                text: incoming.text,
                ..kept
            },
            None => Entry {
                user_id,
                message_id: incoming.message_id,
                written_at: incoming.sent_at,
                local_date: profile.zone.local_date(incoming.sent_at),
                prompt_id: profile.open_prompt.take().map(|open| open.prompt_id),
                text: incoming.text,
                edited_at: None,
            },
        };
        outbound.push(self.acknowledge(&entry, concern));
        Outcome {
            profile: Some(profile),
            entry: Some(entry),
            outbound,
            erase_user: false,
        }
    }

    fn acknowledge(&self, entry: &Entry, concern: Concern) -> Outbound {
        let words = self.voice.words();
        let html = match concern {
            Concern::Crisis => self.crisis_about_their_words(),
            Concern::Advice => words.advice(args::Advice {
                practice: self.voice.practice(),
            }),
            Concern::None => {
                let seed = u64::from(entry.message_id.unsigned_abs());
                if entry.prompt_id.is_some() {
                    words.reply_acks(seed)
                } else {
                    words.note_acks(seed)
                }
            }
        };
        self.voice.with_booking(html)
    }

    /// An edit replaces the kept text. Edits are quiet, except that a crisis is never left
    /// unanswered.
    pub(crate) fn edited(
        &self,
        incoming: Incoming,
        already_kept: Option<Entry>,
        concern: Concern,
    ) -> Outcome {
        let outbound = match concern {
            Concern::Crisis => vec![self.voice.with_booking(self.crisis_about_their_words())],
            Concern::Advice | Concern::None => Vec::new(),
        };
        let entry = already_kept.map(|kept| Entry {
            text: incoming.text,
            edited_at: Some(self.now),
            ..kept
        });
        Outcome {
            entry,
            outbound,
            ..Outcome::default()
        }
    }
}
