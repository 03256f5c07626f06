//! What the state table keeps to target users by place: each user's area (on their `user#`
//! record) and one index item per place the user is in, so that "the users of county X" is a
//! `Query` on the table's `area` index, never a scan.
//!
//! A place is an [`AreaKey`]: a county (`c` + 5-digit FIPS) or a ZIP code (`z` + 5 digits).
//! Index items sort by a hash of the user id ([`user_hash`]), so the users of a place can be
//! split into hash ranges ([`HashRange`]) of about equal size without counting them first in
//! order: the fan-out hands each range to one SQS message.

use serde::{Deserialize, Serialize};

/// Where a user is, as stored. Personal data: kept while the skill is enabled, deleted when
/// the user says "forget my area" or disables the skill.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserArea {
    pub user_id: String,
    /// The postal code as Alexa or the user gave it (`"73019"`).
    pub postal_code: String,
    /// ISO country code (`"US"`).
    pub country: String,
    /// The warning areas the postal code lies in (US counties, German districts, MeteoAlarm
    /// regions); empty where no feed serves the country, or the code is unknown.
    pub places: Vec<AreaKey>,
    /// The Alexa region of the user's `apiEndpoint` (`"NA"`, `"EU"`, `"FE"`): where their
    /// Unicasts go.
    pub region: Option<String>,
    pub locale: Option<String>,
    /// Where the postal code came from: the user revoking the address permission deletes an
    /// area read from the device, not one they said.
    pub source: AreaSource,
}

/// Where a user's postal code came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AreaSource {
    /// The Device Address API, with the user's permission.
    Device,
    /// The user said it ("my zip code is 73019").
    #[default]
    Voice,
}

impl AreaSource {
    pub fn as_str(self) -> &'static str {
        match self {
            AreaSource::Device => "device",
            AreaSource::Voice => "voice",
        }
    }

    /// As stored; anything else reads as [`AreaSource::Voice`].
    pub fn parse(text: &str) -> Self {
        match text {
            "device" => AreaSource::Device,
            _ => AreaSource::Voice,
        }
    }
}

impl UserArea {
    /// The places the user is indexed under: each warning area, and the ZIP code (US only).
    pub fn keys(&self) -> Vec<AreaKey> {
        let mut keys = self.places.clone();
        if self.country == "US" {
            keys.push(AreaKey::zip(&self.postal_code));
        }
        keys
    }
}

/// A place users are indexed under: `c40027` (a US county), `z73019` (a ZIP code), `d05315` (a
/// German district), `mUK116` (a MeteoAlarm region). The domain's `area::Place` writes them;
/// this type only checks their shape.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(transparent)]
pub struct AreaKey(String);

impl<'de> Deserialize<'de> for AreaKey {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        AreaKey::parse(&text).ok_or_else(|| {
            serde::de::Error::custom(format!(
                "{text:?} is no place; expected c + a 5-digit county FIPS code, z + a 5-digit ZIP code, d + a 5-digit German district key or m + a MeteoAlarm region code such as UK116"
            ))
        })
    }
}

impl AreaKey {
    pub fn county(fips: &str) -> Self {
        AreaKey(format!("c{fips}"))
    }

    pub fn zip(zip: &str) -> Self {
        AreaKey(format!("z{zip}"))
    }

    /// The key of a place code the domain wrote (`area::Place::code`).
    pub fn from_place_code(code: String) -> Self {
        AreaKey(code)
    }

    /// A key as stored, if it has one of the four shapes.
    pub fn parse(text: &str) -> Option<Self> {
        let (kind, rest) = text.split_at_checked(1)?;
        let five_digits = rest.len() == 5 && rest.bytes().all(|b| b.is_ascii_digit());
        let emma = rest.len() == 5
            && rest.bytes().take(2).all(|b| b.is_ascii_uppercase())
            && rest.bytes().skip(2).all(|b| b.is_ascii_digit());
        match kind {
            "c" | "z" | "d" if five_digits => Some(AreaKey(text.to_owned())),
            "m" if emma => Some(AreaKey(text.to_owned())),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// A user of an area, as the fan-out needs them: where to send, and to what they subscribed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub user_id: String,
    /// The events of the user's latest subscription event (`None`: none recorded, or the
    /// skill is disabled since).
    pub subscriptions: Option<Vec<String>>,
    pub region: Option<String>,
    /// The places the user's record names now (the index is read eventually consistently,
    /// and may still list a user who just moved or asked to be forgotten).
    pub places: Vec<AreaKey>,
}

/// A stable 64-bit hash of a user id, spread evenly (FNV-1a, then the SplitMix64 finaliser):
/// the index's sort key starts with it, so that hash ranges split an area's users evenly.
/// It must never change: stored items and in-flight messages depend on it.
pub fn user_hash(user_id: &str) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in user_id.bytes() {
        hash ^= u64::from(byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash = (hash ^ (hash >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    hash = (hash ^ (hash >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    hash ^ (hash >> 31)
}

/// The index's sort key for a user: hash, then the id (unique, and the user found again).
pub fn sort_key(user_id: &str) -> String {
    format!("{:016x}#{user_id}", user_hash(user_id))
}

/// The user id in an index sort key.
pub fn user_of_sort_key(key: &str) -> Option<&str> {
    key.split_once('#').map(|(_, user)| user)
}

/// The users whose [`user_hash`] starts with `prefix` (its top `bits` bits).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct HashRange {
    pub bits: u8,
    pub prefix: u64,
}

impl HashRange {
    /// Every user.
    pub const ALL: HashRange = HashRange { bits: 0, prefix: 0 };

    /// The lowest and highest hash in the range.
    pub fn bounds(self) -> (u64, u64) {
        if self.bits == 0 {
            return (0, u64::MAX);
        }
        let shift = 64 - u32::from(self.bits.min(64));
        let low = self.prefix << shift;
        (low, low | (u64::MAX >> (64 - shift)))
    }

    pub fn contains(self, hash: u64) -> bool {
        let (low, high) = self.bounds();
        (low..=high).contains(&hash)
    }

    /// The sort keys between which the range's index items lie (both inclusive).
    pub fn sort_key_bounds(self) -> (String, String) {
        let (low, high) = self.bounds();
        // `~` sorts after `#` and every character of a hex digit.
        (format!("{low:016x}"), format!("{high:016x}~"))
    }

    /// The range split into `2^more` equal parts.
    pub fn split(self, more: u8) -> Vec<HashRange> {
        let bits = self.bits + more;
        (0..1u64 << more)
            .map(|i| HashRange {
                bits,
                prefix: (self.prefix << more) | i,
            })
            .collect()
    }

    /// A short name, for referenceIds and logs: `b3p5` (3 bits, prefix 5).
    pub fn name(self) -> String {
        format!("b{}p{:x}", self.bits, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_are_stable_and_spread() {
        // Stored items depend on these values: a change is a migration, not a refactor.
        assert_eq!(
            user_hash("amzn1.ask.account.A"),
            user_hash("amzn1.ask.account.A")
        );
        assert_eq!(
            format!("{:016x}", user_hash("amzn1.ask.account.A")),
            "525f6a822dea5230"
        );
        let mut top = [0u32; 16];
        for i in 0..16_000 {
            top[(user_hash(&format!("amzn1.ask.account.USER{i}")) >> 60) as usize] += 1;
        }
        for count in top {
            assert!((800..1200).contains(&count), "{top:?}");
        }
    }

    #[test]
    fn ranges_split_the_hash_space_exactly() {
        assert_eq!(HashRange::ALL.bounds(), (0, u64::MAX));
        let halves = HashRange::ALL.split(1);
        assert_eq!(halves[0].bounds(), (0, u64::MAX >> 1));
        assert_eq!(halves[1].bounds(), (1 << 63, u64::MAX));
        let quarters = halves[1].split(1);
        assert_eq!(quarters[0], HashRange { bits: 2, prefix: 2 });
        assert_eq!(quarters[1].bounds(), (3 << 62, u64::MAX));
        for i in 0..1000 {
            let user = format!("amzn1.ask.account.U{i}");
            let hash = user_hash(&user);
            let parts = HashRange::ALL.split(5);
            assert_eq!(parts.iter().filter(|r| r.contains(hash)).count(), 1);
            let range = parts.iter().find(|r| r.contains(hash)).copied().unwrap();
            let (low, high) = range.sort_key_bounds();
            let key = sort_key(&user);
            assert!(low <= key && key <= high, "{low} {key} {high}");
            assert_eq!(user_of_sort_key(&key), Some(user.as_str()));
        }
    }

    #[test]
    fn keys_have_two_shapes() {
        assert_eq!(AreaKey::parse("c40027"), Some(AreaKey::county("40027")));
        assert_eq!(AreaKey::parse("z02134"), Some(AreaKey::zip("02134")));
        assert!(AreaKey::parse("d05315").is_some());
        assert!(AreaKey::parse("mUK116").is_some());
        for bad in [
            "", "c4002", "x40027", "c4002a", "z021345", "mUK11", "muk116", "m12345", "dUK116",
        ] {
            assert_eq!(AreaKey::parse(bad), None, "{bad}");
        }
        let area = UserArea {
            user_id: "u".into(),
            postal_code: "73019".into(),
            country: "US".into(),
            places: vec![AreaKey::county("40027")],
            region: None,
            locale: None,
            source: AreaSource::Voice,
        };
        assert_eq!(
            area.keys(),
            [AreaKey::county("40027"), AreaKey::zip("73019")]
        );
        let germany = UserArea {
            country: "DE".into(),
            postal_code: "10115".into(),
            places: vec![AreaKey::parse("d11000").unwrap()],
            ..area.clone()
        };
        assert_eq!(germany.keys(), germany.places, "no ZIP key abroad");
        let abroad = UserArea {
            country: "FR".into(),
            postal_code: "75001".into(),
            places: vec![],
            ..area
        };
        assert!(abroad.keys().is_empty());
    }
}
