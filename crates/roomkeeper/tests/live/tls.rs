//! Roomkeeper against a Prosody set up the way jitsi-meet's packages set it up: its
//! self-made certificate (`prosodyctl cert generate`, self-signed, `CA:TRUE`), trusted
//! the jitsi-meet way (the system's store) or through `ca_file`; refused with words that
//! name the certificate and the fix when nothing trusts it, in `check-config`, the API
//! and `/admin/jitsi`.

use std::process::{Command, Output};

use super::*;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::jitsi::SERVICE_PASSWORD;

/// `roomkeeper check-config` as an operator runs it, on a configuration with `prosody`
/// as its one shard; `ca_file` and the system's store (`SSL_CERT_FILE`, which the
/// system's TLS settings honour) as given.
fn check_config(
    dir: &std::path::Path,
    prosody: &Prosody,
    ca_file: Option<&std::path::Path>,
    password: &str,
    system_store: Option<&std::path::Path>,
) -> Output {
    std::fs::write(dir.join("password"), format!("{password}\n")).unwrap();
    let shard = prosody.shard("main");
    let ca_line = ca_file.map_or_else(String::new, |f| format!("ca_file = {:?}\n", f));
    std::fs::write(
        dir.join("roomkeeper.toml"),
        format!(
            "[database]\nurl = \"sqlite://{dir}/rk.db\"\n\n[[jitsi.shards]]\nname = \"main\"\n\
             xmpp_address = \"{address}\"\ndomain = \"{domain}\"\naccount = \"{account}\"\n\
             password_file = \"{dir}/password\"\n{ca_line}",
            dir = dir.display(),
            address = shard.xmpp_address,
            domain = shard.domain,
            account = shard.account,
        ),
    )
    .unwrap();
    let mut command = Command::new(env!("CARGO_BIN_EXE_roomkeeper"));
    command
        .current_dir(dir)
        .args(["--config", "roomkeeper.toml", "check-config"])
        .env_remove("ROOMKEEPER_CONFIG")
        .env_remove("SSL_CERT_DIR");
    match system_store {
        Some(bundle) => command.env("SSL_CERT_FILE", bundle),
        None => command.env_remove("SSL_CERT_FILE"),
    };
    command.output().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jitsi_meets_own_certificate_is_trusted_as_jitsi_meet_trusts_it_and_refused_otherwise() {
    let mut steps = Steps::new();
    let _turn = ONE_AT_A_TIME.lock().await;
    let prosody = Prosody::start_setup(Setup {
        version: ProsodyVersion::V13,
        ..Setup::default()
    })
    .await
    .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let text = |output: &Output| {
        format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        )
    };

    steps.begin("The jitsi-meet way");
    // The certificate in the system's store (what update-ca-certificates puts into
    // /etc/ssl/certs/ca-certificates.crt), no ca_file.
    let bundle = dir.path().join("ca-certificates.crt");
    std::fs::copy(prosody.auth_certificate(), &bundle).unwrap();
    let output = check_config(dir.path(), &prosody, None, SERVICE_PASSWORD, Some(&bundle));
    assert!(output.status.success(), "{}", text(&output));
    assert!(
        text(&output).contains("jitsi main (127.0.0.1:"),
        "{}",
        text(&output)
    );
    assert!(
        text(&output).contains(": connected, Prosody 13."),
        "{}",
        text(&output)
    );

    steps.begin("ca_file naming the certificate, as the docs say");
    let output = check_config(
        dir.path(),
        &prosody,
        Some(&prosody.auth_certificate()),
        SERVICE_PASSWORD,
        None,
    );
    assert!(output.status.success(), "{}", text(&output));

    steps.begin("Nothing trusts it");
    // Not "down", a failure that names the certificate and the fix.
    let empty_store = dir.path().join("empty.crt");
    let other = Prosody::start().await.unwrap();
    std::fs::copy(other.auth_certificate(), &empty_store).unwrap();
    drop(other);
    let output = check_config(
        dir.path(),
        &prosody,
        None,
        SERVICE_PASSWORD,
        Some(&empty_store),
    );
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("Roomkeeper does not trust Jitsi's Prosody")
            && said.contains("CN=auth.meet.test")
            && said.contains("ca_file = \"/etc/prosody/certs/auth.meet.test.crt\""),
        "{said}"
    );
    assert!(!said.contains("not reachable"), "{said}");

    steps.begin("A wrong password is a refused login, not an unreachable server");
    let output = check_config(
        dir.path(),
        &prosody,
        Some(&prosody.auth_certificate()),
        "wrong",
        None,
    );
    let said = text(&output);
    assert!(!output.status.success(), "{said}");
    assert!(
        said.contains("Prosody refuses Roomkeeper's login"),
        "{said}"
    );

    steps.begin("The running service says the same in the API's 503 and on /admin/jitsi");
    let database = std::sync::Arc::new(
        roomkeeper_testkit::TestDatabase::new(roomkeeper_testkit::Backend::Sqlite)
            .await
            .unwrap(),
    );
    let mut config = database.config();
    let mut shard = prosody.shard("main");
    shard.ca_file = Some(empty_store.clone());
    config.jitsi.shards = vec![shard];
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let lecturer = app.client_as("lecturer").await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        let answer = lecturer
            .get(app.url(&format!("/api/v1/rooms/{room}/meeting")))
            .send()
            .await
            .unwrap();
        assert_eq!(answer.status(), StatusCode::SERVICE_UNAVAILABLE);
        let body: Value = answer.json().await.unwrap();
        let message = body["error"]["message"].as_str().unwrap_or_default();
        // Until the first attempt has ended, it is still connecting.
        if message.contains("does not trust") || Instant::now() > deadline {
            break body;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let message = body["error"]["message"].as_str().unwrap();
    assert!(
        message.starts_with("Roomkeeper does not trust Jitsi's Prosody")
            && message.contains("/etc/prosody/certs/auth.meet.test.crt"),
        "{body}"
    );
    let page = admin_jitsi_page(&app).await;
    assert!(
        page.contains("Certificate not trusted")
            && page.contains("/etc/prosody/certs/auth.meet.test.crt"),
        "{page}"
    );
    let ready = json(app.client().get(app.url("/readyz"))).await;
    assert_eq!(
        ready["checks"]["jitsi"][0]["problem"]["kind"], "certificate",
        "{ready}"
    );
    app.stop().await.unwrap();
}
