use std::{path::PathBuf, process::ExitCode};

use clap::{Parser, Subcommand};

/// Crossroads: a daily reflection companion on Telegram, for people at a crossroads in a long relationship.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Commands,
}

#[derive(Subcommand)]
enum Commands {
    /// Run the bot on Telegram (long polling).
    Run {
        /// The config file; see config.example.toml.
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Chat with the bot in this terminal: no Telegram, no token.
    Chat {
        /// A config file; without one, the example practice and the built-in dialogues.
        #[arg(long, short)]
        config: Option<PathBuf>,
        /// Where to keep this chat's data (default: your local data folder, under crossroads/chat).
        #[arg(long)]
        data_dir: Option<PathBuf>,
    },
    /// Validate a config file and the dialogues it names, and list every problem.
    Check {
        #[arg(long, short)]
        config: PathBuf,
    },
    /// Write a consistent, encrypted backup of a stopped bot's database to a new file (a
    /// running bot makes its own, with [backup] dir).
    Backup {
        #[arg(long, short)]
        config: PathBuf,
        /// The backup file to write; it must not exist.
        #[arg(long)]
        out: PathBuf,
    },
    /// Restore a backup into the config's storage path, which must be missing or empty, with
    /// the key it was made under.
    Restore {
        #[arg(long, short)]
        config: PathBuf,
        /// The backup file.
        #[arg(long)]
        from: PathBuf,
    },
    /// Re-encrypt every record of a stopped bot's database under a new key, crash-safely.
    RotateKey {
        #[arg(long, short)]
        config: PathBuf,
        /// Where to write the new key (mode 0600); it must not exist.
        #[arg(long)]
        new_key_file: PathBuf,
    },
    /// Explain how the safety detector reads a message: the decision, the rule that fired, the
    /// model's scores against its thresholds, and the nearest reviewed examples.
    Safety {
        /// The message, in quotes.
        text: String,
        /// How many of the nearest reviewed examples to show.
        #[arg(long, default_value_t = 5)]
        examples: usize,
    },
}

fn main() -> ExitCode {
    crossroads::memory::limit_allocator_arenas();
    match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime.block_on(run()),
        Err(error) => {
            eprintln!("crossroads: cannot start: {error}");
            ExitCode::FAILURE
        }
    }
}

async fn run() -> ExitCode {
    // A panic's message can quote the value that caused it, and that can be a user's words:
    // report where it happened, never what it said.
    std::panic::set_hook(Box::new(|info| {
        let location = info.location().map_or_else(String::new, |location| {
            format!("{}:{}", location.file(), location.line())
        });
        tracing::error!(%location, "internal error; its details are withheld because they can hold user text");
        eprintln!("crossroads: internal error at {location}");
    }));
    let cli = Cli::parse();
    let result = match cli.command {
        Commands::Safety { text, examples } => {
            print!("{}", crossroads::app::explain_safety(&text, examples));
            return ExitCode::SUCCESS;
        }
        Commands::Run { config } => crossroads::app::run(&config).await,
        Commands::Chat { config, data_dir } => {
            crossroads::app::chat(config.as_deref(), data_dir.as_deref()).await
        }
        Commands::Backup { config, out } => {
            crossroads::app::backup(&config, &out).map(|line| println!("{line}"))
        }
        Commands::Restore { config, from } => {
            crossroads::app::restore(&config, &from).map(|line| println!("{line}"))
        }
        Commands::RotateKey {
            config,
            new_key_file,
        } => crossroads::app::rotate_key(&config, &new_key_file).map(|line| println!("{line}")),
        Commands::Check { config } => {
            let report = crossroads::app::check(&config);
            for warning in &report.warnings {
                eprintln!("warning: {warning}");
            }
            if report.problems.is_empty() {
                println!("{}: config and dialogues are valid", config.display());
                return ExitCode::SUCCESS;
            }
            eprintln!(
                "{} has {} problem(s):",
                config.display(),
                report.problems.len()
            );
            for problem in &report.problems {
                eprintln!("  - {problem}");
            }
            return ExitCode::FAILURE;
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("crossroads: {error:#}");
            ExitCode::FAILURE
        }
    }
}
