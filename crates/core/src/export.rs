//! `/export`: everything stored about a user, as JSON for machines and text for people.

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::{
    content::args,
    conversation::{Conversation, Outcome},
    markup::{Html, visible_text},
    model::{Entry, Profile},
    reply::{Document, Outbound},
    voice::Voice,
};

impl Conversation<'_> {
    pub(crate) fn export(&self, profile: Option<&Profile>, entries: &[Entry]) -> Outcome {
        Outcome {
            outbound: export(&self.voice, profile, entries, self.now),
            ..Outcome::default()
        }
    }
}

/// Names the format, so a reader of an old export knows what it holds.
pub(crate) const FORMAT: &str = "crossroads-export/1";

#[derive(Serialize)]
struct Export<'a> {
    format: &'static str,
    exported_at: DateTime<Utc>,
    practice: &'a str,
    settings: Option<SettingsExport>,
    entries: Vec<EntryExport<'a>>,
}

#[derive(Serialize)]
struct SettingsExport {
    joined_at: DateTime<Utc>,
    daily_question_time: String,
    timezone: String,
    paused: bool,
    discreet: bool,
    /// False after Telegram reported that the user blocked the bot.
    reachable: bool,
    next_question_at: Option<DateTime<Utc>>,
    last_question_date: Option<NaiveDate>,
    open_question_id: Option<String>,
    questions_given_this_round: Vec<String>,
    deletion_requested_at: Option<DateTime<Utc>>,
    /// When a message last fell in the safety check-in band, kept for a day.
    check_in_shown_at: Option<DateTime<Utc>>,
    check_in_answered_as_crisis: Option<bool>,
    /// The parts of the article turned off in /themes.
    themes_turned_off: Vec<String>,
    /// The questions delivered lately, so that a Telegram reply to one answers it.
    questions_delivered: Vec<AskedExport>,
}

#[derive(Serialize)]
struct AskedExport {
    question_id: String,
    telegram_message_id: i32,
    sent_at: DateTime<Utc>,
}

#[derive(Serialize)]
struct EntryExport<'a> {
    kind: &'static str,
    local_date: NaiveDate,
    written_at: DateTime<Utc>,
    edited_at: Option<DateTime<Utc>>,
    question_id: Option<&'a str>,
    question: Option<&'a str>,
    theme: Option<&'a str>,
    text: &'a str,
}

pub(crate) const JSON_FILE: &str = "crossroads-export.json";
pub(crate) const TEXT_FILE: &str = "crossroads-export.txt";

pub(crate) fn export(
    voice: &Voice<'_>,
    profile: Option<&Profile>,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> Vec<Outbound> {
    let words = voice.words();
    if profile.is_none() && entries.is_empty() {
        return vec![Outbound::text(words.export_empty())];
    }
    let json = serde_json::to_vec_pretty(&as_json(voice, profile, entries, now))
        .expect("plain data always serialises");
    let caption = words.export_caption(args::ExportCaption {
        count: Voice::count(entries.len()),
    });
    vec![
        Outbound::Document(Document {
            filename: JSON_FILE.to_owned(),
            bytes: json,
            caption: None,
            discretion: Default::default(),
        }),
        Outbound::Document(Document {
            filename: TEXT_FILE.to_owned(),
            bytes: as_text(voice, profile, entries, now).into_bytes(),
            caption: Some(caption),
            discretion: Default::default(),
        }),
    ]
}

fn as_json<'a>(
    voice: &Voice<'a>,
    profile: Option<&Profile>,
    entries: &'a [Entry],
    now: DateTime<Utc>,
) -> Export<'a> {
    let catalog = voice.catalog;
    Export {
        format: FORMAT,
        exported_at: now,
        practice: &voice.settings.practice_name,
        settings: profile.map(|profile| SettingsExport {
            joined_at: profile.joined_at,
            daily_question_time: profile.prompt_time.format("%H:%M").to_string(),
            timezone: profile.zone.to_string(),
            paused: profile.paused,
            discreet: profile.discreet,
            reachable: profile.reachable,
            next_question_at: profile.next_due.map(|due| due.at),
            last_question_date: profile.last_prompted_on,
            open_question_id: profile
                .open_prompt
                .as_ref()
                .map(|open| open.prompt_id.clone()),
            questions_given_this_round: profile.rotation.given.clone(),
            deletion_requested_at: profile
                .pending_deletion
                .as_ref()
                .map(|pending| pending.asked_at),
            check_in_shown_at: profile.fresh_check_in(now).map(|last| last.at),
            check_in_answered_as_crisis: profile
                .fresh_check_in(now)
                .map(|last| last.answered_as_crisis),
            themes_turned_off: profile.themes_off.clone(),
            questions_delivered: profile
                .asked
                .iter()
                .map(|asked| AskedExport {
                    question_id: asked.prompt_id.clone(),
                    telegram_message_id: asked.message_id,
                    sent_at: asked.sent_at,
                })
                .collect(),
        }),
        entries: entries
            .iter()
            .map(|entry| {
                let prompt = entry.prompt_id.as_deref().and_then(|id| catalog.prompt(id));
                EntryExport {
                    kind: if entry.prompt_id.is_some() {
                        "reply"
                    } else {
                        "note"
                    },
                    local_date: entry.local_date,
                    written_at: entry.written_at,
                    edited_at: entry.edited_at,
                    question_id: entry.prompt_id.as_deref(),
                    question: prompt.map(|prompt| prompt.text.trim()),
                    theme: prompt
                        .and_then(|prompt| catalog.theme(&prompt.theme))
                        .map(|theme| theme.title.as_str()),
                    text: &entry.text,
                }
            })
            .collect(),
    }
}

/// The readable copy: the dialogues' export templates, rendered, then stripped to the text a
/// reader would see.
fn as_text(
    voice: &Voice<'_>,
    profile: Option<&Profile>,
    entries: &[Entry],
    now: DateTime<Utc>,
) -> String {
    let words = voice.words();
    let zone = profile.map_or(voice.settings.default_zone, |profile| profile.zone);
    let blocks = entries.iter().map(|entry| {
        let local = zone.local_datetime(entry.written_at);
        let date = voice.date(entry.local_date);
        let time = Voice::time(local.time());
        let text = Html::text(&entry.text);
        match entry
            .prompt_id
            .as_deref()
            .and_then(|id| voice.catalog.prompt(id))
        {
            Some(prompt) => words.export_text_reply(args::ExportTextReply {
                date,
                time,
                question: Html::text(prompt.text.trim()),
                text,
            }),
            None => words.export_text_note(args::ExportTextNote { date, time, text }),
        }
    });
    let mut listed = Html::join(blocks, &Html::text("\n\n"));
    if entries.is_empty() {
        listed = words.export_text_none();
    }
    let local_now = zone.local_datetime(now);
    let exported = Html::join(
        [voice.date(local_now.date()), Voice::time(local_now.time())],
        &Html::text(", "),
    );
    let (time, status) = match profile {
        Some(profile) => {
            let status = match (&profile.next_due, profile.paused) {
                (Some(due), false) => words.status_active(args::StatusActive {
                    next: voice.moment(due, &profile.zone),
                }),
                _ => words.status_paused(),
            };
            (Voice::time(profile.prompt_time), status)
        }
        None => (Voice::time(voice.settings.default_time), Html::default()),
    };
    let html = words.export_text(args::ExportText {
        practice: voice.practice(),
        exported,
        time,
        zone: Voice::zone(&zone),
        status,
        entries: listed,
    });
    let mut text = visible_text(html.as_str()).unwrap_or_else(|_| html.into_string());
    text.push('\n');
    text
}
