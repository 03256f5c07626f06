//! A user's postal code → the warning areas of their country's feed, and how Alexa says them.
//! One place for every country: the skill asks "where is this?" and stores the answer, never
//! knowing which table answered it.

use super::place::Place;
use super::{county, describe, table};

/// Where a postal code lies, for the feeds this function serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// A served country and a code its table knows: the code as stored (trimmed, the form the
    /// table reads) and its places (every one a border code touches).
    Placed {
        country: &'static str,
        postal: String,
        places: Vec<Place>,
    },
    /// A served country, but its table does not know the code.
    Unknown,
    /// No feed serves this country yet.
    NotServed,
}

/// ISO codes a device in a US territory may report instead of `US`: Puerto Rico, Guam, the US
/// Virgin Islands, American Samoa, the Northern Mariana Islands.
pub const US_TERRITORIES: [&str; 5] = ["PR", "GU", "VI", "AS", "MP"];

/// Places the postal code `postal` of the country `country` (ISO 3166, as the Device Address
/// API gives it).
///
/// A device in a US territory may report the territory's own code: where the ZIP table
/// covers its postal code it is in the US (NWS covers the territories), else it is not served.
pub fn locate(country: &str, postal: &str) -> Located {
    let country = country.trim();
    match country {
        "US" => us(postal),
        territory if US_TERRITORIES.contains(&territory) => match us(postal) {
            Located::Unknown => Located::NotServed,
            placed => placed,
        },
        _ => Located::NotServed,
    }
}

fn us(postal: &str) -> Located {
    // ZIP+4 ("73019-0390") is placed by its first five digits.
    let zip = postal.split('-').next().unwrap_or_default().trim();
    match table::counties(zip) {
        Some(counties) => Located::Placed {
            country: "US",
            postal: zip.to_owned(),
            places: counties.map(|c| Place::county(c.fips)).collect(),
        },
        None => Located::Unknown,
    }
}

/// The place as Alexa says it: "Cleveland County, Oklahoma"; `None` for a place no table
/// names (a code from an older table).
pub fn say(place: &Place) -> Option<String> {
    match place {
        Place::UsCounty(fips) => county(fips).map(describe),
        Place::UsZip(_) | Place::DeDistrict(_) | Place::EmmaRegion(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn us_codes_are_placed_by_county_and_territories_count_as_us() {
        match locate("US", "73019-0390") {
            Located::Placed {
                country,
                postal,
                places,
            } => {
                assert_eq!((country, postal.as_str()), ("US", "73019"));
                assert_eq!(places, [Place::county("40027")]);
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(locate("US", "00000"), Located::Unknown);
        for (country, zip) in [("PR", "00601"), ("GU", "96910"), ("VI", "00802")] {
            assert!(
                matches!(locate(country, zip), Located::Placed { country: "US", .. }),
                "{country} {zip}"
            );
        }
        assert_eq!(locate("PR", "12"), Located::NotServed);
        assert_eq!(locate("FR", "75001"), Located::NotServed);
        assert_eq!(
            say(&Place::county("40027")).as_deref(),
            Some("Cleveland County, Oklahoma")
        );
    }
}
