//! A small typed API over sled. Every sled call in the program lives in this module, so the
//! engine can be judged (crash tests) and replaced behind the same API.
//!
//! Trees and keys (all integers big-endian with the sign bit flipped, so byte order is numeric
//! order and range scans come out sorted):
//! - `profiles`: user id -> profile (JSON)
//! - `entries`: user id, written-at seconds, message id -> entry (JSON, encrypted)
//! - `due`: due-at seconds, user id -> nothing; one per user with a next question
//! - `meta`: schema version, key check, polling offset

pub mod cipher;
pub mod durability;
pub mod keyfile;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use sled::{
    Transactional, Tree,
    transaction::{ConflictableTransactionError, TransactionError},
};

use self::{
    cipher::{Cipher, SecretKey},
    durability::{Durability, Ticket},
    keyfile::{KeyError, KeyOrigin},
};
use crate::core::model::{Entry, EntryKey, Profile, UserId};

/// Bumped whenever the stored format changes, with a migration in [`Store::open`].
pub const SCHEMA_VERSION: u32 = 1;

const SCHEMA_KEY: &[u8] = b"schema_version";
const KEY_CHECK: &[u8] = b"key_check";
const KEY_CHECK_PLAINTEXT: &[u8] = b"crossroads key check";
const UPDATE_OFFSET: &[u8] = b"update_offset";

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("the database failed: {0}")]
    Engine(#[from] sled::Error),
    #[error("a stored record is not in the expected format: {0}")]
    Format(#[from] serde_json::Error),
    #[error(transparent)]
    Decrypt(#[from] cipher::OpenError),
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
    profiles: Tree,
    entries: Tree,
    due: Tree,
    meta: Tree,
    cipher: Cipher,
    durability: Durability,
    key_origin: KeyOrigin,
}

impl Store {
    pub fn open(options: &StoreOptions) -> Result<Store> {
        let db = sled::Config::new()
            .path(&options.path)
            .cache_capacity(options.cache_capacity_bytes)
            .open()
            .map_err(|error| StoreError::Open {
                path: options.path.clone(),
                error,
            })?;
        let meta = db.open_tree("meta")?;
        let profiles = db.open_tree("profiles")?;
        let entries = db.open_tree("entries")?;
        let due = db.open_tree("due")?;

        if let Some(found) = meta.get(SCHEMA_KEY)? {
            let found = u32::from_be_bytes(found.as_ref().try_into().unwrap_or([0xff; 4]));
            if found > SCHEMA_VERSION {
                return Err(StoreError::NewerSchema {
                    path: options.path.clone(),
                    found,
                });
            }
        }

        let key_check = meta.get(KEY_CHECK)?;
        let has_records = key_check.is_some() || !entries.is_empty();
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
                meta.insert(KEY_CHECK, cipher.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK))?;
            }
        }
        meta.insert(SCHEMA_KEY, &SCHEMA_VERSION.to_be_bytes())?;
        db.flush()?;
        Ok(Store {
            db,
            profiles,
            entries,
            due,
            meta,
            cipher,
            durability: Durability::default(),
            key_origin,
        })
    }

    /// For tests and tools that hold a key already.
    pub fn open_with_key(path: &Path, key: &SecretKey) -> Result<Store> {
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
        self.profiles
            .get(ordered_i64(user_id))?
            .map(|bytes| serde_json::from_slice(&bytes).map_err(StoreError::from))
            .transpose()
    }

    pub fn entry(&self, key: EntryKey) -> Result<Option<Entry>> {
        let stored_key = entry_key(key);
        self.entries
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
        self.entries
            .range(start..end)
            .map(|item| {
                let (key, sealed) = item?;
                self.unseal(&key, &sealed)
            })
            .collect()
    }

    pub fn all_entries(&self, user_id: UserId) -> Result<Vec<Entry>> {
        self.entries
            .scan_prefix(ordered_i64(user_id))
            .map(|item| {
                let (key, sealed) = item?;
                self.unseal(&key, &sealed)
            })
            .collect()
    }

    pub fn count_entries(&self, user_id: UserId) -> Result<usize> {
        Ok(self
            .entries
            .scan_prefix(ordered_i64(user_id))
            .keys()
            .count())
    }

    fn unseal(&self, key: &[u8], sealed: &[u8]) -> Result<Entry> {
        Ok(serde_json::from_slice(&self.cipher.open(sealed, key)?)?)
    }

    /// Applies a change atomically: the profile, its due index entry and the entry land
    /// together or not at all. Returns a ticket to wait on for durability.
    pub fn apply(&self, change: Change<'_>) -> Result<Ticket> {
        let profile = change
            .profile
            .map(|profile| {
                Ok::<_, StoreError>((
                    ordered_i64(profile.user_id),
                    serde_json::to_vec(profile)?,
                    due_key_of(profile),
                ))
            })
            .transpose()?;
        let entry = change
            .entry
            .map(|entry| {
                let key = entry_key(entry.key());
                let sealed = self.cipher.seal(&serde_json::to_vec(entry)?, &key);
                Ok::<_, StoreError>((key, sealed))
            })
            .transpose()?;
        (&self.profiles, &self.entries, &self.due)
            .transaction(|(profiles, entries, due)| {
                if let Some((key, bytes, new_due)) = &profile {
                    let previous = profiles.insert(key.as_slice(), bytes.as_slice())?;
                    let old_due = previous.as_deref().and_then(stored_due_key);
                    if old_due != *new_due {
                        if let Some(old) = old_due {
                            due.remove(old.as_slice())?;
                        }
                        if let Some(new) = new_due {
                            due.insert(new.as_slice(), &[])?;
                        }
                    }
                }
                if let Some((key, sealed)) = &entry {
                    entries.insert(key.as_slice(), sealed.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(flatten_transaction_error)?;
        Ok(self.durability.ticket())
    }

    /// Erases everything stored about a user: entries first, so an interrupted erase leaves a
    /// profile that a repeated `/delete` finds and finishes.
    pub fn erase_user(&self, user_id: UserId) -> Result<Ticket> {
        let mut batch = sled::Batch::default();
        for key in self.entries.scan_prefix(ordered_i64(user_id)).keys() {
            batch.remove(key?);
        }
        self.entries.apply_batch(batch)?;
        let key = ordered_i64(user_id);
        (&self.profiles, &self.due)
            .transaction(|(profiles, due)| {
                let previous = profiles.remove(key.as_slice())?;
                if let Some(old) = previous.as_deref().and_then(stored_due_key) {
                    due.remove(old.as_slice())?;
                }
                Ok::<_, ConflictableTransactionError<StoreError>>(())
            })
            .map_err(flatten_transaction_error)?;
        Ok(self.durability.ticket())
    }

    /// Users whose next question is due at or before `now`, earliest first, at most `limit`.
    pub fn due_until(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(DateTime<Utc>, UserId)>> {
        let end = ordered_i64(now.timestamp().saturating_add(1));
        self.due
            .range(..end.as_slice())
            .keys()
            .take(limit)
            .map(|key| Ok(decode_due_key(&key?)))
            .collect()
    }

    pub fn earliest_due(&self) -> Result<Option<DateTime<Utc>>> {
        Ok(self.due.first()?.map(|(key, _)| decode_due_key(&key).0))
    }

    /// Drops an index entry that no longer matches its profile.
    pub fn forget_due(&self, at: DateTime<Utc>, user_id: UserId) -> Result<()> {
        self.due.remove(due_key(at.timestamp(), user_id))?;
        Ok(())
    }

    /// Erases every entry written before `cutoff`, for every user. Returns how many.
    pub fn purge_entries_before(&self, cutoff: DateTime<Utc>) -> Result<(usize, Ticket)> {
        let cutoff = cutoff.timestamp();
        let mut batch = sled::Batch::default();
        let mut purged = 0;
        for key in self.entries.iter().keys() {
            let key = key?;
            if decode_entry_seconds(&key) < cutoff {
                batch.remove(key);
                purged += 1;
            }
        }
        self.entries.apply_batch(batch)?;
        Ok((purged, self.durability.ticket()))
    }

    /// Waits until the write behind `ticket` is on disk, sharing the flush with concurrent writers.
    pub async fn durable(&self, ticket: Ticket) -> Result<()> {
        self.durability
            .wait(ticket, || async { self.db.flush_async().await.map(|_| ()) })
            .await?;
        Ok(())
    }

    pub async fn flush(&self) -> Result<()> {
        self.db.flush_async().await?;
        Ok(())
    }

    pub fn flush_count(&self) -> u64 {
        self.durability.flush_count()
    }

    /// The next Telegram update to ask for, saved once everything before it was handled.
    pub fn update_offset(&self) -> Result<Option<i32>> {
        Ok(self
            .meta
            .get(UPDATE_OFFSET)?
            .and_then(|bytes| bytes.as_ref().try_into().ok().map(i32::from_be_bytes)))
    }

    pub fn set_update_offset(&self, offset: i32) -> Result<Ticket> {
        self.meta.insert(UPDATE_OFFSET, &offset.to_be_bytes())?;
        Ok(self.durability.ticket())
    }

    pub fn profile_count(&self) -> usize {
        self.profiles.len()
    }

    /// Every stored key and value, tree by tree: for tests that prove an erase left nothing.
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

fn flatten_transaction_error(error: TransactionError<StoreError>) -> StoreError {
    match error {
        TransactionError::Abort(error) => error,
        TransactionError::Storage(error) => StoreError::Engine(error),
    }
}

/// Big-endian with the sign bit flipped: byte order equals numeric order, negatives included.
pub fn ordered_i64(value: i64) -> [u8; 8] {
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

fn entry_prefix(user_id: UserId, seconds: i64) -> Vec<u8> {
    [ordered_i64(user_id), ordered_i64(seconds)].concat()
}

fn entry_key(key: EntryKey) -> Vec<u8> {
    let mut bytes = entry_prefix(key.user_id, key.written_at.timestamp());
    bytes.extend_from_slice(&ordered_i32(key.message_id));
    bytes
}

fn decode_entry_seconds(key: &[u8]) -> i64 {
    from_ordered_i64(&key[8..16])
}

fn due_key(seconds: i64, user_id: UserId) -> Vec<u8> {
    [ordered_i64(seconds), ordered_i64(user_id)].concat()
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
    let at = DateTime::from_timestamp(from_ordered_i64(&key[..8]), 0).unwrap_or_default();
    (at, from_ordered_i64(&key[8..16]))
}

#[cfg(test)]
mod tests;
