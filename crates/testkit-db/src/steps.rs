//! Named steps for a long test: a story of many steps reads as its list of steps, and a
//! failure says which step it happened in, not only which line.
//!
//! ```
//! let mut steps = roomkeeper_testkit_db::Steps::new();
//! steps.begin("the lecturer asks for the room");
//! // …
//! steps.begin("an admin approves it");
//! // …
//! ```
//!
//! Each step is printed as it begins (the harness shows that output only for a failed
//! test), and a panic inside a step ends with `failed in step N: NAME`.

/// The step a long test is in; see the module's documentation.
#[derive(Debug, Default)]
pub struct Steps {
    number: usize,
    current: Option<String>,
}

impl Steps {
    pub fn new() -> Self {
        Self::default()
    }

    /// Ends the step before (it passed) and begins the one named.
    pub fn begin(&mut self, name: impl Into<String>) {
        let name = name.into();
        self.number += 1;
        eprintln!("step {}: {name}", self.number);
        self.current = Some(name);
    }

    /// The step being run, for a test's own messages.
    pub fn current(&self) -> Option<(usize, &str)> {
        self.current.as_deref().map(|name| (self.number, name))
    }
}

impl Steps {
    /// What the test prints when it fails inside a step: nothing while no panic unwinds.
    pub fn failure(&self) -> Option<String> {
        let (number, name) = self.current()?;
        std::thread::panicking().then(|| format!("failed in step {number}: {name}"))
    }
}

impl Drop for Steps {
    fn drop(&mut self) {
        // A test's locals (an async test's too: the future is dropped as its runtime's
        // frame unwinds) are dropped while the panic unwinds.
        if let Some(failure) = self.failure() {
            eprintln!("{failure}");
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::Steps;

    /// Reads the steps' report as the panic unwinds, as `Steps`' own drop does.
    struct Probe<'a>(&'a Steps, &'a Mutex<Option<String>>);

    impl Drop for Probe<'_> {
        fn drop(&mut self) {
            *self.1.lock().unwrap() = self.0.failure();
        }
    }

    #[test]
    fn a_failure_names_the_step_it_happened_in() {
        let report = Mutex::new(None);
        let mut steps = Steps::new();
        steps.begin("the lecturer asks");
        assert_eq!(steps.failure(), None, "nothing has failed");
        steps.begin("an admin approves");
        let failed = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            let _probe = Probe(&steps, &report);
            panic!("the approval is refused");
        }));
        assert!(failed.is_err());
        assert_eq!(
            report.lock().unwrap().as_deref(),
            Some("failed in step 2: an admin approves")
        );
    }
}
