//! Load state, let the core decide, persist durably, then hand back what to send.
//!
//! Transports (Telegram, the terminal chat) call [`Service::handle`] with events they converted;
//! the scheduler calls [`Service::take_due`]. Neither sees sled or the core's internals: what
//! they need of storage (the polling offset, a flush at shutdown, the terminal chat's message
//! ids) is a method here.

pub mod scheduler;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use crossroads_core::{
    content::Catalog,
    conversation::{Conversation, EntrySpan, Loaded, Needs, Outcome, Turn},
    event::{Chat, Event},
    model::UserId,
    reply::Outbound,
    voice::{Settings, Voice},
};
use crossroads_store::{Change, Store, StoreError, Ticket};
use tokio::sync::{Mutex, MutexGuard, Notify, watch};

use crate::clock::Clock;

/// Per-user locks, sharded: an update and a scheduled question for the same user never
/// interleave their read-decide-write, and the table never grows with the number of users.
const LOCK_SHARDS: usize = 256;

pub struct Service {
    store: Arc<Store>,
    catalog: Catalog,
    settings: Settings,
    clock: Arc<dyn Clock>,
    locks: Vec<Mutex<()>>,
    schedule_changed: Notify,
    /// The latest time up to which every due question has been handled: what a test waits on
    /// after moving the clock, instead of sleeping.
    scheduled_through: watch::Sender<Option<DateTime<Utc>>>,
}

impl Service {
    pub fn new(
        store: Arc<Store>,
        catalog: Catalog,
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> Service {
        Service {
            store,
            catalog,
            settings,
            clock,
            locks: (0..LOCK_SHARDS).map(|_| Mutex::new(())).collect(),
            schedule_changed: Notify::new(),
            scheduled_through: watch::Sender::new(None),
        }
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// A service over a fresh encrypted store in `dir`, with the built-in dialogues and a clock
    /// that moves only when told to: what the service, audit, snapshot and benchmark tests all
    /// start from.
    #[cfg(any(test, feature = "test-support"))]
    pub fn for_tests(
        dir: &std::path::Path,
        settings: Settings,
        clock: &crate::clock::ManualClock,
    ) -> Arc<Service> {
        let key = crossroads_store::SecretKey::generate();
        let store = Store::open_with_key(&dir.join("db"), &key).expect("a store in a fresh folder");
        Arc::new(Service::new(
            Arc::new(store),
            Catalog::builtin().expect("the built-in dialogues are valid"),
            settings,
            Arc::new(clock.clone()),
        ))
    }

    /// The store itself, for tests that inspect what was written.
    #[cfg(any(test, feature = "test-support"))]
    pub fn store(&self) -> &Arc<Store> {
        &self.store
    }

    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }

    fn voice(&self) -> Voice<'_> {
        Voice::new(&self.catalog, &self.settings)
    }

    async fn lock(&self, user_id: UserId) -> MutexGuard<'_, ()> {
        self.locks[user_id.unsigned_abs() as usize % LOCK_SHARDS]
            .lock()
            .await
    }

    /// Handles one event and returns what to send. Never fails: a storage error is logged with
    /// its cause chain and the user gets a kind line saying their words may not be saved.
    pub async fn handle(&self, chat: Chat, event: Event) -> Vec<Outbound> {
        let kind = event.kind();
        match self.try_handle(chat, event).await {
            Ok(outbound) => outbound,
            Err(error) => {
                tracing::error!(event = kind, error = %cause_chain(&error), "could not handle an event");
                vec![self.trouble()]
            }
        }
    }

    async fn try_handle(&self, chat: Chat, event: Event) -> Result<Vec<Outbound>, StoreError> {
        let Chat::Private(user_id) = chat else {
            let conversation = Conversation::new(self.voice(), self.clock.now());
            return Ok(conversation.group_chat().outbound);
        };
        let _turn = self.lock(user_id).await;
        // The time is read under the lock, so a turn never acts on a moment before the last one.
        let conversation = Conversation::new(self.voice(), self.clock.now());
        let turn = conversation.read(user_id, event);
        let loaded = self.load(&turn, turn.needs(&conversation))?;
        let outcome = conversation.decide(turn, loaded);
        self.persist(user_id, &outcome).await?;
        Ok(outcome.outbound)
    }

    /// Loads what the core said a turn needs, and nothing else.
    fn load(&self, turn: &Turn, needs: Needs) -> Result<Loaded, StoreError> {
        let user_id = turn.user_id();
        Ok(Loaded {
            profile: self.store.profile(user_id)?,
            entries: match needs.entries {
                Some(EntrySpan::Between(from, to)) => {
                    self.store.entries_between(user_id, from, to)?
                }
                Some(EntrySpan::All) => self.store.all_entries(user_id)?,
                None => Vec::new(),
            },
            entry_count: if needs.entry_count {
                self.store.count_entries(user_id)?
            } else {
                0
            },
            kept: needs
                .kept
                .map(|key| self.store.entry(key))
                .transpose()?
                .flatten(),
        })
    }

    /// Writes the outcome and waits until it is on disk: nothing is acknowledged before that.
    async fn persist(&self, user_id: UserId, outcome: &Outcome) -> Result<(), StoreError> {
        if let Some(ticket) = self.write(user_id, outcome)? {
            self.store.durable(ticket).await?;
        }
        Ok(())
    }

    /// Applies an outcome's changes; the ticket must be redeemed before anything is sent.
    fn write(&self, user_id: UserId, outcome: &Outcome) -> Result<Option<Ticket>, StoreError> {
        if !outcome.writes_anything() {
            return Ok(None);
        }
        let ticket = if outcome.erase_user {
            self.store.erase_user(user_id)?
        } else {
            self.store.apply(Change {
                profile: outcome.profile.as_ref(),
                entry: outcome.entry.as_ref(),
            })?
        };
        if outcome.profile.is_some() || outcome.erase_user {
            self.schedule_changed.notify_one();
        }
        Ok(Some(ticket))
    }

    /// Takes up to `limit` questions that are due now. Every user's new state is saved, and the
    /// whole batch made durable with one flush, before any question is returned: a crash can
    /// lose a question but never send it twice.
    pub async fn take_due(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(UserId, Vec<Outbound>)>, StoreError> {
        let mut ready = Vec::new();
        let mut last_ticket = None;
        for (at, user_id) in self.store.due_until(now, limit)? {
            let _turn = self.lock(user_id).await;
            let profile = self.store.profile(user_id)?;
            let Some(profile) = profile.filter(|profile| {
                profile
                    .next_due
                    .is_some_and(|due| due.at.timestamp() == at.timestamp())
            }) else {
                // The profile moved on (or is gone) since this index entry was written.
                self.store.forget_due(at, user_id)?;
                continue;
            };
            let outcome = Conversation::new(self.voice(), now).due(profile);
            last_ticket = self.write(user_id, &outcome)?.or(last_ticket);
            if !outcome.outbound.is_empty() {
                ready.push((user_id, outcome.outbound));
            }
        }
        if let Some(ticket) = last_ticket {
            self.store.durable(ticket).await?;
        }
        Ok(ready)
    }

    /// The kind line for when something went wrong on our side.
    pub fn trouble(&self) -> Outbound {
        Conversation::new(self.voice(), self.clock.now()).trouble()
    }

    /// A question taken at `asked_at` could not be delivered: it is closed, so the user's next
    /// words are not kept as the answer to a question they never saw.
    pub async fn question_not_delivered(&self, user_id: UserId, asked_at: DateTime<Utc>) {
        let _turn = self.lock(user_id).await;
        let closed = match self.store.profile(user_id) {
            Ok(profile) => {
                let outcome = Conversation::new(self.voice(), self.clock.now())
                    .not_delivered(profile, asked_at);
                self.persist(user_id, &outcome).await
            }
            Err(error) => Err(error),
        };
        if let Err(error) = closed {
            tracing::error!(chat_id = user_id, error = %cause_chain(&error), "cannot close an undelivered question");
        }
    }

    /// Telegram refused to deliver because the user blocked the bot.
    pub async fn mark_unreachable(&self, user_id: UserId) {
        if !self
            .handle(Chat::Private(user_id), Event::Blocked)
            .await
            .is_empty()
        {
            tracing::warn!(
                chat_id = user_id,
                "marking a user unreachable produced replies; none were sent"
            );
        }
    }

    /// When the scheduler next has something to do.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        self.store.earliest_due()
    }

    /// Records that every question due by `now` has been sent (or skipped).
    pub fn mark_scheduled_through(&self, now: DateTime<Utc>) {
        self.scheduled_through.send_replace(Some(now));
    }

    /// Resolves once the scheduler has handled everything due by `at`.
    pub async fn scheduled_through(&self, at: DateTime<Utc>) {
        let mut progress = self.scheduled_through.subscribe();
        // The sender lives as long as the service.
        let _ = progress
            .wait_for(|through| through.is_some_and(|through| through >= at))
            .await;
    }

    /// Wakes when a profile was saved, since its question may now come earlier.
    pub fn schedule_changed(&self) -> &Notify {
        &self.schedule_changed
    }

    /// Erases entries older than the retention period. Returns how many.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        // A check-in is kept for a day; this reaches the profiles nothing else reads.
        let (_, ticket) = self.store.forget_stale_check_ins(now)?;
        self.store.durable(ticket).await?;
        let retention = chrono::Duration::days(i64::from(self.settings.retention_days));
        let Some(cutoff) = now.checked_sub_signed(retention) else {
            return Ok(0);
        };
        let (purged, ticket) = self.store.purge_entries_before(cutoff)?;
        self.store.durable(ticket).await?;
        Ok(purged)
    }

    /// The next Telegram update to ask for, as saved.
    pub fn update_offset(&self) -> Result<Option<i32>, StoreError> {
        self.store.update_offset()
    }

    /// Saves the polling offset and waits until it is on disk: only then may Telegram be told
    /// to forget the updates below it.
    pub async fn save_update_offset(&self, offset: i32) -> Result<(), StoreError> {
        let ticket = self.store.set_update_offset(offset)?;
        self.store.durable(ticket).await
    }

    /// Makes everything written so far durable: the last step of a clean stop.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.store.flush().await
    }

    /// The highest message id kept for a user: the terminal chat numbers its messages on from
    /// it, since an entry is keyed by its message.
    pub fn highest_message_id(&self, user_id: UserId) -> Result<Option<i32>, StoreError> {
        Ok(self
            .store
            .all_entries(user_id)?
            .iter()
            .map(|entry| entry.message_id)
            .max())
    }
}

/// "outer: inner: innermost", for one log line that explains a failure.
pub fn cause_chain(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests;
