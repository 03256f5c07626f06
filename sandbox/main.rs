//! alexa-sandbox: a local stand-in for Alexa's token endpoint, events API and Device Address
//! API (country and postal code), on loopback.
//!
//! It checks every request as strictly as the API notes describe, records what it accepted,
//! and prints each notification as the sentence Alexa would speak. Faults (429 with
//! Retry-After, 500, 503, 401, slow answers, a rotated client secret, unsubscribed users) are
//! switched on through its control API, so tests and the local loop can show what the
//! function does when Alexa misbehaves. It is a development tool: never deployed.
//!
//! ```text
//! alexa-sandbox [--port 9100] [--client-id ID] [--client-secret SECRET] [--token-ttl SECONDS] [--quiet]
//!
//! POST /auth/o2/token                                   Login with Amazon (client_credentials)
//! POST [/na|/eu|/fe]/v1/proactiveEvents[/stages/development]   the events API
//! GET  [/na|/eu|/fe]/v1/devices/{deviceId}/settings/address/countryAndPostalCode
//!                                                       the address API, for registered devices
//! GET  /sandbox/state                                   counters, accepted and refused events,
//!                                                       refused address requests and why
//! POST /sandbox/fault   {"target":"events"|"token"|"address","status":429,"retryAfter":"1","delayMs":0,"times":1,"region":"NA"}
//!                       also "close":true (drop the connection, no answer: a reset) and
//!                       "location":"http://..." (sent with the status, e.g. a 307),
//!                       "every":10 (only each 10th matching request, until cleared)
//! POST /sandbox/rotate  {"clientSecret":"new"}          the old secret now gets invalid_client
//! POST /sandbox/clear-faults                            drop every pending fault
//! POST /sandbox/revoke-tokens                           issued tokens now get 401
//! POST /sandbox/unsubscribe {"user":"amzn1.ask.account..."}   a Unicast to them gets 403
//! POST /sandbox/dedupe {"enabled": false}              accept a repeated referenceId (counted
//!                                                       in "repeats") instead of a 409
//! POST /sandbox/devices {"deviceId":"...","apiAccessToken":"...","countryCode":"US",
//!                       "postalCode":"73019","granted":true,"region":"NA","empty":"204"}
//!                       register (or replace) a device: null/absent postalCode = no
//!                       address (204, or 200 with nulls if "empty":"null"); granted
//!                       defaults to true, region to "ANY" (every prefix)
//! POST /sandbox/reset                                   forget everything but the credentials
//! ```
//!
//! The parts, one to a file: `cli` (the flags), `server` (listener and router), `state` (what
//! it remembers), `token` (Login with Amazon), `events_api` (the events endpoint),
//! `address_api` (the Device Address API and its registered devices), `envelope`
//! (the checks of an event body), `rules` with `schemas.json` (the sandbox's own rules of the
//! eight schemas), `speech` (the sentence Alexa would speak), `faults` (fault injection) and
//! `control` (the control API). It does not use the `alexa_proactive` library: it is a
//! separate stand-in, so the product and the sandbox check each other.

mod address_api;
mod cli;
mod control;
mod envelope;
mod events_api;
mod faults;
mod rules;
mod server;
mod speech;
mod state;
mod token;

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let options = match cli::parse(std::env::args().skip(1)) {
        Ok(o) => o,
        Err(message) => {
            eprintln!("{message}");
            std::process::exit(2);
        }
    };
    // The schema rules are embedded: a malformed schemas.json stops the sandbox here, before
    // it listens, never while it answers a request.
    let rules = match rules::Rules::load() {
        Ok(r) => r,
        Err(message) => {
            eprintln!("alexa-sandbox: {message}");
            std::process::exit(1);
        }
    };
    server::run(options, rules).await;
}
