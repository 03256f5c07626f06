//! alexa-proactive: one Lambda binary that is an Alexa skill's backend and turns AWS
//! triggers (EventBridge, SNS, a scheduled feed poll) into Alexa proactive events.
//!
//! The modules form three layers, and imports point one way: adapters → domain → edges.
//!
//! **Adapters** ([`lambda`]): Lambda's event shapes in, domain calls out.
//! - [`lambda::dispatch`] classifies each invocation and routes it ([`App`] is built once);
//! - [`lambda::triggers`] unwraps SNS, EventBridge, scheduled and SQS (fan-out) events;
//! - [`lambda::error`] is the one error Lambda sees ([`HandlerError`], with a stable
//!   `errorType`), wrapping every layer's own.
//!
//! **Domain**: what the product decides, free of AWS types.
//! - [`skill`] answers Alexa (launch, intents, skill events) and says what to send or record;
//!   [`skill::conversation`] carries that out (the ledger, the notifier, the address API);
//! - [`event`] is the event model: the eight schemas, notification requests, the events built
//!   from them (pure);
//! - [`notifier`] sends requests: builds, claims through the ledger, delivers, settles;
//! - [`ledger`] is the exactly-once protocol and the user records over the state table;
//! - [`fanout`] turns an alert for an area into one Unicast per subscribed user there,
//!   exactly once, through the fan-out queue (splits, ranges, progress: [`fanout::plan`]);
//! - [`area`] places users as alerts name places ([`area::Place`]): ZIP code → county FIPS
//!   codes (embedded table);
//! - [`weather`] polls the weather feed: [`weather::alert`] is the feed-neutral model,
//!   [`weather::plan`] decides what a poll announces, by event and place (pure), and
//!   [`weather::memory`] is what each event's places heard, kept in the ledger.
//!
//! **Edges**: the outside world, each behind a small trait with a real and an in-memory side.
//! - [`alexa`] is the Alexa API client (token, events API, retries): [`alexa::EventsApi`],
//!   real [`alexa::Client`], in-memory [`alexa::fake::FakeAlexa`]; and the Device Address API
//!   the launch places users with: [`alexa::address::AddressLookup`], real
//!   [`alexa::address::AddressApi`], in-memory [`alexa::address::FakeAddress`];
//! - [`state`] is the state table: [`state::StateStore`], [`state::DynamoStore`],
//!   [`state::MemoryStore`], with users' areas and the index that finds them by place;
//! - [`queue`] is the fan-out queue: [`queue::Queue`], [`queue::SqsQueue`],
//!   [`queue::MemoryQueue`];
//! - [`credentials`] reads the skill's secret from Secrets Manager; [`weather::feed`] is a
//!   feed ([`weather::AlertFeed`]: NWS, in memory), [`weather::client`] its HTTP side;
//!   [`http`] is the one HTTP client; [`aws`] the AWS calls over it (DynamoDB, SQS, Secrets
//!   Manager: their JSON protocol, SigV4, retries; no AWS SDK).
//!
//! **Configuration**: [`config`] reads the environment once at start-up, for `main`, and hands
//! each part its own settings ([`alexa::Settings`], [`weather::Settings`]); nothing below it
//! imports it. [`vars`] only names the variables, so any layer can say which one to set.
//!
//! Shared by all: [`json`] reads JSON with
//! errors that name the field; [`clock`] tells the time (settable in tests); [`budget`] shares
//! out the invocation's time (sends, then recording, then the answer); [`metrics`] writes
//! CloudWatch metrics as Embedded Metric Format lines.

pub mod alexa;
pub mod area;
pub mod aws;
pub mod budget;
pub mod clock;
pub mod config;
pub mod credentials;
pub mod event;
pub mod fanout;
pub mod http;
pub mod json;
pub mod lambda;
pub mod ledger;
pub mod logging;
pub mod metrics;
pub mod notifier;
pub mod queue;
pub mod skill;
pub mod state;
pub mod vars;
pub mod weather;

pub use config::Config;
pub use lambda::dispatch::{classify, App, Edges, InputKind};
pub use lambda::error::HandlerError;
pub use lambda::handler;
