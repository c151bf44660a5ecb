//! The settings and dialogues that tests of every layer start from, in one place. A test that
//! needs something else says so with struct update syntax:
//! `Settings { retention_days: 7, ..fixtures::settings() }`.

use chrono::{Duration, NaiveTime};

use crate::{
    content::Catalog,
    safety::{self, Concern},
    voice::{Contact, CrisisLine, Settings},
};

/// A practice whose name needs escaping, in London, with one crisis line.
pub fn settings() -> Settings {
    Settings {
        practice_name: "Boutique & Co".into(),
        booking_url: "https://example.com/book".into(),
        default_time: NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"),
        default_zone: "Europe/London".parse().expect("a known zone"),
        suggested_zones: Vec::new(),
        catch_up: Duration::hours(3),
        emergency: "112".into(),
        crisis_lines: vec![CrisisLine {
            name: "Helpline".into(),
            contact: Contact::Phone("116 123".into()),
        }],
        retention_days: 30,
        admins: Vec::new(),
        discreet_lifetime: Duration::minutes(15),
    }
}

/// The dialogues built into the binary.
pub fn catalog() -> Catalog {
    Catalog::builtin().expect("the built-in dialogues are valid")
}

/// A message the shipped detector puts in the check-in band, in its upper half (`near_crisis`)
/// or not, as asked. Tests use it for what the bot does with such a message, whatever words
/// land there once the model is retrained.
pub fn borderline_message(near_crisis: bool) -> &'static str {
    const CANDIDATES: [&str; 10] = [
        "i feel like i'm disappearing",
        "I'm so tired",
        "I'm so tired of being here",
        "everything feels heavy lately",
        "no more arguments tonight",
        "I'm so tired of all of it",
        "nothing matters much anymore",
        "i am so worn down by all of it",
        "i'm struggling a lot lately",
        "I feel so low lately",
    ];
    CANDIDATES
        .into_iter()
        .find(|text| {
            let reading = safety::read(text);
            reading.check_in
                && reading.concern != Concern::Crisis
                && reading.near_crisis == near_crisis
        })
        .expect("one candidate is in that part of the check-in band")
}
