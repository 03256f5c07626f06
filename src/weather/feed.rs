//! A feed of alerts, whatever its format: fetched and read into the [`Alerts`] model. The poll
//! sees only this trait; NWS is one implementation ([`NwsFeed`]: HTTP through
//! [`FeedClient`], the format in [`super::nws`]), [`MemoryFeed`] the one tests drive.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use tokio::time::Instant;

use super::alert::Alerts;
use super::client::{FeedClient, FeedError, Fetched, Validators};
use super::nws;
use super::settings::FeedKind;

pub type FeedFuture<'a> = Pin<Box<dyn Future<Output = Result<Polled, FeedError>> + Send + 'a>>;

/// What one fetch of a feed gave.
pub enum Polled {
    /// Unchanged since the version last [`AlertFeed::remember`]ed.
    NotModified,
    /// The feed's alerts, and the version to remember once every one was handled.
    Changed {
        alerts: Alerts,
        validators: Validators,
    },
}

pub trait AlertFeed: Send + Sync {
    /// Where the feed is (for reports and logs).
    fn url(&self) -> &str;
    /// Its format, as configured (`nws`, `dwd`, `meteoalarm`).
    fn kind(&self) -> &'static str;
    /// Fetches the feed and reads it; a body that is no feed of this kind is an error.
    fn fetch(&self, deadline: Instant) -> FeedFuture<'_>;
    /// Every alert of the version `validators` names was handled: a later fetch may answer
    /// [`Polled::NotModified`] while it is unchanged.
    fn remember(&self, validators: Validators);
}

/// The US National Weather Service's `/alerts/active` (GeoJSON).
pub struct NwsFeed {
    client: FeedClient,
}

impl NwsFeed {
    pub fn new(client: FeedClient) -> Self {
        NwsFeed { client }
    }
}

impl AlertFeed for NwsFeed {
    fn url(&self) -> &str {
        self.client.url()
    }

    fn kind(&self) -> &'static str {
        FeedKind::Nws.name()
    }

    fn fetch(&self, deadline: Instant) -> FeedFuture<'_> {
        Box::pin(async move {
            match self.client.fetch(deadline).await? {
                Fetched::NotModified => Ok(Polled::NotModified),
                Fetched::Changed { body, validators } => {
                    let alerts = nws::parse(&body).map_err(|p| self.client.malformed(p))?;
                    // The body is dropped here: a national feed's megabytes are not kept
                    // through the sends.
                    Ok(Polled::Changed { alerts, validators })
                }
            }
        })
    }

    fn remember(&self, validators: Validators) {
        self.client.remember(validators);
    }
}

/// A feed held in memory: tests set its alerts (or an error) and poll.
#[derive(Default)]
pub struct MemoryFeed {
    state: Mutex<MemoryState>,
    url: String,
}

#[derive(Default)]
struct MemoryState {
    next: Option<Result<Alerts, FeedError>>,
    version: u64,
    remembered: Option<Validators>,
    fetches: usize,
}

impl MemoryFeed {
    pub fn new(alerts: Alerts) -> Self {
        let feed = MemoryFeed::default();
        feed.set(alerts);
        feed
    }

    /// A feed at its own `url` (several feeds in one poll).
    pub fn at(url: &str, alerts: Alerts) -> Self {
        let feed = MemoryFeed {
            url: url.to_owned(),
            ..MemoryFeed::default()
        };
        feed.set(alerts);
        feed
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, MemoryState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The feed's alerts from now on (a new version).
    pub fn set(&self, alerts: Alerts) {
        let mut state = self.lock();
        state.next = Some(Ok(alerts));
        state.version += 1;
    }

    /// The feed fails from now on.
    pub fn fail(&self, err: FeedError) {
        let mut state = self.lock();
        state.next = Some(Err(err));
        state.version += 1;
    }

    pub fn fetches(&self) -> usize {
        self.lock().fetches
    }
}

impl AlertFeed for MemoryFeed {
    fn url(&self) -> &str {
        if self.url.is_empty() {
            "memory:"
        } else {
            &self.url
        }
    }

    fn kind(&self) -> &'static str {
        "memory"
    }

    fn fetch(&self, _deadline: Instant) -> FeedFuture<'_> {
        let mut state = self.lock();
        state.fetches += 1;
        let validators = Validators::etag(state.version.to_string());
        let result = if state.remembered.as_ref() == Some(&validators) {
            Ok(Polled::NotModified)
        } else {
            match &state.next {
                Some(Ok(alerts)) => Ok(Polled::Changed {
                    alerts: alerts.clone(),
                    validators,
                }),
                Some(Err(err)) => Err(err.clone()),
                None => Ok(Polled::Changed {
                    alerts: Alerts::default(),
                    validators,
                }),
            }
        };
        Box::pin(async move { result })
    }

    fn remember(&self, validators: Validators) {
        self.lock().remembered = Some(validators);
    }
}
