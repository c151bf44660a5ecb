//! Group commit: many writers, few fsyncs.
//!
//! A writer takes a ticket after its write is in sled, then waits until a flush that started
//! after that point has finished. One flush covers every ticket issued before it began, so a
//! burst of concurrent replies costs one or two fsyncs, not one each.

use std::sync::atomic::{AtomicU64, Ordering};

use tokio::sync::Mutex;

/// Proof that a write happened; redeem it with [`Durability::wait`] before acknowledging.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Ticket(u64);

#[derive(Default)]
pub(crate) struct Durability {
    written: AtomicU64,
    durable: AtomicU64,
    flushing: Mutex<()>,
    flushes: AtomicU64,
}

impl Durability {
    /// Call after the write has been applied.
    pub(crate) fn ticket(&self) -> Ticket {
        Ticket(self.written.fetch_add(1, Ordering::SeqCst) + 1)
    }

    /// Returns once everything up to `ticket` has been flushed by `flush`.
    pub(crate) async fn wait<F, Fut, E>(&self, ticket: Ticket, flush: F) -> Result<(), E>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<(), E>>,
    {
        if self.durable.load(Ordering::SeqCst) >= ticket.0 {
            return Ok(());
        }
        let _one_at_a_time = self.flushing.lock().await;
        // While we waited for the lock, another flush may have covered us.
        if self.durable.load(Ordering::SeqCst) >= ticket.0 {
            return Ok(());
        }
        let covered = self.written.load(Ordering::SeqCst);
        flush().await?;
        self.flushes.fetch_add(1, Ordering::Relaxed);
        self.durable.fetch_max(covered, Ordering::SeqCst);
        Ok(())
    }

    /// How many flushes have run: for benchmarks and tests of the batching.
    pub(crate) fn flush_count(&self) -> u64 {
        self.flushes.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[tokio::test]
    async fn a_ticket_already_covered_needs_no_flush() {
        let durability = Durability::default();
        let ticket = durability.ticket();
        durability
            .wait(ticket, || async { Ok::<_, ()>(()) })
            .await
            .unwrap();
        durability
            .wait(ticket, || async {
                panic!("flushed twice") as Result<(), ()>
            })
            .await
            .unwrap();
        assert_eq!(durability.flush_count(), 1);
    }

    #[tokio::test]
    async fn a_write_after_a_flush_began_needs_another() {
        let durability = Durability::default();
        let first = durability.ticket();
        durability
            .wait(first, || async { Ok::<_, ()>(()) })
            .await
            .unwrap();
        let second = durability.ticket();
        durability
            .wait(second, || async { Ok::<_, ()>(()) })
            .await
            .unwrap();
        assert_eq!(durability.flush_count(), 2);
    }

    #[tokio::test]
    async fn concurrent_writers_share_flushes() {
        let durability = Arc::new(Durability::default());
        let tickets: Vec<Ticket> = (0..100).map(|_| durability.ticket()).collect();
        let waits = tickets.into_iter().map(|ticket| {
            let durability = Arc::clone(&durability);
            tokio::spawn(async move {
                durability
                    .wait(ticket, || async {
                        tokio::task::yield_now().await;
                        Ok::<_, ()>(())
                    })
                    .await
            })
        });
        for wait in waits.collect::<Vec<_>>() {
            wait.await.unwrap().unwrap();
        }
        assert_eq!(durability.flush_count(), 1);
    }

    #[tokio::test]
    async fn a_failed_flush_covers_nothing() {
        let durability = Durability::default();
        let ticket = durability.ticket();
        assert!(
            durability
                .wait(ticket, || async { Err::<(), _>("disk full") })
                .await
                .is_err()
        );
        durability
            .wait(ticket, || async { Ok::<_, &str>(()) })
            .await
            .unwrap();
        assert_eq!(durability.flush_count(), 1);
    }
}
