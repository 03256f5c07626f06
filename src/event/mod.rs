//! The event model, pure: the eight proactive-event schemas as data, notification requests
//! checked against them, and the events built from them for Alexa. No I/O, no clock (the time
//! is a parameter), no knowledge of the envelope a request came in: errors are
//! [`FieldError`](crate::json::FieldError)s below the field path the caller gives.

mod proactive;
mod request;
pub mod schemas;

pub use proactive::{
    build, reference_id, Audience, Built, EventBody, ProactiveEvent, CLOCK_MARGIN, MAX_LIFETIME,
    MIN_LIFETIME,
};
pub use request::{NotificationRequest, RequestKind, Watch, MAX_ITEMS, MAX_TEXT_CHARS};

#[cfg(test)]
mod tests;
