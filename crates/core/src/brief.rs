//! `/brief`: the user's words as one printable HTML file, to keep, print, or bring to a first
//! consultation if they choose.
//!
//! The file is self-contained (no scripts, no remote fonts, styles or images; the only address
//! in it is the practice's booking link) and prints cleanly. It is written so that it is also
//! well-formed XML (empty elements closed, everything escaped), which lets a test parse it
//! strictly without an HTML5 parser. Every word in it is the user's, a
//! question or theme from `prompts.toml`, a line from `messages.toml`, a date or a count:
//! nothing reads, scores or sums up what they wrote. The user's words are escaped by [`Html`].

use std::collections::BTreeSet;

use chrono::{Datelike, NaiveDate};

use crate::{
    content::args,
    conversation::{Conversation, Outcome},
    markup::Html,
    model::{Entry, Profile},
    reply::{Document, Outbound},
    voice::Voice,
};

pub(crate) const FILE: &str = "crossroads-brief.html";

impl Conversation<'_> {
    pub(crate) fn brief(&self, profile: Option<&Profile>, entries: &[Entry]) -> Outcome {
        let words = self.voice.words();
        let Some((first, last)) = period(entries) else {
            return Outcome::reply(Outbound::text(words.brief_empty()));
        };
        let zone = profile.map_or(self.voice.settings.default_zone, |profile| profile.zone);
        let today = zone.local_date(self.now);
        let caption = words.brief_caption(args::BriefCaption {
            from: self.voice.date(first),
            to: self.voice.date(last),
        });
        Outcome::reply(Outbound::Document(Document {
            filename: FILE.to_owned(),
            bytes: render(&self.voice, entries, today).into_bytes(),
            caption: Some(caption),
            discretion: Default::default(),
        }))
    }
}

/// The first and last local dates written on.
fn period(entries: &[Entry]) -> Option<(NaiveDate, NaiveDate)> {
    let first = entries.iter().map(|entry| entry.local_date).min()?;
    let last = entries.iter().map(|entry| entry.local_date).max()?;
    Some((first, last))
}

/// Fonts the reader's own system has, emoji fonts last, so that any script and any emoji
/// shows without fetching anything.
const STYLE: &str = "\
:root{color-scheme:light}\
body{font-family:system-ui,-apple-system,\"Segoe UI\",Roboto,\"Noto Sans\",\"Helvetica Neue\",Arial,sans-serif,\"Apple Color Emoji\",\"Segoe UI Emoji\",\"Noto Color Emoji\";\
line-height:1.5;color:#222;background:#fff;max-width:42rem;margin:2rem auto;padding:0 1rem}\
h1{font-size:1.6rem;margin-bottom:.25rem}\
h2{font-size:1.25rem;margin-top:2.5rem;border-bottom:1px solid #ccc;padding-bottom:.25rem}\
h3{font-size:1rem;font-weight:600;font-style:italic;margin:1.5rem 0 .5rem}\
.note{border:1px solid #ccc;border-radius:.5rem;padding:.25rem 1rem;margin:1.5rem 0}\
.answer{margin:0 0 1rem;padding-left:1rem;border-left:3px solid #ddd}\
.date{margin:0;font-size:.85rem;color:#555}\
.text{margin:.25rem 0 0;white-space:pre-wrap;overflow-wrap:anywhere}\
footer{margin-top:3rem;font-size:.85rem;color:#555}\
@page{margin:2cm}\
@media print{body{margin:0;max-width:none;font-size:11pt}\
h2,h3{break-after:avoid}.answer{break-inside:avoid}a{color:inherit;text-decoration:none}}";

/// The whole file.
pub(crate) fn render(voice: &Voice<'_>, entries: &[Entry], today: NaiveDate) -> String {
    let words = voice.words();
    let catalog = voice.catalog;
    let mut sorted: Vec<&Entry> = entries.iter().collect();
    sorted.sort_by_key(|entry| (entry.written_at, entry.message_id));
    let days: BTreeSet<NaiveDate> = sorted.iter().map(|entry| entry.local_date).collect();
    let (first, last) = period(entries).unwrap_or((today, today));

    let mut body =
        String::with_capacity(1024 + entries.iter().map(|e| e.text.len() + 96).sum::<usize>());
    let title = words.brief_title();
    body.push_str(&format!("<header>\n<h1>{}</h1>\n", title.as_str()));
    let period = words.brief_period(args::BriefPeriod {
        from: date(voice, first),
        to: date(voice, last),
        days: Voice::count(days.len()),
    });
    body.push_str(&format!("<p>{}</p>\n</header>\n", period.as_str()));
    let note = words.brief_note(args::BriefNote {
        practice: voice.practice(),
    });
    body.push_str(&format!(
        "<section class=\"note\">\n{}</section>\n",
        paragraphs(&note)
    ));

    // Theme by theme, in the article's order; each question in the order of the file; each
    // answer under it by date.
    let prompt_of = |entry: &Entry| entry.prompt_id.as_deref().and_then(|id| catalog.prompt(id));
    for theme in &catalog.themes {
        let mut section = String::new();
        for prompt in catalog
            .prompts
            .iter()
            .filter(|prompt| prompt.theme == theme.id)
        {
            let answers: Vec<&&Entry> = sorted
                .iter()
                .filter(|entry| prompt_of(entry).is_some_and(|found| found.id == prompt.id))
                .collect();
            if answers.is_empty() {
                continue;
            }
            section.push_str(&format!(
                "<article>\n<h3>{}</h3>\n",
                Html::text(prompt.text.trim()).as_str()
            ));
            for entry in answers {
                section.push_str(&answer(voice, entry));
            }
            section.push_str("</article>\n");
        }
        if !section.is_empty() {
            body.push_str(&format!(
                "<section>\n<h2>{}</h2>\n{section}</section>\n",
                Html::text(&theme.title).as_str()
            ));
        }
    }
    // Notes, and answers to questions since retired from the catalog.
    let notes: Vec<&&Entry> = sorted
        .iter()
        .filter(|entry| prompt_of(entry).is_none())
        .collect();
    if !notes.is_empty() {
        body.push_str(&format!(
            "<section>\n<h2>{}</h2>\n",
            words.brief_notes_heading().as_str()
        ));
        for entry in notes {
            body.push_str(&answer(voice, entry));
        }
        body.push_str("</section>\n");
    }
    let footer = words.brief_footer(args::BriefFooter {
        practice: voice.practice(),
        date: date(voice, today),
    });
    let booking = Html::link(&voice.settings.booking_url, voice.words().booking_button());
    body.push_str(&format!(
        "<footer>\n<p>{}</p>\n<p>{}</p>\n</footer>\n",
        footer.as_str(),
        booking.as_str()
    ));

    format!(
        "<!DOCTYPE html>\n<html>\n<head>\n<meta charset=\"utf-8\" />\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\" />\n\
         <title>{}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n{body}</body>\n</html>\n",
        crate::markup::visible_text(title.as_str())
            .map(|text| Html::text(&text).into_string())
            .unwrap_or_default()
    )
}

/// One answer or note: its date, then the words as written.
fn answer(voice: &Voice<'_>, entry: &Entry) -> String {
    format!(
        "<div class=\"answer\">\n<p class=\"date\">{}</p>\n<p class=\"text\">{}</p>\n</div>\n",
        date(voice, entry.local_date).as_str(),
        Html::text(entry.text.trim()).as_str()
    )
}

/// A day with its year: a brief can span more than one.
fn date(voice: &Voice<'_>, day: NaiveDate) -> Html {
    let words = voice.words();
    let month = words.months().get(day.month0() as usize);
    words.brief_date(args::BriefDate {
        weekday: Html::text(voice.weekday_name(day)),
        day: Html::text(&day.day().to_string()),
        month: Html::text(month.map_or("", String::as_str)),
        year: Html::text(&day.year().to_string()),
    })
}

/// A template's blank-line-separated parts as HTML paragraphs.
fn paragraphs(html: &Html) -> String {
    html.as_str()
        .split("\n\n")
        .map(str::trim)
        .filter(|part| !part.is_empty())
        .map(|part| format!("<p>{part}</p>\n"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{fixtures, model::Entry};

    fn entry(id: i32, day: &str, prompt: Option<&str>, text: &str) -> Entry {
        let local_date: NaiveDate = day.parse().unwrap();
        Entry {
            user_id: 1,
            message_id: id,
            written_at: local_date.and_hms_opt(20, 0, 0).unwrap().and_utc(),
            local_date,
            prompt_id: prompt.map(str::to_owned),
            text: text.into(),
            edited_at: None,
        }
    }

    #[test]
    fn the_brief_holds_their_words_escaped_under_each_question_and_theme() {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let voice = Voice::new(&catalog, &settings);
        let first = &catalog.prompts[0];
        let entries = vec![
            entry(
                1,
                "2025-03-02",
                Some(&first.id),
                "He said <script>alert(1)</script> & left 🙂",
            ),
            entry(2, "2026-03-01", None, "नमस्ते, a note"),
            entry(3, "2026-03-01", Some("retired-01"), "an old answer"),
        ];
        let today: NaiveDate = "2026-03-02".parse().unwrap();
        let html = render(&voice, &entries, today);
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\" />"));
        assert!(!html.contains("<script"), "their words are escaped");
        assert!(html.contains("He said &lt;script&gt;alert(1)&lt;/script&gt; &amp; left 🙂"));
        assert!(html.contains("नमस्ते, a note"));
        let theme = catalog.theme(&first.theme).unwrap();
        let theme_at = html.find(&Html::text(&theme.title).into_string()).unwrap();
        let question_at = html
            .find(&Html::text(first.text.trim()).into_string())
            .unwrap();
        let answer_at = html.find("He said").unwrap();
        assert!(theme_at < question_at && question_at < answer_at);
        assert!(html.contains("2025"), "dates carry their year");
        assert!(html.contains("You wrote on 2 of these days"));
        let notes_at = html
            .find(catalog.messages.brief_notes_heading().as_str())
            .unwrap();
        assert!(notes_at < html.find("an old answer").unwrap());
        assert!(html.contains("@media print"));
    }

    #[test]
    fn with_nothing_written_there_is_no_file() {
        let (catalog, settings) = (fixtures::catalog(), fixtures::settings());
        let conversation = Conversation::new(
            Voice::new(&catalog, &settings),
            "2026-03-02T10:00:00Z".parse().unwrap(),
        );
        let outcome = conversation.brief(None, &[]);
        assert!(matches!(outcome.outbound[..], [Outbound::Message(_)]));
    }
}
