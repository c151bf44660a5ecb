//! Long polling that loses nothing.
//!
//! teloxide's own polling asks Telegram for the next batch as soon as the current one is handed
//! to the workers, and asking with a higher offset is what makes Telegram forget the earlier
//! updates: a crash then loses whatever was still being handled. Here the next batch is asked
//! for only when every update handed out so far has been handled, and the offset is saved
//! durably first. A crash means Telegram delivers the unfinished batch again, and handlers are
//! idempotent (an entry is keyed by its Telegram message), so nothing is lost or doubled.

use std::{
    collections::VecDeque,
    convert::Infallible,
    sync::{
        Arc,
        atomic::{AtomicI32, AtomicUsize, Ordering},
    },
    time::Duration,
};

use teloxide::{
    prelude::*,
    stop::{StopFlag, StopToken, mk_stop_token},
    types::{AllowedUpdate, UpdateKind},
    update_listeners::{StatefulListener, UpdateListener},
};
use tokio::sync::Notify;

use super::{
    telegram::Api,
    updates::{self, FetchError, Fetched},
};
use crate::service::{Service, cause_chain};

/// Updates handed to the dispatcher and not yet handled.
#[derive(Default)]
pub(crate) struct InFlight {
    count: AtomicUsize,
    idle: Notify,
}

/// Marks one update handled when dropped, whatever path the handler took.
pub(crate) struct Handled(Arc<InFlight>);

impl Drop for Handled {
    fn drop(&mut self) {
        if self.0.count.fetch_sub(1, Ordering::SeqCst) == 1 {
            self.0.idle.notify_waiters();
        }
    }
}

impl InFlight {
    fn begin(&self) {
        self.count.fetch_add(1, Ordering::SeqCst);
    }

    /// Taken by the handler at its start; the update counts as handled when it is dropped.
    pub(crate) fn handling(self: &Arc<Self>) -> Handled {
        Handled(Arc::clone(self))
    }

    async fn wait_idle(&self) {
        loop {
            let notified = self.idle.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.count.load(Ordering::SeqCst) == 0 {
                return;
            }
            notified.await;
        }
    }
}

/// What the bot listens to; everything else Telegram never sends.
pub(crate) const ALLOWED_UPDATES: [AllowedUpdate; 4] = [
    AllowedUpdate::Message,
    AllowedUpdate::EditedMessage,
    AllowedUpdate::CallbackQuery,
    AllowedUpdate::MyChatMember,
];

/// A handler that never finishes must not stop the bot forever: after this long the next
/// batch is fetched anyway, and the stuck update may be delivered again after a crash.
const STUCK_HANDLER_LIMIT: Duration = Duration::from_secs(300);

/// Backoff after a failed getUpdates: 1, 2, 4 … 64 seconds.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1 << failures.min(6))
}

struct Polling {
    api: Api,
    service: Arc<Service>,
    in_flight: Arc<InFlight>,
    next_offset: Arc<AtomicI32>,
    saved_offset: Option<i32>,
    timeout_secs: u32,
    buffer: VecDeque<Item>,
    failures: u32,
    flag: StopFlag,
}

/// What a batch holds, in Telegram's order: an update to hand out, or the id of one that could
/// not be read, which the offset must still move past when its turn comes.
enum Item {
    Update(Box<Update>),
    Unreadable(i64),
}

/// How to stop the listener, and the offset it reached: every update below it was handed out,
/// so once the dispatcher has finished them it is safe to save.
pub(crate) struct Control {
    pub(crate) stop: StopToken,
    pub(crate) next_offset: Arc<AtomicI32>,
}

pub(crate) fn listener(
    api: Api,
    service: Arc<Service>,
    in_flight: Arc<InFlight>,
    timeout_secs: u32,
) -> Result<(impl UpdateListener<Err = Infallible> + Send, Control), crossroads_store::StoreError> {
    let start = service.update_offset()?.unwrap_or(0);
    let next_offset = Arc::new(AtomicI32::new(start));
    let (stop, flag) = mk_stop_token();
    let polling = Polling {
        api,
        service,
        in_flight,
        next_offset: Arc::clone(&next_offset),
        saved_offset: Some(start),
        timeout_secs,
        buffer: VecDeque::new(),
        failures: 0,
        flag,
    };
    let listener = StatefulListener::new(
        (Some(polling), stop.clone()),
        |(polling, _): &mut (Option<Polling>, StopToken)| {
            futures::stream::unfold(polling.take(), |polling| async move {
                let mut polling = polling?;
                let update = polling.next().await?;
                Some((Ok::<_, Infallible>(update), Some(polling)))
            })
        },
        |(_, stop): &mut (Option<Polling>, StopToken)| stop.clone(),
    );
    Ok((listener, Control { stop, next_offset }))
}

impl Polling {
    async fn next(&mut self) -> Option<Update> {
        loop {
            match self.buffer.pop_front() {
                Some(Item::Update(update)) => {
                    self.in_flight.begin();
                    self.next_offset
                        .store(update.id.as_offset(), Ordering::SeqCst);
                    return Some(*update);
                }
                Some(Item::Unreadable(update_id)) => {
                    let next = i32::try_from(update_id.saturating_add(1)).unwrap_or(i32::MAX);
                    self.next_offset.fetch_max(next, Ordering::SeqCst);
                    continue;
                }
                None => {}
            }
            if self.flag.is_stopped() {
                return None;
            }
            let flag = self.flag.clone();
            tokio::select! {
                () = flag => return None,
                finished = tokio::time::timeout(STUCK_HANDLER_LIMIT, self.in_flight.wait_idle()) => {
                    if finished.is_err() {
                        tracing::warn!("an update is still being handled after 5 minutes; fetching more anyway");
                    }
                }
            }
            self.save_offset().await;
            let offset = self.next_offset.load(Ordering::SeqCst);
            let request = updates::fetch(
                self.api.inner(),
                offset,
                self.timeout_secs,
                &ALLOWED_UPDATES,
            );
            let flag = self.flag.clone();
            let result = tokio::select! {
                () = flag => return None,
                result = request => result,
            };
            match result {
                Ok(fetched) => {
                    self.failures = 0;
                    self.take_batch(fetched);
                }
                Err(error) => {
                    let delay = self.failure_delay(&error);
                    tracing::warn!(error = %error, retry_in_secs = delay.as_secs(), "getUpdates failed");
                    let flag = self.flag.clone();
                    tokio::select! {
                        () = flag => return None,
                        () = tokio::time::sleep(delay) => {}
                    }
                }
            }
        }
    }

    fn take_batch(&mut self, fetched: Fetched) {
        // Only ids and kinds are logged: an update holds what a user wrote.
        for skipped in &fetched.skipped {
            tracing::warn!(
                update_id = skipped.update_id,
                kind = %skipped.kind,
                "skipping an update that cannot be read"
            );
        }
        let mut items: Vec<(i64, Item)> = fetched
            .skipped
            .into_iter()
            .filter_map(|skipped| skipped.update_id)
            .map(|id| (id, Item::Unreadable(id)))
            .collect();
        for update in fetched.updates {
            let id = i64::from(update.id.0);
            if let UpdateKind::Error(_) = update.kind {
                tracing::warn!(
                    update_id = update.id.0,
                    "skipping an update of a kind this version does not know"
                );
                items.push((id, Item::Unreadable(id)));
                continue;
            }
            items.push((id, Item::Update(Box::new(update))));
        }
        items.sort_by_key(|(id, _)| *id);
        self.buffer.extend(items.into_iter().map(|(_, item)| item));
    }

    fn failure_delay(&mut self, error: &FetchError) -> Duration {
        if let FetchError::Refused {
            retry_after: Some(wait),
            ..
        } = error
        {
            return *wait;
        }
        let delay = backoff(self.failures);
        self.failures = self.failures.saturating_add(1);
        delay
    }

    /// Makes the offset durable before Telegram is told, by asking with it, to forget what lies below.
    async fn save_offset(&mut self) {
        let offset = self.next_offset.load(Ordering::SeqCst);
        if self.saved_offset == Some(offset) {
            return;
        }
        match self.service.save_update_offset(offset).await {
            Ok(()) => self.saved_offset = Some(offset),
            Err(error) => {
                tracing::error!(error = %cause_chain(&error), "cannot save the update offset")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn waits_until_every_handed_out_update_is_handled() {
        let in_flight = Arc::new(InFlight::default());
        in_flight.wait_idle().await;
        in_flight.begin();
        in_flight.begin();
        let first = in_flight.handling();
        let second = in_flight.handling();
        let waiter = {
            let in_flight = Arc::clone(&in_flight);
            tokio::spawn(async move { in_flight.wait_idle().await })
        };
        drop(first);
        tokio::task::yield_now().await;
        assert!(!waiter.is_finished());
        drop(second);
        waiter.await.unwrap();
    }

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let delays: Vec<u64> = (0..9).map(|failures| backoff(failures).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
    }
}
