//! What the user writes: every text is kept, as the answer to the open question or as a note
//! for the day, and acknowledged in a few warm words, or with the crisis or advice answer.

use crate::{
    content::args,
    conversation::{Conversation, Outcome, URGENT_BUTTON},
    event::Incoming,
    model::{CheckIn, Entry, Profile, UserId},
    reply::{Button, Outbound},
    safety::{Concern, Reading},
};

/// Which question new words answer. A Telegram reply to a question the bot delivered answers
/// that one, whatever is open now, and leaves a newer open question open; anything else (a
/// reply to some other message, or to one no longer remembered) answers the open question, if
/// there is one, as words always have.
fn answers(profile: &mut Profile, reply_to: Option<i32>) -> Option<String> {
    let replied = reply_to.and_then(|message_id| profile.asked_as(message_id));
    match replied {
        Some(asked)
            if profile
                .open_prompt
                .as_ref()
                .is_none_or(|open| open.message_id != Some(asked.message_id)) =>
        {
            Some(asked.prompt_id.clone())
        }
        _ => profile.open_prompt.take().map(|open| open.prompt_id),
    }
}

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
        let (concern, check_in) =
            self.in_context(&mut profile, incoming.message_id, reading, redelivered);
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
                prompt_id: answers(&mut profile, incoming.reply_to),
                text: incoming.text,
                edited_at: None,
            },
        };
        outbound.push(self.acknowledge(&entry, concern, check_in));
        Outcome {
            profile: Some(profile),
            entry: Some(entry),
            outbound,
            ..Outcome::default()
        }
    }

    /// A message in the check-in band, read with the one before it: one borderline line can be
    /// a passing mood, but a second within a day that is close to a crisis gets the crisis
    /// answer. Only the time and the message id of the last one are kept, for a day.
    fn in_context(
        &self,
        profile: &mut Profile,
        message_id: i32,
        reading: Reading,
        redelivered: bool,
    ) -> (Concern, bool) {
        profile.forget_stale_check_in(self.now);
        if redelivered {
            // The same message again: the same answer as the first time.
            return match profile.last_check_in {
                Some(last) if last.message_id == message_id && last.answered_as_crisis => {
                    (Concern::Crisis, false)
                }
                _ => (reading.concern, reading.check_in),
            };
        }
        if !reading.check_in {
            return (reading.concern, false);
        }
        let escalate = profile.last_check_in.is_some() && reading.near_crisis;
        profile.last_check_in = Some(CheckIn {
            at: self.now,
            message_id,
            answered_as_crisis: escalate,
        });
        if escalate {
            (Concern::Crisis, false)
        } else {
            (reading.concern, true)
        }
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
            reply_to: None,
        }
    }

    const BORDERLINE: Reading = Reading {
        concern: Concern::None,
        check_in: true,
        near_crisis: false,
    };

    const NEAR_CRISIS: Reading = Reading {
        concern: Concern::None,
        check_in: true,
        near_crisis: true,
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
        assert_eq!(
            profile.last_check_in.map(|last| last.at),
            Some(at("2026-03-02T10:00:00Z"))
        );
    }

    #[test]
    fn a_second_message_close_to_a_crisis_within_a_day_gets_the_crisis_answer() {
        let (profile, _, _) = keep_at(None, "2026-03-02T10:00:00Z", 1, BORDERLINE, None);
        let (profile, text, buttons) =
            keep_at(Some(profile), "2026-03-03T09:00:00Z", 2, NEAR_CRISIS, None);
        assert!(is_crisis_answer(&text), "{text}");
        assert!(!has_urgent_button(&buttons));
        assert!(
            profile
                .last_check_in
                .is_some_and(|last| last.answered_as_crisis)
        );
    }

    #[test]
    fn two_merely_borderline_messages_in_a_day_stay_check_ins() {
        let (profile, _, _) = keep_at(None, "2026-03-02T10:00:00Z", 1, BORDERLINE, None);
        let (_, text, buttons) =
            keep_at(Some(profile), "2026-03-02T13:00:00Z", 2, BORDERLINE, None);
        assert!(
            !is_crisis_answer(&text) && has_urgent_button(&buttons),
            "{text}"
        );
    }

    #[test]
    fn a_redelivered_escalation_is_answered_as_a_crisis_again() {
        let (profile, _, _) = keep_at(None, "2026-03-02T10:00:00Z", 1, BORDERLINE, None);
        let (profile, _, _) = keep_at(Some(profile), "2026-03-02T11:00:00Z", 2, NEAR_CRISIS, None);
        let kept = Entry {
            user_id: ANN,
            message_id: 2,
            written_at: at("2026-03-02T11:00:00Z"),
            local_date: at("2026-03-02T11:00:00Z").date_naive(),
            prompt_id: None,
            text: "words".to_owned(),
            edited_at: None,
        };
        let (_, text, _) = keep_at(
            Some(profile),
            "2026-03-02T11:01:00Z",
            2,
            NEAR_CRISIS,
            Some(kept),
        );
        assert!(is_crisis_answer(&text), "{text}");
    }

    #[test]
    fn borderline_messages_more_than_a_day_apart_are_read_on_their_own() {
        let (profile, _, _) = keep_at(None, "2026-03-02T10:00:00Z", 1, BORDERLINE, None);
        let (profile, text, buttons) =
            keep_at(Some(profile), "2026-03-03T10:01:00Z", 2, NEAR_CRISIS, None);
        assert!(!is_crisis_answer(&text) && has_urgent_button(&buttons));
        // An ordinary message lets an old check-in go.
        let (profile, _, _) = keep_at(
            Some(profile),
            "2026-03-05T10:00:00Z",
            3,
            Reading::default(),
            None,
        );
        assert_eq!(profile.last_check_in, None);
    }

    fn open(prompt_id: &str, message_id: i32) -> crate::model::OpenPrompt {
        crate::model::OpenPrompt {
            prompt_id: prompt_id.into(),
            sent_at: at("2026-03-05T09:00:00Z"),
            message_id: Some(message_id),
        }
    }

    fn asked(prompt_id: &str, message_id: i32) -> crate::model::Asked {
        crate::model::Asked {
            message_id,
            prompt_id: prompt_id.into(),
            sent_at: at("2026-03-02T09:00:00Z"),
        }
    }

    fn profile() -> Profile {
        Profile::new(
            ANN,
            at("2026-03-01T09:00:00Z"),
            chrono::NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
            "UTC".parse().unwrap(),
        )
    }

    #[test]
    fn a_reply_to_a_remembered_question_answers_it_and_keeps_the_open_one_open() {
        let mut profile = profile();
        profile.remember_asked(asked("monday", 11));
        profile.remember_asked(asked("thursday", 14));
        profile.open_prompt = Some(open("thursday", 14));
        assert_eq!(answers(&mut profile, Some(11)).as_deref(), Some("monday"));
        assert!(profile.open_prompt.is_some(), "Thursday's stays open");
        // Not a question, or not one remembered: the open question, as words always were.
        assert_eq!(answers(&mut profile, Some(12)).as_deref(), Some("thursday"));
        assert_eq!(profile.open_prompt, None);
        assert_eq!(answers(&mut profile, Some(12)), None);
        // The open question's own message closes it.
        profile.open_prompt = Some(open("thursday", 14));
        assert_eq!(answers(&mut profile, Some(14)).as_deref(), Some("thursday"));
        assert_eq!(profile.open_prompt, None);
        // And a reply to Monday's again is another answer to it.
        assert_eq!(answers(&mut profile, Some(11)).as_deref(), Some("monday"));
    }

    #[test]
    fn only_the_latest_questions_are_remembered() {
        let mut profile = profile();
        for id in 0..100 {
            profile.remember_asked(asked("q", id));
        }
        profile.remember_asked(asked("again", 99));
        assert_eq!(profile.asked.len(), crate::model::ASKED_MEMORY);
        assert_eq!(profile.asked[0].message_id, 40);
        assert_eq!(profile.asked_as(99).unwrap().prompt_id, "again");
        assert!(profile.asked_as(39).is_none());
        assert!(profile.forget_asked_before(at("2026-03-03T00:00:00Z")));
        assert!(profile.asked.is_empty());
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
