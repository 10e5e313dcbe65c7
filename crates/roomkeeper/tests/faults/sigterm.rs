//! SIGTERM under load, as systemd stops the service: requests in flight finish (an
//! upload whose body is still coming included), live views end cleanly, no new
//! connection is taken, and a download the shutdown grace cut resumes with `Range`
//! after the restart.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use roomkeeper_testkit::MeetingEvents;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::Prosody;
use serde_json::Value;

use super::*;

/// Seconds the shutdown waits for requests in flight here (20 by default).
const GRACE: u64 = 3;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_what_is_in_flight_and_a_cut_download_resumes() {
    let mut steps = Steps::new();
    let prosody = Prosody::start().await.unwrap();
    let installation = Installation::new(&format!(
        "{}[http]\nshutdown_grace_seconds = {GRACE}\n",
        prosody.shard_toml("main")
    ));
    installation.user("lecturer", false);
    installation.user("root", true);
    let mut served = installation.serve("sigterm").await;
    let lecturer = api_token(&served, "lecturer").await;
    let root = api_token(&served, "root").await;
    let room = registered_room(&served, &lecturer, &root, "lecture").await;

    steps.begin("A recording of the room, taken in by the command line");
    let jibri = installation.dir().join("jibri");
    let now = roomkeeper_domain::Clock::default().now();
    let session = jibri.join("session");
    std::fs::create_dir_all(&session).unwrap();
    // Recorded after the room was registered (a recording belongs to the room of its time).
    let video = session.join(roomkeeper_testkit::jibri::file_name("lecture", now));
    // Larger than the sockets' buffers on loopback (a few MiB), so a download that is
    // not read stays in flight.
    let len = roomkeeper_testkit::jibri::make_big_video(&video, "1280x720").unwrap();
    assert!(len > 32 << 20, "only {len} bytes");
    let whole = std::fs::read(&video).unwrap();
    roomkeeper_testkit::jibri::write_metadata(&session, &format!("{MEET}/lecture")).unwrap();
    let ingested = installation.cli(&["ingest", &session.display().to_string()], "");
    let recording = String::from_utf8(ingested.stdout)
        .unwrap()
        .split(' ')
        .next()
        .unwrap()
        .to_owned();

    let connected = Instant::now();
    loop {
        let meeting = reqwest::Client::new()
            .get(served.url(&format!("/api/v1/rooms/{room}/meeting")))
            .bearer_auth(&lecturer)
            .send()
            .await
            .unwrap();
        if meeting.status() == StatusCode::OK {
            break;
        }
        assert!(connected.elapsed() < Duration::from_secs(20), "no Prosody");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    steps.begin("In flight when the signal comes");
    // A live view,
    let client = reqwest::Client::new();
    let mut events = MeetingEvents::new(
        client
            .get(served.url(&format!("/api/v1/rooms/{room}/events")))
            .bearer_auth(&lecturer)
            .send()
            .await
            .unwrap(),
    );
    events.next().await.unwrap();
    // a download its reader stopped reading (a phone in a tunnel),
    let mut download = client
        .get(served.url(&format!("/api/v1/recordings/{recording}/content")))
        .bearer_auth(&lecturer)
        .send()
        .await
        .unwrap();
    assert_eq!(download.status(), StatusCode::OK);
    let mut received = Vec::new();
    while received.len() < 1 << 20 {
        received.extend_from_slice(&download.chunk().await.unwrap().unwrap());
    }
    // an upload whose last part is still to come,
    let (more, body) = futures::channel::mpsc::unbounded::<Result<Vec<u8>, std::io::Error>>();
    let upload_session = jibri.join("upload");
    std::fs::create_dir_all(&upload_session).unwrap();
    roomkeeper_testkit::jibri::make_video(&upload_session.join("a.mp4"), 1).unwrap();
    let small = std::fs::read(upload_session.join("a.mp4")).unwrap();
    let boundary = "faults-boundary";
    let head = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"session\"\r\n\r\nupload\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"metadata\"\r\n\r\n\
         {{\"meeting_url\": \"{MEET}/lecture\"}}\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"video\"; \
         filename=\"{}\"\r\nContent-Type: video/mp4\r\n\r\n",
        roomkeeper_testkit::jibri::file_name("lecture", now - 1800)
    );
    more.unbounded_send(Ok(head.into_bytes())).unwrap();
    more.unbounded_send(Ok(small[..small.len() / 2].to_vec()))
        .unwrap();
    let upload = tokio::spawn(
        client
            .post(served.url("/api/v1/recordings/ingest"))
            .bearer_auth(INGEST_TOKEN)
            .header(
                "content-type",
                format!("multipart/form-data; boundary={boundary}"),
            )
            .body(reqwest::Body::wrap_stream(body))
            .send(),
    );
    // and a crowd of scripts asking for the room list.
    let stop_asking = Arc::new(AtomicBool::new(false));
    let answered = Arc::new(AtomicUsize::new(0));
    let mut crowd = tokio::task::JoinSet::new();
    for _ in 0..16 {
        let (url, token, stop, answered) = (
            served.url("/api/v1/rooms"),
            lecturer.clone(),
            stop_asking.clone(),
            answered.clone(),
        );
        crowd.spawn(async move {
            let client = reqwest::Client::new();
            let mut refused = 0;
            while !stop.load(Ordering::Relaxed) {
                match client.get(&url).bearer_auth(&token).send().await {
                    Ok(answer) => {
                        // Once answering has begun, the answer is whole and right.
                        assert_eq!(answer.status(), StatusCode::OK);
                        let rooms: Value = answer.json().await.expect("a whole answer");
                        assert_eq!(rooms["total"], 1);
                        answered.fetch_add(1, Ordering::Relaxed);
                    }
                    // Not taken (the listener is closed, or an idle connection was
                    // closed as the request went out): clients retry these.
                    Err(e) if e.is_connect() || e.is_request() => refused += 1,
                    Err(e) => panic!("{e}"),
                }
            }
            refused
        });
    }
    while answered.load(Ordering::Relaxed) < 200 {
        tokio::task::yield_now().await;
    }

    let signalled = Instant::now();
    served.terminate().unwrap();
    // The upload's last part arrives after the signal: it is still taken in.
    more.unbounded_send(Ok(small[small.len() / 2..].to_vec()))
        .unwrap();
    more.unbounded_send(Ok(format!("\r\n--{boundary}--\r\n").into_bytes()))
        .unwrap();
    drop(more);
    let uploaded = upload.await.unwrap().unwrap();
    assert_eq!(uploaded.status(), StatusCode::OK);
    let uploaded: Value = uploaded.json().await.unwrap();
    assert_eq!(uploaded["recordings"].as_array().unwrap().len(), 1);
    // The live view ends: a clean end of the stream, not a broken connection.
    assert!(
        events.closed().await.unwrap(),
        "the event stream ended cleanly"
    );
    // New connections are refused soon after the signal.
    let refused = loop {
        match client.get(served.url("/healthz")).send().await {
            Err(e) if e.is_connect() => break signalled.elapsed(),
            _ => assert!(
                signalled.elapsed() < Duration::from_secs(2),
                "still accepting"
            ),
        }
    };
    stop_asking.store(true, Ordering::Relaxed);
    while let Some(asked) = crowd.join_next().await {
        asked.unwrap();
    }
    // The unread download holds the exit back until the grace is over; then it is cut.
    let status = served
        .exited(Duration::from_secs(GRACE + 5))
        .await
        .unwrap()
        .expect("exited after the grace");
    assert!(status.success(), "{status}");
    assert!(signalled.elapsed() >= Duration::from_secs(GRACE));
    // Read until the cut (an error or an early end).
    while let Ok(Some(chunk)) = download.chunk().await {
        received.extend_from_slice(&chunk);
    }
    assert!(received.len() < whole.len(), "the download was cut");
    assert!(served.log_text().contains("shutdown grace"));

    steps.begin("After the restart the download resumes where it was cut");
    let served = installation.serve("sigterm").await;
    let rest = client
        .get(served.url(&format!("/api/v1/recordings/{recording}/content")))
        .bearer_auth(&lecturer)
        .header("range", format!("bytes={}-", received.len()))
        .send()
        .await
        .unwrap();
    assert_eq!(rest.status(), StatusCode::PARTIAL_CONTENT);
    received.extend_from_slice(&rest.bytes().await.unwrap());
    assert_eq!(sha256_hex(&received), sha256_hex(&whole));
    println!(
        "SIGTERM: {} answers, new connections refused after {refused:?}, exit after {:?}",
        answered.load(Ordering::Relaxed),
        signalled.elapsed()
    );
}
