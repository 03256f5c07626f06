//! alexa-proactive: one Lambda binary that is an Alexa skill's backend and turns AWS
//! triggers (EventBridge, SNS) into Alexa proactive events.
//!
//! - [`dispatch`] classifies each invocation and routes it;
//! - [`skill`] answers Alexa (launch, intents, session end, skill events);
//! - [`triggers`] unwraps SNS and EventBridge events into notification requests;
//! - [`notifier`] sends what triggers ask for, through [`proactive`] and [`credentials`],
//!   exactly once with the [`state`] table;
//! - [`weather`] polls the weather-alert feed when the schedule fires;
//! - [`config`] reads the environment once at start-up; [`aws`] is the shared SDK set-up;
//! - [`error`] is what a failed invocation reports.

pub mod aws;
pub mod config;
pub mod credentials;
pub mod dispatch;
pub mod error;
pub mod notifier;
pub mod proactive;
pub mod skill;
pub mod state;
pub mod triggers;
pub mod weather;

pub use config::Config;
pub use dispatch::{classify, handler, App, InputKind};
pub use error::HandlerError;
