//! Handles what waits in the inbox: each chat's updates in the order they came, chats in
//! parallel. The inbox itself is in the store; here is which chats have something waiting, and
//! the loop that gives each of them a worker.

use std::{
    collections::{HashMap, HashSet, VecDeque},
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, PoisonError},
};

use futures::FutureExt as _;
use tokio::sync::{Notify, Semaphore};
use tokio_util::{sync::CancellationToken, task::TaskTracker};

use crossroads_store::Received;

use super::{Service, cause_chain};

/// Chats handled at once. Each holds at most one user's lock, and their writes share flushes.
const CONCURRENT_CHATS: usize = 64;

/// Updates waiting, per chat, in memory; the store holds the same, durably.
#[derive(Default)]
pub struct Waiting {
    chats: Mutex<Chats>,
    added: Notify,
}

#[derive(Default)]
struct Chats {
    updates: HashMap<i64, VecDeque<Received>>,
    /// Chats a worker is on: nobody else takes their updates, so they stay in order.
    working: HashSet<i64>,
}

impl Waiting {
    fn lock(&self) -> std::sync::MutexGuard<'_, Chats> {
        self.chats.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn push(&self, received: Received) {
        let mut chats = self.lock();
        let queue = chats.updates.entry(received.chat_id).or_default();
        // A chat's updates stay in update order even if they were received out of it.
        let at = queue.partition_point(|waiting| waiting.update_id < received.update_id);
        if queue
            .get(at)
            .is_none_or(|waiting| waiting.update_id != received.update_id)
        {
            queue.insert(at, received);
        }
        drop(chats);
        self.added.notify_one();
    }

    /// A chat with updates and no worker, now given one.
    fn claim(&self) -> Option<i64> {
        let mut chats = self.lock();
        let chat_id = chats
            .updates
            .keys()
            .copied()
            .find(|chat_id| !chats.working.contains(chat_id))?;
        chats.working.insert(chat_id);
        Some(chat_id)
    }

    /// Puts an update back at the head of its chat, for a worker to try again.
    fn put_back(&self, received: Received) {
        let mut chats = self.lock();
        let queue = chats.updates.entry(received.chat_id).or_default();
        if queue
            .front()
            .is_none_or(|first| first.update_id != received.update_id)
        {
            queue.push_front(received);
        }
    }

    /// Lets a chat's worker go, whatever happened to it.
    fn release(&self, chat_id: i64) {
        let mut chats = self.lock();
        chats.working.remove(&chat_id);
        if chats.updates.get(&chat_id).is_some_and(VecDeque::is_empty) {
            chats.updates.remove(&chat_id);
        }
        drop(chats);
        self.added.notify_one();
    }

    /// The chat's next update, or `None` and the worker is let go.
    fn next(&self, chat_id: i64) -> Option<Received> {
        let mut chats = self.lock();
        let next = chats
            .updates
            .get_mut(&chat_id)
            .and_then(VecDeque::pop_front);
        if next.is_none() {
            chats.updates.remove(&chat_id);
            chats.working.remove(&chat_id);
        }
        next
    }

    /// How many updates wait to be handled.
    pub fn len(&self) -> usize {
        self.lock().updates.values().map(VecDeque::len).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Takes what waits in the inbox from before a stop. Called before anything is received, so
/// that an update is never both loaded here and pushed by a new receive.
pub fn restore(service: &Service) {
    match service.store.inbox() {
        Ok((waiting, unreadable)) => {
            if unreadable > 0 {
                tracing::error!(
                    unreadable,
                    "updates in the inbox cannot be read; they are skipped"
                );
            }
            if !waiting.is_empty() {
                tracing::info!(
                    count = waiting.len(),
                    "updates received before a stop were not handled yet; handling them"
                );
            }
            for received in waiting {
                service.waiting.push(received);
            }
        }
        Err(error) => tracing::error!(error = %cause_chain(&error), "cannot read the inbox"),
    }
}

/// How long a chat waits before its update is tried again after a storage error.
fn retry_delay(failures: u32) -> std::time::Duration {
    std::time::Duration::from_secs(1 << failures.min(5))
}

/// Runs until `shutdown`, then lets the workers finish the update each is on.
pub async fn run(service: Arc<Service>, bot_username: String, shutdown: CancellationToken) {
    let bot_username: Arc<str> = bot_username.into();
    let permits = Arc::new(Semaphore::new(CONCURRENT_CHATS));
    let workers = TaskTracker::new();
    loop {
        let added = service.waiting.added.notified();
        tokio::pin!(added);
        added.as_mut().enable();
        let permit = tokio::select! {
            () = shutdown.cancelled() => break,
            permit = Arc::clone(&permits).acquire_owned() => permit,
        };
        let Ok(permit) = permit else { break };
        let Some(chat_id) = service.waiting.claim() else {
            drop(permit);
            tokio::select! {
                () = shutdown.cancelled() => break,
                () = added => {}
            }
            continue;
        };
        let (service, bot_username, shutdown) = (
            Arc::clone(&service),
            Arc::clone(&bot_username),
            shutdown.clone(),
        );
        workers.spawn(async move {
            let _permit = permit;
            let mut failures = 0;
            // `next` lets the chat go when it has nothing left; a worker that stops early
            // lets it go itself.
            loop {
                let Some(received) = service.waiting.next(chat_id) else {
                    return;
                };
                if handle_one(&service, &bot_username, &received).await {
                    failures = 0;
                } else {
                    // The chat waits, in order, and tries again; the rest go on meanwhile.
                    service.waiting.put_back(received);
                    failures += 1;
                    tokio::select! {
                        () = shutdown.cancelled() => {}
                        () = tokio::time::sleep(retry_delay(failures)) => {}
                    }
                }
                if shutdown.is_cancelled() {
                    // What is left stays in the inbox for the next start.
                    service.waiting.release(chat_id);
                    return;
                }
            }
        });
    }
    workers.close();
    workers.wait().await;
}

/// Handles one update. False means a storage error: it stays in the inbox, to be tried again.
async fn handle_one(service: &Service, bot_username: &str, received: &Received) -> bool {
    let key = received.key();
    // A bug must cost this update its answer, never the chat's worker or the rest of the inbox.
    let handled = AssertUnwindSafe(service.handle_received(received, bot_username))
        .catch_unwind()
        .await;
    match handled {
        Ok(Ok(())) => true,
        Ok(Err(error)) => {
            tracing::error!(update_id = key.update_id, error = %cause_chain(&error), "could not handle an update; it stays in the inbox and is tried again");
            false
        }
        Err(_) => {
            tracing::error!(
                update_id = key.update_id,
                "handling an update failed inside; it is answered with an apology and let go"
            );
            let gave_up = AssertUnwindSafe(service.give_up_on(received))
                .catch_unwind()
                .await;
            if gave_up.is_err() {
                tracing::error!(
                    update_id = key.update_id,
                    "letting go of an update failed inside"
                );
            }
            true
        }
    }
}
