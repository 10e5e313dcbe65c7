//! Logging in through a real directory (Debian's slapd): both ways of finding people,
//! the admin group, and every refusal giving the same neutral answer.

use reqwest::StatusCode;
use roomkeeper_testkit::ldap::{PASSWORD_SUFFIX, Slapd};
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, error_code, json};

async fn app_with(ldap: roomkeeper_auth::LdapConfig) -> TestApp {
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.ldap = ldap;
    TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap()
}

async fn login(app: &TestApp, username: &str, password: &str) -> reqwest::Response {
    app.client()
        .post(app.url("/api/v1/session"))
        .json(&serde_json::json!({"username": username, "password": password}))
        .send()
        .await
        .unwrap()
}

async fn refused(app: &TestApp, username: &str, password: &str) {
    let answer = login(app, username, password).await;
    assert_eq!(
        error_code(answer, StatusCode::UNAUTHORIZED).await,
        "wrong_credentials",
        "{username:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_logins_with_a_dn_template_and_with_a_search() {
    let slapd = Slapd::start().await.unwrap();
    for config in [slapd.template_config(), slapd.search_config()] {
        let search = config.search_base.is_some();
        let app = app_with(config).await;
        // First login makes the account, with the directory's name and address.
        let client = app.client();
        app.log_in(&client, "Ada", &format!("ada{PASSWORD_SUFFIX}"))
            .await
            .unwrap();
        let me = json(client.get(app.url("/api/v1/me"))).await;
        assert_eq!(me["username"], "ada", "search: {search}");
        assert_eq!(me["display_name"], "Ada Lovelace");
        assert_eq!(me["is_admin"], false);
        let ada = app
            .store()
            .user_by_name(&roomkeeper_domain::Username::parse("ada").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert!(ada.password_hash.is_none(), "no local password is kept");
        assert_eq!(ada.email.as_deref(), Some("ada@example.org"));
        // The admin group makes an administrator.
        let bob = app.client();
        app.log_in(&bob, "bob", &format!("bob{PASSWORD_SUFFIX}"))
            .await
            .unwrap();
        assert_eq!(json(bob.get(app.url("/api/v1/me"))).await["is_admin"], true);
        // Upper case in the directory: one person, one normalised name.
        let carol = app.client();
        app.log_in(&carol, " carol ", &format!("Carol{PASSWORD_SUFFIX}"))
            .await
            .unwrap();
        assert_eq!(
            json(carol.get(app.url("/api/v1/me"))).await["username"],
            "carol"
        );

        // Refusals, all alike from outside.
        refused(&app, "ada", "wrong password").await;
        refused(&app, "ada", "").await;
        refused(&app, "nobody", "whatever password").await;
        // Filter and DN injection: escaped, so they match nobody.
        refused(&app, "ada)(uid=*", "whatever password").await;
        refused(&app, "*", &format!("ada{PASSWORD_SUFFIX}")).await;
        refused(&app, "ada,ou=people", &format!("ada{PASSWORD_SUFFIX}")).await;
    }
}

/// An account belongs to the identities linked to it. A guest provider (its users pick
/// their own names) made "bob" before the directory's bob, an administrator there, ever
/// logged in: his directory login does not enter that account, or the guest's sessions
/// would share bob's admin rights. An administrator who has checked links it; then the
/// directory's bob logs in to it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_directory_logs_in_only_to_accounts_it_made_or_an_admin_linked() {
    let slapd = Slapd::start().await.unwrap();
    let app = app_with(slapd.search_config()).await;
    // What a guest provider's first login leaves behind: an account of the chosen name,
    // linked to that provider's subject, with no local password.
    let guest = app.passwordless_user("bob", false).await.unwrap();
    app.store()
        .link_oidc(
            "https://guests.example",
            "guest-1",
            guest.id,
            app.clock().now(),
        )
        .await
        .unwrap();
    let password = format!("bob{PASSWORD_SUFFIX}");
    let answer = login(&app, "bob", &password).await;
    assert_eq!(
        error_code(answer, StatusCode::UNPROCESSABLE_ENTITY).await,
        "directory_not_linked"
    );
    let untouched = app.store().user_by_id(guest.id).await.unwrap().unwrap();
    assert!(
        !untouched.is_admin,
        "the directory's admin rights reached the guest's account"
    );
    // The login page says why (the directory confirmed the password: nothing new).
    let page = app
        .client()
        .post(app.url("/login"))
        .form(&[
            ("username", "bob"),
            ("password", password.as_str()),
            ("next", "/"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(page.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let text = page.text().await.unwrap();
    assert!(text.contains("An administrator must link it"), "{text}");

    // Linked by an administrator (`roomkeeper user link-directory bob`): his now.
    let linked = roomkeeper_usecases::accounts::link_directory(&app.state.usecases, guest.id)
        .await
        .unwrap();
    assert!(linked);
    let bob = app.client();
    app.log_in(&bob, "bob", &password).await.unwrap();
    let me = json(bob.get(app.url("/api/v1/me"))).await;
    assert_eq!(me["is_admin"], true);
    // An account the directory made is its own from the start.
    let ada = app.client();
    app.log_in(&ada, "ada", &format!("ada{PASSWORD_SUFFIX}"))
        .await
        .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_changes_and_outages() {
    let mut slapd = Slapd::start().await.unwrap();
    let app = app_with(slapd.template_config()).await;
    // Named as co-owner before ever logging in: the room is theirs at the first login.
    app.passwordless_user("lecturer", false).await.unwrap();
    let room = app
        .registered_room("logic", "lecturer", &["ada"])
        .await
        .unwrap();
    let ada = app.client();
    app.log_in(&ada, "ada", &format!("ada{PASSWORD_SUFFIX}"))
        .await
        .unwrap();
    let seen = ada
        .get(app.url(&format!("/api/v1/rooms/{room}")))
        .send()
        .await
        .unwrap();
    assert_eq!(seen.status(), StatusCode::OK);
    // A local administrator still logs in locally.
    app.user("root", "a long local password", true)
        .await
        .unwrap();
    app.log_in(&app.client(), "root", "a long local password")
        .await
        .unwrap();
    // A disabled account stays shut even with the right directory password.
    let id = app
        .store()
        .user_by_name(&roomkeeper_domain::Username::parse("ada").unwrap())
        .await
        .unwrap()
        .unwrap()
        .id;
    app.store().set_disabled(id, true).await.unwrap();
    refused(&app, "ada", &format!("ada{PASSWORD_SUFFIX}")).await;
    // The directory unreachable: the same neutral answer, quickly.
    slapd.stop();
    let started = std::time::Instant::now();
    refused(&app, "bob", &format!("bob{PASSWORD_SUFFIX}")).await;
    assert!(started.elapsed() < std::time::Duration::from_secs(6));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_passwords_can_be_kept_for_admins_only() {
    let slapd = Slapd::start().await.unwrap();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.ldap = slapd.template_config();
    config.login.local_login_admins_only = true;
    let app = TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    app.user("root", "a long local password", true)
        .await
        .unwrap();
    app.user("local", "a long local password", false)
        .await
        .unwrap();
    app.log_in(&app.client(), "root", "a long local password")
        .await
        .unwrap();
    let answer = login(&app, "local", "a long local password").await;
    assert_eq!(
        error_code(answer, StatusCode::UNPROCESSABLE_ENTITY).await,
        "local_login_off"
    );
    // A wrong password still gets the neutral answer, not a hint that the account exists.
    refused(&app, "local", "not the password").await;
    app.log_in(&app.client(), "ada", &format!("ada{PASSWORD_SUFFIX}"))
        .await
        .unwrap();
}

/// Passwords travel encrypted: LDAPS and StartTLS against slapd's certificate from an
/// internal CA, trusted through `ldap.ca_file`; without that CA the server is not trusted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ldaps_and_starttls_with_the_operators_ca() {
    let slapd = Slapd::start().await.unwrap();
    let ldaps = roomkeeper_auth::LdapConfig {
        url: slapd.ldaps_url(),
        ca_file: Some(slapd.ca_file()),
        ..slapd.template_config()
    };
    let starttls = roomkeeper_auth::LdapConfig {
        url: format!("ldap://localhost:{}", slapd.port),
        starttls: true,
        ca_file: Some(slapd.ca_file()),
        ..slapd.template_config()
    };
    for config in [ldaps.clone(), starttls.clone()] {
        assert!(config.check().is_ok(), "{}", config.url);
        let app = app_with(config).await;
        let ada = app.client();
        app.log_in(&ada, "ada", &format!("ada{PASSWORD_SUFFIX}"))
            .await
            .unwrap();
        assert_eq!(
            json(ada.get(app.url("/api/v1/me"))).await["username"],
            "ada"
        );
        refused(&app, "ada", "wrong password").await;
    }
    // The same servers without the CA: their certificate is not trusted, nobody gets in.
    for config in [ldaps, starttls] {
        let app = app_with(roomkeeper_auth::LdapConfig {
            ca_file: None,
            ..config
        })
        .await;
        refused(&app, "ada", &format!("ada{PASSWORD_SUFFIX}")).await;
    }
}

/// A wrong password, a hung directory and an unreachable one are told apart for the
/// operator (the log line follows the kind: `LDAP login failed` at info for the person's
/// mistake, `LDAP login impossible` at error for the server's), while the person sees the
/// same sentence for all three (the cases above).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wrong_passwords_timeouts_and_outages_are_distinct_kinds() {
    use roomkeeper_auth::{Ldap, LdapError};
    let mut slapd = Slapd::start().await.unwrap();
    let ldap = Ldap::new(roomkeeper_auth::LdapConfig {
        timeout_seconds: 1,
        ..slapd.template_config()
    });
    let ada = roomkeeper_domain::Username::parse("ada").unwrap();
    let wrong = ldap.authenticate(&ada, "wrong password").await;
    assert!(matches!(wrong, Err(LdapError::WrongPassword)), "{wrong:?}");
    slapd.pause().unwrap();
    let started = std::time::Instant::now();
    let hung = ldap
        .authenticate(&ada, &format!("ada{PASSWORD_SUFFIX}"))
        .await;
    assert!(matches!(hung, Err(LdapError::Timeout)), "{hung:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(3));
    slapd.resume().unwrap();
    let back = ldap
        .authenticate(&ada, &format!("ada{PASSWORD_SUFFIX}"))
        .await;
    assert_eq!(back.unwrap().username, ada);
    slapd.stop();
    let gone = ldap
        .authenticate(&ada, &format!("ada{PASSWORD_SUFFIX}"))
        .await;
    assert!(matches!(gone, Err(LdapError::Unreachable(_))), "{gone:?}");
}
