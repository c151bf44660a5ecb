//! `crossroads chat`: the same bot in a terminal, with no Telegram and no token.
//!
//! Each line typed is a message; replies print as text, buttons as text you can act on: a link
//! to open, or `!1`, `!2` … to press a button.

use std::{
    path::{Path, PathBuf},
    sync::{
        Arc, Mutex,
        atomic::{AtomicI32, Ordering},
    },
};

use std::panic::AssertUnwindSafe;

use futures::{FutureExt as _, future::BoxFuture};
use tokio::io::{AsyncBufReadExt, AsyncWrite, AsyncWriteExt, BufReader};
use tokio_util::sync::CancellationToken;

use crossroads_core::{
    event::{Chat, Event},
    markup::visible_text,
    model::UserId,
    reply::{Button, Outbound},
};

use crate::service::{
    Service,
    scheduler::{self, Delivery, Outbox},
};

/// The one person using a terminal chat.
pub const LOCAL_USER: UserId = 1;

/// How the bot is addressed in commands like `/start@name`.
const BOT_NAME: &str = "crossroads";

/// What the terminal shows; shared by the typing loop and the scheduler so their output never
/// interleaves and button numbers stay meaningful.
struct Screen<W> {
    out: tokio::sync::Mutex<W>,
    buttons: Mutex<Vec<String>>,
    exports: PathBuf,
}

impl<W: AsyncWrite + Unpin + Send> Screen<W> {
    async fn show(&self, outbound: Vec<Outbound>) {
        let mut text = String::new();
        for item in outbound {
            match item {
                Outbound::Message(message) => {
                    text.push_str(&as_plain(message.html.as_str()));
                    text.push('\n');
                    for button in message.buttons {
                        text.push_str(&self.button_line(button));
                    }
                }
                Outbound::Document(document) => {
                    let path = self.exports.join(&document.filename);
                    let saved = std::fs::create_dir_all(&self.exports)
                        .and_then(|()| std::fs::write(&path, &document.bytes));
                    match saved {
                        Ok(()) => text.push_str(&format!("[file saved: {}]\n", path.display())),
                        Err(error) => text.push_str(&format!(
                            "[file {} could not be saved: {error}]\n",
                            document.filename
                        )),
                    }
                    if let Some(caption) = document.caption {
                        text.push_str(&as_plain(caption.as_str()));
                        text.push('\n');
                    }
                }
                Outbound::LeaveChat => {}
            }
            text.push('\n');
        }
        let mut out = self.out.lock().await;
        // A closed terminal is not an error worth stopping for.
        let _ = out.write_all(text.as_bytes()).await;
        let _ = out.flush().await;
    }

    fn button_line(&self, button: Button) -> String {
        match button {
            Button::Url { label, url } => format!("  [ {label} ]  {url}\n"),
            Button::Callback { label, data } => {
                let mut buttons = self
                    .buttons
                    .lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner());
                buttons.push(data);
                format!("  [ {label} ]  type !{} to press\n", buttons.len())
            }
        }
    }

    /// `!N` presses the N-th button shown so far.
    fn pressed(&self, line: &str) -> Option<String> {
        let number: usize = line.strip_prefix('!')?.trim().parse().ok()?;
        let buttons = self
            .buttons
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buttons.get(number.checked_sub(1)?).cloned()
    }
}

fn as_plain(html: &str) -> String {
    visible_text(html).unwrap_or_else(|_| html.to_owned())
}

struct TerminalOutbox<W> {
    screen: Arc<Screen<W>>,
}

impl<W: AsyncWrite + Unpin + Send + Sync + 'static> Outbox for TerminalOutbox<W> {
    fn deliver(&self, _user_id: UserId, messages: Vec<Outbound>) -> BoxFuture<'_, Delivery> {
        Box::pin(async move {
            self.screen.show(messages).await;
            Delivery::Delivered
        })
    }
}

/// Runs the chat until the input ends or `shutdown` is cancelled.
pub async fn run<R, W>(
    service: Arc<Service>,
    input: R,
    output: W,
    data_dir: &Path,
    shutdown: CancellationToken,
) -> anyhow::Result<()>
where
    R: tokio::io::AsyncRead + Unpin,
    W: AsyncWrite + Unpin + Send + Sync + 'static,
{
    let screen = Arc::new(Screen {
        out: tokio::sync::Mutex::new(output),
        buttons: Mutex::new(Vec::new()),
        exports: data_dir.join("exports"),
    });
    let introduction = format!(
        "Crossroads, in your terminal. Type as you would in Telegram: /start to begin, /prompt for a question, \
         /help for everything else. Ctrl-D leaves.\nYour words are kept in {}.\n\n",
        data_dir.display()
    );
    screen
        .out
        .lock()
        .await
        .write_all(introduction.as_bytes())
        .await?;

    let outbox: Arc<dyn Outbox> = Arc::new(TerminalOutbox {
        screen: Arc::clone(&screen),
    });
    let scheduler = scheduler::spawn_supervised(Arc::clone(&service), outbox, shutdown.clone());

    // Entries are keyed by message, so ids must not repeat across runs of the chat: carry on
    // from the highest one kept.
    let highest_kept = service.highest_message_id(LOCAL_USER)?;
    let message_ids = AtomicI32::new(highest_kept.unwrap_or(0).saturating_add(1));
    let mut lines = BufReader::new(input).lines();
    loop {
        let line = tokio::select! {
            () = shutdown.cancelled() => break,
            line = lines.next_line() => line?,
        };
        let Some(line) = line else { break };
        let typed = line.trim_end_matches(['\r', '\n']);
        if typed.trim().is_empty() {
            continue;
        }
        let event = match screen.pressed(typed.trim()) {
            Some(data) => Event::ButtonPressed { data },
            None => {
                let id = message_ids.fetch_add(1, Ordering::SeqCst);
                Event::from_text(typed, BOT_NAME, id, service.clock().now())
            }
        };
        // As on Telegram, a bug must cost one answer, not the whole chat.
        let outbound = AssertUnwindSafe(service.handle(Chat::Private(LOCAL_USER), event))
            .catch_unwind()
            .await
            .unwrap_or_else(|_| vec![service.trouble()]);
        screen.show(outbound).await;
    }
    shutdown.cancel();
    scheduler.await??;
    service.flush().await?;
    Ok(())
}
