//! What the user writes: every text is kept, as the answer to the open question or as a note
//! for the day, and acknowledged in a few warm words, or with the crisis or advice answer.

use chrono::Duration;

use crate::{
    content::args,
    conversation::{Conversation, Outcome, URGENT_BUTTON},
    event::Incoming,
    model::{Entry, Profile, UserId},
    reply::{Button, Outbound},
    safety::{Concern, Reading},
};

/// Two messages in the check-in band this close together count as a crisis: one borderline
/// line can be a passing mood, two in a day are worth the crisis lines.
const CHECK_IN_MEMORY: Duration = Duration::hours(24);

impl Conversation<'_> {
    /// Text the user wrote. It is kept whatever it says; what the bot says back depends on what
    /// it sounds like.
    pub(crate) fn keep(
        &self,
        user_id: UserId,
        profile: Option<Profile>,
        incoming: Incoming,
        already_kept: Option<Entry>,
        reading: Reading,
    ) -> Outcome {
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        if !profile.reachable {
            profile.reachable = true;
            profile.reschedule(self.now);
        }
        let redelivered = already_kept.is_some();
        let (concern, check_in) = self.in_context(&mut profile, reading, redelivered);
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
        outbound.push(self.acknowledge(&entry, concern, check_in));
        Outcome {
            profile: Some(profile),
            entry: Some(entry),
            outbound,
            erase_user: false,
        }
    }

    /// A message in the check-in band, read with the one before it: a second within a day is
    /// answered as a crisis. Only the time of the last one is kept, and only for that day.
    fn in_context(
        &self,
        profile: &mut Profile,
        reading: Reading,
        redelivered: bool,
    ) -> (Concern, bool) {
        let recent = profile
            .last_check_in_at
            .filter(|at| self.now - *at <= CHECK_IN_MEMORY);
        profile.last_check_in_at = recent;
        if !reading.check_in || redelivered {
            return (reading.concern, reading.check_in);
        }
        if recent.is_some() {
            profile.last_check_in_at = None;
            return (Concern::Crisis, false);
        }
        profile.last_check_in_at = Some(self.now);
        (reading.concern, true)
    }

    fn acknowledge(&self, entry: &Entry, concern: Concern, check_in: bool) -> Outbound {
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
        if !check_in || concern == Concern::Crisis {
            return self.voice.with_booking(html);
        }
        let mut html = html;
        html.push(&crate::markup::Html::text("\n\n"));
        html.push(&words.check_in());
        Outbound::with_buttons(
            html,
            vec![
                Button::Callback {
                    label: words.urgent_button().to_owned(),
                    data: URGENT_BUTTON.to_owned(),
                },
                self.voice.booking_button(),
            ],
        )
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

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use super::*;
    use crate::{fixtures, markup::visible_text, voice::Voice};

    const ANN: UserId = 1001;

    fn at(time: &str) -> DateTime<Utc> {
        time.parse().unwrap()
    }

    fn incoming(id: i32, sent_at: DateTime<Utc>) -> Incoming {
        Incoming {
            message_id: id,
            sent_at,
            text: "words".to_owned(),
        }
    }

    const BORDERLINE: Reading = Reading {
        concern: Concern::None,
        check_in: true,
    };

    /// Keeps a message read as `reading` at `time`; returns the profile and what was said.
    fn keep_at(
        profile: Option<Profile>,
        time: &str,
        id: i32,
        reading: Reading,
        kept: Option<Entry>,
    ) -> (Profile, String, Vec<Button>) {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let conversation = Conversation::new(Voice::new(&catalog, &settings), at(time));
        let outcome = conversation.keep(ANN, profile, incoming(id, at(time)), kept, reading);
        let Some(Outbound::Message(message)) = outcome.outbound.last() else {
            panic!("an acknowledgement");
        };
        (
            outcome.profile.unwrap(),
            visible_text(message.html.as_str()).unwrap(),
            message.buttons.clone(),
        )
    }

    fn is_crisis_answer(text: &str) -> bool {
        text.contains("112")
    }

    fn has_urgent_button(buttons: &[Button]) -> bool {
        buttons
            .iter()
            .any(|button| matches!(button, Button::Callback { data, .. } if data == URGENT_BUTTON))
    }

    #[test]
    fn a_borderline_message_gets_the_acknowledgement_a_gentle_line_and_the_crisis_lines_at_a_tap() {
        let (profile, text, buttons) = keep_at(None, "2026-03-02T10:00:00Z", 1, BORDERLINE, None);
        assert!(!is_crisis_answer(&text), "{text}");
        assert!(has_urgent_button(&buttons));
        assert!(
            buttons
                .iter()
                .any(|button| matches!(button, Button::Url { .. })),
            "the booking button stays"
        );
        assert_eq!(profile.last_check_in_at, Some(at("2026-03-02T10:00:00Z")));
    }

    #[test]
    fn two_borderline_messages_within_a_day_get_the_crisis_answer() {
        let (profile, _, _) = keep_at(None, "2026-03-02T10:00:00Z", 1, BORDERLINE, None);
        let (profile, text, buttons) =
            keep_at(Some(profile), "2026-03-03T09:00:00Z", 2, BORDERLINE, None);
        assert!(is_crisis_answer(&text), "{text}");
        assert!(!has_urgent_button(&buttons));
        assert_eq!(profile.last_check_in_at, None, "nothing kept once answered");
    }

    #[test]
    fn borderline_messages_more_than_a_day_apart_are_read_on_their_own() {
        let (profile, _, _) = keep_at(None, "2026-03-02T10:00:00Z", 1, BORDERLINE, None);
        let (profile, text, buttons) =
            keep_at(Some(profile), "2026-03-03T10:01:00Z", 2, BORDERLINE, None);
        assert!(!is_crisis_answer(&text) && has_urgent_button(&buttons));
        // An ordinary message lets an old borderline time go.
        let quiet = Reading {
            concern: Concern::None,
            check_in: false,
        };
        let (profile, _, _) = keep_at(Some(profile), "2026-03-05T10:00:00Z", 3, quiet, None);
        assert_eq!(profile.last_check_in_at, None);
    }

    #[test]
    fn a_redelivered_borderline_message_is_not_counted_twice() {
        let (profile, _, _) = keep_at(None, "2026-03-02T10:00:00Z", 1, BORDERLINE, None);
        let kept = Entry {
            user_id: ANN,
            message_id: 1,
            written_at: at("2026-03-02T10:00:00Z"),
            local_date: at("2026-03-02T10:00:00Z").date_naive(),
            prompt_id: None,
            text: "words".to_owned(),
            edited_at: None,
        };
        let (_, text, buttons) = keep_at(
            Some(profile),
            "2026-03-02T10:05:00Z",
            1,
            BORDERLINE,
            Some(kept),
        );
        assert!(!is_crisis_answer(&text) && has_urgent_button(&buttons));
    }
}
