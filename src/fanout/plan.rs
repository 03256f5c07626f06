//! The fan-out's decisions, pure: how a range of users is split, what each claim and each
//! Unicast is called, and what a Unicast says.
//!
//! Why ranges of a user hash: the users of an area are not counted up front and not listed in
//! messages. A message names an alert, its places and a [`HashRange`]; whoever takes it
//! counts the range, and either sends to its users (a *leaf*, at most [`LEAF_MAX`]) or splits
//! it into 2^k equal ranges, one message each. The split is recorded on the range's claim
//! before any message goes out, so a redelivered or retried message splits the same way even
//! if users joined meanwhile: a user always lands in exactly one leaf.

use crate::event::reference_id;
use crate::state::area::user_hash;
use crate::state::{HashRange, Reached};

/// A range with at most this many index items is sent by one invocation.
pub const LEAF_MAX: u64 = 200;
/// A split aims at leaves of about this many users.
pub const LEAF_TARGET: u64 = 100;
/// At most 2^this messages per split (a 100,000-user county needs 2^10).
pub const MAX_SPLIT_BITS: u8 = 12;
/// Ranges are not split below this width (2^-40 of the hash space: never reached in practice).
pub const MAX_BITS: u8 = 40;

/// How many bits to split a range of `count` index items by, if it is too big for one leaf.
pub fn split_bits(count: u64, range: HashRange) -> Option<u8> {
    if count <= LEAF_MAX || range.bits >= MAX_BITS {
        return None;
    }
    let leaves = count.div_ceil(LEAF_TARGET);
    // The smallest k with 2^k ≥ leaves.
    let bits = (64 - (leaves - 1).leading_zeros()) as u8;
    Some(bits.clamp(1, MAX_SPLIT_BITS).min(MAX_BITS - range.bits))
}

/// The claim of one range of one alert.
pub fn range_reference(alert: &str, range: HashRange) -> String {
    format!("{alert}.{}", range.name())
}

/// How a range's claim records that it is a leaf (sent to, not split), before any send.
pub const LEAF_MARKER: Reached = Reached::Leaf;

/// How a split is recorded in its claim's `done` set.
pub fn split_marker(bits: u8) -> Reached {
    Reached::Split(bits)
}

/// The split a claim's `done` set records, if any.
pub fn recorded_split(done: &[Reached]) -> Option<u8> {
    done.iter()
        .find_map(|d| match d {
            Reached::Split(bits) => Some(*bits),
            _ => None,
        })
        .map(|bits| bits.clamp(1, MAX_SPLIT_BITS))
}

/// How a user reached is recorded in a leaf's `done` set: their hash, not their id.
pub fn user_marker(user_id: &str) -> Reached {
    Reached::User(user_hash(user_id))
}

/// The referenceId of the alert's Unicast to one user: the same for every delivery of the
/// message, different for every (alert, user), at most 92 alphanumeric characters, and
/// without the user id in clear.
pub fn unicast_reference(alert: &str, user_id: &str) -> String {
    let hashed = reference_id("unicast", &format!("{alert}/{user_id}"));
    let hash = &hashed[hashed.len().saturating_sub(32)..];
    let readable: String = alert
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(60)
        .collect();
    format!("{readable}{hash}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_ranges_are_leaves_and_big_ones_split_to_about_a_hundred() {
        assert_eq!(split_bits(0, HashRange::ALL), None);
        assert_eq!(split_bits(LEAF_MAX, HashRange::ALL), None);
        assert_eq!(split_bits(201, HashRange::ALL), Some(2));
        assert_eq!(split_bits(10_000, HashRange::ALL), Some(7));
        assert_eq!(split_bits(100_000, HashRange::ALL), Some(10));
        assert_eq!(
            split_bits(100_000_000, HashRange::ALL),
            Some(MAX_SPLIT_BITS)
        );
        let deep = HashRange {
            bits: MAX_BITS - 1,
            prefix: 0,
        };
        assert_eq!(split_bits(1_000, deep), Some(1));
        let deepest = HashRange {
            bits: MAX_BITS,
            prefix: 0,
        };
        assert_eq!(split_bits(1_000, deepest), None);
    }

    #[test]
    fn splits_are_recorded_and_read_back() {
        assert_eq!(recorded_split(&[split_marker(7)]), Some(7));
        assert_eq!(recorded_split(&[user_marker("amzn1.ask.account.A")]), None);
        assert_eq!(recorded_split(&[]), None);
    }

    #[test]
    fn unicasts_have_their_own_stable_reference_without_the_user_in_clear() {
        let alert = "urnoidfee1be4e5d8b7c0d6e4d9f6f7f8a0b1c2d3e4f5a6b7c8d9e0f1a2b3c4d5e6f7";
        let a = unicast_reference(alert, "amzn1.ask.account.AAAA");
        assert_eq!(a, unicast_reference(alert, "amzn1.ask.account.AAAA"));
        assert_ne!(a, unicast_reference(alert, "amzn1.ask.account.BBBB"));
        assert_ne!(a, unicast_reference("other", "amzn1.ask.account.AAAA"));
        assert!(
            a.len() <= 100 && a.chars().all(|c| c.is_ascii_alphanumeric()),
            "{a}"
        );
        assert!(!a.contains("amzn1askaccount"), "{a}");
        let short = unicast_reference("a1", "amzn1.ask.account.AAAA");
        assert!(short.starts_with("a1") && short.len() == 34, "{short}");
    }
}
