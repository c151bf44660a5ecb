//! Logging, set up in one place. teloxide logs through `log`; the subscriber's `tracing-log`
//! bridge carries those lines into the same output.
//!
//! What is logged is chosen so that it can never hold what a user wrote or the bot token:
//! chat ids, update kinds, counts and error causes only.

use std::io::IsTerminal as _;

use tracing_subscriber::{EnvFilter, fmt, fmt::MakeWriter};

use crate::config::LogFormat;

/// HTTP client internals log request addresses at debug level, and a Bot API address holds the
/// token: they stay at warn whatever filter is asked for.
const QUIET_TARGETS: [&str; 4] = ["reqwest=warn", "hyper=warn", "hyper_util=warn", "h2=warn"];

/// Installs the global subscriber, writing to standard error. `RUST_LOG` wins over the
/// configured filter.
pub fn init(configured_filter: &str, format: LogFormat) {
    install(
        configured_filter,
        format,
        std::io::stderr,
        std::io::stderr().is_terminal(),
    );
}

/// Installs the global subscriber with any writer: tests capture the whole log this way.
pub fn install<W>(configured_filter: &str, format: LogFormat, writer: W, ansi: bool)
where
    W: for<'writer> MakeWriter<'writer> + Send + Sync + 'static,
{
    let mut filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(configured_filter))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    for directive in QUIET_TARGETS {
        if let Ok(directive) = directive.parse() {
            filter = filter.add_directive(directive);
        }
    }
    let builder = fmt().with_env_filter(filter).with_writer(writer);
    // A second call (tests) keeps the first subscriber.
    let _ = match format {
        LogFormat::Text => {
            tracing_subscriber::util::SubscriberInitExt::try_init(builder.with_ansi(ansi).finish())
        }
        // The same fields, one JSON object a line, for a log collector.
        LogFormat::Json => tracing_subscriber::util::SubscriberInitExt::try_init(
            builder.json().flatten_event(true).finish(),
        ),
    };
}
