//! The skill's conversation with the world: what the pure [`Skill`] asks for (send the test
//! alert, record a skill event, read, store or forget the user's area, look the address up)
//! carried out with the ledger, the notifier and the Device Address API, within the time Alexa
//! gives, and then answered. The Lambda adapter only hands the payload over.

use std::time::Duration;

use serde_json::Value;
use tokio::time::Instant;

use super::envelope::ResponseEnvelope;
use super::speech::Language;
use super::{AreaOutcome, LaunchArea, Locate, Reply, Skill, SkillError};
use crate::alexa::address::{Address, AddressLookup};
use crate::alexa::Status;
use crate::event::schemas::WEATHER_ALERT;
use crate::ledger::Ledger;
use crate::notifier::Notifier;
use crate::state::{AreaSource, StateError, UserChange};

/// How long a send made while Alexa waits for the answer may take: Alexa gives up on a skill
/// after 8 s.
pub const ALEXA_BUDGET: Duration = Duration::from_secs(6);
/// How long the test alert may spend reading the user's stored subscriptions.
const SUBSCRIPTION_READ_BUDGET: Duration = Duration::from_secs(1);

/// Why Alexa gets no answer: the request was refused, or a skill event could not be recorded
/// (Alexa then delivers it again).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum AnswerError {
    #[error(transparent)]
    Skill(#[from] SkillError),
    #[error(transparent)]
    State(#[from] StateError),
}

/// One request's view of what the skill talks to.
pub struct Conversation<'a> {
    pub skill: &'a Skill,
    pub notifier: &'a Notifier,
    /// `None` without a state table.
    pub ledger: Option<&'a Ledger>,
    pub address: &'a dyn AddressLookup,
}

impl Conversation<'_> {
    /// Answers one Alexa request, doing what the skill asks for on the way.
    pub async fn answer(
        &self,
        payload: Value,
        deadline: Instant,
    ) -> Result<ResponseEnvelope, AnswerError> {
        let answer_envelope = match self.skill.handle(payload)? {
            Reply::Answer(answer) => answer,
            Reply::SendTestAlert {
                alert,
                language,
                permission_unknown,
            } => {
                // Alexa gives up on a skill after 8 s: answer well before that.
                let deadline = deadline.min(Instant::now() + ALEXA_BUDGET);
                let user = alert.user.as_deref().unwrap_or_default();
                let status = if permission_unknown && self.unsubscribed(user, deadline).await {
                    Status::NotSubscribed
                } else {
                    self.notifier.send_one(&alert, deadline).await
                };
                Skill::test_alert_answer(language, status)
            }
            Reply::Record { change, answer } => {
                self.record(&change, deadline).await?;
                answer
            }
            Reply::AddressRevoked { user, answer } => {
                // A failed delete fails the invocation: Alexa delivers the event again.
                if let Some(ledger) = &self.ledger {
                    ledger.forget_device_area(&user, deadline).await?;
                }
                answer
            }
            Reply::Locate(locate) => {
                let deadline = deadline.min(Instant::now() + ALEXA_BUDGET);
                let area = self.locate(&locate, deadline).await;
                Skill::launch_answer(locate.language, locate.notifications, &area)
            }
            Reply::SetArea { area, language } => {
                let deadline = deadline.min(Instant::now() + ALEXA_BUDGET);
                let outcome = match &self.ledger {
                    None => AreaOutcome::NoMemory,
                    Some(ledger) => match ledger.set_area(&area, deadline).await {
                        Ok(()) => AreaOutcome::Saved(&area),
                        Err(err) => {
                            // Alexa needs words, not an error: the user hears to try later.
                            tracing::error!(error = %err, "the user's ZIP code was not stored");
                            AreaOutcome::SaveFailed
                        }
                    },
                };
                Skill::area_answer(language, outcome)
            }
            Reply::SayArea { user, language } => {
                let deadline = deadline.min(Instant::now() + ALEXA_BUDGET);
                let stored = match &self.ledger {
                    None => Err(AreaOutcome::NoMemory),
                    Some(ledger) => ledger.area(&user, deadline).await.map_err(|err| {
                        tracing::error!(error = %err, "the user's area was not read");
                        AreaOutcome::Failed
                    }),
                };
                match &stored {
                    Ok(area) => Skill::area_answer(language, AreaOutcome::Stored(area.as_ref())),
                    Err(outcome) => Skill::area_answer(language, *outcome),
                }
            }
            Reply::ForgetArea { user, language } => {
                self.forget_area(&user, language, deadline).await
            }
        };
        Ok(answer_envelope)
    }

    /// Where a launching user is: the area they said; else the Device Address API's answer,
    /// stored, and read again at every launch when the stored area came from the device (a
    /// user who moves is moved, and told). A failed or missing read keeps what is stored.
    /// Every failure ends in words for the user, never in a failed launch.
    async fn locate(&self, locate: &Locate, deadline: Instant) -> LaunchArea {
        let Some(ledger) = &self.ledger else {
            return LaunchArea::NoMemory;
        };
        let stored = match ledger.area(&locate.user, deadline).await {
            // The user said it: the device never overwrites it.
            Ok(Some(area)) if area.source == AreaSource::Voice => return LaunchArea::Known(area),
            Ok(stored) => stored,
            Err(err) => {
                tracing::warn!(error = %err, "the user's area was not read; launching without it");
                return LaunchArea::Unreadable;
            }
        };
        let kept = |unknown: LaunchArea| match &stored {
            Some(area) => LaunchArea::Known(area.clone()),
            None => unknown,
        };
        let unknown = LaunchArea::Unknown {
            address_granted: locate.address_granted,
        };
        let Some(query) = &locate.lookup else {
            return kept(unknown);
        };
        let (country, postal) = match self.address.lookup(query, deadline).await {
            Address::Found { country, postal } => (country, postal),
            Address::NotGranted => {
                return kept(LaunchArea::Unknown {
                    address_granted: false,
                })
            }
            Address::NoAddress => return kept(unknown),
            Address::Unavailable(reason) => {
                tracing::warn!(%reason, "the Device Address API gave no address");
                return kept(unknown);
            }
        };
        let Some(area) = locate.area_at(&country, &postal) else {
            // The postal code itself is personal data: only the country is logged.
            tracing::info!(%country, "the device's postal code is not in the ZIP table");
            return kept(unknown);
        };
        if stored.as_ref() == Some(&area) {
            return LaunchArea::Known(area);
        }
        // The same address read again whose places changed (the tables grew: a German or
        // British address stored before the feeds served it) is stored, not announced as a move.
        let moved = stored
            .as_ref()
            .is_some_and(|s| s.postal_code != area.postal_code || s.country != area.country);
        match ledger.set_area(&area, deadline).await {
            Ok(()) if moved => {
                tracing::info!("the device's address changed: the user's area is moved");
                LaunchArea::Moved(area)
            }
            Ok(()) => LaunchArea::Known(area),
            Err(err) => {
                // Not said as if it were kept: the next launch looks it up again.
                tracing::error!(error = %err, "the user's address was not stored");
                kept(LaunchArea::Unreadable)
            }
        }
    }

    /// ForgetAreaIntent: deletes the stored area and says whether there was one.
    async fn forget_area(
        &self,
        user: &str,
        language: Language,
        deadline: Instant,
    ) -> ResponseEnvelope {
        let deadline = deadline.min(Instant::now() + ALEXA_BUDGET);
        let outcome = match &self.ledger {
            None => AreaOutcome::NoMemory,
            Some(ledger) => match ledger.forget_area(user, deadline).await {
                Ok(had) => AreaOutcome::Forgotten(had),
                Err(err) => {
                    tracing::error!(error = %err, "the user's area was not deleted");
                    AreaOutcome::Failed
                }
            },
        };
        Skill::area_answer(language, outcome)
    }

    /// Whether the user's stored subscriptions say they do not get weather alerts. Nothing
    /// stored, a slow or failing read: not known, so the caller tries the send.
    async fn unsubscribed(&self, user_id: &str, deadline: Instant) -> bool {
        let Some(ledger) = &self.ledger else {
            return false;
        };
        let bound = deadline.min(Instant::now() + SUBSCRIPTION_READ_BUDGET);
        match ledger.subscriptions(user_id, bound).await {
            Ok(Some(events)) => !events.iter().any(|e| e == WEATHER_ALERT),
            Ok(None) => false,
            Err(err) => {
                tracing::warn!(error = %err, "stored subscriptions not read; trying the send");
                false
            }
        }
    }

    /// Stores a user's skill event. Without a state table it is only logged (the skill
    /// answered Alexa either way); a failed write fails the invocation so Alexa redelivers.
    async fn record(&self, change: &UserChange, deadline: Instant) -> Result<(), StateError> {
        if let Some(ledger) = &self.ledger {
            ledger.record_user(change, deadline).await?;
        }
        Ok(())
    }
}
