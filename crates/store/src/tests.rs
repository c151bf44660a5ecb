use chrono::{Duration, NaiveTime};

use std::path::Path;

use super::*;
use crossroads_core::{schedule::Due, zone::Zone};

pub(crate) fn at(text: &str) -> DateTime<Utc> {
    text.parse().unwrap()
}

pub(crate) fn options(dir: &Path) -> StoreOptions {
    StoreOptions {
        path: dir.join("db"),
        key_file: dir.join("crossroads.key"),
        key_from_env: None,
        cache_capacity_bytes: 8 * 1024 * 1024,
    }
}

pub(crate) fn profile(user_id: UserId, due: Option<&str>) -> Profile {
    let mut profile = Profile::new(
        user_id,
        at("2026-01-01T00:00:00Z"),
        NaiveTime::from_hms_opt(9, 0, 0).unwrap(),
        "Europe/Paris".parse::<Zone>().unwrap(),
    );
    profile.next_due = due.map(|due| Due {
        at: at(due),
        local_date: at(due).date_naive(),
    });
    profile
}

pub(crate) fn entry(user_id: UserId, message_id: i32, written_at: &str, text: &str) -> Entry {
    Entry {
        user_id,
        message_id,
        written_at: at(written_at),
        local_date: at(written_at).date_naive(),
        prompt_id: Some("buried-love-01".into()),
        text: text.into(),
        edited_at: None,
    }
}

#[test]
fn ordered_keys_sort_like_the_numbers() {
    let values = [
        i64::MIN,
        -5_000_000_000,
        -1,
        0,
        1,
        42,
        1_700_000_000,
        i64::MAX,
    ];
    for pair in values.windows(2) {
        assert!(ordered_i64(pair[0]) < ordered_i64(pair[1]));
        assert_eq!(from_ordered_i64(&ordered_i64(pair[0])), pair[0]);
    }
}

#[tokio::test]
async fn profiles_and_entries_survive_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let saved_profile = profile(7, Some("2026-01-02T08:00:00Z"));
    let saved_entry = entry(
        7,
        11,
        "2026-01-01T20:00:00Z",
        "I feel unseen & tired <today>",
    );
    {
        let store = Store::open(&options(dir.path())).unwrap();
        let ticket = store
            .apply(Change {
                profile: Some(&saved_profile),
                entry: Some(&saved_entry),
                ..Change::default()
            })
            .unwrap();
        store.durable(ticket).await.unwrap();
    }
    let store = Store::open(&options(dir.path())).unwrap();
    assert_eq!(store.profile(7).unwrap(), Some(saved_profile));
    assert_eq!(
        store.entry(saved_entry.key()).unwrap(),
        Some(saved_entry.clone())
    );
    assert_eq!(store.all_entries(7).unwrap(), vec![saved_entry]);
    assert_eq!(store.profile(8).unwrap(), None);
}

#[test]
fn an_entry_written_again_under_the_same_message_replaces_the_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    store
        .apply(Change {
            entry: Some(&entry(7, 11, "2026-01-01T20:00:00Z", "first")),
            ..Change::default()
        })
        .unwrap();
    store
        .apply(Change {
            entry: Some(&entry(7, 11, "2026-01-01T20:00:00Z", "edited")),
            ..Change::default()
        })
        .unwrap();
    let all = store.all_entries(7).unwrap();
    assert_eq!(all.len(), 1);
    assert_eq!(all[0].text, "edited");
}

#[test]
fn entries_between_reads_one_users_window_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    for (user, id, when) in [
        (7, 3, "2026-01-03T10:00:00Z"),
        (7, 1, "2026-01-01T10:00:00Z"),
        (7, 2, "2026-01-02T10:00:00Z"),
        (8, 1, "2026-01-02T10:00:00Z"),
        (6, 1, "2026-01-02T10:00:00Z"),
    ] {
        store
            .apply(Change {
                entry: Some(&entry(user, id, when, "x")),
                ..Change::default()
            })
            .unwrap();
    }
    let window = store
        .entries_between(7, at("2026-01-01T12:00:00Z"), at("2026-01-03T10:00:00Z"))
        .unwrap();
    assert_eq!(window.iter().map(|e| e.message_id).collect::<Vec<_>>(), [2]);
    let window = store
        .entries_between(7, at("2026-01-01T00:00:00Z"), at("2026-01-04T00:00:00Z"))
        .unwrap();
    assert_eq!(
        window.iter().map(|e| e.message_id).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert_eq!(store.count_entries(7).unwrap(), 3);
    assert_eq!(store.count_entries(8).unwrap(), 1);
}

#[test]
fn the_due_index_follows_each_profile_save() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    store
        .apply(Change {
            profile: Some(&profile(1, Some("2026-01-02T08:00:00Z"))),
            ..Change::default()
        })
        .unwrap();
    store
        .apply(Change {
            profile: Some(&profile(2, Some("2026-01-02T07:00:00Z"))),
            ..Change::default()
        })
        .unwrap();
    store
        .apply(Change {
            profile: Some(&profile(3, None)),
            ..Change::default()
        })
        .unwrap();
    assert_eq!(
        store.earliest_due().unwrap(),
        Some(at("2026-01-02T07:00:00Z"))
    );
    assert_eq!(
        store.due_until(at("2026-01-02T08:00:00Z"), 10).unwrap(),
        vec![
            (at("2026-01-02T07:00:00Z"), 2),
            (at("2026-01-02T08:00:00Z"), 1)
        ]
    );
    assert_eq!(
        store
            .due_until(at("2026-01-02T07:59:59Z"), 10)
            .unwrap()
            .len(),
        1
    );
    assert_eq!(
        store
            .due_until(at("2026-01-02T08:00:00Z"), 1)
            .unwrap()
            .len(),
        1
    );

    // Moving a user's question moves its single index entry; pausing removes it.
    store
        .apply(Change {
            profile: Some(&profile(1, Some("2026-01-03T08:00:00Z"))),
            ..Change::default()
        })
        .unwrap();
    store
        .apply(Change {
            profile: Some(&profile(2, None)),
            ..Change::default()
        })
        .unwrap();
    assert_eq!(
        store.due_until(at("2026-01-04T00:00:00Z"), 10).unwrap(),
        vec![(at("2026-01-03T08:00:00Z"), 1)]
    );
}

#[test]
fn erasing_a_user_leaves_nothing_of_them_and_everything_of_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let gone: UserId = 0x5eed_5eed;
    for user in [gone, 99] {
        store
            .apply(Change {
                profile: Some(&profile(user, Some("2026-01-02T08:00:00Z"))),
                entry: Some(&entry(user, 1, "2026-01-01T20:00:00Z", "words")),
                ..Change::default()
            })
            .unwrap();
        store
            .apply(Change {
                entry: Some(&entry(user, 2, "2026-01-01T21:00:00Z", "more")),
                ..Change::default()
            })
            .unwrap();
    }
    store.erase_user(gone).unwrap();
    assert_eq!(store.profile(gone).unwrap(), None);
    assert!(store.all_entries(gone).unwrap().is_empty());
    let id_bytes = ordered_i64(gone);
    let id_text = gone.to_string();
    for RawRecord { tree, key, value } in store.raw_dump().unwrap() {
        assert!(
            !key.windows(8).any(|w| w == id_bytes),
            "{tree} still has a key for the user"
        );
        assert!(
            !String::from_utf8_lossy(&value).contains(&id_text),
            "{tree} still has a value naming the user"
        );
    }
    assert_eq!(store.all_entries(99).unwrap().len(), 2);
    assert!(store.profile(99).unwrap().is_some());
    assert_eq!(
        store.due_until(at("2026-01-03T00:00:00Z"), 10).unwrap(),
        vec![(at("2026-01-02T08:00:00Z"), 99)]
    );
}

#[tokio::test]
async fn no_reply_text_reaches_the_disk_in_plaintext() {
    let dir = tempfile::tempdir().unwrap();
    let secrets = [
        "I stopped feeling chosen around the time of the move",
        "Zebra-lantern-7391 resentment",
    ];
    {
        let store = Store::open(&options(dir.path())).unwrap();
        for (id, text) in secrets.iter().enumerate() {
            let ticket = store
                .apply(Change {
                    entry: Some(&entry(7, id as i32, "2026-01-01T20:00:00Z", text)),
                    ..Change::default()
                })
                .unwrap();
            store.durable(ticket).await.unwrap();
        }
        store.flush().await.unwrap();
    }
    let mut files = vec![dir.path().join("db")];
    let mut bytes_seen = 0;
    while let Some(path) = files.pop() {
        if path.is_dir() {
            files.extend(
                std::fs::read_dir(&path)
                    .unwrap()
                    .map(|entry| entry.unwrap().path()),
            );
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        bytes_seen += bytes.len();
        for secret in secrets {
            for needle in [secret.as_bytes(), &secret.as_bytes()[..12]] {
                assert!(
                    !bytes.windows(needle.len()).any(|w| w == needle),
                    "plaintext found in {}",
                    path.display()
                );
            }
        }
    }
    assert!(bytes_seen > 0, "nothing was written at all");
    // The check can fail: the same search does find a profile's plaintext zone name.
}

#[test]
fn a_wrong_key_is_refused_and_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&options(dir.path())).unwrap();
        store
            .apply(Change {
                entry: Some(&entry(7, 1, "2026-01-01T20:00:00Z", "words")),
                ..Change::default()
            })
            .unwrap();
    }
    let key_path = dir.path().join("crossroads.key");
    let right_key = std::fs::read_to_string(&key_path).unwrap();
    std::fs::write(&key_path, SecretKey::generate().to_hex()).unwrap();
    let error = Store::open(&options(dir.path())).err().unwrap();
    assert!(matches!(error, StoreError::WrongKey { .. }), "{error}");

    std::fs::remove_file(&key_path).unwrap();
    let error = Store::open(&options(dir.path())).err().unwrap();
    assert!(
        matches!(error, StoreError::Key(KeyError::Missing { .. })),
        "{error}"
    );
    assert!(
        !key_path.exists(),
        "a missing key must never be replaced by a new one"
    );

    std::fs::write(&key_path, right_key).unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    assert_eq!(store.all_entries(7).unwrap()[0].text, "words");
}

#[test]
fn a_second_process_cannot_open_the_same_database() {
    let dir = tempfile::tempdir().unwrap();
    let _first = Store::open(&options(dir.path())).unwrap();
    let error = Store::open(&options(dir.path())).err().unwrap();
    assert!(matches!(error, StoreError::Open { .. }), "{error}");
}

#[test]
fn purging_removes_only_entries_older_than_the_cutoff() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let now = at("2027-01-10T00:00:00Z");
    for (user, id, age_days) in [
        (1, 1, 400),
        (1, 2, 366),
        (1, 3, 364),
        (2, 1, 500),
        (2, 2, 1),
    ] {
        let when = (now - Duration::days(age_days)).to_rfc3339();
        store
            .apply(Change {
                entry: Some(&entry(user, id, &when, "x")),
                ..Change::default()
            })
            .unwrap();
    }
    let (purged, _) = store
        .purge_entries_before(now - Duration::days(365))
        .unwrap();
    assert_eq!(purged, 3);
    assert_eq!(
        store
            .all_entries(1)
            .unwrap()
            .iter()
            .map(|e| e.message_id)
            .collect::<Vec<_>>(),
        [3]
    );
    assert_eq!(
        store
            .all_entries(2)
            .unwrap()
            .iter()
            .map(|e| e.message_id)
            .collect::<Vec<_>>(),
        [2]
    );
}

#[test]
fn a_database_created_with_another_segment_size_still_opens_with_its_own() {
    let dir = tempfile::tempdir().unwrap();
    let saved = entry(7, 1, "2026-01-01T20:00:00Z", "kept across the change");
    let legacy = EngineTuning {
        segment_size: LEGACY_SEGMENT_SIZE,
        ..EngineTuning::default()
    };
    assert_ne!(legacy, EngineTuning::default());
    {
        let store = Store::open_tuned(&options(dir.path()), &legacy).unwrap();
        store
            .apply(Change {
                entry: Some(&saved),
                ..Change::default()
            })
            .unwrap();
        store.db.flush().unwrap();
    }
    let store = Store::open(&options(dir.path())).unwrap();
    assert_eq!(store.entry(saved.key()).unwrap(), Some(saved));
}

/// Entries for users 1..=`users`, `per_user` each, one a day going back from `now`.
fn entries_by_day(store: &Store, users: i64, per_user: i64, now: DateTime<Utc>) {
    for user in 1..=users {
        for day in 0..per_user {
            let when = (now - Duration::days(day) - Duration::hours(1)).to_rfc3339();
            store
                .apply(Change {
                    entry: Some(&entry(user, day as i32, &when, "words")),
                    ..Change::default()
                })
                .unwrap();
        }
    }
}

fn ages_left(store: &Store, user: UserId, now: DateTime<Utc>) -> Vec<i64> {
    store
        .all_entries(user)
        .unwrap()
        .iter()
        .map(|e| (now - e.written_at).num_days())
        .collect()
}

#[test]
fn the_purge_goes_chunk_by_chunk_and_each_chunk_is_bounded() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let now = at("2027-01-10T12:00:00Z");
    // 12 users with 10 days each; the 6 oldest days of each have expired: 72 entries.
    entries_by_day(&store, 12, 10, now);
    store
        .apply(Change {
            profile: Some(&profile(5, Some("2027-01-11T08:00:00Z"))),
            ..Change::default()
        })
        .unwrap();
    let cutoff = now - Duration::days(4);
    let mut from = None;
    let mut steps = 0;
    let mut total = 0;
    loop {
        let swept = store.purge_entries_chunk(cutoff, from.as_ref(), 5).unwrap();
        assert!(swept.changed <= 5, "a step erases at most its limit");
        total += swept.changed;
        steps += 1;
        match swept.next {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    assert_eq!(total, 72);
    assert!(steps >= 72 / 5, "{steps} steps");
    for user in 1..=12 {
        assert_eq!(ages_left(&store, user, now), [3, 2, 1, 0], "user {user}");
    }
    assert!(
        store.profile(5).unwrap().is_some(),
        "profiles are not entries"
    );
    assert_eq!(
        store.earliest_due().unwrap(),
        Some(at("2027-01-11T08:00:00Z"))
    );
    // Nothing left to erase: one step that looks at at most 5 users at a time, and erases none.
    let swept = store.purge_entries_chunk(cutoff, None, 5).unwrap();
    assert_eq!(swept.changed, 0);
    assert!(
        swept.next.is_some(),
        "it stopped after 5 users, not at the end"
    );
}

#[test]
fn a_purge_cut_short_is_finished_by_the_next_one() {
    let dir = tempfile::tempdir().unwrap();
    let now = at("2027-01-10T12:00:00Z");
    let cutoff = now - Duration::days(3);
    {
        let store = Store::open(&options(dir.path())).unwrap();
        entries_by_day(&store, 4, 8, now);
        // Two steps, then the process stops (as a crash would, between two atomic batches).
        let first = store.purge_entries_chunk(cutoff, None, 3).unwrap();
        let second = store
            .purge_entries_chunk(cutoff, first.next.as_ref(), 3)
            .unwrap();
        assert_eq!(first.changed + second.changed, 6);
    }
    let store = Store::open(&options(dir.path())).unwrap();
    let (purged, _) = store.purge_entries_before(cutoff).unwrap();
    assert_eq!(purged, 4 * 5 - 6, "the rest, and nothing twice");
    for user in 1..=4 {
        assert_eq!(ages_left(&store, user, now), [2, 1, 0]);
    }
}

#[test]
fn stale_check_ins_and_delivery_records_go_chunk_by_chunk() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let old = at("2026-03-01T08:00:00Z");
    let now = at("2026-03-03T09:00:00Z");
    for user in 1..=7 {
        let mut saved = profile(user, None);
        saved.last_check_in = Some(crossroads_core::model::CheckIn {
            at: if user % 2 == 0 { now } else { old },
            message_id: 7,
            answered_as_crisis: false,
        });
        store
            .apply(Change {
                profile: Some(&saved),
                ..Change::default()
            })
            .unwrap();
    }
    let mut from = None;
    let mut forgotten = 0;
    loop {
        let swept = store
            .forget_stale_check_ins_chunk(now, from.as_ref(), 2)
            .unwrap();
        forgotten += swept.changed;
        match swept.next {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    assert_eq!(forgotten, 4);
    for user in 1..=7 {
        let kept = store.profile(user).unwrap().unwrap().last_check_in;
        assert_eq!(kept.is_some(), user % 2 == 0, "user {user}");
    }

    // Seen updates (before the profiles in key order) and delivered messages (after them).
    for update_id in 1..=5 {
        store
            .receive(
                vec![received(7, update_id, "x")],
                None,
                if update_id <= 3 { old } else { now },
            )
            .unwrap();
    }
    for message_id in 1..=5 {
        store
            .apply(Change {
                delivered: Some(&Delivered {
                    parcel: store.new_outbox_key(Lane::Reply).unwrap(),
                    chat_id: 7,
                    rest: None,
                    message_id: Some(message_id),
                    at: if message_id <= 2 { old } else { now },
                    delete_at: None,
                }),
                ..Change::default()
            })
            .unwrap();
    }
    let mut from = None;
    let mut forgotten = 0;
    loop {
        let swept = store
            .forget_delivery_records_chunk(now - Duration::days(1), from.as_ref(), 2)
            .unwrap();
        assert!(swept.changed <= 2);
        forgotten += swept.changed;
        match swept.next {
            Some(next) => from = Some(next),
            None => break,
        }
    }
    assert_eq!(forgotten, 3 + 2);
    assert_eq!(
        store
            .delivered_messages(7)
            .unwrap()
            .iter()
            .map(|(id, _)| *id)
            .collect::<Vec<_>>(),
        [3, 4, 5]
    );
    assert_eq!(
        store.profile_count(),
        7,
        "the profiles in between are untouched"
    );
}

#[test]
fn the_update_offset_is_remembered() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&options(dir.path())).unwrap();
        assert_eq!(store.update_offset().unwrap(), None);
        store.set_update_offset(10_042).unwrap();
    }
    assert_eq!(
        Store::open(&options(dir.path()))
            .unwrap()
            .update_offset()
            .unwrap(),
        Some(10_042)
    );
}

#[tokio::test]
async fn a_check_in_older_than_a_day_is_let_go_and_a_fresh_one_is_kept() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let check_in = |at_time: &str| crossroads_core::model::CheckIn {
        at: at(at_time),
        message_id: 7,
        answered_as_crisis: false,
    };
    let mut old = profile(1, None);
    old.last_check_in = Some(check_in("2026-03-01T08:00:00Z"));
    let mut fresh = profile(2, None);
    fresh.last_check_in = Some(check_in("2026-03-02T08:00:00Z"));
    for profile in [&old, &fresh] {
        store
            .apply(Change {
                profile: Some(profile),
                ..Change::default()
            })
            .unwrap();
    }
    let (forgotten, ticket) = store
        .forget_stale_check_ins(at("2026-03-02T09:00:00Z"))
        .unwrap();
    store.durable(ticket).await.unwrap();
    assert_eq!(forgotten, 1);
    assert_eq!(store.profile(1).unwrap().unwrap().last_check_in, None);
    assert!(store.profile(2).unwrap().unwrap().last_check_in.is_some());
}

pub(crate) fn received(chat_id: i64, update_id: i64, text: &str) -> Received {
    Received {
        chat_id,
        update_id,
        payload: text.as_bytes().to_vec(),
    }
}

#[test]
fn an_update_received_twice_is_kept_once_with_the_offset_past_it() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let now = at("2026-03-02T10:00:00Z");
    let (new, _) = store
        .receive(
            vec![received(7, 100, "first"), received(7, 101, "second")],
            Some(102),
            now,
        )
        .unwrap();
    assert_eq!(new.len(), 2);
    let (again, _) = store
        .receive(
            vec![received(7, 101, "second"), received(8, 102, "third")],
            Some(103),
            now,
        )
        .unwrap();
    assert_eq!(
        again,
        vec![received(8, 102, "third")],
        "101 was seen already"
    );
    assert_eq!(store.update_offset().unwrap(), Some(103));
    let waiting: Vec<i64> = store
        .inbox()
        .unwrap()
        .0
        .iter()
        .map(|r| r.update_id)
        .collect();
    assert_eq!(waiting, [100, 101, 102]);
    let raw = store.raw_dump().unwrap();
    assert!(
        !raw.iter()
            .any(|record| record.value.windows(5).any(|w| w == b"first")),
        "the inbox is encrypted"
    );
}

#[test]
fn a_handled_update_leaves_the_inbox_with_its_effects_and_what_it_sends() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let now = at("2026-03-02T10:00:00Z");
    store
        .receive(vec![received(7, 100, "words")], Some(101), now)
        .unwrap();
    let reply = Parcel {
        key: store.new_outbox_key(Lane::Reply).unwrap(),
        chat_id: 7,
        payload: b"thank you".to_vec(),
    };
    let question = Parcel {
        key: store.new_outbox_key(Lane::Bulk).unwrap(),
        chat_id: 8,
        payload: b"a question".to_vec(),
    };
    let later_reply = Parcel {
        key: store.new_outbox_key(Lane::Reply).unwrap(),
        chat_id: 9,
        payload: b"later".to_vec(),
    };
    let profile = profile(7, None);
    store
        .apply(Change {
            profile: Some(&profile),
            handled: Some(InboxKey {
                chat_id: 7,
                update_id: 100,
            }),
            queue: &[question.clone(), reply.clone(), later_reply.clone()],
            ..Change::default()
        })
        .unwrap();
    assert!(store.inbox().unwrap().0.is_empty());
    assert!(store.profile(7).unwrap().is_some());
    assert_eq!(
        store.outbox().unwrap().0,
        vec![reply.clone(), later_reply, question],
        "replies first, each lane in order"
    );

    let delivered = Delivered {
        parcel: reply.key,
        chat_id: 7,
        rest: None,
        message_id: Some(55),
        at: now,
        delete_at: None,
    };
    store
        .apply(Change {
            delivered: Some(&delivered),
            ..Change::default()
        })
        .unwrap();
    assert_eq!(store.parcel(reply.key).unwrap(), None);
    assert_eq!(store.delivered_messages(7).unwrap(), vec![(55, now)]);
    assert_eq!(store.outbox_len(), (1, 1));
}

#[test]
fn a_deletion_is_written_with_its_delivery_and_leaves_with_the_parcel_that_carries_it_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let now = at("2026-03-02T10:00:00Z");
    let later = at("2026-03-02T10:15:00Z");
    let recap = Parcel {
        key: store.new_outbox_key(Lane::Reply).unwrap(),
        chat_id: 7,
        payload: b"a recap".to_vec(),
    };
    store
        .apply(Change {
            queue: std::slice::from_ref(&recap),
            ..Change::default()
        })
        .unwrap();
    let delivered = Delivered {
        parcel: recap.key,
        chat_id: 7,
        rest: None,
        message_id: Some(41),
        at: now,
        delete_at: Some(later),
    };
    store
        .apply(Change {
            delivered: Some(&delivered),
            ..Change::default()
        })
        .unwrap();
    assert_eq!(store.earliest_fading().unwrap(), Some(later));
    assert!(store.fading_until(now, 10).unwrap().is_empty(), "not yet");
    let due = store.fading_until(later, 10).unwrap();
    assert_eq!(
        due,
        vec![crate::Fading {
            at: later,
            chat_id: 7,
            message_id: 41
        }]
    );
    // Still there after a reopen: a restart carries it out.
    drop(store);
    let store = Store::open(&options(dir.path())).unwrap();
    assert_eq!(store.fading_until(later, 10).unwrap(), due);
    let deletion = Parcel {
        key: store.new_outbox_key(Lane::Bulk).unwrap(),
        chat_id: 7,
        payload: b"delete 41".to_vec(),
    };
    store
        .apply(Change {
            queue: std::slice::from_ref(&deletion),
            faded: &due,
            ..Change::default()
        })
        .unwrap();
    assert_eq!(store.earliest_fading().unwrap(), None);
    assert_eq!(store.outbox().unwrap().0, vec![deletion]);
}

#[test]
fn erasing_a_user_drops_what_waits_for_them_but_not_for_others() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let now = at("2026-03-02T10:00:00Z");
    let parcel = |chat_id| Parcel {
        key: store.new_outbox_key(Lane::Bulk).unwrap(),
        chat_id,
        payload: b"an export of their words".to_vec(),
    };
    let (theirs, others) = (parcel(7), parcel(8));
    let delivered = Delivered {
        parcel: store.new_outbox_key(Lane::Reply).unwrap(),
        chat_id: 7,
        rest: None,
        message_id: Some(3),
        at: now,
        delete_at: None,
    };
    store
        .apply(Change {
            profile: Some(&profile(7, Some("2026-03-03T08:00:00Z"))),
            queue: &[theirs, others.clone()],
            delivered: Some(&delivered),
            ..Change::default()
        })
        .unwrap();
    let goodbye = parcel(7);
    store
        .apply(Change {
            erase: Some(7),
            queue: std::slice::from_ref(&goodbye),
            ..Change::default()
        })
        .unwrap();
    assert_eq!(store.outbox().unwrap().0, vec![others, goodbye]);
    assert!(store.delivered_messages(7).unwrap().is_empty());
    assert_eq!(store.profile(7).unwrap(), None);
    assert!(store.earliest_due().unwrap().is_none());
}

#[test]
fn an_erase_and_a_fresh_profile_in_one_change_keep_the_new_due_entry() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let due = "2026-03-03T08:00:00Z";
    store
        .apply(Change {
            profile: Some(&profile(7, Some(due))),
            ..Change::default()
        })
        .unwrap();
    store
        .apply(Change {
            erase: Some(7),
            profile: Some(&profile(7, Some(due))),
            ..Change::default()
        })
        .unwrap();
    assert_eq!(store.earliest_due().unwrap(), Some(at(due)));
}

#[test]
fn delivery_records_are_let_go_after_a_while() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    let old = at("2026-03-01T10:00:00Z");
    store
        .receive(vec![received(7, 100, "x")], None, old)
        .unwrap();
    store
        .forget_delivery_records_before(at("2026-03-02T10:00:00Z"))
        .unwrap();
    let (new, _) = store
        .receive(vec![received(7, 100, "x")], None, old)
        .unwrap();
    assert_eq!(
        new.len(),
        1,
        "the seen record was let go, so it is taken again"
    );
}
