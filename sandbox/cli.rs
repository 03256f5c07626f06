//! The command line of `alexa-sandbox`: port, client credentials, token lifetime, quiet.
//!
//! Tests start the sandbox with `--port 0` and their own credentials, and read the port from
//! its first line, so these flags and their defaults are part of its contract.

pub const USAGE: &str = "usage: alexa-sandbox [--port 9100] [--client-id ID] [--client-secret SECRET] [--token-ttl SECONDS] [--quiet]";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub port: u16,
    pub client_id: String,
    pub client_secret: String,
    pub token_ttl: u64,
    pub quiet: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            port: 9100,
            client_id: "amzn1.application-oa2-client.sandbox".into(),
            client_secret: "sandbox-client-secret".into(),
            token_ttl: 3600,
            quiet: false,
        }
    }
}

/// Reads the arguments (without the program name); `Err` is the message to print, with usage.
pub fn parse(arguments: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut o = Options::default();
    let mut args = arguments.into_iter();
    while let Some(arg) = args.next() {
        let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value; {USAGE}"));
        match arg.as_str() {
            "--port" => {
                o.port = value("--port")?
                    .parse()
                    .map_err(|_| format!("--port expects a number; {USAGE}"))?
            }
            "--client-id" => o.client_id = value("--client-id")?,
            "--client-secret" => o.client_secret = value("--client-secret")?,
            "--token-ttl" => {
                o.token_ttl = value("--token-ttl")?
                    .parse()
                    .map_err(|_| format!("--token-ttl expects seconds; {USAGE}"))?
            }
            "--quiet" => o.quiet = true,
            "-h" | "--help" => return Err(USAGE.into()),
            other => return Err(format!("unknown argument {other:?}; {USAGE}")),
        }
    }
    Ok(o)
}

#[cfg(test)]
mod tests {
    use super::{parse, Options};

    fn args(list: &[&str]) -> Vec<String> {
        list.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn no_flags_give_the_defaults() {
        assert_eq!(parse(args(&[])), Ok(Options::default()));
        assert_eq!(Options::default().port, 9100);
    }

    #[test]
    fn the_flags_tests_pass_are_read() {
        let o = parse(args(&[
            "--port",
            "0",
            "--client-id",
            "id",
            "--client-secret",
            "secret",
            "--token-ttl",
            "5",
            "--quiet",
        ]))
        .expect("valid flags");
        assert_eq!(
            o,
            Options {
                port: 0,
                client_id: "id".into(),
                client_secret: "secret".into(),
                token_ttl: 5,
                quiet: true,
            }
        );
    }

    #[test]
    fn bad_flags_are_refused_with_the_usage() {
        for bad in [
            &["--port"][..],
            &["--port", "ninety"],
            &["--token-ttl", "-1"],
            &["--verbose"],
            &["--help"],
        ] {
            let message = parse(args(bad)).expect_err("refused");
            assert!(message.contains("usage: alexa-sandbox"), "{message}");
        }
    }
}
