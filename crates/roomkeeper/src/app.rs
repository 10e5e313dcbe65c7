//! Start-up: open and migrate the database, make sure someone can administer, serve.

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use anyhow::Context;
use roomkeeper_auth::{PasswordHasher, random_password};
use roomkeeper_domain::{Clock, Username};
use roomkeeper_store::{NewUser, Store};
use roomkeeper_usecases::UseCases;
use roomkeeper_web::{AppState, WebConfig};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

use crate::Config;

/// Opens the database named in the configuration and applies pending migrations.
pub async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    let url = roomkeeper_store::redact_url(&config.database.url);
    let store = roomkeeper_store::connect(&config.database)
        .await
        .with_context(|| format!("cannot open the database {url}"))?;
    store
        .migrate()
        .await
        .with_context(|| format!("cannot migrate the database {url}"))?;
    Ok(store)
}

/// Everything `serve` needs: database open and migrated, first admin in place.
pub async fn prepare(config: &Config, clock: Clock) -> anyhow::Result<AppState> {
    // Refused now, with the cure, rather than every ingest failing later.
    for place in crate::paths::written_dirs(config) {
        crate::paths::check_writable(&place, true).map_err(anyhow::Error::msg)?;
    }
    let store = open_store(config).await?;
    ensure_an_admin(&*store, config, &clock).await?;
    let mut shards = Vec::new();
    for shard in &config.jitsi.shards {
        // Checked at configuration time: every shard has its password by now.
        let password = shard.password.clone().unwrap_or_default();
        let connection = roomkeeper_jitsi::XmppShard::connect(shard.clone(), password)
            .with_context(|| format!("jitsi shard {:?}", shard.name))?;
        shards.push(Arc::new(connection));
    }
    let recordings = open_recordings(config, store.clone(), clock.clone())?;
    if let Err(error) = recordings.recover().await {
        tracing::warn!(%error, "cannot finish recordings a crash interrupted; retried later");
    }
    let meetings = Arc::new(roomkeeper_jitsi::Shards::new(shards));
    let usecases = compose(
        config,
        store,
        clock,
        meetings,
        recordings,
        Composed {
            instance: roomkeeper_usecases::UseCases::instance_id(&config.http.listen),
            mail_enabled: config.email.enabled(),
        },
    );
    Ok(AppState::new(
        usecases,
        WebConfig {
            http: config.http.clone(),
        },
    ))
}

/// How this process runs the use cases.
pub struct Composed {
    /// Its name among the instances sharing the database ([`UseCases::instance`]).
    pub instance: Arc<str>,
    /// Queue emails (an SMTP server is configured and this process runs the outbox).
    pub mail_enabled: bool,
}

/// What Roomkeeper does, put together in this one place: the service and every command
/// run the same use cases (the same rules, history entries and letters).
pub fn compose(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Clock,
    meetings: Arc<roomkeeper_jitsi::Shards>,
    recordings: roomkeeper_recordings::Recordings,
    how: Composed,
) -> UseCases {
    let mail = roomkeeper_usecases::mail::Mail {
        enabled: how.mail_enabled,
        wakeup: Arc::new(tokio::sync::Notify::new()),
        base_url: config.http.base_url(),
    };
    let recordings = recordings.with_mail(Arc::new(roomkeeper_usecases::mail::RecordingMail {
        store: store.clone(),
        mail: mail.clone(),
    }));
    let watch = Arc::new(roomkeeper_jitsi::MeetingWatch::new(
        meetings.clone(),
        std::time::Duration::from_secs(1),
    ));
    let login = roomkeeper_usecases::login::Login {
        throttle: roomkeeper_auth::LoginThrottle::new(store.clone(), config.login_throttle.clone()),
        ldap: config
            .ldap
            .enabled()
            .then(|| Arc::new(roomkeeper_auth::Ldap::new(config.ldap.clone()))),
        ldap_admin_group: config.ldap.admin_group_dn.is_some(),
        local_login_admins_only: config.login.local_login_admins_only,
    };
    let base_url = config.http.base_url();
    let oidc = config
        .oidc
        .iter()
        .filter_map(|provider| {
            roomkeeper_auth::OidcProvider::new(provider.clone(), &base_url)
                .map_err(|e| tracing::error!(provider = %provider.name, error = %e, "OpenID provider left out"))
                .ok()
                .map(Arc::new)
        })
        .collect();
    UseCases {
        store,
        clock,
        // Validated with the configuration: every entry parses by now.
        meeting_bases: Arc::new(config.rooms.bases().unwrap_or_default()),
        shards: meetings.clone(),
        meetings,
        watch,
        mail,
        recordings: Arc::new(recordings),
        instance: how.instance,
        login,
        sessions: config.sessions.clone(),
        oidc: Arc::new(oidc),
    }
}

/// The recordings service over the configured storage (local disk or S3).
pub fn open_recordings(
    config: &Config,
    store: Arc<dyn Store>,
    clock: Clock,
) -> anyhow::Result<roomkeeper_recordings::Recordings> {
    let blobs = roomkeeper_recordings::BlobStore::open(&config.recordings)?;
    // Validated at configuration time.
    let bases = config.rooms.bases().unwrap_or_default();
    Ok(roomkeeper_recordings::Recordings::new(
        store,
        blobs,
        clock,
        config.recordings.clone(),
        bases,
    ))
}

/// On a fresh database nobody could log in to administer; create `admin` with a
/// one-time password that must be changed at first login.
async fn ensure_an_admin(store: &dyn Store, config: &Config, clock: &Clock) -> anyhow::Result<()> {
    if store.count_active_admins().await? > 0 {
        return Ok(());
    }
    let username = Username::parse("admin")?;
    if store.user_by_name(&username).await?.is_some() {
        tracing::error!(
            "No active administrator exists and the account `admin` is taken. \
             Make someone administrator with: roomkeeper user admin USERNAME on"
        );
        return Ok(());
    }
    let (password, from_config) = match (
        &config.initial_admin_password,
        &config.initial_admin_password_file,
    ) {
        (Some(password), _) => (password.clone(), true),
        (None, Some(missing)) => anyhow::bail!(
            "no administrator exists yet and initial_admin_password_file {} is missing: \
             write a one-time password into it, or make an administrator with \
             `roomkeeper user add NAME --admin`",
            missing.display()
        ),
        (None, None) => (random_password(), false),
    };
    let hash = PasswordHasher::hash(password.clone()).await?;
    let created = store
        .create_user(
            &NewUser {
                username,
                display_name: Some("Administrator".into()),
                password_hash: Some(hash),
                is_admin: true,
                must_change_password: true,
            },
            clock.now(),
        )
        .await;
    match created {
        Ok(_) if from_config => tracing::warn!(
            "Created the first administrator `admin` with the configured initial_admin_password. \
             Log in and choose a new password."
        ),
        // Printed once, on purpose: there is no other way to hand over the first login.
        Ok(_) => tracing::warn!(
            "Created the first administrator: username `admin`, one-time password `{password}`. \
             Log in and choose a new password; this password is not shown again."
        ),
        // Another instance starting at the same moment created it first.
        Err(roomkeeper_store::Error::Conflict(_)) => {}
        Err(e) => return Err(e.into()),
    }
    Ok(())
}

/// Serves until `shutdown` completes, then lets in-flight requests finish. Background
/// jobs (the email outbox) run alongside and stop with it.
pub async fn serve(
    listener: TcpListener,
    state: AppState,
    config: &Config,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let jobs = CancellationToken::new();
    let header_read_timeout =
        std::time::Duration::from_secs(config.http.header_read_timeout_seconds);
    let grace = std::time::Duration::from_secs(config.http.shutdown_grace_seconds);
    if let Some(address) = &config.http.metrics_listen {
        let listener = TcpListener::bind(address).await.map_err(|e| {
            anyhow::anyhow!("cannot listen on {address} (http.metrics_listen): {e}")
        })?;
        let stop = jobs.clone();
        tokio::spawn(accept_loop(
            listener,
            roomkeeper_web::operations_router(state.clone()),
            header_read_timeout,
            grace,
            async move { stop.cancelled().await },
        ));
    }
    if config.email.enabled() {
        if config.email.unencrypted_off_this_machine() {
            tracing::warn!(
                host = %config.email.smtp_host,
                port = config.email.smtp_port,
                "email goes to the relay unencrypted (email.allow_unencrypted_relay)"
            );
        }
        let mailer = roomkeeper_mail::Mailer::new(&config.email)?;
        tokio::spawn(roomkeeper_mail::run_outbox(
            Arc::clone(&state.usecases.store),
            mailer,
            state.usecases.clock.clone(),
            Arc::clone(&state.usecases.mail.wakeup),
            OUTBOX_POLL,
            jobs.clone(),
        ));
    }
    if let Some(dir) = &config.recordings.watch_dir {
        tokio::spawn(roomkeeper_recordings::watch::run(
            (*state.usecases.recordings).clone(),
            dir.clone(),
            Arc::clone(&state.usecases.instance),
            jobs.clone(),
        ));
    }
    tokio::spawn(run_retention(
        (*state.usecases.recordings).clone(),
        jobs.clone(),
    ));
    let stop = jobs.clone();
    tokio::spawn(roomkeeper_usecases::groups::run(
        state.usecases.clone(),
        async move { stop.cancelled().await },
    ));
    let guard = roomkeeper_usecases::meetings::configured(&state.usecases).then(|| {
        let stop = jobs.clone();
        tokio::spawn(roomkeeper_usecases::guard::run(
            state.usecases.clone(),
            async move { stop.cancelled().await },
        ))
    });
    let stopping = state.stopping.clone();
    let shutdown = async move {
        shutdown.await;
        stopping.cancel();
    };
    let app = roomkeeper_web::router(state);
    let served = accept_loop(listener, app, header_read_timeout, grace, shutdown).await;
    jobs.cancel();
    if let Some(guard) = guard {
        // It gives its rooms' leases up on its way out, so that the next instance acts
        // at once: worth a moment, not a hang.
        if tokio::time::timeout(std::time::Duration::from_secs(5), guard)
            .await
            .is_err()
        {
            tracing::warn!(
                "the room guard did not stop within 5 s; its leases run out by themselves"
            );
        }
    }
    served
}

/// Whether the client sends, within `limit`, enough to tell HTTP/1 from HTTP/2: a byte
/// that HTTP/2's preface does not start with, or the whole preface. hyper-util's auto
/// builder reads that much before any of hyper's timers run, so a client that sent
/// nothing, or part of the preface, held its connection (and a file descriptor) for ever.
async fn tells_its_protocol(tcp: &tokio::net::TcpStream, limit: std::time::Duration) -> bool {
    const PREFACE: &[u8] = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
    let decided = async {
        let mut start = [0u8; PREFACE.len()];
        loop {
            let seen = match tcp.peek(&mut start).await {
                Ok(0) | Err(_) => return false,
                Ok(seen) => seen,
            };
            if seen == PREFACE.len() || start[..seen] != PREFACE[..seen] {
                return true;
            }
            // Part of the preface: `peek` answers at once while those bytes wait, so
            // look again a little later for the rest.
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    };
    tokio::time::timeout(limit, decided).await.unwrap_or(false)
}

/// Accepts connections until `shutdown`, then waits up to `grace` for the requests in
/// flight. Written out instead of `axum::serve` because that one installs no timer in
/// hyper, so hyper's header read timeout never fires and a client that sends its
/// headers a byte at a time keeps a connection (and its memory) for ever.
async fn accept_loop(
    listener: TcpListener,
    app: axum::Router,
    header_read_timeout: std::time::Duration,
    grace: std::time::Duration,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
    use hyper_util::server::conn::auto::Builder;

    let mut builder = Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(header_read_timeout);
    // An HTTP/2 client that goes silent (after its preface, say) answers no ping and is
    // dropped; hyper has no header timer for HTTP/2.
    builder
        .http2()
        .timer(TokioTimer::new())
        .keep_alive_interval(Some(header_read_timeout))
        .keep_alive_timeout(header_read_timeout);
    let mut make_service = app.into_make_service_with_connect_info::<SocketAddr>();
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    tokio::pin!(shutdown);
    loop {
        let (tcp, remote) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors, say: wait a little rather than spin.
                    tracing::warn!(%error, "cannot accept a connection");
                    tokio::time::sleep(std::time::Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        // Without TCP_NODELAY a response written in two parts waits for the client's
        // delayed ACK: every live-control action took ~45 ms longer (bench/src/live.rs).
        if let Err(error) = tcp.set_nodelay(true) {
            tracing::debug!(%error, "cannot set TCP_NODELAY");
        }
        let Ok(service) = tower::Service::call(&mut make_service, remote).await;
        let builder = builder.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            if !tells_its_protocol(&tcp, header_read_timeout).await {
                return;
            }
            let connection = builder
                .serve_connection_with_upgrades(
                    TokioIo::new(tcp),
                    hyper_util::service::TowerToHyperService::new(service),
                )
                .into_owned();
            if let Err(error) = watcher.watch(connection).await {
                tracing::debug!(%error, %remote, "connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(grace, graceful.shutdown())
        .await
        .is_err()
    {
        // Long downloads, mostly; clients resume them with Range after the restart.
        tracing::warn!(
            seconds = grace.as_secs(),
            "requests still in flight after the shutdown grace; their connections are cut"
        );
    }
    Ok(())
}

/// Every instance asks hourly; the store lets exactly one of them run each day's pass.
async fn run_retention(recordings: roomkeeper_recordings::Recordings, stop: CancellationToken) {
    let mut hourly = tokio::time::interval(std::time::Duration::from_secs(3600));
    loop {
        tokio::select! {
            () = stop.cancelled() => return,
            _ = hourly.tick() => {}
        }
        if let Err(error) = recordings.run_retention().await {
            tracing::warn!(%error, "recording retention failed; tried again in an hour");
        }
    }
}

/// How often the outbox looks for mail another instance queued, and for retries.
const OUTBOX_POLL: std::time::Duration = std::time::Duration::from_secs(15);

/// Completes on SIGTERM (systemd, Kubernetes) or Ctrl-C.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
    tracing::info!("shutting down: finishing requests in flight");
}
