//! The bot's words: dialogues templates filled with settings, dates and the user's own text.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};

use super::{
    markup::Html,
    reply::{Button, Outbound},
    schedule::Due,
    zone::Zone,
};
use crate::content::{Catalog, Template};

/// A crisis line an operator configured: a phone number or a web address.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Contact {
    Phone(String),
    Url(String),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CrisisLine {
    pub name: String,
    pub contact: Contact,
}

/// What the practice configured, in core terms.
#[derive(Clone, Debug)]
pub struct Settings {
    pub practice_name: String,
    pub booking_url: String,
    pub default_time: NaiveTime,
    pub default_zone: Zone,
    pub catch_up: Duration,
    pub emergency: String,
    pub crisis_lines: Vec<CrisisLine>,
    pub retention_days: u32,
}

#[derive(Clone, Copy)]
pub struct Voice<'a> {
    pub catalog: &'a Catalog,
    pub settings: &'a Settings,
}

impl<'a> Voice<'a> {
    pub fn new(catalog: &'a Catalog, settings: &'a Settings) -> Voice<'a> {
        Voice { catalog, settings }
    }

    pub fn words(&self) -> &'a crate::content::Messages {
        &self.catalog.messages
    }

    pub fn booking_button(&self) -> Button {
        Button::Url {
            label: self.words().booking_button.clone(),
            url: self.settings.booking_url.clone(),
        }
    }

    pub fn practice(&self) -> Html {
        Html::text(&self.settings.practice_name)
    }

    /// A message with nothing to fill but the practice's name.
    pub fn say(&self, template: &Template) -> Html {
        template.render(&[("practice", &self.practice())])
    }

    pub fn plain(&self, template: &Template) -> Outbound {
        Outbound::text(self.say(template))
    }

    /// Every answer to something the user wrote points to a person who can help.
    pub fn with_booking(&self, html: Html) -> Outbound {
        Outbound::with_buttons(html, vec![self.booking_button()])
    }

    pub fn time(time: NaiveTime) -> Html {
        Html::text(&time.format("%H:%M").to_string())
    }

    pub fn zone(zone: &Zone) -> Html {
        Html::text(&zone.to_string())
    }

    pub fn date(&self, date: NaiveDate) -> Html {
        let words = self.words();
        let weekday = words
            .weekdays
            .get(date.weekday().num_days_from_monday() as usize);
        let month = words.months.get(date.month0() as usize);
        words.date.render(&[
            ("weekday", &Html::text(weekday.map_or("", String::as_str))),
            ("day", &Html::text(&date.day().to_string())),
            ("month", &Html::text(month.map_or("", String::as_str))),
            ("year", &Html::text(&date.year().to_string())),
        ])
    }

    /// When a scheduled question comes, in the user's own wall-clock terms.
    pub fn moment(&self, due: &Due, zone: &Zone) -> Html {
        let local = zone.local_datetime(due.at);
        self.words().moment.render(&[
            ("date", &self.date(local.date())),
            ("time", &Voice::time(local.time())),
        ])
    }

    /// Picks one of several equivalent lines, stable for a given message so a redelivery says the same.
    pub fn pick(templates: &[Template], seed: i64) -> &Template {
        &templates[seed.unsigned_abs() as usize % templates.len()]
    }
}
