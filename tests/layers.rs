//! The layer diagram, checked from outside as `cargo tree` shows it: the core knows no
//! Telegram, no database and no async runtime; the store knows no Telegram. A dependency that
//! breaks a layer fails here, and a `use` of one in the core fails to compile, since the crate
//! does not have it.

use std::process::Command;

/// The names of every crate `package` depends on, directly or not, for its normal build.
fn dependencies(package: &str) -> Vec<String> {
    let output = Command::new(env!("CARGO"))
        .args([
            "tree",
            "--locked",
            "--offline",
            "--edges",
            "normal",
            "--prefix",
            "none",
        ])
        .args(["--format", "{p}", "--package", package])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo runs");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout)
        .expect("cargo tree prints UTF-8")
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

fn assert_free_of(package: &str, forbidden: &[&str]) {
    let found = dependencies(package);
    assert!(
        found.iter().any(|name| name == package),
        "cargo tree did not list {package} itself: {found:?}"
    );
    for name in forbidden {
        assert!(
            !found.iter().any(|dependency| dependency == name),
            "{package} depends on {name}, which its layer must not know"
        );
    }
}

#[test]
fn the_core_depends_on_no_telegram_no_database_and_no_runtime() {
    assert_free_of(
        "crossroads-core",
        &[
            "teloxide",
            "teloxide-core",
            "sled",
            "tokio",
            "crossroads-store",
            "crossroads",
        ],
    );
}

#[test]
fn the_store_depends_on_no_telegram() {
    assert_free_of(
        "crossroads-store",
        &["teloxide", "teloxide-core", "crossroads"],
    );
}
