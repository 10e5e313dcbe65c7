//! Just enough of Lua to read and edit a Prosody configuration the way a person would:
//! the file is kept as it is (comments, layout, other settings), and only the one list
//! or line an edit is about changes. Prosody's configuration is Lua: sections start with
//! `VirtualHost "name"` or `Component "name" "type"` and run to the next one; the part
//! before the first is global. A setting is `key = value`, lists are `{ "a", "b"; }`.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
enum Kind {
    /// A string literal, with its value.
    Str(String),
    /// A name, keyword or number.
    Word(String),
    Punct(char),
}

#[derive(Debug, Clone)]
struct Token {
    kind: Kind,
    span: Range<usize>,
}

/// Where a section of the file is; `name` is `None` for the global part.
#[derive(Debug, Clone)]
struct Section {
    name: Option<String>,
    /// From the start of its header line to the start of the next section's.
    span: Range<usize>,
    /// Just after its header line (where a new setting goes).
    body: usize,
}

/// A list setting (`key = { ... }`) and its string items.
#[derive(Debug, Clone)]
pub struct List {
    /// The opening and closing braces.
    open: usize,
    close: usize,
    /// Each string item: its value, its span, and the separator after it, if any.
    items: Vec<(String, Range<usize>, Option<Range<usize>>)>,
}

impl List {
    pub fn contains(&self, value: &str) -> bool {
        self.items.iter().any(|(v, _, _)| v == value)
    }

    #[cfg(test)]
    pub fn values(&self) -> Vec<String> {
        self.items.iter().map(|(v, _, _)| v.clone()).collect()
    }
}

/// A configuration file, read.
#[derive(Debug, Clone)]
pub struct Config {
    text: String,
    tokens: Vec<Token>,
    sections: Vec<Section>,
}

impl Config {
    pub fn parse(text: &str) -> Result<Self, String> {
        let tokens = tokenize(text)?;
        let sections = sections(text, &tokens);
        Ok(Self {
            text: text.to_owned(),
            tokens,
            sections,
        })
    }

    pub fn text(&self) -> &str {
        &self.text
    }

    /// The names of the `VirtualHost` and `Component` sections, in order.
    pub fn section_names(&self) -> Vec<String> {
        self.sections
            .iter()
            .filter_map(|s| s.name.clone())
            .collect()
    }

    pub fn has_section(&self, name: &str) -> bool {
        self.section(Some(name)).is_some()
    }

    fn section(&self, name: Option<&str>) -> Option<&Section> {
        self.sections.iter().find(|s| s.name.as_deref() == name)
    }

    /// The tokens of a section at its top level, with their index.
    fn top_level(&self, section: &Section) -> Vec<usize> {
        let mut depth = 0i32;
        let mut found = Vec::new();
        for (i, token) in self.tokens.iter().enumerate() {
            if token.span.start < section.span.start {
                continue;
            }
            if token.span.start >= section.span.end {
                break;
            }
            match token.kind {
                Kind::Punct('{' | '(' | '[') => {
                    if depth == 0 {
                        found.push(i);
                    }
                    depth += 1;
                }
                Kind::Punct('}' | ')' | ']') => depth -= 1,
                _ if depth == 0 => found.push(i),
                _ => {}
            }
        }
        found
    }

    /// The index of the token after `key =` in a section (a setting, not `==` or a
    /// field `x.key`).
    fn value_of(&self, section: &Section, key: &str) -> Option<usize> {
        let top = self.top_level(section);
        top.iter().find_map(|&i| {
            let is_key = self.tokens[i].kind == Kind::Word(key.to_owned());
            let after_dot = i > 0 && self.tokens[i - 1].kind == Kind::Punct('.');
            let assigns = self.tokens.get(i + 1).map(|t| &t.kind) == Some(&Kind::Punct('='))
                && self.tokens.get(i + 2).map(|t| &t.kind) != Some(&Kind::Punct('='));
            (is_key && !after_dot && assigns && i + 2 < self.tokens.len()).then_some(i + 2)
        })
    }

    /// Whether a section (`None`: the global part) sets `key`.
    pub fn sets(&self, section: Option<&str>, key: &str) -> bool {
        self.section(section)
            .is_some_and(|s| self.value_of(s, key).is_some())
    }

    /// The value of a plain setting (`key = true`, `key = "x"`) as written.
    pub fn scalar(&self, section: Option<&str>, key: &str) -> Option<String> {
        let section = self.section(section)?;
        let at = self.value_of(section, key)?;
        match &self.tokens[at].kind {
            Kind::Str(value) | Kind::Word(value) => Some(value.clone()),
            Kind::Punct(_) => None,
        }
    }

    /// A list setting of a section: `Ok(None)` when the section does not set it, `Err`
    /// when it sets it to something that is not a list (a variable, a call).
    pub fn list(&self, section: Option<&str>, key: &str) -> Result<Option<List>, String> {
        let Some(found) = self.section(section) else {
            return Ok(None);
        };
        let Some(at) = self.value_of(found, key) else {
            return Ok(None);
        };
        if self.tokens[at].kind != Kind::Punct('{') {
            return Err(format!(
                "{key} in {} is not a plain list {{ ... }}: change it by hand",
                section.unwrap_or("the global section")
            ));
        }
        let mut depth = 0;
        let mut items = Vec::new();
        for (i, token) in self.tokens.iter().enumerate().skip(at) {
            match &token.kind {
                Kind::Punct('{') => depth += 1,
                Kind::Punct('}') => {
                    depth -= 1;
                    if depth == 0 {
                        return Ok(Some(List {
                            open: self.tokens[at].span.start,
                            close: token.span.start,
                            items,
                        }));
                    }
                }
                Kind::Str(value) if depth == 1 => {
                    let separator = self
                        .tokens
                        .get(i + 1)
                        .filter(|t| matches!(t.kind, Kind::Punct(',' | ';')))
                        .map(|t| t.span.clone());
                    items.push((value.clone(), token.span.clone(), separator));
                }
                _ => {}
            }
        }
        Err(format!("{key}: the list is not closed"))
    }

    /// Adds `value` to the list `key` of a section, creating the setting when the
    /// section has none. `None` when the value is there already.
    pub fn add_to_list(
        &self,
        section: Option<&str>,
        key: &str,
        value: &str,
    ) -> Result<Option<(Config, Added)>, String> {
        let Some(found) = self.section(section) else {
            return Err(format!(
                "there is no section {}",
                section.unwrap_or("(global)")
            ));
        };
        let list = match self.list(section, key)? {
            Some(list) if list.contains(value) => return Ok(None),
            Some(list) => list,
            None => {
                let line = format!("{}{key} = {{ {} }}\n", indent_for(section), quote(value));
                let text = insert(&self.text, found.body, &line);
                return Ok(Some((Config::parse(&text)?, Added::Setting)));
            }
        };
        let text = &self.text;
        let separator = list
            .items
            .iter()
            .find_map(|(_, _, sep)| sep.clone())
            .map_or(',', |s| text[s].chars().next().unwrap_or(','));
        let new = match list.items.last() {
            None => insert_between(
                text,
                list.open + 1,
                list.close,
                &format!(" {} ", quote(value)),
            ),
            Some((_, last, sep)) => {
                let close_line_start = line_start(text, list.close);
                let closes_own_line = text[close_line_start..list.close].trim().is_empty()
                    && line_start(text, last.start) != close_line_start;
                if closes_own_line {
                    // One item a line: a new line like the last item's.
                    let item_line = line_start(text, last.start);
                    let indent: String = text[item_line..]
                        .chars()
                        .take_while(|c| *c == ' ' || *c == '\t')
                        .collect();
                    let line = format!("{indent}{}{separator}\n", quote(value));
                    let with_line = insert(text, close_line_start, &line);
                    match sep {
                        Some(_) => with_line,
                        None => insert(&with_line, last.end, &separator.to_string()),
                    }
                } else {
                    let at = sep.as_ref().map_or(last.end, |s| s.end);
                    let piece = match sep {
                        Some(_) => format!(" {}", quote(value)),
                        None => format!("{separator} {}", quote(value)),
                    };
                    insert(text, at, &piece)
                }
            }
        };
        Ok(Some((Config::parse(&new)?, Added::Item)))
    }

    /// Takes `value` out of the list `key` of a section (with its separator, and its
    /// line when it stood alone on it). With [`Added::Setting`] the whole setting goes
    /// when `value` was its only item. `None` when the value is not there.
    pub fn remove_from_list(
        &self,
        section: Option<&str>,
        key: &str,
        value: &str,
        added: Added,
    ) -> Result<Option<Config>, String> {
        let Some(list) = self.list(section, key)? else {
            return Ok(None);
        };
        let Some((_, span, sep)) = list.items.iter().find(|(v, _, _)| v == value) else {
            return Ok(None);
        };
        let text = &self.text;
        if added == Added::Setting && list.items.len() == 1 {
            let found = self.section(section).and_then(|s| self.value_of(s, key));
            if let Some(at) = found {
                let key_start = self.tokens[at - 2].span.start;
                let start = line_start(text, key_start);
                let end = line_end(text, list.close);
                if text[start..key_start].trim().is_empty()
                    && text[list.close + 1..end].trim().is_empty()
                {
                    let mut new = text.clone();
                    new.replace_range(start..(end + 1).min(text.len()), "");
                    return Config::parse(&new).map(Some);
                }
            }
        }
        let end = sep.as_ref().map_or(span.end, |s| s.end);
        let start = line_start(text, span.start);
        let stop = line_end(text, end);
        let mut new = text.clone();
        if text[start..span.start].trim().is_empty() && text[end..stop].trim().is_empty() {
            new.replace_range(start..(stop + 1).min(text.len()), "");
        } else {
            // Inline: `"x", ` or, for the last item, `, "x"`.
            let (from, end) = match sep {
                Some(sep) => {
                    let blanks = text[sep.end..].len()
                        - text[sep.end..].trim_start_matches([' ', '\t']).len();
                    (span.start, sep.end + blanks)
                }
                None => {
                    let before = text[..span.start].trim_end_matches([' ', '\t']);
                    let from = before.strip_suffix([',', ';']).map_or(span.start, str::len);
                    (from, span.end)
                }
            };
            new.replace_range(from..end, "");
        }
        Config::parse(&new).map(Some)
    }

    /// Adds lines at the start of the global part (before any section): settings that
    /// must be global, where no section can swallow them.
    pub fn insert_global_lines(&self, lines: &str) -> Result<Config, String> {
        Config::parse(&insert(&self.text, 0, lines))
    }

    /// Takes out lines added by [`Config::insert_global_lines`], if they are still there
    /// as they were.
    pub fn remove_lines(&self, lines: &str) -> Result<Option<Config>, String> {
        match self.text.find(lines) {
            Some(at) => {
                let mut new = self.text.clone();
                new.replace_range(at..at + lines.len(), "");
                Config::parse(&new).map(Some)
            }
            None => Ok(None),
        }
    }
}

/// How a value came into a list: as an item of a list that was there, or with a
/// setting made for it (which goes again with it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Added {
    Item,
    Setting,
}

fn indent_for(section: Option<&str>) -> &'static str {
    if section.is_some() { "    " } else { "" }
}

fn quote(value: &str) -> String {
    format!("\"{}\"", value.replace('\\', "\\\\").replace('"', "\\\""))
}

fn insert(text: &str, at: usize, piece: &str) -> String {
    let mut new = String::with_capacity(text.len() + piece.len());
    new.push_str(&text[..at]);
    new.push_str(piece);
    new.push_str(&text[at..]);
    new
}

/// `piece` in place of what is between `from` and `to` when that is only blanks.
fn insert_between(text: &str, from: usize, to: usize, piece: &str) -> String {
    if text[from..to].trim().is_empty() {
        let mut new = text.to_owned();
        new.replace_range(from..to, piece);
        new
    } else {
        insert(text, from, piece)
    }
}

fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i)
}

fn sections(text: &str, tokens: &[Token]) -> Vec<Section> {
    let mut starts = Vec::new();
    let mut depth = 0i32;
    for (i, token) in tokens.iter().enumerate() {
        match &token.kind {
            Kind::Punct('{' | '(' | '[') => depth += 1,
            Kind::Punct('}' | ')' | ']') => depth -= 1,
            Kind::Word(word) if depth == 0 && (word == "VirtualHost" || word == "Component") => {
                let name = match (tokens.get(i + 1), tokens.get(i + 2)) {
                    (
                        Some(Token {
                            kind: Kind::Str(name),
                            ..
                        }),
                        _,
                    ) => Some(name.clone()),
                    (
                        Some(Token {
                            kind: Kind::Punct('('),
                            ..
                        }),
                        Some(Token {
                            kind: Kind::Str(name),
                            ..
                        }),
                    ) => Some(name.clone()),
                    _ => None,
                };
                if let Some(name) = name {
                    let start = line_start(text, token.span.start);
                    let body = (line_end(text, token.span.start) + 1).min(text.len());
                    starts.push((name, start, body));
                }
            }
            _ => {}
        }
    }
    let first = starts.first().map_or(text.len(), |s| s.1);
    let mut found = vec![Section {
        name: None,
        span: 0..first,
        body: 0,
    }];
    for (i, (name, start, body)) in starts.iter().enumerate() {
        let end = starts.get(i + 1).map_or(text.len(), |s| s.1);
        found.push(Section {
            name: Some(name.clone()),
            span: *start..end,
            body: *body,
        });
    }
    found
}

/// Lua's tokens, comments left out.
fn tokenize(text: &str) -> Result<Vec<Token>, String> {
    let bytes = text.as_bytes();
    let mut tokens = Vec::new();
    let mut i = 0;
    let line_of = |at: usize| text[..at].matches('\n').count() + 1;
    while i < bytes.len() {
        let c = bytes[i];
        if c.is_ascii_whitespace() {
            i += 1;
        } else if text[i..].starts_with("--") {
            match long_bracket(&text[i + 2..]) {
                Some(level) => {
                    let close = format!("]{}]", "=".repeat(level));
                    let body = i + 2 + level + 2;
                    let end = text[body..]
                        .find(&close)
                        .ok_or_else(|| format!("line {}: a comment is not closed", line_of(i)))?;
                    i = body + end + close.len();
                }
                None => i = line_end(text, i),
            }
        } else if c == b'"' || c == b'\'' {
            let start = i;
            let mut value = String::new();
            i += 1;
            loop {
                let Some(ch) = text[i..].chars().next() else {
                    return Err(format!("line {}: a string is not closed", line_of(start)));
                };
                i += ch.len_utf8();
                match ch {
                    '\\' => {
                        let Some(escaped) = text[i..].chars().next() else {
                            continue;
                        };
                        i += escaped.len_utf8();
                        value.push(match escaped {
                            'n' => '\n',
                            't' => '\t',
                            other => other,
                        });
                    }
                    '\n' => return Err(format!("line {}: a string is not closed", line_of(start))),
                    ch if ch as u32 == u32::from(c) => break,
                    other => value.push(other),
                }
            }
            tokens.push(Token {
                kind: Kind::Str(value),
                span: start..i,
            });
        } else if let Some(level) = (c == b'[').then(|| long_bracket(&text[i..])).flatten() {
            let close = format!("]{}]", "=".repeat(level));
            let body = i + level + 2;
            let end = text[body..]
                .find(&close)
                .ok_or_else(|| format!("line {}: a long string is not closed", line_of(i)))?;
            tokens.push(Token {
                kind: Kind::Str(text[body..body + end].to_owned()),
                span: i..body + end + close.len(),
            });
            i = body + end + close.len();
        } else if c.is_ascii_alphanumeric() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            tokens.push(Token {
                kind: Kind::Word(text[start..i].to_owned()),
                span: start..i,
            });
        } else {
            let ch = text[i..].chars().next().unwrap_or(' ');
            tokens.push(Token {
                kind: Kind::Punct(ch),
                span: i..i + ch.len_utf8(),
            });
            i += ch.len_utf8();
        }
    }
    Ok(tokens)
}

/// `[[` or `[==[`: the level (number of `=`), when `text` starts with a long bracket.
fn long_bracket(text: &str) -> Option<usize> {
    let rest = text.strip_prefix('[')?;
    let level = rest.chars().take_while(|c| *c == '=').count();
    rest[level..].starts_with('[').then_some(level)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    const SITE: &str = r#"-- We need this for prosody 13.0
plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }
--[[ a block comment with VirtualHost "fake" inside ]]
VirtualHost "meet.test"
    modules_enabled = {
        "bosh";
        "ping"; -- Enable mod_ping
        --"token_verification";
    }
    c2s_require_encryption = false

Component "conference.meet.test" "muc"
    modules_enabled = {
        "muc_meeting_id";
        "muc_domain_mapper"
    }
    admins = { "focus@auth.meet.test" }

Component "lobby.meet.test" "muc"
    storage = "memory"
"#;

    #[test]
    fn sections_and_settings_are_found_outside_comments_and_strings() {
        let config = Config::parse(SITE).unwrap();
        assert_eq!(
            config.section_names(),
            ["meet.test", "conference.meet.test", "lobby.meet.test"]
        );
        assert_eq!(
            config.list(None, "plugin_paths").unwrap().unwrap().values(),
            ["/usr/share/jitsi-meet/prosody-plugins/"]
        );
        assert_eq!(
            config
                .list(Some("meet.test"), "modules_enabled")
                .unwrap()
                .unwrap()
                .values(),
            ["bosh", "ping"]
        );
        assert_eq!(
            config
                .scalar(Some("meet.test"), "c2s_require_encryption")
                .as_deref(),
            Some("false")
        );
        assert!(!config.sets(None, "admins"));
        assert!(
            config
                .list(Some("lobby.meet.test"), "admins")
                .unwrap()
                .is_none()
        );
    }

    #[test]
    fn items_join_lists_in_their_style_and_leave_the_same_way() {
        let config = Config::parse(SITE).unwrap();
        // One line: `, "x"`.
        let (one_line, added) = config
            .add_to_list(
                Some("conference.meet.test"),
                "admins",
                "roomkeeper@auth.meet.test",
            )
            .unwrap()
            .unwrap();
        assert_eq!(added, Added::Item);
        assert!(
            one_line
                .text()
                .contains(r#"admins = { "focus@auth.meet.test", "roomkeeper@auth.meet.test" }"#),
            "{}",
            one_line.text()
        );
        // One item a line, the last without a separator: it gets one.
        let (many, _) = one_line
            .add_to_list(
                Some("conference.meet.test"),
                "modules_enabled",
                "roomkeeper",
            )
            .unwrap()
            .unwrap();
        assert!(
            many.text()
                .contains("        \"muc_domain_mapper\";\n        \"roomkeeper\";\n    }"),
            "{}",
            many.text()
        );
        // A section without the setting gets one, right under its header.
        let (made, added) = many
            .add_to_list(
                Some("lobby.meet.test"),
                "admins",
                "roomkeeper@auth.meet.test",
            )
            .unwrap()
            .unwrap();
        assert_eq!(added, Added::Setting);
        assert!(made.text().contains(
            "Component \"lobby.meet.test\" \"muc\"\n    admins = { \"roomkeeper@auth.meet.test\" }\n    storage"
        ));
        // Again: nothing to do.
        assert!(
            made.add_to_list(
                Some("conference.meet.test"),
                "modules_enabled",
                "roomkeeper"
            )
            .unwrap()
            .is_none()
        );
        // And back, step by step, to the file as it was but for the separator.
        let back = made
            .remove_from_list(
                Some("lobby.meet.test"),
                "admins",
                "roomkeeper@auth.meet.test",
                Added::Setting,
            )
            .unwrap()
            .unwrap()
            .remove_from_list(
                Some("conference.meet.test"),
                "modules_enabled",
                "roomkeeper",
                Added::Item,
            )
            .unwrap()
            .unwrap()
            .remove_from_list(
                Some("conference.meet.test"),
                "admins",
                "roomkeeper@auth.meet.test",
                Added::Item,
            )
            .unwrap()
            .unwrap();
        assert_eq!(
            back.text(),
            SITE.replace("\"muc_domain_mapper\"\n", "\"muc_domain_mapper\";\n")
        );
    }

    #[test]
    fn empty_lists_and_strange_values() {
        let config = Config::parse("admins = { }\nfoo = bar()\nx = 'it\\'s'\n").unwrap();
        let (filled, _) = config.add_to_list(None, "admins", "a@b").unwrap().unwrap();
        assert!(
            filled.text().starts_with("admins = { \"a@b\" }\n"),
            "{}",
            filled.text()
        );
        assert!(config.list(None, "foo").is_err());
        assert!(Config::parse("x = \"open\n").is_err());
        assert!(Config::parse("--[[ open").is_err());
    }
}
