//! The running bot's own backups: every `[backup] every`, a consistent, encrypted snapshot of
//! the database written to `[backup] dir` as `crossroads-YYYYMMDDTHHMMSSZ.backup`, then all but
//! the newest `keep` deleted. The store makes the snapshot (see `crossroads_store::Store::
//! backup_to`: writers pause while records are copied, readers never); this module only decides
//! when, names, rotates and logs. It logs paths, sizes, counts and durations, never user text.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
    time::Duration,
};

use chrono::{DateTime, NaiveDateTime, Utc};
use crossroads_store::{BackupReport, Store, StoreError};
use tokio_util::sync::CancellationToken;

use crate::service::cause_chain;

const NAME_PREFIX: &str = "crossroads-";
const NAME_SUFFIX: &str = ".backup";
const NAME_TIME: &str = "%Y%m%dT%H%M%SZ";

/// After a failed backup, the next attempt comes this soon (or after `every`, if sooner).
const RETRY_AFTER: Duration = Duration::from_secs(10 * 60);

/// Where, how often, how many: `[backup]` in the config, checked there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackupOptions {
    pub dir: PathBuf,
    pub every: Duration,
    pub keep: usize,
}

/// `crossroads-20261201T030000Z.backup`: names sort in the order the backups were taken.
pub fn file_name(taken_at: DateTime<Utc>) -> String {
    format!("{NAME_PREFIX}{}{NAME_SUFFIX}", taken_at.format(NAME_TIME))
}

/// When a backup of ours was taken, from its name; `None` for any other file.
pub fn taken_at(name: &str) -> Option<DateTime<Utc>> {
    let time = name.strip_prefix(NAME_PREFIX)?.strip_suffix(NAME_SUFFIX)?;
    NaiveDateTime::parse_from_str(time, NAME_TIME)
        .ok()
        .map(|time| time.and_utc())
}

/// Our backups in `dir`, oldest first. A missing folder holds none.
pub fn list(dir: &Path) -> std::io::Result<Vec<(DateTime<Utc>, PathBuf)>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut found = Vec::new();
    for entry in entries {
        let entry = entry?;
        if let Some(at) = entry.file_name().to_str().and_then(taken_at)
            && entry.file_type()?.is_file()
        {
            found.push((at, entry.path()));
        }
    }
    found.sort();
    Ok(found)
}

/// Deletes all but the newest `keep` of our backups in `dir`, and what a backup interrupted by
/// a crash left (a hidden `.crossroads-….backup.partial-…` file). Returns what was deleted.
pub fn prune(dir: &Path, keep: usize) -> std::io::Result<Vec<PathBuf>> {
    let backups = list(dir)?;
    let mut deleted = Vec::new();
    for (_, path) in backups.iter().take(backups.len().saturating_sub(keep)) {
        std::fs::remove_file(path)?;
        deleted.push(path.clone());
    }
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let partial = entry.file_name().to_str().is_some_and(|name| {
            name.strip_prefix('.')
                .and_then(|name| name.split_once(&format!("{NAME_SUFFIX}.partial-")))
                .is_some_and(|(ours, _)| taken_at(&format!("{ours}{NAME_SUFFIX}")).is_some())
        });
        if partial {
            std::fs::remove_file(entry.path())?;
            deleted.push(entry.path());
        }
    }
    Ok(deleted)
}

/// One backup now into `options.dir` (created if missing), then the rotation. Blocking.
pub fn back_up_now(
    store: &Store,
    options: &BackupOptions,
    now: DateTime<Utc>,
) -> Result<(BackupReport, Vec<PathBuf>), StoreError> {
    let io = |action: &'static str| {
        let path = options.dir.clone();
        move |error| StoreError::Io {
            action,
            path,
            error,
        }
    };
    std::fs::create_dir_all(&options.dir).map_err(io("cannot create the backup folder"))?;
    let report = store.backup_to(&options.dir.join(file_name(now)))?;
    // Never the one just written, whatever `keep` says (the config allows no less than 1).
    let deleted =
        prune(&options.dir, options.keep.max(1)).map_err(io("cannot rotate the backups in"))?;
    Ok((report, deleted))
}

/// How long to wait before the first backup: `every` after the newest one already in the
/// folder, so restarts neither skip backups nor pile them up; at once if there is none, or it
/// is older than that.
pub fn first_wait(dir: &Path, every: Duration, now: DateTime<Utc>) -> Duration {
    let newest = list(dir)
        .ok()
        .and_then(|backups| backups.last().map(|(at, _)| *at));
    match newest {
        Some(at) => {
            let due = at + chrono::Duration::from_std(every).unwrap_or(chrono::Duration::MAX);
            (due - now).to_std().unwrap_or(Duration::ZERO)
        }
        None => Duration::ZERO,
    }
}

/// Backs the store up every `options.every` until `shutdown`, keeping the newest
/// `options.keep`. The copy runs on a blocking thread; a backup under way when `shutdown`
/// comes is finished first, so no half backup is left behind (it takes a second or so). A
/// failure is logged and tried again after ten minutes (or `every`, if sooner); it never stops
/// the bot.
pub async fn run_periodic(store: Arc<Store>, options: BackupOptions, shutdown: CancellationToken) {
    let mut wait = first_wait(&options.dir, options.every, Utc::now());
    tracing::info!(
        dir = %options.dir.display(),
        every_s = options.every.as_secs(),
        keep = options.keep,
        first_in_s = wait.as_secs(),
        "periodic backups on"
    );
    loop {
        tokio::select! {
            _ = shutdown.cancelled() => return,
            _ = tokio::time::sleep(wait) => {}
        }
        let job = {
            let store = Arc::clone(&store);
            let options = options.clone();
            tokio::task::spawn_blocking(move || back_up_now(&store, &options, Utc::now()))
        };
        wait = match job.await {
            Ok(Ok((report, deleted))) => {
                tracing::info!(
                    path = %report.path.display(),
                    bytes = report.bytes,
                    records = report.records,
                    entries = report.entries,
                    profiles = report.profiles,
                    writers_paused_ms = report.writers_paused.as_millis() as u64,
                    took_ms = report.took.as_millis() as u64,
                    deleted = deleted.len(),
                    "backup written"
                );
                options.every
            }
            Ok(Err(error)) => {
                let retry = RETRY_AFTER.min(options.every);
                tracing::error!(error = %cause_chain(&error), retry_in_s = retry.as_secs(), "backup failed");
                retry
            }
            Err(join) => {
                let retry = RETRY_AFTER.min(options.every);
                tracing::error!(error = %join, retry_in_s = retry.as_secs(), "backup task failed");
                retry
            }
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crossroads_store::{SecretKey, StoreOptions};

    fn at(text: &str) -> DateTime<Utc> {
        text.parse().unwrap()
    }

    #[test]
    fn names_sort_by_time_and_say_when_they_were_taken() {
        let name = file_name(at("2026-12-01T03:04:05Z"));
        assert_eq!(name, "crossroads-20261201T030405Z.backup");
        assert_eq!(taken_at(&name), Some(at("2026-12-01T03:04:05Z")));
        assert!(file_name(at("2026-12-01T23:59:59Z")) < file_name(at("2026-12-02T00:00:00Z")));
        for other in [
            "crossroads-20261201T030405Z.backup.partial-x",
            "crossroads-yesterday.backup",
            "notes.txt",
            "crossroads.backup",
        ] {
            assert_eq!(taken_at(other), None, "{other}");
        }
    }

    #[test]
    fn pruning_keeps_the_newest_and_nothing_else_of_ours() {
        let dir = tempfile::tempdir().unwrap();
        for day in 1..=9 {
            let name = file_name(at(&format!("2026-11-0{day}T03:00:00Z")));
            std::fs::write(dir.path().join(name), "b").unwrap();
        }
        std::fs::write(dir.path().join("notes.txt"), "mine").unwrap();
        std::fs::write(dir.path().join("crossroads-old.backup"), "mine too").unwrap();
        let partial = dir
            .path()
            .join(".crossroads-20261109T030000Z.backup.partial-AbC123");
        std::fs::write(&partial, "half").unwrap();
        let deleted = prune(dir.path(), 3).unwrap();
        assert_eq!(deleted.len(), 7, "{deleted:?}");
        let kept: Vec<String> = list(dir.path())
            .unwrap()
            .into_iter()
            .map(|(_, path)| path.file_name().unwrap().to_string_lossy().into_owned())
            .collect();
        assert_eq!(
            kept,
            [
                "crossroads-20261107T030000Z.backup",
                "crossroads-20261108T030000Z.backup",
                "crossroads-20261109T030000Z.backup"
            ]
        );
        assert!(dir.path().join("notes.txt").exists());
        assert!(dir.path().join("crossroads-old.backup").exists());
        assert!(!partial.exists());
    }

    #[test]
    fn the_first_backup_comes_every_after_the_newest_or_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let every = Duration::from_secs(24 * 3600);
        let now = at("2026-12-01T12:00:00Z");
        assert_eq!(first_wait(dir.path(), every, now), Duration::ZERO);
        assert_eq!(
            first_wait(&dir.path().join("missing"), every, now),
            Duration::ZERO
        );
        std::fs::write(dir.path().join(file_name(at("2026-12-01T03:00:00Z"))), "b").unwrap();
        assert_eq!(
            first_wait(dir.path(), every, now),
            Duration::from_secs(15 * 3600)
        );
        std::fs::write(dir.path().join(file_name(at("2026-11-20T03:00:00Z"))), "b").unwrap();
        assert_eq!(
            first_wait(dir.path(), every, now),
            Duration::from_secs(15 * 3600),
            "the newest counts"
        );
        assert_eq!(
            first_wait(dir.path(), every, at("2026-12-03T00:00:00Z")),
            Duration::ZERO
        );
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn the_running_bot_backs_up_on_time_keeps_the_newest_and_stops_on_shutdown() {
        let dir = tempfile::tempdir().unwrap();
        let key = SecretKey::generate();
        let store = Arc::new(Store::open_with_key(&dir.path().join("db"), &key).unwrap());
        let options = BackupOptions {
            dir: dir.path().join("backups"),
            // Names have a second's resolution: a little more than a second apart.
            every: Duration::from_millis(1100),
            keep: 2,
        };
        let shutdown = CancellationToken::new();
        let running = tokio::spawn(run_periodic(
            Arc::clone(&store),
            options.clone(),
            shutdown.clone(),
        ));
        tokio::time::sleep(Duration::from_millis(3600)).await;
        shutdown.cancel();
        tokio::time::timeout(Duration::from_secs(5), running)
            .await
            .expect("stops on shutdown")
            .unwrap();
        let kept = list(&options.dir).unwrap();
        assert_eq!(kept.len(), 2, "{kept:?}");
        assert!(kept[1].0 - kept[0].0 >= chrono::Duration::seconds(1));
        for (_, path) in kept {
            let elsewhere = tempfile::tempdir().unwrap();
            let restored = Store::restore_from(
                &StoreOptions {
                    path: elsewhere.path().join("db"),
                    key_file: elsewhere.path().join("unused.key"),
                    key_from_env: Some(key.to_hex()),
                    cache_capacity_bytes: 8 * 1024 * 1024,
                },
                &path,
            )
            .unwrap();
            assert_eq!(restored.entries, 0);
        }
        let none_kept = BackupOptions {
            keep: 0,
            ..options.clone()
        };
        let (report, _) =
            back_up_now(&store, &none_kept, Utc::now() + chrono::Duration::hours(1)).unwrap();
        assert!(report.path.exists(), "the newest backup is never deleted");
    }
}
