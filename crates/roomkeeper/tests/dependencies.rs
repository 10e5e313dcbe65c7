//! The layers, as Cargo sees them (`cargo metadata`):
//! - the store's tests build the store and nothing of the application above it: its own
//!   dependencies and its tests' are the domain and `roomkeeper-testkit-db` only (which in
//!   turn knows only the store), so a quick `cargo test -p roomkeeper-store` stays quick;
//! - the web front end knows the core (`usecases`), the domain's types and the texts, never
//!   a part the core owns (the store, Jitsi, recordings, sign-in).

// A failed step should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

use std::collections::BTreeMap;

/// Every workspace crate's `roomkeeper*` dependencies (normal and dev), from
/// `cargo metadata`.
fn workspace_dependencies() -> BTreeMap<String, Vec<String>> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let output = std::process::Command::new(cargo)
        .args([
            "metadata",
            "--format-version",
            "1",
            "--no-deps",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("cargo metadata runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|package| {
            let mut ours: Vec<String> = package["dependencies"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|d| d["kind"].as_str() != Some("build"))
                .filter_map(|d| d["name"].as_str())
                .filter(|name| name.starts_with("roomkeeper"))
                .map(str::to_owned)
                .collect();
            ours.sort();
            ours.dedup();
            (package["name"].as_str().unwrap().to_owned(), ours)
        })
        .collect()
}

#[test]
fn the_store_and_its_tests_stand_on_the_domain_alone() {
    let crates = workspace_dependencies();
    assert_eq!(
        crates["roomkeeper-store"],
        ["roomkeeper-domain", "roomkeeper-testkit-db"]
    );
    assert_eq!(crates["roomkeeper-testkit-db"], ["roomkeeper-store"]);
}

#[test]
fn the_web_front_end_knows_only_the_core_the_domain_and_the_texts() {
    let crates = workspace_dependencies();
    // `texts`: the words pages show are the same the core's letters use.
    assert_eq!(
        crates["roomkeeper-web"],
        [
            "roomkeeper-domain",
            "roomkeeper-texts",
            "roomkeeper-usecases"
        ]
    );
}
