//! Alexa proactive events: the eight schemas, validation of notification requests, and the
//! events built from them.

pub mod event;
pub mod retry;
pub mod schemas;

pub use event::{build, Built, NotificationRequest, ProactiveEvent};

#[cfg(test)]
mod tests;
