//! `/recap`: the last seven days in the user's own words, laid out to fit Telegram.
//!
//! The layout never fails: when the words do not fit in a few messages, each entry is shortened
//! evenly, and when there are too many entries even for that, a day shows its first few and says
//! how many more it has. Every day with words always appears.

use chrono::{Duration, NaiveDate};

use super::{
    markup::{Html, MESSAGE_LIMIT, truncate_utf16, utf16_len},
    model::Entry,
    voice::Voice,
};

/// How many days a recap covers, today included.
pub const DAYS: i64 = 7;

/// At most this many messages for one recap: a long burst would trip Telegram's per-chat flood
/// limit (about 20 a minute) and overwhelm the reader.
pub const MAX_MESSAGES: usize = 6;

/// Below this, a shortened entry stops being the user's words and becomes a fragment.
const MIN_SHORTENED: usize = 120;

/// What goes between blocks inside one message.
const SEPARATOR: &str = "\n\n";

/// The first local date a recap covers, for a recap made on `today`.
pub fn first_day(today: NaiveDate) -> NaiveDate {
    today - Duration::days(DAYS - 1)
}

/// Renders the recap as messages; the caller attaches the booking button to the last.
/// `entries` may be in any order and may include days outside the week.
pub fn render(voice: &Voice<'_>, entries: &[Entry], today: NaiveDate) -> Vec<Html> {
    let words = voice.words();
    let days: Vec<NaiveDate> = first_day(today).iter_days().take(DAYS as usize).collect();
    let mut week: Vec<&Entry> = entries
        .iter()
        .filter(|entry| days.contains(&entry.local_date))
        .collect();
    week.sort_by_key(|entry| (entry.written_at, entry.message_id));
    if week.is_empty() {
        return vec![voice.say(&words.recap_empty)];
    }

    let mut opening = vec![header(voice, &days, &week)];
    opening.extend(themes(voice, &week));
    let footer = voice.say(&words.recap_footer);

    let layouts = std::iter::once(Limits {
        text_cap: None,
        per_day: None,
    })
    .chain(shortening_steps().map(|cap| Limits {
        text_cap: Some(cap),
        per_day: None,
    }))
    .chain((1..=week.len()).rev().map(|per_day| Limits {
        text_cap: Some(MIN_SHORTENED),
        per_day: Some(per_day),
    }));
    let mut fallback = Vec::new();
    for limits in layouts {
        let mut blocks = opening.clone();
        blocks.extend(day_blocks(voice, &days, &week, limits));
        blocks.push(footer.clone());
        let messages = pack(blocks);
        if messages.len() <= MAX_MESSAGES {
            return messages;
        }
        fallback = messages;
    }
    fallback
}

#[derive(Clone, Copy)]
struct Limits {
    /// Longest an entry's text may be, in UTF-16 units.
    text_cap: Option<usize>,
    /// Most entries shown for one day.
    per_day: Option<usize>,
}

/// Ever shorter caps, from nearly a whole message down to [`MIN_SHORTENED`].
fn shortening_steps() -> impl Iterator<Item = usize> {
    std::iter::successors(Some(MESSAGE_LIMIT / 2), |cap| Some(cap * 3 / 4))
        .take_while(|cap| *cap > MIN_SHORTENED)
}

fn header(voice: &Voice<'_>, days: &[NaiveDate], week: &[&Entry]) -> Html {
    let words = voice.words();
    let labels: Vec<&str> = days
        .iter()
        .map(|day| {
            words
                .weekdays
                .get(chrono::Datelike::weekday(day).num_days_from_monday() as usize)
                .map_or("", String::as_str)
        })
        .collect();
    let width = labels
        .iter()
        .map(|label| label.chars().count())
        .max()
        .unwrap_or(1)
        .max(1);
    let cells: Vec<String> = days
        .iter()
        .map(|day| {
            let cell = if week.iter().any(|entry| entry.local_date == *day) {
                &words.recap_cell_written
            } else {
                &words.recap_cell_empty
            };
            centre(cell, width)
        })
        .collect();
    let labels: Vec<String> = labels.iter().map(|label| centre(label, width)).collect();
    let written = days
        .iter()
        .filter(|day| week.iter().any(|entry| entry.local_date == **day))
        .count();
    words.recap_header.render(&[
        ("from", &voice.date(days[0])),
        ("to", &voice.date(days[days.len() - 1])),
        ("days", &Html::text(labels.join(" ").trim_end())),
        ("cells", &Html::text(cells.join(" ").trim_end())),
        ("written", &Html::text(&written.to_string())),
        ("total", &Html::text(&days.len().to_string())),
    ])
}

fn centre(text: &str, width: usize) -> String {
    let padding = width.saturating_sub(text.chars().count());
    let left = padding / 2;
    format!("{}{text}{}", " ".repeat(left), " ".repeat(padding - left))
}

fn themes(voice: &Voice<'_>, week: &[&Entry]) -> Option<Html> {
    let catalog = voice.catalog;
    let mut titles: Vec<&str> = Vec::new();
    for entry in week {
        let theme = entry
            .prompt_id
            .as_deref()
            .and_then(|id| catalog.prompt(id))
            .and_then(|prompt| catalog.theme(&prompt.theme));
        if let Some(theme) = theme.filter(|theme| !titles.contains(&theme.title.as_str())) {
            titles.push(&theme.title);
        }
    }
    (!titles.is_empty()).then(|| {
        voice
            .words()
            .recap_themes
            .render(&[("themes", &Html::text(&titles.join("; ")))])
    })
}

fn day_blocks(voice: &Voice<'_>, days: &[NaiveDate], week: &[&Entry], limits: Limits) -> Vec<Html> {
    let words = voice.words();
    let mut blocks = Vec::new();
    for day in days {
        let entries: Vec<&&Entry> = week
            .iter()
            .filter(|entry| entry.local_date == *day)
            .collect();
        if entries.is_empty() {
            continue;
        }
        let heading = words.recap_day.render(&[("date", &voice.date(*day))]);
        let shown = limits.per_day.unwrap_or(entries.len()).min(entries.len());
        for (index, entry) in entries.iter().take(shown).enumerate() {
            let mut block = if index == 0 {
                heading.clone()
            } else {
                Html::default()
            };
            if index == 0 {
                block.push(&Html::trusted("\n".to_owned()));
            }
            let room = MESSAGE_LIMIT - block.visible_len();
            block.push(&entry_block(voice, entry, limits.text_cap, room));
            blocks.push(block);
        }
        if shown < entries.len() {
            let count = Html::text(&(entries.len() - shown).to_string());
            blocks.push(words.recap_more.render(&[("count", &count)]));
        }
    }
    blocks
}

/// One entry, its text cut to `cap` and, whatever the cap, to what fits in `room`.
fn entry_block(voice: &Voice<'_>, entry: &Entry, cap: Option<usize>, room: usize) -> Html {
    let words = voice.words();
    let question = entry
        .prompt_id
        .as_deref()
        .and_then(|id| voice.catalog.prompt(id));
    let render = |text: &Html| match question {
        Some(prompt) => words.recap_reply.render(&[
            ("question", &Html::text(prompt.text.trim())),
            ("text", text),
        ]),
        None => words.recap_note.render(&[("text", text)]),
    };
    let text = entry.text.trim();
    let frame = render(&Html::default()).visible_len();
    let marker = words.recap_shortened.render(&[]);
    let fits = room.saturating_sub(frame);
    let cap = cap.unwrap_or(usize::MAX).min(fits);
    if utf16_len(text) <= cap {
        return render(&Html::text(text));
    }
    let kept = truncate_utf16(text, cap.saturating_sub(marker.visible_len())).trim_end();
    let mut shortened = Html::text(kept);
    shortened.push(&marker);
    render(&shortened)
}

/// Fills messages with whole blocks, in order.
fn pack(blocks: Vec<Html>) -> Vec<Html> {
    let mut messages: Vec<Html> = Vec::new();
    let mut current = Html::default();
    let mut current_len = 0;
    for block in blocks {
        let block_len = block.visible_len();
        let joined_len = current_len + utf16_len(SEPARATOR) + block_len;
        if current_len == 0 {
            current = block;
            current_len = block_len;
        } else if joined_len <= MESSAGE_LIMIT {
            current.push(&Html::trusted(SEPARATOR.to_owned()));
            current.push(&block);
            current_len = joined_len;
        } else {
            messages.push(std::mem::replace(&mut current, block));
            current_len = block_len;
        }
    }
    if current_len > 0 {
        messages.push(current);
    }
    messages
}
