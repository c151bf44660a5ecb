//! Load state, let the core decide, persist durably, then hand back what to send.
//!
//! Transports (Telegram, the terminal chat) call [`Service::handle`] with events they converted;
//! the scheduler calls [`Service::take_due`]. Neither sees sled or the core's internals: what
//! they need of storage (the polling offset, a flush at shutdown, the terminal chat's message
//! ids) is a method here.

pub mod inbox;
pub mod parcel;
pub mod scheduler;
pub mod sender;

use std::{
    collections::HashSet,
    sync::{Arc, Mutex as StdMutex, PoisonError},
};

use chrono::{DateTime, Utc};
use crossroads_core::{
    content::Catalog,
    conversation::{Conversation, EntrySpan, Loaded, Needs, Outcome, Turn},
    event::{Chat, Event},
    model::UserId,
    reply::Outbound,
    voice::{Settings, Voice},
};
use crossroads_store::{
    Change, Delivered, Lane, OutboxKey, Parcel, Received, Store, StoreError, Ticket,
};
use tokio::sync::{Mutex, MutexGuard, Notify, watch};

use self::{
    inbox::Waiting,
    parcel::{Arrival, Shipment, Step},
    sender::Queue,
};
use crate::clock::Clock;

/// How long a seen update id and a delivered message id are remembered: Telegram keeps an
/// update for a day, and lets a bot delete its message for two.
const DELIVERY_MEMORY: chrono::Duration = chrono::Duration::hours(48);

/// Records one step of the retention purge erases or reads at most: a batch of a few hundred
/// KiB that takes milliseconds, so the purge holds little memory and never stalls a reply.
const PURGE_CHUNK: usize = 2_000;

/// The pause between two steps of a purge: the replies' share of the disk and the core.
const PURGE_PAUSE: std::time::Duration = std::time::Duration::from_millis(5);

/// A retention purge under way: which sweep it is in, and where that sweep has come to.
#[derive(Debug)]
pub struct Purge {
    now: DateTime<Utc>,
    stage: PurgeStage,
    cursor: Option<crossroads_store::Cursor>,
    purged: usize,
}

impl Purge {
    /// A purge of what has expired as of `now`.
    pub fn new(now: DateTime<Utc>) -> Purge {
        Purge {
            now,
            stage: PurgeStage::CheckIns,
            cursor: None,
            purged: 0,
        }
    }

    /// Entries erased so far.
    pub fn purged(&self) -> usize {
        self.purged
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PurgeStage {
    CheckIns,
    Asked,
    DeliveryRecords,
    Entries,
    Done,
}

impl PurgeStage {
    fn following(self) -> PurgeStage {
        match self {
            PurgeStage::CheckIns => PurgeStage::Asked,
            PurgeStage::Asked => PurgeStage::DeliveryRecords,
            PurgeStage::DeliveryRecords => PurgeStage::Entries,
            PurgeStage::Entries | PurgeStage::Done => PurgeStage::Done,
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
    waiting: Waiting,
    queue: Arc<Queue>,
    groups_left: GroupsLeft,
    /// When Telegram last answered anything: what the health check reads.
    telegram_contact: StdMutex<Option<std::time::Instant>>,
}

/// Group chats already told goodbye in this run: a burst of group messages gets one answer.
/// Only chat ids, only in memory, and never about a person.
#[derive(Default)]
struct GroupsLeft(StdMutex<HashSet<i64>>);

impl GroupsLeft {
    const MAX_REMEMBERED: usize = 10_000;

    fn first_time(&self, chat_id: i64) -> bool {
        let mut left = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        if left.len() >= Self::MAX_REMEMBERED {
            left.clear();
        }
        left.insert(chat_id)
    }
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
            waiting: Waiting::default(),
            queue: Arc::default(),
            groups_left: GroupsLeft::default(),
            telegram_contact: StdMutex::new(None),
        }
    }

    /// Telegram answered: a poll, a webhook request, the answer to a send.
    pub fn telegram_reached(&self) {
        *self
            .telegram_contact
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Some(std::time::Instant::now());
    }

    pub fn last_telegram_contact(&self) -> Option<std::time::Instant> {
        *self
            .telegram_contact
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the database answers a read.
    pub fn store_answers(&self) -> Result<(), StoreError> {
        self.store.update_offset().map(|_| ())
    }

    /// Parcels waiting in the reply lane and the bulk lane.
    pub fn outbox_depth(&self) -> (usize, usize) {
        self.store.outbox_len()
    }

    pub fn user_counts(&self) -> Result<crossroads_store::UserCounts, StoreError> {
        self.store.user_counts()
    }

    /// Waits for durability, and times it.
    async fn durable(&self, ticket: Ticket) -> Result<(), StoreError> {
        let started = std::time::Instant::now();
        let done = self.store.durable(ticket).await;
        metrics::histogram!(crate::ops::names::FLUSH_SECONDS).record(started.elapsed());
        done
    }

    /// What waits to be sent, in the sender's order.
    pub fn queue(&self) -> &Arc<Queue> {
        &self.queue
    }

    /// How many received updates wait to be handled.
    pub fn waiting_updates(&self) -> usize {
        self.waiting.len()
    }

    pub fn catalog(&self) -> &Catalog {
        &self.catalog
    }

    /// The running bot's periodic backups, until `shutdown`.
    pub fn backups(
        &self,
        options: crate::backup::BackupOptions,
        shutdown: tokio_util::sync::CancellationToken,
    ) -> impl Future<Output = ()> + Send + 'static {
        crate::backup::run_periodic(Arc::clone(&self.store), options, shutdown)
    }

    /// The practice's admins, who have /stats.
    pub fn admins(&self) -> &[UserId] {
        &self.settings.admins
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
        self.handle_shown(chat, event, |_| None).await
    }

    /// [`Service::handle`] for a transport that shows the answer itself and numbers its
    /// messages (the terminal): `number` is given the answer before it is kept, and returns
    /// the number the last message among it (where a question always is) will be shown as.
    pub async fn handle_shown(
        &self,
        chat: Chat,
        event: Event,
        number: impl FnOnce(&[Outbound]) -> Option<i32> + Send,
    ) -> Vec<Outbound> {
        let kind = event.kind();
        match self.try_handle(chat, event, number).await {
            Ok(outbound) => outbound,
            Err(error) => {
                tracing::error!(event = kind, error = %cause_chain(&error), "could not handle an event");
                vec![self.trouble()]
            }
        }
    }

    async fn try_handle(
        &self,
        chat: Chat,
        event: Event,
        number: impl FnOnce(&[Outbound]) -> Option<i32> + Send,
    ) -> Result<Vec<Outbound>, StoreError> {
        let Chat::Private(user_id) = chat else {
            let conversation = Conversation::new(self.voice(), self.clock.now());
            return Ok(conversation.group_chat().outbound);
        };
        let _turn = self.lock(user_id).await;
        // The time is read under the lock, so a turn never acts on a moment before the last one.
        let conversation = Conversation::new(self.voice(), self.clock.now());
        let turn = conversation.read(user_id, event);
        let loaded = self.load(&turn, turn.needs(&conversation))?;
        let mut outcome = conversation.decide(turn, loaded);
        // Whoever called this shows the answer itself, at once.
        let shown_as = number(&outcome.outbound);
        outcome.open_at_once(shown_as);
        self.persist(user_id, &outcome).await?;
        Ok(outcome.outbound)
    }

    /// The practice's counts for an admin's /stats.
    fn stats(&self) -> Result<crossroads_core::model::Stats, StoreError> {
        let now = self.clock.now();
        let active = |days| {
            self.store
                .users_active_since(now - chrono::Duration::days(days))
        };
        Ok(crossroads_core::model::Stats {
            users: self.store.user_count(),
            active_week: active(7)?,
            active_month: active(30)?,
            questions_sent: self.store.total(totals::QUESTIONS_SENT)?,
            answers_kept: self.store.total(totals::ANSWERS_KEPT)?,
            crisis_answers: self.store.total(totals::CRISIS_ANSWERS)?,
            check_ins: self.store.total(totals::CHECK_INS)?,
            bookings_offered: self.store.total(totals::BOOKINGS_OFFERED)?,
        })
    }

    /// Adds a turn's part to the practice's totals; a failure costs a count, nothing else.
    fn add_to_totals(&self, totals: &[(&str, u64)]) {
        if totals.is_empty() {
            return;
        }
        if let Err(error) = self.store.add_to_totals(totals) {
            tracing::warn!(error = %cause_chain(&error), "cannot update the practice's totals");
        }
    }

    /// What a decided turn adds to the totals /stats shows.
    fn totals_of(
        &self,
        reading: crossroads_core::safety::Reading,
        newly_kept: bool,
        outcome: &Outcome,
    ) -> Vec<(&'static str, u64)> {
        let mut totals = Vec::new();
        match safety_answer(reading, outcome) {
            Some("crisis") => totals.push((totals::CRISIS_ANSWERS, 1)),
            Some("check_in") => totals.push((totals::CHECK_INS, 1)),
            _ => {}
        }
        if newly_kept
            && outcome
                .entry
                .as_ref()
                .is_some_and(|entry| entry.prompt_id.is_some())
        {
            totals.push((totals::ANSWERS_KEPT, 1));
        }
        let bookings = outcome
            .outbound
            .iter()
            .filter(|outbound| match outbound {
                Outbound::Message(message) => message.buttons.iter().any(|button| {
                    matches!(button, crossroads_core::reply::Button::Url { url, .. } if *url == self.settings.booking_url)
                }),
                _ => false,
            })
            .count();
        if bookings > 0 {
            totals.push((totals::BOOKINGS_OFFERED, bookings as u64));
        }
        totals
    }

    /// Writes updates to the inbox with the polling offset past them (if any), and waits until
    /// that is on disk: only then may Telegram forget them. Returns how many were new.
    pub async fn receive(
        &self,
        updates: Vec<Received>,
        offset: Option<i32>,
    ) -> Result<usize, StoreError> {
        let (new, ticket) = self.store.receive(updates, offset, self.clock.now())?;
        let durable = self.durable(ticket).await;
        let count = new.len();
        // Written, so also handled, even if the flush failed: Telegram sends it again (the
        // answer is an error), and the record of seen updates keeps it from being taken twice.
        for received in new {
            self.waiting.push(received);
        }
        durable.map(|()| count)
    }

    /// Handles one update from the inbox: its effects, what it sends and its leaving the inbox
    /// are one atomic batch, so a crash either redoes it whole or finds it done.
    async fn handle_received(
        &self,
        received: &Received,
        bot_username: &str,
    ) -> Result<(), StoreError> {
        let Some(arrival) = Arrival::decode(&received.payload) else {
            tracing::error!(
                update_id = received.update_id,
                "an update in the inbox cannot be read; it is let go"
            );
            return self
                .commit_handled(received, Vec::new(), &Outcome::default())
                .await;
        };
        let steps: Vec<Step> = arrival
            .button
            .iter()
            .map(|pressed| Step::AnswerButton {
                callback_id: pressed.callback_id.clone(),
                message_id: pressed.message_id,
                text: None,
            })
            .collect();
        let kind = arrival
            .event(bot_username)
            .map_or("button_elsewhere", |(_, event)| event.kind());
        tracing::info!(chat_id = received.chat_id, kind, "update");
        metrics::counter!(crate::ops::names::UPDATES, "kind" => kind).increment(1);
        let started = std::time::Instant::now();
        let handled = self
            .handle_arrival(received, arrival, steps, bot_username)
            .await;
        metrics::histogram!(crate::ops::names::HANDLING_SECONDS).record(started.elapsed());
        handled
    }

    async fn handle_arrival(
        &self,
        received: &Received,
        arrival: Arrival,
        steps: Vec<Step>,
        bot_username: &str,
    ) -> Result<(), StoreError> {
        match arrival.event(bot_username) {
            None => {
                self.commit_handled(received, steps, &Outcome::default())
                    .await
            }
            Some((Chat::Group, _)) => {
                let outcome = if self.groups_left.first_time(received.chat_id) {
                    Conversation::new(self.voice(), self.clock.now()).group_chat()
                } else {
                    Outcome::default()
                };
                self.commit_handled(received, steps, &outcome).await
            }
            Some((Chat::Private(user_id), event)) => {
                let _turn = self.lock(user_id).await;
                let conversation = Conversation::new(self.voice(), self.clock.now());
                let turn = conversation.read(user_id, event);
                let reading = turn.reading();
                // A read that fails is tried again from the inbox, in order: an apology now
                // would lose the words.
                let loaded = self.load(&turn, turn.needs(&conversation))?;
                let newly_kept = loaded.kept.is_none();
                let outcome = conversation.decide(turn, loaded);
                count_safety_answer(reading, &outcome);
                let totals = self.totals_of(reading, newly_kept, &outcome);
                self.commit_handled(received, steps, &outcome).await?;
                self.add_to_totals(&totals);
                Ok(())
            }
        }
    }

    /// An update whose handling failed inside: the user hears that something went wrong, and
    /// the update leaves the inbox, so that it cannot fail again and again.
    async fn give_up_on(&self, received: &Received) {
        let steps = match Arrival::decode(&received.payload) {
            Some(Arrival {
                chat: parcel::ArrivalChat::Private(_),
                ..
            }) => vec![self.trouble().into()],
            _ => Vec::new(),
        };
        if let Err(error) = self
            .commit_handled(received, steps, &Outcome::default())
            .await
        {
            tracing::error!(update_id = received.update_id, error = %cause_chain(&error), "cannot let go of an update");
        }
    }

    /// The outcome of an update, what it sends, and its leaving the inbox, in one batch.
    async fn commit_handled(
        &self,
        received: &Received,
        steps: Vec<Step>,
        outcome: &Outcome,
    ) -> Result<(), StoreError> {
        let steps = parcel::with_outcome(steps, &outcome.outbound);
        let parcel = self.parcel(Lane::Reply, received.chat_id, steps, outcome.opens.clone())?;
        let ticket = self.store.apply(Change {
            profile: outcome.profile.as_ref(),
            entry: outcome.entry.as_ref(),
            erase: outcome.erase_user.then_some(received.chat_id),
            handled: Some(received.key()),
            queue: parcel.as_slice(),
            delivered: None,
            faded: &[],
        })?;
        if outcome.profile.is_some() || outcome.erase_user {
            self.schedule_changed.notify_one();
        }
        let durable = self.durable(ticket).await;
        // Applied, so the update has left the inbox: what it sends must go, or nobody would
        // send it until a restart. A failed flush means the disk is failing; it is logged.
        if let Err(error) = &durable {
            tracing::error!(chat_id = received.chat_id, error = %cause_chain(error), "a handled update could not be flushed; its answer is sent anyway");
        }
        if let Some(parcel) = parcel {
            self.queue.push(parcel.key, parcel.chat_id);
        }
        Ok(())
    }

    /// A parcel for the outbox, or none when there is nothing to send.
    fn parcel(
        &self,
        lane: Lane,
        chat_id: i64,
        steps: Vec<Step>,
        opens: Option<crossroads_core::model::OpenPrompt>,
    ) -> Result<Option<Parcel>, StoreError> {
        if steps.is_empty() {
            return Ok(None);
        }
        let shipment = Shipment {
            steps,
            opens,
            queued_at: self.clock.now(),
        };
        Ok(Some(Parcel {
            key: self.store.new_outbox_key(lane)?,
            chat_id,
            payload: shipment.encode(),
        }))
    }

    /// A step of a parcel was delivered: what is left of it, and the question it carried once
    /// all of it is, are recorded in one batch, durably.
    pub(crate) async fn record_delivery(
        &self,
        key: OutboxKey,
        chat_id: i64,
        rest: Shipment,
        message_id: Option<i32>,
        fades: Option<chrono::Duration>,
    ) -> Result<(), StoreError> {
        {
            let _turn = match chat_id {
                id if id > 0 => Some(self.lock(id).await),
                _ => None,
            };
            // Erased with its user while it was being sent: nothing of it may come back.
            if self.store.parcel(key)?.is_none() {
                return Ok(());
            }
            let now = self.clock.now();
            let done = rest.steps.is_empty();
            let profile = match chat_id {
                id if id > 0 => self.store.profile(id)?,
                _ => None,
            };
            // After /delete nothing about the person is kept, not even that a message reached
            // them (the goodbye is sent after the erase); nor is anything kept about a group.
            let message_id = message_id.filter(|_| profile.is_some());
            let opened = match (&rest.opens, message_id) {
                (Some(opens), Some(message_id)) if done => {
                    Conversation::new(self.voice(), now)
                        .delivered(profile, opens.clone(), message_id)
                        .profile
                }
                _ => None,
            };
            // A message that fades gets its deletion with the record of its delivery, in one
            // batch: neither is ever written without the other.
            let delete_at = message_id.and(fades).map(|after| now + after);
            let delivered = Delivered {
                parcel: key,
                chat_id,
                rest: (!done).then(|| rest.encode()),
                message_id,
                at: now,
                delete_at,
            };
            let ticket = self.store.apply(Change {
                profile: opened.as_ref(),
                delivered: Some(&delivered),
                ..Change::default()
            })?;
            if opened.is_some() {
                self.add_to_totals(&[(totals::QUESTIONS_SENT, 1)]);
                metrics::counter!(crate::ops::names::QUESTIONS, "outcome" => "sent").increment(1);
            }
            if delete_at.is_some() {
                self.schedule_changed.notify_one();
            }
            self.durable(ticket).await
        }
    }

    /// A parcel leaves the outbox without being delivered: refused, unreachable, given up on,
    /// or a question that waited too long. A question in it is never opened.
    pub(crate) async fn finish_parcel(&self, key: OutboxKey, chat_id: i64) {
        let delivered = Delivered {
            parcel: key,
            chat_id,
            rest: None,
            message_id: None,
            at: self.clock.now(),
            delete_at: None,
        };
        let finished = async {
            let ticket = self.store.apply(Change {
                delivered: Some(&delivered),
                ..Change::default()
            })?;
            self.durable(ticket).await
        };
        if let Err(error) = finished.await {
            tracing::error!(chat_id, error = %cause_chain(&error), "cannot drop a message from the outbox");
        }
    }

    /// A question that waited in the outbox longer than the catch-up window (the bot was down)
    /// is closed instead of arriving hours late.
    pub(crate) fn too_late_to_ask(&self, shipment: &Shipment) -> bool {
        shipment
            .opens
            .as_ref()
            .is_some_and(|opens| self.clock.now() - opens.sent_at > self.settings.catch_up)
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
            stats: needs.stats.then(|| self.stats()).transpose()?,
        })
    }

    /// Writes the outcome and waits until it is on disk: nothing is acknowledged before that.
    async fn persist(&self, user_id: UserId, outcome: &Outcome) -> Result<(), StoreError> {
        if let Some(ticket) = self.write(user_id, outcome)? {
            self.durable(ticket).await?;
        }
        Ok(())
    }

    /// Applies an outcome's changes; the ticket must be redeemed before anything is sent.
    fn write(&self, user_id: UserId, outcome: &Outcome) -> Result<Option<Ticket>, StoreError> {
        if !outcome.writes_anything() {
            return Ok(None);
        }
        let ticket = self.store.apply(Change {
            profile: outcome.profile.as_ref(),
            entry: outcome.entry.as_ref(),
            erase: outcome.erase_user.then_some(user_id),
            ..Change::default()
        })?;
        if outcome.profile.is_some() || outcome.erase_user {
            self.schedule_changed.notify_one();
        }
        Ok(Some(ticket))
    }

    /// Queues up to `limit` questions that are due now, in the bulk lane. Each user's new state
    /// and their question are written together, and the whole batch made durable with one
    /// flush: a crash can lose a question but never send it twice, and a question opens for an
    /// answer only once it is delivered. Returns how many users were looked at.
    pub async fn take_due(&self, now: DateTime<Utc>, limit: usize) -> Result<usize, StoreError> {
        Ok(self.take_due_parcels(now, limit).await?.0)
    }

    /// [`Service::take_due`], then every question taken delivered at once as by a perfect
    /// Telegram: for tests of what the questions say and what follows them.
    #[cfg(any(test, feature = "test-support"))]
    pub async fn take_due_and_deliver(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<Vec<(UserId, Vec<Outbound>)>, StoreError> {
        let (_, taken) = self.take_due_parcels(now, limit).await?;
        let mut delivered = Vec::new();
        for (parcel, opens, outbound) in taken {
            let rest = Shipment {
                steps: Vec::new(),
                opens,
                queued_at: now,
            };
            self.record_delivery(parcel.key, parcel.chat_id, rest, Some(1), None)
                .await?;
            self.queue.remove(parcel.key);
            delivered.push((parcel.chat_id, outbound));
        }
        Ok(delivered)
    }

    #[allow(clippy::type_complexity)]
    async fn take_due_parcels(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<
        (
            usize,
            Vec<(
                Parcel,
                Option<crossroads_core::model::OpenPrompt>,
                Vec<Outbound>,
            )>,
        ),
        StoreError,
    > {
        let mut queued = Vec::new();
        let mut last_ticket = None;
        let due = self.store.due_until(now, limit)?;
        let count = due.len();
        for (at, user_id) in due {
            let _turn = self.lock(user_id).await;
            match self.take_one_due(now, at, user_id) {
                Ok(Some((ticket, taken))) => {
                    last_ticket = Some(ticket);
                    queued.extend(taken);
                }
                Ok(None) => {}
                // One user's bad record must not stop everyone's questions: it is logged and
                // taken off the schedule.
                Err(error) => {
                    tracing::error!(chat_id = user_id, error = %cause_chain(&error), "cannot take a due question; this user is skipped");
                    if let Err(error) = self.store.forget_due(at, user_id) {
                        tracing::error!(chat_id = user_id, error = %cause_chain(&error), "cannot take a user off the schedule");
                    }
                }
            }
        }
        let durable = match last_ticket {
            Some(ticket) => self.durable(ticket).await,
            None => Ok(()),
        };
        // Applied, so they are queued whatever the flush said: otherwise nobody would send
        // them until a restart.
        for (parcel, ..) in &queued {
            self.queue.push(parcel.key, parcel.chat_id);
        }
        durable.map(|()| (count, queued))
    }

    /// Takes one user's due question, if it is still theirs to take: their new state and the
    /// question are applied together; the ticket must be made durable before it is sent.
    #[allow(clippy::type_complexity)]
    fn take_one_due(
        &self,
        now: DateTime<Utc>,
        at: DateTime<Utc>,
        user_id: UserId,
    ) -> Result<
        Option<(
            Ticket,
            Option<(
                Parcel,
                Option<crossroads_core::model::OpenPrompt>,
                Vec<Outbound>,
            )>,
        )>,
        StoreError,
    > {
        let profile = self.store.profile(user_id)?;
        let Some(profile) = profile.filter(|profile| {
            profile
                .next_due
                .is_some_and(|due| due.at.timestamp() == at.timestamp())
        }) else {
            // The profile moved on (or is gone) since this index entry was written.
            self.store.forget_due(at, user_id)?;
            return Ok(None);
        };
        let outcome = Conversation::new(self.voice(), now).due(profile);
        let steps = outcome.outbound.iter().cloned().map(Step::from).collect();
        let parcel = self.parcel(Lane::Bulk, user_id, steps, outcome.opens.clone())?;
        let ticket = self.store.apply(Change {
            profile: outcome.profile.as_ref(),
            queue: parcel.as_slice(),
            ..Change::default()
        })?;
        let counted = match &parcel {
            Some(_) if now - at > chrono::Duration::minutes(5) => "caught_up",
            Some(_) => "queued",
            None => "skipped",
        };
        metrics::counter!(crate::ops::names::QUESTIONS, "outcome" => counted).increment(1);
        Ok(Some((
            ticket,
            parcel.map(|parcel| (parcel, outcome.opens, outcome.outbound)),
        )))
    }

    /// The kind line for when something went wrong on our side.
    pub fn trouble(&self) -> Outbound {
        Conversation::new(self.voice(), self.clock.now()).trouble()
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

    /// When the scheduler next has something to do: a question, or a deletion.
    pub fn next_due(&self) -> Result<Option<DateTime<Utc>>, StoreError> {
        let question = self.store.earliest_due()?;
        let deletion = self.store.earliest_fading()?;
        Ok(match (question, deletion) {
            (Some(question), Some(deletion)) => Some(question.min(deletion)),
            (question, deletion) => question.or(deletion),
        })
    }

    /// Hands up to `limit` deletions due by `now` to the outbox, each as a parcel of its own,
    /// in the batch that lets go of their records: a crash either redoes it or finds it done.
    /// Returns how many.
    pub async fn take_due_deletions(
        &self,
        now: DateTime<Utc>,
        limit: usize,
    ) -> Result<usize, StoreError> {
        let due = self.store.fading_until(now, limit)?;
        if due.is_empty() {
            return Ok(0);
        }
        let mut parcels = Vec::with_capacity(due.len());
        for fading in &due {
            let steps = vec![Step::DeleteMessage {
                message_id: fading.message_id,
            }];
            parcels.extend(self.parcel(Lane::Bulk, fading.chat_id, steps, None)?);
        }
        let ticket = self.store.apply(Change {
            queue: &parcels,
            faded: &due,
            ..Change::default()
        })?;
        let durable = self.durable(ticket).await;
        for parcel in &parcels {
            self.queue.push(parcel.key, parcel.chat_id);
        }
        durable.map(|()| due.len())
    }

    /// Remembers to delete a message shown in the terminal chat once `after` has passed, as
    /// the sender does for Telegram once it has a message id.
    pub async fn fade_later(
        &self,
        chat_id: i64,
        message_id: i32,
        after: chrono::Duration,
    ) -> Result<(), StoreError> {
        let fading = crossroads_store::Fading {
            at: self.clock.now() + after,
            chat_id,
            message_id,
        };
        let ticket = self.store.remember_fading(fading)?;
        self.schedule_changed.notify_one();
        self.durable(ticket).await
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

    /// Erases entries older than the retention period, lets stale check-ins and old delivery
    /// records go, all in bounded chunks off the async workers. Returns how many entries.
    pub async fn purge_expired(&self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let mut purge = Purge::new(now);
        while !self.purge_step(&mut purge).await? {
            tokio::time::sleep(PURGE_PAUSE).await;
        }
        Ok(purge.purged)
    }

    /// One chunk of a purge, on a blocking thread, made durable. Returns whether the purge is
    /// finished. The scheduler runs a purge this way, between its other work; each chunk is an
    /// atomic batch of its own, so a purge cut short by a stop or a crash leaves less for the
    /// next one, which starts from the beginning and finds the erased records gone.
    pub async fn purge_step(&self, purge: &mut Purge) -> Result<bool, StoreError> {
        let now = purge.now;
        let from = purge.cursor.take();
        let retention = chrono::Duration::days(i64::from(self.settings.retention_days));
        let swept = match purge.stage {
            // A check-in is kept for a day; this reaches the profiles nothing else reads.
            PurgeStage::CheckIns => {
                self.blocking(move |store| {
                    store.forget_stale_check_ins_chunk(now, from.as_ref(), PURGE_CHUNK)
                })
                .await?
            }
            // What is remembered of a delivered question goes with the words' retention.
            PurgeStage::Asked => match now.checked_sub_signed(retention) {
                Some(cutoff) => {
                    self.blocking(move |store| {
                        store.forget_asked_chunk(cutoff, from.as_ref(), PURGE_CHUNK)
                    })
                    .await?
                }
                None => None,
            },
            PurgeStage::DeliveryRecords => match now.checked_sub_signed(DELIVERY_MEMORY) {
                Some(cutoff) => {
                    self.blocking(move |store| {
                        store.forget_delivery_records_chunk(cutoff, from.as_ref(), PURGE_CHUNK)
                    })
                    .await?
                }
                None => None,
            },
            PurgeStage::Entries => match now.checked_sub_signed(retention) {
                Some(cutoff) => {
                    self.blocking(move |store| {
                        store.purge_entries_chunk(cutoff, from.as_ref(), PURGE_CHUNK)
                    })
                    .await?
                }
                None => None,
            },
            PurgeStage::Done => return Ok(true),
        };
        let next = match swept {
            Some(swept) => {
                if swept.changed > 0 {
                    self.durable(swept.ticket).await?;
                }
                if purge.stage == PurgeStage::Entries {
                    purge.purged += swept.changed;
                }
                swept.next
            }
            None => None,
        };
        match next {
            Some(cursor) => purge.cursor = Some(cursor),
            None => purge.stage = purge.stage.following(),
        }
        Ok(purge.stage == PurgeStage::Done)
    }

    /// Runs a store call on one of tokio's blocking threads, so that a long one never holds an
    /// async worker that replies need.
    async fn blocking<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Store) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<Option<T>, StoreError> {
        Store::blocking(Arc::clone(&self.store), call)
            .await
            .map(Some)
    }

    /// The next Telegram update to ask for, as saved.
    pub fn update_offset(&self) -> Result<Option<i32>, StoreError> {
        self.store.update_offset()
    }

    /// Saves the polling offset and waits until it is on disk: only then may Telegram be told
    /// to forget the updates below it.
    pub async fn save_update_offset(&self, offset: i32) -> Result<(), StoreError> {
        let ticket = self.store.set_update_offset(offset)?;
        self.durable(ticket).await
    }

    /// Makes everything written so far durable: the last step of a clean stop.
    pub async fn flush(&self) -> Result<(), StoreError> {
        self.store.flush().await
    }

    /// The highest message id kept for a user, theirs or a question's: the terminal chat
    /// numbers its messages on from it, since an entry is keyed by its message and a reply
    /// finds its question by number.
    pub fn highest_message_id(&self, user_id: UserId) -> Result<Option<i32>, StoreError> {
        let written = self
            .store
            .all_entries(user_id)?
            .iter()
            .map(|entry| entry.message_id)
            .max();
        let asked = self.store.profile(user_id)?.and_then(|profile| {
            let open = profile.open_prompt.and_then(|open| open.message_id);
            profile
                .asked
                .iter()
                .map(|asked| asked.message_id)
                .chain(open)
                .max()
        });
        Ok(written.max(asked))
    }
}

/// Counts what the safety reading of a turn led to: only counts, never anything said.
fn count_safety_answer(reading: crossroads_core::safety::Reading, outcome: &Outcome) {
    if let Some(answer) = safety_answer(reading, outcome) {
        metrics::counter!(crate::ops::names::SAFETY_ANSWERS, "answer" => answer).increment(1);
    }
}

/// Which safety answer a turn got, if any.
fn safety_answer(
    reading: crossroads_core::safety::Reading,
    outcome: &Outcome,
) -> Option<&'static str> {
    use crossroads_core::safety::Concern;
    let escalated = outcome
        .profile
        .as_ref()
        .and_then(|profile| profile.last_check_in)
        .is_some_and(|last| last.answered_as_crisis)
        && reading.check_in;
    match reading.concern {
        Concern::Crisis => Some("crisis"),
        _ if escalated => Some("crisis"),
        Concern::Advice => Some("advice"),
        Concern::None if reading.check_in => Some("check_in"),
        Concern::None => None,
    }
}

/// The names of the practice's running totals, kept in the store.
mod totals {
    pub(super) const QUESTIONS_SENT: &str = "questions_sent";
    pub(super) const ANSWERS_KEPT: &str = "answers_kept";
    pub(super) const CRISIS_ANSWERS: &str = "crisis_answers";
    pub(super) const CHECK_INS: &str = "check_ins";
    pub(super) const BOOKINGS_OFFERED: &str = "bookings_offered";
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
