//! Queues each user's daily question when it falls due, hands the sender the messages whose
//! time in the chat is up (discreet mode), and runs the daily retention purge. The sender
//! delivers what is queued.
//!
//! It sleeps on the injected clock until the earliest due instant, or until a settings change
//! may have made something due sooner. Tests move a manual clock; nothing here waits on the
//! wall clock except through [`Clock`].

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::FutureExt as _;
use tokio_util::sync::CancellationToken;

use super::{PURGE_PAUSE, Purge, Service, cause_chain};

/// Users handled per pass: one flush each, and what a shutdown waits for.
const BATCH: usize = 500;

/// With nothing scheduled, look again after this long anyway.
const IDLE_RECHECK: Duration = Duration::hours(1);

/// After a storage error, wait this long before trying again rather than spinning.
const RETRY_AFTER_ERROR: Duration = Duration::seconds(30);

const PURGE_EVERY: Duration = Duration::days(1);

/// The first purge waits this long after a start: the start belongs to the updates and the
/// questions that waited while the bot was down. A purge cut short by a stop or a crash loses
/// nothing it did (each chunk is durable), so a bot that restarts often still purges.
const PURGE_AFTER_START: Duration = Duration::minutes(5);

/// How long the scheduler works on a purge before it looks at the due questions again.
const PURGE_SLICE: std::time::Duration = std::time::Duration::from_millis(200);

/// The scheduler stopped on its own, which it never should.
#[derive(Debug, thiserror::Error)]
#[error("the scheduler stopped unexpectedly; daily questions were no longer being sent")]
pub struct SchedulerFailed;

/// Runs the scheduler as its own task. If it ever dies, that is logged and `shutdown` is
/// cancelled, so the whole bot stops with an error and a service manager restarts it, rather
/// than answering messages while silently sending no more questions.
pub fn spawn_supervised(
    service: Arc<Service>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<Result<(), SchedulerFailed>> {
    tokio::spawn(async move {
        let ran = std::panic::AssertUnwindSafe(run(service, shutdown.clone()))
            .catch_unwind()
            .await;
        if ran.is_err() {
            tracing::error!(
                "the scheduler stopped unexpectedly; shutting down so the bot can be restarted"
            );
            shutdown.cancel();
            return Err(SchedulerFailed);
        }
        Ok(())
    })
}

pub async fn run(service: Arc<Service>, shutdown: CancellationToken) {
    let clock = Arc::clone(service.clock());
    let mut next_purge = clock.now() + PURGE_AFTER_START;
    let mut purge: Option<Purge> = None;
    loop {
        let now = clock.now();
        let healthy = queue_everything_due(&service, now, &shutdown).await;
        if purge.is_none() && now >= next_purge {
            purge = Some(Purge::new(now));
            next_purge = now + PURGE_EVERY;
        }
        if let Some(under_way) = purge.as_mut() {
            // One slice of the purge, then the due questions again: a long purge (a lowered
            // retention, a long outage) never holds a question back by more than a slice.
            match purge_slice(&service, under_way, &shutdown).await {
                Ok(false) => continue,
                Ok(true) => {
                    let purged = under_way.purged();
                    if purged > 0 {
                        tracing::info!(purged, "erased entries past the retention period");
                    }
                }
                Err(error) => {
                    tracing::error!(error = %cause_chain(&error), "retention purge failed")
                }
            }
            purge = None;
        }
        if healthy {
            service.mark_scheduled_through(now);
        }
        let wake = if healthy {
            match service.next_due() {
                Ok(Some(due)) => due.min(next_purge),
                Ok(None) => (now + IDLE_RECHECK).min(next_purge),
                Err(error) => {
                    tracing::error!(error = %cause_chain(&error), "cannot read the schedule");
                    now + RETRY_AFTER_ERROR
                }
            }
        } else {
            now + RETRY_AFTER_ERROR
        };
        if !wait(&service, wake, now, &shutdown).await {
            return;
        }
    }
}

/// Runs chunks of a purge for up to [`PURGE_SLICE`] of real time, pausing between them so that
/// replies get the disk and the core. Returns whether the purge is finished; a shutdown leaves
/// it where it is (each chunk is durable), for the next start to finish.
async fn purge_slice(
    service: &Service,
    purge: &mut Purge,
    shutdown: &CancellationToken,
) -> Result<bool, crossroads_store::StoreError> {
    let started = std::time::Instant::now();
    loop {
        if service.purge_step(purge).await? {
            return Ok(true);
        }
        tokio::select! {
            () = shutdown.cancelled() => return Ok(true),
            () = tokio::time::sleep(PURGE_PAUSE) => {}
        }
        if started.elapsed() >= PURGE_SLICE {
            return Ok(false);
        }
    }
}

/// Sleeps until `wake`, a schedule change, or shutdown. False means shut down.
async fn wait(
    service: &Service,
    wake: DateTime<Utc>,
    observed: DateTime<Utc>,
    shutdown: &CancellationToken,
) -> bool {
    if wake <= service.clock().now() {
        return !shutdown.is_cancelled();
    }
    tokio::select! {
        () = shutdown.cancelled() => false,
        () = service.clock().sleep_until(wake, observed) => true,
        () = service.schedule_changed().notified() => true,
    }
}

/// Returns false if storage failed, so the caller backs off.
async fn queue_everything_due(
    service: &Arc<Service>,
    now: DateTime<Utc>,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        // A batch taken is a batch promised: once shutting down, take no more.
        if shutdown.is_cancelled() {
            return true;
        }
        let count = match service.take_due(now, BATCH).await {
            Ok(count) => count,
            Err(error) => {
                tracing::error!(error = %cause_chain(&error), "cannot take due questions");
                return false;
            }
        };
        if count > 0 {
            tracing::info!(count, "queued due questions");
        }
        if count < BATCH {
            break;
        }
    }
    // Messages whose time in the chat is up (discreet mode) are handed to the sender.
    loop {
        if shutdown.is_cancelled() {
            return true;
        }
        match service.take_due_deletions(now, BATCH).await {
            Ok(count) if count < BATCH => return true,
            Ok(_) => {}
            Err(error) => {
                tracing::error!(error = %cause_chain(&error), "cannot take due deletions");
                return false;
            }
        }
    }
}
