//! The function with everything it talks to, all on loopback: the built binary under the
//! Runtime API emulator, its secret (and state table) in moto behind its fault proxy, Alexa
//! played by the alexa-sandbox, (and) the weather feed serving a fixture. Used by the sending,
//! polling, fault, load and security suites and the send benchmark, each shaping it with
//! [`Rig::builder`]:
//!
//! | option | default |
//! |---|---|
//! | [`RigBuilder::without_state_table`] | the state table [`TABLE`] in moto, `STATE_TABLE` set |
//! | [`RigBuilder::feed`], [`RigBuilder::without_feed`] | the feed serves `poll-1.json`, `WEATHER_FEED_URL` set |
//! | [`RigBuilder::regions`] | `ALEXA_REGIONS=NA,EU` |
//! | [`RigBuilder::env`], [`RigBuilder::envs`] | `RUST_LOG=debug`; later entries win, `None` removes |
//! | [`RigBuilder::quiet`] | logs in the project's scratch directory, named after the rig |
//!
//! The credentials secret [`SECRET_NAME`] (the sandbox's client) is always in moto.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::{json, Value};

use crate::feed::FeedServer;
use crate::moto::Moto;
use crate::runtime_api::{Function, Outcome, RuntimeApi};
use crate::sandbox::{self, Sandbox};
use crate::Project;

pub const SKILL_ID: &str = "amzn1.ask.skill.11111111-2222-3333-4444-555555555555";
pub const SECRET_NAME: &str = "alexa/test-credentials";
pub const TABLE: &str = "alexa-proactive-state";
pub const REGIONS: [&str; 2] = ["EU", "NA"];
/// The deadline [`Rig::answer`] gives an invocation, and how long it waits for the answer.
pub const WAIT: Duration = Duration::from_secs(20);
/// How much longer than its deadline [`Rig::invoke`] waits before calling an invocation
/// unanswered (Lambda would have killed the function).
const GRACE: Duration = Duration::from_secs(5);

/// The credentials secret's value with this client secret (and the sandbox's client id).
pub fn secret_json(client_secret: &str) -> String {
    json!({"clientId": sandbox::CLIENT_ID, "clientSecret": client_secret}).to_string()
}

/// What [`Rig::builder`] starts; see the table in the module's documentation.
#[must_use = "a rig starts with .start().await"]
pub struct RigBuilder {
    project: Project,
    name: String,
    state_table: bool,
    feed: Option<PathBuf>,
    regions: String,
    quiet: bool,
    env: Vec<(String, Option<String>)>,
}

impl RigBuilder {
    /// No state table in moto, and `STATE_TABLE` removed from the function's environment.
    pub fn without_state_table(mut self) -> Self {
        self.state_table = false;
        self
    }

    /// The feed serves this fixture of `tests/fixtures/nws/` at first.
    pub fn feed(mut self, fixture: &str) -> Self {
        self.feed = Some(self.project.fixture(fixture));
        self
    }

    /// No feed server, and `WEATHER_FEED_URL` removed from the function's environment.
    pub fn without_feed(mut self) -> Self {
        self.feed = None;
        self
    }

    /// `ALEXA_REGIONS`, such as `NA` or `NA,EU`.
    pub fn regions(mut self, regions: &str) -> Self {
        regions.clone_into(&mut self.regions);
        self
    }

    /// Sets (`None`: removes) a variable of the function's environment, over the defaults.
    pub fn env(mut self, name: &str, value: Option<&str>) -> Self {
        self.env.push((name.to_owned(), value.map(str::to_owned)));
        self
    }

    /// [`RigBuilder::env`] for each entry, in order.
    pub fn envs(self, env: &[(&str, Option<&str>)]) -> Self {
        env.iter()
            .fold(self, |rig, (name, value)| rig.env(name, *value))
    }

    /// No log files: the sandbox runs with `--quiet`, the function's output is discarded.
    pub fn quiet(mut self) -> Self {
        self.quiet = true;
        self
    }

    pub async fn start(self) -> Rig {
        let project = self.project;
        let moto = Moto::start(&project.moto_server()).await;
        moto.create_secret(SECRET_NAME, &secret_json(sandbox::CLIENT_SECRET))
            .await;
        if self.state_table {
            moto.create_state_table(TABLE).await;
        }
        let sandbox_log =
            (!self.quiet).then(|| project.tmp_file(&format!("{}-sandbox.log", self.name)));
        let sandbox = Sandbox::start(&project.sandbox, sandbox_log.as_deref()).await;
        let feed = match &self.feed {
            Some(fixture) => Some(FeedServer::start(fixture).await),
            None => None,
        };
        let mut env: Vec<(String, Option<String>)> = sandbox
            .function_env(SKILL_ID, SECRET_NAME, moto.endpoint())
            .into_iter()
            .chain([
                ("STATE_TABLE", self.state_table.then_some(TABLE)),
                ("WEATHER_FEED_URL", feed.as_ref().map(FeedServer::url)),
                ("ALEXA_REGIONS", Some(self.regions.as_str())),
                // The suites written before targeting by place poll as a Multicast; the
                // fan-out suite sets `located` and a queue.
                ("WEATHER_AUDIENCE", Some("everyone")),
                ("RUST_LOG", Some("debug")),
            ])
            .map(|(name, value)| (name.to_owned(), value.map(str::to_owned)))
            .collect();
        // Later entries win: the suite's own settings override the defaults above.
        env.extend(self.env);
        let mut rig = Rig {
            project,
            moto,
            sandbox,
            api: RuntimeApi::start().await.expect("runtime API"),
            functions: Vec::new(),
            said: Vec::new(),
            feed,
            name: self.name,
            env,
            logs: Vec::new(),
            quiet: self.quiet,
        };
        rig.spawn();
        rig
    }
}

pub struct Rig {
    pub project: Project,
    pub moto: Moto,
    pub sandbox: Sandbox,
    pub api: RuntimeApi,
    /// The function processes serving `api`: the one the rig started, and any from
    /// [`Rig::spawn`].
    pub functions: Vec<Function>,
    /// Every answer and error the function gave, for the never-leaks check.
    pub said: Vec<String>,
    feed: Option<FeedServer>,
    name: String,
    env: Vec<(String, Option<String>)>,
    /// Every function's log, stopped ones included.
    logs: Vec<PathBuf>,
    quiet: bool,
}

impl Rig {
    /// A rig named `name` (its log files start so) for `project` (use [`crate::project!`]).
    pub fn builder(project: Project, name: &str) -> RigBuilder {
        let poll_1 = project.fixture("poll-1.json");
        RigBuilder {
            project,
            name: name.to_owned(),
            state_table: true,
            feed: Some(poll_1),
            regions: "NA,EU".to_owned(),
            quiet: false,
            env: Vec::new(),
        }
    }

    /// Starts one more function process on the same Runtime API (a new, cold sandbox).
    pub fn spawn(&mut self) {
        let env: Vec<(&str, Option<&str>)> = self
            .env
            .iter()
            .map(|(name, value)| (name.as_str(), value.as_deref()))
            .collect();
        let log = match (self.quiet, self.logs.len()) {
            (true, _) => None,
            (false, 0) => Some(
                self.project
                    .tmp_file(&format!("{}-function.log", self.name)),
            ),
            (false, n) => Some(
                self.project
                    .tmp_file(&format!("{}-function-{n}.log", self.name)),
            ),
        };
        let function = Function::spawn(&self.project.function, &self.api, &env, log.as_deref())
            .expect("the function starts");
        self.logs.extend(log);
        self.functions.push(function);
    }

    /// The feed server (panics if the rig was built without one).
    pub fn feed(&self) -> &FeedServer {
        self.feed
            .as_ref()
            .expect("a feed: this rig was built without_feed()")
    }

    /// The first function's log.
    pub fn log(&self) -> &Path {
        self.logs
            .first()
            .map_or(Path::new("(none)"), PathBuf::as_path)
    }

    /// Invokes with a deadline `budget` from now; `None` when no answer came within 5 s more
    /// (Lambda would have killed the function).
    pub async fn invoke(&mut self, payload: &Value, budget: Duration) -> Option<Outcome> {
        self.outcome(payload, budget, budget + GRACE).await
    }

    /// Invokes with the deadline [`WAIT`] and expects an answer by then.
    pub async fn answer(&mut self, payload: &Value) -> Outcome {
        self.answer_within(payload, WAIT).await
    }

    /// Invokes with this deadline and expects an answer by then.
    pub async fn answer_within(&mut self, payload: &Value, timeout: Duration) -> Outcome {
        self.outcome(payload, timeout, timeout)
            .await
            .expect("the function answers")
    }

    /// Invokes and expects success: the answer.
    pub async fn ok(&mut self, payload: &Value) -> Value {
        match self.answer(payload).await {
            Outcome::Response(answer) => answer,
            other => panic!(
                "expected an answer, got {other:?}; log: {}",
                self.log().display()
            ),
        }
    }

    /// Invokes and expects delivery: the `results` array.
    pub async fn send(&mut self, payload: &Value) -> Vec<Value> {
        let answer = self.ok(payload).await;
        answer["results"]
            .as_array()
            .cloned()
            .unwrap_or_else(|| panic!("no results in {answer}"))
    }

    /// Invokes and expects a failed invocation: (errorType, errorMessage).
    pub async fn fail(&mut self, payload: &Value) -> (String, String) {
        match self.answer(payload).await {
            Outcome::Error {
                error_type,
                error_message,
            } => (error_type, error_message),
            other => panic!("expected a failed invocation, got {other:?}"),
        }
    }

    async fn outcome(
        &mut self,
        payload: &Value,
        deadline: Duration,
        wait: Duration,
    ) -> Option<Outcome> {
        let answer = self.api.enqueue(payload, deadline);
        let outcome = tokio::time::timeout(wait, answer)
            .await
            .ok()
            .and_then(Result::ok);
        match &outcome {
            Some(Outcome::Response(answer)) => self.said.push(answer.to_string()),
            Some(Outcome::Error {
                error_type,
                error_message,
            }) => self.said.push(format!("{error_type}: {error_message}")),
            None => {}
        }
        outcome
    }

    /// Per (region, referenceId, audience): how many times Alexa accepted it.
    pub async fn deliveries(&self) -> HashMap<(String, String, String), u32> {
        let state = self.sandbox.state().await;
        let mut counts = HashMap::new();
        for accepted in state["accepted"].as_array().into_iter().flatten() {
            let key = (
                accepted["region"].as_str().unwrap_or("-").to_owned(),
                accepted["referenceId"].as_str().unwrap_or("-").to_owned(),
                accepted["audience"].as_str().unwrap_or("-").to_owned(),
            );
            *counts.entry(key).or_default() += 1;
        }
        counts
    }

    /// Repeats accepted while the sandbox's duplicate detection was off: notifications a user
    /// would have heard twice.
    pub async fn repeats(&self) -> u64 {
        self.sandbox.state().await["repeats"].as_u64().unwrap_or(0)
    }

    /// Re-sends Alexa refused as already accepted (409): harmless, but counted.
    pub async fn refused_repeats(&self) -> u64 {
        self.sandbox.state().await["duplicates"]
            .as_u64()
            .unwrap_or(0)
    }

    /// How many event requests reached Alexa, accepted or not.
    pub async fn event_requests(&self) -> u64 {
        self.sandbox.state().await["eventRequests"]
            .as_u64()
            .expect("eventRequests")
    }

    /// What Alexa said (en-US), sorted: concurrent sends arrive in any order.
    pub async fn spoken(&self) -> Vec<String> {
        let state = self.sandbox.state().await;
        let mut spoken = state["accepted"]
            .as_array()
            .expect("accepted")
            .iter()
            .map(|a| {
                a["spoken"]
                    .as_array()
                    .and_then(|s| s.iter().find(|s| s["locale"] == "en-US"))
                    .and_then(|s| s["text"].as_str())
                    .unwrap_or("-")
                    .to_owned()
            })
            .collect::<Vec<_>>();
        spoken.sort();
        spoken
    }

    /// Lines of the functions' logs and everything they answered that contain a client
    /// secret or an access token (the sandbox's tokens all start with `Atza|`).
    pub fn leaks(&self, secrets: &[&str]) -> Vec<String> {
        self.logs
            .iter()
            .flat_map(|log| {
                let text = std::fs::read_to_string(log).unwrap_or_default();
                text.lines().map(str::to_owned).collect::<Vec<_>>()
            })
            .chain(self.said.iter().cloned())
            .filter(|text| {
                text.contains("Atza|")
                    || secrets
                        .iter()
                        .chain([&sandbox::CLIENT_SECRET])
                        .any(|s| text.contains(s))
            })
            .collect()
    }

    /// Whether every function process is still running.
    pub fn alive(&mut self) -> bool {
        self.functions.iter_mut().all(|f| f.exited().is_none())
    }

    /// Resident memory of the (first) function process, from /proc (KiB).
    pub fn rss_kib(&self) -> Option<u64> {
        let pid = self.functions.first()?.pid()?;
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
    }

    /// Asserts that every function is still running, then stops everything.
    pub async fn finish(mut self) {
        self.assert_alive();
        self.stop().await;
    }

    /// [`Rig::finish`], and that the functions logged and that neither these secrets nor the
    /// sandbox's client secret nor an access token shows up in their logs or answers.
    pub async fn finish_clean(mut self, secrets: &[&str]) {
        self.assert_alive();
        for function in self.functions.drain(..) {
            function.stop().await;
        }
        for log in &self.logs {
            let text = std::fs::read_to_string(log).unwrap_or_default();
            assert!(
                !text.is_empty(),
                "the function logged nothing: {}",
                log.display()
            );
        }
        let leaks = self.leaks(secrets);
        assert!(leaks.is_empty(), "a secret or token leaked: {leaks:?}");
        self.stop().await;
    }

    fn assert_alive(&mut self) {
        for (i, function) in self.functions.iter_mut().enumerate() {
            assert!(
                function.exited().is_none(),
                "function {i} died; log: {}",
                function.log().unwrap_or(Path::new("(none)")).display()
            );
        }
    }

    /// Stops every process and server it started.
    pub async fn stop(self) {
        for function in self.functions {
            function.stop().await;
        }
        if let Some(feed) = self.feed {
            feed.stop();
        }
        self.sandbox.stop().await;
        self.moto.stop().await;
    }
}
