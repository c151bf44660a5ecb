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
//!
//! One tree, because a batch on one tree is atomic, and so needs no sled transaction: sled's
//! transactions take a process-wide lock that can deadlock against concurrent flushes, which a
//! test running many stores at once reproduced. A change for one user (profile, its due entry,
//! an entry) is one batch; the service never runs two changes for the same user at once.

mod cipher;
mod durability;
mod keyfile;

use std::path::PathBuf;

use chrono::{DateTime, Utc};
use sled::{Batch, Tree};

use self::{cipher::Cipher, durability::Durability};
pub use self::{
    cipher::{OpenError, SecretKey},
    durability::Ticket,
    keyfile::{KEY_ENV, KeyError, KeyOrigin},
};
use crossroads_core::model::{Entry, EntryKey, Profile, UserId};

/// Bumped whenever the stored format changes, with a migration in [`Store::open`].
pub const SCHEMA_VERSION: u32 = 1;

const PROFILE: u8 = b'p';
const ENTRY: u8 = b'e';
const DUE: u8 = b'd';

// Meta records: the `m` prefix, then a name.
const SCHEMA_KEY: &[u8] = b"mschema_version";
const KEY_CHECK: &[u8] = b"mkey_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"crossroads key check";
const UPDATE_OFFSET: &[u8] = b"mupdate_offset";

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
         Use the key file that belongs to {path}. Nothing was changed."
    )]
    WrongKey { path: PathBuf },
    #[error(
        "the database at {path} was written by a newer Crossroads (format {found}, this one knows {SCHEMA_VERSION})"
    )]
    NewerSchema { path: PathBuf, found: u32 },
    #[error("the database at {path} is in use by another process, or cannot be opened: {error}")]
    Open { path: PathBuf, error: sled::Error },
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

/// One atomic change for one user.
#[derive(Debug, Default)]
pub struct Change<'a> {
    pub profile: Option<&'a Profile>,
    pub entry: Option<&'a Entry>,
}

pub struct Store {
    db: sled::Db,
    tree: Tree,
    cipher: Cipher,
    durability: Durability,
    key_origin: KeyOrigin,
}

impl Store {
    pub fn open(options: &StoreOptions) -> Result<Store> {
        let db = open_when_free(options)?;
        let tree = db.open_tree("crossroads")?;

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
                    });
                }
            }
            None => {
                tree.insert(KEY_CHECK, cipher.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK))?;
            }
        }
        tree.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
        db.flush()?;
        Ok(Store {
            db,
            tree,
            cipher,
            durability: Durability::default(),
            key_origin,
        })
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
        if let Some(profile) = change.profile {
            let key = profile_key(profile.user_id);
            let old_due = self.tree.get(key)?.as_deref().and_then(stored_due_key);
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
        self.tree.apply_batch(batch)?;
        Ok(self.durability.ticket())
    }

    /// Erases everything stored about a user, in one atomic batch: entries, profile and due entry.
    pub fn erase_user(&self, user_id: UserId) -> Result<Ticket> {
        let mut batch = Batch::default();
        for key in self.tree.scan_prefix(user_entries(user_id)).keys() {
            batch.remove(key?);
        }
        let key = profile_key(user_id);
        if let Some(old) = self.tree.get(key)?.as_deref().and_then(stored_due_key) {
            batch.remove(old);
        }
        batch.remove(key.to_vec());
        self.tree.apply_batch(batch)?;
        Ok(self.durability.ticket())
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
        self.tree.remove(due_key(at.timestamp(), user_id))?;
        Ok(())
    }

    /// Erases every entry written before `cutoff`, for every user. Returns how many.
    pub fn purge_entries_before(&self, cutoff: DateTime<Utc>) -> Result<(usize, Ticket)> {
        let cutoff = cutoff.timestamp();
        let mut batch = Batch::default();
        let mut purged = 0;
        for key in self.tree.scan_prefix([ENTRY]).keys() {
            let key = key?;
            if decode_entry_seconds(&key) < cutoff {
                batch.remove(key);
                purged += 1;
            }
        }
        self.tree.apply_batch(batch)?;
        Ok((purged, self.durability.ticket()))
    }

    /// Lets every check-in older than a day go, for profiles the daily question never reads
    /// (paused, or unreachable). Returns how many were let go, and a ticket.
    pub fn forget_stale_check_ins(&self, now: DateTime<Utc>) -> Result<(usize, Ticket)> {
        let mut batch = Batch::default();
        let mut forgotten = 0;
        for item in self.tree.scan_prefix([PROFILE]) {
            let (key, bytes) = item?;
            let mut profile: Profile = serde_json::from_slice(&bytes)?;
            if profile.forget_stale_check_in(now) {
                batch.insert(key, serde_json::to_vec(&profile)?);
                forgotten += 1;
            }
        }
        self.tree.apply_batch(batch)?;
        Ok((forgotten, self.durability.ticket()))
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

/// Opens the database, waiting a moment if it is still locked: a process that is stopping (or
/// a store just dropped) lets go of sled's file lock only once its last I/O has finished.
fn open_when_free(options: &StoreOptions) -> Result<sled::Db> {
    const ATTEMPTS: u32 = 40;
    let config = sled::Config::new()
        .path(&options.path)
        .cache_capacity(options.cache_capacity_bytes);
    let mut attempt = 1;
    loop {
        match config.open() {
            Ok(db) => return Ok(db),
            Err(sled::Error::Io(error))
                if attempt < ATTEMPTS && error.to_string().contains("lock") =>
            {
                attempt += 1;
                std::thread::sleep(std::time::Duration::from_millis(50));
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

/// Big-endian with the sign bit flipped: byte order equals numeric order, negatives included.
pub(crate) fn ordered_i64(value: i64) -> [u8; 8] {
    ((value as u64) ^ (1 << 63)).to_be_bytes()
}

fn from_ordered_i64(bytes: &[u8]) -> i64 {
    let mut buffer = [0; 8];
    buffer.copy_from_slice(&bytes[..8]);
    (u64::from_be_bytes(buffer) ^ (1 << 63)) as i64
}

fn ordered_i32(value: i32) -> [u8; 4] {
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
