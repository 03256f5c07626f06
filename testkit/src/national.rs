//! A generated national NWS alerts feed: what `api.weather.gov/alerts/active` (no `area=`)
//! returns on a busy day, for the poll benchmark.
//!
//! [`national_feed`] is deterministic (a fixed seed gives the same bytes for the same `now`)
//! and needs no `rand`: a xorshift generator picks from tables of real NWS values. Every
//! feature has the field shapes of the API (see `tests/fixtures/nws/poll-1.json` and
//! `docs/nws-research.md` §4): `id` a URL, `geometry` a Polygon for storm-based products (20
//! to 200 points) and `null` for zone-based ones, `properties` with the CAP identifier
//! (`urn:oid:2.49.0.1.840.0.<hex>.001.1`), `geocode.SAME` / `geocode.UGC`, `affectedZones`,
//! `references` (some `Update`s and `Cancel`s name earlier alerts of the same feed), local
//! times with their UTC offset relative to `now`, a realistic mix of events, severities and
//! message types, descriptions of several hundred to a few thousand characters, and
//! `parameters` whose values are arrays of strings (VTEC, AWIPS and WMO identifiers, and for
//! tornado and severe thunderstorm warnings the IBW tags). The body is pretty-printed with a
//! 4-space indent, as the API serves it.
//!
//! The feed carries no `{{` (the [`crate::feed::FeedServer`] would read it as a time
//! template), so [`write_national_feed`]'s file can be served as it is.

use std::path::PathBuf;

use chrono::{DateTime, Duration, FixedOffset, SecondsFormat, Utc};
use serde::Serialize;
use serde_json::{json, Map, Value};

use crate::Project;

/// The number of alerts of a busy national feed, the benchmark's default.
pub const DEFAULT_ALERTS: usize = 500;
/// The seed the benchmark uses.
pub const DEFAULT_SEED: u64 = 0x5eed_2026_0001;

/// xorshift64*: small, fast, deterministic; good enough to pick from tables.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // Never zero (xorshift's fixed point); the first outputs are mixed in.
        let mut rng = Rng((seed ^ 0x9e37_79b9_7f4a_7c15) | 1);
        for _ in 0..4 {
            rng.next();
        }
        rng
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Uniform in `lo..=hi`.
    fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.next() % (hi - lo + 1)
    }

    /// True with probability `percent` / 100.
    fn chance(&mut self, percent: u64) -> bool {
        self.next() % 100 < percent
    }

    fn unit(&mut self) -> f64 {
        (self.next() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[(self.next() % items.len() as u64) as usize]
    }

    fn hex(&mut self, digits: usize) -> String {
        let mut out = String::with_capacity(digits);
        while out.len() < digits {
            out.push_str(&format!("{:016x}", self.next()));
        }
        out.truncate(digits);
        out
    }
}

/// Which kind of zone an event is issued for.
#[derive(Clone, Copy, PartialEq)]
enum Zones {
    /// Counties (`OKC027`): storm-based warnings, watches, flood products.
    County,
    /// Public forecast zones (`OKZ025`): winter, wind, heat, fire weather.
    Forecast,
    /// Coastal marine zones (`GMZ250`).
    Marine,
}

/// One NWS event as the feed carries it.
struct Kind {
    event: &'static str,
    /// Relative frequency in the national feed.
    weight: u64,
    severity: &'static str,
    certainty: &'static str,
    urgency: &'static str,
    response: &'static str,
    /// AWIPS product category (`TOR` in `TOROUN`) and the WMO heading's first part.
    product: &'static str,
    wmo: &'static str,
    /// VTEC phenomenon and significance (`TO.W`); `None` for products without VTEC.
    vtec: Option<&'static str>,
    /// Percent of these alerts with a polygon.
    polygon: u64,
    zones: Zones,
    /// How long the hazard lasts from `now`, in minutes.
    lasts: (u64, u64),
    /// Percent with `ends: null` (until further notice).
    open_ended: u64,
}

const fn kind(
    event: &'static str,
    weight: u64,
    (severity, certainty, urgency, response): (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
    ),
    (product, wmo, vtec): (&'static str, &'static str, Option<&'static str>),
    (polygon, zones): (u64, Zones),
    lasts: (u64, u64),
    open_ended: u64,
) -> Kind {
    Kind {
        event,
        weight,
        severity,
        certainty,
        urgency,
        response,
        product,
        wmo,
        vtec,
        polygon,
        zones,
        lasts,
        open_ended,
    }
}

use Zones::{County, Forecast, Marine};

/// A busy day's mix: many advisories, fewer warnings and watches, a tropical system.
#[rustfmt::skip]
const KINDS: &[Kind] = &[
    kind("Flood Advisory", 8, ("Minor", "Likely", "Expected", "Avoid"), ("FLS", "WGUS83", Some("FA.Y")), (100, County), (120, 360), 0),
    kind("Flood Warning", 9, ("Severe", "Likely", "Expected", "Avoid"), ("FLW", "WGUS44", Some("FL.W")), (100, County), (720, 4320), 30),
    kind("Flood Watch", 5, ("Severe", "Possible", "Future", "Prepare"), ("FFA", "WGUS63", Some("FF.A")), (0, Forecast), (360, 1440), 0),
    kind("Flash Flood Warning", 3, ("Severe", "Likely", "Immediate", "Avoid"), ("FFW", "WGUS54", Some("FF.W")), (100, County), (60, 240), 0),
    kind("Wind Advisory", 9, ("Moderate", "Likely", "Expected", "Execute"), ("NPW", "WWUS73", Some("WI.Y")), (0, Forecast), (240, 900), 0),
    kind("High Wind Warning", 3, ("Severe", "Likely", "Expected", "Prepare"), ("NPW", "WWUS75", Some("HW.W")), (0, Forecast), (360, 1200), 0),
    kind("Heat Advisory", 6, ("Moderate", "Likely", "Expected", "Execute"), ("NPW", "WWUS74", Some("HT.Y")), (0, Forecast), (360, 1440), 0),
    kind("Extreme Heat Warning", 2, ("Severe", "Likely", "Expected", "Execute"), ("NPW", "WWUS74", Some("XH.W")), (0, Forecast), (720, 2880), 0),
    kind("Winter Weather Advisory", 9, ("Moderate", "Likely", "Expected", "Execute"), ("WSW", "WWUS43", Some("WW.Y")), (0, Forecast), (360, 1440), 0),
    kind("Winter Storm Warning", 4, ("Severe", "Likely", "Expected", "Prepare"), ("WSW", "WWUS43", Some("WS.W")), (0, Forecast), (720, 2160), 0),
    kind("Winter Storm Watch", 3, ("Severe", "Possible", "Future", "Prepare"), ("WSW", "WWUS43", Some("WS.A")), (0, Forecast), (1440, 3600), 0),
    kind("Blizzard Warning", 1, ("Severe", "Likely", "Expected", "Prepare"), ("WSW", "WWUS43", Some("BZ.W")), (0, Forecast), (720, 1800), 0),
    kind("Ice Storm Warning", 1, ("Severe", "Likely", "Expected", "Prepare"), ("WSW", "WWUS43", Some("IS.W")), (0, Forecast), (720, 1800), 0),
    kind("Lake Effect Snow Warning", 1, ("Severe", "Likely", "Expected", "Prepare"), ("WSW", "WWUS41", Some("LE.W")), (0, Forecast), (720, 2160), 0),
    kind("Cold Weather Advisory", 3, ("Moderate", "Likely", "Expected", "Execute"), ("NPW", "WWUS73", Some("CW.Y")), (0, Forecast), (360, 900), 0),
    kind("Extreme Cold Warning", 1, ("Severe", "Likely", "Expected", "Execute"), ("NPW", "WWUS73", Some("EC.W")), (0, Forecast), (360, 1200), 0),
    kind("Tornado Warning", 2, ("Extreme", "Observed", "Immediate", "Shelter"), ("TOR", "WFUS54", Some("TO.W")), (100, County), (20, 60), 0),
    kind("Tornado Watch", 2, ("Extreme", "Possible", "Future", "Monitor"), ("WOU", "WOUS64", Some("TO.A")), (0, County), (180, 480), 0),
    kind("Severe Thunderstorm Warning", 4, ("Severe", "Observed", "Immediate", "Shelter"), ("SVR", "WUUS54", Some("SV.W")), (100, County), (20, 60), 0),
    kind("Severe Thunderstorm Watch", 2, ("Severe", "Possible", "Future", "Monitor"), ("WOU", "WOUS64", Some("SV.A")), (0, County), (180, 480), 0),
    kind("Special Weather Statement", 5, ("Moderate", "Observed", "Expected", "Execute"), ("SPS", "WWUS84", None), (70, Forecast), (30, 120), 0),
    kind("Severe Weather Statement", 2, ("Severe", "Observed", "Immediate", "Shelter"), ("SVS", "WWUS54", None), (100, County), (15, 45), 0),
    kind("Small Craft Advisory", 9, ("Minor", "Likely", "Expected", "Avoid"), ("MWW", "WHUS71", Some("SC.Y")), (0, Marine), (360, 1440), 0),
    kind("Gale Warning", 3, ("Moderate", "Likely", "Expected", "Avoid"), ("MWW", "WHUS72", Some("GL.W")), (0, Marine), (360, 1440), 0),
    kind("Special Marine Warning", 1, ("Moderate", "Observed", "Immediate", "Avoid"), ("SMW", "WHUS52", Some("MA.W")), (100, Marine), (30, 90), 0),
    kind("Dense Fog Advisory", 3, ("Minor", "Likely", "Expected", "Avoid"), ("NPW", "WWUS74", Some("FG.Y")), (0, Forecast), (120, 480), 0),
    kind("Red Flag Warning", 3, ("Severe", "Likely", "Expected", "Prepare"), ("RFW", "WWUS85", Some("FW.W")), (0, Forecast), (360, 900), 0),
    kind("Fire Weather Watch", 1, ("Severe", "Possible", "Future", "Prepare"), ("RFW", "WWUS85", Some("FW.A")), (0, Forecast), (1440, 2880), 0),
    kind("Frost Advisory", 2, ("Minor", "Likely", "Expected", "Execute"), ("NPW", "WWUS73", Some("FR.Y")), (0, Forecast), (360, 720), 0),
    kind("Freeze Warning", 2, ("Moderate", "Likely", "Expected", "Execute"), ("NPW", "WWUS73", Some("FZ.W")), (0, Forecast), (360, 720), 0),
    kind("Rip Current Statement", 2, ("Moderate", "Likely", "Expected", "Avoid"), ("CFW", "WHUS42", Some("RP.S")), (0, Forecast), (360, 1440), 0),
    kind("Coastal Flood Advisory", 2, ("Minor", "Likely", "Expected", "Execute"), ("CFW", "WHUS42", Some("CF.Y")), (0, Forecast), (180, 720), 0),
    kind("Hurricane Warning", 1, ("Extreme", "Likely", "Expected", "Evacuate"), ("TCV", "WTUS82", Some("HU.W")), (0, Forecast), (1440, 4320), 0),
    kind("Hurricane Watch", 1, ("Severe", "Possible", "Future", "Prepare"), ("TCV", "WTUS82", Some("HU.A")), (0, Forecast), (1440, 4320), 0),
    kind("Tropical Storm Warning", 1, ("Severe", "Likely", "Expected", "Prepare"), ("TCV", "WTUS82", Some("TR.W")), (0, Forecast), (1440, 4320), 0),
    kind("Storm Surge Warning", 1, ("Extreme", "Likely", "Expected", "Evacuate"), ("TCV", "WTUS82", Some("SS.W")), (0, Forecast), (1440, 4320), 0),
    kind("Air Quality Alert", 2, ("Unknown", "Unknown", "Unknown", "Monitor"), ("AQA", "AEUS71", None), (0, Forecast), (600, 1440), 0),
    kind("Hydrologic Outlook", 1, ("Unknown", "Possible", "Future", "Monitor"), ("ESF", "FGUS73", None), (0, County), (1440, 4320), 40),
];

/// A forecast office: its id, its name in `senderName`, its state, UTC offset and area.
struct Office {
    id: &'static str,
    name: &'static str,
    state: &'static str,
    /// State FIPS code (the `SAME` codes' middle digits).
    fips: u32,
    /// Standard-time UTC offset in hours, and the zone's abbreviation.
    offset: i32,
    tz: &'static str,
    /// Centre of the office's area (lat, lon).
    centre: (f64, f64),
    /// A marine zone prefix, for coastal offices.
    marine: Option<&'static str>,
}

const fn office(
    id: &'static str,
    name: &'static str,
    state: &'static str,
    fips: u32,
    (offset, tz): (i32, &'static str),
    centre: (f64, f64),
    marine: Option<&'static str>,
) -> Office {
    Office {
        id,
        name,
        state,
        fips,
        offset,
        tz,
        centre,
        marine,
    }
}

const EST: (i32, &str) = (-5, "EST");
const CST: (i32, &str) = (-6, "CST");
const MST: (i32, &str) = (-7, "MST");
const PST: (i32, &str) = (-8, "PST");

#[rustfmt::skip]
const OFFICES: &[Office] = &[
    office("OUN", "Norman OK", "OK", 40, CST, (35.2, -97.4), None),
    office("TSA", "Tulsa OK", "OK", 40, CST, (36.1, -95.9), None),
    office("FWD", "Fort Worth TX", "TX", 48, CST, (32.8, -97.3), None),
    office("HGX", "Houston/Galveston TX", "TX", 48, CST, (29.8, -95.4), Some("GMZ")),
    office("LUB", "Lubbock TX", "TX", 48, CST, (33.6, -101.8), None),
    office("ICT", "Wichita KS", "KS", 20, CST, (37.7, -97.3), None),
    office("TOP", "Topeka KS", "KS", 20, CST, (39.0, -95.7), None),
    office("OAX", "Omaha/Valley NE", "NE", 31, CST, (41.3, -96.1), None),
    office("DMX", "Des Moines IA", "IA", 19, CST, (41.6, -93.6), None),
    office("MPX", "Twin Cities/Chanhassen MN", "MN", 27, CST, (44.9, -93.3), None),
    office("LOT", "Chicago IL", "IL", 17, CST, (41.8, -88.1), Some("LMZ")),
    office("LSX", "St Louis MO", "MO", 29, CST, (38.6, -90.6), None),
    office("MEG", "Memphis TN", "TN", 47, CST, (35.1, -89.9), None),
    office("JAN", "Jackson MS", "MS", 28, CST, (32.3, -90.2), None),
    office("LIX", "New Orleans LA", "LA", 22, CST, (30.0, -90.1), Some("GMZ")),
    office("BMX", "Birmingham AL", "AL", 1, CST, (33.5, -86.8), None),
    office("FFC", "Peachtree City GA", "GA", 13, EST, (33.4, -84.6), None),
    office("MFL", "Miami FL", "FL", 12, EST, (25.8, -80.3), Some("AMZ")),
    office("TBW", "Tampa Bay Ruskin FL", "FL", 12, EST, (27.7, -82.4), Some("GMZ")),
    office("CHS", "Charleston SC", "SC", 45, EST, (32.9, -80.0), Some("AMZ")),
    office("RAH", "Raleigh NC", "NC", 37, EST, (35.8, -78.7), None),
    office("LWX", "Baltimore MD/Washington DC", "MD", 24, EST, (38.9, -77.5), Some("ANZ")),
    office("OKX", "New York NY", "NY", 36, EST, (40.9, -72.9), Some("ANZ")),
    office("BOX", "Boston/Norton MA", "MA", 25, EST, (42.0, -71.2), Some("ANZ")),
    office("BUF", "Buffalo NY", "NY", 36, EST, (42.9, -78.7), Some("LEZ")),
    office("CLE", "Cleveland OH", "OH", 39, EST, (41.4, -81.9), Some("LEZ")),
    office("DTX", "Detroit/Pontiac MI", "MI", 26, EST, (42.7, -83.5), Some("LHZ")),
    office("IND", "Indianapolis IN", "IN", 18, EST, (39.7, -86.3), None),
    office("PBZ", "Pittsburgh PA", "PA", 42, EST, (40.5, -80.2), None),
    office("BOU", "Denver CO", "CO", 8, MST, (39.8, -104.9), None),
    office("SLC", "Salt Lake City UT", "UT", 49, MST, (40.8, -111.9), None),
    office("PSR", "Phoenix AZ", "AZ", 4, MST, (33.4, -112.1), None),
    office("ABQ", "Albuquerque NM", "NM", 35, MST, (35.0, -106.6), None),
    office("BYZ", "Billings MT", "MT", 30, MST, (45.8, -108.5), None),
    office("BIS", "Bismarck ND", "ND", 38, CST, (46.8, -100.8), None),
    office("SEW", "Seattle WA", "WA", 53, PST, (47.7, -122.3), Some("PZZ")),
    office("PQR", "Portland OR", "OR", 41, PST, (45.5, -122.7), Some("PZZ")),
    office("LOX", "Los Angeles/Oxnard CA", "CA", 6, PST, (34.2, -118.6), Some("PZZ")),
    office("STO", "Sacramento CA", "CA", 6, PST, (38.6, -121.5), None),
    office("REV", "Reno NV", "NV", 32, PST, (39.5, -119.8), None),
];

#[rustfmt::skip]
const COUNTIES: &[&str] = &[
    "Adams", "Allen", "Benton", "Boone", "Butler", "Caddo", "Calhoun", "Canadian", "Carroll",
    "Cass", "Clark", "Clay", "Cleveland", "Clinton", "Craig", "Crawford", "Dallas", "Decatur",
    "Douglas", "Franklin", "Garvin", "Grady", "Grant", "Greene", "Hamilton", "Harrison",
    "Henry", "Jackson", "Jasper", "Jefferson", "Johnson", "Knox", "Lake", "Lawrence", "Lee",
    "Lincoln", "Logan", "Madison", "Marion", "Marshall", "McClain", "Monroe", "Montgomery",
    "Morgan", "Muskogee", "Osage", "Perry", "Pike", "Polk", "Pottawatomie", "Putnam",
    "Randolph", "Rogers", "Scott", "Shelby", "Stephens", "Sumner", "Tulsa", "Union",
    "Wagoner", "Warren", "Washington", "Wayne", "Webster", "Wood",
];

#[rustfmt::skip]
const PARTS: &[&str] = &[
    "Northern", "Southern", "Eastern", "Western", "Central", "Northwest", "Southeast",
];

#[rustfmt::skip]
const PLACES: &[&str] = &[
    "Norman", "Moore", "Newcastle", "Blanchard", "Purcell", "Noble", "Lexington",
    "Washington", "Goldsby", "Slaughterville", "Tuttle", "Mustang", "Yukon", "El Reno",
    "Chickasha", "Pauls Valley", "Wayne", "Dibble", "Cole", "Tecumseh", "Shawnee", "Harrah",
    "Choctaw", "Midwest City", "Del City", "Bethany", "Edmond", "Guthrie", "Stillwater",
    "Perkins",
];

#[rustfmt::skip]
const COMPASS: &[&str] = &[
    "north", "northeast", "east", "southeast", "south", "southwest", "west", "northwest",
];

/// Pretty-printed with a 4-space indent, as api.weather.gov serves it.
fn pretty(value: &Value) -> Vec<u8> {
    let mut out = Vec::with_capacity(8 * 1024 * 1024);
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut serializer = serde_json::Serializer::with_formatter(&mut out, formatter);
    value
        .serialize(&mut serializer)
        .expect("a JSON value serializes");
    out
}

/// One zone of an alert: its UGC code, the SAME code of its county, its name.
struct Zone {
    ugc: String,
    same: String,
    name: String,
}

/// An alert issued earlier in the feed, that later messages may reference.
struct Issued {
    id: String,
    event: &'static str,
    sent: String,
}

/// Time formats of the feed: RFC 3339 in the office's local (standard) time.
fn local(t: DateTime<Utc>, office: &Office) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(office.offset * 3600).expect("a valid offset");
    t.with_timezone(&offset)
}

fn rfc3339(t: DateTime<Utc>, office: &Office) -> String {
    local(t, office).to_rfc3339_opts(SecondsFormat::Secs, false)
}

/// `November 25 at 10:05AM CST`, as headlines say it.
fn spoken(t: DateTime<Utc>, office: &Office) -> String {
    format!(
        "{} {}",
        local(t, office).format("%B %-d at %-I:%M%p"),
        office.tz
    )
}

/// `1005 AM CST`, as descriptions say it.
fn clock(t: DateTime<Utc>, office: &Office) -> String {
    format!("{} {}", local(t, office).format("%-I%M %p"), office.tz)
}

/// VTEC time: `251125T1545Z`.
fn vtec_time(t: DateTime<Utc>) -> String {
    t.format("%y%m%dT%H%MZ").to_string()
}

/// A Polygon of `points` distinct corners around a centre, closed (first point repeated).
fn polygon(rng: &mut Rng, centre: (f64, f64), points: usize) -> Value {
    let (lat0, lon0) = (
        centre.0 + (rng.unit() - 0.5) * 3.0,
        centre.1 + (rng.unit() - 0.5) * 4.0,
    );
    let radius = 0.08 + rng.unit() * 0.6;
    let round = |x: f64| (x * 10_000.0).round() / 10_000.0;
    let mut ring: Vec<Value> = (0..points)
        .map(|i| {
            let angle = i as f64 / points as f64 * std::f64::consts::TAU;
            let r = radius * (0.7 + rng.unit() * 0.6);
            json!([
                round(lon0 + r * angle.cos() * 1.2),
                round(lat0 + r * angle.sin())
            ])
        })
        .collect();
    ring.push(ring[0].clone());
    json!({"type": "Polygon", "coordinates": [ring]})
}

fn zones(rng: &mut Rng, kind: &Kind, office: &Office, count: usize) -> Vec<Zone> {
    let mut out: Vec<Zone> = Vec::with_capacity(count);
    while out.len() < count {
        let number = rng.range(1, 199) as u32 | 1;
        let county = *rng.pick(COUNTIES);
        let (ugc, name) = match (kind.zones, office.marine) {
            (Marine, Some(prefix)) => (
                format!("{prefix}{}", rng.range(130, 870)),
                format!(
                    "Coastal waters from {} to {} out {} nm",
                    rng.pick(PLACES),
                    rng.pick(PLACES),
                    [20, 40, 60][rng.range(0, 2) as usize]
                ),
            ),
            (County, _) => (
                format!("{}C{number:03}", office.state),
                format!("{county}, {}", office.state),
            ),
            _ => (
                format!("{}Z{:03}", office.state, rng.range(1, 120)),
                format!("{} {county}", rng.pick(PARTS)),
            ),
        };
        if out.iter().any(|z| z.ugc == ugc) {
            continue;
        }
        out.push(Zone {
            ugc,
            same: format!("0{:02}{number:03}", office.fips),
            name,
        });
    }
    out
}

/// A paragraph of the kind forecasters write, `len` characters or a little more.
fn filler(rng: &mut Rng, len: usize) -> String {
    const SENTENCES: &[&str] = &[
        "Rainfall rates of 1 to 2 inches per hour are possible in the heaviest storms.",
        "Travel could be very difficult, and the hazardous conditions could impact the morning or evening commute.",
        "Gusty winds could blow around unsecured objects. Tree limbs could be blown down and a few power outages may result.",
        "Flooding of rivers, creeks, streams, and other low-lying and flood-prone locations is expected.",
        "Dangerously cold wind chills as low as 25 below zero could cause frostbite on exposed skin in as little as 30 minutes.",
        "Hot temperatures and high humidity may cause heat illnesses to occur.",
        "Visibilities will drop below one quarter mile in dense fog at times.",
        "Conditions will be hazardous to small craft. Inexperienced mariners, especially those operating smaller vessels, should avoid navigating in these conditions.",
        "Any fires that develop will likely spread rapidly. Outdoor burning is not recommended.",
        "The river is expected to rise above flood stage late this evening to a crest of 24.1 feet Friday morning. It will then fall below flood stage late Saturday night.",
        "At 21.0 feet, water begins to cover low-lying pasture land along the river and several county roads near the gauge.",
        "Additional rainfall amounts of 1 to 3 inches are expected over the area, and locally higher amounts are possible.",
        "Snow covered roads and reduced visibility will make travel dangerous, especially over bridges and overpasses.",
        "Ice accumulations of a quarter to half an inch will bring down power lines and tree branches.",
        "Surge-related flooding may have a significant impact on shoreline structures, with numerous roads flooded.",
        "Winds could gust as high as 60 mph across ridge tops and exposed terrain.",
    ];
    let mut out = String::with_capacity(len + 200);
    while out.len() < len {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(rng.pick::<&str>(SENTENCES));
    }
    out
}

fn description(
    rng: &mut Rng,
    kind: &Kind,
    office: &Office,
    zones: &[Zone],
    now: DateTime<Utc>,
    ends: DateTime<Utc>,
) -> String {
    let where_ = zones
        .iter()
        .map(|z| z.name.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let target = rng.range(300, 3200) as usize;
    let mut text = match kind.product {
        "TOR" | "SVR" | "SVS" | "FFW" | "SMW" => {
            let place = rng.pick(PLACES);
            let (what, hazard, source, impact) = match kind.product {
                "TOR" => (
                    "a severe thunderstorm capable of producing a tornado",
                    "Tornado.",
                    "Radar indicated rotation.",
                    "Flying debris will be dangerous to those caught without shelter. Mobile homes will be damaged or destroyed. Damage to roofs, windows, and vehicles will occur. Tree damage is likely.",
                ),
                "FFW" => (
                    "Doppler radar indicated thunderstorms producing heavy rain",
                    "Flash flooding caused by thunderstorms.",
                    "Radar indicated.",
                    "Flash flooding of small creeks and streams, urban areas, highways, streets and underpasses as well as other poor drainage and low-lying areas.",
                ),
                _ => (
                    "a severe thunderstorm",
                    "60 mph wind gusts and quarter size hail.",
                    "Radar indicated.",
                    "Hail damage to vehicles is expected. Expect wind damage to roofs, siding, and trees.",
                ),
            };
            format!(
                "The National Weather Service in {} has issued a\n\n* {} for...\n{}\n\n* Until {}.\n\n* At {}, {} was located near {}, moving {} at {} mph.\n\nHAZARD...{}\n\nSOURCE...{}\n\nIMPACT...{}\n\n* Locations impacted include...\n{}.",
                office.name,
                kind.event,
                where_,
                clock(ends, office),
                clock(now - Duration::minutes(5), office),
                what,
                place,
                rng.pick(COMPASS),
                rng.range(15, 50),
                hazard,
                source,
                impact,
                (0..rng.range(4, 14))
                    .map(|_| *rng.pick(PLACES))
                    .collect::<Vec<_>>()
                    .join(", ")
            )
        }
        _ => format!(
            "* WHAT...{}\n\n* WHERE...{}.\n\n* WHEN...Until {}.\n\n* IMPACTS...{}",
            filler(rng, 80),
            where_,
            clock(ends, office),
            filler(rng, 120)
        ),
    };
    if text.len() < target {
        let more = target - text.len();
        text.push_str("\n\n* ADDITIONAL DETAILS...");
        text.push_str(&filler(rng, more));
    }
    text
}

fn instruction(rng: &mut Rng, kind: &Kind) -> Value {
    let text = match kind.product {
        "TOR" => "TAKE COVER NOW! Move to a basement or an interior room on the lowest floor of a sturdy building. Avoid windows. If you are outdoors, in a mobile home, or in a vehicle, move to the closest substantial shelter and protect yourself from flying debris.",
        "SVR" | "SVS" => "For your protection move to an interior room on the lowest floor of a building.\n\nLarge hail and damaging winds and continuous cloud to ground lightning is occurring with this storm. Move indoors immediately. Lightning is one of nature's leading killers. Remember, if you can hear thunder, you are close enough to be struck by lightning.",
        "FFW" | "FLW" | "FLS" | "FFA" => "Turn around, don't drown when encountering flooded roads. Most flood deaths occur in vehicles.\n\nMotorists should not attempt to drive around barricades or drive cars through flooded areas.\n\nCaution is urged when walking near riverbanks.\n\nAdditional information is available at www.weather.gov.",
        "WSW" => "If you must travel, keep an extra flashlight, food, and water in your vehicle in case of an emergency.\n\nThe latest road conditions for the state can be obtained by calling 5 1 1.",
        "SPS" | "AQA" | "ESF" if rng.chance(50) => return Value::Null,
        "WOU" => return Value::Null,
        _ => "Use extra caution when driving, especially if operating a high profile vehicle. Secure outdoor objects. Take the necessary actions to protect yourself and others.",
    };
    Value::String(text.to_owned())
}

/// One alert. `earlier` are the alerts issued before it in the feed (it may reference one).
fn alert(rng: &mut Rng, now: DateTime<Utc>, earlier: &[Issued]) -> (Value, Issued) {
    let total: u64 = KINDS.iter().map(|k| k.weight).sum();
    let mut ticket = rng.range(0, total - 1);
    let kind = KINDS
        .iter()
        .find(|k| {
            if ticket < k.weight {
                return true;
            }
            ticket -= k.weight;
            false
        })
        .expect("a kind for every ticket");
    let coastal: Vec<&Office> = OFFICES.iter().filter(|o| o.marine.is_some()).collect();
    let office = if kind.zones == Marine || kind.product == "TCV" || kind.product == "CFW" {
        *rng.pick(&coastal)
    } else {
        rng.pick(OFFICES)
    };
    let id = format!("urn:oid:2.49.0.1.840.0.{}.001.1", rng.hex(40));
    let url = format!("https://api.weather.gov/alerts/{id}");

    // Times: sent in the last hours (minutes for short-fused products), always still current.
    let (lo, hi) = kind.lasts;
    let lasts = rng.range(lo, hi) as i64;
    let age = rng.range(1, (lo / 2).clamp(5, 360)) as i64;
    let sent = now - Duration::minutes(age);
    let onset = if kind.urgency == "Future" {
        now + Duration::minutes(rng.range(30, 720) as i64)
    } else {
        sent
    };
    let ends = now + Duration::minutes(lasts);
    // Long-fused products are reissued: the message expires before the hazard ends.
    let expires = if lasts > 360 {
        now + Duration::minutes(rng.range(60, 360) as i64)
    } else {
        ends
    };
    let open_ended = rng.chance(kind.open_ended);

    let message_type = match rng.range(0, 99) {
        0..=59 => "Alert",
        60..=94 => "Update",
        _ => "Cancel",
    };
    let status = if rng.chance(1) { "Test" } else { "Actual" };
    // Updates and cancels reference an earlier message: half of them one in this feed (of the
    // same event), the others one that has left the feed.
    let references: Vec<Value> = if message_type == "Alert" {
        Vec::new()
    } else {
        let same: Vec<&Issued> = earlier.iter().filter(|e| e.event == kind.event).collect();
        let (ref_id, ref_sent) = if !same.is_empty() && rng.chance(50) {
            let e = *rng.pick(&same);
            (e.id.clone(), e.sent.clone())
        } else {
            (
                format!("urn:oid:2.49.0.1.840.0.{}.001.1", rng.hex(40)),
                rfc3339(sent - Duration::minutes(rng.range(30, 600) as i64), office),
            )
        };
        vec![json!({
            "@id": format!("https://api.weather.gov/alerts/{ref_id}"),
            "identifier": ref_id,
            "sender": "w-nws.webmaster@noaa.gov",
            "sent": ref_sent,
        })]
    };

    let count = match kind.zones {
        Marine => rng.range(1, 4),
        County if kind.polygon == 100 => rng.range(1, 4),
        _ => rng.range(2, 16),
    } as usize;
    let zones = zones(rng, kind, office, count);
    let geometry = if rng.chance(kind.polygon) {
        let points = rng.range(20, 200) as usize;
        polygon(rng, office.centre, points)
    } else {
        Value::Null
    };
    let area_desc = zones
        .iter()
        .map(|z| z.name.as_str())
        .collect::<Vec<_>>()
        .join("; ");
    let zone_url = |z: &Zone| match kind.zones {
        County => format!("https://api.weather.gov/zones/county/{}", z.ugc),
        _ => format!("https://api.weather.gov/zones/forecast/{}", z.ugc),
    };

    let severity = if status == "Test" {
        "Unknown"
    } else {
        kind.severity
    };
    let awips = format!("{}{}", kind.product, office.id);
    let wmo = format!(
        "{} K{} {}",
        kind.wmo,
        office.id,
        local(sent, office).format("%d%H%M")
    );
    let mut parameters = Map::new();
    let mut put = |key: &str, values: Vec<String>| {
        parameters.insert(key.to_owned(), json!(values));
    };
    put("AWIPSidentifier", vec![awips]);
    put("WMOidentifier", vec![wmo]);
    if !matches!(kind.product, "TOR" | "SVR" | "SVS" | "FFW" | "SMW") {
        put(
            "NWSheadline",
            vec![format!(
                "{} IN EFFECT UNTIL {}",
                kind.event.to_uppercase(),
                clock(ends, office).to_uppercase()
            )],
        );
    }
    put(
        "BLOCKCHANNEL",
        vec!["EAS".into(), "NWEM".into(), "CMAS".into()],
    );
    if let Some(pp_s) = kind.vtec {
        let action = match message_type {
            "Alert" => "NEW",
            "Cancel" => "CAN",
            _ => *rng.pick(&["CON", "EXT", "EXA", "CON"]),
        };
        put(
            "VTEC",
            vec![format!(
                "/{}.{action}.K{}.{pp_s}.{:04}.{}-{}/",
                if status == "Test" { "T" } else { "O" },
                office.id,
                rng.range(1, 400),
                vtec_time(onset),
                vtec_time(ends)
            )],
        );
    }
    put("eventEndingTime", vec![rfc3339(ends, office)]);
    if message_type != "Alert" {
        let expired = (0..rng.range(1, 3))
            .map(|i| {
                format!(
                    "w-nws.webmaster@noaa.gov,urn:oid:2.49.0.1.840.0.{}.001.1,{}",
                    rng.hex(40),
                    rfc3339(sent - Duration::hours(6 + i as i64 * 6), office)
                )
            })
            .collect::<Vec<_>>()
            .join(" ");
        put("expiredReferences", vec![expired]);
    }
    match kind.product {
        "TOR" => {
            put("EAS-ORG", vec!["WXR".into()]);
            put("WEAHandling", vec!["Imminent Threat".into()]);
            put(
                "CMAMtext",
                vec![format!(
                    "NWS: TORNADO WARNING in this area until {}. Take shelter now. Check media.",
                    clock(ends, office)
                )],
            );
            put(
                "eventMotionDescription",
                vec![format!(
                    "{}...storm...{}DEG...{}KT...{:.2},{:.2}",
                    local(now, office).to_rfc3339_opts(SecondsFormat::Secs, false),
                    rng.range(180, 300),
                    rng.range(10, 45),
                    office.centre.0,
                    office.centre.1
                )],
            );
            let detection = *rng.pick(&["RADAR INDICATED", "RADAR INDICATED", "OBSERVED"]);
            put("tornadoDetection", vec![detection.into()]);
            if rng.chance(25) {
                put("tornadoDamageThreat", vec!["CONSIDERABLE".into()]);
            }
            put(
                "maxHailSize",
                vec![rng.pick(&["0.75", "1.00", "1.50"]).to_string()],
            );
        }
        "SVR" | "SVS" => {
            put("EAS-ORG", vec!["WXR".into()]);
            put(
                "eventMotionDescription",
                vec![format!(
                    "{}...storm...{}DEG...{}KT...{:.2},{:.2}",
                    local(now, office).to_rfc3339_opts(SecondsFormat::Secs, false),
                    rng.range(180, 300),
                    rng.range(10, 45),
                    office.centre.0,
                    office.centre.1
                )],
            );
            put(
                "windThreat",
                vec![rng.pick(&["RADAR INDICATED", "OBSERVED"]).to_string()],
            );
            put(
                "maxWindGust",
                vec![rng.pick(&["60 MPH", "70 MPH", "80 MPH"]).to_string()],
            );
            put(
                "hailThreat",
                vec![rng.pick(&["RADAR INDICATED", "OBSERVED"]).to_string()],
            );
            put(
                "maxHailSize",
                vec![rng.pick(&["1.00", "1.25", "1.75", "2.50"]).to_string()],
            );
            if rng.chance(15) {
                put("tornadoDetection", vec!["POSSIBLE".into()]);
            }
            if rng.chance(10) {
                put("thunderstormDamageThreat", vec!["CONSIDERABLE".into()]);
            }
        }
        "FFW" => {
            put("flashFloodDetection", vec!["RADAR INDICATED".into()]);
        }
        _ => {}
    }

    let headline = format!(
        "{} issued {} until {} by NWS {}",
        kind.event,
        spoken(sent, office),
        spoken(ends, office),
        office.name
    );
    let text = description(rng, kind, office, &zones, now, ends);
    let properties = json!({
        "@id": url,
        "@type": "wx:Alert",
        "id": id,
        "areaDesc": area_desc,
        "geocode": {
            "SAME": zones.iter().map(|z| z.same.clone()).collect::<Vec<_>>(),
            "UGC": zones.iter().map(|z| z.ugc.clone()).collect::<Vec<_>>(),
        },
        "affectedZones": zones.iter().map(zone_url).collect::<Vec<_>>(),
        "references": references,
        "sent": rfc3339(sent, office),
        "effective": rfc3339(sent, office),
        "onset": rfc3339(onset, office),
        "expires": rfc3339(expires, office),
        "ends": if open_ended { Value::Null } else { Value::String(rfc3339(ends, office)) },
        "status": status,
        "messageType": message_type,
        "category": "Met",
        "severity": severity,
        "certainty": kind.certainty,
        "urgency": kind.urgency,
        "event": kind.event,
        "sender": "w-nws.webmaster@noaa.gov",
        "senderName": format!("NWS {}", office.name),
        "headline": headline,
        "description": text,
        "instruction": instruction(rng, kind),
        "response": kind.response,
        "parameters": parameters,
    });
    let feature = json!({
        "id": url,
        "type": "Feature",
        "geometry": geometry,
        "properties": properties,
    });
    let issued = Issued {
        id,
        event: kind.event,
        sent: rfc3339(sent, office),
    };
    (feature, issued)
}

/// A national feed of `alerts` alerts, current at `now`, as `/alerts/active` serves it.
/// The same arguments give the same bytes.
pub fn national_feed(alerts: usize, now: DateTime<Utc>, seed: u64) -> Vec<u8> {
    // NWS times are whole minutes.
    let now = DateTime::from_timestamp(now.timestamp() / 60 * 60, 0).unwrap_or(now);
    let mut rng = Rng::new(seed);
    let mut issued: Vec<Issued> = Vec::with_capacity(alerts);
    let mut features = Vec::with_capacity(alerts);
    for _ in 0..alerts {
        let (feature, this) = alert(&mut rng, now, &issued);
        features.push(feature);
        issued.push(this);
    }
    let feed = json!({
        "@context": [
            "https://geojson.org/geojson-ld/geojson-context.jsonld",
            {"@version": "1.1", "wx": "https://api.weather.gov/ontology#", "@vocab": "https://api.weather.gov/ontology#"}
        ],
        "type": "FeatureCollection",
        "features": features,
        "title": "Current watches, warnings, and advisories for the United States",
        "updated": now.to_rfc3339_opts(SecondsFormat::Secs, false),
    });
    pretty(&feed)
}

/// Writes [`national_feed`] to `name` in the project's scratch directory, for
/// [`crate::feed::FeedServer::start`] / `serve`. Returns the path and the size in bytes.
pub fn write_national_feed(
    project: &Project,
    name: &str,
    alerts: usize,
    now: DateTime<Utc>,
    seed: u64,
) -> (PathBuf, usize) {
    let path = project.tmp_file(name);
    let body = national_feed(alerts, now, seed);
    std::fs::write(&path, &body).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
    (path, body.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        DateTime::parse_from_rfc3339("2026-11-25T16:00:00Z")
            .unwrap()
            .with_timezone(&Utc)
    }

    #[test]
    fn the_feed_has_n_alerts_in_the_nws_shapes() {
        let body = national_feed(DEFAULT_ALERTS, now(), DEFAULT_SEED);
        let text = std::str::from_utf8(&body).expect("UTF-8");
        assert!(
            !text.contains("{{"),
            "the feed server would read {{ as a template"
        );
        let feed: Value = serde_json::from_slice(&body).expect("JSON");
        assert_eq!(feed["type"], "FeatureCollection");
        let features = feed["features"].as_array().expect("features");
        assert_eq!(features.len(), DEFAULT_ALERTS);
        assert!(body.len() > 2_000_000, "a few MB: {} bytes", body.len());

        let mut ids = std::collections::HashSet::new();
        let (mut polygons, mut nulls, mut in_feed_refs) = (0, 0, 0);
        let mut severities = std::collections::BTreeSet::new();
        let mut types = std::collections::BTreeSet::new();
        for f in features {
            let p = &f["properties"];
            let id = p["id"].as_str().expect("id");
            assert!(id.starts_with("urn:oid:2.49.0.1.840.0."), "{id}");
            assert_eq!(f["id"], format!("https://api.weather.gov/alerts/{id}"));
            assert_eq!(p["@id"], f["id"]);
            assert_eq!(f["type"], "Feature");
            assert!(ids.insert(id.to_owned()), "unique ids");
            match &f["geometry"] {
                Value::Null => nulls += 1,
                g => {
                    assert_eq!(g["type"], "Polygon");
                    let ring = g["coordinates"][0].as_array().expect("a ring");
                    assert!((21..=201).contains(&ring.len()), "{}", ring.len());
                    assert_eq!(ring.first(), ring.last(), "closed");
                    assert!(ring[0][0].is_f64() && ring[0][1].is_f64());
                    polygons += 1;
                }
            }
            for same in p["geocode"]["SAME"].as_array().expect("SAME") {
                let same = same.as_str().expect("a string");
                assert!(
                    same.len() == 6 && same.bytes().all(|b| b.is_ascii_digit()),
                    "{same}"
                );
            }
            let ugc = p["geocode"]["UGC"].as_array().expect("UGC");
            assert!(!ugc.is_empty());
            assert_eq!(p["affectedZones"].as_array().map(Vec::len), Some(ugc.len()));
            for key in ["sent", "effective", "onset", "expires"] {
                let t = p[key].as_str().expect(key);
                let t = DateTime::parse_from_rfc3339(t).expect("RFC 3339");
                if key == "expires" {
                    assert!(t > now() + Duration::minutes(10), "current: {t}");
                }
            }
            assert!(p["ends"].is_null() || p["ends"].is_string());
            let description = p["description"].as_str().expect("description");
            assert!(description.len() >= 300, "{}", description.len());
            for (_, values) in p["parameters"].as_object().expect("parameters") {
                assert!(values
                    .as_array()
                    .is_some_and(|v| v.iter().all(Value::is_string)));
            }
            if p["event"] == "Tornado Warning" {
                assert!(p["parameters"]["tornadoDetection"][0].is_string(), "{p}");
            }
            for r in p["references"].as_array().expect("references") {
                let earlier = r["identifier"].as_str().expect("identifier");
                in_feed_refs += usize::from(ids.contains(earlier));
            }
            severities.insert(p["severity"].as_str().unwrap().to_owned());
            types.insert(p["messageType"].as_str().unwrap().to_owned());
        }
        assert!(
            polygons > 50 && nulls > 50,
            "{polygons} polygons, {nulls} null"
        );
        assert!(
            in_feed_refs > 5,
            "{in_feed_refs} references within the feed"
        );
        assert_eq!(
            severities.into_iter().collect::<Vec<_>>(),
            ["Extreme", "Minor", "Moderate", "Severe", "Unknown"]
        );
        assert_eq!(
            types.into_iter().collect::<Vec<_>>(),
            ["Alert", "Cancel", "Update"]
        );
    }

    #[test]
    fn the_same_seed_gives_the_same_feed() {
        assert_eq!(national_feed(20, now(), 7), national_feed(20, now(), 7));
        assert_ne!(national_feed(20, now(), 7), national_feed(20, now(), 8));
    }
}
