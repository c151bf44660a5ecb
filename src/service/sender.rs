//! Delivers what waits in the outbox: replies before bulk, within Telegram's limits, retrying
//! what can be retried, and never letting one slow or failing chat hold up another.
//!
//! The outbox itself is in the store; here is its order in memory (rebuilt from the store at
//! start) and the loop that works through it. A parcel is one decision's messages to one chat,
//! delivered step by step in order; only one parcel per chat is in flight at a time, so a chat's
//! messages arrive in the order they were decided. Each delivered step is recorded durably with
//! the Telegram message id before the next step of that parcel goes.

use std::{
    collections::{BTreeMap, HashMap, HashSet},
    sync::{Arc, Mutex, PoisonError},
    time::Duration,
};

use futures::{FutureExt as _, future::BoxFuture};
use tokio::{sync::Notify, time::Instant};
use tokio_util::sync::CancellationToken;

use crossroads_store::OutboxKey;

use crate::ops::names;

use super::{
    Service,
    parcel::{Shipment, Step},
};

/// How Telegram (or the terminal) took one step.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Carried {
    /// Taken; a message's id when the step was a message.
    Delivered { message_id: Option<i32> },
    /// 429: the whole bot waits this long before sending anything more.
    Flood { retry_after: Duration },
    /// 5xx, a timeout, or no connection: worth trying again.
    Transient(String),
    /// 400 and the like: this request will never be taken.
    Refused(String),
    /// 403: the user blocked the bot or left Telegram.
    Unreachable,
    /// 401 or 404: the token stopped working or the address is wrong. No message is at fault,
    /// so none is dropped for it: every send waits, and the operator is told.
    Stopped(String),
}

/// Whatever can carry a step to a chat: Telegram, or the terminal.
pub trait Courier: Send + Sync + 'static {
    fn carry(&self, chat_id: i64, step: Step) -> BoxFuture<'_, Carried>;
}

#[derive(Clone, Debug)]
pub struct SenderOptions {
    /// Messages per second to all chats together: Telegram's limit is about 30, more for bots
    /// with paid broadcasts.
    pub messages_per_second: u32,
    /// Telegram asks for no more than about one message a second in a chat, allowing short
    /// bursts: an acknowledgement and a check-in line go together, then one a second.
    pub chat_burst: u32,
    pub chat_interval: Duration,
}

impl Default for SenderOptions {
    fn default() -> Self {
        SenderOptions {
            messages_per_second: 30,
            chat_burst: 2,
            chat_interval: Duration::from_secs(1),
        }
    }
}

/// A step that failed in a way worth retrying is tried again after 1, 2, 4, 8, 16 and 32
/// seconds, then given up: seven attempts over about a minute.
pub const MAX_ATTEMPTS: u32 = 7;

fn retry_delay(failures: u32) -> Duration {
    Duration::from_secs(1 << failures.saturating_sub(1).min(5))
}

/// Steps being carried at once. Enough to keep 1,000 messages a second going at a few
/// milliseconds each; each is also a message that could be sent twice if the process dies
/// between Telegram's answer and its record.
const IN_FLIGHT: usize = 64;

/// How long every send waits when Telegram refuses the bot itself (401, 404).
const STOPPED_PAUSE: Duration = Duration::from_secs(60);

/// How long a clean stop waits for steps already handed to Telegram.
const STOP_GRACE: Duration = Duration::from_secs(10);

/// The outbox's order, in memory: parcels by lane then age, with the chat each goes to.
#[derive(Default)]
pub struct Queue {
    parcels: Mutex<BTreeMap<OutboxKey, i64>>,
    added: Notify,
}

impl Queue {
    pub(crate) fn push(&self, key: OutboxKey, chat_id: i64) {
        self.lock().insert(key, chat_id);
        self.added.notify_one();
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<OutboxKey, i64>> {
        self.parcels.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub(crate) fn remove(&self, key: OutboxKey) {
        self.lock().remove(&key);
    }

    /// How many parcels wait, in memory.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A token bucket: `capacity` at once, refilled at `per_second`.
struct Bucket {
    tokens: f64,
    capacity: f64,
    per_second: f64,
    last: Instant,
}

impl Bucket {
    fn new(capacity: u32, per_second: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: f64::from(capacity),
            capacity: f64::from(capacity),
            per_second,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * self.per_second).min(self.capacity);
        self.last = now;
    }

    /// When a token is there, from `now`.
    fn ready_at(&mut self, now: Instant) -> Instant {
        self.refill(now);
        if self.tokens >= 1.0 {
            now
        } else {
            now + Duration::from_secs_f64((1.0 - self.tokens) / self.per_second)
        }
    }

    /// A bucket with nothing in it yet: what the process before this one sent still counts
    /// on Telegram's side, so a fresh start ramps up instead of bursting.
    fn empty(capacity: u32, per_second: f64, now: Instant) -> Bucket {
        Bucket {
            tokens: 0.0,
            ..Bucket::new(capacity, per_second, now)
        }
    }

    fn take(&mut self, now: Instant) {
        self.refill(now);
        self.tokens -= 1.0;
    }

    fn is_full(&mut self, now: Instant) -> bool {
        self.refill(now);
        self.tokens >= self.capacity
    }
}

/// What became of a parcel's current step, reported back to the loop.
struct Report {
    key: OutboxKey,
    chat_id: i64,
    outcome: Outcome,
}

enum Outcome {
    /// The step was delivered and recorded; `more` if steps are left.
    Progressed {
        more: bool,
    },
    Flood(Duration),
    /// Telegram refuses the bot itself: everything waits, nothing is dropped.
    Stopped(String),
    Failed(String),
    /// The parcel is gone: refused, unreachable, not worth sending, or erased.
    Finished,
}

struct Retry {
    at: Instant,
    failures: u32,
}

/// Runs until `shutdown`; then finishes the steps in flight (for at most ten seconds).
pub async fn run(
    service: Arc<Service>,
    courier: Arc<dyn Courier>,
    options: SenderOptions,
    shutdown: CancellationToken,
) {
    let queue = Arc::clone(service.queue());
    match service.store.outbox() {
        Ok((waiting, unreadable)) => {
            if unreadable > 0 {
                tracing::error!(
                    unreadable,
                    "messages in the outbox cannot be read; they are skipped"
                );
            }
            if !waiting.is_empty() {
                tracing::info!(
                    count = waiting.len(),
                    "messages waiting from before; sending them"
                );
            }
            for parcel in waiting {
                queue.push(parcel.key, parcel.chat_id);
            }
        }
        Err(error) => {
            tracing::error!(error = %super::cause_chain(&error), "cannot read the outbox")
        }
    }
    let start = Instant::now();
    let rate = f64::from(options.messages_per_second.max(1));
    // A tenth of a second's worth at once: smooth enough never to look like a burst.
    let mut overall = Bucket::empty((options.messages_per_second / 10).max(1), rate, start);
    // A chat written to just before a restart may have used up its burst already.
    let fresh_start = start + options.chat_interval * options.chat_burst;
    let chat_rate = 1.0 / options.chat_interval.as_secs_f64().max(0.001);
    let mut chats: HashMap<i64, Bucket> = HashMap::new();
    let mut busy: HashSet<i64> = HashSet::new();
    let mut retries: HashMap<OutboxKey, Retry> = HashMap::new();
    let mut paused_until: Option<Instant> = None;
    let (reports, mut reported) = tokio::sync::mpsc::unbounded_channel::<Report>();
    let mut last_prune = start;

    loop {
        // Everything that came back changes what may go next.
        while let Ok(report) = reported.try_recv() {
            settle(&queue, &mut busy, &mut retries, &mut paused_until, report);
        }
        if shutdown.is_cancelled() {
            break;
        }
        let now = Instant::now();
        if now.duration_since(last_prune) > Duration::from_secs(60) {
            chats.retain(|_, bucket| !bucket.is_full(now));
            last_prune = now;
        }
        let paused = paused_until.filter(|until| *until > now);
        let overall_ready = overall.ready_at(now);
        // With nothing to do, look again a little later anyway: new parcels also wake us.
        let mut wake = now + Duration::from_millis(250);
        let mut picked = None;
        if let Some(until) = paused {
            wake = until;
        } else if overall_ready > now {
            wake = overall_ready;
        } else if busy.len() < IN_FLIGHT {
            // A chat whose earliest parcel cannot go yet holds its later ones back too, so a
            // retry never lets a later message overtake an earlier one.
            let mut held: HashSet<i64> = HashSet::new();
            for (&key, &chat_id) in queue.lock().iter() {
                if busy.contains(&chat_id) || held.contains(&chat_id) {
                    continue;
                }
                let failures = match retries.get(&key) {
                    Some(retry) if retry.at > now => {
                        wake = wake.min(retry.at);
                        held.insert(chat_id);
                        continue;
                    }
                    Some(retry) => retry.failures,
                    None => 0,
                };
                let chat = chats.entry(chat_id).or_insert_with(|| {
                    if now < fresh_start {
                        Bucket::empty(options.chat_burst, chat_rate, now)
                    } else {
                        Bucket::new(options.chat_burst, chat_rate, now)
                    }
                });
                let ready = chat.ready_at(now);
                if ready > now {
                    wake = wake.min(ready);
                    held.insert(chat_id);
                    continue;
                }
                picked = Some((key, chat_id, failures));
                break;
            }
        }
        if let Some((key, chat_id, failures)) = picked {
            busy.insert(chat_id);
            let counts = match service.store.parcel(key) {
                Ok(Some(parcel)) => Shipment::decode(&parcel.payload),
                _ => None,
            }
            .and_then(|shipment| shipment.steps.first().map(Step::is_a_message))
            .unwrap_or(false);
            if counts {
                overall.take(now);
                if let Some(chat) = chats.get_mut(&chat_id) {
                    chat.take(now);
                }
            }
            let (service, courier, reports) =
                (Arc::clone(&service), Arc::clone(&courier), reports.clone());
            tokio::spawn(async move {
                // A bug must cost this parcel a retry, never leave its chat busy for good.
                let outcome = std::panic::AssertUnwindSafe(deliver_step(
                    &service,
                    courier.as_ref(),
                    key,
                    chat_id,
                    failures,
                ))
                .catch_unwind()
                .await
                .unwrap_or_else(|_| Outcome::Failed("sending failed inside".to_owned()));
                let _ = reports.send(Report {
                    key,
                    chat_id,
                    outcome,
                });
            });
            continue;
        }
        // Nothing can go now: wait for a report, a new parcel, the next moment something may,
        // or a stop.
        let wait_until = wake.max(now + Duration::from_millis(1));
        tokio::select! {
            () = shutdown.cancelled() => {}
            report = reported.recv() => {
                if let Some(report) = report {
                    settle(&queue, &mut busy, &mut retries, &mut paused_until, report);
                }
            }
            () = queue.added.notified() => {}
            () = tokio::time::sleep_until(wait_until) => {}
        }
    }

    // A step already handed to Telegram is seen through, so that it is recorded.
    let deadline = Instant::now() + STOP_GRACE;
    while !busy.is_empty() {
        match tokio::time::timeout_at(deadline, reported.recv()).await {
            Ok(Some(report)) => settle(&queue, &mut busy, &mut retries, &mut paused_until, report),
            Ok(None) => break,
            Err(_) => {
                tracing::warn!(
                    in_flight = busy.len(),
                    "stopping with messages still being sent; they are sent again at the next start"
                );
                break;
            }
        }
    }
}

fn settle(
    queue: &Queue,
    busy: &mut HashSet<i64>,
    retries: &mut HashMap<OutboxKey, Retry>,
    paused_until: &mut Option<Instant>,
    report: Report,
) {
    busy.remove(&report.chat_id);
    match report.outcome {
        Outcome::Progressed { more } => {
            retries.remove(&report.key);
            if !more {
                queue.remove(report.key);
            }
        }
        Outcome::Flood(wait) => {
            let until = Instant::now() + wait;
            tracing::warn!(
                retry_after_secs = wait.as_secs(),
                "Telegram asked the bot to slow down; pausing every send"
            );
            *paused_until = Some(paused_until.map_or(until, |current| current.max(until)));
        }
        Outcome::Stopped(reason) => {
            tracing::error!(%reason, "Telegram refuses the bot (is the token still valid?); every send waits a minute, nothing is dropped");
            let until = Instant::now() + STOPPED_PAUSE;
            *paused_until = Some(paused_until.map_or(until, |current| current.max(until)));
        }
        Outcome::Failed(reason) => {
            let failures = retries.get(&report.key).map_or(0, |retry| retry.failures) + 1;
            tracing::warn!(chat_id = report.chat_id, failures, %reason, "a send failed; it will be retried");
            retries.insert(
                report.key,
                Retry {
                    at: Instant::now() + retry_delay(failures),
                    failures,
                },
            );
        }
        Outcome::Finished => {
            retries.remove(&report.key);
            queue.remove(report.key);
        }
    }
}

/// Carries a parcel's next step and records what happened. Runs in its own task.
async fn deliver_step(
    service: &Service,
    courier: &dyn Courier,
    key: OutboxKey,
    chat_id: i64,
    failures: u32,
) -> Outcome {
    let parcel = match service.store.parcel(key) {
        Ok(Some(parcel)) => parcel,
        // Erased with its user, or already finished.
        Ok(None) => return Outcome::Finished,
        Err(error) => return Outcome::Failed(super::cause_chain(&error)),
    };
    let Some(mut shipment) = Shipment::decode(&parcel.payload) else {
        tracing::error!(chat_id, "a queued message cannot be read; it is dropped");
        service.finish_parcel(key, chat_id).await;
        return Outcome::Finished;
    };
    if service.too_late_to_ask(&shipment) {
        metrics::counter!(names::QUESTIONS, "outcome" => "closed").increment(1);
        tracing::info!(
            chat_id,
            "a daily question waited past the catch-up window; it is closed, never sent"
        );
        service.finish_parcel(key, chat_id).await;
        return Outcome::Finished;
    }
    if shipment.steps.is_empty() {
        service.finish_parcel(key, chat_id).await;
        return Outcome::Finished;
    }
    let step = shipment.steps.remove(0);
    let housekeeping = matches!(step, Step::AnswerButton { .. });
    let deleting = matches!(step, Step::DeleteMessage { .. });
    let counted = step.is_a_message();
    let fades = step.delete_after();
    let carried = courier.carry(chat_id, step).await;
    if !matches!(carried, Carried::Transient(_)) {
        service.telegram_reached();
    }
    if counted {
        count_send(key, &carried, failures);
    }
    match carried {
        Carried::Delivered { message_id } => {
            record(service, key, chat_id, shipment, message_id, fades).await
        }
        // A button answered late (or twice) is only a spinner that stopped by itself.
        Carried::Refused(_) | Carried::Transient(_) if housekeeping => {
            record(service, key, chat_id, shipment, None, None).await
        }
        // Too old to delete (48 hours), or already gone: nothing more can be done about it.
        Carried::Refused(reason) if deleting => {
            tracing::info!(chat_id, %reason, "Telegram would not delete a message; it is let go");
            record(service, key, chat_id, shipment, None, None).await
        }
        Carried::Stopped(reason) => Outcome::Stopped(reason),
        Carried::Flood { retry_after } => Outcome::Flood(retry_after),
        Carried::Transient(reason) => {
            if failures + 1 >= MAX_ATTEMPTS {
                tracing::error!(chat_id, %reason, "a message could not be sent after {MAX_ATTEMPTS} attempts; it is dropped");
                service.finish_parcel(key, chat_id).await;
                return Outcome::Finished;
            }
            Outcome::Failed(reason)
        }
        Carried::Refused(reason) => {
            tracing::error!(chat_id, %reason, "Telegram refused a message; it and the rest of its reply are dropped");
            service.finish_parcel(key, chat_id).await;
            Outcome::Finished
        }
        Carried::Unreachable => {
            tracing::info!(
                chat_id,
                "the user blocked the bot or left Telegram; questions stop, data stays"
            );
            service.finish_parcel(key, chat_id).await;
            if let Ok(user_id) = crossroads_core::model::UserId::try_from(chat_id)
                && chat_id > 0
            {
                service.mark_unreachable(user_id).await;
            }
            Outcome::Finished
        }
    }
}

/// Records a delivered step. The step is not sent again for a failed record: the record is
/// retried, and only if the store keeps failing is the parcel left to be sent again later.
async fn record(
    service: &Service,
    key: OutboxKey,
    chat_id: i64,
    rest: Shipment,
    message_id: Option<i32>,
    fades: Option<chrono::Duration>,
) -> Outcome {
    let more = !rest.steps.is_empty();
    let mut attempt = 1;
    loop {
        match service
            .record_delivery(key, chat_id, rest.clone(), message_id, fades)
            .await
        {
            Ok(()) => return Outcome::Progressed { more },
            Err(error) if attempt < 3 => {
                tracing::warn!(chat_id, error = %super::cause_chain(&error), "cannot record a delivery; trying again");
                tokio::time::sleep(Duration::from_millis(200 * attempt)).await;
                attempt += 1;
            }
            Err(error) => {
                tracing::error!(chat_id, error = %super::cause_chain(&error), "cannot record a delivery; the message may be sent again");
                return Outcome::Failed("the delivery could not be recorded".to_owned());
            }
        }
    }
}

/// Counts a message's send by lane and outcome, and the faults behind retries.
fn count_send(key: OutboxKey, carried: &Carried, failures: u32) {
    let lane = match key.lane {
        crossroads_store::Lane::Reply => "reply",
        crossroads_store::Lane::Bulk => "bulk",
    };
    let outcome = match carried {
        Carried::Delivered { .. } => "delivered",
        Carried::Flood { .. } => "flood_wait",
        Carried::Transient(_) if failures + 1 >= MAX_ATTEMPTS => "given_up",
        Carried::Transient(_) => "retried",
        Carried::Refused(_) => "refused",
        Carried::Unreachable => "unreachable",
        Carried::Stopped(_) => "stopped",
    };
    metrics::counter!(names::MESSAGES_SENT, "lane" => lane, "outcome" => outcome).increment(1);
    match carried {
        Carried::Flood { .. } => metrics::counter!(names::FLOOD_WAITS).increment(1),
        Carried::Transient(reason) => {
            metrics::counter!(names::RETRIES).increment(1);
            if reason.starts_with("Telegram failed") || reason.starts_with("HTTP 5") {
                metrics::counter!(names::SERVER_ERRORS).increment(1);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_back_off_to_half_a_minute_and_stop_after_seven_attempts() {
        let delays: Vec<u64> = (1..MAX_ATTEMPTS)
            .map(|n| retry_delay(n).as_secs())
            .collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32]);
    }

    #[test]
    fn a_bucket_gives_its_burst_then_one_per_interval() {
        let start = Instant::now();
        let mut bucket = Bucket::new(2, 1.0, start);
        assert_eq!(bucket.ready_at(start), start);
        bucket.take(start);
        bucket.take(start);
        let next = bucket.ready_at(start);
        assert!(
            next >= start + Duration::from_millis(999),
            "{:?}",
            next - start
        );
        assert!(bucket.ready_at(start + Duration::from_secs(1)) <= start + Duration::from_secs(1));
    }
}
