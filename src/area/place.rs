//! A place an alert names and a user is in, as the domain sees it: today a US county (5-digit
//! FIPS) or a US ZIP code. Another country's warning area (a German district, a MeteoAlarm
//! region) is another variant, not a rewrite: the poll, the event memory and the fan-out only
//! compare places and write them as codes.

use std::fmt;

use crate::state::AreaKey;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// A US county: its 5-digit FIPS code (`40027`).
    UsCounty(String),
    /// A US ZIP code (`73019`).
    UsZip(String),
}

impl Place {
    pub fn county(fips: &str) -> Self {
        Place::UsCounty(fips.to_owned())
    }

    pub fn zip(zip: &str) -> Self {
        Place::UsZip(zip.to_owned())
    }

    /// The place as one short code, a letter for its kind then its digits (`c40027`,
    /// `z73019`): how the state table indexes users and how event records list places.
    pub fn code(&self) -> String {
        match self {
            Place::UsCounty(fips) => format!("c{fips}"),
            Place::UsZip(zip) => format!("z{zip}"),
        }
    }

    /// What [`Place::code`] wrote, if it is one.
    pub fn parse(code: &str) -> Option<Self> {
        let (kind, digits) = code.split_at_checked(1)?;
        if digits.len() != 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        match kind {
            "c" => Some(Place::county(digits)),
            "z" => Some(Place::zip(digits)),
            _ => None,
        }
    }

    /// The key the state table indexes the users of this place under.
    pub fn key(&self) -> AreaKey {
        match self {
            Place::UsCounty(fips) => AreaKey::county(fips),
            Place::UsZip(zip) => AreaKey::zip(zip),
        }
    }
}

impl fmt::Display for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_match_the_index_keys() {
        for place in [Place::county("40027"), Place::zip("02134")] {
            assert_eq!(Place::parse(&place.code()), Some(place.clone()));
            assert_eq!(place.key().as_str(), place.code());
        }
        for bad in ["", "c", "c4002", "c400271", "x40027", "c4002x", "é4002"] {
            assert_eq!(Place::parse(bad), None, "{bad}");
        }
    }
}
