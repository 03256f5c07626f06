//! NWS P-VTEC strings (NWSI 10-1703): `/k.aaa.cccc.pp.s.####.yymmddThhnnZ-yymmddThhnnZ/`, in an
//! alert's `parameters.VTEC`. Each names one hazard event (office `cccc`, phenomenon `pp`,
//! significance `s`, event tracking number `####`) and what the message does to it (`aaa`).

use chrono::{DateTime, Datelike, NaiveDateTime, Utc};

use super::alert::{Action, EventKey};

/// One P-VTEC string, read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vtec {
    pub action: Action,
    pub office: String,
    pub phenomenon: String,
    pub significance: String,
    pub etn: String,
    /// `None` for `000000T0000Z`: the event had begun already (or, for the end, no end set).
    pub begins: Option<DateTime<Utc>>,
    pub ends: Option<DateTime<Utc>>,
}

impl Vtec {
    /// Reads one string; `None` for anything that is not an operational (`O`) P-VTEC string
    /// (test and experimental strings name no real event).
    pub fn parse(text: &str) -> Option<Vtec> {
        let inner = text.trim().strip_prefix('/')?.strip_suffix('/')?;
        let fields: Vec<&str> = inner.split('.').collect();
        let [class, action, office, phenomenon, significance, etn, times] = fields[..] else {
            return None;
        };
        if class != "O" {
            return None;
        }
        let action = Action::from_vtec(action)?;
        let letters =
            |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_alphanumeric());
        if !letters(office, 4)
            || !letters(phenomenon, 2)
            || !letters(significance, 1)
            || etn.len() != 4
            || !etn.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let (begins, ends) = times.split_once('-')?;
        Some(Vtec {
            action,
            office: office.to_owned(),
            phenomenon: phenomenon.to_owned(),
            significance: significance.to_owned(),
            etn: etn.to_owned(),
            begins: time(begins)?,
            ends: time(ends)?,
        })
    }

    /// The event's key. ETNs start again each January 1, so the key holds a year: the year the
    /// event begins when the string says, else the year the message was `sent`.
    pub fn key(&self, sent: Option<DateTime<Utc>>) -> EventKey {
        let year = self.begins.or(sent).map_or(0, |t| t.year());
        EventKey::vtec(
            &self.office,
            &self.phenomenon,
            &self.significance,
            &self.etn,
            year,
        )
    }

    /// The key under which an event that began last year is remembered: a message sent in
    /// January about an event already under way may continue one from December.
    pub fn last_years_key(&self, sent: Option<DateTime<Utc>>) -> Option<EventKey> {
        let sent = sent?;
        (self.begins.is_none() && sent.month() == 1).then(|| {
            EventKey::vtec(
                &self.office,
                &self.phenomenon,
                &self.significance,
                &self.etn,
                sent.year() - 1,
            )
        })
    }
}

/// `yymmddThhnnZ`; `Some(None)` for the all-zero "not set" time; `None` if malformed.
fn time(text: &str) -> Option<Option<DateTime<Utc>>> {
    if text == "000000T0000Z" {
        return Some(None);
    }
    let naive = NaiveDateTime::parse_from_str(text, "%y%m%dT%H%MZ").ok()?;
    Some(Some(naive.and_utc()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(text: &str) -> Option<DateTime<Utc>> {
        Some(
            DateTime::parse_from_rfc3339(text)
                .unwrap()
                .with_timezone(&Utc),
        )
    }

    #[test]
    fn a_new_tornado_warning_is_read_with_its_times() {
        let v = Vtec::parse("/O.NEW.KOUN.TO.W.0033.250420T2200Z-250420T2245Z/").unwrap();
        assert_eq!(v.action, Action::New);
        assert_eq!(v.begins, at("2025-04-20T22:00:00Z"));
        assert_eq!(v.ends, at("2025-04-20T22:45:00Z"));
        assert_eq!(v.key(None).as_str(), "KOUN.TO.W.0033.2025");
    }

    #[test]
    fn a_continuation_takes_its_year_from_when_it_was_sent() {
        let v = Vtec::parse("/O.CON.KTSA.WS.W.0004.000000T0000Z-260102T1800Z/").unwrap();
        assert_eq!(v.action, Action::Continue);
        assert_eq!(v.begins, None);
        let sent = at("2026-01-01T09:00:00Z");
        assert_eq!(v.key(sent).as_str(), "KTSA.WS.W.0004.2026");
        // Sent in January about an event under way: it may have begun in December.
        assert_eq!(
            v.last_years_key(sent).unwrap().as_str(),
            "KTSA.WS.W.0004.2025"
        );
        assert_eq!(v.last_years_key(at("2026-02-01T09:00:00Z")), None);
        let open = Vtec::parse("/O.EXT.KTSA.WS.W.0004.000000T0000Z-000000T0000Z/").unwrap();
        assert_eq!(open.ends, None);
    }

    #[test]
    fn anything_but_an_operational_p_vtec_string_is_none() {
        for bad in [
            "",
            "/T.NEW.KOUN.TO.W.0033.250420T2200Z-250420T2245Z/",
            "/O.XYZ.KOUN.TO.W.0033.250420T2200Z-250420T2245Z/",
            "/O.NEW.KOUN.TO.W.33.250420T2200Z-250420T2245Z/",
            "/O.NEW.KOUN.TO.W.0033.250420T2200Z/",
            "/O.NEW.KOUN.TO.W.0033.2504202200-250420T2245Z/",
            "O.NEW.KOUN.TO.W.0033.250420T2200Z-250420T2245Z",
            // An H-VTEC string (hydrologic) has another shape.
            "/00000.N.ER.000000T0000Z.000000T0000Z.000000T0000Z.OO/",
        ] {
            assert_eq!(Vtec::parse(bad), None, "{bad}");
        }
    }
}
