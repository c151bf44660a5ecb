//! The crisis answer: the emergency number, the configured crisis lines, and a plain statement
//! that this is not a crisis service. Also what `/urgent` shows at any time.

use crate::{
    content::args,
    conversation::{Conversation, Outcome},
    markup::Html,
    voice::Contact,
};

impl Conversation<'_> {
    pub(crate) fn crisis(&self) -> Html {
        let words = self.voice.words();
        let settings = self.voice.settings;
        let lines = settings.crisis_lines.iter().map(|line| {
            let contact = match &line.contact {
                Contact::Phone(number) => Html::text(number),
                Contact::Url(url) => Html::link(url, url),
            };
            words.crisis_line(args::CrisisLine {
                name: Html::text(&line.name),
                contact,
            })
        });
        words.crisis(args::Crisis {
            emergency: Html::text(&settings.emergency),
            lines: Html::join(lines, &Html::text("\n")),
            practice: self.voice.practice(),
        })
    }

    /// The crisis answer to something the user wrote, which is kept like anything else.
    pub(crate) fn crisis_about_their_words(&self) -> Html {
        let mut html = self.crisis();
        html.push(&Html::text("\n\n"));
        html.push(&self.voice.words().crisis_kept());
        html
    }

    /// `/urgent`: the crisis lines, whenever someone asks.
    pub(crate) fn urgent(&self) -> Outcome {
        Outcome::reply(self.voice.with_booking(self.crisis()))
    }
}
