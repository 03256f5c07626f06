//! A user's postal code → the warning areas of their country's feed, and how Alexa says them.
//! One place for every country: the skill asks "where is this?" and stores the answer, never
//! knowing which table answered it.

use super::place::Place;
use super::{county, de, describe, gb, table};

/// Where a postal code lies, for the feeds this function serves.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Located {
    /// A served country and a code its table knows: the code as stored (the form the table
    /// reads: a US ZIP, a German Postleitzahl, a British outward code, which is all the
    /// warnings need of a postcode) and its places (every one a border code touches).
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
        "DE" => germany(postal),
        "GB" => britain(postal),
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

/// A German Postleitzahl → its districts (Kreise), which DWD's warn cells name.
fn germany(postal: &str) -> Located {
    let Some(plz) = de::parse(postal) else {
        return Located::Unknown;
    };
    match de::districts(plz) {
        Some(districts) => Located::Placed {
            country: "DE",
            postal: format!("{plz:05}"),
            places: districts.map(Place::district).collect(),
        },
        None => Located::Unknown,
    }
}

/// A British postcode → its outward code's Met Office warning regions and county-level areas,
/// both as MeteoAlarm codes (`UK116`, `UK258`): MeteoAlarm named warnings by region until
/// October 2023 and by county or unitary authority since (`docs/europe-research.md`), so a
/// user is placed under both and hears a warning whichever a feed names. Only the outward code
/// is kept: the warnings need no more of the address.
fn britain(postal: &str) -> Located {
    let Some(outward) = gb::parse_outward(postal) else {
        return Located::Unknown;
    };
    match gb::regions(&outward) {
        Some(regions) => {
            let areas = gb::areas(&outward).into_iter().flatten();
            let mut places: Vec<Place> = regions.chain(areas).map(Place::emma).collect();
            places.sort();
            places.dedup();
            Located::Placed {
                country: "GB",
                postal: outward,
                places,
            }
        }
        None => Located::Unknown,
    }
}

/// The place as Alexa says it: "Cleveland County, Oklahoma", "Köln", "London and South East
/// England", "Greater London"; `None` for a place no table names (a code from an older table).
pub fn say(place: &Place) -> Option<String> {
    match place {
        Place::UsCounty(fips) => county(fips).map(describe),
        Place::DeDistrict(key) => de::district_name(key).map(str::to_owned),
        Place::EmmaRegion(code) => gb::region_name(code)
            .or_else(|| gb::area_name(code))
            .map(str::to_owned),
        Place::UsZip(_) => None,
    }
}

/// A user's places as Alexa says them: a British user, placed under both a Met Office region
/// and its finer areas, is told the areas ("Greater London"), not both.
pub fn say_all(places: &[Place]) -> Vec<String> {
    let is_area = |p: &Place| matches!(p, Place::EmmaRegion(code) if gb::area_name(code).is_some());
    let has_areas = places.iter().any(is_area);
    places
        .iter()
        .filter(|p| !has_areas || !matches!(p, Place::EmmaRegion(_)) || is_area(p))
        .filter_map(say)
        .collect()
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
        assert_eq!(locate("AT", "1010"), Located::NotServed);
        assert_eq!(locate("FR", "75001"), Located::NotServed);
        assert_eq!(
            say(&Place::county("40027")).as_deref(),
            Some("Cleveland County, Oklahoma")
        );
    }

    fn placed(country: &str, postal: &str) -> (String, Vec<Place>) {
        match locate(country, postal) {
            Located::Placed { postal, places, .. } => (postal, places),
            other => panic!("{country} {postal}: {other:?}"),
        }
    }

    #[test]
    fn german_codes_are_placed_by_district_and_british_ones_by_warning_region() {
        assert_eq!(
            placed("DE", " 50667 "),
            ("50667".to_owned(), vec![Place::district("05315")])
        );
        // A code spoken with its leading zero dropped; Dresden.
        assert_eq!(placed("DE", "1067").0, "01067");
        assert_eq!(locate("DE", "00000"), Located::Unknown);
        assert_eq!(locate("DE", "SW1A 1AA"), Located::Unknown);
        // The postcode as typed in the Alexa app, with or without the space, any case: only
        // the outward code is kept.
        for typed in ["SW1A 1AA", "sw1a1aa", " Sw1A 1aA"] {
            assert_eq!(
                placed("GB", typed),
                (
                    "SW1A".to_owned(),
                    vec![Place::emma("UK116"), Place::emma("UK258")]
                ),
                "{typed}"
            );
        }
        assert_eq!(
            say_all(&placed("GB", "SW1A 1AA").1),
            ["Greater London"],
            "the area, not the region too"
        );
        assert_eq!(locate("GB", "ZZ99 9ZZ"), Located::Unknown);
        assert_eq!(locate("GB", "50667"), Located::Unknown);
        assert_eq!(say(&Place::district("05315")).as_deref(), Some("Köln"));
        assert_eq!(
            say(&Place::emma("UK116")).as_deref(),
            Some("London and South East England")
        );
    }
}
