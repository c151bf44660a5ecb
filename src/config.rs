//! `config.toml`: every key documented in `config.example.toml`, unknown keys refused, bad
//! values named, secrets never printed.

use std::{
    fmt,
    path::{Path, PathBuf},
    time::Duration,
};

use chrono::NaiveTime;
use serde::Deserialize;

use crossroads_core::{
    voice::{Contact, CrisisLine, Settings},
    zone::Zone,
};

/// teloxide's own variables, kept so a deployment that already sets them just works.
pub const TOKEN_ENV: &str = "TELOXIDE_TOKEN";
pub const API_URL_ENV: &str = "TELOXIDE_API_URL";
pub const WEBHOOK_SECRET_ENV: &str = "CROSSROADS_WEBHOOK_SECRET";

/// Telegram's own bound on a paid broadcast rate.
pub const MAX_MESSAGES_PER_SECOND: u32 = 1000;

/// A value that must never reach a log or an error message.
#[derive(Clone, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    pub fn new(value: String) -> Secret {
        Secret(value)
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    #[serde(default)]
    pub telegram: TelegramConfig,
    #[serde(default)]
    pub storage: StorageConfig,
    pub practice: PracticeConfig,
    #[serde(default)]
    pub schedule: ScheduleConfig,
    #[serde(default)]
    pub content: ContentConfig,
    #[serde(default)]
    pub safety: SafetyConfig,
    #[serde(default)]
    pub privacy: PrivacyConfig,
    #[serde(default)]
    pub backup: BackupConfig,
    #[serde(default)]
    pub log: LogConfig,
    #[serde(default)]
    pub metrics: MetricsConfig,
    #[serde(default)]
    pub admin: AdminConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Telegram user ids who may use /stats.
    #[serde(default)]
    pub user_ids: Vec<i64>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MetricsConfig {
    /// Where to serve `/metrics` and `/healthz`; unset, they are off.
    pub listen: Option<std::net::SocketAddr>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    pub token: Option<Secret>,
    pub api_url: Option<url::Url>,
    #[serde(default)]
    pub mode: Mode,
    pub webhook_url: Option<url::Url>,
    pub listen: Option<std::net::SocketAddr>,
    pub webhook_secret: Option<Secret>,
    #[serde(default = "default_messages_per_second")]
    pub messages_per_second: u32,
}

impl Default for TelegramConfig {
    fn default() -> Self {
        TelegramConfig {
            token: None,
            api_url: None,
            mode: Mode::default(),
            webhook_url: None,
            listen: None,
            webhook_secret: None,
            messages_per_second: default_messages_per_second(),
        }
    }
}

fn default_messages_per_second() -> u32 {
    30
}

/// How updates reach the bot.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Mode {
    #[default]
    Polling,
    Webhook,
}

/// What webhook mode needs, checked.
#[derive(Debug, Clone)]
pub struct Webhook {
    pub url: url::Url,
    pub listen: std::net::SocketAddr,
    pub secret: Secret,
}

/// Telegram's rule for a webhook secret: 1 to 256 of `A-Z a-z 0-9 _ -`.
fn is_valid_webhook_secret(secret: &str) -> bool {
    (1..=256).contains(&secret.len())
        && secret
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_' || byte == b'-')
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct StorageConfig {
    pub path: PathBuf,
    pub cache_capacity_mb: u64,
}

impl Default for StorageConfig {
    fn default() -> Self {
        StorageConfig {
            path: PathBuf::from("data/crossroads.sled"),
            cache_capacity_mb: 16,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PracticeConfig {
    pub name: String,
    pub booking_url: url::Url,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ScheduleConfig {
    #[serde(with = "crossroads_core::model::hh_mm")]
    pub default_time: NaiveTime,
    pub default_timezone: Zone,
    #[serde(with = "humantime_serde")]
    pub catch_up: Duration,
    /// Zones /timezone offers as buttons, besides the user's own and the default one.
    pub suggested_timezones: Vec<Zone>,
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            default_time: NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"),
            default_timezone: Zone::Named(chrono_tz::UTC),
            catch_up: Duration::from_secs(3 * 3600),
            suggested_timezones: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContentConfig {
    /// Unset: the dialogues built into the binary.
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct SafetyConfig {
    pub emergency_number: String,
    pub crisis_lines: Vec<CrisisLineConfig>,
}

impl Default for SafetyConfig {
    fn default() -> Self {
        SafetyConfig {
            emergency_number: "your local emergency number (112 in Europe, 911 in North America)"
                .to_owned(),
            crisis_lines: vec![CrisisLineConfig {
                name: "Find a Helpline, a directory of free crisis lines in every country"
                    .to_owned(),
                phone: None,
                url: Some("https://findahelpline.com".to_owned()),
            }],
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CrisisLineConfig {
    pub name: String,
    pub phone: Option<String>,
    pub url: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct PrivacyConfig {
    pub retention_days: u32,
    pub key_file: PathBuf,
    /// In discreet mode, how long a recap, brief or export stays in the chat.
    #[serde(with = "humantime_serde")]
    pub discreet_lifetime: Duration,
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            retention_days: 365,
            key_file: PathBuf::from("data/crossroads.key"),
            discreet_lifetime: Duration::from_secs(15 * 60),
        }
    }
}

/// Backups the running bot makes of its own database.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct BackupConfig {
    /// Where they go. Unset: the bot makes none (`crossroads backup` still works when stopped).
    pub dir: Option<PathBuf>,
    #[serde(with = "humantime_serde")]
    pub every: Duration,
    /// How many to keep; older ones are deleted after each new one.
    pub keep: u32,
}

impl Default for BackupConfig {
    fn default() -> Self {
        BackupConfig {
            dir: None,
            every: Duration::from_secs(24 * 3600),
            keep: 7,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as "info" or "crossroads=debug,info"; `RUST_LOG` wins.
    #[serde(default = "default_log_filter")]
    pub filter: String,
    #[serde(default)]
    pub format: LogFormat,
}

fn default_log_filter() -> String {
    "info".to_owned()
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: default_log_filter(),
            format: LogFormat::default(),
        }
    }
}

/// How log lines are written: for people, or one JSON object a line for a log collector.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read the config file {path}: {error}")]
    Read {
        path: PathBuf,
        error: std::io::Error,
    },
    #[error("{path}: {message}")]
    Parse { path: PathBuf, message: String },
    #[error("{path} has problems:\n{}", problems.iter().map(|p| format!("  - {p}")).collect::<Vec<_>>().join("\n"))]
    Invalid {
        path: PathBuf,
        problems: Vec<String>,
    },
}

/// Longer than anyone needs, and short enough that date arithmetic never overflows.
const MAX_RETENTION_DAYS: u32 = 36_500;

/// The longest a missed question may be late and still be sent.
const MAX_CATCH_UP: Duration = Duration::from_secs(24 * 3600);

/// The most often the bot backs itself up: a backup pauses writers for a moment.
const MIN_BACKUP_EVERY: Duration = Duration::from_secs(60);

/// Telegram lets a bot delete a message for 48 hours: a lifetime must end well before that.
const MAX_DISCREET_LIFETIME: Duration = Duration::from_secs(47 * 3600);
const MIN_DISCREET_LIFETIME: Duration = Duration::from_secs(60);

impl Config {
    /// Reads, parses and validates a config file. Relative paths in it are taken from the
    /// file's own folder, so the bot behaves the same whatever directory it is started from.
    pub fn load(path: &Path) -> Result<Config, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|error| ConfigError::Read {
            path: path.to_owned(),
            error,
        })?;
        let base = path.parent().unwrap_or(Path::new("."));
        Config::parse(&text, base).map_err(|error| match error {
            ConfigError::Parse { message, .. } => ConfigError::Parse {
                path: path.to_owned(),
                message,
            },
            ConfigError::Invalid { problems, .. } => ConfigError::Invalid {
                path: path.to_owned(),
                problems,
            },
            other => other,
        })
    }

    pub fn parse(text: &str, base: &Path) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str(text).map_err(|error| ConfigError::Parse {
            path: PathBuf::new(),
            message: error.to_string(),
        })?;
        config.storage.path = base.join(&config.storage.path);
        config.privacy.key_file = base.join(&config.privacy.key_file);
        config.content.dir = config.content.dir.map(|dir| base.join(dir));
        config.backup.dir = config.backup.dir.map(|dir| base.join(dir));
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: PathBuf::new(),
                problems,
            });
        }
        Ok(config)
    }

    /// What the running bot's periodic backups need, or `None` without `[backup] dir`.
    pub fn backup_options(&self) -> Option<crate::backup::BackupOptions> {
        self.backup
            .dir
            .as_ref()
            .map(|dir| crate::backup::BackupOptions {
                dir: dir.clone(),
                every: self.backup.every,
                keep: self.backup.keep as usize,
            })
    }

    fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        if self.practice.name.trim().is_empty() || self.practice.name.chars().count() > 100 {
            problems.push("practice.name: needs 1 to 100 characters".to_owned());
        }
        if !matches!(self.practice.booking_url.scheme(), "https" | "http") {
            problems.push(format!(
                "practice.booking_url: {:?} must be an http(s) address, for Telegram to open it from a button",
                self.practice.booking_url.as_str()
            ));
        }
        if self.schedule.catch_up > MAX_CATCH_UP {
            problems.push(
                "schedule.catch_up: at most 24h; an older question is skipped, not sent late"
                    .to_owned(),
            );
        }
        if self.storage.cache_capacity_mb == 0 {
            problems.push("storage.cache_capacity_mb: must be at least 1".to_owned());
        }
        if !(1..=MAX_RETENTION_DAYS).contains(&self.privacy.retention_days) {
            problems.push(format!(
                "privacy.retention_days: must be from 1 to {MAX_RETENTION_DAYS} (100 years)"
            ));
        }
        if !(MIN_DISCREET_LIFETIME..=MAX_DISCREET_LIFETIME)
            .contains(&self.privacy.discreet_lifetime)
        {
            problems.push(
                "privacy.discreet_lifetime: from 1m to 47h; Telegram lets a bot delete a message for 48 hours only"
                    .to_owned(),
            );
        }
        if self.backup.every < MIN_BACKUP_EVERY {
            problems.push(
                "backup.every: at least 1m; each backup pauses writes for a moment".to_owned(),
            );
        }
        if self.backup.keep == 0 {
            problems.push(
                "backup.keep: must be at least 1, or the newest backup would be deleted".to_owned(),
            );
        }
        if let Some(dir) = &self.backup.dir
            && dir.starts_with(&self.storage.path)
        {
            problems.push(format!(
                "backup.dir: {} is inside storage.path; keep backups out of the database folder",
                dir.display()
            ));
        }
        if self.safety.emergency_number.trim().is_empty() {
            problems.push("safety.emergency_number: must not be empty".to_owned());
        }
        if self.safety.crisis_lines.is_empty() {
            problems
                .push("safety.crisis_lines: list at least one line people can reach".to_owned());
        }
        for (index, line) in self.safety.crisis_lines.iter().enumerate() {
            let at = format!("safety.crisis_lines[{index}]");
            if line.name.trim().is_empty() {
                problems.push(format!("{at}.name: must not be empty"));
            }
            match (&line.phone, &line.url) {
                (Some(_), Some(_)) | (None, None) => {
                    problems.push(format!("{at}: give exactly one of phone or url"))
                }
                (Some(phone), None) if phone.trim().is_empty() => {
                    problems.push(format!("{at}.phone: must not be empty"))
                }
                (None, Some(url))
                    if !url::Url::parse(url)
                        .is_ok_and(|url| matches!(url.scheme(), "https" | "http")) =>
                {
                    problems.push(format!("{at}.url: {url:?} is not an http(s) address"))
                }
                _ => {}
            }
        }
        let api_url = self.telegram.api_url.as_ref();
        if let Some(url) = api_url.filter(|url| !matches!(url.scheme(), "https" | "http")) {
            problems.push(format!(
                "telegram.api_url: {:?} is not an http(s) address",
                url.as_str()
            ));
        }
        if self.admin.user_ids.iter().any(|id| *id <= 0) {
            problems.push(
                "admin.user_ids: Telegram user ids are positive numbers (a person's, not a group's)"
                    .to_owned(),
            );
        }
        if !(1..=MAX_MESSAGES_PER_SECOND).contains(&self.telegram.messages_per_second) {
            problems.push(format!(
                "telegram.messages_per_second: must be from 1 to {MAX_MESSAGES_PER_SECOND} \
                 (Telegram allows about 30, and up to 1000 with paid broadcasts)"
            ));
        }
        if let Some(secret) = &self.telegram.webhook_secret
            && !is_valid_webhook_secret(secret.expose())
        {
            problems.push(
                "telegram.webhook_secret: must be 1 to 256 characters, each a letter, a digit, _ or -"
                    .to_owned(),
            );
        }
        if let Some(url) = &self.telegram.webhook_url
            && url.scheme() != "https"
        {
            problems.push(format!(
                "telegram.webhook_url: {:?} must be an https address; Telegram posts only to HTTPS",
                url.as_str()
            ));
        }
        if self.telegram.mode == Mode::Webhook {
            if self.telegram.webhook_url.is_none() {
                problems.push(
                    "telegram.webhook_url: webhook mode needs the public https address Telegram posts to"
                        .to_owned(),
                );
            }
            if self.telegram.listen.is_none() {
                problems.push(
                    "telegram.listen: webhook mode needs the address to listen on, like \"0.0.0.0:8443\""
                        .to_owned(),
                );
            }
        }
        problems
    }

    /// What webhook mode needs, or `None` in polling mode. `CROSSROADS_WEBHOOK_SECRET` wins
    /// over the file's `webhook_secret`.
    pub fn webhook(&self, env: impl Fn(&str) -> Option<String>) -> Result<Option<Webhook>, String> {
        if self.telegram.mode != Mode::Webhook {
            return Ok(None);
        }
        let secret = match env(WEBHOOK_SECRET_ENV).filter(|secret| !secret.is_empty()) {
            Some(secret) if is_valid_webhook_secret(&secret) => Secret(secret),
            Some(_) => {
                return Err(format!(
                    "{WEBHOOK_SECRET_ENV}: must be 1 to 256 characters, each a letter, a digit, _ or -"
                ));
            }
            None => self.telegram.webhook_secret.clone().ok_or_else(|| {
                format!(
                    "telegram.webhook_secret: webhook mode needs a secret (or {WEBHOOK_SECRET_ENV}), \
                     so that only Telegram can post updates"
                )
            })?,
        };
        match (&self.telegram.webhook_url, self.telegram.listen) {
            (Some(url), Some(listen)) => Ok(Some(Webhook {
                url: url.clone(),
                listen,
                secret,
            })),
            _ => Err("webhook mode needs telegram.webhook_url and telegram.listen".to_owned()),
        }
    }

    /// The token: `TELOXIDE_TOKEN` wins over the file.
    pub fn token(&self, env: impl Fn(&str) -> Option<String>) -> Option<Secret> {
        env(TOKEN_ENV)
            .filter(|token| !token.trim().is_empty())
            .map(Secret)
            .or_else(|| self.telegram.token.clone())
            .filter(|token| !token.0.trim().is_empty())
    }

    /// The Bot API address: `TELOXIDE_API_URL` wins over the file; Telegram's own by default.
    pub fn api_url(
        &self,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<url::Url>, String> {
        match env(API_URL_ENV).filter(|url| !url.trim().is_empty()) {
            Some(url) => url::Url::parse(url.trim())
                .map(Some)
                .map_err(|error| format!("{API_URL_ENV}: {url:?} is not a URL: {error}")),
            None => Ok(self.telegram.api_url.clone()),
        }
    }

    pub fn settings(&self) -> Settings {
        Settings {
            practice_name: self.practice.name.trim().to_owned(),
            booking_url: self.practice.booking_url.to_string(),
            default_time: self.schedule.default_time,
            default_zone: self.schedule.default_timezone,
            suggested_zones: self.schedule.suggested_timezones.clone(),
            catch_up: chrono::Duration::from_std(self.schedule.catch_up)
                .unwrap_or(chrono::Duration::hours(3)),
            emergency: self.safety.emergency_number.trim().to_owned(),
            crisis_lines: self
                .safety
                .crisis_lines
                .iter()
                .map(|line| CrisisLine {
                    name: line.name.trim().to_owned(),
                    contact: match (&line.phone, &line.url) {
                        (Some(phone), _) => Contact::Phone(phone.trim().to_owned()),
                        (None, url) => Contact::Url(url.clone().unwrap_or_default()),
                    },
                })
                .collect(),
            retention_days: self.privacy.retention_days,
            admins: self.admin.user_ids.clone(),
            discreet_lifetime: chrono::Duration::from_std(self.privacy.discreet_lifetime)
                .unwrap_or(chrono::Duration::minutes(15)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
        [practice]
        name = "Boutique Psychotherapy"
        booking_url = "https://example.com/book"
    "#;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(text, Path::new("/etc/crossroads"))
    }

    #[test]
    fn the_example_config_is_valid() {
        let config = parse(include_str!("../config.example.toml")).unwrap();
        assert!(
            config.telegram.token.is_none(),
            "the example must not carry a token"
        );
    }

    #[test]
    fn a_minimal_config_gets_sensible_defaults_and_paths_beside_it() {
        let config = parse(MINIMAL).unwrap();
        assert_eq!(
            config.schedule.default_time,
            NaiveTime::from_hms_opt(9, 0, 0).unwrap()
        );
        assert_eq!(config.schedule.catch_up, Duration::from_secs(3 * 3600));
        assert_eq!(config.privacy.retention_days, 365);
        assert_eq!(
            config.privacy.discreet_lifetime,
            Duration::from_secs(15 * 60)
        );
        assert_eq!(
            config.storage.path,
            Path::new("/etc/crossroads/data/crossroads.sled")
        );
        assert_eq!(
            config.privacy.key_file,
            Path::new("/etc/crossroads/data/crossroads.key")
        );
        assert!(config.content.dir.is_none());
    }

    #[test]
    fn an_unknown_key_is_named() {
        let error = parse(&format!("{MINIMAL}\n[schedule]\ndefault_tme = \"08:00\"\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("default_tme"), "{error}");
        let error = parse(&format!("{MINIMAL}\n[extra]\nx = 1\n"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("extra"), "{error}");
    }

    #[test]
    fn bad_values_are_named() {
        for (addition, named) in [
            ("[schedule]\ndefault_time = \"25:99\"", "25:99"),
            (
                "[schedule]\ndefault_timezone = \"Mars/Olympus\"",
                "Mars/Olympus",
            ),
            ("[schedule]\ncatch_up = \"soon\"", "catch_up"),
            ("[schedule]\ncatch_up = \"48h\"", "schedule.catch_up"),
            ("[privacy]\nretention_days = 0", "privacy.retention_days"),
            (
                "[privacy]\ndiscreet_lifetime = \"48h\"",
                "privacy.discreet_lifetime",
            ),
            (
                "[privacy]\ndiscreet_lifetime = \"10s\"",
                "privacy.discreet_lifetime",
            ),
            (
                "[privacy]\ndiscreet_lifetime = \"soon\"",
                "discreet_lifetime",
            ),
            ("[privacy]\nretention_days = -1", "retention_days"),
            (
                "[privacy]\nretention_days = 999999999",
                "privacy.retention_days",
            ),
            (
                "[[safety.crisis_lines]]\nname = \"X\"",
                "safety.crisis_lines[0]",
            ),
            (
                "[[safety.crisis_lines]]\nname = \"X\"\nurl = \"ftp://x\"",
                "safety.crisis_lines[0].url",
            ),
        ] {
            let error = parse(&format!("{MINIMAL}\n{addition}\n"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(named), "{addition}: {error}");
        }
        let error = parse("[practice]\nname = \"P\"\nbooking_url = \"not a url\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("booking_url"), "{error}");
        let error = parse("[practice]\nname = \"P\"\nbooking_url = \"mailto:a@b.c\"\n")
            .unwrap_err()
            .to_string();
        assert!(error.contains("practice.booking_url"), "{error}");
        let error = parse("").unwrap_err().to_string();
        assert!(error.contains("practice"), "{error}");
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let text =
            "[practice]\nname = \"\"\nbooking_url = \"ftp://x\"\n[privacy]\nretention_days = 0\n";
        let ConfigError::Invalid { problems, .. } = parse(text).unwrap_err() else {
            panic!("expected problems")
        };
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn admins_are_people_by_their_telegram_ids() {
        let config = parse(&format!("{MINIMAL}\n[admin]\nuser_ids = [4001, 4002]\n")).unwrap();
        assert_eq!(config.settings().admins, [4001, 4002]);
        assert!(parse(MINIMAL).unwrap().settings().admins.is_empty());
        let group = parse(&format!("{MINIMAL}\n[admin]\nuser_ids = [-100123]\n"))
            .unwrap_err()
            .to_string();
        assert!(group.contains("admin.user_ids"), "{group}");
        let typo = parse(&format!("{MINIMAL}\n[admin]\nusers = [1]\n"))
            .unwrap_err()
            .to_string();
        assert!(typo.contains("users"), "{typo}");
    }

    #[test]
    fn log_format_and_metrics_address_are_checked() {
        let config = parse(&format!(
            "{MINIMAL}\n[log]\nformat = \"json\"\n[metrics]\nlisten = \"127.0.0.1:9100\"\n"
        ))
        .unwrap();
        assert_eq!(config.log.format, LogFormat::Json);
        assert_eq!(config.log.filter, "info");
        assert_eq!(config.metrics.listen.unwrap().port(), 9100);
        let bad = parse(&format!("{MINIMAL}\n[log]\nformat = \"xml\"\n"))
            .unwrap_err()
            .to_string();
        assert!(bad.contains("xml"), "{bad}");
        let bad = parse(&format!("{MINIMAL}\n[metrics]\nlisten = \"localhost\"\n"))
            .unwrap_err()
            .to_string();
        assert!(bad.contains("listen") || bad.contains("socket"), "{bad}");
        assert!(parse(MINIMAL).unwrap().metrics.listen.is_none());
    }

    #[test]
    fn webhook_mode_needs_its_address_listener_and_a_valid_secret() {
        let none = |_: &str| None;
        let webhook = "[telegram]\nmode = \"webhook\"\n";
        let error = parse(&format!("{MINIMAL}\n{webhook}"))
            .unwrap_err()
            .to_string();
        assert!(error.contains("telegram.webhook_url"), "{error}");
        assert!(error.contains("telegram.listen"), "{error}");

        let complete = format!(
            "{MINIMAL}\n{webhook}webhook_url = \"https://bot.example.org/hook\"\nlisten = \"0.0.0.0:8443\"\n"
        );
        let config = parse(&complete).unwrap();
        let missing = config.webhook(none).unwrap_err();
        assert!(missing.contains("webhook_secret"), "{missing}");
        let from_env = config
            .webhook(|name: &str| (name == WEBHOOK_SECRET_ENV).then(|| "s3cret_-X".to_owned()))
            .unwrap()
            .unwrap();
        assert_eq!(from_env.secret.expose(), "s3cret_-X");
        assert_eq!(from_env.listen.port(), 8443);
        let bad_env = config
            .webhook(|name: &str| (name == WEBHOOK_SECRET_ENV).then(|| "no spaces".to_owned()))
            .unwrap_err();
        assert!(bad_env.contains(WEBHOOK_SECRET_ENV), "{bad_env}");

        let bad = parse(&format!(
            "{complete}webhook_secret = \"{}\"\n",
            "x".repeat(257)
        ))
        .unwrap_err()
        .to_string();
        assert!(bad.contains("telegram.webhook_secret"), "{bad}");
        let plain_http = parse(&format!(
            "{MINIMAL}\n[telegram]\nwebhook_url = \"http://bot.example.org/hook\"\n"
        ))
        .unwrap_err()
        .to_string();
        assert!(plain_http.contains("https"), "{plain_http}");
        let polling = parse(MINIMAL).unwrap();
        assert!(polling.webhook(none).unwrap().is_none());
    }

    #[test]
    fn the_sending_rate_is_bounded_by_telegrams() {
        assert_eq!(parse(MINIMAL).unwrap().telegram.messages_per_second, 30);
        for rate in ["0", "1001"] {
            let error = parse(&format!(
                "{MINIMAL}\n[telegram]\nmessages_per_second = {rate}\n"
            ))
            .unwrap_err()
            .to_string();
            assert!(error.contains("telegram.messages_per_second"), "{error}");
        }
        let paid = parse(&format!(
            "{MINIMAL}\n[telegram]\nmessages_per_second = 1000\n"
        ))
        .unwrap();
        assert_eq!(paid.telegram.messages_per_second, 1000);
    }

    #[test]
    fn the_environment_wins_for_token_and_api_url() {
        let config = parse(&format!(
            "{MINIMAL}\n[telegram]\ntoken = \"file:token\"\napi_url = \"http://file\"\n"
        ))
        .unwrap();
        let none = |_: &str| None;
        assert_eq!(config.token(none).unwrap().expose(), "file:token");
        assert_eq!(
            config.api_url(none).unwrap().unwrap().as_str(),
            "http://file/"
        );
        let env = |name: &str| match name {
            TOKEN_ENV => Some("env:token".to_owned()),
            API_URL_ENV => Some("http://127.0.0.1:8081".to_owned()),
            _ => None,
        };
        assert_eq!(config.token(env).unwrap().expose(), "env:token");
        assert_eq!(
            config.api_url(env).unwrap().unwrap().as_str(),
            "http://127.0.0.1:8081/"
        );
        assert!(parse(MINIMAL).unwrap().token(none).is_none());
    }

    #[test]
    fn backups_are_off_by_default_and_their_dir_is_beside_the_config() {
        let config = parse(MINIMAL).unwrap();
        assert!(config.backup_options().is_none());
        assert_eq!(config.backup.every, Duration::from_secs(24 * 3600));
        assert_eq!(config.backup.keep, 7);

        let config = parse(&format!(
            "{MINIMAL}\n[backup]\ndir = \"backups\"\nevery = \"6h\"\nkeep = 3\n"
        ))
        .unwrap();
        let options = config.backup_options().unwrap();
        assert_eq!(options.dir, Path::new("/etc/crossroads/backups"));
        assert_eq!(options.every, Duration::from_secs(6 * 3600));
        assert_eq!(options.keep, 3);
        let absolute = parse(&format!("{MINIMAL}\n[backup]\ndir = \"/var/backups/cr\"\n")).unwrap();
        assert_eq!(
            absolute.backup_options().unwrap().dir,
            Path::new("/var/backups/cr")
        );
    }

    #[test]
    fn bad_backup_settings_are_named() {
        for (addition, named) in [
            ("every = \"30s\"", "backup.every"),
            ("every = \"0s\"", "backup.every"),
            ("every = \"daily\"", "every"),
            ("keep = 0", "backup.keep"),
            ("keep = -2", "keep"),
            ("kep = 3", "kep"),
            ("dir = \"data/crossroads.sled/backups\"", "backup.dir"),
        ] {
            let error = parse(&format!("{MINIMAL}\n[backup]\n{addition}\n"))
                .unwrap_err()
                .to_string();
            assert!(error.contains(named), "{addition}: {error}");
        }
        let ConfigError::Invalid { problems, .. } =
            parse(&format!("{MINIMAL}\n[backup]\nevery = \"59s\"\nkeep = 0\n")).unwrap_err()
        else {
            panic!("expected problems")
        };
        assert_eq!(problems.len(), 2, "{problems:?}");
        let minute = parse(&format!("{MINIMAL}\n[backup]\nevery = \"1m\"\nkeep = 1\n"));
        assert!(minute.is_ok(), "the smallest allowed values are allowed");
    }

    #[test]
    fn secrets_never_print() {
        let config = parse(&format!(
            "{MINIMAL}\n[telegram]\ntoken = \"123456:SECRET-TOKEN\"\n"
        ))
        .unwrap();
        assert!(!format!("{config:?}").contains("SECRET-TOKEN"));
    }
}
