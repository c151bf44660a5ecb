//! The practice's settings in core terms, and the pieces every feature says with: the booking
//! button, dates, times and zones as the dialogues write them.

use chrono::{Datelike, Duration, NaiveDate, NaiveTime};

use crate::{
    content::{Catalog, Messages, args},
    markup::Html,
    reply::{Button, Outbound},
    schedule::Due,
    zone::Zone,
};

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
    /// Zones offered as buttons by /timezone, after the user's own; the default zone is
    /// always among them.
    pub suggested_zones: Vec<Zone>,
    pub catch_up: Duration,
    pub emergency: String,
    pub crisis_lines: Vec<CrisisLine>,
    pub retention_days: u32,
    /// The practice's admins, who may see aggregate counts with /stats.
    pub admins: Vec<crate::model::UserId>,
    /// In discreet mode, how long a recap, brief or export stays in the chat.
    pub discreet_lifetime: Duration,
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

    pub(crate) fn words(&self) -> &'a Messages {
        &self.catalog.messages
    }

    pub(crate) fn booking_button(&self) -> Button {
        Button::Url {
            label: self.words().booking_button().to_owned(),
            url: self.settings.booking_url.clone(),
        }
    }

    pub(crate) fn practice(&self) -> Html {
        Html::text(&self.settings.practice_name)
    }

    /// Every answer to something the user wrote points to a person who can help.
    pub(crate) fn with_booking(&self, html: Html) -> Outbound {
        Outbound::with_buttons(html, vec![self.booking_button()])
    }

    pub(crate) fn time(time: NaiveTime) -> Html {
        Html::text(&time.format("%H:%M").to_string())
    }

    pub(crate) fn zone(zone: &Zone) -> Html {
        Html::text(&zone.to_string())
    }

    pub(crate) fn count(count: usize) -> Html {
        Html::text(&count.to_string())
    }

    pub(crate) fn weekday_name(&self, date: NaiveDate) -> &'a str {
        self.words()
            .weekdays()
            .get(date.weekday().num_days_from_monday() as usize)
            .map_or("", String::as_str)
    }

    pub(crate) fn date(&self, date: NaiveDate) -> Html {
        let month = self.words().months().get(date.month0() as usize);
        self.words().date(args::Date {
            weekday: Html::text(self.weekday_name(date)),
            day: Html::text(&date.day().to_string()),
            month: Html::text(month.map_or("", String::as_str)),
            year: Html::text(&date.year().to_string()),
        })
    }

    /// When a scheduled question comes, in the user's own wall-clock terms.
    pub(crate) fn moment(&self, due: &Due, zone: &Zone) -> Html {
        let local = zone.local_datetime(due.at);
        self.words().moment(args::Moment {
            date: self.date(local.date()),
            time: Voice::time(local.time()),
        })
    }
}
