//! The settings and dialogues that tests of every layer start from, in one place. A test that
//! needs something else says so with struct update syntax:
//! `Settings { retention_days: 7, ..fixtures::settings() }`.

use chrono::{Duration, NaiveTime};

use crate::{
    content::Catalog,
    voice::{Contact, CrisisLine, Settings},
};

/// A practice whose name needs escaping, in London, with one crisis line.
pub fn settings() -> Settings {
    Settings {
        practice_name: "Boutique & Co".into(),
        booking_url: "https://example.com/book".into(),
        default_time: NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"),
        default_zone: "Europe/London".parse().expect("a known zone"),
        catch_up: Duration::hours(3),
        emergency: "112".into(),
        crisis_lines: vec![CrisisLine {
            name: "Helpline".into(),
            contact: Contact::Phone("116 123".into()),
        }],
        retention_days: 30,
    }
}

/// The dialogues built into the binary.
pub fn catalog() -> Catalog {
    Catalog::builtin().expect("the built-in dialogues are valid")
}
