//! How fast the admin's registration pages answer on a big installation:
//! 10,000 rooms, 2,000 users, 1,000 pending requests (issue 3's bar: under 100 ms).
//!
//!     cargo run --release -p roomkeeper-bench --bin registration            # SQLite
//!     TEST_POSTGRES_URL=postgres://USER@HOST:PORT/postgres cargo run --release -p roomkeeper-bench --bin registration -- postgres
//!
//! The data goes in through the same `Store` calls the service makes (each request in
//! its own transaction with its audit entries), the whole app serves it on a loopback
//! port, and every page is fetched over HTTP like a browser would, 50 times each.

use std::time::Instant;

use roomkeeper_bench::{ms, percentile};
use roomkeeper_store::{Audit, NewRequest};
use roomkeeper_testkit::{Backend, TestApp};

const ROOMS: usize = 10_000;
const USERS: usize = 2_000;
const PENDING: usize = 1_000;
const SAMPLES: usize = 50;

fn audit(actor: &str) -> Audit<'_> {
    Audit {
        actor: Some(actor),
        address: Some("192.0.2.1"),
        now: 1_700_000_000,
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let backend = match std::env::args().nth(1).as_deref() {
        None | Some("sqlite") => Backend::Sqlite,
        Some("postgres") => Backend::Postgres,
        Some(other) => anyhow::bail!("unknown backend {other:?}: sqlite or postgres"),
    };
    let app = TestApp::spawn(backend).await?;
    let store = app.store();

    let seeding = Instant::now();
    for u in 0..USERS {
        app.passwordless_user(&format!("user{u:04}"), false).await?;
    }
    app.passwordless_user("root", true).await?;
    for r in 0..ROOMS {
        let owner = format!("user{:04}", r % USERS);
        let request = NewRequest {
            room_name: format!("lecture-{r:05}"),
            requester: owner.clone(),
            reason: "Weekly lecture".into(),
            co_owners: vec![format!("user{:04}", (r + 1) % USERS)],
        };
        // A pattern approval: the same transaction as a real auto-approved request.
        store
            .create_request(&request, Some("lecture-*"), &audit(&owner), &[])
            .await?;
    }
    for p in 0..PENDING {
        let requester = format!("user{:04}", (p * 7) % USERS);
        let request = NewRequest {
            room_name: format!("seminar-{p:04}"),
            requester: requester.clone(),
            reason: "A seminar I teach this term; please approve.".into(),
            co_owners: Vec::new(),
        };
        store
            .create_request(&request, None, &audit(&requester), &[])
            .await?;
    }
    for u in (0..USERS).step_by(40) {
        store
            .add_pattern(
                &format!("user{u:04}"),
                &format!("user{u:04}-*"),
                &audit("root"),
            )
            .await?;
    }
    let seeded_in = seeding.elapsed();

    let cookie = app.session_cookie("root").await?;
    let client = reqwest::Client::new();
    let pages = [
        "/admin/requests",
        "/admin/requests?status=pending&page=50",
        "/admin/rooms",
        "/admin/rooms?page=200",
        "/admin/rooms?q=lecture-0999",
        "/api/v1/room-requests?status=pending&page=20",
        "/api/v1/rooms?page=150",
        "/api/v1/rooms?q=user0042",
        "/admin/users",
        "/admin/users?page=30",
        "/admin/users?q=user004",
    ];
    println!(
        "{backend:?}: {ROOMS} rooms, {USERS} users, {PENDING} pending requests (seeded in {:.1} s)\n",
        seeded_in.as_secs_f64()
    );
    println!("| page | p50 ms | p95 ms | max ms |");
    println!("|---|---:|---:|---:|");
    for page in pages {
        let mut times = Vec::with_capacity(SAMPLES);
        for _ in 0..SAMPLES {
            let started = Instant::now();
            let response = client
                .get(app.url(page))
                .header("cookie", &cookie)
                .send()
                .await?;
            anyhow::ensure!(
                response.status().is_success(),
                "{page}: {}",
                response.status()
            );
            response.bytes().await?;
            times.push(started.elapsed());
        }
        times.sort();
        println!(
            "| `{page}` | {} | {} | {} |",
            ms(percentile(&times, 0.5)),
            ms(percentile(&times, 0.95)),
            ms(times[times.len() - 1])
        );
    }
    app.stop().await?;
    Ok(())
}
