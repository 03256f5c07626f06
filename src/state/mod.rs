//! What the function remembers between invocations (one DynamoDB table, `STATE_TABLE`):
//! - which notifications were sent, so a redelivered trigger, a Lambda retry or a second poll
//!   seeing the same alert sends nothing twice;
//! - which users are subscribed, from the skill events Alexa sends;
//! - where users are, and the index that finds the users of a place.
//!
//! Three traits, one per part ([`Claims`], [`Users`], [`AreaIndex`]), make [`StateStore`].
//!
//! A send is guarded by a *claim*: a conditional write of the referenceId (in progress, with a
//! lease) that only one invocation can win. The winner sends, then marks it sent (kept until
//! the event expires) or releases it so that a retry can send. A claim whose holder died is
//! taken over when its lease ends: the lease outlasts the holder's invocation deadline, and
//! Lambda stops an invocation at its deadline, so a lapsed lease has no live holder.

pub mod area;
pub mod dynamo;
pub mod memory;

use std::future::Future;
use std::pin::Pin;

use chrono::{DateTime, Utc};

pub use area::{AreaKey, AreaSource, HashRange, Recipient, UserArea};
pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

pub type StateFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StateError>> + 'a>>;

/// Claims and the records of what was sent (or refused): the exactly-once protocol's half of
/// the state table.
pub trait Claims: Send + Sync {
    /// Tries to become the one invocation that sends `claim.reference_id`.
    fn claim<'a>(&'a self, claim: &'a Claim) -> StateFuture<'a, ClaimOutcome>;
    /// The claimed event was delivered: keep that fact until the event expires.
    fn complete<'a>(&'a self, claim: &'a Claim) -> StateFuture<'a, ()>;
    /// The claimed event was not delivered everywhere: give it up so that a retry can send it,
    /// keeping the targets it did reach (`done`, which includes `claim.done`) so the retry sends
    /// only the rest. A claim taken over by someone else meanwhile is left alone.
    fn release<'a>(&'a self, claim: &'a Claim, done: &'a [Reached]) -> StateFuture<'a, ()>;
    /// Alexa refused the claimed event itself: record that as final (with `reason`), so that
    /// nobody sends it again.
    fn refuse<'a>(&'a self, claim: &'a Claim, reason: &'a str) -> StateFuture<'a, ()>;
    /// Whether `reference_id` is done with: sent, or refused by Alexa as final (a claim in
    /// progress or released does not count), and the tag kept with it.
    fn sent<'a>(&'a self, reference_id: &'a str) -> StateFuture<'a, Option<Announced>>;
    /// [`StateStore::sent`] of many at once (by referenceId; those not done with are left
    /// out): the poll reads every listed event's records this way, a hundred a request.
    fn sent_many<'a>(
        &'a self,
        reference_ids: &'a [String],
    ) -> StateFuture<'a, std::collections::HashMap<String, Announced>>;
    /// Records progress on a claim this invocation holds: adds `done` to its targets reached
    /// (the fan-out keeps its split decision there before acting on it).
    fn progress<'a>(&'a self, claim: &'a Claim, done: &'a [Reached]) -> StateFuture<'a, ()>;
}

/// What the skill's events say of each user: subscriptions, enabled or disabled.
pub trait Users: Send + Sync {
    /// Records a user's skill event unless a newer one is recorded already.
    fn record_user<'a>(&'a self, change: &'a UserChange) -> StateFuture<'a, Recorded>;
    /// The events the user subscribed to in their latest `ProactiveSubscriptionChanged`, if
    /// one is recorded (and the skill is not disabled since).
    fn subscriptions<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, Option<Vec<String>>>;
    /// Alexa answered a Unicast of `event` to the user with 403: the user is not subscribed to
    /// it, whatever was recorded. Drops it from the stored subscriptions, unless a newer skill
    /// event was recorded meanwhile.
    fn drop_subscription<'a>(&'a self, user_id: &'a str, event: &'a str) -> StateFuture<'a, ()>;
}

/// Where users are, and the index that finds the users of a place.
pub trait AreaIndex: Send + Sync {
    /// Stores where the user is (replacing any earlier area) and indexes them under its places.
    fn set_area<'a>(&'a self, area: &'a UserArea) -> StateFuture<'a, ()>;
    /// Where the user is, if stored.
    fn area<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, Option<UserArea>>;
    /// Deletes the user's area and index items; whether there was one.
    fn forget_area<'a>(&'a self, user_id: &'a str) -> StateFuture<'a, bool>;
    /// How many index items the places `keys` have in `range` (a user in two of the places
    /// counts twice: this sizes work, it does not count people).
    fn count_area<'a>(&'a self, keys: &'a [AreaKey], range: HashRange) -> StateFuture<'a, u64>;
    /// The users indexed under any of `keys` whose hash is in `range`, each once, in hash order.
    fn users_in_area<'a>(
        &'a self,
        keys: &'a [AreaKey],
        range: HashRange,
    ) -> StateFuture<'a, Vec<String>>;
    /// The records of these users that exist (subscriptions and region), in any order.
    fn recipients<'a>(&'a self, user_ids: &'a [String]) -> StateFuture<'a, Vec<Recipient>>;
}

/// The durable record of sends, users and where they are: all three parts, as one table
/// ([`DynamoStore`], [`MemoryStore`]; `tests/store_conformance.rs` runs one suite against
/// both). A part a caller does not need is not in its way: each can be implemented and
/// used on its own.
pub trait StateStore: Claims + Users + AreaIndex {}

impl<T: Claims + Users + AreaIndex + ?Sized> StateStore for T {}

/// What an earlier attempt of a send reached, as a claim's `done` set records it. Stored as
/// text, as it always was: a region code (`NA`), `split<bits>`, `leaf`, or a user's hash in
/// 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reached {
    /// A region the event was delivered to.
    Region(String),
    /// The fan-out split this range into 2^bits parts (recorded before they are queued).
    Split(u8),
    /// The fan-out sends to this range's users itself (recorded before the first send).
    Leaf,
    /// A user of a fan-out range, by the hash of their id.
    User(u64),
}

impl Reached {
    pub fn encode(&self) -> String {
        match self {
            Reached::Region(code) => code.clone(),
            Reached::Split(bits) => format!("split{bits}"),
            Reached::Leaf => "leaf".to_owned(),
            Reached::User(hash) => format!("{hash:016x}"),
        }
    }

    /// What [`Reached::encode`] wrote; anything else is a region code.
    pub fn decode(text: &str) -> Reached {
        if text == "leaf" {
            return Reached::Leaf;
        }
        if let Some(bits) = text.strip_prefix("split").and_then(|b| b.parse().ok()) {
            return Reached::Split(bits);
        }
        if text.len() == 16 {
            if let Ok(hash) = u64::from_str_radix(text, 16) {
                return Reached::User(hash);
            }
        }
        Reached::Region(text.to_owned())
    }
}

/// One invocation's claim on one referenceId.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Claim {
    pub reference_id: String,
    /// Unique per invocation, so that releasing never removes someone else's claim.
    pub holder: String,
    /// Until then nobody else may take the claim over.
    pub lease_until: DateTime<Utc>,
    /// When the event expires at Alexa (at most 24 h after it was sent).
    pub expires_at: DateTime<Utc>,
    /// Until when the record is kept (DynamoDB TTL): the end of what it records (an alert may
    /// last days) plus a retention, so a later poll or redelivery still finds it.
    pub keep_until: DateTime<Utc>,
    /// The targets (regions) an earlier attempt delivered to: filled in by a successful claim,
    /// not sent again.
    pub done: Vec<Reached>,
    /// Kept with the record, opaque to the store (the poll keeps an alert's threat level, so
    /// that an update can be compared with what was announced).
    pub tag: Option<String>,
}

/// A record of something sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Announced {
    pub tag: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClaimOutcome {
    /// This invocation sends, to every target but `done` (reached by an earlier attempt).
    Claimed { done: Vec<Reached> },
    /// Sent before (by this trigger's earlier delivery, or an earlier poll).
    AlreadySent { sent_at: Option<String> },
    /// Another invocation is sending it now; its lease ends at `lease_until`.
    InProgress { lease_until: Option<String> },
    /// Alexa refused it before, finally.
    Refused {
        refused_at: Option<String>,
        reason: Option<String>,
    },
}

/// A skill event about a user, as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserChange {
    pub user_id: String,
    /// The event's `request.timestamp`: skill events arrive out of order, the newest wins.
    pub at: DateTime<Utc>,
    pub kind: UserChangeKind,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UserChangeKind {
    /// The events the user is subscribed to now (empty: none).
    Subscriptions(Vec<String>),
    Enabled,
    /// The user's record is emptied and kept only as long as a late, older event could
    /// still arrive (see [`dynamo::DISABLED_RETENTION`]), so that event cannot bring it back.
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recorded {
    Applied,
    /// A newer event for this user is recorded already; this one changed nothing.
    Stale,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum StateError {
    #[error("state table {table:?} (from STATE_TABLE) does not exist in this account and region: create it (the SAM template does: partition key `pk` of type String, TTL on `expireAt`) or fix STATE_TABLE")]
    TableNotFound { table: String },
    #[error("{action} on state table {table:?} was refused ({detail}): the function's role needs dynamodb:GetItem, PutItem, UpdateItem, DeleteItem and BatchGetItem on it and Query on its index `area` (the SAM template grants exactly these)")]
    AccessDenied {
        table: String,
        action: &'static str,
        detail: String,
    },
    #[error("{action} on state table {table:?} failed: {detail}")]
    Unavailable {
        table: String,
        action: &'static str,
        detail: String,
    },
    /// The call did not end before the invocation's deadline (less the time kept to answer).
    #[error("{action} on the state table got no answer before the invocation's deadline")]
    Late { action: &'static str },
    #[error("state table {table:?} holds an item that is not this function's: {problem}")]
    Corrupt { table: String, problem: String },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn what_a_claim_reached_is_stored_as_it_always_was() {
        for (reached, text) in [
            (Reached::Region("NA".into()), "NA"),
            (Reached::Split(7), "split7"),
            (Reached::Leaf, "leaf"),
            (Reached::User(0x00ab_cdef_0123_4567), "00abcdef01234567"),
        ] {
            assert_eq!(reached.encode(), text);
            assert_eq!(Reached::decode(text), reached);
        }
        // Anything else reads as a region code (what a record of any release holds).
        assert_eq!(Reached::decode("EU"), Reached::Region("EU".into()));
        assert_eq!(Reached::decode("splitx"), Reached::Region("splitx".into()));
    }
}
