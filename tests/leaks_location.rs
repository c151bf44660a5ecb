//! The log of a session in which someone shares their location, captured at the most detailed
//! level, holds no trace of where they are. One test per binary: the log subscriber is global.

mod support;

use support::{World, captured_log::Captured};

const ANN: i64 = 1001;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sharing_a_location_logs_no_coordinates() {
    let captured = Captured::install_at_trace();
    let world = World::start().await;
    let ann = world.user(ANN, "Ann");
    ann.asks("/timezone").await;
    ann.next_reply().await;
    world
        .fake
        .user_taps_key(ANN, ANN, "Share my location", (48.858_093, 2.294_694));
    assert!(ann.next_reply().await.text.contains("Europe/Paris"));
    world
        .fake
        .user_sends_location(ANN, ANN, -33.856_784, 151.215_297);
    assert!(ann.next_reply().await.text.contains("Australia/Sydney"));
    ann.has_no_unread().await;
    world.finish().await;

    let log = captured.text();
    // Every line opens with a timestamp whose seconds and fractions can spell out a
    // coordinate's digits ("06:44:02.294…"); only what follows it is the bot's to answer for.
    let logged: String = log
        .lines()
        .map(|line| line.split_once(' ').map_or(line, |(_, rest)| rest))
        .collect::<Vec<_>>()
        .join("\n");
    assert!(
        log.contains("kind=\"location\""),
        "the capture must hold the session's log lines:\n{log}"
    );
    for trace in [
        "48.858",
        "2.294",
        "33.856",
        "151.215",
        "latitude",
        "longitude",
    ] {
        assert!(!logged.contains(trace), "{trace} appears in the log");
    }
}
