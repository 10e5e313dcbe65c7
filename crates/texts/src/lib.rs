//! Every word Roomkeeper says, in English and German: the pages' texts and the emails'
//! letters come from the same Fluent files (`locales/{en,de}/main.ftl`), so a page and
//! the email about the same thing say it in the same words. Which language a request
//! gets is the web's business (`web/src/i18n.rs`); an email goes out in its recipient's.

use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{Loader, static_loader};
use unic_langid::{LanguageIdentifier, langid};

pub mod letters;

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "en",
        // Fluent wraps placeables in Unicode isolation marks by default; they end up
        // as invisible characters in copied usernames and passwords.
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Lang {
    #[default]
    En,
    De,
}

impl Lang {
    pub fn parse(tag: &str) -> Option<Lang> {
        let primary = tag.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "en" => Some(Lang::En),
            "de" => Some(Lang::De),
            _ => None,
        }
    }

    pub fn tag(self) -> &'static str {
        match self {
            Lang::En => "en",
            Lang::De => "de",
        }
    }

    fn id(self) -> LanguageIdentifier {
        match self {
            Lang::En => langid!("en"),
            Lang::De => langid!("de"),
        }
    }

    /// The first language of `Accept-Language` (by q-value) that we speak.
    pub fn from_accept_language(value: &str) -> Option<Lang> {
        let mut offers: Vec<(f32, Lang)> = value
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let lang = Lang::parse(pieces.next()?)?;
                let q = pieces
                    .find_map(|p| p.trim().strip_prefix("q="))
                    .and_then(|q| q.parse::<f32>().ok())
                    .unwrap_or(1.0);
                Some((q, lang))
            })
            .collect();
        // Stable sort keeps the browser's order among equal weights.
        offers.sort_by(|a, b| b.0.total_cmp(&a.0));
        offers.first().map(|(_, lang)| *lang)
    }
}

/// Every text, resolved once per language (without arguments) and sorted by key. A page
/// asks for dozens; through fluent each lookup negotiated the language, hashed the key
/// in several maps and formatted the pattern again (about 5 % of the home page's time
/// under load, docs/PERFORMANCE.md).
type Texts = Vec<(String, String)>;
static TEXTS: std::sync::OnceLock<(Texts, Texts)> = std::sync::OnceLock::new();

fn texts() -> (Texts, Texts) {
    // Both files' keys for both languages: a key missing in one falls back to English,
    // as fluent's own lookup does.
    let keys: std::collections::BTreeSet<&str> =
        message_keys(include_str!("../locales/en/main.ftl"))
            .chain(message_keys(include_str!("../locales/de/main.ftl")))
            .collect();
    let resolve = |lang: Lang| -> Texts {
        keys.iter()
            .filter_map(|key| {
                LOCALES
                    .try_lookup(&lang.id(), key)
                    .map(|text| ((*key).to_owned(), text))
            })
            .collect()
    };
    (resolve(Lang::En), resolve(Lang::De))
}

/// The message keys of a `.ftl` file (`key = text` at the start of a line).
fn message_keys(ftl: &str) -> impl Iterator<Item = &str> {
    ftl.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_lowercase()))
        .filter_map(|l| l.split_once('=').map(|(k, _)| k.trim()))
}

/// Translations for one language, handed to templates as `t`.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    lang: Lang,
}

impl Tr {
    pub fn new(lang: Lang) -> Self {
        Self { lang }
    }

    pub fn lang_tag(&self) -> &'static str {
        self.lang.tag()
    }

    /// The text for `key`; the key itself when missing, so a gap shows on the page
    /// (and the parity test below catches it first).
    pub fn t(&self, key: &str) -> String {
        self.get(key).unwrap_or_else(|| key.to_owned())
    }

    pub fn get(&self, key: &str) -> Option<String> {
        let texts = match self.lang {
            Lang::En => &TEXTS.get_or_init(texts).0,
            Lang::De => &TEXTS.get_or_init(texts).1,
        };
        texts
            .binary_search_by(|(k, _)| k.as_str().cmp(key))
            .ok()
            .map(|at| texts[at].1.clone())
    }

    /// A text whose key is built from a fixed prefix and a value (`status-` + `pending`).
    pub fn tp(&self, prefix: &str, suffix: &str) -> String {
        self.t(&format!("{prefix}{suffix}"))
    }

    pub fn with(&self, key: &str, args: impl AsRef<[(&'static str, String)]>) -> String {
        let args: HashMap<std::borrow::Cow<'static, str>, FluentValue<'_>> = args
            .as_ref()
            .iter()
            .map(|(k, v)| ((*k).into(), FluentValue::from(v.clone())))
            .collect();
        LOCALES
            .try_lookup_with_args(&self.lang.id(), key, &args)
            .unwrap_or_else(|| key.to_owned())
    }

    /// A Unix timestamp as the time of day in UTC (`14:05 UTC`).
    pub fn clock(&self, unix_s: impl std::borrow::Borrow<i64>) -> String {
        let unix_s = *unix_s.borrow();
        time::OffsetDateTime::from_unix_timestamp(unix_s)
            .ok()
            .and_then(|at| {
                at.format(time::macros::format_description!("[hour]:[minute] UTC"))
                    .ok()
            })
            .unwrap_or_else(|| unix_s.to_string())
    }

    /// A Unix timestamp as a date and time in UTC, in the language's usual order.
    pub fn date(&self, unix_s: impl std::borrow::Borrow<i64>) -> String {
        let unix_s = *unix_s.borrow();
        let Ok(at) = time::OffsetDateTime::from_unix_timestamp(unix_s) else {
            return unix_s.to_string();
        };
        let format = match self.lang {
            Lang::En => {
                time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC")
            }
            Lang::De => {
                time::macros::format_description!("[day].[month].[year] [hour]:[minute] UTC")
            }
        };
        at.format(format).unwrap_or_else(|_| unix_s.to_string())
    }
}

/// Whether `key` has an English text (every text has one; German falls back to it).
pub fn has_text(key: &str) -> bool {
    message_keys(include_str!("../locales/en/main.ftl")).any(|k| k == key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    fn keys(ftl: &str) -> BTreeSet<String> {
        message_keys(ftl).map(str::to_owned).collect()
    }

    #[test]
    fn english_and_german_have_the_same_texts() {
        let en = keys(include_str!("../locales/en/main.ftl"));
        let de = keys(include_str!("../locales/de/main.ftl"));
        assert!(en.len() > 50, "parsed too few keys: {}", en.len());
        let only_en: Vec<_> = en.difference(&de).collect();
        let only_de: Vec<_> = de.difference(&en).collect();
        assert!(
            only_en.is_empty() && only_de.is_empty(),
            "only in English: {only_en:?}; only in German: {only_de:?}"
        );
    }

    #[test]
    fn every_status_and_audit_action_has_a_text() {
        let statuses = ["pending", "approved", "rejected", "withdrawn"];
        let keys_needed: Vec<String> = statuses
            .iter()
            .map(|s| format!("status-{s}"))
            .chain(
                roomkeeper_domain::AuditAction::ALL
                    .iter()
                    .map(|a| format!("audit-{a}")),
            )
            .collect();
        for (lang, texts) in [
            ("en", keys(include_str!("../locales/en/main.ftl"))),
            ("de", keys(include_str!("../locales/de/main.ftl"))),
        ] {
            let missing: Vec<&String> =
                keys_needed.iter().filter(|k| !texts.contains(*k)).collect();
            assert!(missing.is_empty(), "{lang} has no text for {missing:?}");
        }
    }

    #[test]
    fn german_texts_and_arguments_render() {
        let t = Tr::new(Lang::De);
        assert_eq!(t.t("login-submit"), "Anmelden");
        assert_eq!(
            t.with("login-throttled", &[("minutes", "15".into())]),
            "Zu viele Fehlversuche. Bitte warten Sie 15 Minuten und versuchen Sie es dann erneut."
        );
        assert_eq!(t.date(0), "01.01.1970 00:00 UTC");
    }
}
