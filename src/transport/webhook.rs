//! Webhook mode: Telegram posts each update to the practice's HTTPS address, which a reverse
//! proxy forwards to the server here.
//!
//! A request must carry the secret given to setWebhook in `X-Telegram-Bot-Api-Secret-Token`,
//! compared in constant time; without it the answer is 401 and nothing is kept. A good request
//! is answered 200 only once its update is durably in the inbox, so Telegram's own retries
//! cover a crash before that, and the inbox's record of seen updates covers one after.

use std::{
    net::SocketAddr,
    sync::{Arc, OnceLock},
};

use anyhow::Context as _;
use axum::{
    Router,
    body::Bytes,
    extract::State,
    http::{HeaderMap, StatusCode},
    routing::post,
};
use subtle::ConstantTimeEq as _;
use teloxide::{prelude::*, types::UpdateKind};
use tokio_util::sync::CancellationToken;

use super::{
    telegram::{ALLOWED_UPDATES, describe_error, received},
    updates,
};
use crate::{config::Secret, service::Service};

pub const SECRET_HEADER: &str = "x-telegram-bot-api-secret-token";

#[derive(Clone, Debug)]
pub struct WebhookOptions {
    /// The public HTTPS address given to setWebhook.
    pub url: url::Url,
    /// Where the HTTP server listens.
    pub listen: SocketAddr,
    pub secret: Secret,
    /// Set to the address actually bound once listening (`listen` may name port 0).
    pub bound: Arc<OnceLock<SocketAddr>>,
}

struct Hook {
    service: Arc<Service>,
    secret: Secret,
}

/// Serves the webhook until `shutdown`. Fails if the address cannot be bound or Telegram
/// refuses the webhook.
pub(crate) async fn run(
    bot: Bot,
    service: Arc<Service>,
    options: WebhookOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen for the webhook on {}", options.listen))?;
    let bound = listener.local_addr()?;
    let _ = options.bound.set(bound);
    let path = options.url.path().to_owned();
    let app = Router::new()
        .route(&path, post(receive))
        .with_state(Arc::new(Hook {
            service: Arc::clone(&service),
            secret: options.secret.clone(),
        }));
    bot.set_webhook(options.url.clone())
        .secret_token(options.secret.expose().to_owned())
        .allowed_updates(ALLOWED_UPDATES)
        .await
        .map_err(|error| {
            anyhow::anyhow!("Telegram refused the webhook: {}", describe_error(&error))
        })?;
    tracing::info!(%bound, path = %path, "receiving updates by webhook");
    let probing = tokio_util::task::AbortOnDropHandle::new(tokio::spawn(probe(
        bot,
        Arc::clone(&service),
        shutdown.clone(),
    )));
    let served = axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("the webhook server failed");
    probing.abort();
    served
}

/// How often a webhook bot asks Telegram about its webhook: a quiet bot receives nothing, and
/// the health check needs to know that Telegram still answers.
const PROBE_EVERY: std::time::Duration = std::time::Duration::from_secs(30);

async fn probe(bot: Bot, service: Arc<Service>, shutdown: CancellationToken) {
    loop {
        match bot.get_webhook_info().await {
            Ok(info) => {
                service.telegram_reached();
                let recent = info
                    .last_error_date
                    .is_some_and(|at| chrono::Utc::now() - at < chrono::Duration::seconds(60));
                if let Some(error) = info.last_error_message.filter(|_| recent) {
                    tracing::warn!(pending = info.pending_update_count, %error, "Telegram reports a problem delivering to the webhook");
                }
            }
            Err(error) => {
                tracing::warn!(error = %describe_error(&error), "cannot read the webhook's state")
            }
        }
        tokio::select! {
            () = shutdown.cancelled() => return,
            () = tokio::time::sleep(PROBE_EVERY) => {}
        }
    }
}

async fn receive(State(hook): State<Arc<Hook>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let given = headers
        .get(SECRET_HEADER)
        .map(|value| value.as_bytes())
        .unwrap_or_default();
    if !bool::from(given.ct_eq(hook.secret.expose().as_bytes())) {
        tracing::warn!("a webhook request without the right secret was refused");
        return StatusCode::UNAUTHORIZED;
    }
    hook.service.telegram_reached();
    let update = match updates::read_one(&body) {
        Ok(update) => update,
        Err(skipped) => {
            // Answered 200 all the same: Telegram would otherwise send it again forever.
            tracing::warn!(update_id = skipped.update_id, kind = %skipped.kind, "skipping an update that cannot be read");
            return StatusCode::OK;
        }
    };
    if let UpdateKind::Error(_) = update.kind {
        tracing::warn!(
            update_id = update.id.0,
            "skipping an update of a kind this version does not know"
        );
        return StatusCode::OK;
    }
    let Some(received) = received(&update) else {
        return StatusCode::OK;
    };
    // In a task of its own: Telegram hanging up must not cancel a write half-way.
    let service = Arc::clone(&hook.service);
    let kept = tokio::spawn(async move { service.receive(vec![received], None).await }).await;
    match kept {
        Ok(Ok(_)) => StatusCode::OK,
        Ok(Err(error)) => {
            tracing::error!(error = %crate::service::cause_chain(&error), "cannot write an update to the inbox; Telegram will send it again");
            StatusCode::INTERNAL_SERVER_ERROR
        }
        Err(_) => {
            tracing::error!(
                "writing an update to the inbox failed inside; Telegram will send it again"
            );
            StatusCode::INTERNAL_SERVER_ERROR
        }
    }
}
