//! A place an alert names and a user is in, as the domain sees it: a US county (5-digit FIPS)
//! or ZIP code, a German district (the 5-digit Kreis key DWD's warn cells start with), or a
//! MeteoAlarm warning region (its `EMMA_ID`, `UK116`). The poll, the event memory and the
//! fan-out only compare places and write them as codes; only the feeds that name them and the
//! postal tables that place users know what each kind means.

use std::fmt;

use crate::state::AreaKey;

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    /// A US county: its 5-digit FIPS code (`40027`).
    UsCounty(String),
    /// A US ZIP code (`73019`).
    UsZip(String),
    /// A German district (Kreis or kreisfreie Stadt): its 5-digit key (`05315`, Köln).
    DeDistrict(String),
    /// A MeteoAlarm warning region: its `EMMA_ID`, two letters of the country and three
    /// digits (`UK116`).
    EmmaRegion(String),
}

impl Place {
    pub fn county(fips: &str) -> Self {
        Place::UsCounty(fips.to_owned())
    }

    pub fn zip(zip: &str) -> Self {
        Place::UsZip(zip.to_owned())
    }

    pub fn district(key: &str) -> Self {
        Place::DeDistrict(key.to_owned())
    }

    pub fn emma(id: &str) -> Self {
        Place::EmmaRegion(id.to_owned())
    }

    /// An `EMMA_ID` as feeds write it (`UK116`, any case), if it has that shape.
    pub fn parse_emma(id: &str) -> Option<Self> {
        let id = id.trim().to_ascii_uppercase();
        let (country, digits) = id.split_at_checked(2)?;
        (country.bytes().all(|b| b.is_ascii_uppercase())
            && digits.len() == 3
            && digits.bytes().all(|b| b.is_ascii_digit()))
        .then_some(Place::EmmaRegion(id))
    }
    /// The place as one short code, a letter for its kind then its code (`c40027`, `z73019`,
    /// `d05315`, `mUK116`): how the state table indexes users and how event records list
    /// places.
    pub fn code(&self) -> String {
        match self {
            Place::UsCounty(fips) => format!("c{fips}"),
            Place::UsZip(zip) => format!("z{zip}"),
            Place::DeDistrict(key) => format!("d{key}"),
            Place::EmmaRegion(id) => format!("m{id}"),
        }
    }

    /// What [`Place::code`] wrote, if it is one.
    pub fn parse(code: &str) -> Option<Self> {
        let (kind, rest) = code.split_at_checked(1)?;
        let five_digits = rest.len() == 5 && rest.bytes().all(|b| b.is_ascii_digit());
        match kind {
            "c" if five_digits => Some(Place::county(rest)),
            "z" if five_digits => Some(Place::zip(rest)),
            "d" if five_digits => Some(Place::district(rest)),
            "m" => Place::parse_emma(rest).filter(|p| p == &Place::EmmaRegion(rest.to_owned())),
            _ => None,
        }
    }

    /// The key the state table indexes the users of this place under (the same text as
    /// [`Place::code`]).
    pub fn key(&self) -> AreaKey {
        AreaKey::from_place_code(self.code())
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
        for place in [
            Place::county("40027"),
            Place::zip("02134"),
            Place::district("05315"),
            Place::emma("UK116"),
        ] {
            assert_eq!(Place::parse(&place.code()), Some(place.clone()));
            assert_eq!(place.key().as_str(), place.code());
            assert_eq!(AreaKey::parse(&place.code()), Some(place.key()));
        }
        assert_eq!(Place::parse_emma(" uk116"), Some(Place::emma("UK116")));
        for bad in [
            "", "c", "c4002", "c400271", "x40027", "c4002x", "é4002", "d0531", "mUK11", "muk116",
            "mU1116", "mUK1160", "m",
        ] {
            assert_eq!(Place::parse(bad), None, "{bad}");
        }
    }
}
