//! MeteoAlarm (EUMETNET): one country's Atom feed of CAP entries
//! (`https://feeds.meteoalarm.org/feeds/meteoalarm-legacy-atom-united-kingdom`), read into the
//! feed-neutral [`Alert`]. One feed per country; every national service that publishes there
//! (the Met Office for the UK) is served the same way, a postal table per country being all a
//! new one needs.
//!
//! - An entry is one (warning × region): entries are grouped by `cap:identifier` into one
//!   alert whose places are their `EMMA_ID` regions.
//! - The entry lacks what decides the announcement (the awareness type, the references of an
//!   Update): the CAP document it links to is fetched for each warning that may be announced,
//!   once per identifier (kept while the instance lives), at most [`MAX_DOCUMENTS`] a poll,
//!   only from the feed's own host. A document that cannot be read makes its warning
//!   malformed for this poll, and the feed is read again next time.
//! - Alexa's word: [`alert_type`], from `awareness_type`, only where it is true.
//! - MeteoAlarm publishes no cancellations (a warning leaves the feed) and no advance notices.
//!
//! `docs/europe-research.md` §3 has the sources.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use futures_util::stream::{self, StreamExt};
use roxmltree::Node;
use tokio::time::Instant;

use super::alert::{Action, Alert, Alerts, EventKey, Level, MessageKind, Place, Track};
use super::cap::{self, NS};
use super::client::{FeedClient, Fetched, Validators};
use super::feed::{AlertFeed, FeedFuture, Polled};
use super::settings::FeedKind;
use super::Severity;

const ATOM: &str = "http://www.w3.org/2005/Atom";

/// CAP documents fetched at most per poll (a country's feed lists tens of warnings).
pub const MAX_DOCUMENTS: usize = 100;
/// ... this many at once.
const DOCUMENT_CONCURRENCY: usize = 4;
/// How long the documents of one poll may take in all: the sends of every feed need the rest
/// of the invocation (a slow document host must not starve them).
const DOCUMENTS_TIME: std::time::Duration = std::time::Duration::from_secs(6);
/// A CAP document is a few kB.
const MAX_DOCUMENT: usize = 512 * 1024;
/// Documents kept per instance (identifiers of warnings seen recently).
const KEPT: usize = 2_000;

/// MeteoAlarm's awareness types announced, and Alexa's word for each. Wind (even red) is not
/// a hurricane, snow-ice not necessarily a snow storm, and rain, fog, heat, cold, coastal
/// events, forest fires, avalanches and floods have no word among Alexa's four: skipped as
/// `otherEvent` (the README's table).
pub const TYPES: &[(u8, &str)] = &[(3, "THUNDER_STORM")];

/// Alexa's word for an `awareness_type` (`"3; Thunderstorm"`, any case), if it has one.
pub fn alert_type(awareness_type: &str) -> Option<&'static str> {
    let number: u8 = awareness_type.split(';').next()?.trim().parse().ok()?;
    TYPES
        .iter()
        .find(|(n, _)| *n == number)
        .map(|(_, alert_type)| *alert_type)
}

/// The severity of an `awareness_level` (`"3; orange; Severe"`): 1 green (Minor, no warning), 2
/// yellow (Moderate), 3 orange (Severe), 4 red (Extreme).
pub fn awareness_severity(level: &str) -> Option<Severity> {
    match level.split(';').next()?.trim() {
        "1" => Some(Severity::Minor),
        "2" => Some(Severity::Moderate),
        "3" => Some(Severity::Severe),
        "4" => Some(Severity::Extreme),
        _ => None,
    }
}

/// One entry of the Atom feed: one region of one warning.
#[derive(Debug, Clone, PartialEq)]
pub struct Entry {
    pub identifier: String,
    pub event: String,
    pub area_desc: String,
    pub kind: MessageKind,
    pub actual: bool,
    pub severity: Severity,
    pub sent: Option<DateTime<Utc>>,
    pub expires: Option<DateTime<Utc>>,
    /// `None`: the region code is not an `EMMA_ID`.
    pub place: Option<Place>,
    /// The entry's CAP document.
    pub document: Option<String>,
}

/// What only the CAP document says.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Details {
    pub alert_type: Option<&'static str>,
    pub severity: Option<Severity>,
    pub sender_name: Option<String>,
    pub references: Vec<String>,
}

/// The feed's entries, and the ones that could not be read.
pub fn parse_feed(body: &[u8]) -> Result<(Vec<Entry>, Vec<String>), String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8: {e}"))?;
    let options = roxmltree::ParsingOptions {
        allow_dtd: false,
        // A country's feed is a few hundred entries of about 30 nodes each.
        nodes_limit: 10 * cap::MAX_NODES,
        ..Default::default()
    };
    let doc = roxmltree::Document::parse_with_options(text, options)
        .map_err(|e| format!("the body is not XML: {e}"))?;
    let root = doc.root_element();
    if root.tag_name().name() != "feed" || root.tag_name().namespace() != Some(ATOM) {
        return Err(format!(
            "the root element is <{}>; expected an Atom <feed> ({ATOM})",
            root.tag_name().name()
        ));
    }
    let mut entries = Vec::new();
    let mut malformed = Vec::new();
    for (i, entry) in cap::children(root, ATOM, "entry").enumerate() {
        match parse_entry(entry) {
            Ok(e) => entries.push(e),
            Err(problem) => malformed.push(format!("feed.entry[{i}]: {problem}")),
        }
    }
    Ok((entries, malformed))
}

fn parse_entry(entry: Node<'_, '_>) -> Result<Entry, String> {
    let field = |name: &str| cap::text(entry, NS, name);
    let identifier = field("identifier")
        .ok_or("cap:identifier: required field is missing")?
        .to_owned();
    let kind = MessageKind::parse(field("message_type").or(field("msgType")).unwrap_or(""));
    // The geocode's children are Atom elements in the real feed; CAP ones are accepted too.
    let place = cap::children(entry, NS, "geocode")
        .flat_map(|g| {
            let pairs = |ns: &'static str| {
                (cap::text(g, ns, "valueName") == Some("EMMA_ID"))
                    .then(|| cap::text(g, ns, "value"))
                    .flatten()
            };
            pairs(ATOM).or_else(|| pairs(NS))
        })
        .next()
        .and_then(Place::parse_emma);
    let document = cap::children(entry, ATOM, "link")
        .find(|l| l.attribute("type") == Some("application/cap+xml"))
        .and_then(|l| l.attribute("href"))
        .map(str::to_owned);
    Ok(Entry {
        event: field("event").unwrap_or_default().to_owned(),
        area_desc: field("areaDesc").unwrap_or_default().to_owned(),
        kind,
        actual: field("status") == Some("Actual"),
        severity: Severity::parse(field("severity").unwrap_or("Unknown"))
            .unwrap_or(Severity::Unknown),
        sent: cap::time("cap:sent", field("sent"))?,
        expires: cap::time("cap:expires", field("expires"))?,
        place,
        document,
        identifier,
    })
}

/// What a CAP document adds to its entries.
pub fn parse_details(text: &str) -> Result<Details, String> {
    let doc = cap::parse(text)?;
    let root = cap::alert(&doc)?;
    let info = cap::children(root, NS, "info")
        .next()
        .ok_or("alert.info: required element is missing")?;
    let parameter = |name: &'static str| cap::pairs(info, NS, "parameter", name).next();
    Ok(Details {
        alert_type: parameter("awareness_type").and_then(alert_type),
        severity: parameter("awareness_level").and_then(awareness_severity),
        sender_name: cap::text(info, NS, "senderName").map(str::to_owned),
        references: cap::references(cap::text(root, NS, "references")),
    })
}

/// Whether a warning may be announced, so its document is worth reading: an actual alert or
/// update at yellow or above.
fn worth_reading(entry: &Entry) -> bool {
    entry.actual
        && matches!(entry.kind, MessageKind::Alert | MessageKind::Update)
        && entry.severity >= Severity::Moderate
}

/// The alerts of the entries, grouped by identifier; `details` is what each warning's CAP
/// document said (`None`: not read, so it is not announced).
pub fn alerts(entries: &[Entry], details: &HashMap<String, Details>) -> Vec<Alert> {
    let mut grouped: BTreeMap<&str, Vec<&Entry>> = BTreeMap::new();
    for entry in entries {
        grouped.entry(&entry.identifier).or_default().push(entry);
    }
    grouped
        .into_iter()
        .map(|(id, entries)| {
            let first = entries[0];
            let mut places: Vec<Place> = entries.iter().filter_map(|e| e.place.clone()).collect();
            places.sort();
            places.dedup();
            let known = details.get(id);
            let severity = known.and_then(|d| d.severity).unwrap_or(first.severity);
            let references = known.map(|d| d.references.clone()).unwrap_or_default();
            let action = match first.kind {
                MessageKind::Alert => Action::New,
                MessageKind::Update => Action::Update,
                MessageKind::Cancel => Action::Cancel,
                MessageKind::Other => Action::Routine,
            };
            Alert {
                id: id.to_owned(),
                event: first.event.clone(),
                alert_type: known.and_then(|d| d.alert_type),
                actual: first.actual,
                advance: false,
                kind: first.kind,
                severity,
                sender_name: known
                    .and_then(|d| d.sender_name.clone())
                    .unwrap_or_else(|| "MeteoAlarm".to_owned()),
                area_desc: entries
                    .iter()
                    .map(|e| e.area_desc.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
                sent: first.sent,
                expires: first.expires,
                ends: None,
                level: Level {
                    warning: 1,
                    extreme: u8::from(severity == Severity::Extreme),
                    ..Level::default()
                },
                places,
                tracks: vec![Track {
                    key: EventKey::message(id),
                    action,
                    aliases: references.iter().map(|r| EventKey::message(r)).collect(),
                    ends: None,
                }],
                references,
            }
        })
        .collect()
}

/// The MeteoAlarm Atom feed of one country.
pub struct MeteoAlarmFeed {
    client: FeedClient,
    /// CAP documents read, by identifier (a warning's document does not change: a new version
    /// has a new identifier).
    documents: Mutex<HashMap<String, Details>>,
}

impl MeteoAlarmFeed {
    pub fn new(client: FeedClient) -> Self {
        MeteoAlarmFeed {
            client,
            documents: Mutex::new(HashMap::new()),
        }
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, HashMap<String, Details>> {
        self.documents.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Reads the documents of the warnings that need them and are not kept yet. Returns
    /// the problems of those that could not be read.
    async fn read_documents(&self, entries: &[Entry], deadline: Instant) -> Vec<String> {
        let mut wanted: BTreeMap<&str, &Entry> = BTreeMap::new();
        {
            let kept = self.kept();
            for entry in entries.iter().filter(|e| worth_reading(e)) {
                if !kept.contains_key(&entry.identifier) {
                    wanted.entry(&entry.identifier).or_insert(entry);
                }
            }
        }
        let mut problems = Vec::new();
        let mut to_read = Vec::new();
        for (id, entry) in wanted {
            match entry.document.as_deref() {
                _ if to_read.len() >= MAX_DOCUMENTS => problems.push(format!(
                    "{id}: more than {MAX_DOCUMENTS} CAP documents to read in one poll; read next time"
                )),
                Some(url) if same_host(url, self.client.url()) => {
                    to_read.push((id.to_owned(), url.to_owned()))
                }
                Some(url) => problems.push(format!(
                    "{id}: its CAP document {url} is not on the feed's host; not read"
                )),
                None => problems.push(format!("{id}: the entry links no CAP document")),
            }
        }
        let client = &self.client;
        let deadline = deadline.min(Instant::now() + DOCUMENTS_TIME);
        let read: Vec<(String, Result<Details, String>)> = stream::iter(to_read)
            .map(|(id, url)| async move {
                let details = match client.document(&url, MAX_DOCUMENT, deadline).await {
                    Ok(body) => std::str::from_utf8(&body)
                        .map_err(|e| format!("is not UTF-8: {e}"))
                        .and_then(parse_details)
                        .map_err(|p| format!("{id}: its CAP document {url} {p}")),
                    Err(err) => Err(format!("{id}: {err}")),
                };
                (id, details)
            })
            .buffer_unordered(DOCUMENT_CONCURRENCY)
            .collect()
            .await;
        let mut kept = self.kept();
        make_room(&mut kept, entries, read.len());
        for (id, details) in read {
            match details {
                Ok(details) => {
                    kept.insert(id, details);
                }
                Err(problem) => problems.push(problem),
            }
        }
        problems
    }
}

/// Bounds the documents kept before `incoming` more are added: when they would pass
/// [`KEPT`], the warnings the feed no longer lists are forgotten, never those it still lists
/// (forgetting one would leave it undecided while the feed, unchanged, answers 304).
fn make_room(kept: &mut HashMap<String, Details>, listed: &[Entry], incoming: usize) {
    if kept.len() + incoming > KEPT {
        let listed: std::collections::HashSet<&str> =
            listed.iter().map(|e| e.identifier.as_str()).collect();
        kept.retain(|id, _| listed.contains(id.as_str()));
    }
}

/// Whether two http(s) URLs name the same host (and port).
fn same_host(a: &str, b: &str) -> bool {
    let host = |url: &str| {
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))?;
        Some(rest.split(['/', '?', '#']).next()?.to_ascii_lowercase())
    };
    host(a).is_some() && host(a) == host(b)
}

impl AlertFeed for MeteoAlarmFeed {
    fn url(&self) -> &str {
        self.client.url()
    }

    fn kind(&self) -> &'static str {
        FeedKind::MeteoAlarm.name()
    }

    fn fetch(&self, deadline: Instant) -> FeedFuture<'_> {
        Box::pin(async move {
            let (body, validators) = match self.client.fetch(deadline).await? {
                Fetched::NotModified => return Ok(Polled::NotModified),
                Fetched::Changed { body, validators } => (body, validators),
            };
            let (entries, mut malformed) =
                parse_feed(&body).map_err(|p| self.client.malformed(p))?;
            drop(body);
            let problems = self.read_documents(&entries, deadline).await;
            // A warning whose document could not be read is not decided now: the feed is
            // not remembered, so the next poll reads it (and its document) again.
            let validators = if problems.is_empty() {
                validators
            } else {
                Validators::default()
            };
            let details = self.kept().clone();
            let unread: Vec<&str> = entries
                .iter()
                .filter(|e| worth_reading(e) && !details.contains_key(&e.identifier))
                .map(|e| e.identifier.as_str())
                .collect();
            let decided: Vec<Entry> = entries
                .iter()
                .filter(|e| !unread.contains(&e.identifier.as_str()))
                .cloned()
                .collect();
            malformed.extend(problems);
            Ok(Polled::Changed {
                alerts: Alerts {
                    alerts: alerts(&decided, &details),
                    malformed,
                },
                validators,
            })
        })
    }

    fn remember(&self, validators: Validators) {
        self.client.remember(validators);
    }
}

#[cfg(test)]
mod tests;
