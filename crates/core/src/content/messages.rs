//! Every word the bot says besides the questions, declared once: its key in `messages.toml`,
//! the placeholders it must use and those it may use, and a typed function that renders it.
//!
//! A value left out or misspelt where a message is rendered is a compile error (each message
//! takes a struct of exactly its placeholders). A template in `messages.toml` that uses a
//! placeholder its declaration does not name, or leaves out one it must use, is a problem that
//! `crossroads check` reports with the file, the message and the placeholder. The wording stays
//! in the TOML, where the practice edits it.

use serde::Deserialize;

use crate::markup::{Html, Template, utf16_len};

/// One template as declared, for validation.
pub(super) struct Declared<'a> {
    pub(super) key: &'static str,
    pub(super) template: &'a Template,
    pub(super) required: &'static [&'static str],
    pub(super) optional: &'static [&'static str],
}

/// Generates [`Messages`], one render function per message, and an argument struct per
/// template with placeholders (in [`args`]).
///
/// - `templates`: `key => Args { required, … ; optional, … }`
/// - `plain`: templates with no placeholders
/// - `choices`: lists of equivalent placeholder-free lines, one picked per message
/// - `labels`: button and cell labels, plain text of 1 to 64 characters
/// - `names`: lists of a fixed length (weekday and month names)
macro_rules! declare_messages {
    (
        templates {
            $( $(#[$doc:meta])* $key:ident => $Args:ident { $($req:ident),* $(; $($opt:ident),*)? } ),* $(,)?
        }
        plain { $( $(#[$plain_doc:meta])* $plain:ident ),* $(,)? }
        choices { $( $(#[$choice_doc:meta])* $choice:ident ),* $(,)? }
        labels { $( $(#[$label_doc:meta])* $label:ident ),* $(,)? }
        names { $( $(#[$names_doc:meta])* $names:ident : $count:literal $order:literal ),* $(,)? }
    ) => {
        /// Every word the bot says besides the questions: the contents of `messages.toml`.
        #[derive(Clone, Debug, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct Messages {
            $( $key: Template, )*
            $( $plain: Template, )*
            $( $choice: Vec<Template>, )*
            $( $label: String, )*
            $( $names: Vec<String>, )*
        }

        /// The values each message is filled with, one struct per message, one field per
        /// placeholder.
        pub(crate) mod args {
            use crate::markup::Html;

            $(
                $(#[$doc])*
                pub(crate) struct $Args {
                    $( pub(crate) $req: Html, )*
                    $( $( pub(crate) $opt: Html, )* )?
                }
            )*
        }

        impl Messages {
            $(
                $(#[$doc])*
                pub(crate) fn $key(&self, values: args::$Args) -> Html {
                    self.$key.fill(|slot| match slot {
                        $( stringify!($req) => Some(&values.$req), )*
                        $( $( stringify!($opt) => Some(&values.$opt), )* )?
                        _ => None,
                    })
                }
            )*

            $(
                $(#[$plain_doc])*
                pub(crate) fn $plain(&self) -> Html {
                    self.$plain.fill(|_| None)
                }
            )*

            $(
                $(#[$choice_doc])*
                /// The same seed always picks the same line, so a redelivered message is
                /// answered the same way.
                pub(crate) fn $choice(&self, seed: u64) -> Html {
                    let lines = &self.$choice;
                    // Never empty once validated; an empty line is the harmless fallback.
                    usize::try_from(seed)
                        .ok()
                        .and_then(|seed| lines.get(seed % lines.len().max(1)))
                        .map_or_else(Html::default, |line| line.fill(|_| None))
                }
            )*

            $(
                $(#[$label_doc])*
                pub(crate) fn $label(&self) -> &str {
                    &self.$label
                }
            )*

            $(
                $(#[$names_doc])*
                pub(crate) fn $names(&self) -> &[String] {
                    &self.$names
                }
            )*

            /// Every template with the placeholders its declaration names.
            pub(super) fn declared(&self) -> Vec<Declared<'_>> {
                let mut all = vec![
                    $( Declared {
                        key: stringify!($key),
                        template: &self.$key,
                        required: &[$(stringify!($req)),*],
                        optional: &[$($(stringify!($opt)),*)?],
                    }, )*
                    $( Declared {
                        key: stringify!($plain),
                        template: &self.$plain,
                        required: &[],
                        optional: &[],
                    }, )*
                ];
                $(
                    all.extend(self.$choice.iter().map(|template| Declared {
                        key: stringify!($choice),
                        template,
                        required: &[],
                        optional: &[],
                    }));
                )*
                all
            }

            /// Problems with the parts that are not templates.
            pub(super) fn shape_problems(&self) -> Vec<String> {
                let mut problems = Vec::new();
                $(
                    if self.$choice.is_empty() {
                        problems.push(format!("{}: needs at least one line", stringify!($choice)));
                    }
                )*
                $(
                    if self.$label.trim().is_empty() || utf16_len(&self.$label) > 64 {
                        problems.push(format!("{}: needs 1 to 64 characters", stringify!($label)));
                    }
                )*
                $(
                    if self.$names.len() != $count {
                        problems.push(format!(
                            "{}: needs {} names, {} (found {})",
                            stringify!($names),
                            $count,
                            $order,
                            self.$names.len()
                        ));
                    }
                )*
                problems
            }
        }
    };
}

declare_messages! {
    templates {
        /// The first message anyone gets: what this is and is not, and where help is.
        welcome => Welcome { time, zone, emergency; practice },
        /// `/start` again, from someone the bot knows.
        welcome_back => WelcomeBack { ; practice, time, zone, status },
        help => Help { commands; practice },
        help_line => HelpLine { command, description },
        /// A daily question, or one asked for with `/prompt`.
        prompt => Prompt { question; theme },
        /// The answer to a request for advice, which the bot never gives.
        advice => Advice { ; practice },
        /// The crisis answer, and `/urgent`.
        crisis => Crisis { emergency, lines; practice },
        crisis_line => CrisisLine { name, contact },
        book => Book { ; practice },
        settings => Settings { time, zone, status; discreet, changed },
        status_active => StatusActive { ; next },
        time_show => TimeShow { time; zone },
        time_set => TimeSet { time; zone, next },
        time_invalid => TimeInvalid { ; input },
        timezone_show => TimezoneShow { zone; time },
        timezone_set => TimezoneSet { zone; time, next },
        timezone_invalid => TimezoneInvalid { ; input },
        resumed => Resumed { ; next },
        already_active => AlreadyActive { ; next },
        recap_header => RecapHeader { days, cells; from, to, written, total },
        recap_themes => RecapThemes { themes },
        recap_day => RecapDay { date },
        recap_reply => RecapReply { text; question },
        recap_note => RecapNote { text },
        recap_more => RecapMore { count },
        recap_footer => RecapFooter { ; practice },
        privacy => Privacy { ; practice, retention_days },
        export_caption => ExportCaption { ; count },
        export_text => ExportText { entries; practice, exported, time, zone, status },
        export_text_reply => ExportTextReply { text; date, time, question },
        export_text_note => ExportTextNote { text; date, time },
        delete_confirm => DeleteConfirm { ; count },
        /// An admin's /stats: counts, never anything about a person.
        stats => Stats { users, active_week, active_month, questions, answers, crisis, check_ins, bookings },
        /// How a day is written.
        date => Date { day; weekday, month, year },
        /// How a day and a time are written.
        moment => Moment { date, time },
        // Settings by tapping, and the timezone from a shared location.
        settings_pick_hour => SettingsPickHour { zone; time },
        settings_pick_minute => SettingsPickMinute { hour; zone },
        settings_zone => SettingsZone { zone },
        timezone_located => TimezoneLocated { zone; local_time, time, next },
        // The session brief (/brief).
        brief_caption => BriefCaption { ; from, to },
        brief_period => BriefPeriod { ; from, to, days },
        brief_note => BriefNote { ; practice },
        brief_footer => BriefFooter { ; practice, date },
        brief_date => BriefDate { day; weekday, month, year },
    }
    plain {
        /// Added to the crisis answer when it answers something the user wrote.
        crisis_kept,
        /// Added to an acknowledgement when a message is close to a crisis but not one: one
        /// gentle line, with the crisis lines a tap away.
        check_in,
        status_paused,
        paused,
        already_paused,
        unknown_command,
        non_text,
        private_only,
        trouble,
        /// Added where a long reply had to be shortened to fit.
        recap_shortened,
        recap_empty,
        export_empty,
        export_text_none,
        deleted,
        delete_cancelled,
        delete_stale,
        // Settings by tapping, and the timezone from a shared location.
        /// Plain text for a button's notice: at most 200 characters.
        settings_stale,
        timezone_not_located,
        // /themes
        /// Above the list of themes as buttons.
        themes,
        /// When the last theme on was pressed: it stays on.
        themes_keep_one,
        /// A theme button from an older list, or one that never was.
        themes_stale,
        // Discreet mode (/discreet).
        discreet_on,
        discreet_off,
        /// Said once, the first time a user's message is deleted after it was kept.
        discreet_deleted_notice,
        brief_empty,
        brief_title,
        brief_notes_heading,
    }
    choices {
        /// Acknowledges the answer to a question.
        reply_acks,
        /// Acknowledges a note written when no question was open.
        note_acks,
    }
    labels {
        booking_button,
        /// The button under a check-in line that shows the crisis lines.
        urgent_button,
        delete_yes_button,
        delete_no_button,
        recap_cell_written,
        recap_cell_empty,
        // Settings by tapping, and the timezone from a shared location.
        settings_time_button,
        settings_zone_button,
        settings_pause_button,
        settings_resume_button,
        settings_discreet_on_button,
        settings_discreet_off_button,
        settings_back_button,
        discreet_state_on,
        discreet_state_off,
        location_button,
        // /themes: before a theme's title on its button.
        theme_on_mark,
        theme_off_mark,
        /// The neutral first line of everything sent in discreet mode: what a notification
        /// preview and the chat list show.
        discreet_header,
    }
    names {
        weekdays: 7 "Monday first",
        months: 12 "January first",
    }
}
