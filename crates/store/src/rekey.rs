//! Key rotation: every sealed record re-encrypted under a new key, crash-safely.
//!
//! The re-keyed database is built as a copy, then swapped for the old one in a single atomic
//! step, so that at every instant the storage path holds one whole database under one key:
//!
//! 1. The old database is opened with the current key (which also takes sled's lock, so the bot
//!    must be stopped). A new key is generated and written to a new file, mode 0600, which must
//!    not exist; the file and its folder are fsynced. From here on, no database can exist under
//!    the new key without the key being on disk.
//! 2. Every record is copied, in key order and in batches of [`BATCH`], into a new database in
//!    a temporary folder beside the storage path; each sealed record (see `sealed_from`: entries,
//!    the inbox, the outbox, the key check) is opened with the old key and sealed again with the
//!    new one, bound to the same database key. The copy is flushed, then opened as a store with
//!    the new key (key check) and counted.
//! 3. `renameat2(RENAME_EXCHANGE)` swaps the two folders in one system call, and the parent
//!    folder is fsynced. Before the swap the storage path is the untouched old database (it opens
//!    with the old key); after it, the complete, flushed, verified copy (it opens with the new
//!    key). The kernel never shows a state in between, and a power loss before the folder's
//!    fsync finds either one, never a mixture, since both are whole databases.
//! 4. The old database, now in the temporary folder, is deleted. A crash before that leaves it
//!    there; the next [`Store::open`] of the storage path deletes it (it is the only thing named
//!    like that, and it holds nothing the live database lacks).
//!
//! An error before the swap (a damaged record, a full disk) deletes the copy and the new key
//! file, which nothing uses yet, and leaves the database as it was. This module holds one batch
//! of records at a time; sled itself keeps in memory much of what it reads and writes (0.34's
//! cache is not a hard bound), so the process peaks at about twice what the bot holds for the
//! same database after a full scan: 150 MiB for 100,000 replies (BENCHMARKS.md). The disk must
//! hold a second copy for the length of the rotation. The copy also leaves behind none of the old ciphertexts that sled's log would
//! keep for a while after rewriting records in place, so once the old key is destroyed, nothing
//! sealed with it remains in the storage path.

use std::{
    fs,
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use chrono::Utc;
use sled::{Batch, Tree};

use super::{
    ENTRY, ID_FLOOR, KEY_ENV, KEY_ROTATED, Result, Sealing, Store, StoreError, StoreOptions, TREE,
    backup::{folder_of, sync_folder, temporary_prefix},
    cipher::{Cipher, SecretKey},
    keyfile, sealed_from,
};

/// Records copied per batch.
const BATCH: usize = 1000;

#[derive(Debug, thiserror::Error)]
pub enum RotationError {
    #[error(
        "{path} already exists: rotate-key writes the new key only to a new file, never over one. {what}"
    )]
    KeyFileExists { path: PathBuf, what: &'static str },
    #[error("there is no database at {path}, so there is nothing to re-encrypt")]
    NoDatabase { path: PathBuf },
    #[error(
        "a record of kind {kind:?} is not one this version knows how to re-encrypt, so the key was not \
         rotated. Nothing was changed"
    )]
    UnknownRecord { kind: char },
    #[error(
        "a stored record could not be decrypted with the current key (it is damaged), so the key was not \
         rotated. Nothing was changed"
    )]
    Damaged,
    #[error(
        "the re-encrypted copy did not verify ({reason}), so the key was not rotated. Nothing was changed"
    )]
    Unverified { reason: &'static str },
    #[error(
        "this platform cannot swap two folders atomically (Linux and macOS can), so rotate-key would not be \
         crash-safe here. Nothing was changed"
    )]
    Unsupported,
}

/// What a rotation did.
#[derive(Debug, Clone)]
pub struct RotationReport {
    pub new_key_file: PathBuf,
    pub records: u64,
    /// How many of them were sealed, and so re-encrypted.
    pub resealed: u64,
    pub entries: u64,
    /// Whether the database under the old key was deleted (it is otherwise deleted at the next
    /// open).
    pub old_copy_removed: bool,
    pub took: Duration,
}

/// Where a leftover of an interrupted rotation of `path` would be.
pub(crate) fn leftover_prefix(path: &Path) -> String {
    temporary_prefix(path, "rotating")
}

/// Deletes what an interrupted rotation of `path` left beside it: a partial copy under the new
/// key from before the swap, or the old database from after it. Only called with the lock on
/// `path` held, or from a rotation that holds it, so no rotation of it is running.
pub(crate) fn remove_leftovers(path: &Path) {
    let prefix = leftover_prefix(path);
    let Ok(siblings) = fs::read_dir(folder_of(path)) else {
        return;
    };
    for sibling in siblings.flatten() {
        if sibling.file_name().to_string_lossy().starts_with(&prefix) {
            let _ = fs::remove_dir_all(sibling.path());
        }
    }
}

/// What the database says of its last key rotation, as a sentence for an error, or empty.
pub(crate) fn describe_last_rotation(tree: &Tree) -> Result<String> {
    Ok(match tree.get(KEY_ROTATED)? {
        Some(bytes) => {
            let text = String::from_utf8_lossy(&bytes);
            match text.split_once('\n') {
                Some((at, file)) => format!(
                    " Its key was rotated on {at}, and the new key written to {file}: use that file (or put \
                     its contents in {KEY_ENV})."
                ),
                None => String::new(),
            }
        }
        None => String::new(),
    })
}

#[cfg(any(target_os = "linux", target_os = "android", target_vendor = "apple"))]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE).map_err(std::io::Error::from)
}

#[cfg(not(any(target_os = "linux", target_os = "android", target_vendor = "apple")))]
fn exchange(_: &Path, _: &Path) -> std::io::Result<()> {
    Err(std::io::Error::from(std::io::ErrorKind::Unsupported))
}

const CAN_EXCHANGE: bool = cfg!(any(
    target_os = "linux",
    target_os = "android",
    target_vendor = "apple"
));

impl Store {
    /// Re-encrypts every sealed record under a new key, written to `new_key_file`; see the
    /// module's documentation for why an interruption at any point leaves a database that opens
    /// with the old key or the new one. Needs the database to itself (the bot stopped).
    pub fn rotate_key(options: &StoreOptions, new_key_file: &Path) -> Result<RotationReport> {
        let started = Instant::now();
        if !CAN_EXCHANGE {
            return Err(RotationError::Unsupported.into());
        }
        if !options.path.is_dir() {
            return Err(RotationError::NoDatabase {
                path: options.path.clone(),
            }
            .into());
        }
        // Takes the lock, checks the key, and removes what an earlier rotation left.
        let old = Store::open(options)?;
        if new_key_file.exists() {
            let current = fs::read_to_string(new_key_file)
                .ok()
                .and_then(|text| SecretKey::from_hex(&text))
                .is_some_and(|key| {
                    let cipher = Cipher::new(&key);
                    old.tree
                        .get(super::KEY_CHECK)
                        .ok()
                        .flatten()
                        .is_some_and(|sealed| {
                            cipher
                                .open(&sealed, super::KEY_CHECK)
                                .is_ok_and(|plain| plain == super::KEY_CHECK_PLAINTEXT)
                        })
                });
            return Err(RotationError::KeyFileExists {
                path: new_key_file.to_owned(),
                what: if current {
                    "It holds this database's current key: the rotation into it had finished. Point \
                     [privacy] key_file at it, or name another file to rotate again."
                } else {
                    "It is not this database's key. If an earlier rotate-key into it was interrupted, \
                     the database is still under the old key and that file was never used: delete it, \
                     or name another file."
                },
            }
            .into());
        }
        let new_key = SecretKey::generate();
        keyfile::write_new_key_file(new_key_file, &new_key).map_err(|error| StoreError::Io {
            action: "cannot create the new key file",
            path: new_key_file.to_owned(),
            error,
        })?;
        sync_folder(folder_of(new_key_file))?;

        let copy = match old.copy_under(&new_key, new_key_file, options) {
            Ok(copy) => copy,
            Err(error) => {
                let _ = fs::remove_file(new_key_file);
                return Err(error);
            }
        };
        if let Err(error) = exchange(&options.path, &copy.path) {
            let _ = fs::remove_dir_all(&copy.path);
            let _ = fs::remove_file(new_key_file);
            return Err(StoreError::Io {
                action: "cannot swap in the re-encrypted copy of",
                path: options.path.clone(),
                error,
            });
        }
        // From here on the storage path holds the database under the new key: never remove the
        // key file again.
        sync_folder(folder_of(&options.path))?;
        drop(old);
        let old_copy_removed = remove_folder(&copy.path);
        Ok(RotationReport {
            new_key_file: new_key_file.to_owned(),
            records: copy.records,
            resealed: copy.resealed,
            entries: copy.entries,
            old_copy_removed,
            took: started.elapsed(),
        })
    }

    /// Step 2: the re-keyed copy, flushed and verified, in a folder beside the storage path.
    fn copy_under(
        &self,
        new_key: &SecretKey,
        new_key_file: &Path,
        options: &StoreOptions,
    ) -> Result<Copy> {
        let folder = folder_of(&options.path);
        let scratch = tempfile::Builder::new()
            .prefix(&leftover_prefix(&options.path))
            .tempdir_in(folder)
            .map_err(|error| StoreError::Io {
                action: "cannot create a temporary folder in",
                path: folder.to_owned(),
                error,
            })?;
        let new = Cipher::new(new_key);
        let mut copy = Copy {
            path: scratch.path().to_owned(),
            records: 0,
            resealed: 0,
            entries: 0,
        };
        {
            let db = super::sled_config(scratch.path(), options.cache_capacity_bytes)
                .open()
                .map_err(|error| StoreError::Open {
                    path: scratch.path().to_owned(),
                    error,
                })?;
            let tree = db.open_tree(TREE)?;
            let mut batch = Batch::default();
            let mut in_batch = 0;
            for item in self.tree.iter() {
                let (key, value) = item?;
                let value = match sealed_from(&key) {
                    Sealing::Clear => value.to_vec(),
                    Sealing::From(at) => {
                        let (clear, sealed) = value.split_at(at.min(value.len()));
                        let plain = self
                            .cipher
                            .open(sealed, &key)
                            .map_err(|_| RotationError::Damaged)?;
                        copy.resealed += 1;
                        [clear, &new.seal(&plain, &key)].concat()
                    }
                    Sealing::Unknown(kind) => {
                        return Err(RotationError::UnknownRecord {
                            kind: char::from(kind),
                        }
                        .into());
                    }
                };
                copy.records += 1;
                if key.first() == Some(&ENTRY) {
                    copy.entries += 1;
                }
                batch.insert(key, value);
                in_batch += 1;
                if in_batch == BATCH {
                    tree.apply_batch(std::mem::take(&mut batch))?;
                    in_batch = 0;
                }
            }
            tree.apply_batch(batch)?;
            tree.insert(ID_FLOOR, &self.next_id()?.to_be_bytes())?;
            let rotated = format!(
                "{}\n{}",
                Utc::now().format("%Y-%m-%d %H:%M UTC"),
                fs::canonicalize(new_key_file)
                    .unwrap_or_else(|_| new_key_file.to_owned())
                    .display()
            );
            tree.insert(KEY_ROTATED, rotated.as_bytes())?;
            db.flush()?;
        }
        {
            let verified = Store::open(&StoreOptions {
                path: scratch.path().to_owned(),
                key_file: new_key_file.to_owned(),
                key_from_env: None,
                cache_capacity_bytes: options.cache_capacity_bytes,
            })
            .map_err(|_| RotationError::Unverified {
                reason: "it does not open with the new key",
            })?;
            let entries = verified.tree.scan_prefix([ENTRY]).count() as u64;
            if entries != copy.entries {
                return Err(RotationError::Unverified {
                    reason: "it does not hold every entry",
                }
                .into());
            }
            verified.db.flush()?;
        }
        // Kept from here: removed by the caller, or by the next open after a crash.
        let _ = scratch.keep();
        Ok(copy)
    }
}

struct Copy {
    path: PathBuf,
    records: u64,
    resealed: u64,
    entries: u64,
}

/// Removes a folder that a store just let go of; sled's threads may still be closing its files.
fn remove_folder(path: &Path) -> bool {
    for _ in 0..40 {
        match fs::remove_dir_all(path) {
            Ok(()) => return true,
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => return true,
            Err(_) => std::thread::sleep(Duration::from_millis(50)),
        }
    }
    false
}
