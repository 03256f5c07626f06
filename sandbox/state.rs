//! What the sandbox remembers between requests: credentials, issued tokens, pending faults,
//! unsubscribed users, the referenceIds already used, the registered devices, counters, and
//! every accepted and refused event and refused address request. `GET /sandbox/state` shows
//! it; `POST /sandbox/reset` forgets all but the credentials (devices too).

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use serde_json::{json, Value};

use crate::address_api::Device;
use crate::cli::Options;
use crate::faults::Fault;

pub struct Token {
    pub expires: Instant,
    pub generation: u32,
}

#[derive(Default)]
pub struct State {
    pub client_id: String,
    pub client_secret: String,
    pub token_ttl: u64,
    pub quiet: bool,
    pub faults: VecDeque<Fault>,
    pub tokens: HashMap<String, Token>,
    /// Tokens issued before a revoke are refused.
    pub generation: u32,
    pub unsubscribed: HashSet<String>,
    /// (region, stage, referenceId, audience) already accepted: a repeat is a 409.
    pub seen: HashSet<(String, String, String, String)>,
    /// Whether a repeat is refused with 409 (as Alexa is believed to do). Switched off, a
    /// repeat is accepted like a new event and counted in `repeats`, so a test counts every
    /// notification the function sent twice instead of relying on Alexa to drop it.
    pub dedupe: bool,
    /// Repeats accepted while `dedupe` was off.
    pub repeats: u64,
    pub token_requests: u64,
    pub event_requests: u64,
    pub event_requests_by_region: HashMap<String, u64>,
    pub duplicates: u64,
    pub accepted: Vec<Value>,
    pub refused: Vec<Value>,
    /// The devices the address API knows, by deviceId (`POST /sandbox/devices`).
    pub devices: HashMap<String, Device>,
    pub address_requests: u64,
    pub address_requests_by_region: HashMap<String, u64>,
    /// Why each refused address request was refused: Alexa's answer does not say.
    pub address_refused: Vec<Value>,
    /// Shared by the events and address APIs, so a request id names one request.
    pub next_request_id: u64,
}

pub type Shared = Arc<Mutex<State>>;

pub fn shared(options: Options) -> Shared {
    Arc::new(Mutex::new(State {
        client_id: options.client_id,
        client_secret: options.client_secret,
        token_ttl: options.token_ttl,
        quiet: options.quiet,
        dedupe: true,
        ..State::default()
    }))
}

pub fn lock(shared: &Shared) -> MutexGuard<'_, State> {
    // A panic while holding the lock cannot leave the counters half-written in a way that
    // matters here: keep serving.
    shared
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl State {
    /// The `GET /sandbox/state` answer.
    pub fn snapshot(&self) -> Value {
        json!({
            "tokenRequests": self.token_requests,
            "tokensIssued": self.tokens.len(),
            "eventRequests": self.event_requests,
            "eventRequestsByRegion": self.event_requests_by_region,
            "duplicates": self.duplicates,
            "dedupe": self.dedupe,
            "repeats": self.repeats,
            "pendingFaults": self.faults.len(),
            "accepted": self.accepted,
            "refused": self.refused,
            "devices": self.devices.len(),
            "addressRequests": self.address_requests,
            "addressRequestsByRegion": self.address_requests_by_region,
            "addressRefused": self.address_refused,
        })
    }

    /// Forgets everything but the credentials and the options.
    pub fn reset(&mut self) {
        let kept = State {
            client_id: std::mem::take(&mut self.client_id),
            client_secret: std::mem::take(&mut self.client_secret),
            token_ttl: self.token_ttl,
            quiet: self.quiet,
            dedupe: self.dedupe,
            ..State::default()
        };
        *self = kept;
    }
}
