//! The daily question, and `/prompt` for one now: which question comes next, and when a
//! question is open for an answer.

use chrono::{DateTime, Utc};

use crate::{
    content::args,
    conversation::{Conversation, Outcome},
    markup::Html,
    model::{OpenPrompt, Profile, UserId},
    reply::Outbound,
    schedule::is_still_worth_sending,
};

impl Conversation<'_> {
    /// `/prompt`: asking for a question is a sign of being here, so it counts as today's.
    pub(crate) fn prompt_now(&self, user_id: UserId, profile: Option<Profile>) -> Outcome {
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        profile.last_prompted_on = Some(profile.zone.local_date(self.now));
        outbound.extend(self.give_prompt(&mut profile));
        profile.reschedule(self.now);
        Outcome::saving(profile, outbound)
    }

    /// Hands out the next question and opens it for an answer.
    fn give_prompt(&self, profile: &mut Profile) -> Option<Outbound> {
        let catalog = self.voice.catalog;
        let prompt = profile
            .rotation
            .advance(&catalog.prompts, |prompt| &prompt.id)?;
        profile.open_prompt = Some(OpenPrompt {
            prompt_id: prompt.id.clone(),
            sent_at: self.now,
        });
        let theme = catalog
            .theme(&prompt.theme)
            .map_or_else(Html::default, |theme| Html::text(&theme.title));
        Some(Outbound::text(self.voice.words().prompt(args::Prompt {
            question: Html::text(prompt.text.trim()),
            theme,
        })))
    }

    /// A scheduled question whose time has come. The new state must be saved durably before the
    /// question is sent: a crash between the two loses one question, never sends it twice.
    pub fn due(&self, mut profile: Profile) -> Outcome {
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
        if profile.paused || !profile.reachable || already_asked || !worth_sending {
            profile.reschedule(self.now);
        } else {
            profile.last_prompted_on = Some(due.local_date);
            outbound.extend(self.give_prompt(&mut profile));
            profile.reschedule(self.now.max(due.at));
        }
        Outcome::saving(profile, outbound)
    }

    /// A question opened at `asked_at` never reached the user. It still counts as the day's (a
    /// question is never sent twice), but it is closed, so the user's next words are kept as a
    /// note rather than as the answer to a question they never saw.
    pub fn not_delivered(&self, profile: Option<Profile>, asked_at: DateTime<Utc>) -> Outcome {
        match profile {
            Some(mut profile)
                if profile
                    .open_prompt
                    .as_ref()
                    .is_some_and(|open| open.sent_at == asked_at) =>
            {
                profile.open_prompt = None;
                Outcome::saving(profile, Vec::new())
            }
            _ => Outcome::default(),
        }
    }
}
