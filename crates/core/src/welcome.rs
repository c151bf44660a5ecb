//! `/start`, `/help`, `/book` and `/privacy`, and what the bot says to anything it cannot keep:
//! unknown commands, stickers and photos, and group chats.

use crate::{
    command::ADMIN_ONLY,
    content::args,
    conversation::{Conversation, Outcome},
    markup::Html,
    model::{Profile, Stats, UserId},
    reply::Outbound,
    voice::Voice,
};

impl Conversation<'_> {
    /// What this is and is not, where help is, and when questions come.
    pub(crate) fn welcome(&self, profile: &Profile) -> Outbound {
        let html = self.voice.words().welcome(args::Welcome {
            practice: self.voice.practice(),
            time: Voice::time(profile.prompt_time),
            zone: Voice::zone(&profile.zone),
            emergency: Html::text(&self.voice.settings.emergency),
        });
        self.voice.with_booking(html)
    }

    pub(crate) fn start(&self, user_id: UserId, profile: Option<Profile>) -> Outcome {
        let Some(mut profile) = profile else {
            let profile = self.new_profile(user_id);
            let welcome = self.welcome(&profile);
            return Outcome::saving(profile, vec![welcome]);
        };
        // Coming back after blocking the bot, or simply saying hello again: data stays.
        if !profile.reachable {
            profile.reachable = true;
            profile.reschedule(self.now);
        }
        let html = self.voice.words().welcome_back(args::WelcomeBack {
            practice: self.voice.practice(),
            time: Voice::time(profile.prompt_time),
            zone: Voice::zone(&profile.zone),
            status: self.status(&profile),
        });
        Outcome::saving(profile, vec![self.voice.with_booking(html)])
    }

    pub(crate) fn help(&self, user_id: UserId) -> Outcome {
        let words = self.voice.words();
        let admin = self.voice.settings.admins.contains(&user_id);
        let lines = self
            .voice
            .catalog
            .commands
            .iter()
            .filter(|command| admin || !ADMIN_ONLY.contains(&command.name.as_str()))
            .map(|command| {
                words.help_line(args::HelpLine {
                    command: Html::text(&command.name),
                    description: Html::text(&command.description),
                })
            });
        Outcome::reply(Outbound::text(words.help(args::Help {
            commands: Html::join(lines, &Html::text("\n")),
            practice: self.voice.practice(),
        })))
    }

    pub(crate) fn book(&self) -> Outcome {
        let html = self.voice.words().book(args::Book {
            practice: self.voice.practice(),
        });
        Outcome::reply(self.voice.with_booking(html))
    }

    pub(crate) fn privacy(&self) -> Outcome {
        Outcome::reply(Outbound::text(self.voice.words().privacy(args::Privacy {
            practice: self.voice.practice(),
            retention_days: Html::text(&self.voice.settings.retention_days.to_string()),
        })))
    }

    /// An admin's /stats: counts only, nothing about any person.
    pub(crate) fn stats(&self, stats: Stats) -> Outcome {
        let number = |value: u64| Html::text(&value.to_string());
        let count = |value: usize| Html::text(&value.to_string());
        Outcome::reply(Outbound::text(self.voice.words().stats(args::Stats {
            users: count(stats.users),
            active_week: count(stats.active_week),
            active_month: count(stats.active_month),
            questions: number(stats.questions_sent),
            answers: number(stats.answers_kept),
            crisis: number(stats.crisis_answers),
            check_ins: number(stats.check_ins),
            bookings: number(stats.bookings_offered),
        })))
    }

    pub(crate) fn unknown_command(&self) -> Outcome {
        Outcome::reply(Outbound::text(self.voice.words().unknown_command()))
    }

    pub(crate) fn non_text(&self) -> Outcome {
        Outcome::reply(Outbound::text(self.voice.words().non_text()))
    }

    /// Nothing from a group is read or kept: one line, and the bot leaves.
    pub fn group_chat(&self) -> Outcome {
        Outcome {
            outbound: vec![
                Outbound::text(self.voice.words().private_only()),
                Outbound::LeaveChat,
            ],
            ..Outcome::default()
        }
    }

    /// The kind line for when something went wrong on our side.
    pub fn trouble(&self) -> Outbound {
        Outbound::text(self.voice.words().trouble())
    }
}
