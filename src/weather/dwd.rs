//! Deutscher Wetterdienst's open-data warnings: a zip of CAP 1.2 documents, one per warning
//! (`…/COMMUNEUNION_DWD_STAT/Z_CAP_C_EDZW_LATEST_PVW_STATUS_PREMIUMDWD_COMMUNEUNION_DE.zip`,
//! the full current set), read into the feed-neutral [`Alert`].
//!
//! - Places: a warn cell is a type digit and an 8-digit municipality key (AGS); for types 1
//!   (district), 7 (city quarter) and 8 (municipality) characters 2–6 are the district key,
//!   and the warning is announced to the whole district (a warning too many is safer than one
//!   missed, as for a US border ZIP). Type 9 (aggregations: "Kreis und Stadt X", coast and
//!   inland halves) and sea, lake and coast cells name no district: skipped and counted.
//! - Events: a warning's chain is its `references` (each Update names the message before it),
//!   as for an NWS message without VTEC. `AllClear` ends the warning; an advance notice
//!   (`urgency` Future) is never announced as a warning.
//! - Alexa's word: [`alert_type`], by DWD's warning type (`II`), only where it is true.
//!
//! `docs/europe-research.md` has the sources for each rule.

use std::io::Read;

use roxmltree::Node;

use super::alert::{Action, Alert, Alerts, EventKey, Level, MessageKind, Place, Track};
use super::cap::{self, NS};
use super::client::{FeedClient, Fetched, Validators};
use super::feed::{AlertFeed, FeedFuture, Polled};
use super::settings::FeedKind;
use super::Severity;

/// How Alexa names the source ("Provided by Deutscher Wetterdienst"), as DWD's terms ask.
pub const SOURCE: &str = "Deutscher Wetterdienst";

/// At most this many documents are read from one zip (a stormy day's national set is a few
/// thousand at most).
pub const MAX_ENTRIES: usize = 20_000;
/// At most this many bytes are inflated from one zip, whatever its entries claim (a zip bomb
/// stops here, not at the function's memory limit).
pub const MAX_INFLATED: u64 = 256 * 1024 * 1024;

/// DWD warning types (`II`) announced, and Alexa's word for each. Everything else (wind below
/// hurricane force, rain, snowfall without drifting, frost, ice, fog, thaw, heat, UV, coast
/// and sea warnings, tests) has no true word among Alexa's four and is skipped as
/// `otherEvent`; the README's table gives the reason for each row.
pub const TYPES: &[(u16, u16, &str)] = &[
    // GEWITTER … EXTREMES GEWITTER, with or without gusts, heavy rain and hail: a
    // thunderstorm, whatever comes with it.
    (31, 49, "THUNDER_STORM"),
    (90, 96, "THUNDER_STORM"),
    // ORKANBÖEN, EXTREME ORKANBÖEN: hurricane-force gusts (Beaufort 12).
    (55, 56, "HURRICANE"),
    // STARKE / EXTREM STARKE SCHNEEVERWEHUNG (and the older 77, 78, heavy snowfall with
    // drifting): a snow storm. Plain drifting (74) and snowfall (70–73) are not.
    (75, 78, "SNOW_STORM"),
];

/// Alexa's word for a DWD warning type, if it has one.
pub fn alert_type(ii: u16) -> Option<&'static str> {
    TYPES
        .iter()
        .find(|(from, to, _)| (*from..=*to).contains(&ii))
        .map(|(.., alert_type)| *alert_type)
}

/// The DWD CAP zip feed.
pub struct DwdFeed {
    client: FeedClient,
}

impl DwdFeed {
    pub fn new(client: FeedClient) -> Self {
        DwdFeed { client }
    }
}

impl AlertFeed for DwdFeed {
    fn url(&self) -> &str {
        self.client.url()
    }

    fn kind(&self) -> &'static str {
        FeedKind::Dwd.name()
    }

    fn fetch(&self, deadline: tokio::time::Instant) -> FeedFuture<'_> {
        Box::pin(async move {
            match self.client.fetch(deadline).await? {
                Fetched::NotModified => Ok(Polled::NotModified),
                Fetched::Changed { body, validators } => {
                    let alerts = parse_zip(&body).map_err(|p| self.client.malformed(p))?;
                    Ok(Polled::Changed { alerts, validators })
                }
            }
        })
    }

    fn remember(&self, validators: Validators) {
        self.client.remember(validators);
    }
}

/// What a zip held: its alerts, the documents that could not be read, and how many warn
/// cells named no district.
pub fn parse_zip(body: &[u8]) -> Result<Alerts, String> {
    // The directory is read whole by the zip crate: its size is checked first, from the
    // end-of-central-directory record, so that a directory of a million entries cannot fill
    // the function's memory before the count is known.
    if let Some(entries) = directory_entries(body) {
        if entries > MAX_ENTRIES {
            return Err(format!(
                "the zip has {entries} entries; expected at most {MAX_ENTRIES}"
            ));
        }
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(body))
        .map_err(|e| format!("the body is not a zip archive: {e}"))?;
    if archive.len() > MAX_ENTRIES {
        return Err(format!(
            "the zip has {} entries; expected at most {MAX_ENTRIES}",
            archive.len()
        ));
    }
    let mut alerts = Alerts::default();
    let mut inflated: u64 = 0;
    let mut skipped_cells = 0usize;
    let mut bytes: Vec<u8> = Vec::new();
    for i in 0..archive.len() {
        let mut entry = match archive.by_index(i) {
            Ok(entry) => entry,
            Err(e) => {
                alerts.malformed.push(format!("zip entry {i}: {e}"));
                continue;
            }
        };
        let name = entry
            .name()
            .map(|n| n.into_owned())
            .unwrap_or_else(|_| format!("zip entry {i}"));
        if entry.is_dir() || !name.to_ascii_lowercase().ends_with(".xml") {
            continue;
        }
        // Read at most one byte past the limit, whatever the entry's header says; every byte
        // inflated counts, whether or not it turns out to be text.
        bytes.clear();
        let limit = (cap::MAX_DOCUMENT as u64 + 1).min(MAX_INFLATED - inflated);
        let read = (&mut entry).take(limit).read_to_end(&mut bytes);
        inflated += bytes.len() as u64;
        if inflated >= MAX_INFLATED {
            return Err(format!(
                "the zip inflates to more than {} MiB",
                MAX_INFLATED / 1024 / 1024
            ));
        }
        let text = read
            .map_err(|e| e.to_string())
            .and_then(|_| std::str::from_utf8(&bytes).map_err(|e| format!("is not UTF-8: {e}")));
        match text {
            Err(e) => alerts.malformed.push(format!("{name}: {e}")),
            Ok(text) => match parse_document(text) {
                Ok((alert, skipped)) => {
                    skipped_cells += skipped;
                    alerts.alerts.push(alert);
                }
                Err(problem) => alerts.malformed.push(format!("{name}: {problem}")),
            },
        }
    }
    if skipped_cells > 0 {
        tracing::info!(
            cells = skipped_cells,
            "DWD warn cells that name no district (aggregations, coast, sea, lakes) skipped"
        );
    }
    Ok(alerts)
}

/// The entry count of a zip's end-of-central-directory record (the last 22 bytes, or before a
/// comment of up to 64 KiB); a zip64 count (`0xFFFF`) reads as more than any limit. `None`
/// when there is no such record (the zip crate then says what is wrong).
fn directory_entries(body: &[u8]) -> Option<usize> {
    const SIGNATURE: [u8; 4] = [0x50, 0x4b, 0x05, 0x06];
    const RECORD: usize = 22;
    let earliest = body.len().saturating_sub(RECORD + usize::from(u16::MAX));
    let at = (earliest..=body.len().checked_sub(RECORD)?)
        .rev()
        .find(|&i| body[i..i + 4] == SIGNATURE)?;
    let total = u16::from_le_bytes([body[at + 10], body[at + 11]]);
    Some(if total == u16::MAX {
        usize::MAX
    } else {
        usize::from(total)
    })
}

/// One CAP document: the alert, and how many of its warn cells named no district.
pub fn parse_document(text: &str) -> Result<(Alert, usize), String> {
    let doc = cap::parse(text)?;
    let root = cap::alert(&doc)?;
    let required = |name: &str| {
        cap::text(root, NS, name).ok_or_else(|| format!("alert.{name}: required field is missing"))
    };
    let id = required("identifier")?.to_owned();
    let status = required("status")?;
    let kind = MessageKind::parse(required("msgType")?);
    let sent = cap::time("alert.sent", cap::text(root, NS, "sent"))?;
    let references = cap::references(cap::text(root, NS, "references"));
    // DWD's German zips carry one info (de-DE); a multilingual one carries several with the
    // same facts: the first is read.
    let info = cap::children(root, NS, "info")
        .next()
        .ok_or("alert.info: required element is missing")?;
    let event = cap::text(info, NS, "event").unwrap_or_default().to_owned();
    let severity = Severity::parse(cap::text(info, NS, "severity").unwrap_or("Unknown"))
        .unwrap_or(Severity::Unknown);
    let all_clear = cap::children(info, NS, "responseType")
        .any(|r| r.text().map(str::trim) == Some("AllClear"));
    let advance = cap::text(info, NS, "urgency") == Some("Future");
    let ii = cap::pairs(info, NS, "eventCode", "II").next();
    let ii: Option<u16> = match ii {
        Some(code) => Some(code.parse().map_err(|_| {
            format!("alert.info.eventCode II: {code:?} is not a DWD warning type number")
        })?),
        None => None,
    };
    let expires = cap::time("alert.info.expires", cap::text(info, NS, "expires"))?;
    let (places, skipped, area_desc) = places(info);
    let action = match kind {
        _ if all_clear => Action::Cancel,
        MessageKind::Alert => Action::New,
        MessageKind::Update => Action::Update,
        MessageKind::Cancel => Action::Cancel,
        MessageKind::Other => Action::Routine,
    };
    let track = Track {
        key: EventKey::message(&id),
        action,
        aliases: references.iter().map(|r| EventKey::message(r)).collect(),
        ends: None,
    };
    let alert = Alert {
        event,
        alert_type: ii.and_then(alert_type),
        actual: status == "Actual",
        advance,
        kind,
        level: Level {
            warning: 1,
            extreme: u8::from(severity == Severity::Extreme),
            ..Level::default()
        },
        severity,
        sender_name: SOURCE.to_owned(),
        area_desc,
        sent,
        expires,
        ends: None,
        references,
        places,
        tracks: vec![track],
        id,
    };
    Ok((alert, skipped))
}

/// The districts of an info's warn cells (each once), how many cells named none, and the
/// first few area names (for logs).
fn places(info: Node<'_, '_>) -> (Vec<Place>, usize, String) {
    let mut places: Vec<Place> = Vec::new();
    let mut skipped = 0;
    let mut names: Vec<&str> = Vec::new();
    for area in cap::children(info, NS, "area") {
        for cell in cap::pairs(area, NS, "geocode", "WARNCELLID") {
            match district(cell) {
                Some(place) => {
                    if !places.contains(&place) {
                        places.push(place);
                        if names.len() < 5 {
                            names.extend(cap::text(area, NS, "areaDesc"));
                        }
                    }
                }
                None => skipped += 1,
            }
        }
    }
    places.sort();
    (places, skipped, names.join(", "))
}

/// The district a warn cell lies in: types 1, 7 and 8 carry the municipality key, whose first
/// five digits are the district's.
pub fn district(cell: &str) -> Option<Place> {
    let cell = cell.trim();
    if cell.len() != 9 || !cell.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    match cell.as_bytes()[0] {
        b'1' | b'7' | b'8' => Some(Place::district(&cell[1..6])),
        _ => None,
    }
}

#[cfg(test)]
mod tests;
