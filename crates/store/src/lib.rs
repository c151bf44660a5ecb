#![warn(unreachable_pub)]

//! A small typed API over sled. Every sled call in the program lives in this module, so the
//! engine can be judged (crash tests) and replaced behind the same API.
//!
//! Everything lives in one tree, under a one-byte prefix per kind of record, with integers
//! big-endian and the sign bit flipped, so byte order is numeric order and range scans come out
//! sorted:
//! - `p` user id -> profile (JSON)
//! - `e` user id, written-at seconds, message id -> entry (JSON, encrypted)
//! - `d` due-at seconds, user id -> nothing; one per user with a next question
//! - `m` name -> schema version, key check, polling offset
//! - `i` chat id, update id -> an update received and not yet handled (encrypted)
//! - `n` update id -> when it was received; seen updates, so a redelivery is not handled twice
//! - `o` lane, sequence -> chat id and something to send (encrypted)
//! - `s` chat id, message id -> when it was delivered
//!
//! One tree, because a batch on one tree is atomic, and so needs no sled transaction: sled's
//! transactions take a process-wide lock that can deadlock against concurrent flushes, which a
//! test running many stores at once reproduced. A change for one user (profile, its due entry,
//! an entry) is one batch; the service never runs two changes for the same user at once.
//!
//! Every write to the tree goes through [`Store::writing`], a shared guard that a backup takes
//! exclusively while it copies (see `backup.rs`). Which records are sealed, and where in their
//! value the sealed part starts, is said once, in [`sealed_from`]: backups and key rotation
//! rely on it, and a new kind of record must be added there.

mod backup;
mod cipher;
mod delivery;
mod durability;
mod keyfile;
mod rekey;

use std::{
    path::PathBuf,
    sync::{PoisonError, RwLock, RwLockReadGuard},
};

use chrono::{DateTime, Utc};
use sled::{Batch, Tree};

pub use self::{
    backup::{BACKUP_FORMAT, BackupReport, RestoreReport},
    cipher::{OpenError, SecretKey},
    delivery::{Delivered, Fading, InboxKey, Lane, OutboxKey, Parcel, Received},
    durability::Ticket,
    keyfile::{KEY_ENV, KeyError, KeyOrigin},
    rekey::RotationReport,
};
use self::{cipher::Cipher, durability::Durability};
use crossroads_core::model::{Entry, EntryKey, Profile, UserId};

/// Bumped whenever the stored format changes, with a migration in [`Store::open`].
pub const SCHEMA_VERSION: u32 = 1;

const PROFILE: u8 = b'p';
const ENTRY: u8 = b'e';
const DUE: u8 = b'd';
const META: u8 = b'm';

/// The one tree everything lives in.
const TREE: &str = "crossroads";

// Meta records: the `m` prefix, then a name.
const SCHEMA_KEY: &[u8] = b"mschema_version";
const KEY_CHECK: &[u8] = b"mkey_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"crossroads key check";
const UPDATE_OFFSET: &[u8] = b"mupdate_offset";
/// Running totals for the practice (questions sent, answers kept …): `mcount_` and a name.
const COUNT_PREFIX: &[u8] = b"mcount_";
/// Added to sled's id generator for outbox sequence numbers. sled's generator starts again at
/// zero in a new database, so a restored or re-keyed copy records here a value above every
/// sequence number the original handed out, and new parcels still queue after the old ones.
const ID_FLOOR: &[u8] = b"mid_floor";
/// When the key was last rotated and where the new key was written (a path, never a key), so
/// that a start with the old key can say which file to use instead.
const KEY_ROTATED: &[u8] = b"mkey_rotated";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database failed: {0}")]
    Engine(#[from] sled::Error),
    #[error("a stored record is not in the expected format: {0}")]
    Format(#[from] serde_json::Error),
    #[error(transparent)]
    Decrypt(#[from] OpenError),
    #[error(transparent)]
    Key(#[from] KeyError),
    #[error(
        "the key does not match this database: its records were encrypted with another key. \
         Use the key file that belongs to {path}.{rotated} Nothing was changed."
    )]
    WrongKey {
        path: PathBuf,
        /// What the database knows of its last key rotation, as a sentence, or empty.
        rotated: String,
    },
    #[error(
        "the database at {path} was written by a newer Crossroads (format {found}, this one knows {SCHEMA_VERSION})"
    )]
    NewerSchema { path: PathBuf, found: u32 },
    #[error("the database at {path} is in use by another process, or cannot be opened: {error}")]
    Open { path: PathBuf, error: sled::Error },
    #[error("{action} {path}: {error}")]
    Io {
        action: &'static str,
        path: PathBuf,
        error: std::io::Error,
    },
    #[error(transparent)]
    Backup(#[from] backup::BackupError),
    #[error(transparent)]
    Rotation(#[from] rekey::RotationError),
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

/// Where the data lives and how to unlock it.
#[derive(Clone, Debug)]
pub struct StoreOptions {
    pub path: PathBuf,
    pub key_file: PathBuf,
    /// The key from the environment, which wins over the file.
    pub key_from_env: Option<String>,
    pub cache_capacity_bytes: u64,
}

/// A key and value exactly as stored, and the tree holding them.
#[cfg(any(test, feature = "test-support"))]
#[derive(Debug, Clone)]
pub struct RawRecord {
    pub tree: String,
    pub key: Vec<u8>,
    pub value: Vec<u8>,
}

/// How many users are in each state, for the operator's metrics.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct UserCounts {
    /// Questions on, and Telegram can reach them.
    pub active: usize,
    pub paused: usize,
    /// They blocked the bot or left Telegram.
    pub unreachable: usize,
}

/// One atomic change: a user's new state, the update it handled and what it sends, or the
/// record of a delivery. Everything in it lands together or not at all.
#[derive(Debug, Default)]
pub struct Change<'a> {
    pub profile: Option<&'a Profile>,
    pub entry: Option<&'a Entry>,
    /// Erase everything about this user first: entries, profile, due entry, what waits to be
    /// sent to them and the record of what was.
    pub erase: Option<UserId>,
    /// The inbox update this change is the handling of; it leaves the inbox.
    pub handled: Option<InboxKey>,
    /// What to send because of this change.
    pub queue: &'a [Parcel],
    pub delivered: Option<&'a Delivered>,
    /// Deletions due that this change hands to the outbox; their records go.
    pub faded: &'a [Fading],
}

/// Where a chunked sweep (the retention purge and its companions) goes on from: the next key to
/// look at, opaque outside the store.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cursor(Vec<u8>);

/// What one step of a chunked sweep did.
#[derive(Debug)]
#[must_use]
pub struct Swept {
    /// Records erased or changed by this step.
    pub changed: usize,
    /// Where the next step starts; `None` once the sweep has reached the end.
    pub next: Option<Cursor>,
    /// Redeem it for the step's durability.
    pub ticket: Ticket,
}

/// Records a sweep's step erases or reads at most, when nobody says otherwise: small enough
/// that a batch holds a few hundred KiB and takes milliseconds.
pub const SWEEP_CHUNK: usize = 2_000;

pub struct Store {
    db: sled::Db,
    tree: Tree,
    cipher: Cipher,
    durability: Durability,
    key_origin: KeyOrigin,
    /// Held shared by every write to the tree, exclusively by a backup while it copies.
    writers: RwLock<()>,
    id_floor: u64,
}

/// How sled itself is set up: the levers the capacity bench measures (`benches/capacity.rs`,
/// figures in BENCHMARKS.md). The cache size is in [`StoreOptions`], since the operator sets it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct EngineTuning {
    /// The size of sled's log segments and I/O buffers. Fixed when a database is created: sled
    /// refuses to open it with another.
    pub segment_size: usize,
    /// zstd over sled's pages; needs the `compression` feature. Also fixed at creation.
    pub use_compression: bool,
    /// How often sled's own background thread flushes, if at all.
    pub flush_every_ms: Option<u64>,
    /// sled's "fast" mode rather than its "small" one.
    pub high_throughput: bool,
}

/// The segment size of databases created before [`EngineTuning`]'s default was raised: sled's
/// own default.
const LEGACY_SEGMENT_SIZE: usize = 512 * 1024;

impl Default for EngineTuning {
    fn default() -> EngineTuning {
        EngineTuning {
            // 2 MiB rather than sled's 512 KiB: 759 bytes on disk an entry instead of 966
            // (1.8 times its sealed size instead of 2.3), for about 25 MiB more memory under
            // writes (BENCHMARKS.md). Only a new database gets it; an older one keeps its own.
            segment_size: 2 * 1024 * 1024,
            use_compression: false,
            flush_every_ms: Some(500),
            high_throughput: false,
        }
    }
}

impl Store {
    pub fn open(options: &StoreOptions) -> Result<Store> {
        Store::open_engine(options, &EngineTuning::default())
    }

    /// Opens with sled set up otherwise than the defaults: for the capacity bench.
    #[cfg(any(test, feature = "test-support"))]
    pub fn open_tuned(options: &StoreOptions, tuning: &EngineTuning) -> Result<Store> {
        Store::open_engine(options, tuning)
    }

    fn open_engine(options: &StoreOptions, tuning: &EngineTuning) -> Result<Store> {
        let db = open_when_free(options, tuning)?;
        // With the lock held, no rotation of this path is running: what one left is garbage.
        rekey::remove_leftovers(&options.path);
        let tree = db.open_tree(TREE)?;

        if let Some(found) = tree.get(SCHEMA_KEY)? {
            let found = u32::from_be_bytes(found.as_ref().try_into().unwrap_or([0xff; 4]));
            if found > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    path: options.path.clone(),
                    found,
                });
            }
        }

        let key_check = tree.get(KEY_CHECK)?;
        let has_records = key_check.is_some() || tree.scan_prefix([ENTRY]).next().is_some();
        let (key, key_origin) =
            keyfile::resolve(&options.key_file, options.key_from_env.clone(), has_records)?;
        let cipher = Cipher::new(&key);
        match key_check {
            Some(sealed) => {
                if !cipher
                    .open(&sealed, KEY_CHECK)
                    .is_ok_and(|plain| plain == KEY_CHECK_PLAINTEXT)
                {
                    return Err(StoreError::WrongKey {
                        path: options.path.clone(),
                        rotated: rekey::describe_last_rotation(&tree)?,
                    });
                }
            }
            None => {
                tree.insert(KEY_CHECK, cipher.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK))?;
            }
        }
        tree.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
        db.flush()?;
        let id_floor = tree
            .get(ID_FLOOR)?
            .and_then(|bytes| bytes.as_ref().try_into().ok().map(u64::from_be_bytes))
            .unwrap_or(0);
        Ok(Store {
            db,
            tree,
            cipher,
            durability: Durability::default(),
            key_origin,
            writers: RwLock::new(()),
            id_floor,
        })
    }

    /// The guard every write to the tree holds: many writers at once, none while a backup
    /// copies. Never taken twice by one thread (a waiting backup would make that deadlock).
    fn writing(&self) -> RwLockReadGuard<'_, ()> {
        self.writers.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The next outbox sequence number: above every one this database, or the one it was
    /// restored or re-keyed from, ever handed out.
    fn next_id(&self) -> Result<u64> {
        Ok(self.id_floor.saturating_add(self.db.generate_id()?))
    }

    /// For tests that hold a key already.
    #[cfg(any(test, feature = "test-support"))]
    pub fn open_with_key(path: &std::path::Path, key: &SecretKey) -> Result<Store> {
        Store::open(&StoreOptions {
            path: path.to_owned(),
            key_file: path.join("unused.key"),
            key_from_env: Some(key.to_hex()),
            cache_capacity_bytes: 16 * 1024 * 1024,
        })
    }

    pub fn key_origin(&self) -> &KeyOrigin {
        &self.key_origin
    }

    pub fn profile(&self, user_id: UserId) -> Result<Option<Profile>> {
        self.tree
            .get(profile_key(user_id))?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(StoreError::from))
            .transpose()
    }

    pub fn entry(&self, key: EntryKey) -> Result<Option<Entry>> {
        let stored_key = entry_key(key);
        self.tree
            .get(&stored_key)?
            .map(|sealed| self.unseal(&stored_key, &sealed))
            .transpose()
    }

    /// The user's entries written in `[from, to)`, oldest first.
    pub fn entries_between(
        &self,
        user_id: UserId,
        from: DateTime<Utc>,
        to: DateTime<Utc>,
    ) -> Result<Vec<Entry>> {
        let start = entry_prefix(user_id, from.timestamp());
        let end = entry_prefix(user_id, to.timestamp());
        self.unseal_all(self.tree.range(start..end))
    }

    pub fn all_entries(&self, user_id: UserId) -> Result<Vec<Entry>> {
        self.unseal_all(self.tree.scan_prefix(user_entries(user_id)))
    }

    pub fn count_entries(&self, user_id: UserId) -> Result<usize> {
        Ok(self.tree.scan_prefix(user_entries(user_id)).keys().count())
    }

    fn unseal_all(&self, records: sled::Iter) -> Result<Vec<Entry>> {
        records
            .map(|item| {
                let (key, sealed) = item?;
                self.unseal(&key, &sealed)
            })
            .collect()
    }

    fn unseal(&self, key: &[u8], sealed: &[u8]) -> Result<Entry> {
        Ok(serde_json::from_slice(&self.cipher.open(sealed, key)?)?)
    }

    /// Applies a change atomically: the profile, its due index entry and the entry land
    /// together or not at all. Returns a ticket to wait on for durability. Changes for one user
    /// must not run concurrently (the service holds a per-user lock), since the old due entry
    /// is read before the batch; a stale one left by a race would be dropped by the scheduler.
    pub fn apply(&self, change: Change<'_>) -> Result<Ticket> {
        let mut batch = Batch::default();
        if let Some(user_id) = change.erase {
            self.erase_into(&mut batch, user_id)?;
        }
        if let Some(profile) = change.profile {
            let key = profile_key(profile.user_id);
            // An erase in the same batch already removed the old due entry.
            let old_due = match change.erase {
                Some(erased) if erased == profile.user_id => None,
                _ => self.tree.get(key)?.as_deref().and_then(stored_due_key),
            };
            let new_due = due_key_of(profile);
            if old_due != new_due {
                if let Some(old) = old_due {
                    batch.remove(old);
                }
                if let Some(new) = new_due {
                    batch.insert(new, &[]);
                }
            }
            batch.insert(key.to_vec(), serde_json::to_vec(profile)?);
        }
        if let Some(entry) = change.entry {
            let key = entry_key(entry.key());
            let sealed = self.cipher.seal(&serde_json::to_vec(entry)?, &key);
            batch.insert(key, sealed);
        }
        self.delivery_into(&mut batch, &change);
        let _writing = self.writing();
        self.tree.apply_batch(batch)?;
        Ok(self.durability.ticket())
    }

    /// Erases everything stored about a user, in one atomic batch.
    pub fn erase_user(&self, user_id: UserId) -> Result<Ticket> {
        self.apply(Change {
            erase: Some(user_id),
            ..Change::default()
        })
    }

    /// Adds the erasure of a user to `batch`: entries, profile, due entry, pending sends and
    /// delivery records.
    fn erase_into(&self, batch: &mut Batch, user_id: UserId) -> Result<()> {
        for key in self.tree.scan_prefix(user_entries(user_id)).keys() {
            batch.remove(key?);
        }
        let key = profile_key(user_id);
        if let Some(old) = self.tree.get(key)?.as_deref().and_then(stored_due_key) {
            batch.remove(old);
        }
        batch.remove(key.to_vec());
        self.erase_deliveries_into(batch, user_id)
    }

    /// Users whose next question is due at or before `now`, earliest first, at most `limit`.
    pub fn due_until(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(DateTime<Utc>, UserId)>> {
        let end = [
            vec![DUE],
            ordered_i64(now.timestamp().saturating_add(1)).to_vec(),
        ]
        .concat();
        self.tree
            .range(vec![DUE]..end)
            .keys()
            .take(limit)
            .map(|key| Ok(decode_due_key(&key?)))
            .collect()
    }

    pub fn earliest_due(&self) -> Result<Option<DateTime<Utc>>> {
        self.tree
            .scan_prefix([DUE])
            .keys()
            .next()
            .transpose()?
            .map_or(Ok(None), |key| Ok(Some(decode_due_key(&key).0)))
    }

    /// Drops an index entry that no longer matches its profile.
    pub fn forget_due(&self, at: DateTime<Utc>, user_id: UserId) -> Result<()> {
        let _writing = self.writing();
        self.tree.remove(due_key(at.timestamp(), user_id))?;
        Ok(())
    }

    /// Erases every entry written before `cutoff`, for every user, chunk after chunk. Returns
    /// how many. The service runs the chunks itself ([`Store::purge_entries_chunk`]), off its
    /// async workers.
    pub fn purge_entries_before(&self, cutoff: DateTime<Utc>) -> Result<(usize, Ticket)> {
        self.sweep_all(|from| self.purge_entries_chunk(cutoff, from, SWEEP_CHUNK))
    }

    /// One bounded step of the retention purge, from `from` (the start when `None`): erases
    /// entries written before `cutoff` in one batch, and returns where the next step goes on.
    /// A step removes at most `limit` entries and looks at no more than `limit` users, so its
    /// batch and its time are bounded however much has expired.
    ///
    /// Entries are keyed by user, then time: a user's expired entries are the start of their
    /// range, so a step reads only those, then jumps to the next user without reading the rest.
    /// Each step is an atomic batch of its own; a crash between steps leaves fewer entries for
    /// the next purge, which starts again from the beginning and finds them gone.
    pub fn purge_entries_chunk(
        &self,
        cutoff: DateTime<Utc>,
        from: Option<&Cursor>,
        limit: usize,
    ) -> Result<Swept> {
        let limit = limit.max(1);
        let cutoff = cutoff.timestamp();
        let mut batch = Batch::default();
        let (mut removed, mut users) = (0, 0);
        let mut next = from.map_or_else(|| vec![ENTRY], |cursor| cursor.0.clone());
        let more = loop {
            let Some(first) = self.tree.range(next.clone()..).keys().next().transpose()? else {
                break false;
            };
            if first.first() != Some(&ENTRY) || first.len() < 17 {
                break false;
            }
            let user = from_ordered_i64(&first[1..9]);
            users += 1;
            let mut full = false;
            let expired_end = entry_prefix(user, cutoff);
            if first.as_ref() < expired_end.as_slice() {
                for key in self.tree.range(first.to_vec()..expired_end).keys() {
                    let key = key?;
                    if removed == limit {
                        // Go on from this one next time.
                        next = key.to_vec();
                        full = true;
                        break;
                    }
                    batch.remove(key);
                    removed += 1;
                }
            }
            if full {
                break true;
            }
            match user.checked_add(1) {
                Some(following) => next = user_entries(following),
                None => break false,
            }
            if users == limit {
                break true;
            }
        };
        let _writing = self.writing();
        self.tree.apply_batch(batch)?;
        Ok(Swept {
            changed: removed,
            next: more.then_some(Cursor(next)),
            ticket: self.durability.ticket(),
        })
    }

    /// Lets every check-in older than a day go, for profiles the daily question never reads
    /// (paused, or unreachable). Returns how many were let go, and a ticket.
    pub fn forget_stale_check_ins(&self, now: DateTime<Utc>) -> Result<(usize, Ticket)> {
        self.sweep_all(|from| self.forget_stale_check_ins_chunk(now, from, SWEEP_CHUNK))
    }

    /// One bounded step of [`Store::forget_stale_check_ins`]: reads at most `limit` profiles
    /// from `from`.
    pub fn forget_stale_check_ins_chunk(
        &self,
        now: DateTime<Utc>,
        from: Option<&Cursor>,
        limit: usize,
    ) -> Result<Swept> {
        self.rewrite_profiles_chunk(from, limit, |profile| profile.forget_stale_check_in(now))
    }

    /// One bounded step of forgetting, in every profile, the questions delivered before
    /// `cutoff`: what is remembered of them (so that a Telegram reply answers the right one)
    /// goes with the words' retention. Reads at most `limit` profiles from `from`.
    pub fn forget_asked_chunk(
        &self,
        cutoff: DateTime<Utc>,
        from: Option<&Cursor>,
        limit: usize,
    ) -> Result<Swept> {
        self.rewrite_profiles_chunk(from, limit, |profile| profile.forget_asked_before(cutoff))
    }

    /// Reads at most `limit` profiles from `from` and saves those `change` changed. Each is
    /// replaced only if it is still the one read (compare and swap), so a turn that saved the
    /// user's profile meanwhile is never undone; that turn did the same tidying itself.
    fn rewrite_profiles_chunk(
        &self,
        from: Option<&Cursor>,
        limit: usize,
        change: impl Fn(&mut Profile) -> bool,
    ) -> Result<Swept> {
        let limit = limit.max(1);
        let start = from.map_or_else(|| vec![PROFILE], |cursor| cursor.0.clone());
        let mut changed = 0;
        let mut next = None;
        let _writing = self.writing();
        for (read, item) in self.tree.range(start..).enumerate() {
            let (key, bytes) = item?;
            if key.first() != Some(&PROFILE) {
                break;
            }
            if read == limit {
                next = Some(Cursor(key.to_vec()));
                break;
            }
            let mut profile: Profile = serde_json::from_slice(&bytes)?;
            if change(&mut profile) {
                let swapped = self.tree.compare_and_swap(
                    &key,
                    Some(&bytes),
                    Some(serde_json::to_vec(&profile)?),
                )?;
                if swapped.is_ok() {
                    changed += 1;
                }
            }
        }
        Ok(Swept {
            changed,
            next,
            ticket: self.durability.ticket(),
        })
    }

    /// Runs a chunked sweep to its end on this thread: for callers that are not the service.
    pub(crate) fn sweep_all(
        &self,
        mut step: impl FnMut(Option<&Cursor>) -> Result<Swept>,
    ) -> Result<(usize, Ticket)> {
        let mut total = 0;
        let mut from = None;
        loop {
            let swept = step(from.as_ref())?;
            total += swept.changed;
            match swept.next {
                Some(next) => from = Some(next),
                None => return Ok((total, swept.ticket)),
            }
        }
    }

    /// Runs a store call (a step of a sweep) on one of tokio's blocking threads, so that it
    /// never holds an async worker that replies need.
    pub async fn blocking<T: Send + 'static>(
        store: std::sync::Arc<Store>,
        call: impl FnOnce(&Store) -> Result<T> + Send + 'static,
    ) -> Result<T> {
        match tokio::task::spawn_blocking(move || call(&store)).await {
            Ok(done) => done,
            Err(join) => Err(StoreError::Engine(sled::Error::ReportableBug(format!(
                "a storage task failed: {join}"
            )))),
        }
    }

    /// Adds to the practice's running totals. Not part of any change's batch: a crash can lose
    /// the last few, which is fine for totals nobody acts on one by one.
    pub fn add_to_totals(&self, totals: &[(&str, u64)]) -> Result<()> {
        for (name, amount) in totals {
            let key = [COUNT_PREFIX, name.as_bytes()].concat();
            self.tree.update_and_fetch(key, |old| {
                let old = old
                    .and_then(|bytes| bytes.try_into().ok())
                    .map_or(0, u64::from_be_bytes);
                Some(old.saturating_add(*amount).to_be_bytes().to_vec())
            })?;
        }
        Ok(())
    }

    pub fn total(&self, name: &str) -> Result<u64> {
        let key = [COUNT_PREFIX, name.as_bytes()].concat();
        Ok(self
            .tree
            .get(key)?
            .and_then(|bytes| bytes.as_ref().try_into().ok())
            .map_or(0, u64::from_be_bytes))
    }

    /// How many users have a profile.
    pub fn user_count(&self) -> usize {
        self.tree.scan_prefix([PROFILE]).count()
    }

    /// How many users wrote something at or after `since`. Reads entry keys only (the user
    /// and the time are in the key), never an entry.
    pub fn users_active_since(&self, since: DateTime<Utc>) -> Result<usize> {
        let since = since.timestamp();
        let mut active = 0;
        let mut last_counted = None;
        for key in self.tree.scan_prefix([ENTRY]).keys() {
            let key = key?;
            let user = from_ordered_i64(&key[1..9]);
            if last_counted != Some(user) && decode_entry_seconds(&key) >= since {
                active += 1;
                last_counted = Some(user);
            }
        }
        Ok(active)
    }

    /// Counts users by state; reads every profile.
    pub fn user_counts(&self) -> Result<UserCounts> {
        let mut counts = UserCounts::default();
        for item in self.tree.scan_prefix([PROFILE]) {
            let (_, bytes) = item?;
            let profile: Profile = serde_json::from_slice(&bytes)?;
            if !profile.reachable {
                counts.unreachable += 1;
            } else if profile.paused {
                counts.paused += 1;
            } else {
                counts.active += 1;
            }
        }
        Ok(counts)
    }

    /// Waits until the write behind `ticket` is on disk, sharing the flush with concurrent writers.
    pub async fn durable(&self, ticket: Ticket) -> Result<()> {
        self.durability.wait(ticket, || self.flush()).await
    }

    /// Flushes everything written so far. sled's own `flush_async` runs the flush on sled's
    /// I/O thread pool, and flushes waiting there for buffers that only that pool can write
    /// deadlock under load (sled issue #1308; reproduced here by many stores at once). A
    /// blocking flush on one of tokio's blocking threads leaves sled's pool free.
    pub async fn flush(&self) -> Result<()> {
        let db = self.db.clone();
        match tokio::task::spawn_blocking(move || db.flush()).await {
            Ok(flushed) => flushed.map(|_| ()).map_err(StoreError::from),
            Err(join) => Err(StoreError::Engine(sled::Error::ReportableBug(format!(
                "the flush task failed: {join}"
            )))),
        }
    }

    pub fn flush_count(&self) -> u64 {
        self.durability.flush_count()
    }

    /// The next Telegram update to ask for, saved once everything before it was handled.
    pub fn update_offset(&self) -> Result<Option<i32>> {
        Ok(self
            .tree
            .get(UPDATE_OFFSET)?
            .and_then(|bytes| bytes.as_ref().try_into().ok().map(i32::from_be_bytes)))
    }

    pub fn set_update_offset(&self, offset: i32) -> Result<Ticket> {
        let _writing = self.writing();
        self.tree.insert(UPDATE_OFFSET, &offset.to_be_bytes())?;
        Ok(self.durability.ticket())
    }

    #[cfg(any(test, feature = "test-support"))]
    pub fn profile_count(&self) -> usize {
        self.tree.scan_prefix([PROFILE]).count()
    }

    /// Every stored key and value, tree by tree: for tests that prove an erase left nothing.
    #[cfg(any(test, feature = "test-support"))]
    pub fn raw_dump(&self) -> Result<Vec<RawRecord>> {
        let mut all = Vec::new();
        for name in self.db.tree_names() {
            let tree = self.db.open_tree(&name)?;
            for item in tree.iter() {
                let (key, value) = item?;
                all.push(RawRecord {
                    tree: String::from_utf8_lossy(&name).into_owned(),
                    key: key.to_vec(),
                    value: value.to_vec(),
                });
            }
        }
        Ok(all)
    }
}

fn sled_config(path: &std::path::Path, cache_capacity_bytes: u64) -> sled::Config {
    sled::Config::new()
        .path(path)
        .cache_capacity(cache_capacity_bytes)
}

/// Opens the database, waiting a moment if it is still locked: a process that is stopping (or
/// a store just dropped) lets go of sled's file lock only once its last I/O has finished.
fn open_when_free(options: &StoreOptions, tuning: &EngineTuning) -> Result<sled::Db> {
    const ATTEMPTS: u32 = 40;
    let configure = |segment_size: usize| {
        sled::Config::new()
            .path(&options.path)
            .cache_capacity(options.cache_capacity_bytes)
            .segment_size(segment_size)
            .use_compression(tuning.use_compression)
            .flush_every_ms(tuning.flush_every_ms)
            .mode(if tuning.high_throughput {
                sled::Mode::HighThroughput
            } else {
                sled::Mode::LowSpace
            })
    };
    let mut config = configure(tuning.segment_size);
    let mut attempt = 1;
    let mut segment_size_kept = false;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(error))
                if attempt < ATTEMPTS && error.to_string().contains("lock") =>
            {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
            // sled fixes the segment size when it creates a database, and refuses another one
            // later ("... please change it back to 524288"): a database created with an
            // earlier default keeps its own, read before anything is opened or written.
            Err(sled::Error::Unsupported(message))
                if !segment_size_kept && message.contains("io buffer size") =>
            {
                segment_size_kept = true;
                let created_with = message
                    .rsplit(' ')
                    .next()
                    .and_then(|size| size.trim().parse().ok())
                    .unwrap_or(LEGACY_SEGMENT_SIZE);
                config = configure(created_with);
            }
            Err(error) => {
                return Err(StoreError::Open {
                    path: options.path.clone(),
                    error,
                });
            }
        }
    }
}

/// How a record's value is stored.
pub(crate) enum Sealing {
    /// In the clear: profiles, the due index, delivery records, most meta records.
    Clear,
    /// Sealed from this byte on, bound to the record's key.
    From(usize),
    /// A kind this version does not know.
    Unknown(u8),
}

/// Which records are sealed, said once: backups copy records as they are, but key rotation
/// must open and seal again exactly the sealed ones, and refuses a kind it does not know rather
/// than copy it under a key that would no longer open it. A new kind of record goes here.
pub(crate) fn sealed_from(key: &[u8]) -> Sealing {
    match key.first().copied() {
        Some(ENTRY | delivery::INBOX) => Sealing::From(0),
        // The chat id, in the clear so that an erasure finds a user's parcels, then the seal.
        Some(delivery::OUTBOX) => Sealing::From(8),
        Some(META) if key == KEY_CHECK => Sealing::From(0),
        Some(PROFILE | DUE | META | delivery::SEEN | delivery::SENT) => Sealing::Clear,
        Some(other) => Sealing::Unknown(other),
        None => Sealing::Unknown(0),
    }
}

/// Big-endian with the sign bit flipped: byte order equals numeric order, negatives included.
pub(crate) fn ordered_i64(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

pub(crate) fn from_ordered_i64(bytes: &[u8]) -> i64 {
    let mut buffer = [0; 8];
    buffer.copy_from_slice(&bytes[..8]);
    (u64::from_be_bytes(buffer) ^ (1 << 63)) as i64
}

pub(crate) fn ordered_i32(value: i32) -> [u8; 4] {
    ((value as u32) ^ (1 << 31)).to_be_bytes()
}

fn profile_key(user_id: UserId) -> [u8; 9] {
    let mut key = [PROFILE; 9];
    key[1..].copy_from_slice(&ordered_i64(user_id));
    key
}

fn user_entries(user_id: UserId) -> Vec<u8> {
    [&[ENTRY][..], &ordered_i64(user_id)].concat()
}

fn entry_prefix(user_id: UserId, seconds: i64) -> Vec<u8> {
    [user_entries(user_id), ordered_i64(seconds).to_vec()].concat()
}

fn entry_key(key: EntryKey) -> Vec<u8> {
    let mut bytes = entry_prefix(key.user_id, key.written_at.timestamp());
    bytes.extend_from_slice(&ordered_i32(key.message_id));
    bytes
}

fn decode_entry_seconds(key: &[u8]) -> i64 {
    from_ordered_i64(&key[9..17])
}

fn due_key(seconds: i64, user_id: UserId) -> Vec<u8> {
    [&[DUE][..], &ordered_i64(seconds), &ordered_i64(user_id)].concat()
}

fn due_key_of(profile: &Profile) -> Option<Vec<u8>> {
    profile
        .next_due
        .map(|due| due_key(due.at.timestamp(), profile.user_id))
}

fn stored_due_key(profile_bytes: &[u8]) -> Option<Vec<u8>> {
    serde_json::from_slice::<Profile>(profile_bytes)
        .ok()
        .as_ref()
        .and_then(due_key_of)
}

fn decode_due_key(key: &[u8]) -> (DateTime<Utc>, UserId) {
    let at = DateTime::from_timestamp(from_ordered_i64(&key[1..9]), 0).unwrap_or_default();
    (at, from_ordered_i64(&key[9..17]))
}

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_backup;
