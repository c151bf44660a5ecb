//! The daily question, and `/prompt` for one now: which question comes next, and when a
//! question is open for an answer.

use crate::{
    content::args,
    conversation::{Conversation, Outcome},
    markup::Html,
    model::{Asked, OpenPrompt, Profile, UserId},
    reply::Outbound,
    schedule::is_still_worth_sending,
};

impl Conversation<'_> {
    /// `/prompt`: asking for a question is a sign of being here, so it counts as today's.
    pub(crate) fn prompt_now(&self, user_id: UserId, profile: Option<Profile>) -> Outcome {
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        profile.last_prompted_on = Some(profile.zone.local_date(self.now));
        let opens = self.give_prompt(&mut profile, &mut outbound);
        profile.reschedule(self.now);
        Outcome {
            opens,
            ..Outcome::saving(profile, outbound)
        }
    }

    /// Hands out the next question. It opens for an answer only once it is delivered: the
    /// returned [`OpenPrompt`] is what [`Conversation::delivered`] opens then.
    fn give_prompt(
        &self,
        profile: &mut Profile,
        outbound: &mut Vec<Outbound>,
    ) -> Option<OpenPrompt> {
        let catalog = self.voice.catalog;
        let off = &profile.themes_off;
        let chosen = |prompt: &crate::content::Prompt| !off.contains(&prompt.theme);
        let prompt =
            profile
                .rotation
                .advance_among(&catalog.prompts, |prompt| &prompt.id, chosen)?;
        let theme = catalog
            .theme(&prompt.theme)
            .map_or_else(Html::default, |theme| Html::text(&theme.title));
        outbound.push(Outbound::text(self.voice.words().prompt(args::Prompt {
            question: Html::text(prompt.text.trim()),
            theme,
        })));
        Some(OpenPrompt {
            prompt_id: prompt.id.clone(),
            sent_at: self.now,
            message_id: None,
        })
    }

    /// A scheduled question whose time has come. The new state (the day counted as asked, the
    /// rotation moved on) is saved with the question queued for sending, in one batch: a crash
    /// never sends it twice, and it opens for an answer only once Telegram took it.
    pub fn due(&self, profile: Profile) -> Outcome {
        let outcome = self.due_plainly(profile);
        self.veiled(outcome, crate::discreet::Veil::default())
    }

    fn due_plainly(&self, mut profile: Profile) -> Outcome {
        let Some(due) = profile.next_due else {
            return Outcome::default();
        };
        if due.at > self.now {
            return Outcome::default();
        }
        // The daily question is the one moment every active profile is read: a check-in older
        // than a day is let go here too, not only when the user next writes.
        profile.forget_stale_check_in(self.now);
        let already_asked = profile
            .last_prompted_on
            .is_some_and(|last| last >= due.local_date);
        let worth_sending = is_still_worth_sending(&due, self.now, self.voice.settings.catch_up);
        let mut outbound = Vec::new();
        let mut opens = None;
        if profile.paused || !profile.reachable || already_asked || !worth_sending {
            profile.reschedule(self.now);
        } else {
            profile.last_prompted_on = Some(due.local_date);
            opens = self.give_prompt(&mut profile, &mut outbound);
            profile.reschedule(self.now.max(due.at));
        }
        Outcome {
            opens,
            ..Outcome::saving(profile, outbound)
        }
    }

    /// A question reached the user as Telegram message `message_id`: from now on their next
    /// words are its answer, and a Telegram reply to that message is, whenever it comes. A
    /// question delivered after a newer one was opened (a slow retry) does not take its place,
    /// but a reply to it still answers it.
    pub fn delivered(
        &self,
        profile: Option<Profile>,
        mut opens: OpenPrompt,
        message_id: i32,
    ) -> Outcome {
        let Some(mut profile) = profile else {
            return Outcome::default();
        };
        // Telegram's message ids start at 1; the terminal, which has none, says 0.
        if message_id > 0 {
            profile.remember_asked(Asked {
                message_id,
                prompt_id: opens.prompt_id.clone(),
                sent_at: opens.sent_at,
            });
        }
        let newer_is_open = profile
            .open_prompt
            .as_ref()
            .is_some_and(|open| open.sent_at > opens.sent_at);
        if !newer_is_open {
            opens.message_id = Some(message_id);
            profile.open_prompt = Some(opens);
        }
        Outcome::saving(profile, Vec::new())
    }
}
