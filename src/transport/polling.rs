//! Long polling into the inbox.
//!
//! Each batch is written to the inbox, with the offset past it, and flushed; the next
//! getUpdates, asked with that offset, is what tells Telegram to forget the batch. So an update
//! is either durably in the inbox or still on Telegram's side, whatever moment a crash picks,
//! and receiving never waits for handling: a restart makes progress from the first second.

use std::{sync::Arc, time::Duration};

use teloxide::{prelude::*, types::UpdateKind};
use tokio_util::sync::CancellationToken;

use super::{
    telegram::{ALLOWED_UPDATES, received},
    updates::{self, FetchError, Fetched},
};
use crate::service::{Service, cause_chain};

/// Backoff after a failed getUpdates: 1, 2, 4 … 64 seconds.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1 << failures.min(6))
}

/// Receives until `shutdown`. Fails only if the saved offset cannot be read at start.
pub(crate) async fn run(
    bot: Bot,
    service: Arc<Service>,
    timeout_secs: u32,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let mut offset = service
        .update_offset()
        .map_err(|error| anyhow::anyhow!("cannot read the saved polling offset: {error}"))?
        .unwrap_or(0);
    let mut failures = 0;
    loop {
        let fetched = tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            fetched = updates::fetch(&bot, offset, timeout_secs, &ALLOWED_UPDATES) => fetched,
        };
        if !matches!(fetched, Err(FetchError::Network(_))) {
            service.telegram_reached();
        }
        let delay = match fetched {
            Ok(fetched) => match keep(&service, offset, fetched).await {
                Ok(next) => {
                    failures = 0;
                    offset = next;
                    continue;
                }
                Err(error) => {
                    // Not confirmed, so Telegram sends the batch again.
                    tracing::error!(error = %cause_chain(&error), "cannot write updates to the inbox");
                    backoff(failures)
                }
            },
            Err(FetchError::Refused {
                retry_after: Some(wait),
                ..
            }) => wait,
            Err(error) => {
                let delay = backoff(failures);
                tracing::warn!(error = %error, retry_in_secs = delay.as_secs(), "getUpdates failed");
                delay
            }
        };
        failures = failures.saturating_add(1);
        tokio::select! {
            () = shutdown.cancelled() => return Ok(()),
            () = tokio::time::sleep(delay) => {}
        }
    }
}

/// Writes a batch to the inbox with the offset past it. Returns the offset to ask with next.
async fn keep(
    service: &Service,
    offset: i32,
    fetched: Fetched,
) -> Result<i32, crossroads_store::StoreError> {
    let mut next = offset;
    let mut past = |update_id: i64| {
        let after = i32::try_from(update_id.saturating_add(1)).unwrap_or(i32::MAX);
        next = next.max(after);
    };
    // Only ids and kinds are logged: an update holds what a user wrote.
    for skipped in &fetched.skipped {
        tracing::warn!(
            update_id = skipped.update_id,
            kind = %skipped.kind,
            "skipping an update that cannot be read"
        );
        if let Some(id) = skipped.update_id {
            past(id);
        }
    }
    let mut batch = Vec::with_capacity(fetched.updates.len());
    for update in &fetched.updates {
        past(i64::from(update.id.0));
        if let UpdateKind::Error(_) = update.kind {
            tracing::warn!(
                update_id = update.id.0,
                "skipping an update of a kind this version does not know"
            );
            continue;
        }
        batch.extend(received(update));
    }
    if next != offset {
        service.receive(batch, Some(next)).await?;
    }
    Ok(next)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_a_minute() {
        let delays: Vec<u64> = (0..9).map(|failures| backoff(failures).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 16, 32, 64, 64, 64]);
    }
}
