//! The inbox and the outbox: updates received and not yet handled, and messages decided and not
//! yet delivered. What they carry is opaque here (the application encodes it) and encrypted, since
//! both hold what users wrote or will read.
//!
//! An update is written to the inbox, with the polling offset past it, in one batch, and leaves it
//! in the batch that holds its effects and what it sends. A parcel leaves the outbox in the batch
//! that records its delivery. So a crash anywhere either redoes a step whole or finds it done.

use chrono::{DateTime, Utc};
use sled::Batch;

use super::{Change, Cursor, Result, Store, Swept, from_ordered_i64, ordered_i32, ordered_i64};
use crossroads_core::model::UserId;

pub(crate) const INBOX: u8 = b'i';
pub(crate) const SEEN: u8 = b'n';
pub(crate) const OUTBOX: u8 = b'o';
pub(crate) const SENT: u8 = b's';
/// A message of the bot's to delete from its chat at a given time (discreet mode):
/// `x{due_at}{chat}{message_id}`, nothing else, so that a restart still carries it out.
pub(crate) const FADING: u8 = b'x';

/// Which queue a parcel waits in. Answers to something a user just did go before anything
/// scheduled, however much of that is waiting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Lane {
    /// A reply to what a user just did.
    Reply,
    /// Daily questions and anything else sent in bulk.
    Bulk,
}

impl Lane {
    fn byte(self) -> u8 {
        match self {
            Lane::Reply => 0,
            Lane::Bulk => 1,
        }
    }

    fn from_byte(byte: u8) -> Lane {
        if byte == 0 { Lane::Reply } else { Lane::Bulk }
    }
}

/// Where a parcel waits: its lane, then the order it was queued in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OutboxKey {
    pub lane: Lane,
    pub seq: u64,
}

impl OutboxKey {
    fn stored(self) -> Vec<u8> {
        let mut key = vec![OUTBOX, self.lane.byte()];
        key.extend_from_slice(&self.seq.to_be_bytes());
        key
    }

    fn decode(key: &[u8]) -> Option<OutboxKey> {
        let seq = u64::from_be_bytes(key.get(2..10)?.try_into().ok()?);
        Some(OutboxKey {
            lane: Lane::from_byte(*key.get(1)?),
            seq,
        })
    }
}

/// Something to send to one chat, encoded by the application.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Parcel {
    pub key: OutboxKey,
    pub chat_id: i64,
    pub payload: Vec<u8>,
}

/// An update as received, encoded by the application, waiting to be handled.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Received {
    pub chat_id: i64,
    pub update_id: i64,
    pub payload: Vec<u8>,
}

impl Received {
    pub fn key(&self) -> InboxKey {
        InboxKey {
            chat_id: self.chat_id,
            update_id: self.update_id,
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct InboxKey {
    pub chat_id: i64,
    pub update_id: i64,
}

impl InboxKey {
    fn stored(self) -> Vec<u8> {
        [
            &[INBOX][..],
            &ordered_i64(self.chat_id),
            &ordered_i64(self.update_id),
        ]
        .concat()
    }
}

/// A step of a parcel delivered: what is left of it (nothing, or the rest re-encoded), and the
/// Telegram message that carried it, if the step was a message.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Delivered {
    pub parcel: OutboxKey,
    pub chat_id: i64,
    pub rest: Option<Vec<u8>>,
    pub message_id: Option<i32>,
    pub at: DateTime<Utc>,
    /// When to delete that message from the chat, if it is one that fades (discreet mode).
    pub delete_at: Option<DateTime<Utc>>,
}

/// A message to delete from a chat once `at` has come.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fading {
    pub at: DateTime<Utc>,
    pub chat_id: i64,
    pub message_id: i32,
}

impl Fading {
    fn stored(self) -> Vec<u8> {
        [
            &[FADING][..],
            &ordered_i64(self.at.timestamp()),
            &ordered_i64(self.chat_id),
            &ordered_i32(self.message_id),
        ]
        .concat()
    }

    fn decode(key: &[u8]) -> Option<Fading> {
        if key.len() != 21 {
            return None;
        }
        let message_id = (u32::from_be_bytes(key[17..21].try_into().ok()?) ^ (1 << 31)) as i32;
        Some(Fading {
            at: DateTime::from_timestamp(from_ordered_i64(&key[1..9]), 0)?,
            chat_id: from_ordered_i64(&key[9..17]),
            message_id,
        })
    }
}

fn sent_key(chat_id: i64, message_id: i32) -> Vec<u8> {
    [&[SENT][..], &ordered_i64(chat_id), &ordered_i32(message_id)].concat()
}

fn seen_key(update_id: i64) -> Vec<u8> {
    [&[SEEN][..], &ordered_i64(update_id)].concat()
}

impl Store {
    /// A place in `lane` after everything queued before, in this process or an earlier one.
    pub fn new_outbox_key(&self, lane: Lane) -> Result<OutboxKey> {
        Ok(OutboxKey {
            lane,
            seq: self.next_id()?,
        })
    }

    /// Writes updates to the inbox, and the polling offset past them, in one batch. An update
    /// seen before (a redelivery) is not written again. Returns the ones that are new, and a
    /// ticket: only once it is durable may Telegram be told to forget them.
    pub fn receive(
        &self,
        updates: Vec<Received>,
        offset: Option<i32>,
        now: DateTime<Utc>,
    ) -> Result<(Vec<Received>, super::Ticket)> {
        let mut batch = Batch::default();
        let mut new = Vec::new();
        for update in updates {
            let seen = seen_key(update.update_id);
            if self.tree.contains_key(&seen)?
                || new
                    .iter()
                    .any(|known: &Received| known.update_id == update.update_id)
            {
                continue;
            }
            batch.insert(seen, &ordered_i64(now.timestamp()));
            let key = update.key().stored();
            batch.insert(key.clone(), self.cipher.seal(&update.payload, &key));
            new.push(update);
        }
        if let Some(offset) = offset {
            batch.insert(super::UPDATE_OFFSET, &offset.to_be_bytes());
        }
        let _writing = self.writing();
        self.tree.apply_batch(batch)?;
        Ok((new, self.durability.ticket()))
    }

    /// Every update waiting to be handled, chat by chat, each chat's in the order received,
    /// and how many could not be decrypted (skipped, so one bad record holds up nothing).
    pub fn inbox(&self) -> Result<(Vec<Received>, usize)> {
        let mut waiting = Vec::new();
        let mut unreadable = 0;
        for item in self.tree.scan_prefix([INBOX]) {
            let (key, sealed) = item?;
            match self.cipher.open(&sealed, &key) {
                Ok(payload) if key.len() >= 17 => waiting.push(Received {
                    chat_id: from_ordered_i64(&key[1..9]),
                    update_id: from_ordered_i64(&key[9..17]),
                    payload,
                }),
                _ => unreadable += 1,
            }
        }
        Ok((waiting, unreadable))
    }

    /// Every parcel waiting to be sent, replies first, each lane in the order queued, and how
    /// many could not be decrypted (skipped).
    pub fn outbox(&self) -> Result<(Vec<Parcel>, usize)> {
        let mut waiting = Vec::new();
        let mut unreadable = 0;
        for item in self.tree.scan_prefix([OUTBOX]) {
            let (key, value) = item?;
            match self.read_parcel(&key, &value) {
                Ok(Some(parcel)) => waiting.push(parcel),
                _ => unreadable += 1,
            }
        }
        Ok((waiting, unreadable))
    }

    pub fn parcel(&self, key: OutboxKey) -> Result<Option<Parcel>> {
        let stored = key.stored();
        match self.tree.get(&stored)? {
            Some(value) => self.read_parcel(&stored, &value),
            None => Ok(None),
        }
    }

    fn read_parcel(&self, key: &[u8], value: &[u8]) -> Result<Option<Parcel>> {
        let (Some(key_read), Some(chat)) = (OutboxKey::decode(key), value.get(..8)) else {
            return Ok(None);
        };
        Ok(Some(Parcel {
            key: key_read,
            chat_id: from_ordered_i64(chat),
            payload: self.cipher.open(&value[8..], key)?,
        }))
    }

    /// How many parcels wait in each lane.
    pub fn outbox_len(&self) -> (usize, usize) {
        let count = |lane: Lane| self.tree.scan_prefix([OUTBOX, lane.byte()]).count();
        (count(Lane::Reply), count(Lane::Bulk))
    }

    /// The Telegram messages delivered to a chat and still remembered, by message id.
    pub fn delivered_messages(&self, chat_id: i64) -> Result<Vec<(i32, DateTime<Utc>)>> {
        self.tree
            .scan_prefix([&[SENT][..], &ordered_i64(chat_id)].concat())
            .map(|item| {
                let (key, value) = item?;
                let message_id = (u32::from_be_bytes(key[9..13].try_into().unwrap_or_default())
                    ^ (1 << 31)) as i32;
                let at = DateTime::from_timestamp(from_ordered_i64(&value), 0).unwrap_or_default();
                Ok((message_id, at))
            })
            .collect()
    }

    /// Up to `limit` messages whose deletion is due by `now`, the earliest first.
    pub fn fading_until(&self, now: DateTime<Utc>, limit: usize) -> Result<Vec<Fading>> {
        let end = [
            &[FADING][..],
            &ordered_i64(now.timestamp().saturating_add(1)),
        ]
        .concat();
        self.tree
            .range([FADING].as_slice()..end.as_slice())
            .keys()
            .take(limit)
            .filter_map(|key| match key {
                Ok(key) => Fading::decode(&key).map(Ok),
                Err(error) => Some(Err(error.into())),
            })
            .collect()
    }

    /// Remembers a deletion on its own, for a message whose delivery is recorded elsewhere
    /// (the terminal chat shows its messages without the outbox).
    pub fn remember_fading(&self, fading: Fading) -> Result<super::Ticket> {
        let _writing = self.writing();
        self.tree.insert(fading.stored(), &[])?;
        Ok(self.durability.ticket())
    }

    /// When the next deletion is due, if any is waiting.
    pub fn earliest_fading(&self) -> Result<Option<DateTime<Utc>>> {
        match self.tree.scan_prefix([FADING]).keys().next() {
            Some(key) => Ok(Fading::decode(&key?).map(|fading| fading.at)),
            None => Ok(None),
        }
    }

    /// Lets go of the records that only matter for a while: seen update ids (Telegram keeps an
    /// update for a day) and delivered message ids (a bot can delete a message for two days).
    pub fn forget_delivery_records_before(&self, cutoff: DateTime<Utc>) -> Result<super::Ticket> {
        let (_, ticket) = self.sweep_all(|from| {
            self.forget_delivery_records_chunk(cutoff, from, super::SWEEP_CHUNK)
        })?;
        Ok(ticket)
    }

    /// One bounded step of [`Store::forget_delivery_records_before`]: reads at most `limit`
    /// records from `from`, seen updates first, then delivered messages, and erases the old
    /// ones in one batch.
    pub fn forget_delivery_records_chunk(
        &self,
        cutoff: DateTime<Utc>,
        from: Option<&Cursor>,
        limit: usize,
    ) -> Result<Swept> {
        let limit = limit.max(1);
        let mut batch = Batch::default();
        let (mut read, mut forgotten) = (0, 0);
        let mut next = None;
        // SEEN sorts before SENT: one pass through both, in key order.
        let start = from.map_or_else(|| vec![SEEN], |cursor| cursor.0.clone());
        for item in self.tree.range(start..) {
            let (key, value) = item?;
            match key.first() {
                Some(&SEEN) | Some(&SENT) => {}
                Some(&prefix) if prefix < SENT => {
                    // Past the seen records, before the delivered ones.
                    next = Some(Cursor(vec![SENT]));
                    break;
                }
                _ => break,
            }
            if read == limit {
                next = Some(Cursor(key.to_vec()));
                break;
            }
            read += 1;
            if value.len() >= 8 && from_ordered_i64(&value) < cutoff.timestamp() {
                batch.remove(key);
                forgotten += 1;
            }
        }
        let _writing = self.writing();
        self.tree.apply_batch(batch)?;
        Ok(Swept {
            changed: forgotten,
            next,
            ticket: self.durability.ticket(),
        })
    }

    /// Adds to `batch` what a change does to the inbox and the outbox.
    pub(super) fn delivery_into(&self, batch: &mut Batch, change: &Change<'_>) {
        if let Some(handled) = change.handled {
            batch.remove(handled.stored());
        }
        for parcel in change.queue {
            let key = parcel.key.stored();
            let mut value = ordered_i64(parcel.chat_id).to_vec();
            value.extend(self.cipher.seal(&parcel.payload, &key));
            batch.insert(key, value);
        }
        if let Some(delivered) = change.delivered {
            let key = delivered.parcel.stored();
            match &delivered.rest {
                Some(rest) => {
                    let mut value = ordered_i64(delivered.chat_id).to_vec();
                    value.extend(self.cipher.seal(rest, &key));
                    batch.insert(key, value);
                }
                None => batch.remove(key),
            }
            if let Some(message_id) = delivered.message_id {
                batch.insert(
                    sent_key(delivered.chat_id, message_id),
                    &ordered_i64(delivered.at.timestamp()),
                );
                if let Some(at) = delivered.delete_at {
                    let fading = Fading {
                        at,
                        chat_id: delivered.chat_id,
                        message_id,
                    };
                    batch.insert(fading.stored(), &[]);
                }
            }
        }
        for fading in change.faded {
            batch.remove(fading.stored());
        }
    }

    /// Adds to `batch` the removal of what waits to be sent to a user and of what was.
    pub(super) fn erase_deliveries_into(&self, batch: &mut Batch, user_id: UserId) -> Result<()> {
        for item in self.tree.scan_prefix([OUTBOX]) {
            let (key, value) = item?;
            if value.get(..8).map(from_ordered_i64) == Some(user_id) {
                batch.remove(key);
            }
        }
        for key in self
            .tree
            .scan_prefix([&[SENT][..], &ordered_i64(user_id)].concat())
            .keys()
        {
            batch.remove(key?);
        }
        Ok(())
    }
}
