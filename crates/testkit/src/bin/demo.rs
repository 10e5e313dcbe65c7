//! Live control without a Jitsi installation: a local Prosody with simulated meetings
//! (evilstudent has locked `logic`), and Roomkeeper configured against it.
//!
//!     cargo run -p roomkeeper-testkit --bin demo [-- --listen 127.0.0.1:8470]
//!
//! Needs Debian's `prosody` package (scripts/test installs it). Everything lives in a
//! temporary directory and is gone when you press Ctrl-C.

use std::net::SocketAddr;

use anyhow::Context;
use roomkeeper_auth::PasswordHasher;
use roomkeeper_domain::{Clock, Username};
use roomkeeper_store::{Audit, NewRequest};
use roomkeeper_testkit::jitsi::{Focus, Participant, Prosody};

const LECTURER_PASSWORD: &str = "lecturer-password";
const ADMIN_PASSWORD: &str = "demo-admin-password";

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let listen = std::env::args()
        .skip_while(|a| a != "--listen")
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8470".into());
    // Taken first, so that no server started below can be handed the same port.
    let listener = tokio::net::TcpListener::bind(&listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let prosody = Prosody::start().await?;
    let focus = Focus::start(&prosody).await?;
    let dir = tempfile::tempdir()?;

    let mut config = roomkeeper::Config::default();
    config.http.listen = listen.clone();
    config.database.url = format!("sqlite://{}", dir.path().join("demo.db").display());
    config.initial_admin_password = Some(ADMIN_PASSWORD.into());
    config.jitsi.shards = vec![prosody.shard("local")];
    let state = roomkeeper::prepare(&config, Clock::default()).await?;
    let store = &state.usecases.store;

    // The admin may keep the demo password; the lecturer gets an account.
    let hash = PasswordHasher::hash(ADMIN_PASSWORD.into()).await?;
    let admin = store
        .user_by_name(&Username::parse("admin")?)
        .await?
        .context("no admin")?;
    store
        .set_password_hash(admin.id, &hash, false, false)
        .await?;
    let hash = PasswordHasher::hash(LECTURER_PASSWORD.into()).await?;
    store
        .create_user(
            &roomkeeper_store::NewUser {
                username: Username::parse("lecturer")?,
                display_name: Some("Prof. Lecturer".into()),
                password_hash: Some(hash),
                is_admin: false,
                must_change_password: false,
            },
            state.usecases.clock.now(),
        )
        .await?;
    let audit = Audit {
        actor: Some("admin"),
        address: None,
        now: state.usecases.clock.now(),
    };
    for room in ["logic", "seminar"] {
        let request = NewRequest {
            room_name: room.into(),
            requester: "lecturer".into(),
            reason: "Demo".into(),
            co_owners: vec!["assistant".into()],
        };
        store
            .create_request(&request, Some("demo"), &audit, &[])
            .await?;
    }

    // evilstudent is first in `logic` (so the focus made him moderator) and locks it;
    // `seminar` runs normally.
    let evil =
        Participant::join(&prosody, &focus, "logic", "e1e1e1e1", "evilstudent", None).await?;
    evil.wait_until(Participant::is_moderator).await?;
    evil.lock("mine").await?.map_err(anyhow::Error::msg)?;
    let mut crowd = vec![evil];
    for (nick, name) in [
        ("5e111111", "Tutor"),
        ("5e222222", "Student A"),
        ("5e333333", "Student B"),
    ] {
        crowd.push(Participant::join(&prosody, &focus, "seminar", nick, name, None).await?);
    }

    // Announced only once Roomkeeper is connected to the demo's Prosody: the room page
    // opened right away would otherwise say Jitsi is unreachable.
    anyhow::ensure!(
        state
            .usecases
            .shards
            .wait_ready(std::time::Duration::from_secs(20))
            .await,
        "Roomkeeper did not connect to the demo's Prosody: {}",
        prosody.log()
    );
    let address: SocketAddr = listener.local_addr()?;
    println!(
        "Open http://{address}/ and log in as lecturer / {LECTURER_PASSWORD} (admin / {ADMIN_PASSWORD})."
    );
    println!(
        "The room \"logic\" is locked by evilstudent: revoke him, remove the password. Ctrl-C ends the demo."
    );
    roomkeeper::serve(listener, state, &config, roomkeeper::shutdown_signal()).await?;
    drop(crowd);
    Ok(())
}
