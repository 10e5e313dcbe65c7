//! Server-rendered pages. Every page template extends `base.html` and gets a [`Chrome`]
//! named `page` (translations, the logged-in user for the navigation, current path).

mod account;
mod admin;
mod admin_jitsi;
mod admin_rooms;
mod oidc;
mod recordings;
mod rooms;

use askama::Template;
use axum::Router;
use axum::extract::rejection::{FormRejection, PathRejection};
use axum::extract::{FromRequest, FromRequestParts, Query, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum_extra::extract::CookieJar;
use axum_extra::extract::cookie::{Cookie, SameSite};
use roomkeeper_domain::Refusal;
use roomkeeper_domain::User;
use serde::Deserialize;

use crate::extract::{ClientAddr, MaybeUser};
use crate::i18n::{LANG_COOKIE, Lang, Language, Tr};
use crate::{AppState, Error, PageError, session};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/login", get(login_form).post(login))
        .route("/logout", post(logout))
        .route("/language", post(set_language))
        .merge(account::router())
        .merge(admin::router())
        .merge(rooms::router())
        .merge(admin_rooms::router())
        .merge(admin_jitsi::router())
        .merge(recordings::router())
        .merge(oidc::router())
}

pub struct NavUser {
    pub is_admin: bool,
    /// For the count beside "Requests" in an admin's navigation.
    pub pending_requests: i64,
}

/// What the layout needs on every page.
pub struct Chrome {
    pub t: Tr,
    pub user: Option<NavUser>,
    pub path: String,
}

impl Chrome {
    pub fn anonymous(t: Tr, path: &str) -> Self {
        Self {
            t,
            user: None,
            path: path.to_owned(),
        }
    }

    pub async fn for_user(
        state: &AppState,
        lang: Lang,
        user: &User,
        path: &str,
    ) -> Result<Self, Error> {
        let pending_requests = if user.is_admin {
            roomkeeper_usecases::rooms::pending_count(&state.usecases).await?
        } else {
            0
        };
        Ok(Self {
            t: Tr::new(lang),
            user: Some(NavUser {
                is_admin: user.is_admin,
                pending_requests,
            }),
            path: path.to_owned(),
        })
    }
}

/// Links to the pages of a long list, keeping the other query parameters.
pub struct Pager {
    pub page: u32,
    pub pages: u32,
    /// The list's path and query without `page`, e.g. `/admin/rooms?q=logic`.
    pub base: String,
}

impl Pager {
    pub fn new<T>(list: &roomkeeper_domain::Paged<T>, path: &str, query: &[(&str, &str)]) -> Self {
        let mut base = path.to_owned();
        let mut separator = '?';
        for (key, value) in query.iter().filter(|(_, v)| !v.is_empty()) {
            base.push(separator);
            base.push_str(key);
            base.push('=');
            base.push_str(&url_encode(value));
            separator = '&';
        }
        Self {
            page: list.page,
            pages: list.pages(),
            base,
        }
    }

    pub fn link(&self, page: u32) -> String {
        let separator = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{separator}page={page}", self.base)
    }
}

/// Percent-encodes everything but unreserved characters (RFC 3986).
pub fn url_encode(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            (StatusCode::INTERNAL_SERVER_ERROR, "internal error").into_response()
        }
    }
}

fn render_with_status<T: Template>(status: StatusCode, template: &T) -> Response {
    let mut response = render(template);
    if response.status().is_success() {
        *response.status_mut() = status;
    }
    response
}

/// Only paths that stay on this site after a browser parses them. Browsers drop tabs and
/// newlines anywhere in a URL and read `\` as `/`, so `/\t/evil.example` and
/// `/\\evil.example` become `//evil.example`, another site: any control character,
/// whitespace or backslash is refused, as is anything not starting with one `/`.
pub fn safe_local_path(next: &str) -> &str {
    let mut chars = next.chars();
    let stays_here = chars.next() == Some('/')
        && chars.next() != Some('/')
        && !next
            .chars()
            .any(|c| c.is_control() || c.is_whitespace() || c == '\\');
    if stays_here { next } else { "/" }
}

pub fn login_url(back_to: &str) -> String {
    let back_to = safe_local_path(back_to);
    if back_to == "/" {
        "/login".to_owned()
    } else {
        // Slashes stay readable; they are safe in a query value.
        format!("/login?next={}", url_encode(back_to).replace("%2F", "/"))
    }
}

/// `Form` whose rejections become our error page instead of axum's plain text.
#[derive(FromRequest)]
#[from_request(via(axum::Form), rejection(PageError))]
pub struct PageForm<T>(pub T);

impl From<FormRejection> for PageError {
    fn from(rejection: FormRejection) -> Self {
        PageError::from(Error::BadRequest(rejection.body_text()))
    }
}

/// `Path` whose rejections (an id that is not a number) become our error page.
#[derive(FromRequestParts)]
#[from_request(via(axum::extract::Path), rejection(PageError))]
pub struct PagePath<T>(pub T);

impl From<PathRejection> for PageError {
    fn from(rejection: PathRejection) -> Self {
        PageError::from(Error::BadRequest(rejection.body_text()))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
pub struct ErrorPage {
    pub page: Chrome,
    pub message: String,
}

#[derive(Template)]
#[template(path = "login.html")]
struct LoginPage {
    page: Chrome,
    next: String,
    username: String,
    error: Option<String>,
    /// (name, label) of each OpenID provider, one button each.
    providers: Vec<(String, String)>,
}

impl LoginPage {
    fn new(state: &AppState, t: Tr, next: String, username: String, error: Option<String>) -> Self {
        Self {
            page: Chrome::anonymous(t, "/login"),
            next,
            username,
            error,
            providers: roomkeeper_usecases::oidc::providers(&state.usecases),
        }
    }

    /// `next` as a query string for the provider buttons (so the login comes back there).
    fn next_query(&self) -> String {
        match safe_local_path(&self.next) {
            "/" => String::new(),
            next => format!("?next={}", url_encode(next)),
        }
    }
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
}

async fn login_form(
    State(state): State<AppState>,
    Language(lang): Language,
    MaybeUser(current): MaybeUser,
    Query(query): Query<NextQuery>,
) -> Response {
    let next = query.next.unwrap_or_default();
    if current.is_some() {
        return Redirect::to(safe_local_path(&next)).into_response();
    }
    render(&LoginPage::new(
        &state,
        Tr::new(lang),
        next,
        String::new(),
        None,
    ))
}

#[derive(Deserialize)]
struct LoginForm {
    username: String,
    password: String,
    #[serde(default)]
    next: String,
}

async fn login(
    State(state): State<AppState>,
    Language(lang): Language,
    ClientAddr(address): ClientAddr,
    jar: CookieJar,
    PageForm(form): PageForm<LoginForm>,
) -> Result<Response, PageError> {
    let t = Tr::new(lang);
    let (status, error) =
        match session::log_in(&state, &form.username, form.password, address).await {
            Ok((user, cookie)) => {
                let mut jar = jar.add(cookie);
                if let Some(saved) = user.language.as_deref().and_then(Lang::parse) {
                    jar = jar.add(lang_cookie(saved));
                }
                let target = if user.must_change_password {
                    "/profile"
                } else {
                    safe_local_path(&form.next)
                };
                return Ok((jar, Redirect::to(target)).into_response());
            }
            Err(Error::WrongCredentials) => (StatusCode::UNAUTHORIZED, t.t("login-failed")),
            Err(Error::Refused {
                refusal: Refusal::DirectoryNotLinked,
                ..
            }) => (
                StatusCode::UNPROCESSABLE_ENTITY,
                t.t("login-directory-not-linked"),
            ),
            Err(Error::Throttled { retry_after_s }) => (
                StatusCode::TOO_MANY_REQUESTS,
                t.with(
                    "login-throttled",
                    &[("minutes", crate::error::minutes(retry_after_s).to_string())],
                ),
            ),
            Err(other) => return Err(other.into()),
        };
    Ok(render_with_status(
        status,
        &LoginPage::new(&state, t, form.next, form.username, Some(error)),
    ))
}

async fn logout(State(state): State<AppState>, jar: CookieJar) -> Result<Response, PageError> {
    let value = jar
        .get(session::cookie_name(&state.http))
        .map(|c| c.value().to_owned());
    let (removal, provider_logout) = session::log_out(&state, value.as_deref()).await?;
    let next = provider_logout.unwrap_or_else(|| "/login".to_owned());
    Ok((jar.add(removal), Redirect::to(&next)).into_response())
}

fn lang_cookie(lang: Lang) -> Cookie<'static> {
    Cookie::build((LANG_COOKIE, lang.tag()))
        .path("/")
        .same_site(SameSite::Lax)
        .max_age(time::Duration::days(365))
        .build()
}

#[derive(Deserialize)]
struct LanguageForm {
    lang: String,
    #[serde(default)]
    back: String,
}

/// Switches the language for this browser, and remembers it for the account when
/// someone is logged in (so it follows them to other devices).
async fn set_language(
    State(state): State<AppState>,
    MaybeUser(current): MaybeUser,
    jar: CookieJar,
    PageForm(form): PageForm<LanguageForm>,
) -> Result<Response, PageError> {
    let lang = Lang::parse(&form.lang)
        .ok_or_else(|| Error::BadRequest(format!("unknown language {:?}", form.lang)))?;
    if let Some(current) = current {
        roomkeeper_usecases::accounts::set_language(&state.usecases, &current.user, lang.tag())
            .await?;
    }
    Ok((
        jar.add(lang_cookie(lang)),
        Redirect::to(safe_local_path(&form.back)),
    )
        .into_response())
}

/// An audit entry as the history pages show it: its detail (JSON, for machines) turned
/// into "label: value" pairs in the reader's language.
pub struct HistoryEntry {
    pub entry: roomkeeper_domain::AuditEntry,
    pub details: Vec<(String, String)>,
}

impl HistoryEntry {
    pub fn new(t: &Tr, entry: roomkeeper_domain::AuditEntry) -> Self {
        let mut details = Vec::new();
        if let Ok(serde_json::Value::Object(fields)) =
            serde_json::from_str::<serde_json::Value>(&entry.detail)
        {
            for (key, value) in fields {
                let text = match value {
                    serde_json::Value::Null => continue,
                    serde_json::Value::String(s) if s.is_empty() => continue,
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Array(items) => items
                        .iter()
                        .map(|v| v.as_str().map_or_else(|| v.to_string(), str::to_owned))
                        .collect::<Vec<_>>()
                        .join(", "),
                    other => other.to_string(),
                };
                // Request ids mean nothing to a reader of the room's history.
                if key == "request_id" {
                    continue;
                }
                // Some values are Roomkeeper's own words (a reason, a setting): shown in
                // the reader's language when there is a text for them.
                let text = t.get(&format!("detail-{key}-{text}")).unwrap_or(text);
                let label = t.get(&format!("detail-{key}")).unwrap_or(key);
                details.push((label, text));
            }
        }
        Self { entry, details }
    }

    pub fn page(
        t: &Tr,
        list: roomkeeper_domain::Paged<roomkeeper_domain::AuditEntry>,
    ) -> roomkeeper_domain::Paged<Self> {
        list.map(|entry| Self::new(t, entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn history_details_show_our_own_words_in_the_readers_language() {
        let entry = roomkeeper_domain::AuditEntry {
            id: 1,
            at: 0,
            actor: None,
            address: None,
            action: roomkeeper_domain::AuditAction::GuardRevokedModerator,
            room_name: Some(roomkeeper_domain::RoomName::from_canonical("logic").unwrap()),
            subject: None,
            detail: r#"{"participant":"e1e1e1e1","why":"password"}"#.into(),
        };
        let shown = HistoryEntry::new(&Tr::new(crate::i18n::Lang::De), entry).details;
        assert!(
            shown.contains(&("Grund".into(), "hat ein Passwort gesetzt".into())),
            "{shown:?}"
        );
        assert!(shown.iter().any(|(_, v)| v == "e1e1e1e1"), "{shown:?}");
    }

    #[test]
    fn only_local_paths_are_followed_after_login() {
        assert_eq!(safe_local_path("/profile"), "/profile");
        assert_eq!(safe_local_path("//evil.example/x"), "/");
        assert_eq!(safe_local_path("/\\evil.example"), "/");
        assert_eq!(safe_local_path("https://evil.example"), "/");
        for evil in [
            "/\t/evil.example",
            "/\n/evil.example",
            "/\r/evil.example",
            "/ /evil.example",
            "/\u{0}/evil.example",
            "/rooms\\..\\\\evil.example",
            "\t//evil.example",
            "",
        ] {
            assert_eq!(safe_local_path(evil), "/", "{evil:?}");
        }
        assert_eq!(safe_local_path("/rooms/7?tab=a%2Fb"), "/rooms/7?tab=a%2Fb");
        assert_eq!(safe_local_path("/"), "/");
        assert_eq!(
            login_url("/admin/users?x=1"),
            "/login?next=/admin/users%3Fx%3D1"
        );
        assert_eq!(login_url("/"), "/login");
    }
}
