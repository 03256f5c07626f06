//! Test support for alexa-proactive, shared by its tests, benchmarks and the `make run` driver
//! (`examples/local`). Everything runs on loopback, every wait is bounded and every process
//! started here is stopped (or killed when dropped).
//!
//! - [`moto`]: a moto server (Secrets Manager, DynamoDB) behind a proxy that counts calls and
//!   injects AWS faults.
//! - [`runtime_api`]: a Lambda Runtime API emulator and the function process it drives.
//! - [`sandbox`]: the `alexa-sandbox` binary (a local Alexa) and its control API.
//! - [`sqs`]: SQS queues in moto, Lambda's event source mapping played, users seeded.
//! - [`feed`]: a local NWS alerts feed serving fixture files.
//! - [`national`]: a generated national NWS feed (hundreds of alerts, several MB).
//! - [`rig`]: all of them together around the function, built with [`Rig::builder`].
//! - [`events`]: the trigger payloads the suites send.
//! - [`tripwire`]: a loopback endpoint that counts who reaches it.
//! - [`stats`]: figures and settings for the benchmarks.
//!
//! This crate cannot see the root package's build: where its binaries are, its temporary
//! directory, its folder. [`project!`] expands at the call site (a test, a bench, an example)
//! and hands them over as a [`Project`].

pub mod chart;
pub mod europe;
pub mod events;
pub mod feed;
pub mod moto;
pub mod national;
pub mod rig;
pub mod runtime_api;
pub mod sandbox;
pub mod sqs;
pub mod stats;
pub mod tripwire;

use std::path::PathBuf;

pub use rig::{Rig, RigBuilder};

/// Where the root package's pieces are: its folder, its two binaries, a scratch directory.
#[derive(Debug, Clone)]
pub struct Project {
    /// The package folder (`CARGO_MANIFEST_DIR`): `events/`, `tests/fixtures/`, `.venv/`.
    pub root: PathBuf,
    /// The `alexa-proactive` binary.
    pub function: PathBuf,
    /// The `alexa-sandbox` binary (built with the `sandbox` feature).
    pub sandbox: PathBuf,
    /// For logs (`CARGO_TARGET_TMPDIR`).
    pub tmp: PathBuf,
}

/// The [`Project`] of the crate this expands in. Tests and benches are told where the
/// binaries and the scratch directory are; examples are not, and find them beside themselves
/// in the profile directory.
#[macro_export]
macro_rules! project {
    () => {
        $crate::Project::new(
            env!("CARGO_MANIFEST_DIR"),
            option_env!("CARGO_BIN_EXE_alexa-proactive"),
            option_env!("CARGO_BIN_EXE_alexa-sandbox"),
            option_env!("CARGO_TARGET_TMPDIR"),
        )
    };
}

impl Project {
    /// The `Default:` of the SAM template's parameter `name` (such as `FanoutBatchSize`), so a
    /// benchmark runs with what a deployment gets.
    pub fn template_default<T: std::str::FromStr>(&self, name: &str) -> Option<T> {
        let template = std::fs::read_to_string(self.root.join("template.yaml")).ok()?;
        let mut lines = template.lines();
        lines.find(|l| l.trim() == format!("{name}:"))?;
        lines
            .take(4)
            .find_map(|l| l.trim().strip_prefix("Default:"))
            .and_then(|v| v.trim().parse().ok())
    }

    /// Use [`project!`]; a `None` is found from the running executable
    /// (`target/<profile>/deps/x` or `target/<profile>/examples/x`).
    pub fn new(
        root: &str,
        function: Option<&str>,
        sandbox: Option<&str>,
        tmp: Option<&str>,
    ) -> Project {
        let profile_dir = runtime_api::profile_dir();
        let or_beside = |given: Option<&str>, name: &str| {
            given.map_or_else(|| profile_dir.join(name), PathBuf::from)
        };
        Project {
            root: PathBuf::from(root),
            function: or_beside(function, "alexa-proactive"),
            sandbox: or_beside(sandbox, "alexa-sandbox"),
            tmp: tmp.map_or_else(
                || profile_dir.parent().unwrap_or(&profile_dir).join("tmp"),
                PathBuf::from,
            ),
        }
    }

    /// A sample from `events/`, parsed.
    pub fn event(&self, name: &str) -> serde_json::Value {
        let path = self.root.join("events").join(name);
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("sample {}: {e}", path.display()));
        serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("sample {} is not JSON: {e}", path.display()))
    }

    /// Every `.json` file in `events/`, sorted by name.
    pub fn event_files(&self) -> Vec<PathBuf> {
        let mut files: Vec<PathBuf> = std::fs::read_dir(self.root.join("events"))
            .map(|d| d.filter_map(|e| e.ok().map(|e| e.path())).collect())
            .unwrap_or_default();
        files.retain(|p| p.extension().is_some_and(|e| e == "json"));
        files.sort();
        files
    }

    /// Every sample of `events/` with its file name, sorted by name.
    pub fn samples(&self) -> Vec<(String, serde_json::Value)> {
        self.event_files()
            .iter()
            .map(|path| {
                let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
                let name = name.unwrap_or_default();
                let sample = self.event(&name);
                (name, sample)
            })
            .collect()
    }

    /// A weather feed fixture in `tests/fixtures/nws/`.
    pub fn fixture(&self, name: &str) -> PathBuf {
        self.root.join("tests/fixtures/nws").join(name)
    }

    /// A file in the scratch directory (created if needed).
    pub fn tmp_file(&self, name: &str) -> PathBuf {
        let _ = std::fs::create_dir_all(&self.tmp);
        self.tmp.join(name)
    }

    /// Where moto_server is: `MOTO_SERVER`, else the project's venv (`make test` installs
    /// it). Never skipped: a missing moto fails the test with what to do.
    pub fn moto_server(&self) -> PathBuf {
        if let Some(path) = std::env::var_os("MOTO_SERVER") {
            return PathBuf::from(path);
        }
        let venv = self.root.join(".venv/bin/moto_server");
        assert!(
            venv.exists(),
            "moto_server not found at {}: run `make test` (it installs moto into .venv) or set MOTO_SERVER",
            venv.display()
        );
        venv
    }
}

/// An HTTP client for the suites (loopback, plain HTTP). The crate's reqwest is built without a
/// crypto provider of its own (the function installs ring, as here), so a client is built only
/// after one is installed; installing it again is harmless.
pub fn http_client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}
