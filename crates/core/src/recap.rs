//! `/recap`: the last seven days in the user's own words, laid out to fit Telegram.
//!
//! The layout never fails: when the words do not fit in a few messages, each entry is shortened
//! evenly, and when there are too many entries even for that, a day shows its first few and says
//! how many more it has. Every day with words always appears.

use chrono::{DateTime, Duration, NaiveDate, Utc};

use crate::{
    content::args,
    conversation::{Conversation, EntrySpan, Outcome},
    markup::{Html, MESSAGE_LIMIT, truncate_utf16, utf16_len},
    model::{Entry, Profile},
    reply::Outbound,
    voice::Voice,
};

impl Conversation<'_> {
    /// The span of instants that holds every entry a recap can show, with a day to spare for
    /// entries whose local date was counted in an earlier timezone.
    pub(crate) fn recap_window(&self) -> EntrySpan {
        let (from, to): (DateTime<Utc>, DateTime<Utc>) = (
            self.now - Duration::days(DAYS + 1),
            self.now + Duration::seconds(1),
        );
        EntrySpan::Between(from, to)
    }

    /// `/recap`: never creates a profile, and always ends with the booking button.
    pub(crate) fn recap(&self, profile: Option<&Profile>, entries: &[Entry]) -> Outcome {
        let zone = profile.map_or(self.voice.settings.default_zone, |profile| profile.zone);
        let mut messages = render(&self.voice, entries, zone.local_date(self.now));
        let last = messages.pop().unwrap_or_default();
        let mut outbound: Vec<Outbound> = messages.into_iter().map(Outbound::text).collect();
        outbound.push(self.voice.with_booking(last));
        Outcome {
            outbound,
            ..Outcome::default()
        }
    }
}

/// How long a recap message may be: room is left for discreet mode's neutral first line.
const ROOM: usize = crate::discreet::ROOM;

/// How many days a recap covers, today included.
pub(crate) const DAYS: i64 = 7;

/// At most this many messages for one recap: a long burst would trip Telegram's per-chat flood
/// limit (about 20 a minute) and overwhelm the reader.
pub(crate) const MAX_MESSAGES: usize = 6;

/// Below this, a shortened entry stops being the user's words and becomes a fragment.
const MIN_SHORTENED: usize = 120;

/// What goes between blocks inside one message.
const SEPARATOR: &str = "\n\n";

/// The first local date a recap covers, for a recap made on `today`.
pub(crate) fn first_day(today: NaiveDate) -> NaiveDate {
    today - Duration::days(DAYS - 1)
}

/// Renders the recap as messages; the caller attaches the booking button to the last.
/// `entries` may be in any order and may include days outside the week.
pub(crate) fn render(voice: &Voice<'_>, entries: &[Entry], today: NaiveDate) -> Vec<Html> {
    let words = voice.words();
    let days: Vec<NaiveDate> = first_day(today).iter_days().take(DAYS as usize).collect();
    let mut week: Vec<&Entry> = entries
        .iter()
        .filter(|entry| days.contains(&entry.local_date))
        .collect();
    week.sort_by_key(|entry| (entry.written_at, entry.message_id));
    if week.is_empty() {
        return vec![words.recap_empty()];
    }

    // Each day's entries, grouped once for the header and for every layout tried below.
    let by_day: Vec<(NaiveDate, Vec<&Entry>)> = days
        .iter()
        .map(|day| {
            (
                *day,
                week.iter()
                    .copied()
                    .filter(|entry| entry.local_date == *day)
                    .collect(),
            )
        })
        .collect();

    let mut opening = vec![header(voice, &by_day)];
    opening.extend(themes(voice, &week));
    let footer = words.recap_footer(args::RecapFooter {
        practice: voice.practice(),
    });

    let lay_out = |limits: Limits| {
        let mut blocks = opening.clone();
        blocks.extend(day_blocks(voice, &by_day, limits));
        blocks.push(footer.clone());
        pack(blocks)
    };
    let fits = |messages: &Vec<Html>| messages.len() <= MAX_MESSAGES;

    // Whole, then ever shorter: unless there are so many entries that even the shortest
    // could not fit, which is known without trying.
    let could_fit_shortened = week.len() * MIN_SHORTENED <= MAX_MESSAGES * MESSAGE_LIMIT;
    let whole_then_shorter = std::iter::once(None).chain(shortening_steps().map(Some));
    for text_cap in whole_then_shorter.take_while(|_| could_fit_shortened) {
        let messages = lay_out(Limits {
            text_cap,
            per_day: None,
        });
        if fits(&messages) {
            return messages;
        }
    }

    // Too many entries: each day shows as many as fit, the same number for every day, found
    // by bisection so a week of thousands of notes costs a dozen layouts, not thousands.
    let busiest_day = by_day
        .iter()
        .map(|(_, entries)| entries.len())
        .max()
        .unwrap_or(1);
    let shortest = |per_day| Limits {
        text_cap: Some(MIN_SHORTENED),
        per_day: Some(per_day),
    };
    let mut best = lay_out(shortest(1));
    let (mut low, mut high) = (1, busiest_day);
    while low < high {
        let middle = low + (high - low).div_ceil(2);
        let messages = lay_out(shortest(middle));
        if fits(&messages) {
            low = middle;
            best = messages;
        } else {
            high = middle - 1;
        }
    }
    best
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

fn header(voice: &Voice<'_>, by_day: &[(NaiveDate, Vec<&Entry>)]) -> Html {
    let words = voice.words();
    let labels: Vec<&str> = by_day
        .iter()
        .map(|(day, _)| voice.weekday_name(*day))
        .collect();
    let width = labels
        .iter()
        .map(|label| label.chars().count())
        .max()
        .unwrap_or(1)
        .max(1);
    let cells: Vec<String> = by_day
        .iter()
        .map(|(_, entries)| {
            let cell = if entries.is_empty() {
                words.recap_cell_empty()
            } else {
                words.recap_cell_written()
            };
            centre(cell, width)
        })
        .collect();
    let labels: Vec<String> = labels.iter().map(|label| centre(label, width)).collect();
    let written = by_day
        .iter()
        .filter(|(_, entries)| !entries.is_empty())
        .count();
    let (first, last) = (by_day[0].0, by_day[by_day.len() - 1].0);
    words.recap_header(args::RecapHeader {
        from: voice.date(first),
        to: voice.date(last),
        days: Html::text(labels.join(" ").trim_end()),
        cells: Html::text(cells.join(" ").trim_end()),
        written: Voice::count(written),
        total: Voice::count(by_day.len()),
    })
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
        voice.words().recap_themes(args::RecapThemes {
            themes: Html::text(&titles.join("; ")),
        })
    })
}

fn day_blocks(voice: &Voice<'_>, by_day: &[(NaiveDate, Vec<&Entry>)], limits: Limits) -> Vec<Html> {
    let words = voice.words();
    let mut blocks = Vec::new();
    for (day, entries) in by_day.iter().filter(|(_, entries)| !entries.is_empty()) {
        let mut heading = words.recap_day(args::RecapDay {
            date: voice.date(*day),
        });
        heading.push(&Html::text("\n"));
        let shown = limits.per_day.unwrap_or(entries.len()).min(entries.len());
        for (index, entry) in entries.iter().take(shown).enumerate() {
            // The day's heading goes with its first entry, so a message never ends on a heading.
            let mut block = if index == 0 {
                heading.clone()
            } else {
                Html::default()
            };
            let room = ROOM - block.visible_len();
            block.push(&entry_block(voice, entry, limits.text_cap, room));
            blocks.push(block);
        }
        if shown < entries.len() {
            blocks.push(words.recap_more(args::RecapMore {
                count: Voice::count(entries.len() - shown),
            }));
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
        Some(prompt) => words.recap_reply(args::RecapReply {
            question: Html::text(prompt.text.trim()),
            text: text.clone(),
        }),
        None => words.recap_note(args::RecapNote { text: text.clone() }),
    };
    let text = entry.text.trim();
    let frame = render(&Html::default()).visible_len();
    let marker = words.recap_shortened();
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
        } else if joined_len <= ROOM {
            current.push(&Html::text(SEPARATOR));
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

#[cfg(test)]
mod tests {
    use chrono::{TimeZone, Utc};

    use super::*;
    use crate::{fixtures, markup::visible_text};

    fn today() -> NaiveDate {
        "2026-03-08".parse().unwrap()
    }

    fn entry(day: &str, id: i32, prompt: Option<&str>, text: &str) -> Entry {
        let local_date: NaiveDate = day.parse().unwrap();
        Entry {
            user_id: 1,
            message_id: id,
            written_at: Utc.from_utc_datetime(&local_date.and_hms_opt(12, 0, 0).unwrap())
                + Duration::seconds(id.into()),
            local_date,
            prompt_id: prompt.map(str::to_owned),
            text: text.into(),
            edited_at: None,
        }
    }

    /// Renders and checks what every recap must be: valid, within limits, every day present.
    fn render_checked(entries: &[Entry]) -> Vec<String> {
        let catalog = fixtures::catalog();
        let settings = fixtures::settings();
        let voice = Voice::new(&catalog, &settings);
        let messages = render(&voice, entries, today());
        assert!(
            !messages.is_empty() && messages.len() <= MAX_MESSAGES,
            "{} messages",
            messages.len()
        );
        let texts: Vec<String> = messages
            .iter()
            .map(|html| {
                let text = visible_text(html.as_str()).expect("valid Telegram HTML");
                assert!(
                    (1..=MESSAGE_LIMIT).contains(&utf16_len(&text)),
                    "{} units",
                    utf16_len(&text)
                );
                text
            })
            .collect();
        let all = texts.join("\n");
        for entry in entries
            .iter()
            .filter(|entry| entry.local_date >= first_day(today()))
        {
            let shown = voice.date(entry.local_date);
            assert!(
                all.contains(&visible_text(shown.as_str()).unwrap()),
                "{} is missing",
                entry.local_date
            );
        }
        texts
    }

    #[test]
    fn nothing_written_says_so() {
        let texts = render_checked(&[]);
        assert!(texts[0].starts_with("Nothing has been saved"));
    }

    #[test]
    fn a_week_shows_its_row_its_count_its_themes_and_every_entry_in_order() {
        let entries = [
            entry("2026-03-08", 3, None, "a later note"),
            entry(
                "2026-03-02",
                1,
                Some("buried-love-01"),
                "the first reply <b>&",
            ),
            entry("2026-03-05", 2, Some("slowing-down-01"), "the second reply"),
            entry("2026-02-20", 9, None, "too old to show"),
        ];
        let texts = render_checked(&entries);
        let all = texts.join("\n");
        assert!(all.contains("Mon Tue Wed Thu Fri Sat Sun"), "{all}");
        assert!(all.contains(" ●   ·   ·   ●   ·   ·   ●\n"), "{all}");
        assert!(all.contains("You wrote on 3 of these 7 days."));
        assert!(all.contains("What lies underneath; Taking time"));
        assert!(all.contains("the first reply <b>&"));
        assert!(!all.contains("too old to show"));
        let first = all.find("the first reply").unwrap();
        assert!(
            first < all.find("the second reply").unwrap()
                && all.find("the second reply").unwrap() < all.find("a later note").unwrap()
        );
    }

    #[test]
    fn one_reply_as_long_as_telegram_allows_is_shortened_to_fit_with_a_mark() {
        let long = "🙂".repeat(MESSAGE_LIMIT / 2);
        let texts = render_checked(&[entry("2026-03-07", 1, Some("buried-love-01"), &long)]);
        let all = texts.join("\n");
        assert!(all.contains("[…]"), "a shortened entry says so");
        assert!(all.contains(&"🙂".repeat(500)));
    }

    #[test]
    fn many_long_entries_are_split_across_messages_then_shortened_evenly() {
        let entries: Vec<Entry> = (0..7)
            .flat_map(|day| (0..3).map(move |n| (day, n)))
            .map(|(day, n)| {
                entry(
                    &format!("2026-03-{:02}", 2 + day),
                    day * 10 + n,
                    None,
                    &format!("{day}-{n} {}", "word ".repeat(700)),
                )
            })
            .collect();
        let texts = render_checked(&entries);
        assert!(texts.len() > 1);
        let all = texts.join("\n");
        for (day, n) in (0..7).flat_map(|day| (0..3).map(move |n| (day, n))) {
            assert!(
                all.contains(&format!("{day}-{n} word")),
                "entry {day}-{n} is missing"
            );
        }
    }

    #[test]
    fn thousands_of_notes_show_the_first_of_each_day_and_count_the_rest() {
        let entries: Vec<Entry> = (0..3000)
            .map(|id| {
                entry(
                    &format!("2026-03-{:02}", 2 + id % 7),
                    id,
                    None,
                    "a short note",
                )
            })
            .collect();
        let texts = render_checked(&entries);
        let all = texts.join("\n");
        assert!(
            all.contains("more from this day"),
            "{}",
            &all[..all.len().min(500)]
        );
    }
}
