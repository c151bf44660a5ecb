//! Telegram replies to older questions, and `/themes`, through the service with a real store.

use super::*;
use crossroads_core::model::ASKED_MEMORY;

/// Takes the questions due now and delivers each as Telegram message `message_id`, as the
/// sender does once Telegram answers. Returns the prompt ids delivered.
async fn deliver_due_as(h: &Harness, message_id: i32) -> Vec<String> {
    let (_, taken) = h.service.take_due_parcels(h.now(), 100).await.unwrap();
    let mut delivered = Vec::new();
    for (parcel, opens, _) in taken {
        delivered.extend(opens.as_ref().map(|opens| opens.prompt_id.clone()));
        let rest = Shipment {
            steps: Vec::new(),
            opens,
            queued_at: h.now(),
        };
        h.service
            .record_delivery(parcel.key, parcel.chat_id, rest, Some(message_id), None)
            .await
            .unwrap();
        h.service.queue.remove(parcel.key);
    }
    delivered
}

async fn reply(h: &Harness, user: UserId, to: i32, text: &str) -> (i32, Vec<Message>) {
    let message_id = h.next_message_id.fetch_add(1, Ordering::SeqCst);
    let incoming = Incoming {
        message_id,
        sent_at: h.now(),
        text: text.into(),
        reply_to: Some(to),
    };
    let outbound = h
        .service
        .handle(Chat::Private(user), Event::Text(incoming))
        .await;
    (message_id, messages(outbound))
}

fn entry(h: &Harness, message_id: i32) -> crossroads_core::model::Entry {
    h.entries(ANN)
        .into_iter()
        .find(|entry| entry.message_id == message_id)
        .expect("the words are kept")
}

#[tokio::test]
async fn a_reply_answers_the_question_it_replies_to_and_leaves_the_open_one_open() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.set("2026-03-02T09:00:00Z");
    let monday = deliver_due_as(&h, 501).await;
    h.set("2026-03-03T09:00:00Z");
    deliver_due_as(&h, 502).await;
    h.set("2026-03-04T09:00:00Z");
    deliver_due_as(&h, 503).await;
    h.set("2026-03-05T09:00:00Z");
    let thursday = deliver_due_as(&h, 504).await;
    assert_eq!((monday.len(), thursday.len()), (1, 1));
    h.advance(Duration::hours(1));

    let (late, acks) = reply(&h, ANN, 501, "about Monday").await;
    assert!(has_booking(&acks[0]));
    assert_eq!(entry(&h, late).prompt_id, Some(monday[0].clone()));
    assert_eq!(entry(&h, late).local_date, "2026-03-05".parse().unwrap());
    let open = h.profile(ANN).unwrap().open_prompt.unwrap();
    assert_eq!(
        open.prompt_id, thursday[0],
        "Thursday's question is still open"
    );

    // A reply to the open question itself answers and closes it.
    let (today, _) = reply(&h, ANN, 504, "about today").await;
    assert_eq!(entry(&h, today).prompt_id, Some(thursday[0].clone()));
    assert_eq!(h.profile(ANN).unwrap().open_prompt, None);
    // A reply to an id that was never a question is a note now that nothing is open.
    let (note, _) = reply(&h, ANN, 7777, "just a thought").await;
    assert_eq!(entry(&h, note).prompt_id, None);
}

#[tokio::test]
async fn the_questions_remembered_are_bounded_exported_and_go_with_retention() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    let mut day = h.now().date_naive();
    for n in 0..ASKED_MEMORY + 10 {
        h.set(&format!("{day}T09:00:00Z"));
        deliver_due_as(&h, 1000 + i32::try_from(n).unwrap()).await;
        day = day.succ_opt().unwrap();
    }
    let profile = h.profile(ANN).unwrap();
    assert_eq!(profile.asked.len(), ASKED_MEMORY);
    assert_eq!(profile.asked[0].message_id, 1010, "the oldest are let go");
    // The oldest no longer remembered is answered as ordinary words: the open question.
    let open = profile.open_prompt.clone().unwrap();
    let (words, _) = reply(&h, ANN, 1000, "to a question long gone").await;
    assert_eq!(entry(&h, words).prompt_id, Some(open.prompt_id));

    let outbound = h
        .service
        .handle(Chat::Private(ANN), h.command_event(Command::Export))
        .await;
    let Some(Outbound::Document(json)) = outbound.first() else {
        panic!("an export");
    };
    let json: serde_json::Value = serde_json::from_slice(&json.bytes).unwrap();
    let delivered = json["settings"]["questions_delivered"].as_array().unwrap();
    assert_eq!(delivered.len(), ASKED_MEMORY);
    assert_eq!(delivered[0]["telegram_message_id"], 1010);

    // Past the retention period (30 days in these settings), they are forgotten with the words.
    h.advance(Duration::days(40));
    h.service.purge_expired(h.now()).await.unwrap();
    assert!(h.profile(ANN).unwrap().asked.is_empty());
}

#[tokio::test]
async fn a_reply_to_a_question_delivered_late_still_answers_it() {
    // Two questions in flight: the newer one is delivered first, the older one after a retry.
    let h = Harness::start("2026-03-02T07:00:00Z");
    h.command(ANN, Command::Start).await;
    h.set("2026-03-02T09:00:00Z");
    let (_, older) = h.service.take_due_parcels(h.now(), 10).await.unwrap();
    h.advance(Duration::minutes(5));
    let newer = h.command(ANN, Command::Prompt).await;
    assert!(is_prompt(&newer[0]));
    let open = h.profile(ANN).unwrap().open_prompt.unwrap();
    for (parcel, opens, _) in older {
        let rest = Shipment {
            steps: Vec::new(),
            opens,
            queued_at: h.now(),
        };
        h.service
            .record_delivery(parcel.key, parcel.chat_id, rest, Some(42), None)
            .await
            .unwrap();
        h.service.queue.remove(parcel.key);
    }
    let profile = h.profile(ANN).unwrap();
    assert_eq!(
        profile.open_prompt,
        Some(open.clone()),
        "the newer stays open"
    );
    let asked = profile.asked_as(42).unwrap().prompt_id.clone();
    assert_ne!(asked, open.prompt_id);
    let (late, _) = reply(&h, ANN, 42, "to the one that came late").await;
    assert_eq!(entry(&h, late).prompt_id, Some(asked));
}

fn theme_buttons(message: &Message) -> Vec<(String, String)> {
    message
        .buttons
        .iter()
        .filter_map(|button| match button {
            Button::Callback { label, data } => Some((label.clone(), data.clone())),
            Button::Url { .. } => None,
        })
        .collect()
}

#[tokio::test]
async fn themes_turned_off_are_kept_and_their_questions_stop_coming() {
    let h = Harness::start("2026-03-02T07:00:00Z");
    let catalog = Catalog::builtin().unwrap();
    h.command(ANN, Command::Start).await;
    let mut list = h.command(ANN, Command::Themes).await.remove(0);
    assert_eq!(theme_buttons(&list).len(), catalog.themes.len());
    // Everything but the first theme off.
    for theme in &catalog.themes[1..] {
        let (_, data) = theme_buttons(&list)
            .into_iter()
            .find(|(label, _)| label.ends_with(theme.title.trim()))
            .unwrap();
        h.advance(Duration::seconds(1));
        list = messages(
            h.service
                .handle(Chat::Private(ANN), Event::ButtonPressed { data })
                .await,
        )
        .remove(0);
    }
    let h = h.restart();
    let profile = h.profile(ANN).unwrap();
    assert_eq!(profile.themes_off.len(), catalog.themes.len() - 1);
    let only = &catalog.themes[0].id;
    let mut day = "2026-03-03".parse::<chrono::NaiveDate>().unwrap();
    let mut delivered = 0;
    for _ in 0..10 {
        h.set(&format!("{day}T09:00:00Z"));
        for prompt in deliver_due_as(&h, 1).await {
            assert_eq!(&catalog.prompt(&prompt).unwrap().theme, only);
            delivered += 1;
        }
        day = day.succ_opt().unwrap();
    }
    assert!(delivered >= 9, "{delivered} questions");
    // The old list's buttons do nothing now.
    let (_, stale) = theme_buttons(&list).remove(0);
    let answer = h
        .service
        .handle(Chat::Private(ANN), Event::ButtonPressed { data: stale })
        .await;
    let profile_after = h.profile(ANN).unwrap();
    assert_eq!(profile_after.themes_off, profile.themes_off);
    assert_eq!(messages(answer).len(), 1);
}

#[test]
fn an_inbox_entry_from_before_replies_still_reads() {
    let old = br#"{"chat":{"Private":7},"what":{"Message":{"message_id":3,"sent_at":"2026-03-02T10:00:00Z","text":"words"}},"button":null}"#;
    let arrival = parcel::Arrival::decode(old).expect("an old inbox entry reads");
    let Some((_, Event::Text(incoming))) = arrival.event("bot") else {
        panic!("words");
    };
    assert_eq!(incoming.reply_to, None);
}

#[test]
fn a_reply_carries_only_the_replied_to_id_and_a_command_stays_a_command() {
    let arrival = |text: &str| parcel::Arrival {
        chat: parcel::ArrivalChat::Private(7),
        what: parcel::What::Message {
            message_id: 9,
            sent_at: "2026-03-02T10:00:00Z".parse().unwrap(),
            text: Some(text.into()),
            reply_to: Some(4),
        },
        button: None,
    };
    let Some((_, Event::Text(incoming))) = arrival("words").event("bot") else {
        panic!("words");
    };
    assert_eq!(incoming.reply_to, Some(4));
    assert!(matches!(
        arrival("/recap").event("bot"),
        Some((_, Event::Command(Command::Recap, _)))
    ));
}
