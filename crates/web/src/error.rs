use axum::Json;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Redirect, Response};

use roomkeeper_domain::{Refusal, RefusalKind};

use crate::i18n::{self, Tr};
use crate::pages::{Chrome, render};

/// Everything a request can fail with, each with the status, the stable `code` scripts
/// can match on, and a sentence a person understands.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("You are not logged in, or your session has ended. Log in again.")]
    NotLoggedIn,
    #[error("Wrong username or password.")]
    WrongCredentials,
    #[error("The API token is not valid: it was revoked or mistyped.")]
    BadToken,
    #[error("You are not allowed to do this.")]
    Forbidden,
    #[error("Not found, or not yours to see.")]
    NotFound,
    #[error("{0}")]
    BadRequest(String),
    /// Understood and refused: invalid input (422), or the world is not in the state the
    /// request needs (409: the room is taken, the request already decided, no meeting
    /// runs). `refusal` says which; nothing matches on `message`.
    #[error("{message}")]
    Refused { refusal: Refusal, message: String },
    /// Prosody answered, but refused the action (502); the text says what to change.
    #[error("{0}")]
    ProsodyRefused(String),
    /// Too many open event streams (429).
    #[error("{0}")]
    TooManyStreams(String),
    #[error("Too many failed login attempts. Wait {} minutes and try again.", minutes(*retry_after_s))]
    Throttled { retry_after_s: i64 },
    #[error(
        "Your password was a one-time password: choose a new one first (PUT /api/v1/me/password or the profile page)."
    )]
    PasswordChangeRequired,
    #[error(
        "This request came from another website and was refused. Reload the page and try again."
    )]
    CrossSite,
    #[error("{0}")]
    Unavailable(String),
    /// The database does not answer (503, code `unavailable` like any missing
    /// dependency); pages name it, so people know it is not their Jitsi.
    #[error("{0}")]
    DatabaseUnreachable(String),
    /// Where recordings are kept has no space left (507): the sender keeps its files and
    /// tries again later.
    #[error("{0}")]
    StorageFull(String),
    /// Logged with its cause; the client sees only a generic sentence.
    #[error("Something went wrong on our side. Please try again.")]
    Internal(String),
}

/// Seconds as whole minutes, rounded up ("wait 1 minute", never "wait 0 minutes").
pub fn minutes(seconds: i64) -> i64 {
    (seconds + 59) / 60
}

impl Error {
    pub fn status(&self) -> StatusCode {
        match self {
            Error::NotLoggedIn | Error::WrongCredentials | Error::BadToken => {
                StatusCode::UNAUTHORIZED
            }
            Error::Forbidden | Error::PasswordChangeRequired | Error::CrossSite => {
                StatusCode::FORBIDDEN
            }
            Error::NotFound => StatusCode::NOT_FOUND,
            Error::BadRequest(_) => StatusCode::BAD_REQUEST,
            Error::Refused { refusal, .. } => match refusal.kind() {
                RefusalKind::Invalid => StatusCode::UNPROCESSABLE_ENTITY,
                RefusalKind::Conflict => StatusCode::CONFLICT,
            },
            Error::ProsodyRefused(_) => StatusCode::BAD_GATEWAY,
            Error::Throttled { .. } | Error::TooManyStreams(_) => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(_) | Error::DatabaseUnreachable(_) => {
                StatusCode::SERVICE_UNAVAILABLE
            }
            Error::StorageFull(_) => StatusCode::INSUFFICIENT_STORAGE,
            Error::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    pub fn code(&self) -> &'static str {
        match self {
            Error::NotLoggedIn => "not_logged_in",
            Error::WrongCredentials => "wrong_credentials",
            Error::BadToken => "invalid_token",
            Error::Forbidden => "forbidden",
            Error::NotFound => "not_found",
            Error::BadRequest(_) => "bad_request",
            Error::Refused { refusal, .. } => refusal.code(),
            Error::ProsodyRefused(_) => "prosody_refused",
            Error::Throttled { .. } => "throttled",
            Error::TooManyStreams(_) => "too_many_streams",
            Error::PasswordChangeRequired => "password_change_required",
            Error::CrossSite => "cross_site",
            Error::Unavailable(_) | Error::DatabaseUnreachable(_) => "unavailable",
            Error::StorageFull(_) => "storage_full",
            Error::Internal(_) => "internal",
        }
    }

    pub fn refused(refusal: Refusal, message: impl Into<String>) -> Self {
        Error::Refused {
            refusal,
            message: message.into(),
        }
    }

    pub fn refusal(&self) -> Option<Refusal> {
        match self {
            Error::Refused { refusal, .. } => Some(*refusal),
            _ => None,
        }
    }

    fn log(&self) {
        match self {
            Error::Internal(cause) => tracing::error!(%cause, "request failed"),
            Error::Unavailable(cause) | Error::DatabaseUnreachable(cause) => {
                tracing::warn!(%cause, "dependency unavailable")
            }
            Error::StorageFull(cause) => tracing::error!(%cause, "recordings storage is full"),
            _ => {}
        }
    }
}

impl From<roomkeeper_usecases::Error> for Error {
    fn from(err: roomkeeper_usecases::Error) -> Self {
        use roomkeeper_usecases::Failure as F;
        match err.failure() {
            F::NotFound => Error::NotFound,
            F::Refused { refusal, message } => Error::Refused { refusal, message },
            F::ProsodyRefused(message) => Error::ProsodyRefused(message),
            F::Unavailable(message) => Error::Unavailable(message),
            F::DatabaseUnreachable(message) => Error::DatabaseUnreachable(message),
            F::StorageFull(message) => Error::StorageFull(message),
            F::Internal(cause) => Error::Internal(cause),
        }
    }
}

impl From<roomkeeper_usecases::accounts::PasswordChangeError> for Error {
    fn from(err: roomkeeper_usecases::accounts::PasswordChangeError) -> Self {
        roomkeeper_usecases::Error::from(err).into()
    }
}

impl From<roomkeeper_domain::ParseError> for Error {
    fn from(err: roomkeeper_domain::ParseError) -> Self {
        Error::refused(Refusal::InvalidInput, err.to_string())
    }
}

/// An error answered as JSON: `{"error": {"code", "message"}}`.
#[derive(Debug)]
pub struct ApiError(pub Error);

impl<E: Into<Error>> From<E> for ApiError {
    fn from(err: E) -> Self {
        ApiError(err.into())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        err.log();
        let body = serde_json::json!({
            "error": { "code": err.code(), "message": err.to_string() }
        });
        let mut response = (err.status(), Json(body)).into_response();
        let headers = response.headers_mut();
        if let Error::Throttled { retry_after_s } = err {
            if let Ok(value) = HeaderValue::from_str(&retry_after_s.to_string()) {
                headers.insert(header::RETRY_AFTER, value);
            }
        }
        if err.status() == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// An error answered as a page in the visitor's language; "not logged in" becomes a
/// redirect to the login page that comes back here afterwards.
#[derive(Debug)]
pub struct PageError {
    pub error: Error,
    /// Where to come back to after logging in.
    pub path: String,
}

impl<E: Into<Error>> From<E> for PageError {
    fn from(err: E) -> Self {
        PageError {
            error: err.into(),
            path: "/".into(),
        }
    }
}

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let err = self.error;
        err.log();
        match err {
            Error::NotLoggedIn | Error::BadToken => {
                Redirect::to(&crate::pages::login_url(&self.path)).into_response()
            }
            Error::PasswordChangeRequired => Redirect::to("/profile").into_response(),
            _ => {
                let t = Tr::new(i18n::current());
                let key = match err {
                    Error::DatabaseUnreachable(_) => "error-database-unreachable".to_owned(),
                    _ => format!("error-{}", err.code()),
                };
                let message = t.get(&key).unwrap_or_else(|| err.to_string());
                let page = crate::pages::ErrorPage {
                    page: Chrome::anonymous(t, &self.path),
                    message,
                };
                let mut response = render(&page).into_response();
                *response.status_mut() = err.status();
                response
            }
        }
    }
}

/// Unknown paths: JSON under `/api/`, a page elsewhere.
pub async fn fallback(uri: Uri) -> Response {
    if uri.path().starts_with("/api/") {
        ApiError(Error::NotFound).into_response()
    } else {
        PageError {
            error: Error::NotFound,
            path: uri.path().to_owned(),
        }
        .into_response()
    }
}
