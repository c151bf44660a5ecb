//! Backups that need no downtime, and restoring one.
//!
//! **Consistency.** sled's iterators are not snapshot-isolated: a scan that runs while a batch
//! lands can see part of it. A change that writes a reply and takes its update out of the inbox
//! in one batch could then be copied as neither (the scan passed `e` before the batch and
//! reached `i` after it). So a backup takes [`Store::writing`]'s lock exclusively while it
//! copies, and every write to the tree holds it shared: the copy is the tree as it was between
//! two batches, a point in time. Reads never wait; writers wait for the length of the copy
//! (measured in BENCHMARKS.md: a fraction of a second for 100,000 replies), and then go on. No
//! write is refused or lost, and no sled transaction is involved (sled's transaction lock is
//! process-wide and took part in deadlocks here before). What the copy holds is what sled held
//! at that instant, which includes every change already acknowledged (acknowledged means
//! applied and then flushed) and possibly a few applied and not yet flushed: whole batches
//! either way.
//!
//! **Format** (`BACKUP_FORMAT` 1), all integers big-endian:
//!
//! ```text
//! header   "CRBACKUP"  format u16  schema u32  taken-at i64 (Unix seconds)
//!          stream nonce prefix [19]  key-check length u16  key check (sealed like a record)
//! parts    kind u8 (0 a part, 1 the last)  length u32  sealed segment
//! ```
//!
//! The parts are one STREAM (see [`Cipher::encryptor`]) under the store's own key, each segment
//! sealed with the whole header as associated data. A segment holds whole records, each as key
//! length u32, value length u32, key, value, exactly as stored (so entries, the inbox and the
//! outbox are sealed twice, and profiles, which are plain JSON in the database, are sealed here).
//! The last segment holds only the summary: how many records, entries and profiles, and the id
//! floor (see `ID_FLOOR`). The key check opens only with the key the backup was made under, which
//! tells a wrong key apart from damage; every other byte is authenticated, so a truncated,
//! altered, reordered or spliced file is refused before anything is restored. The key itself is
//! never in the file, and nothing in it can be read without it.
//!
//! **Writing** goes to a temporary file in the destination's folder, fsynced, then linked to its
//! name only if that name is free, and the folder fsynced: a crash never leaves half a backup
//! under the final name, and a backup never replaces a file.
//!
//! **Restoring** goes into a temporary folder beside the storage path, verified (every segment,
//! the summary, then a real open with the key and a count), flushed, and renamed into place: a
//! storage path is either untouched or holds the whole restored database.

use std::{
    fs::{self, File},
    io::{BufReader, BufWriter, ErrorKind, Read, Write},
    path::{Path, PathBuf},
    time::{Duration, Instant},
};

use chacha20poly1305::{
    XChaCha20Poly1305,
    aead::{
        Payload,
        stream::{DecryptorBE32, EncryptorBE32},
    },
};
use chrono::{DateTime, Utc};
use sled::Batch;

use super::{
    ENTRY, ID_FLOOR, KEY_ENV, PROFILE, Result, SCHEMA_VERSION, Store, StoreError, StoreOptions,
    TREE,
    cipher::{Cipher, STREAM_PREFIX_LEN},
    keyfile::{self, KeyError},
};

/// The version of the backup file format this build writes and reads.
pub const BACKUP_FORMAT: u16 = 1;

const MAGIC: &[u8; 8] = b"CRBACKUP";
const KEY_CHECK_PLAINTEXT: &[u8] = b"crossroads backup key check";
const KEY_CHECK_BINDING: &[u8] = b"crossroads backup";
/// Records are gathered into segments of about this much before sealing.
const SEGMENT_TARGET: usize = 64 * 1024;
/// No segment this build writes comes near it; a length above it is damage.
const MAX_SEGMENT: u32 = 64 * 1024 * 1024;
const PART: u8 = 0;
const LAST: u8 = 1;
const SUMMARY_LEN: usize = 32;
/// A sealed record's format byte, nonce and tag around the check's plaintext.
const KEY_CHECK_LEN: usize = 1 + 24 + KEY_CHECK_PLAINTEXT.len() + 16;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error(
        "{path} already exists: a backup never replaces a file. Choose another name, or move it aside"
    )]
    Exists { path: PathBuf },
    #[error("{path} is not a Crossroads backup (it does not begin like one). Nothing was restored")]
    NotABackup { path: PathBuf },
    #[error(
        "{path} was written by a newer Crossroads (backup format {found}, this one reads {BACKUP_FORMAT}; \
         database format {schema}, this one knows {SCHEMA_VERSION}). Nothing was restored"
    )]
    Newer {
        path: PathBuf,
        found: u16,
        schema: u32,
    },
    #[error(
        "the backup {path} is damaged or incomplete: {reason}. Nothing was restored; use another backup"
    )]
    Damaged { path: PathBuf, reason: &'static str },
    #[error(
        "the backup {path} (taken {taken_at}) was made under another key than the one from {key_source}. \
         Use the key file (or {KEY_ENV}) the bot had when the backup was taken; if the key was rotated \
         since, that is the old key. (With the right key, this means the key check in the backup's \
         header is damaged.) Nothing was restored"
    )]
    WrongKey {
        path: PathBuf,
        taken_at: String,
        key_source: String,
    },
    #[error(
        "restore needs the key the backup was made with, but {key_file} does not exist and {KEY_ENV} is not set. \
         Put that key file there (or set {KEY_ENV}). Nothing was restored"
    )]
    NoKey { key_file: PathBuf },
    #[error(
        "{path} is not empty: restore writes only into a storage path that is missing or empty, so it never \
         mixes with or replaces a database. Move it aside, or set [storage] path to a new folder, and run it again"
    )]
    NotEmpty { path: PathBuf },
}

/// What a backup wrote.
#[derive(Debug, Clone)]
pub struct BackupReport {
    pub path: PathBuf,
    /// The size of the file.
    pub bytes: u64,
    pub records: u64,
    pub entries: u64,
    pub profiles: u64,
    pub taken_at: DateTime<Utc>,
    /// How long writers waited while the records were copied.
    pub writers_paused: Duration,
    pub took: Duration,
}

/// What a restore wrote.
#[derive(Debug, Clone)]
pub struct RestoreReport {
    pub path: PathBuf,
    pub records: u64,
    pub entries: u64,
    pub profiles: u64,
    /// When the backup was taken.
    pub taken_at: DateTime<Utc>,
    pub took: Duration,
}

/// The last segment: what the backup holds, checked on restore.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct Summary {
    records: u64,
    entries: u64,
    profiles: u64,
    id_floor: u64,
}

impl Summary {
    fn count(&mut self, key: &[u8]) {
        self.records += 1;
        match key.first() {
            Some(&ENTRY) => self.entries += 1,
            Some(&PROFILE) => self.profiles += 1,
            _ => {}
        }
    }

    fn encode(&self) -> [u8; SUMMARY_LEN] {
        let mut bytes = [0; SUMMARY_LEN];
        for (at, value) in [self.records, self.entries, self.profiles, self.id_floor]
            .into_iter()
            .enumerate()
        {
            bytes[at * 8..at * 8 + 8].copy_from_slice(&value.to_be_bytes());
        }
        bytes
    }

    fn decode(bytes: &[u8]) -> Option<Summary> {
        if bytes.len() != SUMMARY_LEN {
            return None;
        }
        let at = |index: usize| {
            u64::from_be_bytes(
                bytes[index * 8..index * 8 + 8]
                    .try_into()
                    .unwrap_or_default(),
            )
        };
        Some(Summary {
            records: at(0),
            entries: at(1),
            profiles: at(2),
            id_floor: at(3),
        })
    }
}

/// The header, and its exact bytes, which every segment is bound to.
struct Header {
    bytes: Vec<u8>,
    taken_at: DateTime<Utc>,
    prefix: [u8; STREAM_PREFIX_LEN],
    key_check: Vec<u8>,
}

impl Header {
    fn new(cipher: &Cipher, taken_at: DateTime<Utc>) -> Header {
        let prefix = Cipher::stream_prefix();
        let key_check = cipher.seal(KEY_CHECK_PLAINTEXT, KEY_CHECK_BINDING);
        let mut bytes = Vec::with_capacity(64 + key_check.len());
        bytes.extend_from_slice(MAGIC);
        bytes.extend_from_slice(&BACKUP_FORMAT.to_be_bytes());
        bytes.extend_from_slice(&SCHEMA_VERSION.to_be_bytes());
        bytes.extend_from_slice(&taken_at.timestamp().to_be_bytes());
        bytes.extend_from_slice(&prefix);
        bytes.extend_from_slice(&(key_check.len() as u16).to_be_bytes());
        bytes.extend_from_slice(&key_check);
        Header {
            bytes,
            taken_at,
            prefix,
            key_check,
        }
    }

    fn read(input: &mut impl Read, path: &Path) -> Result<Header> {
        let damaged = |reason| BackupError::Damaged {
            path: path.to_owned(),
            reason,
        };
        let mut bytes = vec![0; MAGIC.len()];
        read_all(input, &mut bytes, path).map_err(|_| BackupError::NotABackup {
            path: path.to_owned(),
        })?;
        if bytes != MAGIC {
            return Err(BackupError::NotABackup {
                path: path.to_owned(),
            }
            .into());
        }
        let mut fixed = [0; 2 + 4 + 8 + STREAM_PREFIX_LEN + 2];
        read_all(input, &mut fixed, path)
            .map_err(|_| damaged("it ends inside its header: the file is truncated"))?;
        bytes.extend_from_slice(&fixed);
        let format = u16::from_be_bytes([fixed[0], fixed[1]]);
        let schema = u32::from_be_bytes(fixed[2..6].try_into().unwrap_or_default());
        if format == 0 {
            return Err(damaged("its header is damaged").into());
        }
        if format > BACKUP_FORMAT || schema > SCHEMA_VERSION {
            return Err(BackupError::Newer {
                path: path.to_owned(),
                found: format,
                schema,
            }
            .into());
        }
        let seconds = i64::from_be_bytes(fixed[6..14].try_into().unwrap_or_default());
        let mut prefix = [0; STREAM_PREFIX_LEN];
        prefix.copy_from_slice(&fixed[14..14 + STREAM_PREFIX_LEN]);
        let check_len = u16::from_be_bytes([fixed[fixed.len() - 2], fixed[fixed.len() - 1]]);
        if usize::from(check_len) != KEY_CHECK_LEN {
            return Err(damaged("its header is damaged").into());
        }
        let mut key_check = vec![0; KEY_CHECK_LEN];
        read_all(input, &mut key_check, path)
            .map_err(|_| damaged("it ends inside its header: the file is truncated"))?;
        bytes.extend_from_slice(&key_check);
        Ok(Header {
            bytes,
            taken_at: DateTime::from_timestamp(seconds, 0).unwrap_or_default(),
            prefix,
            key_check,
        })
    }

    fn opens_with(&self, cipher: &Cipher) -> bool {
        cipher
            .open(&self.key_check, KEY_CHECK_BINDING)
            .is_ok_and(|plain| plain == KEY_CHECK_PLAINTEXT)
    }
}

/// Reads exactly `buffer.len()` bytes; an early end is `UnexpectedEof`.
fn read_all(input: &mut impl Read, buffer: &mut [u8], path: &Path) -> Result<()> {
    input.read_exact(buffer).map_err(|error| StoreError::Io {
        action: "cannot read the backup",
        path: path.to_owned(),
        error,
    })
}

fn is_truncation(error: &StoreError) -> bool {
    matches!(error, StoreError::Io { error, .. } if error.kind() == ErrorKind::UnexpectedEof)
}

/// Gathers records into segments and writes each sealed.
struct Sealer<W: Write> {
    encryptor: EncryptorBE32<XChaCha20Poly1305>,
    aad: Vec<u8>,
    segment: Vec<u8>,
    out: W,
}

impl<W: Write> Sealer<W> {
    fn push(&mut self, key: &[u8], value: &[u8]) -> std::io::Result<()> {
        self.segment
            .extend_from_slice(&(key.len() as u32).to_be_bytes());
        self.segment
            .extend_from_slice(&(value.len() as u32).to_be_bytes());
        self.segment.extend_from_slice(key);
        self.segment.extend_from_slice(value);
        if self.segment.len() >= SEGMENT_TARGET {
            self.seal_segment()?;
        }
        Ok(())
    }

    fn seal_segment(&mut self) -> std::io::Result<()> {
        let sealed = self
            .encryptor
            .encrypt_next(Payload {
                msg: &self.segment,
                aad: &self.aad,
            })
            .map_err(|_| std::io::Error::other("a backup holds at most 2^32 segments"))?;
        self.segment.clear();
        write_part(&mut self.out, PART, &sealed)
    }

    fn finish(mut self, summary: &Summary) -> std::io::Result<W> {
        if !self.segment.is_empty() {
            self.seal_segment()?;
        }
        let sealed = self
            .encryptor
            .encrypt_last(Payload {
                msg: &summary.encode(),
                aad: &self.aad,
            })
            .map_err(|_| std::io::Error::other("a backup holds at most 2^32 segments"))?;
        write_part(&mut self.out, LAST, &sealed)?;
        self.out.flush()?;
        Ok(self.out)
    }
}

fn write_part(out: &mut impl Write, kind: u8, sealed: &[u8]) -> std::io::Result<()> {
    out.write_all(&[kind])?;
    out.write_all(&(sealed.len() as u32).to_be_bytes())?;
    out.write_all(sealed)
}

/// Opens segments in order and hands back their records, then the summary.
struct Opener<R: Read> {
    decryptor: Option<DecryptorBE32<XChaCha20Poly1305>>,
    aad: Vec<u8>,
    input: R,
    path: PathBuf,
}

enum Part {
    Records(Vec<(Vec<u8>, Vec<u8>)>),
    Summary(Summary),
}

impl<R: Read> Opener<R> {
    fn damaged(&self, reason: &'static str) -> StoreError {
        BackupError::Damaged {
            path: self.path.clone(),
            reason,
        }
        .into()
    }

    fn next_part(&mut self) -> Result<Part> {
        const TRUNCATED: &str = "it ends before its last part: the file is truncated";
        let mut head = [0; 5];
        read_all(&mut self.input, &mut head, &self.path).map_err(|error| {
            if is_truncation(&error) {
                self.damaged(TRUNCATED)
            } else {
                error
            }
        })?;
        let length = u32::from_be_bytes(head[1..5].try_into().unwrap_or_default());
        if head[0] > LAST || length > MAX_SEGMENT {
            return Err(self.damaged("a part has an impossible kind or length"));
        }
        let mut sealed = vec![0; length as usize];
        read_all(&mut self.input, &mut sealed, &self.path).map_err(|error| {
            if is_truncation(&error) {
                self.damaged(TRUNCATED)
            } else {
                error
            }
        })?;
        let payload = Payload {
            msg: &sealed,
            aad: &self.aad,
        };
        let Some(decryptor) = self.decryptor.as_mut() else {
            return Err(self.damaged("it goes on after its last part"));
        };
        let opened = if head[0] == LAST {
            self.decryptor
                .take()
                .map(|decryptor| decryptor.decrypt_last(payload))
        } else {
            Some(decryptor.decrypt_next(payload))
        };
        let Some(Ok(plain)) = opened else {
            return Err(self.damaged(
                "a part fails its authentication check: the file was altered, damaged, or put together from pieces",
            ));
        };
        if head[0] == LAST {
            let summary = Summary::decode(&plain)
                .ok_or_else(|| self.damaged("its summary is not in the expected form"))?;
            let mut extra = [0; 1];
            match self.input.read(&mut extra) {
                Ok(0) => Ok(Part::Summary(summary)),
                Ok(_) => Err(self.damaged("it goes on after its last part")),
                Err(error) => Err(StoreError::Io {
                    action: "cannot read the backup",
                    path: self.path.clone(),
                    error,
                }),
            }
        } else {
            Ok(Part::Records(split_records(&plain).ok_or_else(|| {
                self.damaged("a part does not hold whole records")
            })?))
        }
    }
}

fn split_records(mut bytes: &[u8]) -> Option<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut records = Vec::new();
    while !bytes.is_empty() {
        let key_len = u32::from_be_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
        let value_len = u32::from_be_bytes(bytes.get(4..8)?.try_into().ok()?) as usize;
        let key = bytes.get(8..8 + key_len)?;
        let value = bytes.get(8 + key_len..8 + key_len + value_len)?;
        records.push((key.to_vec(), value.to_vec()));
        bytes = &bytes[8 + key_len + value_len..];
    }
    Some(records)
}

/// The folder a path is in, `.` for a bare file name.
pub(crate) fn folder_of(path: &Path) -> &Path {
    path.parent()
        .filter(|parent| !parent.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// Makes a rename, link or new file in `folder` durable.
pub(crate) fn sync_folder(folder: &Path) -> Result<()> {
    #[cfg(unix)]
    File::open(folder)
        .and_then(|folder| folder.sync_all())
        .map_err(|error| StoreError::Io {
            action: "cannot sync the folder",
            path: folder.to_owned(),
            error,
        })?;
    #[cfg(not(unix))]
    let _ = folder;
    Ok(())
}

/// A name for something temporary beside `path`, hidden, that says what it is.
pub(crate) fn temporary_prefix(path: &Path, what: &str) -> String {
    let name = path
        .file_name()
        .map_or_else(|| "crossroads".into(), |name| name.to_string_lossy());
    format!(".{name}.{what}-")
}

impl Store {
    /// Writes a consistent, encrypted snapshot of the whole database to `path`, which must not
    /// exist, while the store stays in use: writers wait only while records are copied (see the
    /// module's documentation). Blocking: call it on a blocking thread from async code.
    pub fn backup_to(&self, path: &Path) -> Result<BackupReport> {
        let started = Instant::now();
        if path.exists() {
            return Err(BackupError::Exists {
                path: path.to_owned(),
            }
            .into());
        }
        let folder = folder_of(path);
        let io = |action: &'static str, at: &Path| {
            let at = at.to_owned();
            move |error| StoreError::Io {
                action,
                path: at,
                error,
            }
        };
        let temporary = tempfile::Builder::new()
            .prefix(&temporary_prefix(path, "partial"))
            .tempfile_in(folder)
            .map_err(io("cannot create a temporary file in", folder))?;

        let taken_at = Utc::now();
        let header = Header::new(&self.cipher, taken_at);
        let mut out = BufWriter::with_capacity(1 << 20, temporary.as_file());
        out.write_all(&header.bytes)
            .map_err(io("cannot write the backup", temporary.path()))?;
        let mut sealer = Sealer {
            encryptor: self.cipher.encryptor(&header.prefix),
            aad: header.bytes.clone(),
            segment: Vec::with_capacity(SEGMENT_TARGET * 2),
            out,
        };
        let mut summary = Summary::default();
        let writers_paused = {
            let _no_writers = self
                .writers
                .write()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            let paused_at = Instant::now();
            for item in self.tree.iter() {
                let (key, value) = item?;
                summary.count(&key);
                sealer
                    .push(&key, &value)
                    .map_err(io("cannot write the backup", temporary.path()))?;
            }
            // Above every outbox sequence number handed out so far, copied or not.
            summary.id_floor = self.next_id()?;
            paused_at.elapsed()
        };
        sealer
            .finish(&summary)
            .map_err(io("cannot write the backup", temporary.path()))?;
        temporary
            .as_file()
            .sync_all()
            .map_err(io("cannot sync the backup", temporary.path()))?;
        let bytes = temporary
            .as_file()
            .metadata()
            .map_err(io("cannot read the size of", temporary.path()))?
            .len();
        temporary.persist_noclobber(path).map_err(|error| {
            if error.error.kind() == ErrorKind::AlreadyExists {
                BackupError::Exists {
                    path: path.to_owned(),
                }
                .into()
            } else {
                StoreError::Io {
                    action: "cannot put the backup in place at",
                    path: path.to_owned(),
                    error: error.error,
                }
            }
        })?;
        sync_folder(folder)?;
        Ok(BackupReport {
            path: path.to_owned(),
            bytes,
            records: summary.records,
            entries: summary.entries,
            profiles: summary.profiles,
            taken_at,
            writers_paused,
            took: started.elapsed(),
        })
    }

    /// Restores the backup at `from` into `options.path`, which must be missing or an empty
    /// folder, with the key `options` names (which must be the one the backup was made under;
    /// it is never created here). Everything is verified before the database appears under its
    /// path; on any error the path is left as it was.
    pub fn restore_from(options: &StoreOptions, from: &Path) -> Result<RestoreReport> {
        let started = Instant::now();
        let target = &options.path;
        if !is_missing_or_empty(target)? {
            return Err(BackupError::NotEmpty {
                path: target.clone(),
            }
            .into());
        }
        let (key, origin) = keyfile::resolve(&options.key_file, options.key_from_env.clone(), true)
            .map_err(|error| match error {
                KeyError::Missing { path } => BackupError::NoKey { key_file: path }.into(),
                other => StoreError::from(other),
            })?;
        let cipher = Cipher::new(&key);
        let file = File::open(from).map_err(|error| StoreError::Io {
            action: "cannot open the backup",
            path: from.to_owned(),
            error,
        })?;
        let mut input = BufReader::with_capacity(1 << 20, file);
        let header = Header::read(&mut input, from)?;
        if !header.opens_with(&cipher) {
            return Err(BackupError::WrongKey {
                path: from.to_owned(),
                taken_at: header.taken_at.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
                key_source: match origin {
                    super::KeyOrigin::Environment => KEY_ENV.to_owned(),
                    super::KeyOrigin::File(path) | super::KeyOrigin::Created(path) => {
                        path.display().to_string()
                    }
                },
            }
            .into());
        }

        let folder = folder_of(target);
        fs::create_dir_all(folder).map_err(|error| StoreError::Io {
            action: "cannot create the folder",
            path: folder.to_owned(),
            error,
        })?;
        // Removed on any error below; kept, and renamed into place, only once verified.
        let scratch = tempfile::Builder::new()
            .prefix(&temporary_prefix(target, "restoring"))
            .tempdir_in(folder)
            .map_err(|error| StoreError::Io {
                action: "cannot create a temporary folder in",
                path: folder.to_owned(),
                error,
            })?;
        let mut opener = Opener {
            decryptor: Some(cipher.decryptor(&header.prefix)),
            aad: header.bytes.clone(),
            input,
            path: from.to_owned(),
        };
        let mut found = Summary::default();
        let summary = {
            let db = super::sled_config(scratch.path(), options.cache_capacity_bytes)
                .open()
                .map_err(|error| StoreError::Open {
                    path: scratch.path().to_owned(),
                    error,
                })?;
            let tree = db.open_tree(TREE)?;
            let summary = loop {
                match opener.next_part()? {
                    Part::Records(records) => {
                        let mut batch = Batch::default();
                        for (key, value) in records {
                            found.count(&key);
                            batch.insert(key, value);
                        }
                        tree.apply_batch(batch)?;
                    }
                    Part::Summary(summary) => break summary,
                }
            };
            if (found.records, found.entries, found.profiles)
                != (summary.records, summary.entries, summary.profiles)
            {
                return Err(opener.damaged("it holds other records than its summary says"));
            }
            tree.insert(ID_FLOOR, &summary.id_floor.to_be_bytes())?;
            db.flush()?;
            summary
        };
        // A real open: the key check, the format, the count.
        {
            let restored = Store::open(&StoreOptions {
                path: scratch.path().to_owned(),
                ..options.clone()
            })?;
            let entries = restored.tree.scan_prefix([ENTRY]).count() as u64;
            if entries != summary.entries {
                return Err(opener.damaged("the restored copy does not hold every entry"));
            }
        }
        let scratch = scratch.keep();
        if let Err(error) = fs::rename(&scratch, target) {
            let _ = fs::remove_dir_all(&scratch);
            return Err(if error.kind() == ErrorKind::DirectoryNotEmpty {
                BackupError::NotEmpty {
                    path: target.clone(),
                }
                .into()
            } else {
                StoreError::Io {
                    action: "cannot put the restored database in place at",
                    path: target.clone(),
                    error,
                }
            });
        }
        sync_folder(folder)?;
        Ok(RestoreReport {
            path: target.clone(),
            records: summary.records,
            entries: summary.entries,
            profiles: summary.profiles,
            taken_at: header.taken_at,
            took: started.elapsed(),
        })
    }
}

fn is_missing_or_empty(path: &Path) -> Result<bool> {
    match fs::read_dir(path) {
        Ok(mut entries) => Ok(entries.next().is_none()),
        Err(error) if error.kind() == ErrorKind::NotFound => Ok(true),
        // A file, or something unreadable: not a place to restore into.
        Err(error) if error.kind() == ErrorKind::NotADirectory => Ok(false),
        Err(error) => Err(StoreError::Io {
            action: "cannot read the storage path",
            path: path.to_owned(),
            error,
        }),
    }
}
