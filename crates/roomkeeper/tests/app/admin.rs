use reqwest::StatusCode;
use roomkeeper_testkit::{Backend, TestApp, both_backends};

use crate::PASSWORD;

async fn admin_pages_by_role(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("root", PASSWORD, true).await.unwrap();
    app.user("alice", PASSWORD, false).await.unwrap();

    let anonymous = app
        .client()
        .get(app.url("/admin/users"))
        .send()
        .await
        .unwrap();
    assert_eq!(anonymous.status(), StatusCode::SEE_OTHER);
    assert_eq!(anonymous.headers()["location"], "/login?next=/admin/users");

    let user = app.client();
    app.log_in(&user, "alice", PASSWORD).await.unwrap();
    let refused = user.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    assert!(
        refused
            .text()
            .await
            .unwrap()
            .contains("You are not allowed to do this.")
    );
    let refused = user
        .post(app.url("/admin/users"))
        .form(&[("username", "mallory")])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let mallory = roomkeeper_domain::Username::parse("mallory").unwrap();
    assert!(app.store().user_by_name(&mallory).await.unwrap().is_none());

    let admin = app.client();
    app.log_in(&admin, "root", PASSWORD).await.unwrap();
    let page = admin.get(app.url("/admin/users")).send().await.unwrap();
    assert_eq!(page.status(), StatusCode::OK);
    let html = page.text().await.unwrap();
    assert!(html.contains("alice") && html.contains("root"));
    let searched = admin
        .get(app.url("/admin/users?q=ALI"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        searched.contains("<strong>alice</strong>") && !searched.contains("<strong>root</strong>")
    );

    // The Jitsi connections page: admins only; without shards it says what to do.
    let refused = user.get(app.url("/admin/jitsi")).send().await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let jitsi = admin
        .get(app.url("/admin/jitsi"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(jitsi.contains("No Jitsi server is configured"), "{jitsi}");
}

async fn admins_add_accounts_with_one_time_passwords(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("root", PASSWORD, true).await.unwrap();
    let admin = app.client();
    app.log_in(&admin, "root", PASSWORD).await.unwrap();
    let created = admin
        .post(app.url("/admin/users"))
        .form(&[("username", " Carol "), ("display_name", "Carol C.")])
        .send()
        .await
        .unwrap();
    assert_eq!(created.status(), StatusCode::CREATED);
    let html = created.text().await.unwrap();
    let secret = html
        .split("<code class=\"secret\">")
        .nth(1)
        .and_then(|rest| rest.split('<').next())
        .expect("the one-time password is shown");
    let carol = app.client();
    app.log_in(&carol, "carol", secret).await.unwrap();
    let me: serde_json::Value = crate::me(&app, &carol).await.json().await.unwrap();
    assert_eq!(me["must_change_password"], true);
    assert_eq!(me["display_name"], "Carol C.");

    let again = admin
        .post(app.url("/admin/users"))
        .form(&[("username", "carol")])
        .send()
        .await
        .unwrap();
    assert_eq!(again.status(), StatusCode::CONFLICT);
    assert!(again.text().await.unwrap().contains("already taken"));
    let bad = admin
        .post(app.url("/admin/users"))
        .form(&[("username", "no spaces")])
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), StatusCode::UNPROCESSABLE_ENTITY);
}

async fn the_last_admin_keeps_the_role(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    let root = app.user("root", PASSWORD, true).await.unwrap();
    let alice = app.user("alice", PASSWORD, false).await.unwrap();
    // Leave root as the only active admin: the bootstrap `admin` steps aside.
    let bootstrap = roomkeeper_domain::Username::parse("admin").unwrap();
    let bootstrap = app.store().user_by_name(&bootstrap).await.unwrap().unwrap();
    app.store().set_disabled(bootstrap.id, true).await.unwrap();
    let admin = app.client();
    app.log_in(&admin, "root", PASSWORD).await.unwrap();
    for (path, on) in [("admin", "false"), ("disabled", "true")] {
        let refused = admin
            .post(app.url(&format!("/admin/users/{}/{path}", root.id)))
            .form(&[("on", on)])
            .send()
            .await
            .unwrap();
        assert_eq!(refused.status(), StatusCode::CONFLICT, "{path}");
        assert!(
            refused
                .text()
                .await
                .unwrap()
                .contains("last active administrator")
        );
    }
    let promoted = admin
        .post(app.url(&format!("/admin/users/{}/admin", alice.id)))
        .form(&[("on", "true")])
        .send()
        .await
        .unwrap();
    assert_eq!(promoted.status(), StatusCode::SEE_OTHER);
    let demoted = admin
        .post(app.url(&format!("/admin/users/{}/admin", root.id)))
        .form(&[("on", "false")])
        .send()
        .await
        .unwrap();
    assert_eq!(demoted.status(), StatusCode::SEE_OTHER);
    assert!(
        app.store()
            .user_by_id(alice.id)
            .await
            .unwrap()
            .unwrap()
            .is_admin
    );
    // root is no admin any more: the page now refuses them.
    assert_eq!(
        admin
            .get(app.url("/admin/users"))
            .send()
            .await
            .unwrap()
            .status(),
        StatusCode::FORBIDDEN
    );
}

async fn a_reset_password_ends_sessions_and_must_be_changed(backend: Backend) {
    let app = TestApp::spawn(backend).await.unwrap();
    app.user("root", PASSWORD, true).await.unwrap();
    let bob = app.user("bob", PASSWORD, false).await.unwrap();
    let (admin, bob_client) = (app.client(), app.client());
    app.log_in(&admin, "root", PASSWORD).await.unwrap();
    app.log_in(&bob_client, "bob", PASSWORD).await.unwrap();
    // A token made by whoever knew the old password goes with it.
    let made: serde_json::Value = bob_client
        .post(app.url("/api/v1/tokens"))
        .json(&serde_json::json!({"name": "script"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = made["token"].as_str().unwrap().to_owned();
    let reset = admin
        .post(app.url(&format!("/admin/users/{}/reset-password", bob.id)))
        .send()
        .await
        .unwrap();
    assert_eq!(reset.status(), StatusCode::OK);
    assert!(
        reset
            .text()
            .await
            .unwrap()
            .contains("<code class=\"secret\">")
    );
    assert_eq!(
        crate::me(&app, &bob_client).await.status(),
        StatusCode::UNAUTHORIZED
    );
    let with_token = app
        .client()
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(with_token.status(), StatusCode::UNAUTHORIZED);
    let bob = app.store().user_by_id(bob.id).await.unwrap().unwrap();
    assert!(bob.must_change_password);
    assert!(app.store().tokens_of(bob.id).await.unwrap().is_empty());
}

both_backends!(
    admin_pages_by_role,
    admins_add_accounts_with_one_time_passwords,
    the_last_admin_keeps_the_role,
    a_reset_password_ends_sessions_and_must_be_changed,
);
