//! Hostile input, generated: room names and meeting links, name patterns, Range headers,
//! Jibri's `metadata.json`, the companion module's events and Prosody's error answers.
//! Whatever comes in: no panic, each input handled in bounded time, the whole process in
//! bounded memory, and what is accepted keeps its promises.
//!
//! The default suite runs proptest's 256 cases per property; the long run
//! (docs/FAULTS.md) many more:
//!
//!     PROPTEST_CASES=30000 cargo test -p roomkeeper --test hostile

// A failed step should stop the test right there, loudly.
#![allow(clippy::unwrap_used)]

use std::alloc::System;
use std::time::{Duration, Instant};

use cap::Cap;
use proptest::prelude::*;
use proptest::test_runner::TestRunner;
use roomkeeper_domain::{MeetingBase, Pattern, RoomName};
use tokio_xmpp::minidom::Element;

/// The whole test process may hold at most 512 MiB: an input that makes a parser
/// allocate without bound fails the run (inputs are at most a few hundred KiB, and
/// NFKC's worst expansion is 18 times).
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, 512 << 20);

/// Runs `work`, which must take well under a second (a debug build on a busy machine;
/// the real cost is microseconds).
fn bounded<T>(input_len: usize, work: impl FnOnce() -> T) -> T {
    let started = Instant::now();
    let result = work();
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(1),
        "{took:?} for {input_len} bytes"
    );
    result
}

fn bases() -> Vec<MeetingBase> {
    vec![
        MeetingBase::parse("https://meet.example.org").unwrap(),
        MeetingBase::parse("https://uni.example/jitsi").unwrap(),
    ]
}

/// Text that looks like what people paste, and text that does not: links with and
/// without tenants, percent escapes, compatibility characters NFKC expands (U+FDFA
/// becomes 18), combining marks, confusables, controls, path and XMPP characters.
fn typed() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        "[a-zA-Z0-9 ._~-]{0,12}",
        Just("%".to_owned()),
        "%[0-9a-fA-F]{2}",
        "%[0-9a-fA-F]{0,1}[g-z]?",
        prop::sample::select(vec![
            "/", "?", "#", "@", ":", "&", "'", "\"", "<", ">", "\\", "\u{FDFA}", "\u{0301}",
            "\u{212A}", "\u{FF21}", "\u{200B}", "\u{0130}", "ß", "ﬁ", "\u{0000}", "\n", "ä", "Ä",
            "😀", "[", "]", "..", "\u{202E}",
        ])
        .prop_map(str::to_owned),
        "\\PC{0,8}",
    ];
    let path = prop::collection::vec(piece, 0..12).prop_map(|p| p.concat());
    let prefix = prop::sample::select(vec![
        "",
        "https://meet.example.org/",
        "http://meet.example.org/",
        "meet.example.org/",
        "https://uni.example/jitsi/",
        "https://other.example/",
        "https://meet.example.org/tenant/",
        "HTTPS://MEET.EXAMPLE.ORG/",
    ]);
    prop_oneof![
        4 => (prefix, path).prop_map(|(prefix, path)| format!("{prefix}{path}")),
        1 => any::<String>(),
    ]
}

/// A name Jitsi addresses is made only of what an XMPP localpart and Jitsi's URL take.
fn addressable(name: &RoomName) -> bool {
    name.room()
        .chars()
        .chain(name.tenant().unwrap_or("").chars())
        .all(|c| !"\"&'/:<>@ \\".contains(c) && !c.is_uppercase() && !c.is_control())
}

proptest! {
    #[test]
    fn room_names_and_links_settle_at_once(input in typed()) {
        let bases = bases();
        let parsed = bounded(input.len(), || RoomName::parse(&input, &bases));
        if let Ok(name) = parsed {
            prop_assert!(addressable(&name), "{name:?} from {input:?}");
            // Idempotent: its own name, its display form and its link give it back.
            let again = RoomName::parse(&name.canonical(), &bases);
            prop_assert_eq!(again.as_ref(), Ok(&name));
            let shown = RoomName::parse(&name.display(), &bases);
            prop_assert_eq!(shown.as_ref(), Ok(&name));
            for base in &bases {
                let link = name.meeting_url(base);
                let linked = RoomName::parse(&link, &bases);
                prop_assert_eq!(linked.as_ref(), Ok(&name), "{}", link);
            }
            let stored = RoomName::from_canonical(&name.canonical());
            prop_assert_eq!(stored.as_ref(), Ok(&name));
        }
    }

    #[test]
    fn patterns_parse_match_and_overlap_in_bounded_time(
        pattern in prop_oneof![typed(), "[a-z*?-]{0,30}", "\\*{0,40}[a-z]{0,3}\\*{0,40}"],
        other in "[a-z*?-]{0,30}",
        room in typed(),
    ) {
        let bases = bases();
        let Ok(pattern) = bounded(pattern.len(), || Pattern::parse(&pattern)) else {
            return Ok(());
        };
        let again = Pattern::parse(pattern.as_str());
        prop_assert_eq!(again.as_ref(), Ok(&pattern));
        if let Ok(other) = Pattern::parse(&other) {
            let both = bounded(pattern.as_str().len() + other.as_str().len(), || {
                (pattern.overlaps(&other), other.overlaps(&pattern))
            });
            prop_assert_eq!(both.0, both.1, "overlap is symmetric");
        }
        if let Ok(room) = RoomName::parse(&room, &bases) {
            let matched = bounded(pattern.as_str().len() + room.canonical().len(), || {
                pattern.matches(&room)
            });
            // A pattern that matches a room overlaps the room's own name as a pattern.
            if let (true, Ok(exact)) = (matched, Pattern::parse(&room.canonical())) {
                prop_assert!(pattern.overlaps(&exact));
            }
        }
    }

    #[test]
    fn metadata_json_never_panics_and_names_only_addressable_rooms(
        text in prop_oneof![
            any::<String>(),
            (typed(), prop::collection::vec(any::<String>(), 0..5), any::<i64>()).prop_map(
                |(url, names, n)| serde_json::json!({
                    "meeting_url": url,
                    "participants": names.iter().map(|n| serde_json::json!({"name": n})).chain([
                        serde_json::json!(n), serde_json::json!(null), serde_json::json!([n]),
                    ]).collect::<Vec<_>>(),
                }).to_string()
            ),
            Just("{\"meeting_url\": ".repeat(64)),
            Just(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000))),
        ],
    ) {
        let bases = bases();
        let parsed = bounded(text.len(), || {
            roomkeeper_recordings::session::parse_metadata(&text, &bases)
        });
        if let Some(room) = parsed.ok().and_then(|metadata| metadata.room) {
            prop_assert!(addressable(&room));
        }
    }

    #[test]
    fn module_events_never_panic(event in module_event(), known in any::<bool>()) {
        let config = roomkeeper_testkit::jitsi::shard_at(5222, "main");
        let len = String::from(&event).len();
        let parsed = bounded(len, || roomkeeper_jitsi::parse_event(&event, &config));
        if let Some(parsed) = parsed {
            let mut meeting = if known {
                roomkeeper_jitsi::Meeting {
                    running: true,
                    ..roomkeeper_jitsi::Meeting::not_running()
                }
            } else {
                roomkeeper_jitsi::Meeting::not_running()
            };
            bounded(len, || roomkeeper_jitsi::apply(&mut meeting, &parsed));
            // What a page shows of it serialises (join times out of range included).
            serde_json::to_string(&meeting).unwrap();
        }
    }

    #[test]
    fn prosody_error_answers_become_short_messages(error in error_answer()) {
        let len = error.len();
        let explained = bounded(len, || {
            let element: Element = error.parse().ok()?;
            let stanza_error =
                tokio_xmpp::parsers::stanza_error::StanzaError::try_from(element).ok()?;
            Some(roomkeeper_jitsi::refusal(&stanza_error).to_string())
        });
        if let Some(message) = explained {
            // Shown to people on the room page: a sentence, not the answer echoed.
            prop_assert!(message.len() < 300, "{}", message);
        }
    }
}

/// The module's vocabulary (`prosody/mod_roomkeeper.lua`) with values of any kind.
fn module_event() -> impl Strategy<Value = Element> {
    let ns = prop::sample::select(vec!["urn:roomkeeper:prosody:1", "urn:other", ""]);
    let name = prop::sample::select(vec![
        "occupant",
        "left",
        "config",
        "code",
        "destroyed",
        "room",
        "x",
    ]);
    let room = prop_oneof![
        typed().prop_map(|r| format!("{r}@conference.meet.jitsi")),
        typed().prop_map(|r| format!("[{r}]x@conference.meet.jitsi")),
        typed().prop_map(|r| format!("x@conference.{r}.meet.jitsi")),
        typed(),
    ];
    let value = prop_oneof![
        typed(),
        Just("1".to_owned()),
        any::<i64>().prop_map(|n| n.to_string()),
        Just("moderator".to_owned()),
        Just("focus@auth.meet.jitsi/focus".to_owned()),
    ];
    let attrs = prop::collection::vec(
        (
            prop::sample::select(vec![
                "nick",
                "jid",
                "name",
                "role",
                "joined",
                "password",
                "members_only",
                "by",
                "service",
                "value",
            ]),
            value,
        ),
        0..10,
    );
    (ns, name, prop::option::of(room), attrs).prop_filter_map(
        "an attribute twice is not XML",
        |(ns, name, room, attrs)| {
            let attrs: String = room
                .map(|room| ("room", room))
                .into_iter()
                .chain(attrs)
                .map(|(key, value)| format!(" {key}='{}'", xml_escape(&value)))
                .collect();
            format!("<{name} xmlns='{ns}'{attrs}/>").parse().ok()
        },
    )
}

fn xml_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('\'', "&apos;")
        .replace('"', "&quot;")
}

/// An `<error/>` as Prosody (or anything on its port) might answer.
fn error_answer() -> impl Strategy<Value = String> {
    let kind = prop::sample::select(vec![
        "cancel", "auth", "modify", "wait", "continue", "", "x",
    ]);
    let condition = prop::sample::select(vec![
        "item-not-found",
        "forbidden",
        "not-allowed",
        "service-unavailable",
        "gone",
        "recipient-unavailable",
        "feature-not-implemented",
        "internal-server-error",
        "undefined-condition",
        "no-such-thing",
    ]);
    let text = prop_oneof![
        Just(String::new()),
        "[a-zA-Z <>&;]{0,40}",
        Just("A".repeat(100_000)),
    ];
    (kind, condition, text).prop_map(|(kind, condition, text)| {
        let text = xml_escape(&text);
        format!(
            "<error xmlns='jabber:client' type='{kind}'>\
             <{condition} xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'/>\
             <text xmlns='urn:ietf:params:xml:ns:xmpp-stanzas'>{text}</text></error>"
        )
    })
}

/// Any `Range` header, against a real recording served by the whole app: 200, 206 with
/// exactly the bytes asked for, or 416; never an error of ours, never slow.
#[test]
fn range_headers_get_the_right_bytes_or_a_clear_no() {
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let (app, owner, url, content) = runtime.block_on(recording_served());
    let mut runner = TestRunner::default();
    let header = prop_oneof![
        (any::<u32>(), any::<u32>()).prop_map(|(a, b)| format!("bytes={a}-{b}")),
        (0u64..40_000, 0u64..40_000).prop_map(|(a, b)| format!("bytes={a}-{b}")),
        (0u64..40_000).prop_map(|a| format!("bytes={a}-")),
        (0u64..40_000).prop_map(|n| format!("bytes=-{n}")),
        prop::collection::vec((0u64..40_000, 0u64..40_000), 1..50).prop_map(|ranges| {
            let list: Vec<String> = ranges.iter().map(|(a, b)| format!("{a}-{b}")).collect();
            format!("bytes={}", list.join(","))
        }),
        Just(format!("bytes={}", vec!["0-0"; 2000].join(","))),
        Just("bytes=99999999999999999999999-".to_owned()),
        "[ -~]{0,60}",
    ];
    runner
        .run(&header, |header| {
            let answer = runtime.block_on(async {
                let started = Instant::now();
                let answer = owner
                    .get(&url)
                    .header("range", &header)
                    .send()
                    .await
                    .unwrap();
                let status = answer.status();
                let single = answer
                    .headers()
                    .get("content-range")
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                let body = answer.bytes().await.unwrap();
                assert!(started.elapsed() < Duration::from_secs(2), "{header}");
                (status, single, body)
            });
            let (status, content_range, body) = answer;
            match status.as_u16() {
                200 => prop_assert_eq!(&body[..], &content[..]),
                206 => {
                    if let Some(range) = content_range {
                        // bytes FIRST-LAST/TOTAL
                        let (span, total) = range
                            .strip_prefix("bytes ")
                            .unwrap()
                            .split_once('/')
                            .unwrap();
                        prop_assert_eq!(total.parse::<usize>().unwrap(), content.len());
                        let (first, last) = span.split_once('-').unwrap();
                        let (first, last): (usize, usize) =
                            (first.parse().unwrap(), last.parse().unwrap());
                        prop_assert_eq!(&body[..], &content[first..=last]);
                    }
                }
                416 => {}
                other => prop_assert!(false, "{} for {:?}", other, header),
            }
            Ok(())
        })
        .unwrap();
    runtime.block_on(app.stop()).unwrap();
}

/// A real recording of a registered room, its owner's client and its content URL.
async fn recording_served() -> (
    roomkeeper_testkit::TestApp,
    reqwest::Client,
    String,
    Vec<u8>,
) {
    let database = std::sync::Arc::new(
        roomkeeper_testkit::TestDatabase::new(roomkeeper_testkit::Backend::Sqlite)
            .await
            .unwrap(),
    );
    let mut config = database.config();
    config.rooms.meeting_urls = vec!["https://meet.test".into()];
    let app = roomkeeper_testkit::TestApp::spawn_with(database, config, Default::default())
        .await
        .unwrap();
    app.passwordless_user("lecturer", false).await.unwrap();
    app.registered_room("logic", "lecturer", &[]).await.unwrap();
    let jibri = tempfile::tempdir().unwrap();
    let started = roomkeeper_testkit::jibri::an_hour_before(app.clock().now());
    let session = roomkeeper_testkit::jibri::record(
        jibri.path(),
        "session",
        "logic",
        "https://meet.test/logic",
        started,
        &[2],
    )
    .unwrap();
    let content = std::fs::read(&session.videos[0]).unwrap();
    let stored = app
        .state
        .usecases
        .recordings
        .ingest_dir(&session.dir, false)
        .await
        .unwrap();
    let owner = app.client_as("lecturer").await.unwrap();
    let url = app.url(&format!("/api/v1/recordings/{}/content", stored[0].id));
    (app, owner, url, content)
}
