//! What refusing bad input costs: a 900 KB room name of U+FDFA (which NFKC blows up
//! eighteen-fold) and a pattern of the same, refused before any normalising. Before the
//! byte bound, the name alone took about 0.35 s of CPU per request.
//!
//!     cargo run --release -p roomkeeper-bench --bin bad_input

use std::time::{Duration, Instant};

use roomkeeper_bench::summary;
use roomkeeper_domain::{Pattern, RoomName};

fn main() {
    let huge = "\u{FDFA}".repeat(300_000);
    let time = |f: &dyn Fn() -> bool| {
        let mut samples: Vec<Duration> = (0..200)
            .map(|_| {
                let started = Instant::now();
                assert!(f(), "the input must be refused");
                started.elapsed()
            })
            .collect();
        summary(&mut samples)
    };
    println!(
        "room name, {} bytes: {}",
        huge.len(),
        time(&|| RoomName::parse(&huge, &[]).is_err())
    );
    println!(
        "pattern, {} bytes:   {}",
        huge.len(),
        time(&|| Pattern::parse(&huge).is_err())
    );
}
