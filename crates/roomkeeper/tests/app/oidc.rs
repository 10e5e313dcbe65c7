//! Logging in through a real OpenID provider (npm `oidc-provider`, see
//! `e2e/oidc-provider.mjs`): the whole redirect dance as a browser does it, the claims
//! mapping, renames, two providers, logout at the provider, and every refusal.

use reqwest::{Client, StatusCode, Url};
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::oidc::{OidcServer, PASSWORD_SUFFIX};
use roomkeeper_testkit::{Backend, TestApp, TestDatabase, json};

/// Roomkeeper with the providers `uni` (University account) and `guests` (Guest
/// accounts), each its own provider process, and `down`, which nothing answers for.
async fn app_with_providers() -> (TestApp, OidcServer, OidcServer) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let (uni, guests) = tokio::try_join!(
        OidcServer::start(&base, "uni"),
        OidcServer::start(&base, "guests")
    )
    .unwrap();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.http.public_url = Some(base);
    config.oidc = vec![
        uni.config("uni", "University account"),
        roomkeeper_auth::OidcProviderConfig {
            authoritative_usernames: true,
            ..guests.config("guests", "Guest accounts")
        },
        roomkeeper_auth::OidcProviderConfig {
            issuer: closed_port_url().await,
            ..guests.config("down", "Closed provider")
        },
    ];
    let app = TestApp::spawn_on(listener, database, config, Default::default())
        .await
        .unwrap();
    (app, uni, guests)
}

/// An address nothing listens on.
async fn closed_port_url() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    format!("http://{}", listener.local_addr().unwrap())
}

fn location(answer: &reqwest::Response) -> String {
    let from = answer.url().clone();
    let to = answer
        .headers()
        .get("location")
        .unwrap_or_else(|| panic!("{} {} has no Location", answer.status(), from))
        .to_str()
        .unwrap();
    from.join(to).unwrap().to_string()
}

fn form_action(page: &str) -> &str {
    let start = page.find("action=\"").expect("a form") + "action=\"".len();
    &page[start..start + page[start..].find('"').unwrap()]
}

/// Where a login through the provider ends: the callback address the provider sent the
/// browser to (not yet visited), and whether the provider asked for a password on the
/// way (no: its own session was still open).
struct AtCallback {
    url: String,
    asked_for_password: bool,
}

/// Starts a login at Roomkeeper and follows the browser through the provider, signing in
/// there as `login` when asked.
async fn through_provider(app: &TestApp, browser: &Client, start: &str, login: &str) -> AtCallback {
    let mut answer = browser.get(app.url(start)).send().await.unwrap();
    let mut asked_for_password = false;
    for _ in 0..10 {
        if answer.status().is_redirection() {
            let next = location(&answer);
            if next.starts_with(&app.url("/login/oidc/")) {
                return AtCallback {
                    url: next,
                    asked_for_password,
                };
            }
            answer = browser.get(&next).send().await.unwrap();
            continue;
        }
        let here = answer.url().clone();
        let page = answer.text().await.unwrap();
        assert!(page.contains("Test university login"), "{page}");
        asked_for_password = true;
        answer = browser
            .post(here.join(form_action(&page)).unwrap())
            .form(&[
                ("login", login.to_owned()),
                ("password", format!("{login}{PASSWORD_SUFFIX}")),
            ])
            .send()
            .await
            .unwrap();
    }
    panic!("the provider never sent the browser back");
}

/// A whole login; returns Roomkeeper's answer to the callback.
pub(crate) async fn sso_log_in(
    app: &TestApp,
    browser: &Client,
    provider: &str,
    login: &str,
) -> reqwest::Response {
    let back = through_provider(app, browser, &format!("/login/oidc/{provider}"), login).await;
    browser.get(&back.url).send().await.unwrap()
}

async fn me(app: &TestApp, browser: &Client) -> serde_json::Value {
    json(browser.get(app.url("/api/v1/me"))).await
}

async fn assert_logged_out(app: &TestApp, browser: &Client) {
    let answer = browser.get(app.url("/api/v1/me")).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::UNAUTHORIZED);
}

/// Roomkeeper with the directory `ldap` and the provider `guests`, which is not
/// authoritative for names (its users pick them).
async fn app_with_directory_and_guests(ldap: roomkeeper_auth::LdapConfig) -> (TestApp, OidcServer) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let guests = OidcServer::start(&base, "guests").await.unwrap();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.http.public_url = Some(base);
    config.ldap = ldap;
    config.oidc = vec![guests.config("guests", "Guest accounts")];
    let app = TestApp::spawn_on(listener, database, config, Default::default())
        .await
        .unwrap();
    (app, guests)
}

/// A guest provider's users pick their own names. A first login under a name the
/// directory has (its ada, who has not logged in here yet) makes no account: grants
/// made by that name (co-owners, patterns) wait for the directory's ada. A name the
/// directory does not have is the guest's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_cannot_take_a_name_the_directory_has() {
    let slapd = roomkeeper_testkit::ldap::Slapd::start().await.unwrap();
    // Asked as the service account: with a DN template there is nobody to ask as.
    let (app, guests) = app_with_directory_and_guests(slapd.search_config()).await;
    // Someone names ada as a co-owner before she ever logged in.
    app.passwordless_user("lecturer", false).await.unwrap();
    app.registered_room("logic", "lecturer", &["ada"])
        .await
        .unwrap();

    let browser = app.client();
    let answer = sso_log_in(&app, &browser, "guests", "ada").await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert_logged_out(&app, &browser).await;
    let ada = roomkeeper_domain::Username::parse("ada").unwrap();
    assert!(app.store().user_by_name(&ada).await.unwrap().is_none());
    // The directory's ada logs in and has her room.
    let real = app.client();
    app.log_in(
        &real,
        "ada",
        &format!("ada{}", roomkeeper_testkit::ldap::PASSWORD_SUFFIX),
    )
    .await
    .unwrap();
    let rooms = json(real.get(app.url("/api/v1/rooms"))).await;
    assert_eq!(rooms["total"], 1, "{rooms}");

    // A name the directory does not have.
    guests
        .set_claim("u-1003", "preferred_username", "guest-dora")
        .await
        .unwrap();
    let guest = app.client();
    let answer = sso_log_in(&app, &guest, "guests", "carol").await;
    assert!(answer.status().is_redirection(), "{}", answer.status());
    assert_eq!(me(&app, &guest).await["username"], "guest-dora");
}

/// With a DN template the directory cannot be asked whether it has a name (there is no
/// service account, and an anonymous read proves nothing), so every new name from a
/// guest provider waits for an administrator, who can create the account after checking.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guest_name_waits_for_an_admin_when_the_directory_cannot_be_asked() {
    let slapd = roomkeeper_testkit::ldap::Slapd::start().await.unwrap();
    let (app, guests) = app_with_directory_and_guests(slapd.template_config()).await;
    guests
        .set_claim("u-1003", "preferred_username", "guest-dora")
        .await
        .unwrap();
    let guest = app.client();
    let answer = sso_log_in(&app, &guest, "guests", "carol").await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert_logged_out(&app, &guest).await;

    // The administrator sees it, knows who this is, and creates the account.
    app.passwordless_user("root", true).await.unwrap();
    let root = app.client_as("root").await.unwrap();
    let page = root
        .get(app.url("/admin/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("guest-dora") && page.contains("Create the account for them"),
        "{page}"
    );
    let entry = &app.store().oidc_collisions().await.unwrap()[0];
    let created = root
        .post(app.url("/admin/users/sign-ins"))
        .form(&[
            ("issuer", entry.issuer.as_str()),
            ("subject", entry.subject.as_str()),
            ("username", "guest-dora"),
            ("action", "link"),
            ("confirm", "yes"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::OK);
    let answer = sso_log_in(&app, &guest, "guests", "carol").await;
    assert!(answer.status().is_redirection(), "{}", answer.status());
    assert_eq!(me(&app, &guest).await["username"], "guest-dora");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logins_through_providers_make_link_and_refresh_accounts() {
    let mut steps = Steps::new();
    let (app, uni, guests) = app_with_providers().await;
    // Named as co-owner before ever logging in, in another spelling.
    app.registered_room("logic", "zed", &["ada"]).await.unwrap();
    app.user("carol", "a local password!", false).await.unwrap();

    let page = app
        .client()
        .get(app.url("/login?next=/rooms"))
        .send()
        .await
        .unwrap();
    let page = page.text().await.unwrap();
    assert!(
        page.contains(r#"href="/login/oidc/uni?next=%2Frooms""#),
        "{page}"
    );
    assert!(page.contains("Log in with University account"));
    assert!(page.contains("Log in with Guest accounts"));

    steps.begin("First login");
    // The account is made from the claims, and comes back to `next`.
    let ada = app.client();
    let back = through_provider(&app, &ada, "/login/oidc/uni?next=/rooms", "ada").await;
    assert!(back.asked_for_password);
    let answer = ada.get(&back.url).send().await.unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(location(&answer), app.url("/rooms"));
    let who = me(&app, &ada).await;
    assert_eq!(who["username"], "ada");
    assert_eq!(who["display_name"], "Ada Lovelace");
    assert_eq!(who["is_admin"], false);
    let account = app
        .store()
        .user_by_oidc(&uni.issuer, "u-1001")
        .await
        .unwrap()
        .unwrap();
    assert!(account.password_hash.is_none());
    assert_eq!(account.email.as_deref(), Some("ada@example.org"));
    // The co-owned room is there at once.
    let rooms = json(ada.get(app.url("/api/v1/rooms"))).await;
    assert_eq!(rooms["items"][0]["name"], "logic", "{rooms}");

    steps.begin("The admin group claim makes administrators, decided again at each login");
    let bob = app.client();
    assert_eq!(
        sso_log_in(&app, &bob, "uni", "bob").await.status(),
        StatusCode::SEE_OTHER
    );
    assert_eq!(me(&app, &bob).await["is_admin"], true);
    uni.set_claim("u-1002", "groups", "staff").await.unwrap();
    let bob = app.client();
    sso_log_in(&app, &bob, "uni", "bob").await;
    assert_eq!(me(&app, &bob).await["is_admin"], false);

    steps.begin("A new username at the provider renames the account and what it was granted");
    // The provider's session is still open, so no password is asked.
    uni.set_claim("u-1001", "preferred_username", " Ada.Lovelace ")
        .await
        .unwrap();
    uni.set_claim("u-1001", "name", "Ada King").await.unwrap();
    let back = through_provider(&app, &ada, "/login/oidc/uni", "ada").await;
    assert!(!back.asked_for_password);
    ada.get(&back.url).send().await.unwrap();
    let who = me(&app, &ada).await;
    assert_eq!(
        (who["username"].as_str(), who["display_name"].as_str()),
        (Some("ada.lovelace"), Some("Ada King"))
    );
    let renamed = app
        .store()
        .user_by_oidc(&uni.issuer, "u-1001")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (renamed.id, renamed.username.as_str()),
        (account.id, "ada.lovelace")
    );
    let room = json(ada.get(app.url("/api/v1/rooms"))).await;
    assert_eq!(
        room["items"][0]["co_owners"],
        serde_json::json!(["ada.lovelace"])
    );

    steps.begin("A second subject at the same provider calling itself ada is not ada");
    // Refused, kept for an administrator, and ada's account is untouched.
    uni.set_claim("u-1003", "preferred_username", "ada.lovelace")
        .await
        .unwrap();
    let impostor = app.client();
    let answer = sso_log_in(&app, &impostor, "uni", "carol").await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    let page = answer.text().await.unwrap();
    assert!(page.contains("belongs to another account"), "{page}");
    assert_logged_out(&app, &impostor).await;
    assert!(
        app.store()
            .user_by_oidc(&uni.issuer, "u-1003")
            .await
            .unwrap()
            .is_none()
    );
    uni.set_claim("u-1003", "preferred_username", "carol")
        .await
        .unwrap();

    steps.begin(
        "The second provider (marked authoritative for usernames) still cannot link bob's account",
    );
    // It is linked to bob at uni already. An admin sees the refused login...
    let bob_guest = app.client();
    let answer = sso_log_in(&app, &bob_guest, "guests", "bob").await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert_logged_out(&app, &bob_guest).await;
    let waiting = app.store().oidc_collisions().await.unwrap();
    let mut waiting: Vec<_> = waiting
        .iter()
        .map(|c| (c.provider.as_str(), c.subject.as_str(), c.username.as_str()))
        .collect();
    waiting.sort();
    assert_eq!(
        waiting,
        [
            ("guests", "u-1002", "bob"),
            ("uni", "u-1003", "ada.lovelace")
        ]
    );
    app.passwordless_user("root", true).await.unwrap();
    let root = app.client_as("root").await.unwrap();
    let users_page = root
        .get(app.url("/admin/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(users_page.contains("Sign-ins refused"), "{users_page}");
    assert!(users_page.contains("subject u-1002"), "{users_page}");
    assert!(
        users_page.contains(r#"name="username" value="bob""#),
        "the answer carries the account the administrator saw: {users_page}"
    );
    // ...and, knowing it is the same bob, links it (the confirmation box is needed).
    let resolve_as =
        |action: &'static str, subject: &'static str, confirm: bool, shown: &'static str| {
            let mut form = vec![
                ("issuer", guests.issuer.clone()),
                ("subject", subject.to_owned()),
                ("username", shown.to_owned()),
                ("action", action.to_owned()),
            ];
            if confirm {
                form.push(("confirm", "yes".to_owned()));
            }
            root.post(app.url("/admin/users/sign-ins"))
                .header("origin", app.url(""))
                .form(&form)
                .send()
        };
    let resolve = |action: &'static str, subject: &'static str, confirm: bool| {
        resolve_as(action, subject, confirm, "bob")
    };
    assert_eq!(
        resolve("link", "u-1002", false).await.unwrap().status(),
        StatusCode::BAD_REQUEST
    );
    // The entry asks for bob; a click made on a page that showed another account (a
    // later refused login had overwritten it meanwhile) links nothing.
    let stale = resolve_as("link", "u-1002", true, "root").await.unwrap();
    assert_eq!(stale.status(), StatusCode::CONFLICT);
    assert!(
        stale
            .text()
            .await
            .unwrap()
            .contains("changed since the page was shown")
    );
    assert!(
        app.store()
            .user_by_oidc(&guests.issuer, "u-1002")
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(
        resolve("link", "u-1002", true).await.unwrap().status(),
        StatusCode::OK
    );
    let answer = sso_log_in(&app, &bob_guest, "guests", "bob").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let bob_there = app
        .store()
        .user_by_oidc(&guests.issuer, "u-1002")
        .await
        .unwrap()
        .unwrap();
    let bob_here = app
        .store()
        .user_by_oidc(&uni.issuer, "u-1002")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(bob_there.id, bob_here.id);
    assert_eq!(
        me(&app, &bob_guest).await["is_admin"],
        true,
        "the guests provider still lists bob as admin"
    );
    assert!(
        app.store()
            .audit_log_since(None, None, roomkeeper_store::Page::new(1, 20))
            .await
            .unwrap()
            .items
            .iter()
            .any(|e| e.action.code() == "sign_in_linked" && e.actor.as_deref() == Some("root"))
    );
    // Resolved once: a second answer finds nothing.
    assert_eq!(
        resolve("dismiss", "u-1002", false).await.unwrap().status(),
        StatusCode::NOT_FOUND
    );

    steps.begin("A local account with a password is not taken over by a provider's username");
    let carol = app.client();
    let answer = sso_log_in(&app, &carol, "uni", "carol").await;
    assert_eq!(answer.status(), StatusCode::FORBIDDEN);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("belongs to another account")
    );
    assert_logged_out(&app, &carol).await;
    // A provider marked authoritative for usernames links it (docs/LOGIN.md: the
    // operator vouches that its carol is this carol).
    let answer = sso_log_in(&app, &carol, "guests", "carol").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&app, &carol).await["username"], "carol");
    let linked = app
        .store()
        .user_by_oidc(&guests.issuer, "u-1003")
        .await
        .unwrap()
        .unwrap();
    assert!(linked.password_hash.is_some(), "the local account it was");

    steps.begin("Logging out ends the provider's session too");
    // The next login asks for the password.
    let answer = ada
        .post(app.url("/logout"))
        .header("origin", app.url(""))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    let at_provider = location(&answer);
    assert!(at_provider.starts_with(&uni.issuer), "{at_provider}");
    assert!(at_provider.contains("id_token_hint="), "{at_provider}");
    assert_logged_out(&app, &ada).await;
    let confirm = ada.get(&at_provider).send().await.unwrap();
    let here = confirm.url().clone();
    let page = confirm.text().await.unwrap();
    let xsrf_at = page.find("name=\"xsrf\" value=\"").unwrap() + "name=\"xsrf\" value=\"".len();
    let xsrf = &page[xsrf_at..xsrf_at + page[xsrf_at..].find('"').unwrap()];
    let mut answer = ada
        .post(here.join(form_action(&page)).unwrap())
        .form(&[("xsrf", xsrf), ("logout", "yes")])
        .send()
        .await
        .unwrap();
    while answer.status().is_redirection() && !location(&answer).starts_with(&app.url("")) {
        answer = ada.get(location(&answer)).send().await.unwrap();
    }
    assert_eq!(
        location(&answer),
        app.url("/login"),
        "back at Roomkeeper's login page"
    );
    let again = through_provider(&app, &ada, "/login/oidc/uni", "ada").await;
    assert!(again.asked_for_password, "the provider's session ended");
}

/// With the email address as username, only an address the provider verified logs in:
/// anyone can type someone else's address into a self-service account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn email_usernames_need_a_verified_address() {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let mail = OidcServer::start(&base, "mail").await.unwrap();
    let database = std::sync::Arc::new(TestDatabase::new(Backend::Sqlite).await.unwrap());
    let mut config = database.config();
    config.http.public_url = Some(base);
    config.oidc = vec![roomkeeper_auth::OidcProviderConfig {
        username_claim: "email".into(),
        ..mail.config("mail", "Mail accounts")
    }];
    let app = TestApp::spawn_on(listener, database, config, Default::default())
        .await
        .unwrap();
    let ada = app.client();
    for verified in [None, Some("false")] {
        if let Some(value) = verified {
            mail.set_claim("u-1001", "email_verified", value)
                .await
                .unwrap();
        }
        let answer = sso_log_in(&app, &ada, "mail", "ada").await;
        assert_eq!(answer.status(), StatusCode::FORBIDDEN);
        let page = answer.text().await.unwrap();
        assert!(
            page.contains("has not confirmed that the email address is yours"),
            "{page}"
        );
        assert_logged_out(&app, &ada).await;
    }
    mail.set_claim("u-1001", "email_verified", "true")
        .await
        .unwrap();
    let answer = sso_log_in(&app, &ada, "mail", "ada").await;
    assert_eq!(answer.status(), StatusCode::SEE_OTHER);
    assert_eq!(me(&app, &ada).await["username"], "ada@example.org");
}

/// Each refusal leaves the person logged out, with a sentence that says what happened.
async fn refused(app: &TestApp, browser: &Client, callback: &str, status: StatusCode, says: &str) {
    let answer = browser.get(callback).send().await.unwrap();
    assert_eq!(answer.status(), status, "{callback}");
    assert!(crate::session_cookie(&answer).is_none(), "{callback}");
    let page = answer.text().await.unwrap();
    assert!(page.contains(says), "{callback}: {page}");
    assert_logged_out(app, browser).await;
}

fn with_query(url: &str, key: &str, value: &str) -> String {
    let mut url = Url::parse(url).unwrap();
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(k, _)| k != key)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    url.query_pairs_mut()
        .clear()
        .extend_pairs(kept)
        .append_pair(key, value);
    url.to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broken_replayed_and_forged_logins_are_refused() {
    let mut steps = Steps::new();
    let (app, uni, _guests) = app_with_providers().await;
    let browser = app.client();
    let stale = "already used, took longer than 10 minutes";

    steps.begin("A state this browser did not start, then the same callback replayed");
    let back = through_provider(&app, &browser, "/login/oidc/uni", "ada").await;
    refused(
        &app,
        &browser,
        &with_query(&back.url, "state", "guessed"),
        StatusCode::BAD_REQUEST,
        stale,
    )
    .await;
    let back = through_provider(&app, &browser, "/login/oidc/uni", "ada").await;
    assert_eq!(
        browser.get(&back.url).send().await.unwrap().status(),
        StatusCode::SEE_OTHER
    );
    // Replayed with the state cookie too: the stored login was used up.
    let state = Url::parse(&back.url)
        .unwrap()
        .query_pairs()
        .find(|(k, _)| k == "state")
        .unwrap()
        .1
        .into_owned();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        "cookie",
        format!("roomkeeper_oidc={state}").parse().unwrap(),
    );
    let replayer = Client::builder()
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    refused(&app, &replayer, &back.url, StatusCode::BAD_REQUEST, stale).await;

    steps.begin("Another browser holding someone's callback (login CSRF)");
    // No state cookie, refused.
    let back = through_provider(&app, &app.client(), "/login/oidc/uni", "ada").await;
    refused(
        &app,
        &app.client(),
        &back.url,
        StatusCode::BAD_REQUEST,
        stale,
    )
    .await;

    steps.begin("The provider says no (the person cancelled): its words are shown");
    let browser = app.client();
    let back = through_provider(&app, &browser, "/login/oidc/uni", "ada").await;
    let cancelled = with_query(
        &with_query(&back.url, "error", "access_denied"),
        "error_description",
        "You cancelled the login.",
    );
    refused(
        &app,
        &browser,
        &cancelled,
        StatusCode::FORBIDDEN,
        "You cancelled the login.",
    )
    .await;

    steps.begin("ID tokens a broken or hostile provider would send");
    for mode in [
        "expired",
        "wrong-audience",
        "wrong-issuer",
        "wrong-nonce",
        "forged",
    ] {
        uni.id_tokens(mode).await.unwrap();
        let browser = app.client();
        let back = through_provider(&app, &browser, "/login/oidc/uni", "ada").await;
        refused(
            &app,
            &browser,
            &back.url,
            StatusCode::FORBIDDEN,
            "could not be trusted",
        )
        .await;
    }
    uni.id_tokens("normal").await.unwrap();
    let browser = app.client();
    let back = through_provider(&app, &browser, "/login/oidc/uni", "ada").await;
    assert_eq!(
        browser.get(&back.url).send().await.unwrap().status(),
        StatusCode::SEE_OTHER,
        "normal again"
    );
    assert_eq!(me(&app, &browser).await["username"], "ada");

    steps.begin("An unknown provider name, and a provider that cannot be reached");
    assert_eq!(
        app.client()
            .get(app.url("/login/oidc/nope"))
            .send()
            .await
            .unwrap()
            .status(),
        404
    );
    let answer = app
        .client()
        .get(app.url("/login/oidc/down"))
        .send()
        .await
        .unwrap();
    assert_eq!(answer.status(), StatusCode::BAD_GATEWAY);
    assert!(
        answer
            .text()
            .await
            .unwrap()
            .contains("Closed provider cannot be reached right now")
    );
}
