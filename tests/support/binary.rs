//! The binary as an operator or a newcomer runs it: started clean of the environment that
//! would change what it does (a token, a key, a log filter), and the terminal chat fed a
//! session's lines at once.

#![allow(
    dead_code,
    reason = "shared by several test binaries, each using a part"
)]

use std::{
    io::Write,
    path::Path,
    process::{Command, Output, Stdio},
};

pub const BINARY: &str = env!("CARGO_BIN_EXE_crossroads");

/// `crossroads ARGS`, with no token, API address, key or log filter from the environment.
pub fn crossroads(args: &[&str]) -> Command {
    let mut command = Command::new(BINARY);
    command
        .args(args)
        .env_remove("TELOXIDE_TOKEN")
        .env_remove("TELOXIDE_API_URL")
        .env_remove("CROSSROADS_KEY")
        .env_remove("RUST_LOG");
    command
}

/// Runs `command` with `input` typed in and its input then closed, and waits for it to end.
pub fn typed_into(mut command: Command, input: &str) -> Output {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().unwrap()
}

/// A terminal chat session on `data_dir`: `input` typed, then Ctrl-D.
pub fn chat(data_dir: &Path, input: &str) -> Output {
    typed_into(
        crossroads(&["chat", "--data-dir", data_dir.to_str().unwrap()]),
        input,
    )
}

pub fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}
