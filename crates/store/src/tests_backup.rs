//! Backups, restores and key rotation.

use std::{
    collections::BTreeSet,
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicBool, AtomicU64, Ordering},
    },
    time::Instant,
};

use super::{
    tests::{at, entry, options, profile, received},
    *,
};
use crate::backup::BackupError;
use crate::rekey::RotationError;

const PROFILE_MARK: &str = "Pacific/Chatham";

/// A store with a bit of everything: profiles (one in a zone that is easy to search for),
/// entries, the due index, an update waiting in the inbox, a parcel in the outbox, the offset.
fn fill(store: &Store) {
    for user in 1..=5 {
        let mut saved = profile(user, Some("2026-01-02T08:00:00Z"));
        if user == 3 {
            saved.zone = PROFILE_MARK.parse().unwrap();
        }
        let mut change = Change {
            profile: Some(&saved),
            ..Change::default()
        };
        let first = entry(user, 1, "2026-01-01T10:00:00Z", &words(user, 1));
        change.entry = Some(&first);
        store.apply(change).unwrap();
        for message in 2..=4 {
            let more = entry(
                user,
                message,
                &format!("2026-01-0{message}T10:00:00Z"),
                &words(user, message),
            );
            store
                .apply(Change {
                    entry: Some(&more),
                    ..Change::default()
                })
                .unwrap();
        }
    }
    store
        .receive(
            vec![received(1, 900, "an update still waiting")],
            Some(901),
            at("2026-01-05T00:00:00Z"),
        )
        .unwrap();
    let parcel = Parcel {
        key: store.new_outbox_key(Lane::Reply).unwrap(),
        chat_id: 2,
        payload: b"a reply still waiting".to_vec(),
    };
    store
        .apply(Change {
            queue: std::slice::from_ref(&parcel),
            ..Change::default()
        })
        .unwrap();
}

fn words(user: UserId, message: i32) -> String {
    format!("the private words of user {user}, message {message}")
}

/// Every record of the tree, less the id floor and key-rotation note (which a restore or a
/// rotation sets on purpose).
fn records(store: &Store) -> Vec<(Vec<u8>, Vec<u8>)> {
    store
        .raw_dump()
        .unwrap()
        .into_iter()
        .filter(|record| record.tree == TREE)
        .filter(|record| record.key != ID_FLOOR && record.key != KEY_ROTATED)
        .map(|record| (record.key, record.value))
        .collect()
}

fn same_key_elsewhere(original: &Path, elsewhere: &Path) -> StoreOptions {
    StoreOptions {
        path: elsewhere.join("db"),
        ..options(original)
    }
}

fn backup_of(store: &Store, dir: &Path) -> PathBuf {
    let path = dir.join("crossroads.backup");
    store.backup_to(&path).unwrap();
    path
}

#[tokio::test]
async fn a_backup_restored_elsewhere_holds_every_entry_and_profile() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    fill(&store);
    let report = store.backup_to(&dir.path().join("one.backup")).unwrap();
    assert_eq!(report.entries, 20);
    assert_eq!(report.profiles, 5);
    assert!(report.bytes > 0);
    assert_eq!(
        std::fs::metadata(dir.path().join("one.backup"))
            .unwrap()
            .len(),
        report.bytes
    );

    let target = same_key_elsewhere(dir.path(), elsewhere.path());
    let restored = Store::restore_from(&target, &report.path).unwrap();
    assert_eq!(
        (restored.entries, restored.profiles, restored.records),
        (20, 5, report.records)
    );
    let copy = Store::open(&target).unwrap();
    assert_eq!(
        records(&copy),
        records(&store),
        "every record, byte for byte"
    );
    for user in 1..=5 {
        assert_eq!(copy.profile(user).unwrap(), store.profile(user).unwrap());
        let texts: Vec<String> = copy
            .all_entries(user)
            .unwrap()
            .into_iter()
            .map(|entry| entry.text)
            .collect();
        assert_eq!(texts, (1..=4).map(|m| words(user, m)).collect::<Vec<_>>());
    }
    assert_eq!(copy.inbox().unwrap(), store.inbox().unwrap());
    assert_eq!(copy.outbox().unwrap(), store.outbox().unwrap());
    assert_eq!(copy.update_offset().unwrap(), Some(901));
    assert_eq!(
        copy.due_until(at("2026-01-03T00:00:00Z"), 10)
            .unwrap()
            .len(),
        5
    );
    // sled's id generator starts again in the new database: new parcels must still queue
    // after the restored ones, never over them.
    let waiting = copy.outbox().unwrap().0[0].key;
    let next = copy.new_outbox_key(Lane::Reply).unwrap();
    assert!(next > waiting, "{next:?} after {waiting:?}");
    // Nothing temporary is left beside it.
    let beside: Vec<_> = std::fs::read_dir(elsewhere.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .collect();
    assert_eq!(beside, vec![std::ffi::OsString::from("db")]);
}

#[test]
fn a_restore_into_a_non_empty_path_is_refused_and_leaves_it_alone() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    fill(&store);
    let backup = backup_of(&store, dir.path());

    // The live database itself.
    let error = Store::restore_from(&options(dir.path()), &backup).unwrap_err();
    assert!(
        matches!(error, StoreError::Backup(BackupError::NotEmpty { .. })),
        "{error}"
    );
    assert!(
        error
            .to_string()
            .contains(&dir.path().join("db").display().to_string())
    );
    assert!(error.to_string().contains("not empty"), "{error}");

    // A folder with anything in it, and a file.
    let elsewhere = tempfile::tempdir().unwrap();
    let target = same_key_elsewhere(dir.path(), elsewhere.path());
    std::fs::create_dir(&target.path).unwrap();
    std::fs::write(target.path.join("notes.txt"), "mine").unwrap();
    assert!(Store::restore_from(&target, &backup).is_err());
    assert_eq!(
        std::fs::read_to_string(target.path.join("notes.txt")).unwrap(),
        "mine"
    );
    std::fs::remove_dir_all(&target.path).unwrap();
    std::fs::write(&target.path, "a file").unwrap();
    assert!(matches!(
        Store::restore_from(&target, &backup),
        Err(StoreError::Backup(BackupError::NotEmpty { .. }))
    ));

    // An empty folder is fine.
    std::fs::remove_file(&target.path).unwrap();
    std::fs::create_dir(&target.path).unwrap();
    Store::restore_from(&target, &backup).unwrap();
    assert_eq!(
        Store::open(&target).unwrap().all_entries(1).unwrap().len(),
        4
    );
}

/// What a restore of damaged bytes says, and that it left nothing behind.
fn restore_bytes(dir: &Path, bytes: &[u8]) -> StoreError {
    let elsewhere = tempfile::tempdir().unwrap();
    let file = elsewhere.path().join("damaged.backup");
    std::fs::write(&file, bytes).unwrap();
    let target = same_key_elsewhere(dir, &elsewhere.path().join("restored"));
    let error = Store::restore_from(&target, &file).expect_err("a damaged backup was restored");
    assert!(!target.path.exists(), "nothing appears under the path");
    let left: Vec<_> = std::fs::read_dir(elsewhere.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name())
        .filter(|name| name != "damaged.backup")
        .collect();
    assert!(left.is_empty() || left == ["restored"], "{left:?}");
    if let Ok(inner) = std::fs::read_dir(elsewhere.path().join("restored")) {
        assert_eq!(inner.count(), 0, "no temporary folder is left");
    }
    error
}

#[test]
fn a_truncated_or_altered_backup_is_refused_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    fill(&store);
    // Enough records for several parts.
    for message in 0..1500 {
        store
            .apply(Change {
                entry: Some(&entry(9, message, "2026-01-01T10:00:00Z", &"x".repeat(100))),
                ..Change::default()
            })
            .unwrap();
    }
    let backup = backup_of(&store, dir.path());
    let bytes = std::fs::read(&backup).unwrap();
    assert!(bytes.len() > 3 * 64 * 1024, "{} bytes", bytes.len());

    let header_len = 8 + 2 + 4 + 8 + 19 + 2 + 68;
    let mut cuts = vec![
        0,
        4,
        20,
        header_len - 1,
        header_len,
        header_len + 3,
        header_len + 100,
    ];
    cuts.extend((1..20).map(|step| bytes.len() * step / 20));
    cuts.extend([bytes.len() - 40, bytes.len() - 1]);
    for cut in cuts {
        let error = restore_bytes(dir.path(), &bytes[..cut]);
        let message = error.to_string();
        assert!(
            matches!(
                error,
                StoreError::Backup(BackupError::Damaged { .. } | BackupError::NotABackup { .. })
            ),
            "cut at {cut}: {message}"
        );
        assert!(message.contains("Nothing was restored"), "{message}");
    }
    let message = restore_bytes(dir.path(), &bytes[..bytes.len() / 2]).to_string();
    assert!(message.contains("truncated"), "{message}");

    // A bit flipped anywhere after the key check: in the header, in a part's frame, in a
    // sealed segment, in the last part.
    for position in [
        9,
        header_len - 69,
        header_len,
        header_len + 2,
        header_len + 5,
        header_len + 500,
        bytes.len() / 2,
        bytes.len() - 10,
    ] {
        let mut altered = bytes.clone();
        altered[position] ^= 0x20;
        let error = restore_bytes(dir.path(), &altered);
        assert!(
            matches!(
                error,
                StoreError::Backup(BackupError::Damaged { .. } | BackupError::Newer { .. })
            ),
            "flip at {position}: {error}"
        );
    }
    // Bytes added at the end, and two parts swapped.
    let mut longer = bytes.clone();
    longer.extend_from_slice(b"more");
    assert!(
        restore_bytes(dir.path(), &longer)
            .to_string()
            .contains("after its last part")
    );
    let first_part = header_len;
    let part_len =
        |at: usize| 5 + u32::from_be_bytes(bytes[at + 1..at + 5].try_into().unwrap()) as usize;
    let second_part = first_part + part_len(first_part);
    let third_part = second_part + part_len(second_part);
    let swapped = [
        &bytes[..first_part],
        &bytes[second_part..third_part],
        &bytes[first_part..second_part],
        &bytes[third_part..],
    ]
    .concat();
    assert!(
        restore_bytes(dir.path(), &swapped)
            .to_string()
            .contains("authentication")
    );
    // Not a backup at all.
    assert!(matches!(
        restore_bytes(dir.path(), b"{\"json\": true}"),
        StoreError::Backup(BackupError::NotABackup { .. })
    ));
    // And the untouched file still restores.
    let elsewhere = tempfile::tempdir().unwrap();
    Store::restore_from(&same_key_elsewhere(dir.path(), elsewhere.path()), &backup).unwrap();
}

#[test]
fn a_backup_made_under_another_key_is_refused_and_names_the_key_to_use() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    fill(&store);
    let backup = backup_of(&store, dir.path());

    let elsewhere = tempfile::tempdir().unwrap();
    let other_key = elsewhere.path().join("other.key");
    std::fs::write(&other_key, SecretKey::generate().to_hex()).unwrap();
    let target = StoreOptions {
        path: elsewhere.path().join("db"),
        key_file: other_key.clone(),
        key_from_env: None,
        cache_capacity_bytes: 8 * 1024 * 1024,
    };
    let error = Store::restore_from(&target, &backup).unwrap_err();
    assert!(
        matches!(error, StoreError::Backup(BackupError::WrongKey { .. })),
        "{error}"
    );
    let message = error.to_string();
    assert!(message.contains("another key"), "{message}");
    assert!(
        message.contains(&other_key.display().to_string()),
        "{message}"
    );
    assert!(message.contains("rotated"), "{message}");
    assert!(!target.path.exists());

    let from_env = StoreOptions {
        key_from_env: Some(SecretKey::generate().to_hex()),
        ..target.clone()
    };
    let message = Store::restore_from(&from_env, &backup)
        .unwrap_err()
        .to_string();
    assert!(message.contains(KEY_ENV), "{message}");

    // No key at all is refused too, and no key is invented for it.
    let missing = StoreOptions {
        key_file: elsewhere.path().join("missing.key"),
        ..target.clone()
    };
    let error = Store::restore_from(&missing, &backup).unwrap_err();
    assert!(
        matches!(error, StoreError::Backup(BackupError::NoKey { .. })),
        "{error}"
    );
    assert!(!missing.key_file.exists());
    assert!(!target.path.exists());
}

#[test]
fn a_backup_holds_no_plaintext_of_entries_profiles_or_the_key() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    fill(&store);
    let backup = backup_of(&store, dir.path());
    let bytes = std::fs::read(&backup).unwrap();
    let key_hex = std::fs::read_to_string(dir.path().join("crossroads.key")).unwrap();
    let key = SecretKey::from_hex(&key_hex).unwrap();

    // In the database, profiles are plain JSON: the test would see them if the backup did not
    // seal them.
    let in_database = store.raw_dump().unwrap();
    assert!(
        in_database
            .iter()
            .any(|record| contains(&record.value, PROFILE_MARK.as_bytes()))
    );

    let mut searched = vec![
        PROFILE_MARK.as_bytes().to_vec(),
        b"prompt_time".to_vec(),
        b"joined_at".to_vec(),
        b"Europe/Paris".to_vec(),
        b"private words".to_vec(),
        b"still waiting".to_vec(),
        key_hex.trim().as_bytes().to_vec(),
        hex::decode(key.to_hex()).unwrap(),
    ];
    searched.extend((1..=5).flat_map(|user| (1..=4).map(move |m| words(user, m).into_bytes())));
    for needle in searched {
        assert!(
            !contains(&bytes, &needle),
            "the backup holds {:?} in the clear",
            String::from_utf8_lossy(&needle)
        );
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[test]
fn a_backup_never_replaces_a_file_and_leaves_no_partial_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&options(dir.path())).unwrap();
    fill(&store);
    let path = dir.path().join("taken.backup");
    std::fs::write(&path, "precious").unwrap();
    let error = store.backup_to(&path).unwrap_err();
    assert!(
        matches!(error, StoreError::Backup(BackupError::Exists { .. })),
        "{error}"
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");
    let error = store
        .backup_to(&dir.path().join("no/such/folder/x.backup"))
        .unwrap_err();
    assert!(matches!(error, StoreError::Io { .. }), "{error}");
    let names: BTreeSet<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|name| !name.contains("partial")),
        "{names:?}"
    );
}

/// Writers keep handling updates (each one: the update is received into the inbox, made
/// durable, then its reply is written and the update taken out of the inbox in one batch,
/// made durable, and only then acknowledged) while a backup is taken. The restored copy must
/// hold every reply acknowledged before the backup began, and for every update exactly one of
/// its inbox record or its reply: a copy that caught half of a batch would hold neither or both.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_backup_taken_while_writers_write_is_a_consistent_point_in_time() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(Store::open(&options(dir.path())).unwrap());
    // A store large enough that copying it takes a while.
    for message in 0..5_000 {
        store
            .apply(Change {
                entry: Some(&entry(
                    1_000_000,
                    message,
                    "2026-01-01T10:00:00Z",
                    &"y".repeat(150),
                )),
                ..Change::default()
            })
            .unwrap();
    }
    store.flush().await.unwrap();

    const WRITERS: i64 = 16;
    let acknowledged = Arc::new(Mutex::new(BTreeSet::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let applied_during_backup = Arc::new(AtomicU64::new(0));
    let backing_up = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            let store = Arc::clone(&store);
            let acknowledged = Arc::clone(&acknowledged);
            let stop = Arc::clone(&stop);
            let applied_during_backup = Arc::clone(&applied_during_backup);
            let backing_up = Arc::clone(&backing_up);
            tokio::spawn(async move {
                let mut update = writer * 1_000_000;
                while !stop.load(Ordering::SeqCst) {
                    update += 1;
                    let user = writer + 1;
                    let (_, ticket) = store
                        .receive(
                            vec![received(user, update, "incoming")],
                            None,
                            at("2026-01-05T00:00:00Z"),
                        )
                        .unwrap();
                    store.durable(ticket).await.unwrap();
                    let reply = entry(
                        user,
                        update as i32,
                        "2026-01-05T10:00:00Z",
                        &format!("reply to {update}"),
                    );
                    let ticket = store
                        .apply(Change {
                            entry: Some(&reply),
                            handled: Some(InboxKey {
                                chat_id: user,
                                update_id: update,
                            }),
                            ..Change::default()
                        })
                        .unwrap();
                    if backing_up.load(Ordering::SeqCst) {
                        applied_during_backup.fetch_add(1, Ordering::SeqCst);
                    }
                    store.durable(ticket).await.unwrap();
                    acknowledged.lock().unwrap().insert((user, update));
                }
            })
        })
        .collect();

    while acknowledged.lock().unwrap().len() < 300 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    let before: BTreeSet<(i64, i64)> = acknowledged.lock().unwrap().clone();
    backing_up.store(true, Ordering::SeqCst);
    let path = dir.path().join("live.backup");
    let report = {
        let store = Arc::clone(&store);
        let path = path.clone();
        tokio::task::spawn_blocking(move || store.backup_to(&path))
            .await
            .unwrap()
            .unwrap()
    };
    backing_up.store(false, Ordering::SeqCst);
    // Writers go on after the backup.
    let after_backup = acknowledged.lock().unwrap().len();
    while acknowledged.lock().unwrap().len() < after_backup + 100 {
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop.store(true, Ordering::SeqCst);
    for writer in writers {
        writer.await.unwrap();
    }
    assert!(
        applied_during_backup.load(Ordering::SeqCst) > 0,
        "writers kept writing while the backup ran"
    );

    let elsewhere = tempfile::tempdir().unwrap();
    let target = same_key_elsewhere(dir.path(), elsewhere.path());
    Store::restore_from(&target, &report.path).unwrap();
    let copy = Store::open(&target).unwrap();
    let mut replied = BTreeSet::new();
    for user in 1..=WRITERS {
        for kept in copy.all_entries(user).unwrap() {
            assert_eq!(kept.text, format!("reply to {}", kept.message_id));
            replied.insert((user, i64::from(kept.message_id)));
        }
    }
    let waiting: BTreeSet<(i64, i64)> = copy
        .inbox()
        .unwrap()
        .0
        .into_iter()
        .map(|update| (update.chat_id, update.update_id))
        .collect();
    let missing: Vec<_> = before.difference(&replied).collect();
    assert!(
        missing.is_empty(),
        "{} acknowledged before the backup and not in it, such as {:?}",
        missing.len(),
        &missing[..missing.len().min(5)]
    );
    let both: Vec<_> = replied.intersection(&waiting).collect();
    assert!(
        both.is_empty(),
        "half a batch: {} replied and still waiting, such as {:?}",
        both.len(),
        &both[..both.len().min(5)]
    );
    // Every update the copy knows of (it was seen) is either waiting or replied to.
    let seen: BTreeSet<i64> = copy
        .raw_dump()
        .unwrap()
        .into_iter()
        .filter(|record| record.tree == TREE && record.key.first() == Some(&delivery::SEEN))
        .map(|record| from_ordered_i64(&record.key[1..9]))
        .collect();
    let accounted: BTreeSet<i64> = replied
        .iter()
        .chain(&waiting)
        .map(|(_, update)| *update)
        .collect();
    let neither: Vec<_> = seen.difference(&accounted).collect();
    assert!(
        neither.is_empty(),
        "half a batch: {} updates neither replied to nor waiting, such as {:?}",
        neither.len(),
        &neither[..neither.len().min(5)]
    );
    assert!(replied.len() >= before.len());
    assert_eq!(copy.all_entries(1_000_000).unwrap().len(), 5_000);
}

#[tokio::test]
async fn rotation_re_encrypts_every_record_and_only_the_new_key_opens() {
    let dir = tempfile::tempdir().unwrap();
    let before = {
        let store = Store::open(&options(dir.path())).unwrap();
        fill(&store);
        store.flush().await.unwrap();
        records(&store)
    };
    let new_key_file = dir.path().join("new.key");
    let report = Store::rotate_key(&options(dir.path()), &new_key_file).unwrap();
    assert_eq!(report.entries, 20);
    assert_eq!(
        report.resealed,
        20 + 1 + 1 + 1,
        "entries, inbox, outbox, key check"
    );
    assert!(report.old_copy_removed);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&new_key_file)
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The old key no longer opens it, and the error says where the new one is.
    let error = Store::open(&options(dir.path())).err().unwrap();
    assert!(matches!(error, StoreError::WrongKey { .. }), "{error}");
    assert!(error.to_string().contains("new.key"), "{error}");

    let with_new = StoreOptions {
        key_file: new_key_file.clone(),
        ..options(dir.path())
    };
    let store = Store::open(&with_new).unwrap();
    let after = records(&store);
    assert_eq!(after.len(), before.len());
    for ((key, old), (same_key, new)) in before.iter().zip(&after) {
        assert_eq!(key, same_key);
        match sealed_from(key) {
            Sealing::From(at) => {
                assert_ne!(old, new, "a sealed record is sealed anew");
                assert_eq!(old[..at], new[..at]);
            }
            Sealing::Clear if key == SCHEMA_KEY || key.first() != Some(&META) => {
                assert_eq!(old, new)
            }
            _ => {}
        }
    }
    for user in 1..=5 {
        let texts: Vec<String> = store
            .all_entries(user)
            .unwrap()
            .into_iter()
            .map(|entry| entry.text)
            .collect();
        assert_eq!(texts, (1..=4).map(|m| words(user, m)).collect::<Vec<_>>());
    }
    assert_eq!(
        store.inbox().unwrap().0[0].payload,
        b"an update still waiting"
    );
    let (waiting, _) = store.outbox().unwrap();
    assert_eq!(waiting[0].payload, b"a reply still waiting");
    assert!(store.new_outbox_key(Lane::Reply).unwrap() > waiting[0].key);
    // Nothing is left beside it.
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|name| !name.contains("rotating")),
        "{names:?}"
    );

    // A backup taken now is under the new key.
    let backup = backup_of(&store, dir.path());
    let elsewhere = tempfile::tempdir().unwrap();
    assert!(
        Store::restore_from(&same_key_elsewhere(dir.path(), elsewhere.path()), &backup).is_err()
    );
    Store::restore_from(
        &StoreOptions {
            path: elsewhere.path().join("db"),
            ..with_new.clone()
        },
        &backup,
    )
    .unwrap();
}

#[test]
fn rotation_refuses_to_write_over_an_existing_file() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&options(dir.path())).unwrap();
        fill(&store);
    }
    let taken = dir.path().join("taken.key");
    std::fs::write(&taken, "something else").unwrap();
    let error = Store::rotate_key(&options(dir.path()), &taken).unwrap_err();
    assert!(
        matches!(
            error,
            StoreError::Rotation(RotationError::KeyFileExists { .. })
        ),
        "{error}"
    );
    assert!(error.to_string().contains("never used"), "{error}");
    assert_eq!(std::fs::read_to_string(&taken).unwrap(), "something else");

    // The current key file itself is named as such.
    let error =
        Store::rotate_key(&options(dir.path()), &dir.path().join("crossroads.key")).unwrap_err();
    assert!(error.to_string().contains("current key"), "{error}");
    assert_eq!(
        Store::open(&options(dir.path()))
            .unwrap()
            .all_entries(1)
            .unwrap()
            .len(),
        4
    );
}

#[test]
fn a_rotation_that_meets_a_damaged_record_changes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&options(dir.path())).unwrap();
        fill(&store);
        let key = entry_key(entry(4, 2, "2026-01-02T10:00:00Z", "").key());
        let mut sealed = store.tree.get(&key).unwrap().unwrap().to_vec();
        *sealed.last_mut().unwrap() ^= 1;
        store.tree.insert(key, sealed).unwrap();
        store.db.flush().unwrap();
    }
    let new_key_file = dir.path().join("new.key");
    let error = Store::rotate_key(&options(dir.path()), &new_key_file).unwrap_err();
    assert!(
        matches!(error, StoreError::Rotation(RotationError::Damaged)),
        "{error}"
    );
    assert!(!new_key_file.exists(), "the unused new key is removed");
    let store = Store::open(&options(dir.path())).unwrap();
    assert_eq!(store.all_entries(1).unwrap().len(), 4);
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        names.iter().all(|name| !name.contains("rotating")),
        "{names:?}"
    );
}

#[test]
fn what_an_interrupted_rotation_leaves_beside_the_database_is_removed_at_the_next_open() {
    let dir = tempfile::tempdir().unwrap();
    {
        let store = Store::open(&options(dir.path())).unwrap();
        fill(&store);
    }
    let leftover = dir.path().join(".db.rotating-abc123");
    std::fs::create_dir(&leftover).unwrap();
    std::fs::write(leftover.join("db"), "a partial copy").unwrap();
    let unrelated = dir.path().join(".db.restoring-keep");
    std::fs::create_dir(&unrelated).unwrap();
    let started = Instant::now();
    let store = Store::open(&options(dir.path())).unwrap();
    assert!(started.elapsed().as_secs() < 5);
    assert!(!leftover.exists());
    assert!(
        unrelated.exists(),
        "only a rotation's leftovers are removed"
    );
    assert_eq!(store.all_entries(2).unwrap().len(), 4);
}
