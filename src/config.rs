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
    pub log: LogConfig,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TelegramConfig {
    pub token: Option<Secret>,
    pub api_url: Option<url::Url>,
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
            cache_capacity_mb: 64,
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
}

impl Default for ScheduleConfig {
    fn default() -> Self {
        ScheduleConfig {
            default_time: NaiveTime::from_hms_opt(9, 0, 0).expect("a valid time"),
            default_timezone: Zone::Named(chrono_tz::UTC),
            catch_up: Duration::from_secs(3 * 3600),
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
}

impl Default for PrivacyConfig {
    fn default() -> Self {
        PrivacyConfig {
            retention_days: 365,
            key_file: PathBuf::from("data/crossroads.key"),
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct LogConfig {
    /// A tracing filter such as "info" or "crossroads=debug,info"; `RUST_LOG` wins.
    pub filter: String,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            filter: "info".to_owned(),
        }
    }
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
        let problems = config.problems();
        if !problems.is_empty() {
            return Err(ConfigError::Invalid {
                path: PathBuf::new(),
                problems,
            });
        }
        config.storage.path = base.join(&config.storage.path);
        config.privacy.key_file = base.join(&config.privacy.key_file);
        config.content.dir = config.content.dir.map(|dir| base.join(dir));
        Ok(config)
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
        problems
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
    fn secrets_never_print() {
        let config = parse(&format!(
            "{MINIMAL}\n[telegram]\ntoken = \"123456:SECRET-TOKEN\"\n"
        ))
        .unwrap();
        assert!(!format!("{config:?}").contains("SECRET-TOKEN"));
    }
}
