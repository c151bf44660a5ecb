//! What an operator watches: Prometheus metrics and a health check, on `[metrics] listen`.
//!
//! Every metric is a count, a depth or a latency. None carries a chat id, a name or a word: the
//! labels are fixed words (an update's kind, a lane, an outcome).

use std::{
    net::SocketAddr,
    sync::{Arc, Mutex, OnceLock, PoisonError},
    time::{Duration, Instant},
};

use anyhow::Context as _;
use axum::{Router, extract::State, http::StatusCode, response::IntoResponse, routing::get};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use tokio_util::sync::CancellationToken;

use crate::service::Service;

/// The metric names, in one place: they are an interface (dashboards and alerts use them).
pub mod names {
    pub const UPDATES: &str = "crossroads_updates_total";
    pub const MESSAGES_SENT: &str = "crossroads_messages_sent_total";
    pub const FLOOD_WAITS: &str = "crossroads_telegram_flood_waits_total";
    pub const SERVER_ERRORS: &str = "crossroads_telegram_server_errors_total";
    pub const RETRIES: &str = "crossroads_send_retries_total";
    pub const INBOX_DEPTH: &str = "crossroads_inbox_depth";
    pub const OUTBOX_DEPTH: &str = "crossroads_outbox_depth";
    pub const QUESTIONS: &str = "crossroads_questions_total";
    pub const SAFETY_ANSWERS: &str = "crossroads_safety_answers_total";
    pub const USERS: &str = "crossroads_users";
    pub const FLUSH_SECONDS: &str = "crossroads_flush_seconds";
    pub const HANDLING_SECONDS: &str = "crossroads_handling_seconds";
}

/// How recently Telegram must have answered for the bot to count as healthy: a long poll
/// returns at least every ten seconds, and in webhook mode the bot asks for its webhook's state
/// every thirty.
pub const TELEGRAM_WINDOW: Duration = Duration::from_secs(90);

/// The process's one recorder. Installed on first use; later calls (tests starting several
/// bots in one process) share it.
pub fn recorder() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let buckets = [
                0.000_5, 0.001, 0.002_5, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
            ];
            let builder = PrometheusBuilder::new()
                .set_buckets(&buckets)
                .expect("the buckets are not empty");
            match builder.install_recorder() {
                Ok(handle) => handle,
                // Another recorder is already global (a test harness); ours still renders.
                Err(_) => PrometheusBuilder::new().build_recorder().handle(),
            }
        })
        .clone()
}

#[derive(Clone, Debug)]
pub struct MetricsOptions {
    pub listen: SocketAddr,
    /// How recently Telegram must have answered.
    pub telegram_window: Duration,
    /// Set to the address actually bound (`listen` may name port 0).
    pub bound: Arc<OnceLock<SocketAddr>>,
}

struct Ops {
    service: Arc<Service>,
    handle: PrometheusHandle,
    telegram_window: Duration,
    /// Counting users by state reads every profile: at most once a minute.
    users: Mutex<Option<(Instant, crossroads_store::UserCounts)>>,
}

/// Serves `/metrics` and `/healthz` until `shutdown`.
pub async fn serve(
    service: Arc<Service>,
    options: MetricsOptions,
    shutdown: CancellationToken,
) -> anyhow::Result<()> {
    let handle = recorder();
    let listener = tokio::net::TcpListener::bind(options.listen)
        .await
        .with_context(|| format!("cannot listen for metrics on {}", options.listen))?;
    let bound = listener.local_addr()?;
    let _ = options.bound.set(bound);
    tracing::info!(%bound, "serving /metrics and /healthz");
    let app = Router::new()
        .route("/metrics", get(metrics))
        .route("/healthz", get(health))
        .with_state(Arc::new(Ops {
            service,
            handle,
            telegram_window: options.telegram_window,
            users: Mutex::new(None),
        }));
    axum::serve(listener, app)
        .with_graceful_shutdown(shutdown.cancelled_owned())
        .await
        .context("the metrics server failed")
}

async fn metrics(State(ops): State<Arc<Ops>>) -> impl IntoResponse {
    let service = &ops.service;
    metrics::gauge!(names::INBOX_DEPTH).set(service.waiting_updates() as f64);
    let (replies, bulk) = service.outbox_depth();
    metrics::gauge!(names::OUTBOX_DEPTH, "lane" => "reply").set(replies as f64);
    metrics::gauge!(names::OUTBOX_DEPTH, "lane" => "bulk").set(bulk as f64);
    let fresh = ops
        .users
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .filter(|(at, _)| at.elapsed() < Duration::from_secs(60))
        .map(|(_, counts)| counts);
    let counts = match fresh {
        Some(counts) => Some(counts),
        None => {
            let service = Arc::clone(service);
            let counted = tokio::task::spawn_blocking(move || service.user_counts())
                .await
                .ok()
                .and_then(Result::ok);
            if let Some(counts) = counted {
                *ops.users.lock().unwrap_or_else(PoisonError::into_inner) =
                    Some((Instant::now(), counts));
            }
            counted
        }
    };
    if let Some(counts) = counts {
        metrics::gauge!(names::USERS, "state" => "active").set(counts.active as f64);
        metrics::gauge!(names::USERS, "state" => "paused").set(counts.paused as f64);
        metrics::gauge!(names::USERS, "state" => "unreachable").set(counts.unreachable as f64);
    }
    (
        [("content-type", "text/plain; version=0.0.4")],
        ops.handle.render(),
    )
}

async fn health(State(ops): State<Arc<Ops>>) -> (StatusCode, String) {
    if let Err(error) = ops.service.store_answers() {
        return (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the database does not answer: {error}\n"),
        );
    }
    match ops.service.last_telegram_contact() {
        Some(at) if at.elapsed() <= ops.telegram_window => (StatusCode::OK, "ok\n".to_owned()),
        Some(at) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!(
                "Telegram has not answered for {} s\n",
                at.elapsed().as_secs()
            ),
        ),
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            "Telegram has not been reached yet\n".to_owned(),
        ),
    }
}
