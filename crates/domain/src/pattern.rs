//! Name patterns that make a user's room requests approve themselves, such as
//! `exampleperson-*`. Only `*` (any run of characters) and `?` (one character) are
//! special, and neither crosses the `/` between tenant and room: `exampleperson-*`
//! never matches a room under a tenant. A general glob library would also give
//! meaning to `[`, `{` and `\`, which appear in room names; this is all we need.

use std::fmt;

use crate::room::{RoomName, jitsi_normalize};

/// No room name (with its tenant) is longer, so no longer pattern can match one.
pub const MAX_CANONICAL_BYTES: usize =
    crate::room::MAX_ROOM_BYTES + 1 + crate::room::MAX_TENANT_BYTES;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PatternError {
    #[error("A pattern needs at least one character besides * and ?.")]
    NoLiteral,
    #[error("A pattern may be at most as long as a room name ({max} bytes once encoded).")]
    TooLong { max: usize },
    #[error("A pattern has at most one / (between tenant and room).")]
    TooManyParts,
}

/// A pattern in canonical form: its literal parts normalised like room names, so it is
/// compared with canonical names (`Müller-*` is stored as `m%c3%bcller-*`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(transparent)]
pub struct Pattern(String);

impl Pattern {
    pub fn parse(input: &str) -> Result<Self, PatternError> {
        let input = input.trim().trim_matches('/');
        // Bytes first, before normalising. The bound is on the stored (canonical) form,
        // so a stored pattern always parses again: a bound on the characters typed did
        // not, and a long pattern in Cyrillic then stopped approving anything.
        // Percent-decoding shrinks by three at most, so no longer input can pass below.
        if input.len() > 3 * MAX_CANONICAL_BYTES {
            return Err(PatternError::TooLong {
                max: MAX_CANONICAL_BYTES,
            });
        }
        if input.matches('/').count() > 1 {
            return Err(PatternError::TooManyParts);
        }
        let mut canonical = String::new();
        let mut literal = String::new();
        let flush = |literal: &mut String, canonical: &mut String| {
            let normalised: Vec<String> = literal.split('/').map(jitsi_normalize).collect();
            canonical.push_str(&normalised.join("/"));
            literal.clear();
        };
        for c in input.chars() {
            if c == '*' || c == '?' {
                flush(&mut literal, &mut canonical);
                canonical.push(c);
            } else {
                literal.push(c);
            }
        }
        flush(&mut literal, &mut canonical);
        if !canonical.chars().any(|c| c != '*' && c != '?' && c != '/') {
            return Err(PatternError::NoLiteral);
        }
        // NFKC and encoding can grow a character eighteen-fold (U+FDFA) and more; a
        // pattern longer than any room name could only slow the overlap check down.
        if canonical.len() > MAX_CANONICAL_BYTES {
            return Err(PatternError::TooLong {
                max: MAX_CANONICAL_BYTES,
            });
        }
        Ok(Self(canonical))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn matches(&self, room: &RoomName) -> bool {
        glob_match(&self.0, &room.canonical())
    }

    /// Whether some room name matches both patterns (flagged to admins when the
    /// patterns belong to different users).
    pub fn overlaps(&self, other: &Pattern) -> bool {
        let p: Vec<char> = self.0.chars().collect();
        let q: Vec<char> = other.0.chars().collect();
        overlap(&p, &q)
    }
}

impl fmt::Display for Pattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// `*` and `?` never stand for the tenant separator.
fn glob_match(pattern: &str, name: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let n: Vec<char> = name.chars().collect();
    // reachable[j]: the pattern prefix read so far can produce n[..j].
    let mut reachable = vec![false; n.len() + 1];
    reachable[0] = true;
    for pc in &p {
        let mut next = vec![false; n.len() + 1];
        for j in 0..=n.len() {
            match pc {
                '*' => {
                    // Extends any reachable prefix by a run without '/'.
                    next[j] = reachable[j] || (j > 0 && next[j - 1] && n[j - 1] != '/');
                }
                '?' => next[j] = j > 0 && reachable[j - 1] && n[j - 1] != '/',
                c => next[j] = j > 0 && reachable[j - 1] && n[j - 1] == *c,
            }
        }
        reachable = next;
    }
    reachable[n.len()]
}

/// Whether `p` and `q` can produce a common string. `both[i][j]`: can `p[i..]` and
/// `q[j..]`? Filled from the ends backwards, each cell from cells already known: no
/// recursion (patterns come from users), at most (len p + 1) x (len q + 1) steps, and
/// both lengths are bounded by [`MAX_CANONICAL_BYTES`].
fn overlap(p: &[char], q: &[char]) -> bool {
    let mut both = vec![vec![false; q.len() + 1]; p.len() + 1];
    for i in (0..=p.len()).rev() {
        for j in (0..=q.len()).rev() {
            both[i][j] = match (p.get(i), q.get(j)) {
                (None, None) => true,
                // The star produces nothing more, or absorbs what q produces next.
                (Some('*'), next) => {
                    both[i + 1][j] || (next.is_some_and(|c| *c != '/') && both[i][j + 1])
                }
                (next, Some('*')) => {
                    both[i][j + 1] || (next.is_some_and(|c| *c != '/') && both[i + 1][j])
                }
                (Some(a), Some(b)) => {
                    let compatible = match (a, b) {
                        ('?', '?') => true,
                        ('?', c) | (c, '?') => *c != '/',
                        (a, b) => a == b,
                    };
                    compatible && both[i + 1][j + 1]
                }
                _ => false,
            };
        }
    }
    both[0][0]
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn room(name: &str) -> RoomName {
        RoomName::parse(name, &[]).unwrap()
    }

    #[test]
    fn patterns_match_canonical_names_without_crossing_the_tenant() {
        let p = Pattern::parse("ExamplePerson-*").unwrap();
        assert_eq!(p.as_str(), "exampleperson-*");
        assert!(p.matches(&room("exampleperson-logic")));
        assert!(p.matches(&room("ExamplePerson-Presentations")));
        assert!(p.matches(&room("exampleperson-")));
        assert!(!p.matches(&room("exampleperson")));
        assert!(!p.matches(&room("other-exampleperson-x")));
        assert!(
            !p.matches(&room("physik/exampleperson-logic")),
            "no tenant crossing"
        );
        let t = Pattern::parse("physik/*").unwrap();
        assert!(t.matches(&room("physik/logic")) && !t.matches(&room("logic")));
        let q = Pattern::parse("kurs-?").unwrap();
        assert!(q.matches(&room("kurs-a")) && !q.matches(&room("kurs-ab")));
        let umlaut = Pattern::parse("Müller-*").unwrap();
        assert_eq!(umlaut.as_str(), "m%c3%bcller-*");
        assert!(umlaut.matches(&room("müller-seminar")));
    }

    #[test]
    fn patterns_without_substance_are_refused() {
        assert_eq!(Pattern::parse("*"), Err(PatternError::NoLiteral));
        assert_eq!(Pattern::parse("*/?*"), Err(PatternError::NoLiteral));
        assert_eq!(Pattern::parse("a/b/c*"), Err(PatternError::TooManyParts));
        assert!(Pattern::parse(&"a".repeat(MAX_CANONICAL_BYTES + 1)).is_err());
        // Huge input is refused by its size before any normalising; a short one that
        // normalisation blows up past any room name's length is refused after.
        assert!(Pattern::parse(&"\u{FDFA}".repeat(300_000)).is_err());
        assert!(Pattern::parse(&"\u{FDFA}".repeat(150)).is_err());
        assert!(Pattern::parse(&format!("{}*", "\u{FDFA}".repeat(5))).is_ok());
    }

    /// Stored patterns are parsed again before each use (approving, overlaps): a long one
    /// in Cyrillic was accepted, then refused as stored (more than 200 characters once
    /// encoded), and silently approved nothing.
    #[test]
    fn a_stored_pattern_parses_again() {
        let typed = format!("{}-*", "д".repeat(150));
        let stored = Pattern::parse(&typed).unwrap();
        assert_eq!(Pattern::parse(stored.as_str()).as_ref(), Ok(&stored));
        assert!(stored.matches(&room(&format!("{}-1", "д".repeat(150)))));
    }

    #[test]
    fn overlapping_patterns_are_found() {
        let o = |a: &str, b: &str| {
            Pattern::parse(a)
                .unwrap()
                .overlaps(&Pattern::parse(b).unwrap())
        };
        assert!(o("exampleperson-*", "*-logic"));
        assert!(o("exampleperson-*", "exampleperson-l*"));
        assert!(o("kurs-?", "kurs-a"));
        assert!(o("a*b", "*b"));
        assert!(!o("exampleperson-*", "other-*"));
        assert!(!o("kurs-?", "kurs-ab"));
        assert!(
            !o("physik/*", "x*"),
            "a tenant pattern never meets a plain one"
        );
        assert!(o("physik/*", "phys*/logic"));
        // The longest patterns there can be: answered without recursion.
        let long: Vec<char> = "?*".repeat(MAX_CANONICAL_BYTES / 2).chars().collect();
        assert!(overlap(&long, &long));
    }

    proptest! {
        /// When a concrete name matches both, the overlap check must say so.
        #[test]
        fn overlap_agrees_with_matching(a in "[ab*?]{1,6}", b in "[ab*?]{1,6}", name in "[ab]{0,8}") {
            if let (Ok(pa), Ok(pb)) = (Pattern::parse(&a), Pattern::parse(&b)) {
                let r = room(&format!("x{name}"));
                let pa = Pattern(format!("x{}", pa.0));
                let pb = Pattern(format!("x{}", pb.0));
                if pa.matches(&r) && pb.matches(&r) {
                    prop_assert!(pa.overlaps(&pb));
                }
            }
        }
    }
}
