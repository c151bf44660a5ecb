//! Load state, let the core decide, persist durably, then hand back what to send.
//!
//! Transports (Telegram, the terminal chat) call [`Service::handle`] with events they converted;
//! the scheduler calls [`Service::take_due`]. Neither sees sled or the core's internals.

pub mod scheduler;

use std::sync::Arc;

use chrono::{DateTime, Utc};
use tokio::sync::{Mutex, MutexGuard, Notify, watch};

use crate::{
    clock::Clock,
    content::Catalog,
    core::{
        command::Command,
        conversation::{Conversation, DeleteChoice, Incoming, Outcome},
        model::UserId,
        reply::Outbound,
        safety,
        voice::{Settings, Voice},
    },
    store::{Change, Store, StoreError, durability::Ticket},
};

/// Where a message came from. Only private chats are served; a group gets one line and a goodbye.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Chat {
    Private(UserId),
    Group,
}

/// Something a user did, already converted from the transport's terms.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// A command, and the message that carried it.
    Command(Command, Incoming),
    UnknownCommand(Incoming),
    Text(Incoming),
    Edited(Incoming),
    /// A sticker, photo, voice message or anything else that is not text.
    NonText,
    ButtonPressed {
        data: String,
    },
    /// Telegram reported that the user blocked the bot.
    Blocked,
    Unblocked,
}

impl Event {
    /// A label for the log: what kind of thing happened, never what it said.
    pub fn kind(&self) -> &'static str {
        match self {
            Event::Command(command, _) => command.name(),
            Event::UnknownCommand(_) => "unknown_command",
            Event::Text(_) => "text",
            Event::Edited(_) => "edited_text",
            Event::NonText => "non_text",
            Event::ButtonPressed { .. } => "button",
            Event::Blocked => "blocked",
            Event::Unblocked => "unblocked",
        }
    }
}

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
                vec![self.voice().plain(&self.catalog.messages.trouble)]
            }
        }
    }

    async fn try_handle(&self, chat: Chat, event: Event) -> Result<Vec<Outbound>, StoreError> {
        let Chat::Private(user_id) = chat else {
            // Nothing from a group is read or kept: one line, and the bot leaves.
            let conversation = Conversation::new(self.voice(), self.clock.now());
            return Ok(conversation.group_chat().outbound);
        };
        let _turn = self.lock(user_id).await;
        // The time is read under the lock, so a turn never acts on a moment before the last one.
        let conversation = Conversation::new(self.voice(), self.clock.now());
        let profile = self.store.profile(user_id)?;
        let outcome = match as_crisis_text(event) {
            Event::Command(Command::Recap, _) => {
                let (from, to) = conversation.recap_window();
                let entries = self.store.entries_between(user_id, from, to)?;
                conversation.recap(profile.as_ref(), &entries)
            }
            Event::Command(Command::Export, _) => {
                let entries = self.store.all_entries(user_id)?;
                conversation.export(profile.as_ref(), &entries)
            }
            Event::Command(Command::Delete, _) => {
                let count = self.store.count_entries(user_id)?;
                conversation.ask_to_delete(profile, count)
            }
            Event::Command(command, _) => conversation.command(user_id, profile, command),
            Event::UnknownCommand(_) => conversation.unknown_command(),
            Event::Text(incoming) => {
                let kept = self.store.entry(incoming.key(user_id))?;
                let concern = safety::assess(&incoming.text);
                conversation.text(user_id, profile, incoming, kept, concern)
            }
            Event::Edited(incoming) => {
                let kept = self.store.entry(incoming.key(user_id))?;
                let concern = safety::assess(&incoming.text);
                conversation.edited(incoming, kept, concern)
            }
            Event::NonText => conversation.non_text(),
            Event::ButtonPressed { data } => match DeleteChoice::decode(&data) {
                Some(choice) => conversation.delete_choice(profile, choice),
                None => conversation.stale_button(),
            },
            Event::Blocked => conversation.unreachable(profile),
            Event::Unblocked => conversation.reachable_again(profile),
        };
        self.persist(user_id, &outcome).await?;
        Ok(outcome.outbound)
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
        self.voice().plain(&self.catalog.messages.trouble)
    }

    /// A question taken at `asked_at` could not be delivered. It still counts as the day's (a
    /// question is never sent twice), but it is no longer open, so the user's next words are
    /// kept as a note rather than as the answer to a question they never saw.
    pub async fn question_not_delivered(&self, user_id: UserId, asked_at: DateTime<Utc>) {
        let _turn = self.lock(user_id).await;
        let closed = match self.store.profile(user_id) {
            Ok(Some(mut profile))
                if profile
                    .open_prompt
                    .as_ref()
                    .is_some_and(|open| open.sent_at == asked_at) =>
            {
                profile.open_prompt = None;
                self.persist(
                    user_id,
                    &Outcome {
                        profile: Some(profile),
                        ..Outcome::default()
                    },
                )
                .await
            }
            Ok(_) => Ok(()),
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
        let retention = chrono::Duration::days(i64::from(self.settings.retention_days));
        let Some(cutoff) = now.checked_sub_signed(retention) else {
            return Ok(0);
        };
        let (purged, ticket) = self.store.purge_entries_before(cutoff)?;
        self.store.durable(ticket).await?;
        Ok(purged)
    }
}

/// A crisis answer comes before any other flow: a command whose text sounds like a crisis
/// ("/time I can't go on") is answered as what it is, and its words are kept like any others.
fn as_crisis_text(event: Event) -> Event {
    match event {
        Event::Command(_, message) | Event::UnknownCommand(message)
            if safety::assess(&message.text) == safety::Concern::Crisis =>
        {
            Event::Text(message)
        }
        other => other,
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
