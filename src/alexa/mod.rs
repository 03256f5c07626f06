//! The Alexa API client: the Login-with-Amazon token, POSTs to the proactive events API in each
//! region, and the retry policy both follow. An edge: it takes an event as the bytes to post and
//! knows nothing of schemas, triggers or the state table.
//!
//! [`EventsApi`] is what the rest of the product needs of Alexa. [`Client`] is the real one,
//! built lazily (HTTP client, token cache and secret on the first send: an invocation that only
//! answers Alexa never pays for them); [`fake::FakeAlexa`] is an in-memory one for unit tests.

pub mod address;
pub mod fake;
pub mod metrics;
pub mod region;
pub mod retry;
pub mod sender;
pub mod token;

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use tokio::sync::OnceCell;
use tokio::time::Instant;

use crate::credentials::CredentialSource;
use crate::http;
pub use region::{Region, Settings, Stage};
pub use sender::{Delivery, Sender, Status};
use token::TokenCache;

/// One event, ready to post: serialised once, every region gets the same bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Post {
    pub reference_id: String,
    /// A 403 for a Unicast means that user has not allowed notifications; for a Multicast it
    /// is a refused token.
    pub unicast: bool,
    pub body: Vec<u8>,
}

/// The client could not be set up at all (no usable TLS set-up on this host).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the HTTP client could not be set up: {0}")]
pub struct SetupError(pub String);

pub type ApiFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Sends events to Alexa. Every post ends in one [`Delivery`] per region, in order.
pub trait EventsApi: Send + Sync {
    fn send_all<'a>(
        &'a self,
        posts: &'a [(Post, Vec<Region>)],
        deadline: Instant,
    ) -> ApiFuture<'a, Result<Vec<Delivery>, SetupError>>;
}

/// The real events API, over HTTPS.
pub struct Client {
    settings: Settings,
    credentials: Arc<dyn CredentialSource>,
    sender: OnceCell<Sender>,
}

impl Client {
    pub fn new(settings: Settings, credentials: Arc<dyn CredentialSource>) -> Self {
        Client {
            settings,
            credentials,
            sender: OnceCell::new(),
        }
    }

    /// The sender, built on first use.
    async fn sender(&self) -> Result<&Sender, SetupError> {
        self.sender
            .get_or_try_init(|| async {
                let client = http::shared()
                    .await
                    .map_err(|e| SetupError(e.to_string()))?;
                let tokens = TokenCache::new(
                    client.clone(),
                    self.settings.lwa_token_url.clone(),
                    self.credentials.clone(),
                );
                Ok(Sender::new(client, tokens, self.settings.clone()))
            })
            .await
    }
}

impl EventsApi for Client {
    fn send_all<'a>(
        &'a self,
        posts: &'a [(Post, Vec<Region>)],
        deadline: Instant,
    ) -> ApiFuture<'a, Result<Vec<Delivery>, SetupError>> {
        Box::pin(async move {
            if posts.is_empty() {
                return Ok(Vec::new());
            }
            Ok(self.sender().await?.send_all(posts, deadline).await)
        })
    }
}
