//! The European feeds on loopback, from the fixtures of `tests/fixtures/dwd/` and
//! `tests/fixtures/meteoalarm/`: DWD's zip of CAP documents, and MeteoAlarm's UK Atom feed
//! with the CAP document of each warning, its links pointing at the local server. The
//! fixtures carry fixed dates; they are moved to tomorrow, so the warnings are current.

use std::io::Write;

use crate::feed::FeedServer;
use crate::Project;

/// The path DWD publishes its full set of municipality warnings at.
pub const DWD_PATH: &str = "/weather/alerts/cap/COMMUNEUNION_DWD_STAT/Z_CAP_C_EDZW_LATEST_PVW_STATUS_PREMIUMDWD_COMMUNEUNION_DE.zip";
/// MeteoAlarm's UK feed.
pub const METEOALARM_PATH: &str = "/feeds/meteoalarm-legacy-atom-united-kingdom";
/// The day the DWD fixtures are dated.
const DWD_DAY: &str = "2026-07-14";
/// ... and the MeteoAlarm ones.
const METEOALARM_DAY: &str = "2026-09-14";

/// A fixture of `tests/fixtures/<dir>/`, its `day` moved to tomorrow.
pub fn fixture(project: &Project, dir: &str, name: &str, day: &str) -> String {
    let path = project.root.join("tests/fixtures").join(dir).join(name);
    let tomorrow = (chrono::Utc::now() + chrono::Duration::days(1))
        .format("%Y-%m-%d")
        .to_string();
    std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .replace(day, &tomorrow)
}

/// A zip of `(name, text)` documents, deflated as DWD's are.
pub fn zip_of(files: &[(&str, String)]) -> Vec<u8> {
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, text) in files {
        out.start_file(*name, options).expect("a zip entry");
        out.write_all(text.as_bytes()).expect("written to memory");
    }
    out.finish().expect("a zip").into_inner()
}

/// DWD's full set made of these fixtures.
pub fn dwd_set(project: &Project, files: &[&str]) -> Vec<u8> {
    let docs: Vec<(&str, String)> = files
        .iter()
        .map(|name| (*name, fixture(project, "dwd", name, DWD_DAY)))
        .collect();
    zip_of(&docs)
}

/// A DWD server serving these fixtures as its full set.
pub async fn dwd_server(project: &Project, files: &[&str]) -> FeedServer {
    let server = FeedServer::start_at(DWD_PATH).await;
    server.serve_bytes(dwd_set(project, files), "application/zip");
    server
}

/// A MeteoAlarm server serving the UK fixture feed and a CAP document for each warning: the
/// amber thunderstorm's from the fixtures, the others made from it with their own type.
pub async fn meteoalarm_server(project: &Project) -> FeedServer {
    let server = FeedServer::start_at(METEOALARM_PATH).await;
    let origin = server.origin();
    let feed = fixture(project, "meteoalarm", "uk-feed.xml", METEOALARM_DAY)
        .replace("https://feeds.meteoalarm.org", &origin);
    let amber = fixture(
        project,
        "meteoalarm",
        "uk-cap-amber-thunderstorm.xml",
        METEOALARM_DAY,
    );
    let doc = roxmltree::Document::parse(&feed).expect("the fixture feed is XML");
    for entry in doc.descendants().filter(|n| n.has_tag_name("entry")) {
        let text = |name: &str| {
            entry
                .children()
                .find(|c| c.tag_name().name() == name)
                .and_then(|c| c.text())
                .unwrap_or_default()
                .to_owned()
        };
        let Some(link) = entry
            .children()
            .find(|l| l.attribute("type") == Some("application/cap+xml"))
            .and_then(|l| l.attribute("href"))
        else {
            continue;
        };
        let path = link.strip_prefix(&origin).unwrap_or(link).to_owned();
        let event = text("event");
        let kind = if event.contains("thunderstorm") {
            "3; Thunderstorm"
        } else if event.contains("wind") {
            "1; Wind"
        } else {
            "10; Rain"
        };
        let body = amber
            .replace(
                "2.49.0.0.826.0.GB_260914094207_c81d05e2.v1.0.SI",
                &text("identifier"),
            )
            .replace("3; Thunderstorm", kind);
        server.document(&path, body.into_bytes());
    }
    server.serve_bytes(feed.into_bytes(), "application/atom+xml");
    server
}
