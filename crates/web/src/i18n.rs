//! The language of a request is, in order: the `lang` cookie (set by the switch in the
//! footer or the profile page, and at login from the saved preference), then the
//! browser's `Accept-Language`, then English. The words themselves are
//! `roomkeeper_texts`'.

use axum::extract::{FromRequestParts, Request};
use axum::http::{HeaderMap, header, request::Parts};
use axum::middleware::Next;
use axum::response::Response;
use axum_extra::extract::CookieJar;
pub use roomkeeper_texts::{Lang, Tr};

pub const LANG_COOKIE: &str = "lang";

/// The language a request asks for.
pub fn negotiate_headers(headers: &HeaderMap) -> Lang {
    let jar = CookieJar::from_headers(headers);
    jar.get(LANG_COOKIE)
        .and_then(|c| Lang::parse(c.value()))
        .or_else(|| {
            headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(Lang::from_accept_language)
        })
        .unwrap_or_default()
}

tokio::task_local! {
    static CURRENT: Lang;
}

/// The language of the request being handled (English outside a request).
pub fn current() -> Lang {
    CURRENT.try_with(|lang| *lang).unwrap_or_default()
}

/// Decides the language once per request, for handlers (the [`Language`] extractor) and
/// for error pages rendered far from any handler.
pub async fn negotiate(mut request: Request, next: Next) -> Response {
    let lang = negotiate_headers(request.headers());
    request.extensions_mut().insert(lang);
    CURRENT.scope(lang, next.run(request)).await
}

/// The request's language, for handlers.
#[derive(Debug, Clone, Copy)]
pub struct Language(pub Lang);

impl<S: Send + Sync> FromRequestParts<S> for Language {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Language(
            parts
                .extensions
                .get::<Lang>()
                .copied()
                .unwrap_or_else(|| negotiate_headers(&parts.headers)),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_text_used_by_a_template_or_the_code_exists() {
        // Every template and every source file, read at test time: a new file is covered
        // without anyone remembering to list it.
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        let mut dirs = vec![
            root.join("templates"),
            root.join("src"),
            root.join("../texts/src"),
        ];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("a source folder").flatten() {
                let path = entry.path();
                if path.is_dir() {
                    dirs.push(path);
                } else if path.extension().is_some_and(|e| e == "html" || e == "rs") {
                    sources.push(std::fs::read_to_string(&path).expect("a source file"));
                }
            }
        }
        assert!(sources.len() > 30, "found only {} files", sources.len());
        for source in &sources {
            for piece in source
                .split(".t(\"")
                .skip(1)
                .chain(source.split(".with(\"").skip(1))
            {
                let key = piece.split('"').next().unwrap_or_default();
                assert!(
                    roomkeeper_texts::has_text(key),
                    "text {key:?} is used but not translated"
                );
            }
        }
    }

    #[test]
    fn language_comes_from_cookie_then_browser_then_english() {
        let mut headers = HeaderMap::new();
        assert_eq!(negotiate_headers(&headers), Lang::En);
        headers.insert(
            header::ACCEPT_LANGUAGE,
            "fr-FR, de-DE;q=0.8, en;q=0.5".parse().unwrap(),
        );
        assert_eq!(negotiate_headers(&headers), Lang::De);
        headers.insert(header::COOKIE, "lang=en".parse().unwrap());
        assert_eq!(negotiate_headers(&headers), Lang::En);
    }
}
