//! `crossroads chat`: the same bot in a terminal, with no Telegram and no token.
//!
//! Each line typed is a message; replies print as text, buttons as text you can act on: a link
//! to open, or `!1`, `!2` … (or `!` and the button's label) to press a button. A message that
//! changes in place prints again under `[updated]`; a button's notice prints in parentheses.
//! Keys that type for the user (the zones /timezone offers) are pressed the same way, or by
//! typing their label; a location cannot be shared here.

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
    reply::{Button, Key, Outbound, ReplyKeyboard},
};

use crate::service::{
    Service,
    parcel::{Step, StepButton},
    scheduler,
    sender::{self, Carried, Courier, SenderOptions},
};

/// The one person using a terminal chat.
pub const LOCAL_USER: UserId = 1;

/// How the bot is addressed in commands like `/start@name`.
const BOT_NAME: &str = "crossroads";

/// What the terminal shows; shared by the typing loop and the scheduler so their output never
/// interleaves and button numbers stay meaningful.
struct Screen<W> {
    out: tokio::sync::Mutex<W>,
    buttons: Mutex<Vec<Pressable>>,
    exports: PathBuf,
}

/// What pressing a numbered button does.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Pressable {
    /// An inline button: its data comes back as a press.
    Callback { label: String, data: String },
    /// A key under the message field: its label is sent as if typed.
    Types(String),
}

impl Pressable {
    fn label(&self) -> &str {
        match self {
            Pressable::Callback { label, .. } | Pressable::Types(label) => label,
        }
    }
}

impl<W: AsyncWrite + Unpin + Send> Screen<W> {
    /// Shows what the bot said. A message that fades (discreet mode) is numbered with one of
    /// `numbers`; the numbers and how long each stays are returned, for the deletion to come.
    async fn show(
        &self,
        outbound: Vec<Outbound>,
        numbers: &AtomicI32,
    ) -> Vec<(i32, chrono::Duration)> {
        let mut text = String::new();
        let mut fading = Vec::new();
        let mut fades = |discretion: crossroads_core::reply::Discretion, text: &mut String| {
            if let Some(after) = discretion.delete_after {
                let number = numbers.fetch_add(1, Ordering::SeqCst);
                fading.push((number, after));
                text.push_str(&format!(
                    "[protected, can't be forwarded; message #{number} leaves the chat in {} min]\n",
                    after.num_minutes()
                ));
            }
        };
        for item in outbound {
            match item {
                Outbound::Message(message) => {
                    fades(message.discretion, &mut text);
                    text.push_str(&as_plain(message.html.as_str()));
                    text.push('\n');
                    for button in message.buttons {
                        text.push_str(&self.button_line(button));
                    }
                }
                Outbound::DeleteMessage { .. } => {
                    text.push_str("[deleted: your message, from this chat; your words are kept]\n");
                    continue;
                }
                Outbound::Document(document) => {
                    fades(document.discretion, &mut text);
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
                Outbound::Edit(panel) => {
                    text.push_str("[updated]\n");
                    text.push_str(&as_plain(panel.html.as_str()));
                    text.push('\n');
                    for button in panel.rows.into_iter().flatten() {
                        text.push_str(&self.button_line(button));
                    }
                }
                Outbound::Notice(notice) => text.push_str(&format!("({notice})\n")),
                Outbound::Keyboard(keyed) => {
                    text.push_str(&as_plain(keyed.html.as_str()));
                    text.push('\n');
                    if let ReplyKeyboard::Offer(keys) = keyed.keyboard {
                        for key in keys {
                            text.push_str(&self.key_line(key));
                        }
                    }
                }
            }
            text.push('\n');
        }
        self.write(&text).await;
        fading
    }

    async fn write(&self, text: &str) {
        let mut out = self.out.lock().await;
        // A closed terminal is not an error worth stopping for.
        let _ = out.write_all(text.as_bytes()).await;
        let _ = out.flush().await;
    }

    fn button_line(&self, button: Button) -> String {
        match button {
            Button::Url { label, url } => format!("  [ {label} ]  {url}\n"),
            Button::Callback { label, data } => {
                let number = self.remember(Pressable::Callback {
                    label: label.clone(),
                    data,
                });
                format!("  [ {label} ]  type !{number} to press\n")
            }
        }
    }

    fn key_line(&self, key: Key) -> String {
        if key.location {
            return format!(
                "  [ {} ]  (a location can't be shared in the terminal: type a zone, or /timezone Europe/Paris)\n",
                key.label
            );
        }
        let number = self.remember(Pressable::Types(key.label.clone()));
        format!("  [ {} ]  type it, or !{number}\n", key.label)
    }

    /// Numbers a button for `!N`; returns its number.
    fn remember(&self, pressable: Pressable) -> usize {
        let mut buttons = self
            .buttons
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        buttons.push(pressable);
        buttons.len()
    }

    /// `!N` presses the N-th button shown so far; `!label` the newest button with that label.
    fn pressed(&self, line: &str) -> Option<Pressable> {
        let wanted = line.strip_prefix('!')?.trim();
        let buttons = self
            .buttons
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        match wanted.parse::<usize>() {
            Ok(number) => buttons.get(number.checked_sub(1)?).cloned(),
            Err(_) => buttons
                .iter()
                .rev()
                .find(|button| button.label().eq_ignore_ascii_case(wanted))
                .cloned(),
        }
    }
}

/// The text as a reader sees it. A spoiler (discreet mode) shows as `[hidden: …]`: a terminal
/// cannot hide text until tapped, so it marks what Telegram would hide.
fn as_plain(html: &str) -> String {
    let marked = html
        .replace("<tg-spoiler>", "[hidden: ")
        .replace("</tg-spoiler>", "]");
    visible_text(&marked).unwrap_or_else(|_| html.to_owned())
}

/// Shows what the sender delivers (the daily question) the same way as replies.
struct TerminalCourier<W> {
    screen: Arc<Screen<W>>,
}

impl<W: AsyncWrite + Unpin + Send + Sync + 'static> Courier for TerminalCourier<W> {
    fn carry(&self, _chat_id: i64, step: Step) -> BoxFuture<'_, Carried> {
        Box::pin(async move {
            let outbound = match step {
                Step::Message { html, buttons, .. } => {
                    let mut text = as_plain(&html);
                    text.push('\n');
                    for button in buttons {
                        text.push_str(&self.screen.button_line(match button {
                            StepButton::Url { label, url } => Button::Url { label, url },
                            StepButton::Callback { label, data } => {
                                Button::Callback { label, data }
                            }
                        }));
                    }
                    text
                }
                Step::Edit { html, rows, .. } => {
                    let mut text = as_plain(&html);
                    text.push('\n');
                    for button in rows.into_iter().flatten() {
                        text.push_str(&self.screen.button_line(match button {
                            StepButton::Url { label, url } => Button::Url { label, url },
                            StepButton::Callback { label, data } => {
                                Button::Callback { label, data }
                            }
                        }));
                    }
                    text
                }
                Step::Keyboard { html, .. } => as_plain(&html),
                Step::DeleteMessage { message_id } => {
                    self.screen
                        .write(&format!(
                            "[deleted: message #{message_id}, from this chat]\n\n"
                        ))
                        .await;
                    return Carried::Delivered { message_id: None };
                }
                Step::Document { .. } | Step::LeaveChat | Step::AnswerButton { .. } => {
                    return Carried::Delivered { message_id: None };
                }
            };
            self.screen.write(&format!("{outbound}\n")).await;
            // The terminal has no message ids; the question is open all the same.
            Carried::Delivered {
                message_id: Some(0),
            }
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

    let courier: Arc<dyn Courier> = Arc::new(TerminalCourier {
        screen: Arc::clone(&screen),
    });
    let stop_sending = CancellationToken::new();
    let sending = tokio::spawn(sender::run(
        Arc::clone(&service),
        courier,
        SenderOptions::default(),
        stop_sending.clone(),
    ));
    let scheduler = scheduler::spawn_supervised(Arc::clone(&service), shutdown.clone());

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
            Some(Pressable::Callback { data, .. }) => Event::ButtonPressed { data },
            Some(Pressable::Types(label)) => {
                let id = message_ids.fetch_add(1, Ordering::SeqCst);
                Event::from_text(&label, BOT_NAME, id, service.clock().now())
            }
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
        for (number, after) in screen.show(outbound, &message_ids).await {
            if let Err(error) = service.fade_later(LOCAL_USER, number, after).await {
                tracing::warn!(error = %crate::service::cause_chain(&error), "cannot remember to delete a message");
            }
        }
    }
    shutdown.cancel();
    scheduler.await??;
    stop_sending.cancel();
    sending.await?;
    service.flush().await?;
    Ok(())
}
