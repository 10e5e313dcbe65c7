//! The one-command demo starts, shows the locked room, and stops on SIGTERM.

#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_demo_shows_a_room_locked_by_evilstudent() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let listen = format!("127.0.0.1:{port}");
    let mut demo = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(["--listen", &listen])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    let stdout = demo.stdout.take().unwrap();
    // A failed assertion must not leave the demo (and its Prosody) running.
    struct KillOnPanic(u32);
    impl Drop for KillOnPanic {
        fn drop(&mut self) {
            if std::thread::panicking() {
                let _ = Command::new("kill").arg(self.0.to_string()).status();
            }
        }
    }
    let _guard = KillOnPanic(demo.id());
    let (lines_tx, lines) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let line = lines
            .recv_timeout(deadline.saturating_duration_since(Instant::now()))
            .expect("the demo announces itself within 60 s");
        if line.starts_with("Open http://") {
            assert!(line.contains("lecturer / lecturer-password"), "{line}");
            break;
        }
    }
    let client = reqwest::Client::builder()
        .cookie_store(true)
        .build()
        .unwrap();
    let base = format!("http://{listen}/api/v1");
    let login = client
        .post(format!("{base}/session"))
        .json(&serde_json::json!({"username": "lecturer", "password": "lecturer-password"}))
        .send()
        .await
        .unwrap();
    assert!(login.status().is_success());
    let rooms: serde_json::Value = client
        .get(format!("{base}/rooms?name=logic"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let id = rooms["items"][0]["id"].as_i64().unwrap();
    let meeting: serde_json::Value = client
        .get(format!("{base}/rooms/{id}/meeting"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(meeting["password_protected"], true, "{meeting}");
    assert_eq!(meeting["participants"][0]["id"], "e1e1e1e1");
    assert_eq!(meeting["participants"][0]["moderator"], true);
    let killed = Command::new("kill")
        .args(["-TERM", &demo.id().to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    assert!(demo.wait().unwrap().success());
}
