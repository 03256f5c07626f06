//! Alexa proactive events: the eight schemas, validation of notification requests, and the
//! events built from them.

pub mod event;
pub mod http;
pub mod retry;
pub mod schemas;
pub mod sender;
pub mod token;

pub use event::{build, Audience, Built, NotificationRequest, ProactiveEvent};
pub use sender::{Delivery, Sender, Status};

#[cfg(test)]
mod tests;
