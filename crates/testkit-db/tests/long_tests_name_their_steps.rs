//! A test longer than a screenful tells its story in named steps (`Steps::begin`), so
//! that a reader sees its outline and a failure names the step it happened in.

// A file that cannot be read should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

/// Longer than this, a test function names its steps.
const LONGEST_UNNAMED: usize = 100;

/// Long functions in test files that are not stories, and why.
const NOT_STORIES: &[(&str, &str)] = &[
    (
        "authz.rs::cases",
        "a table: one row per route and role, read as a table",
    ),
    (
        "authz.rs::fixture",
        "not a test: it builds the data every row of the table acts on",
    ),
];

fn test_files(dir: &Path, found: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap().map(Result::unwrap) {
        let path = entry.path();
        if path.is_dir() {
            test_files(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            found.push(path);
        }
    }
}

/// Each function as (name, its lines from `fn` to its closing brace).
fn functions(source: &str) -> Vec<(String, Vec<&str>)> {
    let lines: Vec<&str> = source.lines().collect();
    let mut found = Vec::new();
    let mut at = 0;
    while at < lines.len() {
        let line = lines[at];
        let indent = line.len() - line.trim_start().len();
        let head = line.trim_start();
        let head = head.strip_prefix("pub ").unwrap_or(head);
        let head = head.strip_prefix("async ").unwrap_or(head);
        if let Some(rest) = head.strip_prefix("fn ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            let closing = format!("{}}}", &line[..indent]);
            if let Some(end) = (at..lines.len()).find(|&i| lines[i] == closing) {
                found.push((name, lines[at..=end].to_vec()));
                at = end;
            }
        }
        at += 1;
    }
    found
}

#[test]
fn long_tests_name_their_steps() {
    let crates = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_owned();
    let mut files = Vec::new();
    for krate in std::fs::read_dir(&crates).unwrap().map(Result::unwrap) {
        let tests = krate.path().join("tests");
        if tests.is_dir() {
            test_files(&tests, &mut files);
        }
    }
    assert!(files.len() > 20, "found only {files:?}");
    let mut unnamed = Vec::new();
    for file in &files {
        let source = std::fs::read_to_string(file).unwrap();
        let short = file.file_name().unwrap().to_string_lossy();
        for (name, lines) in functions(&source) {
            let key = format!("{short}::{name}");
            let named = lines.iter().any(|l| l.contains("steps.begin("));
            if lines.len() > LONGEST_UNNAMED
                && !named
                && !NOT_STORIES.iter().any(|(k, _)| *k == key)
            {
                let shown = file.strip_prefix(&crates).unwrap_or(file).display();
                unnamed.push(format!("{shown} {name} ({} lines)", lines.len()));
            }
        }
    }
    assert!(
        unnamed.is_empty(),
        "{} tests over {LONGEST_UNNAMED} lines without named steps (testkit's Steps):\n{}",
        unnamed.len(),
        unnamed.join("\n")
    );
}
