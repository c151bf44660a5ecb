//! `/delete`: a confirmation with buttons tied to this one request, then an erase of
//! everything stored about the user.

use crate::{
    content::args,
    conversation::{Conversation, Outcome},
    model::{DELETION_CONFIRMATION_WINDOW, PendingDeletion, Profile},
    reply::{Button, Outbound},
    voice::Voice,
};

impl Conversation<'_> {
    pub(crate) fn ask_to_delete(&self, profile: Option<Profile>, entry_count: usize) -> Outcome {
        let words = self.voice.words();
        let Some(mut profile) = profile else {
            return Outcome::reply(Outbound::text(words.export_empty()));
        };
        // Only needs to differ from every earlier request, so that an older button no longer
        // matches.
        let previous = profile
            .pending_deletion
            .as_ref()
            .map_or(0, |pending| pending.nonce + 1);
        let nonce = self.now.timestamp_micros().unsigned_abs().max(previous);
        profile.pending_deletion = Some(PendingDeletion {
            nonce,
            asked_at: self.now,
        });
        let buttons = vec![
            Button::Callback {
                label: words.delete_yes_button().to_owned(),
                data: DeleteChoice::Confirm(nonce).encode(),
            },
            Button::Callback {
                label: words.delete_no_button().to_owned(),
                data: DeleteChoice::Cancel(nonce).encode(),
            },
        ];
        let html = words.delete_confirm(args::DeleteConfirm {
            count: Voice::count(entry_count),
        });
        Outcome::saving(profile, vec![Outbound::with_buttons(html, buttons)])
    }

    /// A button under a delete question was pressed.
    pub(crate) fn delete_choice(&self, profile: Option<Profile>, choice: DeleteChoice) -> Outcome {
        let words = self.voice.words();
        let live = profile
            .as_ref()
            .and_then(|profile| profile.pending_deletion.as_ref())
            .is_some_and(|pending| {
                pending.nonce == choice.nonce()
                    && self.now - pending.asked_at <= DELETION_CONFIRMATION_WINDOW
            });
        match (live, choice, profile) {
            (true, DeleteChoice::Confirm(_), Some(_)) => Outcome {
                erase_user: true,
                outbound: vec![Outbound::text(words.deleted())],
                ..Outcome::default()
            },
            (true, DeleteChoice::Cancel(_), Some(mut profile)) => {
                profile.pending_deletion = None;
                Outcome::saving(profile, vec![Outbound::text(words.delete_cancelled())])
            }
            _ => self.stale_button(),
        }
    }

    /// A button that no longer means anything: pressed twice, too late, or never ours.
    pub(crate) fn stale_button(&self) -> Outcome {
        Outcome::reply(Outbound::text(self.voice.words().delete_stale()))
    }
}

/// The data carried by the delete confirmation buttons. Short (Telegram allows 64 bytes) and
/// carrying nothing about the user but a nonce that only their own pending request matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DeleteChoice {
    Confirm(u64),
    Cancel(u64),
}

impl DeleteChoice {
    pub(crate) fn encode(&self) -> String {
        match self {
            DeleteChoice::Confirm(nonce) => format!("delete:yes:{nonce:x}"),
            DeleteChoice::Cancel(nonce) => format!("delete:no:{nonce:x}"),
        }
    }

    pub(crate) fn decode(data: &str) -> Option<DeleteChoice> {
        let (choice, nonce) = data.strip_prefix("delete:")?.split_once(':')?;
        let nonce = u64::from_str_radix(nonce, 16).ok()?;
        match choice {
            "yes" => Some(DeleteChoice::Confirm(nonce)),
            "no" => Some(DeleteChoice::Cancel(nonce)),
            _ => None,
        }
    }

    fn nonce(&self) -> u64 {
        match self {
            DeleteChoice::Confirm(nonce) | DeleteChoice::Cancel(nonce) => *nonce,
        }
    }
}
