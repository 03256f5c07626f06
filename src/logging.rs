//! The log: Lambda's advanced logging controls (`AWS_LAMBDA_LOG_FORMAT=JSON`, which the
//! template sets, and `AWS_LAMBDA_LOG_LEVEL`), else `RUST_LOG`, else `info`. The same as
//! lambda_runtime's default subscriber, with `tracing_subscriber`'s `Targets` filter instead of
//! its `EnvFilter`: `EnvFilter` brings a regex engine (about 300 KiB of the binary) for
//! directives this function never uses (span fields, regexes). `Targets` reads `info`,
//! `debug`, `alexa_proactive=debug,info`; anything else logs at `info`, and says so.

use std::str::FromStr;

use tracing_subscriber::filter::{LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;

/// The filter a level setting names; `None` when it is not one (logged once the log runs).
/// Each comma-separated directive must be a level or `target=level`: a bare word such as
/// `warning` would otherwise read as a target name and silence everything else.
pub fn filter(spec: &str) -> Option<Targets> {
    let spec = spec.trim();
    if spec.is_empty() {
        return None;
    }
    // Lambda's levels are upper case and include FATAL, which tracing calls ERROR.
    let spec = if spec.eq_ignore_ascii_case("fatal") {
        "error"
    } else {
        spec
    };
    if let Ok(level) = LevelFilter::from_str(spec) {
        return Some(Targets::new().with_default(level));
    }
    let well_formed =
        spec.split(',')
            .map(str::trim)
            .all(|directive| match directive.split_once('=') {
                Some((target, level)) => !target.is_empty() && LevelFilter::from_str(level).is_ok(),
                None => LevelFilter::from_str(directive).is_ok(),
            });
    if spec.is_empty() || !well_formed {
        return None;
    }
    Targets::from_str(spec).ok()
}

/// Installs the subscriber; called once, first thing in `main`.
pub fn init() {
    let spec = std::env::var("AWS_LAMBDA_LOG_LEVEL")
        .or_else(|_| std::env::var("RUST_LOG"))
        .ok();
    let parsed = spec.as_deref().map(filter);
    let targets = parsed
        .clone()
        .flatten()
        .unwrap_or_else(|| Targets::new().with_default(LevelFilter::INFO));
    let json = std::env::var("AWS_LAMBDA_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let layer = tracing_subscriber::fmt::layer()
        .with_target(false)
        .without_time()
        .with_writer(std::io::stdout);
    let registry = tracing_subscriber::registry().with(targets);
    if json {
        registry.with(layer.json()).init();
    } else {
        registry.with(layer).init();
    }
    if let (Some(spec), Some(None)) = (spec, parsed) {
        tracing::warn!(setting = spec, "the log level setting is not one this function reads (info, debug, alexa_proactive=debug,info...); logging at info");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_read_as_lambda_and_rust_log_write_them() {
        for (spec, target, enabled) in [
            ("INFO", "alexa_proactive", LevelFilter::INFO),
            ("debug", "reqwest", LevelFilter::DEBUG),
            ("FATAL", "x", LevelFilter::ERROR),
            (
                "alexa_proactive=debug,info",
                "alexa_proactive::fanout",
                LevelFilter::DEBUG,
            ),
            ("alexa_proactive=debug,info", "hyper", LevelFilter::INFO),
        ] {
            let targets = filter(spec).unwrap_or_else(|| panic!("{spec}"));
            assert_eq!(
                targets
                    .iter()
                    .find(|(t, _)| target.starts_with(t))
                    .map(|(_, l)| l)
                    .or(targets.default_level())
                    .unwrap_or(LevelFilter::OFF),
                enabled,
                "{spec} {target}"
            );
        }
        for bad in [
            "alexa_proactive=loud",
            "warning",
            "",
            "info,verbose",
            "=debug",
        ] {
            assert!(filter(bad).is_none(), "{bad:?}");
        }
    }
}
