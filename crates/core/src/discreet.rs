//! Discreet mode: for someone who shares a home, or a phone, with the partner they write about.
//!
//! While it is on, everything the bot sends opens with a neutral line from the dialogues and
//! hides the rest behind a spoiler, so a notification preview or the chat list shows nothing
//! personal. The user's own message is deleted from the chat once it is kept (they are told
//! once), and recaps, briefs and exports are sent protected and deleted after
//! `[privacy] discreet_lifetime`. Everything here is applied to a decision after it is made,
//! so no feature has to remember it.

use crate::{
    conversation::{Conversation, Outcome},
    markup::{Html, MESSAGE_LIMIT},
    model::{Profile, UserId},
    reply::{Discretion, Outbound},
};

/// Room a message must leave for the neutral line and the blank line after it: the line is a
/// label, at most 64 characters.
pub(crate) const RESERVE: usize = 64 + 2;

/// The longest text a feature may lay out when it fills messages to the brim.
pub(crate) const ROOM: usize = MESSAGE_LIMIT - RESERVE;

/// What a turn did that discreet mode acts on, read before the decision.
#[derive(Clone, Debug, Default)]
pub(crate) struct Veil {
    /// The profile as it was before the turn.
    pub(crate) before: Option<Profile>,
    /// The user's message, if this turn kept it for the first time.
    pub(crate) kept_message: Option<i32>,
    /// A recap, brief or export: protected, and deleted after a while.
    pub(crate) fading: bool,
}

impl Conversation<'_> {
    /// `/discreet`: turns discreet mode on, or off again.
    pub(crate) fn toggle_discreet_mode(
        &self,
        user_id: UserId,
        profile: Option<Profile>,
    ) -> Outcome {
        let words = self.voice.words();
        let mut outbound = Vec::new();
        let mut profile = self.known(profile, user_id, &mut outbound);
        profile.discreet = !profile.discreet;
        outbound.push(Outbound::text(if profile.discreet {
            words.discreet_on()
        } else {
            words.discreet_off()
        }));
        Outcome::saving(profile, outbound)
    }

    /// Applies discreet mode to a decision, if the user has it on once the decision is made.
    pub(crate) fn veiled(&self, mut outcome: Outcome, veil: Veil) -> Outcome {
        if outcome.erase_user {
            return outcome;
        }
        let Some(mut profile) = outcome.profile.clone().or(veil.before) else {
            return outcome;
        };
        if !profile.discreet {
            return outcome;
        }
        let words = self.voice.words();
        let header = Html::text(words.discreet_header());
        // The neutral line, then the whole of what would have been said, behind a spoiler.
        let veiled = |html: &Html| {
            let mut veiled = header.clone();
            veiled.push(&Html::text("\n\n"));
            veiled.push(&html.spoiler());
            veiled
        };
        let discretion = if veil.fading {
            Discretion {
                protect: true,
                delete_after: Some(self.voice.settings.discreet_lifetime),
            }
        } else {
            Discretion::default()
        };
        let mut notice = None;
        if let Some(message_id) = veil.kept_message.filter(|_| outcome.entry.is_some()) {
            outcome
                .outbound
                .insert(0, Outbound::DeleteMessage { message_id });
            if !profile.discreet_deletion_explained {
                profile.discreet_deletion_explained = true;
                outcome.profile = Some(profile);
                notice = Some(words.discreet_deleted_notice());
            }
        }
        for outbound in &mut outcome.outbound {
            match outbound {
                Outbound::Message(message) => {
                    let mut html = veiled(&message.html);
                    // The notice says nothing personal, and it is news: it stays in sight.
                    if let Some(notice) = notice.take() {
                        html.push(&Html::text("\n\n"));
                        html.push(&notice);
                    }
                    message.html = html;
                    message.discretion = discretion;
                }
                Outbound::Document(document) => {
                    document.caption = Some(
                        document
                            .caption
                            .as_ref()
                            .map_or_else(|| header.clone(), &veiled),
                    );
                    document.discretion = discretion;
                }
                // Menus and keyboards stay in the chat like any message: veiled the same way.
                Outbound::Edit(panel) => panel.html = veiled(&panel.html),
                Outbound::Keyboard(keyed) => keyed.html = veiled(&keyed.html),
                // A button's notice shows for a moment over the chat and is never kept in it.
                Outbound::Notice(_) | Outbound::LeaveChat | Outbound::DeleteMessage { .. } => {}
            }
        }
        outcome
    }
}

#[cfg(test)]
mod tests {
    use chrono::{DateTime, Utc};

    use crate::{
        conversation::{Conversation, Loaded},
        event::Event,
        fixtures,
        markup::visible_text,
        reply::Outbound,
        voice::Voice,
    };

    fn at() -> DateTime<Utc> {
        "2026-03-02T10:00:00Z".parse().unwrap()
    }

    fn said(
        conversation: &Conversation<'_>,
        profile: Option<crate::model::Profile>,
        text: &str,
        message_id: i32,
    ) -> crate::conversation::Outcome {
        let event = Event::from_text(text, "crossroads_bot", message_id, at());
        let turn = conversation.read(1001, event);
        conversation.decide(
            turn,
            Loaded {
                profile,
                ..Loaded::default()
            },
        )
    }

    fn texts(outbound: &[Outbound]) -> Vec<String> {
        outbound
            .iter()
            .filter_map(|outbound| match outbound {
                Outbound::Message(message) => Some(visible_text(message.html.as_str()).unwrap()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn discreet_mode_veils_every_message_and_deletes_kept_words_once_explained() {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let conversation = Conversation::new(Voice::new(&catalog, &settings), at());
        let profile = conversation.new_profile(1001);
        let on = said(&conversation, Some(profile), "/discreet", 1);
        let profile = on.profile.clone().unwrap();
        assert!(profile.discreet);
        let header = catalog.messages.discreet_header();
        assert!(texts(&on.outbound)[0].starts_with(header));

        let kept = said(&conversation, Some(profile), "We argued <again> & again", 2);
        assert_eq!(kept.outbound[0], Outbound::DeleteMessage { message_id: 2 });
        let Outbound::Message(ack) = &kept.outbound[1] else {
            panic!("an acknowledgement follows");
        };
        assert!(ack.html.as_str().contains("<tg-spoiler>"));
        let profile = kept.profile.clone().unwrap();
        assert!(profile.discreet_deletion_explained);
        let notice = visible_text(catalog.messages.discreet_deleted_notice().as_str()).unwrap();
        assert!(texts(&kept.outbound)[0].ends_with(&notice));

        let again = said(&conversation, Some(profile.clone()), "More words", 3);
        assert!(!texts(&again.outbound)[0].contains(&notice), "said once");

        let off = said(&conversation, Some(profile), "/discreet", 4);
        let profile = off.profile.clone().unwrap();
        assert!(!profile.discreet);
        assert!(!texts(&off.outbound)[0].starts_with(header));
        let plain = said(&conversation, Some(profile), "Plain words", 5);
        assert!(
            plain
                .outbound
                .iter()
                .all(|outbound| !matches!(outbound, Outbound::DeleteMessage { .. }))
        );
    }

    #[test]
    fn a_recap_in_discreet_mode_is_protected_and_fades() {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let conversation = Conversation::new(Voice::new(&catalog, &settings), at());
        let mut profile = conversation.new_profile(1001);
        profile.discreet = true;
        let recap = said(&conversation, Some(profile), "/recap", 1);
        let Outbound::Message(message) = &recap.outbound[0] else {
            panic!("a recap is a message");
        };
        assert!(message.discretion.protect);
        assert_eq!(
            message.discretion.delete_after,
            Some(settings.discreet_lifetime)
        );
    }
}
