//! Everything the bot logs, kept in memory, for tests that read the log.

use std::{
    io::Write,
    sync::{Arc, Mutex},
};

/// Collects everything logged, from every thread.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl Captured {
    /// Installs the bot's own telemetry at the most detailed level, writing here. The
    /// subscriber is global: one such test per binary.
    pub fn install_at_trace() -> Captured {
        let captured = Captured::default();
        crossroads::telemetry::install(
            "trace",
            crossroads::config::LogFormat::Text,
            captured.clone(),
            false,
        );
        captured
    }

    /// What was logged so far.
    pub fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;

    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}
