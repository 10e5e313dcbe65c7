use reqwest::StatusCode;
use roomkeeper_testkit::Steps;
use roomkeeper_testkit::{Backend, TestApp, both_backends};

use crate::PASSWORD;

/// Every `src=` and `href=` of a page points to this site: no CDN, no remote fonts.
fn assert_only_local_references(html: &str) {
    for attribute in ["src=\"", "href=\""] {
        for piece in html.split(attribute).skip(1) {
            let target = piece.split('"').next().unwrap_or_default();
            assert!(
                target.starts_with('/') || target.starts_with('#'),
                "a page refers to {target:?}, which is not on this site"
            );
        }
    }
}

async fn every_page_renders_in_english_and_german_and_stays_local(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("root", PASSWORD, true).await.unwrap();
    let admin = app.client();
    app.log_in(&admin, "root", PASSWORD).await.unwrap();
    let made = admin
        .post(app.url("/api/v1/room-requests"))
        .json(&serde_json::json!({"room": "Logic", "reason": "Lecture"}))
        .send()
        .await
        .unwrap();
    assert_eq!(made.status(), StatusCode::CREATED);
    admin
        .post(app.url("/api/v1/room-requests"))
        .json(&serde_json::json!({"room": "Physik", "reason": "Lecture"}))
        .send()
        .await
        .unwrap();
    admin
        .post(app.url("/api/v1/room-requests/1/approve"))
        .send()
        .await
        .unwrap();
    let pages = [
        ("/login", "Log in", "Anmelden"),
        ("/", "Rooms you manage", "Ihre Räume"),
        ("/profile", "Change password", "Passwort ändern"),
        (
            "/admin/users",
            "Add a local account",
            "Lokales Konto anlegen",
        ),
        (
            "/no-such-page",
            "This page does not exist",
            "Diese Seite gibt es nicht",
        ),
    ];
    for (path, english, german) in pages {
        // The login page shows the form only to visitors.
        let client = if path == "/login" {
            app.client()
        } else {
            admin.clone()
        };
        for (language, expected) in [
            ("en-GB,en;q=0.9", english),
            ("de-DE,de;q=0.9,en;q=0.5", german),
        ] {
            let response = client
                .get(app.url(path))
                .header("accept-language", language)
                .send()
                .await
                .unwrap();
            let html = response.text().await.unwrap();
            assert!(
                html.contains(expected),
                "{path} in {language} lacks {expected:?}"
            );
            assert!(
                html.contains("<meta name=\"viewport\" content=\"width=device-width"),
                "{path}"
            );
            assert_only_local_references(&html);
            assert!(html.contains(r#"<link rel="icon" href="/favicon.ico">"#));
        }
    }
    // Browsers ask for the icon on every first visit: no 404 in their consoles.
    let icon = app
        .client()
        .get(app.url("/favicon.ico"))
        .send()
        .await
        .unwrap();
    assert_eq!(icon.status(), StatusCode::OK);
    assert_eq!(icon.headers()["content-type"], "image/x-icon");
    let bytes = icon.bytes().await.unwrap();
    assert_eq!(&bytes[..4], &[0, 0, 1, 0], "an ICO file");
}

/// Someone with nothing yet learns what Roomkeeper is for and what to do first.
async fn an_empty_start_page_says_what_to_do(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("fresh", PASSWORD, false).await.unwrap();
    let client = app.client();
    app.log_in(&client, "fresh", PASSWORD).await.unwrap();
    let html = client
        .get(app.url("/"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("own any rooms yet") && html.contains("href=\"/rooms/request\""),
        "{html}"
    );
    assert!(html.contains("first person in a meeting its moderator"));
}

async fn the_language_switch_is_remembered_for_the_account(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let alice = app.user("alice", PASSWORD, false).await.unwrap();
    let browser = app.client();
    app.log_in(&browser, "alice", PASSWORD).await.unwrap();
    let switched = browser
        .post(app.url("/language"))
        .form(&[("lang", "de"), ("back", "/profile")])
        .send()
        .await
        .unwrap();
    assert_eq!(switched.status(), StatusCode::SEE_OTHER);
    assert_eq!(switched.headers()["location"], "/profile");
    let profile = browser
        .get(app.url("/profile"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(profile.contains("Ihr Profil") && profile.contains("<html lang=\"de\">"));
    let saved = app.store().user_by_id(alice.id).await.unwrap().unwrap();
    assert_eq!(saved.language.as_deref(), Some("de"));
    // On another device with an English browser, logging in brings German back.
    let phone = app.client();
    let form = [
        ("username", "alice"),
        ("password", PASSWORD),
        ("next", "/profile"),
    ];
    phone
        .post(app.url("/login"))
        .form(&form)
        .send()
        .await
        .unwrap();
    let profile = phone
        .get(app.url("/profile"))
        .header("accept-language", "en")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(profile.contains("Ihr Profil"));
    let unknown = browser
        .post(app.url("/language"))
        .form(&[("lang", "xx")])
        .send()
        .await
        .unwrap();
    assert_eq!(unknown.status(), StatusCode::BAD_REQUEST);
}

async fn the_profile_page_changes_the_password_and_manages_tokens(backend: Backend) {
    let mut steps = Steps::new();
    let app = TestApp::spawn(backend).await.unwrap();
    let alice = app.user("alice", PASSWORD, false).await.unwrap();
    let (browser, other_device) = (app.client(), app.client());
    app.log_in(&browser, "alice", PASSWORD).await.unwrap();
    app.log_in(&other_device, "alice", PASSWORD).await.unwrap();

    steps.begin("A token made on the profile page is shown once, and revoked there");
    let created = browser
        .post(app.url("/profile/tokens"))
        .form(&[("name", "backup script")])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let html = created.text().await.unwrap();
    assert!(html.contains("it will not be shown again") && html.contains("rk_"));
    let token = app.store().tokens_of(alice.id).await.unwrap().remove(0);
    let page = browser
        .get(app.url("/profile"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("backup script") && !page.contains("rk_"),
        "listed, secret not shown again"
    );
    let revoked = browser
        .post(app.url(&format!("/profile/tokens/{}/revoke", token.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::SEE_OTHER);
    assert!(app.store().tokens_of(alice.id).await.unwrap().is_empty());
    steps.begin("A revocation of nothing, or of someone else's token, is refused");
    let not_an_id = browser
        .post(app.url("/profile/tokens/abc/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_an_id.status(), StatusCode::BAD_REQUEST);
    assert!(
        not_an_id
            .text()
            .await
            .unwrap()
            .contains("could not be understood")
    );
    let not_yours = browser
        .post(app.url("/profile/tokens/999999/revoke"))
        .send()
        .await
        .unwrap();
    assert_eq!(not_yours.status(), StatusCode::NOT_FOUND);

    steps.begin("The new password must be typed twice the same");
    let mismatch = [
        ("current", PASSWORD),
        ("new", "a new long password"),
        ("confirm", "another one entirely"),
    ];
    let response = browser
        .post(app.url("/profile/password"))
        .form(&mismatch)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert!(response.text().await.unwrap().contains("are not the same"));
    steps.begin("A password change keeps this session and ends the others");
    let good = [
        ("current", PASSWORD),
        ("new", "a new long password"),
        ("confirm", "a new long password"),
    ];
    let response = browser
        .post(app.url("/profile/password"))
        .form(&good)
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["location"],
        "/profile?notice=password-changed"
    );
    let page = browser
        .get(app.url("/profile?notice=password-changed"))
        .send()
        .await
        .unwrap();
    assert!(
        page.text()
            .await
            .unwrap()
            .contains("Your password has been changed.")
    );
    assert_eq!(
        crate::me(&app, &other_device).await.status(),
        StatusCode::UNAUTHORIZED,
        "other sessions end"
    );
    app.log_in(&app.client(), "alice", "a new long password")
        .await
        .unwrap();
}

async fn no_get_changes_state(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();
    let browser = app.client();
    app.log_in(&browser, "alice", PASSWORD).await.unwrap();
    for path in [
        "/logout",
        "/language?lang=de",
        "/profile/tokens",
        "/profile/password",
    ] {
        let response = browser.get(app.url(path)).send().await.unwrap();
        assert_eq!(
            response.status(),
            StatusCode::METHOD_NOT_ALLOWED,
            "GET {path}"
        );
    }
    assert_eq!(crate::me(&app, &browser).await.status(), StatusCode::OK);
}

both_backends!(
    every_page_renders_in_english_and_german_and_stays_local,
    an_empty_start_page_says_what_to_do,
    the_language_switch_is_remembered_for_the_account,
    the_profile_page_changes_the_password_and_manages_tokens,
    no_get_changes_state,
);
