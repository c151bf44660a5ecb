//! Wiring: config, logging, dialogues, store, service and a transport, for each subcommand.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use anyhow::Context as _;
use teloxide::Bot;
use tokio_util::sync::CancellationToken;

use crossroads_core::content::{
    COMMANDS_FILE, Catalog, MESSAGES_FILE, PROMPTS_FILE, Problem, Sources,
};
use crossroads_store::{KEY_ENV, KeyOrigin, Store, StoreError, StoreOptions};

use crate::{
    clock::{Clock, SystemClock},
    config::Config,
    service::Service,
    service::sender::SenderOptions,
    telemetry,
    transport::{
        telegram::{self, Receiving, TelegramOptions},
        terminal,
        webhook::WebhookOptions,
    },
};

/// The built-in config the terminal chat uses when given none.
pub const EXAMPLE_CONFIG: &str = include_str!("../config.example.toml");

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

pub fn load_catalog(config: &Config) -> Result<Catalog, Vec<Problem>> {
    match &config.content.dir {
        Some(dir) => load_dialogues(dir),
        None => Catalog::builtin(),
    }
}

/// Reads the three dialogue files of a practice's own `[content] dir`.
fn load_dialogues(dir: &Path) -> Result<Catalog, Vec<Problem>> {
    let mut problems = Vec::new();
    let mut read = |name: &'static str| {
        let path = dir.join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|error| {
            problems.push(Problem {
                file: path.display().to_string(),
                message: format!("cannot read it: {error}"),
            });
            String::new()
        })
    };
    let sources = Sources {
        prompts: (PROMPTS_FILE, read(PROMPTS_FILE)),
        messages: (MESSAGES_FILE, read(MESSAGES_FILE)),
        commands: (COMMANDS_FILE, read(COMMANDS_FILE)),
    };
    if !problems.is_empty() {
        return Err(problems);
    }
    Catalog::from_sources(sources).map_err(|problems| {
        problems
            .into_iter()
            .map(|problem| Problem {
                file: dir.join(&problem.file).display().to_string(),
                ..problem
            })
            .collect()
    })
}

fn catalog_or_error(config: &Config) -> anyhow::Result<Catalog> {
    load_catalog(config).map_err(|problems| {
        let listed: Vec<String> = problems
            .iter()
            .map(|problem| format!("  - {problem}"))
            .collect();
        anyhow::anyhow!("the dialogues have problems:\n{}", listed.join("\n"))
    })
}

/// Where the config says the data and its key are; `CROSSROADS_KEY` wins over the key file.
pub fn store_options(config: &Config) -> StoreOptions {
    StoreOptions {
        path: config.storage.path.clone(),
        key_file: config.privacy.key_file.clone(),
        key_from_env: env(KEY_ENV),
        cache_capacity_bytes: config.storage.cache_capacity_mb * 1024 * 1024,
    }
}

pub fn open_store(config: &Config) -> anyhow::Result<Store> {
    let store = Store::open(&store_options(config))?;
    match store.key_origin() {
        KeyOrigin::Created(path) => {
            tracing::warn!(path = %path.display(), "created a new encryption key; back this file up, without it replies cannot be read")
        }
        KeyOrigin::File(path) => tracing::info!(path = %path.display(), "encryption key loaded"),
        KeyOrigin::Environment => tracing::info!("encryption key taken from {KEY_ENV}"),
    }
    Ok(store)
}

pub fn build_service(config: &Config, clock: Arc<dyn Clock>) -> anyhow::Result<Arc<Service>> {
    let catalog = catalog_or_error(config)?;
    let store = open_store(config)?;
    Ok(Arc::new(Service::new(
        Arc::new(store),
        catalog,
        config.settings(),
        clock,
    )))
}

/// Cancels on SIGINT or SIGTERM: a service manager stops us with SIGTERM, a person with ^C.
pub fn shutdown_on_signals() -> CancellationToken {
    let token = CancellationToken::new();
    let cancel = token.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            match signal(SignalKind::terminate()) {
                Ok(mut terminate) => {
                    tokio::select! {
                        _ = tokio::signal::ctrl_c() => {}
                        _ = terminate.recv() => {}
                    }
                }
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                }
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("signal received");
        cancel.cancel();
    });
    token
}

/// `crossroads run`: the bot on Telegram, by long polling or a webhook.
pub async fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    telemetry::init(&config.log.filter, config.log.format);
    let token = config.token(env).context(
        "no bot token. Set the TELOXIDE_TOKEN environment variable (or [telegram] token in the config) \
         to the token @BotFather gave you",
    )?;
    let api_url = config.api_url(env).map_err(anyhow::Error::msg)?;
    let receiving = match config.webhook(env).map_err(anyhow::Error::msg)? {
        Some(webhook) => Receiving::Webhook(WebhookOptions {
            url: webhook.url,
            listen: webhook.listen,
            secret: webhook.secret,
            bound: Arc::default(),
        }),
        None => Receiving::Polling,
    };
    let service = build_service(&config, Arc::new(SystemClock))?;
    let mut bot = Bot::new(token.expose());
    if let Some(url) = api_url {
        bot = bot.set_api_url(url);
    }
    let options = TelegramOptions {
        sender: SenderOptions {
            messages_per_second: config.telegram.messages_per_second,
            ..SenderOptions::default()
        },
        receiving,
        metrics: config
            .metrics
            .listen
            .map(|listen| crate::ops::MetricsOptions {
                listen,
                telegram_window: crate::ops::TELEGRAM_WINDOW,
                bound: Arc::default(),
            }),
        backup: config.backup_options(),
        ..TelegramOptions::default()
    };
    telegram::serve(service, bot, options, shutdown_on_signals()).await
}

/// Where the terminal chat keeps its data when not told otherwise.
pub fn default_chat_dir() -> PathBuf {
    dirs::data_local_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("crossroads")
        .join("chat")
}

/// `crossroads chat`: the same bot in the terminal. Without a config it uses the example
/// practice, the built-in dialogues, and a data folder of its own.
pub async fn chat(config_path: Option<&Path>, data_dir: Option<&Path>) -> anyhow::Result<()> {
    let mut config = match config_path {
        Some(path) => Config::load(path)?,
        None => {
            Config::parse(EXAMPLE_CONFIG, Path::new(".")).context("the built-in example config")?
        }
    };
    // Chat output goes to the terminal; log lines only when something is wrong.
    telemetry::init("warn", crate::config::LogFormat::Text);
    let chosen_dir = data_dir.map(Path::to_path_buf);
    let data_dir = chosen_dir.clone().unwrap_or_else(default_chat_dir);
    // A config's own storage is used unless a data folder is named; the example's never is.
    if config_path.is_none() || chosen_dir.is_some() {
        config.storage.path = data_dir.join("crossroads.sled");
        config.privacy.key_file = data_dir.join("crossroads.key");
    }
    std::fs::create_dir_all(&data_dir)
        .with_context(|| format!("cannot create {}", data_dir.display()))?;
    let service = build_service(&config, Arc::new(SystemClock))?;
    let shutdown = shutdown_on_signals();
    terminal::run(
        service,
        tokio::io::stdin(),
        tokio::io::stdout(),
        &data_dir,
        shutdown,
    )
    .await
}

/// Opens the store of a stopped bot for `backup` and `rotate-key`, never creating one: a
/// missing database is an error, and a locked one says that the bot must be stopped.
fn open_existing(config: &Config, stopped_because: &str) -> anyhow::Result<Store> {
    let path = &config.storage.path;
    if !path.is_dir() {
        anyhow::bail!(
            "there is no database at {} (from [storage] path); nothing was done",
            path.display()
        );
    }
    Store::open(&store_options(config)).map_err(|error| match error {
        StoreError::Open { .. } => anyhow::anyhow!("{error}. {stopped_because}"),
        other => other.into(),
    })
}

/// A size as people read it.
fn size(bytes: u64) -> String {
    match bytes {
        0..1024 => format!("{bytes} B"),
        1024..1_048_576 => format!("{:.1} KiB", bytes as f64 / 1024.0),
        _ => format!("{:.1} MiB", bytes as f64 / 1_048_576.0),
    }
}

fn seconds(duration: std::time::Duration) -> String {
    format!("{:.2} s", duration.as_secs_f64())
}

/// `crossroads backup`: a consistent, encrypted backup of a stopped bot's database, to a new
/// file. Returns the line to print.
pub fn backup(config_path: &Path, out: &Path) -> anyhow::Result<String> {
    let config = Config::load(config_path)?;
    let store = open_existing(
        &config,
        "If the bot is running, it holds the database: a running bot makes its own backups \
         into [backup] dir (set it in the config); `crossroads backup` is for a stopped one",
    )?;
    let report = store.backup_to(out)?;
    Ok(format!(
        "wrote {}: {} entries, {} profiles, {} records in all, {} in {}; encrypted with the \
         database's key, which it does not contain: keep that key to restore it",
        report.path.display(),
        report.entries,
        report.profiles,
        report.records,
        size(report.bytes),
        seconds(report.took),
    ))
}

/// `crossroads restore`: a backup into the config's storage path, which must be missing or
/// empty, with the config's key. Returns the line to print.
pub fn restore(config_path: &Path, from: &Path) -> anyhow::Result<String> {
    let config = Config::load(config_path)?;
    let report = Store::restore_from(&store_options(&config), from)?;
    Ok(format!(
        "restored {} entries, {} profiles, {} records in all, from {} (taken {}) into {} in {}",
        report.entries,
        report.profiles,
        report.records,
        from.display(),
        report.taken_at.format("%Y-%m-%d %H:%M:%S UTC"),
        report.path.display(),
        seconds(report.took),
    ))
}

/// `crossroads rotate-key`: every sealed record re-encrypted under a new key, written to
/// `new_key_file`. Returns the line to print.
pub fn rotate_key(config_path: &Path, new_key_file: &Path) -> anyhow::Result<String> {
    let config = Config::load(config_path)?;
    // Checks that there is a database and that nothing holds it, before any key is made.
    drop(open_existing(
        &config,
        "Stop the bot first: rotate-key needs the database to itself",
    )?);
    let report = Store::rotate_key(&store_options(&config), new_key_file)?;
    let key_setting = if env(KEY_ENV).is_some_and(|key| !key.trim().is_empty()) {
        format!("set {KEY_ENV} to the contents of that file")
    } else {
        format!(
            "point [privacy] key_file at it (it is {} now)",
            config.privacy.key_file.display()
        )
    };
    Ok(format!(
        "re-encrypted {} sealed records of {} ({} entries) under a new key, written to {}, in {}{}. \
         Now {key_setting}, start the bot and check it, then destroy the old key and every backup made with it",
        report.resealed,
        report.records,
        report.entries,
        report.new_key_file.display(),
        seconds(report.took),
        if report.old_copy_removed {
            ""
        } else {
            " (the old copy beside the database goes at the next start)"
        },
    ))
}

/// What `crossroads check` found.
#[derive(Debug, Default)]
pub struct CheckReport {
    /// Each of these stops the bot from starting.
    pub problems: Vec<String>,
    /// Worth knowing, but may be fine where the bot really runs (say, a token set only there).
    pub warnings: Vec<String>,
}

/// `crossroads check`: every problem with the config and the dialogues, at once.
pub fn check(config_path: &Path) -> CheckReport {
    let mut report = CheckReport::default();
    let config = match Config::load(config_path) {
        Ok(config) => config,
        Err(error) => {
            report.problems.push(error.to_string());
            return report;
        }
    };
    if let Err(found) = load_catalog(&config) {
        report
            .problems
            .extend(found.iter().map(ToString::to_string));
    }
    if let Err(problem) = config.api_url(env) {
        report.problems.push(problem);
    }
    if let Err(problem) = config.webhook(env) {
        report.problems.push(problem);
    }
    match &config.backup.dir {
        Some(dir) if dir.exists() && !dir.is_dir() => report.problems.push(format!(
            "backup.dir: {} exists and is not a folder",
            dir.display()
        )),
        Some(_) => {}
        None => report.warnings.push(
            "no [backup] dir: the running bot makes no backups of its own (`crossroads backup` \
             still works while it is stopped)"
                .to_owned(),
        ),
    }
    if config.token(env).is_none() {
        report.warnings.push(
            "no bot token here: `run` needs TELOXIDE_TOKEN or [telegram] token where it runs"
                .to_owned(),
        );
    }
    report
}

/// `crossroads safety "text"`: how the detector reads a message, and why, for a practice that
/// wants to understand (or question) an answer the bot gave. Prints nothing of the log's kind:
/// the text is the operator's own, typed on the command line.
pub fn explain_safety(text: &str, examples: usize) -> String {
    use std::fmt::Write as _;

    use crossroads_core::safety::{self, Concern};

    let explanation = safety::explain(text);
    let mut out = String::new();
    let decision = match (explanation.reading.concern, explanation.reading.check_in) {
        (Concern::Crisis, _) => {
            "crisis: the crisis answer, with the emergency number and crisis lines"
        }
        (Concern::Advice, true) => {
            "advice, with a check-in: the advice answer, a gentle line and the crisis lines at a tap"
        }
        (Concern::Advice, false) => {
            "advice: the answer that the bot cannot advise, and the booking button"
        }
        (Concern::None, true) => {
            "check-in: the usual acknowledgement, a gentle line and the crisis lines at a tap"
        }
        (Concern::None, false) => "none: the usual acknowledgement",
    };
    let _ = writeln!(out, "decision: {decision}");
    let rules = match explanation.rules {
        Concern::Crisis => "crisis",
        Concern::Advice => "advice",
        Concern::None => "nothing",
    };
    let _ = writeln!(out, "rules: {rules}");
    if let Some(number) = explanation.crisis_rule {
        let pattern = safety::crisis_rule_pattern(number).unwrap_or_default();
        let _ = writeln!(
            out,
            "  crisis rule {number} in crates/core/src/safety/rules/crisis.toml fired:\n    {pattern}"
        );
        if explanation.rule_doubted {
            let _ = writeln!(
                out,
                "  doubted: the model scores the message below the rules' doubt threshold, so it gets the check-in, not the crisis answer"
            );
        }
    }
    match explanation.model {
        Some((scores, thresholds)) => {
            let mark = |score: f32, threshold: f32| {
                if score >= threshold {
                    "reaches"
                } else {
                    "below"
                }
            };
            let _ = writeln!(out, "model:");
            let _ = writeln!(
                out,
                "  crisis score {:.3}: {} the crisis threshold {:.3}, {} the check-in threshold {:.3}",
                scores.crisis,
                mark(scores.crisis, thresholds.crisis),
                thresholds.crisis,
                mark(scores.crisis, thresholds.check_in),
                thresholds.check_in
            );
            let _ = writeln!(
                out,
                "  a crisis rule is doubted below {:.3}",
                thresholds.rule_doubt
            );
            let _ = writeln!(
                out,
                "  advice score {:.3}: {} the advice threshold {:.3}",
                scores.advice,
                mark(scores.advice, thresholds.advice),
                thresholds.advice
            );
        }
        None => {
            let _ = writeln!(
                out,
                "model: does not read messages under {} words; the rules alone decided",
                safety::MODEL_MIN_WORDS
            );
        }
    }
    if let Some(model) = safety::shipped_model().filter(|_| examples > 0) {
        let _ = writeln!(out, "nearest reviewed examples:");
        for neighbour in safety::reviewed::nearest(model, text, examples) {
            let label = if neighbour.category.is_empty() || neighbour.category == "unlabelled" {
                neighbour.label.clone()
            } else {
                format!("{} ({})", neighbour.label, neighbour.category)
            };
            let _ = writeln!(
                out,
                "  {:.2}  {label}: {}",
                neighbour.similarity, neighbour.text
            );
        }
    }
    out
}
