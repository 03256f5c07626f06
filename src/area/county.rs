//! A county (or equivalent: parish, borough, census area, independent city, municipio) as
//! alerts name it, by 5-digit FIPS code, and how Alexa says it: "Cleveland County, Oklahoma".
//!
//! The spoken name is decided once, by the generator (`scripts/gen-zip-counties.py`): the
//! source's name plus "County", "Parish" in Louisiana, nothing where the type is part of the
//! name or is not said (Alaska's boroughs and census areas, Virginia's independent cities,
//! Puerto Rico's municipios, DC and the territories); "St" is spelt "Saint" so it is not read
//! as "street". The state is said in full.

use super::data::{COUNTIES, STATES};

/// A county of the ZIP table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct County {
    /// 5-digit FIPS code, state + county (`"40027"`); an alert's `geocode.SAME` is `"0"` + it.
    pub fips: &'static str,
    /// The name as spoken (`"Cleveland County"`, `"Saint Bernard Parish"`, `"Anchorage"`).
    pub name: &'static str,
    /// The USPS state abbreviation (`"OK"`).
    pub state: &'static str,
}

/// A state, DC, territory or freely associated state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct State {
    /// 2-digit FIPS code (`"40"`).
    pub fips: &'static str,
    /// USPS abbreviation (`"OK"`).
    pub abbr: &'static str,
    /// The name as spoken (`"Oklahoma"`, `"U.S. Virgin Islands"`).
    pub name: &'static str,
}

/// The county with this 5-digit FIPS code, if a ZIP of the table lies in it.
pub fn county(fips: &str) -> Option<&'static County> {
    let i = COUNTIES.binary_search_by(|c| c.fips.cmp(fips)).ok()?;
    Some(&COUNTIES[i])
}

/// The full name of the state with this USPS abbreviation (`"OK"` → `"Oklahoma"`).
pub fn state_name(abbr: &str) -> Option<&'static str> {
    STATES.iter().find(|s| s.abbr == abbr).map(|s| s.name)
}

/// The county as Alexa says it: `"Cleveland County, Oklahoma"`.
pub fn describe(county: &County) -> String {
    let state = state_name(county.state).unwrap_or(county.state);
    format!("{}, {state}", county.name)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn said(fips: &str) -> String {
        describe(county(fips).unwrap_or_else(|| panic!("{fips} is not in the table")))
    }

    #[test]
    fn counties_are_said_with_their_type_and_state() {
        assert_eq!(said("40027"), "Cleveland County, Oklahoma");
        assert_eq!(said("36061"), "New York County, New York");
        assert_eq!(said("25025"), "Suffolk County, Massachusetts");
        assert_eq!(said("02020"), "Anchorage, Alaska");
        assert_eq!(said("72001"), "Adjuntas, Puerto Rico");
        assert_eq!(said("22087"), "Saint Bernard Parish, Louisiana");
        assert_eq!(said("51760"), "Richmond City, Virginia");
        assert_eq!(said("51036"), "Charles City County, Virginia");
        assert_eq!(said("29510"), "Saint Louis City, Missouri");
        assert_eq!(said("51570"), "Colonial Heights City, Virginia");
        assert_eq!(said("11001"), "Washington, District of Columbia");
        assert_eq!(said("78010"), "Saint Croix, U.S. Virgin Islands");
        assert_eq!(said("66010"), "Guam, Guam");
    }

    #[test]
    fn unknown_fips_codes_give_none() {
        for fips in [
            "", "00000", "40", "4002", "400270", "40028", "99999", "040027",
        ] {
            assert_eq!(county(fips), None, "{fips:?}");
        }
    }

    #[test]
    fn every_county_has_a_known_state_and_a_clean_name() {
        assert!(
            COUNTIES.windows(2).all(|w| w[0].fips < w[1].fips),
            "sorted, no duplicate"
        );
        assert!(STATES.windows(2).all(|w| w[0].fips < w[1].fips));
        for c in &COUNTIES {
            let state = STATES.iter().find(|s| s.abbr == c.state);
            let state = state.unwrap_or_else(|| panic!("{c:?}: unknown state"));
            assert_eq!(&c.fips[..2], state.fips, "{c:?}");
            assert!(
                c.fips.len() == 5 && c.fips.bytes().all(|b| b.is_ascii_digit()),
                "{c:?}"
            );
            assert!(!c.name.is_empty() && c.name.trim() == c.name, "{c:?}");
            assert!(
                !c.name.starts_with("St ") && !c.name.contains("St. "),
                "{c:?}"
            );
        }
        for abbr in ["AL", "WY", "DC", "PR", "GU", "VI", "AS", "MP", "UM"] {
            assert!(state_name(abbr).is_some(), "{abbr}");
        }
        assert_eq!(state_name("XX"), None);
        assert_eq!(
            STATES
                .iter()
                .filter(|s| s.fips.as_bytes()[0] < b'6')
                .count(),
            51
        );
    }

    #[test]
    fn a_county_of_unknown_state_is_said_with_its_abbreviation() {
        let c = County {
            fips: "99001",
            name: "Nowhere County",
            state: "XX",
        };
        assert_eq!(describe(&c), "Nowhere County, XX");
    }
}
