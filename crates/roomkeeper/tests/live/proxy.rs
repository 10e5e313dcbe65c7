//! Roomkeeper behind the nginx site it ships (`deploy/nginx/roomkeeper.conf`): a real
//! nginx with a certificate from a test CA in front of the app, a real Prosody behind it.

use std::io::Write;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody};
use roomkeeper_testkit::nginx::{self, HOST, Nginx, SiteFor};
use roomkeeper_testkit::{Backend, MeetingEvents, TestApp, TestDatabase, jibri, json};

use super::ONE_AT_A_TIME;

const MEET: &str = "https://meet.test";
const PASSWORD: &str = "a long test password";
const INGEST_TOKEN: &str = "an-ingest-token-of-more-than-32-characters";
/// Where the people's browsers are: nginx sees this address, Roomkeeper only nginx's.
const CLIENT: IpAddr = IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2));

/// A browser (or script) at [`CLIENT`] that trusts the test CA and reaches `localhost`
/// at nginx's port.
fn browser(ca: &std::path::Path, https_port: u16) -> reqwest::Client {
    let ca = reqwest::Certificate::from_pem(&std::fs::read(ca).unwrap()).unwrap();
    reqwest::Client::builder()
        .add_root_certificate(ca)
        .resolve(HOST, SocketAddr::from(([127, 0, 0, 1], https_port)))
        .local_address(CLIENT)
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// An operator follows docs/OPERATIONS.md: login, a live action seen at once on an
/// event stream, Jibri's upload over HTTPS, and downloads sent by nginx after
/// Roomkeeper allowed them (`X-Accel-Redirect`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_nginx_everything_works_and_nginx_sends_the_files() {
    let mut steps = Steps::new();
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start().await.unwrap();
    let focus = Focus::start(&prosody).await.unwrap();
    let tls = tempfile::tempdir().unwrap();
    let ca = nginx::make_certificate(tls.path()).unwrap();
    let recordings = tempfile::tempdir().unwrap();
    let store_dir = recordings.path().join("store");
    let access_log = tls.path().join("roomkeeper.access.log");
    // Each must know the other's address: Roomkeeper's socket is bound first.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let upstream = listener.local_addr().unwrap();
    let (proxy, https_port, http_port) = Nginx::start(|https_port, http_port| {
        SiteFor {
            upstream,
            https_port,
            http_port,
            tls_dir: tls.path(),
            recordings_dir: &store_dir,
            access_log: &access_log,
        }
        .render()
    })
    .await
    .unwrap();
    let base = format!("https://{HOST}:{https_port}");

    let database = Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.jitsi.shards = vec![prosody.shard("main")];
    config.rooms.meeting_urls = vec![MEET.into()];
    config.http.public_url = Some(base.clone());
    config.http.trust_forwarded_for = true;
    config.recordings.dir = store_dir.clone();
    config.recordings.ingest_token = Some(INGEST_TOKEN.into());
    config.recordings.x_accel_redirect_location = "/_roomkeeper_files/".into();
    let app = TestApp::spawn_on(listener, database, config, Default::default())
        .await
        .unwrap();
    assert!(app.jitsi_ready().await);
    app.user("lecturer", PASSWORD, false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let lecturer = browser(&ca, https_port);
    let url = |path: &str| format!("{base}{path}");

    steps.begin("Plain http is sent to https");
    let plain = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .get(format!("http://127.0.0.1:{http_port}/rooms"))
        .header("host", HOST)
        .send()
        .await
        .unwrap();
    assert_eq!(plain.status(), StatusCode::MOVED_PERMANENTLY);
    assert_eq!(plain.headers()["location"], "https://localhost/rooms");

    steps.begin("Login; the cookie is the secure one, because public_url is https");
    let login = lecturer
        .post(url("/api/v1/session"))
        .header("origin", &base)
        .json(&serde_json::json!({"username": "lecturer", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(login.status(), StatusCode::OK);
    let cookie = login.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(
        cookie.starts_with("__Host-roomkeeper_session=") && cookie.contains("Secure"),
        "{cookie}"
    );
    assert_eq!(
        json(lecturer.get(url("/api/v1/me"))).await["username"],
        "lecturer"
    );

    steps.begin("A live view open through nginx sees an action through nginx at once");
    let stream = lecturer
        .get(url(&format!("/api/v1/rooms/{room}/events")))
        .send()
        .await
        .unwrap();
    assert_eq!(stream.headers()["content-type"], "text/event-stream");
    let mut events = MeetingEvents::new(stream);
    assert_eq!(events.next().await.unwrap()["running"], false);
    let evil = Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None)
        .await
        .unwrap();
    evil.wait_until(Participant::is_moderator).await.unwrap();
    events
        .until(|m| m["participants"][0]["moderator"] == true)
        .await
        .unwrap();
    let asked = Instant::now();
    let revoke = lecturer
        .delete(url(&format!(
            "/api/v1/rooms/{room}/meeting/participants/e1e1e1e1/moderator"
        )))
        .header("origin", &base)
        // A client cannot choose the address Roomkeeper records.
        .header("x-forwarded-for", "203.0.113.9")
        .send();
    let (revoked, seen) = tokio::join!(
        revoke,
        events.until(|m| m["participants"][0]["moderator"] == false)
    );
    let seen_after = asked.elapsed();
    assert_eq!(revoked.unwrap().status(), StatusCode::OK);
    seen.unwrap();
    assert!(
        seen_after < Duration::from_secs(1),
        "the event took {seen_after:?}"
    );
    let history = app
        .store()
        .audit_log_since(Some("logic"), None, roomkeeper_store::Page::new(1, 50))
        .await
        .unwrap();
    let revocation = history
        .items
        .iter()
        .find(|e| e.action.code() == "revoke_moderator")
        .unwrap();
    assert_eq!(revocation.address.as_deref(), Some("127.0.0.2"));
    drop(events);

    steps.begin("Jibri's finalize script uploads over HTTPS through nginx");
    // More than nginx's default 1 MiB body limit.
    let jibri_dir = tempfile::tempdir().unwrap();
    let session = jibri::record(
        jibri_dir.path(),
        "through-nginx",
        "logic",
        &format!("{MEET}/logic"),
        jibri::an_hour_before(app.clock().now()),
        &[1],
    )
    .unwrap();
    let video = session.videos[0].clone();
    pad_with_free_box(&video, 3 << 20);
    let original = std::fs::read(&video).unwrap();
    let token_file = jibri_dir.path().join("token");
    std::fs::write(&token_file, INGEST_TOKEN).unwrap();
    let finalize = jibri::Finalize::new(&base, &token_file)
        .unwrap()
        .with_env("CURL_CA_BUNDLE", &ca.display().to_string());
    let (done, _) = finalize.finalize(&session.dir).unwrap();
    assert!(done.status.success(), "{done:?}");
    finalize
        .delivered(std::time::Duration::from_secs(60))
        .await
        .unwrap();
    let listed = json(lecturer.get(url(&format!("/api/v1/rooms/{room}/recordings")))).await;
    let id = listed[0]["id"].as_str().unwrap().to_owned();
    assert_eq!(listed[0]["size_bytes"], original.len(), "{listed}");

    steps.begin("Downloads: Roomkeeper checks, nginx sends, with Range");
    let content = url(&format!("/api/v1/recordings/{id}/content"));
    let whole = lecturer.get(&content).send().await.unwrap();
    assert_eq!(whole.status(), StatusCode::OK);
    assert_eq!(whole.headers()["content-type"], "video/mp4");
    assert_eq!(whole.headers()["cache-control"], "private, no-cache");
    assert!(
        whole.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("inline"),
        "{:?}",
        whole.headers()
    );
    // nginx sends the file, and Roomkeeper's security headers with it.
    for header in [
        "strict-transport-security",
        "content-security-policy",
        "x-content-type-options",
        "x-frame-options",
        "referrer-policy",
        "cross-origin-opener-policy",
    ] {
        assert!(
            whole.headers().contains_key(header),
            "{header} missing: {:?}",
            whole.headers()
        );
    }
    assert_eq!(whole.headers()["x-content-type-options"], "nosniff");
    assert!(whole.bytes().await.unwrap() == original);
    let part = lecturer
        .get(&content)
        .header("range", "bytes=1000-1999")
        .send()
        .await
        .unwrap();
    assert_eq!(part.status(), StatusCode::PARTIAL_CONTENT);
    assert!(part.bytes().await.unwrap() == original[1000..2000]);
    // What Roomkeeper itself answered: no bytes, only where nginx finds them.
    let cookie = cookie.split(';').next().unwrap().to_owned();
    let direct = reqwest::Client::new()
        .get(format!("http://{upstream}/api/v1/recordings/{id}/content"))
        .header("cookie", &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(
        direct.headers()["x-accel-redirect"],
        format!("/_roomkeeper_files/{id}").as_str()
    );
    assert!(direct.bytes().await.unwrap().is_empty());
    // The internal location is not there for anyone who asks for it.
    let anonymous = browser(&ca, https_port);
    let sneaking = anonymous
        .get(url(&format!("/_roomkeeper_files/{id}")))
        .send()
        .await
        .unwrap();
    assert_eq!(sneaking.status(), StatusCode::NOT_FOUND);
    let refused = anonymous.get(&content).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::UNAUTHORIZED);

    steps.begin("A share link: its use is audited by Roomkeeper, the file sent by nginx");
    let link = json(
        lecturer
            .post(url(&format!("/api/v1/recordings/{id}/links")))
            .header("origin", &base)
            .json(&serde_json::json!({"expires_in_s": 3600})),
    )
    .await;
    let shared = anonymous
        .get(link["url"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(shared.status(), StatusCode::OK);
    assert!(shared.bytes().await.unwrap() == original);
    let history = app
        .store()
        .audit_log_since(Some("logic"), None, roomkeeper_store::Page::new(1, 50))
        .await
        .unwrap();
    let use_of_link = history
        .items
        .iter()
        .find(|e| e.action.code() == "share_link_used")
        .unwrap();
    assert_eq!(use_of_link.address.as_deref(), Some("127.0.0.2"));

    steps.begin("Large bodies are for Jibri's uploads only");
    // 20 MiB to the login form is refused by nginx before it reaches Roomkeeper (or nginx's
    // disk).
    let large = anonymous
        .post(url("/login"))
        .header("origin", &base)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(vec![b'a'; 20 << 20])
        .send()
        .await;
    // nginx answers, or cuts the upload off; Roomkeeper's own 413 would come after
    // nginx had taken in the whole body.
    if let Ok(large) = large {
        assert_eq!(large.status(), StatusCode::PAYLOAD_TOO_LARGE);
        let page = large.text().await.unwrap_or_default();
        assert!(page.contains("nginx"), "not nginx's answer: {page}");
    }
    // An OpenID answer's code and state are secrets as well.
    let _ = anonymous
        .get(url(
            "/login/oidc/uni/callback?code=SECRET-CODE&state=SECRET-STATE",
        ))
        .send()
        .await
        .unwrap();

    steps.begin("The access log has the requests and none of the secrets");
    let token = link["url"].as_str().unwrap().rsplit('/').next().unwrap();
    let log = std::fs::read_to_string(&access_log).unwrap();
    for (request, status) in [
        ("GET /shared/[secret] ", "200"),
        ("POST /login ", "413"),
        ("GET /login/oidc/uni/callback ", ""),
    ] {
        assert!(
            log.lines()
                .any(|line| line.contains(request) && line.contains(&format!("\" {status}"))),
            "{request} {status} not in the log:\n{log}"
        );
    }
    for secret in [token, "SECRET-CODE", "SECRET-STATE"] {
        assert!(!log.contains(secret), "{secret} in the log:\n{log}");
    }
    drop(proxy);
}

/// Appends an MP4 `free` box of `size` bytes (players skip it): a real video as large
/// as a test needs.
fn pad_with_free_box(video: &std::path::Path, size: u32) {
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(video)
        .unwrap();
    file.write_all(&size.to_be_bytes()).unwrap();
    file.write_all(b"free").unwrap();
    file.write_all(&vec![0x5a; size as usize - 8]).unwrap();
}
