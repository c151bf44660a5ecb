//! Sends each user's daily question when it falls due, and runs the daily retention purge.
//!
//! It sleeps on the injected clock until the earliest due instant, or until a settings change
//! may have made something due sooner. Tests move a manual clock; nothing here waits on the
//! wall clock except through [`Clock`].

use std::sync::Arc;

use chrono::{DateTime, Duration, Utc};
use futures::{FutureExt as _, StreamExt, future::BoxFuture};
use tokio_util::sync::CancellationToken;

use super::{Service, cause_chain};
use crossroads_core::{model::UserId, reply::Outbound};

/// How a delivery went, in the terms the scheduler acts on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    Delivered,
    /// The user blocked the bot or deleted their account: stop sending, keep their data.
    Unreachable,
    /// Anything else; already logged by the transport.
    Failed,
}

/// Whatever can deliver messages to a user: Telegram, or the terminal.
pub trait Outbox: Send + Sync {
    fn deliver(&self, user_id: UserId, messages: Vec<Outbound>) -> BoxFuture<'_, Delivery>;
}

/// Users handled per pass. Each pass is saved before it is sent, so it is also what a shutdown
/// waits for, and how long a question can be recorded as open before it arrives: about three
/// seconds at Telegram's 30 messages a second.
const BATCH: usize = 100;

/// Deliveries in flight at once. Throttling to Telegram's limits happens below, in the
/// transport; this only keeps enough requests queued for it to stay busy.
const CONCURRENT_DELIVERIES: usize = 32;

/// With nothing scheduled, look again after this long anyway.
const IDLE_RECHECK: Duration = Duration::hours(1);

/// After a storage error, wait this long before trying again rather than spinning.
const RETRY_AFTER_ERROR: Duration = Duration::seconds(30);

const PURGE_EVERY: Duration = Duration::days(1);

/// The scheduler stopped on its own, which it never should.
#[derive(Debug, thiserror::Error)]
#[error("the scheduler stopped unexpectedly; daily questions were no longer being sent")]
pub struct SchedulerFailed;

/// Runs the scheduler as its own task. If it ever dies, that is logged and `shutdown` is
/// cancelled, so the whole bot stops with an error and a service manager restarts it, rather
/// than answering messages while silently sending no more questions.
pub fn spawn_supervised(
    service: Arc<Service>,
    outbox: Arc<dyn Outbox>,
    shutdown: CancellationToken,
) -> tokio::task::JoinHandle<Result<(), SchedulerFailed>> {
    tokio::spawn(async move {
        let ran = std::panic::AssertUnwindSafe(run(service, outbox, shutdown.clone()))
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

pub async fn run(service: Arc<Service>, outbox: Arc<dyn Outbox>, shutdown: CancellationToken) {
    let clock = Arc::clone(service.clock());
    let mut next_purge = clock.now();
    loop {
        let now = clock.now();
        let healthy = deliver_everything_due(&service, &outbox, now, &shutdown).await;
        if now >= next_purge {
            match service.purge_expired(now).await {
                Ok(0) => {}
                Ok(purged) => tracing::info!(purged, "erased entries past the retention period"),
                Err(error) => {
                    tracing::error!(error = %cause_chain(&error), "retention purge failed")
                }
            }
            next_purge = now + PURGE_EVERY;
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
async fn deliver_everything_due(
    service: &Arc<Service>,
    outbox: &Arc<dyn Outbox>,
    now: DateTime<Utc>,
    shutdown: &CancellationToken,
) -> bool {
    loop {
        // A batch taken is a batch promised: once shutting down, take no more.
        if shutdown.is_cancelled() {
            return true;
        }
        let ready = match service.take_due(now, BATCH).await {
            Ok(ready) => ready,
            Err(error) => {
                tracing::error!(error = %cause_chain(&error), "cannot take due questions");
                return false;
            }
        };
        if ready.is_empty() {
            return true;
        }
        let count = ready.len();
        futures::stream::iter(ready)
            .for_each_concurrent(CONCURRENT_DELIVERIES, |(user_id, messages)| async move {
                match outbox.deliver(user_id, messages).await {
                    Delivery::Delivered => {}
                    Delivery::Unreachable => service.mark_unreachable(user_id).await,
                    // The question never arrived: the next words must not count as its answer.
                    Delivery::Failed => service.question_not_delivered(user_id, now).await,
                }
            })
            .await;
        tracing::info!(count, "sent due questions");
        if count < BATCH {
            return true;
        }
    }
}
