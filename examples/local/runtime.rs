//! Where `make run` runs the function: under `cargo lambda watch` (make's default: the
//! ecosystem's local Lambda, rebuilding on change) or under the project's own Runtime API
//! emulator (`LOCAL_RUNTIME=emulator`: no extra tool, the same harness the tests use).

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use serde_json::Value;
use tokio::process::{Child, Command};

use testkit::runtime_api::{Function, Outcome, RuntimeApi};

/// How long an invocation may take; the first one under cargo lambda waits for its build.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(30);
const FIRST_BUILD: Duration = Duration::from_secs(900);
/// How often the function's state is checked while an invocation waits.
const LOG_POLL: Duration = Duration::from_millis(250);
/// What cargo-lambda logs when the function's process ends with a failure (it did not build,
/// or it exited at start-up), is killed, or ends otherwise. It then holds the invocation until
/// the function comes back, which it does only after a change to the sources, so waiting on
/// would only end in the timeout.
const FUNCTION_ENDED: [&str; 4] = [
    "command exited",
    "command killed",
    "command stopped",
    "command ended by exception",
];
/// While the first sample waits for cargo lambda's build, how often the log's last line is
/// shown, so that a long build (or one waiting for a lock) is seen to be one.
const PROGRESS_EVERY: Duration = Duration::from_secs(30);
/// Lines of cargo lambda's log shown when the function does not answer.
const LOG_TAIL: usize = 20;

/// Why an invocation gave no outcome.
#[derive(Debug)]
pub struct InvokeError {
    pub message: String,
    /// The function is gone or does not answer: the other samples would only wait for their
    /// timeouts and say the same.
    pub function_gone: bool,
}

impl InvokeError {
    fn gone(message: String) -> Self {
        InvokeError {
            message,
            function_gone: true,
        }
    }
}

impl std::fmt::Display for InvokeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

pub enum Runtime {
    Emulator {
        api: RuntimeApi,
        function: Function,
    },
    CargoLambda {
        child: Child,
        invoke_url: String,
        http: reqwest::Client,
        log: PathBuf,
    },
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or(9000)
}

impl Runtime {
    /// The built binary under the project's Runtime API emulator.
    pub async fn emulator(
        binary: &Path,
        env: &[(&str, Option<&str>)],
        log: &Path,
    ) -> Result<Runtime, String> {
        if !binary.exists() {
            return Err(format!(
                "{} is missing: build it with `cargo build` (make run does)",
                binary.display()
            ));
        }
        let api = RuntimeApi::start()
            .await
            .map_err(|e| format!("cannot start the local Runtime API: {e}"))?;
        let function = Function::spawn(binary, &api, env, Some(log))
            .map_err(|e| format!("cannot start {}: {e}", binary.display()))?;
        Ok(Runtime::Emulator { api, function })
    }

    /// `cargo lambda watch` in its own process group (so that stopping it stops the cargo
    /// and function processes it started), with the environment in an env file.
    pub async fn cargo_lambda(
        env: &[(&str, Option<&str>)],
        env_file: &Path,
        log: &Path,
    ) -> Result<Runtime, String> {
        // Single quotes: taken literally (no `${...}` expansion of `{region}`).
        let lines: String = env
            .iter()
            .filter_map(|(k, v)| v.map(|v| format!("{k}='{v}'\n")))
            .collect();
        std::fs::write(env_file, lines)
            .map_err(|e| format!("cannot write {}: {e}", env_file.display()))?;
        let port = free_port();
        let out = std::fs::File::create(log).map_err(|e| format!("{}: {e}", log.display()))?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        // cargo-lambda itself, not `cargo lambda`: then the child is the process whose
        // function instances stop() waits for.
        let mut command = Command::new("cargo-lambda");
        command
            .args([
                "lambda",
                "watch",
                "--bin",
                "alexa-proactive",
                "--all-features",
            ])
            .args([
                "--invoke-address",
                "127.0.0.1",
                "--invoke-port",
                &port.to_string(),
            ])
            .arg("--env-file")
            .arg(env_file)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0)
            .kill_on_drop(true);
        // The variables cargo set for this example (its package, its profile) would leak into
        // the watched build; where cargo keeps things and how it builds stay.
        const KEPT: [&str; 3] = ["CARGO_HOME", "CARGO_TARGET_DIR", "CARGO_INCREMENTAL"];
        for (k, _) in std::env::vars() {
            if k.starts_with("CARGO_") && !KEPT.contains(&k.as_str()) {
                command.env_remove(k);
            }
        }
        let child = command.spawn().map_err(|e| {
            format!("cannot start `cargo lambda watch` ({e}): `make run` installs it into .venv; `make run LOCAL_RUNTIME=emulator` runs without it")
        })?;
        let runtime = Runtime::CargoLambda {
            child,
            invoke_url: format!(
                "http://127.0.0.1:{port}/2015-03-31/functions/alexa-proactive/invocations"
            ),
            http: testkit::http_client(),
            log: log.to_path_buf(),
        };
        // Up when it accepts connections; the first invocation then waits for the build.
        for _ in 0..600 {
            if tokio::net::TcpStream::connect(("127.0.0.1", port))
                .await
                .is_ok()
            {
                return Ok(runtime);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        runtime.stop().await;
        Err(format!(
            "cargo lambda watch did not listen on 127.0.0.1:{port} within 60 s; see {}",
            log.display()
        ))
    }

    pub fn describe(&self) -> String {
        match self {
            Runtime::Emulator { api, .. } => {
                format!("the project's Runtime API emulator ({})", api.address())
            }
            Runtime::CargoLambda { invoke_url, .. } => format!(
                "cargo lambda watch ({invoke_url}; it builds the function when the first sample arrives)"
            ),
        }
    }

    pub async fn invoke(&self, payload: &Value, first: bool) -> Result<Outcome, InvokeError> {
        match self {
            Runtime::Emulator { api, function } => {
                let pid = function.pid();
                let log = function.log().map(Path::to_path_buf);
                let stopped = || pid.is_some_and(process_ended);
                let answer = unless(api.invoke(payload, INVOKE_TIMEOUT), stopped, || {}).await;
                let tail = || log.as_deref().map(log_tail).unwrap_or_default();
                match answer {
                    Some(Ok(outcome)) => Ok(outcome),
                    Some(Err(e)) => Err(InvokeError::gone(format!("{e}{}", tail()))),
                    None => Err(InvokeError::gone(format!(
                        "the function stopped before it answered (it exited at start-up, or crashed){}",
                        tail()
                    ))),
                }
            }
            Runtime::CargoLambda {
                invoke_url,
                http,
                log,
                ..
            } => {
                let timeout = if first { FIRST_BUILD } else { INVOKE_TIMEOUT };
                let seen = log_len(log);
                let request = http.post(invoke_url).json(payload).timeout(timeout).send();
                let waiting_since = std::time::Instant::now();
                let shown = std::cell::Cell::new(0u64);
                let progress = || {
                    let due = waiting_since.elapsed().as_secs() / PROGRESS_EVERY.as_secs();
                    if first && due > shown.get() {
                        shown.set(due);
                        if let Some(line) = last_line(log) {
                            println!("  (waiting for cargo lambda watch: {line})");
                        }
                    }
                };
                let ended = || logged_since(log, seen, &FUNCTION_ENDED);
                let response = unless(request, ended, progress)
                    .await
                    .ok_or_else(|| {
                        InvokeError::gone(format!(
                            "the function stopped before it answered (it did not build, or it exited at start-up){}",
                            log_tail(log)
                        ))
                    })?
                    .map_err(|e| {
                        InvokeError::gone(format!(
                            "cargo lambda watch did not answer: {e}{}",
                            log_tail(log)
                        ))
                    })?;
                let ok = response.status().is_success();
                let body: Value = response.json().await.map_err(|e| InvokeError {
                    message: format!("cargo lambda watch answered something not JSON: {e}"),
                    function_gone: false,
                })?;
                if ok {
                    return Ok(Outcome::Response(body));
                }
                Ok(Outcome::Error {
                    error_type: body["errorType"].as_str().unwrap_or("?").to_owned(),
                    error_message: body["errorMessage"].as_str().unwrap_or_default().to_owned(),
                })
            }
        }
    }

    pub async fn stop(self) {
        match self {
            Runtime::Emulator { function, .. } => function.stop().await,
            Runtime::CargoLambda { mut child, .. } => {
                if let Some(pid) = child.id().and_then(|p| i32::try_from(p).ok()) {
                    // SIGINT first: cargo-lambda then kills the function instances it
                    // started, each in a session of its own that a signal to its group would
                    // miss. It lingers for about 18 s after that, so its group gets SIGKILL
                    // once the instances are gone.
                    signal_group(pid, libc::SIGINT);
                    for _ in 0..20 {
                        if !has_children(pid) {
                            break;
                        }
                        tokio::time::sleep(Duration::from_millis(50)).await;
                    }
                    signal_group(pid, libc::SIGKILL);
                }
                let _ = child.kill().await;
            }
        }
    }
}

/// `work`'s result, or None as soon as `stopped` says the function is gone (checked every
/// LOG_POLL, `progress` called as often; bounded by `work`'s own timeout).
async fn unless<T>(
    work: impl std::future::Future<Output = T>,
    stopped: impl Fn() -> bool,
    progress: impl Fn(),
) -> Option<T> {
    tokio::pin!(work);
    loop {
        tokio::select! {
            // An answer that arrives as the process ends is still the answer.
            biased;
            done = &mut work => return Some(done),
            _ = tokio::time::sleep(LOG_POLL) => {
                if stopped() {
                    return None;
                }
                progress();
            }
        }
    }
}

/// Whether process `pid` has ended (gone, or a zombie not yet reaped). Where there is no
/// /proc (macOS), only a process already reaped is seen as ended.
fn process_ended(pid: u32) -> bool {
    match std::fs::read_to_string(format!("/proc/{pid}/stat")) {
        // The state follows the command name in parentheses: "pid (comm) S ...".
        Ok(stat) => stat
            .rsplit_once(')')
            .is_some_and(|(_, rest)| rest.trim_start().starts_with(['Z', 'X'])),
        Err(_) if Path::new("/proc/self").exists() => true,
        Err(_) => match i32::try_from(pid) {
            Ok(pid) => {
                // SAFETY: kill(2) with signal 0 sends nothing; it asks whether the process
                // exists, and touches no memory of this process.
                let asked = unsafe { libc::kill(pid, 0) };
                asked != 0 && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH)
            }
            Err(_) => false,
        },
    }
}

fn log_len(log: &Path) -> u64 {
    std::fs::metadata(log).map_or(0, |m| m.len())
}

/// Whether one of `needles` was written to `log` after its first `seen` bytes (one read).
fn logged_since(log: &Path, seen: u64, needles: &[&str]) -> bool {
    std::fs::read(log).is_ok_and(|bytes| {
        let new = bytes
            .get(usize::try_from(seen).unwrap_or(0)..)
            .unwrap_or_default();
        let new = String::from_utf8_lossy(new);
        needles.iter().any(|needle| new.contains(needle))
    })
}

/// The log's last line that says something.
fn last_line(log: &Path) -> Option<String> {
    let text = std::fs::read_to_string(log).ok()?;
    text.lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .map(|l| l.trim().chars().take(160).collect())
}

/// The last lines of cargo lambda's log (the build's and the function's output), to say why.
fn log_tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = &lines[lines.len().saturating_sub(LOG_TAIL)..];
    if tail.is_empty() {
        return format!("\n  ({} is empty)", log.display());
    }
    format!(
        "\n  the last lines of {}:\n{}",
        log.display(),
        tail.iter()
            .map(|l| format!("  | {l}"))
            .collect::<Vec<_>>()
            .join("\n")
    )
}

/// Signals the process group `group` through kill(2). Never through `/bin/kill`: procps-ng
/// 4.0.x reads `kill -KILL -<pgid>` as `kill(-1, SIGKILL)`, which signals every process the
/// user may signal (seen here: it took down unrelated shells and a CI run).
fn signal_group(group: i32, signal: i32) {
    if group > 1 {
        // SAFETY: kill(2) takes plain integers and touches no memory of this process.
        unsafe {
            libc::kill(-group, signal);
        }
    }
}

/// Whether `pid` still has child processes: /proc lists them per thread, and cargo-lambda
/// starts them from its worker threads. False where /proc cannot be read.
fn has_children(pid: i32) -> bool {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return false;
    };
    tasks.flatten().any(|task| {
        std::fs::read_to_string(task.path().join("children")).is_ok_and(|c| !c.trim().is_empty())
    })
}
