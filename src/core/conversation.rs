//! What the bot does with each thing a user sends, and with each question that falls due.
//!
//! Every function here takes the user's state, the event and the time, and returns the new state
//! and the replies. The service loads and saves; nothing here touches storage or Telegram.

use chrono::{DateTime, Utc};

use super::{
    command::{Command, parse_time_of_day},
    markup::Html,
    model::{
        DELETION_CONFIRMATION_WINDOW, Entry, EntryKey, OpenPrompt, PendingDeletion, Profile, UserId,
    },
    reply::{Button, Outbound},
    safety::Concern,
    schedule::is_still_worth_sending,
    voice::Voice,
    zone::Zone,
};

/// Text a user sent, as it arrived.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incoming {
    pub message_id: i32,
    /// Telegram's own date for the message: kept on edits and redeliveries, so it is part of the
    /// entry's identity.
    pub sent_at: DateTime<Utc>,
    pub text: String,
}

impl Incoming {
    pub fn key(&self, user_id: UserId) -> EntryKey {
        EntryKey {
            user_id,
            written_at: self.sent_at,
            message_id: self.message_id,
        }
    }
}

/// What changed, and what to say. The service persists `profile` and `entry` durably before it
/// sends anything in `outbound`.
#[derive(Debug, Default)]
pub struct Outcome {
    pub profile: Option<Profile>,
    pub entry: Option<Entry>,
    pub erase_user: bool,
    pub outbound: Vec<Outbound>,
}

impl Outcome {
    fn reply(outbound: Outbound) -> Outcome {
        Outcome {
            outbound: vec![outbound],
            ..Outcome::default()
        }
    }

    fn saving(profile: Profile, outbound: Vec<Outbound>) -> Outcome {
        Outcome {
            profile: Some(profile),
            outbound,
            ..Outcome::default()
        }
    }

    pub fn writes_anything(&self) -> bool {
        self.profile.is_some() || self.entry.is_some() || self.erase_user
    }
}

pub struct Conversation<'a> {
    pub voice: Voice<'a>,
    pub now: DateTime<Utc>,
}

impl<'a> Conversation<'a> {
    pub fn new(voice: Voice<'a>, now: DateTime<Utc>) -> Self {
        Conversation { voice, now }
    }

    /// The profile a user gets the first time they reach the bot: the practice's defaults, so
    /// questions come even if they never touch a setting.
    pub fn new_profile(&self, user_id: UserId) -> Profile {
        let settings = self.voice.settings;
        let mut profile = Profile::new(
            user_id,
            self.now,
            settings.default_time,
            settings.default_zone,
        );
        profile.reschedule(self.now);
        profile
    }

    fn welcome(&self, profile: &Profile) -> Outbound {
        let html = self.voice.words().welcome.render(&[
            ("practice", &self.voice.practice()),
            ("time", &Voice::time(profile.prompt_time)),
            ("zone", &Voice::zone(&profile.zone)),
            ("emergency", &Html::text(&self.voice.settings.emergency)),
        ]);
        self.voice.with_booking(html)
    }

    /// A user's first contact is not always /start: whatever it is, they first learn what this is
    /// and what happens to their words, before anything is kept.
    fn known(
        &self,
        profile: Option<Profile>,
        user_id: UserId,
        outbound: &mut Vec<Outbound>,
    ) -> Profile {
        profile.unwrap_or_else(|| {
            let profile = self.new_profile(user_id);
            outbound.push(self.welcome(&profile));
            profile
        })
    }

    fn status(&self, profile: &Profile) -> Html {
        let words = self.voice.words();
        match &profile.next_due {
            Some(due) if !profile.paused => words
                .status_active
                .render(&[("next", &self.voice.moment(due, &profile.zone))]),
            _ => words.status_paused.render(&[]),
        }
    }

    fn next(&self, profile: &Profile) -> Html {
        profile
            .next_due
            .as_ref()
            .map_or_else(Html::default, |due| self.voice.moment(due, &profile.zone))
    }

    pub fn command(&self, user_id: UserId, profile: Option<Profile>, command: Command) -> Outcome {
        let words = self.voice.words();
        match command {
            Command::Start => match profile {
                None => {
                    let profile = self.new_profile(user_id);
                    let welcome = self.welcome(&profile);
                    Outcome::saving(profile, vec![welcome])
                }
                Some(mut profile) => {
                    // Coming back after blocking the bot, or simply saying hello again: data stays.
                    if !profile.reachable {
                        profile.reachable = true;
                        profile.reschedule(self.now);
                    }
                    let html = words.welcome_back.render(&[
                        ("practice", &self.voice.practice()),
                        ("time", &Voice::time(profile.prompt_time)),
                        ("zone", &Voice::zone(&profile.zone)),
                        ("status", &self.status(&profile)),
                    ]);
                    Outcome::saving(profile, vec![self.voice.with_booking(html)])
                }
            },
            Command::Help => Outcome::reply(Outbound::text(self.help())),
            Command::Urgent => Outcome::reply(self.voice.with_booking(self.crisis())),
            Command::Book => Outcome::reply(self.voice.with_booking(self.voice.say(&words.book))),
            Command::Privacy => Outcome::reply(Outbound::text(words.privacy.render(&[
                ("practice", &self.voice.practice()),
                (
                    "retention_days",
                    &Html::text(&self.voice.settings.retention_days.to_string()),
                ),
            ]))),
            Command::Prompt => {
                let mut outbound = Vec::new();
                let mut profile = self.known(profile, user_id, &mut outbound);
                // Asking for a question is a sign of being here: it counts as today's.
                profile.last_prompted_on = Some(profile.zone.local_date(self.now));
                outbound.extend(self.give_prompt(&mut profile));
                profile.reschedule(self.now);
                Outcome::saving(profile, outbound)
            }
            Command::Time(input) => {
                let input = input.trim();
                let chosen = match parse_time_of_day(input) {
                    None if !input.is_empty() => return self.refuse(&words.time_invalid, input),
                    chosen => chosen,
                };
                let mut outbound = Vec::new();
                let mut profile = self.known(profile, user_id, &mut outbound);
                let zone = &Voice::zone(&profile.zone);
                let html = match chosen {
                    None => words
                        .time_show
                        .render(&[("time", &Voice::time(profile.prompt_time)), ("zone", zone)]),
                    Some(chosen) => {
                        profile.prompt_time = chosen;
                        profile.reschedule(self.now);
                        words.time_set.render(&[
                            ("time", &Voice::time(chosen)),
                            ("zone", zone),
                            ("next", &self.next(&profile)),
                        ])
                    }
                };
                outbound.push(Outbound::text(html));
                Outcome::saving(profile, outbound)
            }
            Command::Timezone(input) => {
                let input = input.trim();
                let chosen = match input.parse::<Zone>() {
                    Err(_) if !input.is_empty() => {
                        return self.refuse(&words.timezone_invalid, input);
                    }
                    chosen => chosen.ok(),
                };
                let mut outbound = Vec::new();
                let mut profile = self.known(profile, user_id, &mut outbound);
                let time = &Voice::time(profile.prompt_time);
                let html = match chosen {
                    None => words
                        .timezone_show
                        .render(&[("zone", &Voice::zone(&profile.zone)), ("time", time)]),
                    Some(zone) => {
                        profile.zone = zone;
                        profile.reschedule(self.now);
                        words.timezone_set.render(&[
                            ("zone", &Voice::zone(&zone)),
                            ("time", time),
                            ("next", &self.next(&profile)),
                        ])
                    }
                };
                outbound.push(Outbound::text(html));
                Outcome::saving(profile, outbound)
            }
            Command::Pause => {
                let mut outbound = Vec::new();
                let mut profile = self.known(profile, user_id, &mut outbound);
                if profile.paused {
                    outbound.push(self.voice.plain(&words.already_paused));
                } else {
                    profile.paused = true;
                    profile.reschedule(self.now);
                    outbound.push(self.voice.plain(&words.paused));
                }
                Outcome::saving(profile, outbound)
            }
            Command::Resume => {
                let mut outbound = Vec::new();
                let mut profile = self.known(profile, user_id, &mut outbound);
                let template = if profile.paused {
                    &words.resumed
                } else {
                    &words.already_active
                };
                profile.paused = false;
                profile.reachable = true;
                profile.reschedule(self.now);
                outbound.push(Outbound::text(
                    template.render(&[("next", &self.next(&profile))]),
                ));
                Outcome::saving(profile, outbound)
            }
            Command::Settings => {
                let shown = profile.unwrap_or_else(|| self.new_profile(user_id));
                Outcome::reply(Outbound::text(words.settings.render(&[
                    ("time", &Voice::time(shown.prompt_time)),
                    ("zone", &Voice::zone(&shown.zone)),
                    ("status", &self.status(&shown)),
                ])))
            }
            // These need the user's entries, which the service loads and hands to `recap`,
            // `export` and `ask_to_delete`.
            Command::Recap | Command::Export | Command::Delete => Outcome::default(),
        }
    }

    /// Bad input: a kind answer that quotes it back, and nothing changes.
    fn refuse(&self, template: &crate::content::Template, input: &str) -> Outcome {
        Outcome::reply(Outbound::text(
            template.render(&[("input", &quote_input(input))]),
        ))
    }

    fn help(&self) -> Html {
        let words = self.voice.words();
        let lines = self.voice.catalog.commands.iter().map(|command| {
            words.help_line.render(&[
                ("command", &Html::text(&command.name)),
                ("description", &Html::text(&command.description)),
            ])
        });
        words.help.render(&[
            ("commands", &Html::join(lines, "\n")),
            ("practice", &self.voice.practice()),
        ])
    }

    /// The span of instants that holds every entry a recap can show, with a day to spare for
    /// entries whose local date was counted in an earlier timezone.
    pub fn recap_window(&self) -> (DateTime<Utc>, DateTime<Utc>) {
        (
            self.now - chrono::Duration::days(super::recap::DAYS + 1),
            self.now + chrono::Duration::seconds(1),
        )
    }

    /// `/recap`: never creates a profile, and always ends with the booking button.
    pub fn recap(&self, profile: Option<&Profile>, entries: &[Entry]) -> Outcome {
        let zone = profile.map_or(self.voice.settings.default_zone, |profile| profile.zone);
        let mut messages = super::recap::render(&self.voice, entries, zone.local_date(self.now));
        let last = messages.pop().unwrap_or_default();
        let mut outbound: Vec<Outbound> = messages.into_iter().map(Outbound::text).collect();
        outbound.push(self.voice.with_booking(last));
        Outcome {
            outbound,
            ..Outcome::default()
        }
    }

    pub fn export(&self, profile: Option<&Profile>, entries: &[Entry]) -> Outcome {
        Outcome {
            outbound: super::export::export(&self.voice, profile, entries, self.now),
            ..Outcome::default()
        }
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
            .map_or(Html::default(), |theme| Html::text(&theme.title));
        Some(Outbound::text(self.voice.words().prompt.render(&[
            ("question", &Html::text(prompt.text.trim())),
            ("theme", &theme),
        ])))
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

    /// Text the user wrote. It is kept whatever it says: as the answer to the open question, or
    /// as a note for the day. What the bot says back depends on what the text sounds like.
    pub fn text(
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
        outbound.push(self.answer(&entry, concern));
        Outcome {
            profile: Some(profile),
            entry: Some(entry),
            outbound,
            erase_user: false,
        }
    }

    fn answer(&self, entry: &Entry, concern: Concern) -> Outbound {
        let words = self.voice.words();
        let html = match concern {
            Concern::Crisis => self.crisis_about_their_words(),
            Concern::Advice => self.voice.say(&words.advice),
            Concern::None => {
                let acks = if entry.prompt_id.is_some() {
                    &words.reply_acks
                } else {
                    &words.note_acks
                };
                Voice::pick(acks, i64::from(entry.message_id)).render(&[])
            }
        };
        self.voice.with_booking(html)
    }

    /// The crisis answer to something the user wrote, which is kept like anything else.
    fn crisis_about_their_words(&self) -> Html {
        let mut html = self.crisis();
        html.push(&Html::trusted("\n\n".to_owned()));
        html.push(&self.voice.words().crisis_kept.render(&[]));
        html
    }

    fn crisis(&self) -> Html {
        let words = self.voice.words();
        let settings = self.voice.settings;
        let lines = settings.crisis_lines.iter().map(|line| {
            let contact = match &line.contact {
                super::voice::Contact::Phone(number) => Html::text(number),
                super::voice::Contact::Url(url) => Html::trusted(format!(
                    "<a href=\"{}\">{}</a>",
                    Html::text(url).as_str(),
                    Html::text(url).as_str()
                )),
            };
            words
                .crisis_line
                .render(&[("name", &Html::text(&line.name)), ("contact", &contact)])
        });
        words.crisis.render(&[
            ("emergency", &Html::text(&settings.emergency)),
            ("lines", &Html::join(lines, "\n")),
            ("practice", &self.voice.practice()),
        ])
    }

    /// An edit replaces the kept text. Edits are quiet, except that a crisis is never left unanswered.
    pub fn edited(
        &self,
        incoming: Incoming,
        already_kept: Option<Entry>,
        concern: Concern,
    ) -> Outcome {
        let outbound = match concern {
            Concern::Crisis => vec![self.voice.with_booking(self.crisis_about_their_words())],
            _ => Vec::new(),
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

    pub fn non_text(&self) -> Outcome {
        Outcome::reply(self.voice.plain(&self.voice.words().non_text))
    }

    pub fn unknown_command(&self) -> Outcome {
        Outcome::reply(self.voice.plain(&self.voice.words().unknown_command))
    }

    pub fn group_chat(&self) -> Outcome {
        Outcome {
            outbound: vec![
                self.voice.plain(&self.voice.words().private_only),
                Outbound::LeaveChat,
            ],
            ..Outcome::default()
        }
    }

    /// Telegram said the user blocked the bot: stop sending, keep everything.
    pub fn unreachable(&self, profile: Option<Profile>) -> Outcome {
        match profile {
            Some(mut profile) if profile.reachable => {
                profile.reachable = false;
                profile.reschedule(self.now);
                Outcome::saving(profile, Vec::new())
            }
            _ => Outcome::default(),
        }
    }

    /// The user unblocked the bot: questions resume, unless they paused them.
    pub fn reachable_again(&self, profile: Option<Profile>) -> Outcome {
        match profile {
            Some(mut profile) if !profile.reachable => {
                profile.reachable = true;
                profile.reschedule(self.now);
                Outcome::saving(profile, Vec::new())
            }
            _ => Outcome::default(),
        }
    }

    /// `/delete`: asks first, with buttons tied to this one request.
    pub fn ask_to_delete(&self, profile: Option<Profile>, entry_count: usize) -> Outcome {
        let words = self.voice.words();
        let Some(mut profile) = profile else {
            return Outcome::reply(self.voice.plain(&words.export_empty));
        };
        // Only needs to differ from every earlier request, so that an older button no longer matches.
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
                label: words.delete_yes_button.clone(),
                data: DeleteChoice::Confirm(nonce).encode(),
            },
            Button::Callback {
                label: words.delete_no_button.clone(),
                data: DeleteChoice::Cancel(nonce).encode(),
            },
        ];
        let html = words
            .delete_confirm
            .render(&[("count", &Html::text(&entry_count.to_string()))]);
        Outcome::saving(profile, vec![Outbound::with_buttons(html, buttons)])
    }

    /// A button under a delete question was pressed.
    pub fn delete_choice(&self, profile: Option<Profile>, choice: DeleteChoice) -> Outcome {
        let words = self.voice.words();
        let pending = profile
            .as_ref()
            .and_then(|profile| profile.pending_deletion.as_ref());
        let live = pending.is_some_and(|pending| {
            pending.nonce == choice.nonce()
                && self.now - pending.asked_at <= DELETION_CONFIRMATION_WINDOW
        });
        match (live, choice, profile) {
            (true, DeleteChoice::Confirm(_), Some(_)) => Outcome {
                erase_user: true,
                outbound: vec![self.voice.plain(&words.deleted)],
                ..Outcome::default()
            },
            (true, DeleteChoice::Cancel(_), Some(mut profile)) => {
                profile.pending_deletion = None;
                Outcome::saving(profile, vec![self.voice.plain(&words.delete_cancelled)])
            }
            _ => self.stale_button(),
        }
    }

    /// A button that no longer means anything: pressed twice, too late, or never ours.
    pub fn stale_button(&self) -> Outcome {
        Outcome::reply(self.voice.plain(&self.voice.words().delete_stale))
    }
}

/// What a user typed back to us, shown in an error message: kept short and always escaped.
fn quote_input(input: &str) -> Html {
    const SHOWN: usize = 40;
    let shown = super::markup::truncate_utf16(input, SHOWN);
    if shown.len() < input.len() {
        Html::text(&format!("{shown}…"))
    } else {
        Html::text(shown)
    }
}

/// The data carried by the delete confirmation buttons. Short (Telegram allows 64 bytes) and
/// carrying nothing about the user but a nonce that only their own pending request matches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DeleteChoice {
    Confirm(u64),
    Cancel(u64),
}

impl DeleteChoice {
    pub fn encode(&self) -> String {
        match self {
            DeleteChoice::Confirm(nonce) => format!("delete:yes:{nonce:x}"),
            DeleteChoice::Cancel(nonce) => format!("delete:no:{nonce:x}"),
        }
    }

    pub fn decode(data: &str) -> Option<DeleteChoice> {
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
