//! What the skill says, per language.
//!
//! en-US, en-GB and de-DE have their own texts, each speaking of the service its users hear:
//! the US National Weather Service, the Met Office (through MeteoAlarm), the Deutscher
//! Wetterdienst. A German speaker sets their area by saying their Postleitzahl; a British one
//! through the device's address (Alexa has no slot for a British postcode). Other German
//! locales (de-AT, de-CH) get German; every other locale, and a request without one, gets US
//! English.

/// A language the skill answers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Language {
    EnUs,
    EnGb,
    De,
}

/// The locales the skill has its own texts for (the interaction models, the manifest and the
/// weather alerts' `source` follow this list).
pub const LOCALES: [&str; 3] = ["en-US", "en-GB", "de-DE"];

impl Language {
    pub fn from_locale(locale: Option<&str>) -> Language {
        let Some(locale) = locale else {
            return Language::EnUs;
        };
        let mut parts = locale.split(['-', '_']);
        let language = parts.next().unwrap_or_default().to_ascii_lowercase();
        let region = parts.next().unwrap_or_default().to_ascii_uppercase();
        match (language.as_str(), region.as_str()) {
            ("de", _) => Language::De,
            ("en", "GB") => Language::EnGb,
            _ => Language::EnUs,
        }
    }

    pub fn texts(self) -> &'static Texts {
        match self {
            Language::EnUs => &EN_US,
            Language::EnGb => &EN_GB,
            Language::De => &DE,
        }
    }
}

/// Every sentence the skill speaks.
#[derive(Debug)]
pub struct Texts {
    pub welcome: &'static str,
    pub notifications_on: &'static str,
    pub notifications_off: &'static str,
    pub reprompt: &'static str,
    pub help: &'static str,
    pub goodbye: &'static str,
    pub fallback: &'static str,
    pub test_alert_sent: &'static str,
    pub test_alert_not_subscribed: &'static str,
    pub test_alert_failed: &'static str,
    /// The test alert's `source`, as Alexa reads it out.
    pub test_alert_source: &'static str,
    /// The user's area; `{area}` becomes the counties, joined with [`Texts::and`].
    pub area_is: &'static str,
    /// Joins the last two counties: "A, B and C".
    pub and: &'static str,
    /// The area by its postal code, when the table no longer names its places; `{code}`
    /// becomes the code, spelled out.
    pub postal_code_named: &'static str,
    /// Before [`Texts::area_is`] once a ZIP code is stored.
    pub area_saved: &'static str,
    /// Launch: before [`Texts::area_is`] when the device's address moved the area.
    pub area_moved: &'static str,
    /// The stored postal code is in a country no feed serves.
    pub area_abroad: &'static str,
    /// Launch: the address permission is granted but gave no usable address.
    pub area_ask: &'static str,
    /// Launch: the address permission is not granted.
    pub area_permission: &'static str,
    /// Asked again while the skill waits for a ZIP code.
    pub area_reprompt: &'static str,
    /// MyAreaIntent with nothing stored.
    pub area_none: &'static str,
    /// SetZipCodeIntent without a usable number.
    pub zip_missing: &'static str,
    /// SetZipCodeIntent with a ZIP the table does not know; `{zip}` becomes it.
    pub zip_unknown: &'static str,
    pub area_forgotten: &'static str,
    pub area_nothing_to_forget: &'static str,
    /// No state table: the skill cannot keep an area.
    pub area_no_memory: &'static str,
    pub area_save_failed: &'static str,
    /// Reading or deleting the stored area failed.
    pub area_failed: &'static str,
}

const EN_US: Texts = Texts {
    welcome: "Welcome to Weather Alerts. I announce severe weather alerts for your area as Alexa \
              notifications: tornado, hurricane, winter storm and thunderstorm alerts.",
    notifications_on:
        "Notifications are on, so you're all set. To try it, say: send me a test alert.",
    notifications_off: "To get alerts, turn on notifications for this skill. I've sent a card to \
                        your Alexa app: open it and allow notifications.",
    reprompt: "You can say: send me a test alert. Or say stop.",
    help: "I send you a notification when the weather service issues a severe weather alert for \
           your area. Say: send me a test alert, to get a sample. Or say stop.",
    goodbye: "Goodbye.",
    fallback: "Sorry, I can't help with that. You can say: send me a test alert, or: help.",
    test_alert_sent: "Done: a test alert is on its way. It arrives as a notification in a moment; \
                      to hear it, say: what are my notifications.",
    test_alert_not_subscribed: "I couldn't send it, because notifications are off for this skill. \
                                Turn them on in the Alexa app, under Skills, Weather Alerts, \
                                Settings, then ask me again.",
    test_alert_failed: "Sorry, I couldn't send the test alert just now. Please try again later.",
    test_alert_source: "the Weather Alerts skill, as a test",
    area_is: "I announce alerts for {area}.",
    postal_code_named: "zip code {code}",
    and: "and",
    area_saved: "Got it.",
    area_moved: "Your device's address has changed.",
    area_abroad: "Your postal code is in a country I don't serve yet: I announce alerts in the \
                  United States, Germany and the United Kingdom.",
    area_ask: "To know which alerts are yours, I need your zip code. Say, for example: my zip \
               code is 73019.",
    area_permission: "To know which alerts are yours, I need your zip code. Say, for example: my \
                      zip code is 73019. Or allow the skill to use your postal code in the Alexa \
                      app.",
    area_reprompt: "What is your five-digit zip code? Say, for example: my zip code is 73019.",
    area_none: "I don't know your area yet. To set it, say, for example: my zip code is 73019.",
    zip_missing: "Sorry, I didn't get your zip code. Please say the five digits, for example: my \
                  zip code is 73019.",
    zip_unknown: "Sorry, I don't know the zip code {zip}. Please say your five-digit zip code \
                  again.",
    area_forgotten:
        "Done: I've forgotten your area. I won't announce alerts for a place until you \
                     tell me your zip code again.",
    area_nothing_to_forget: "I have no area stored for you, so there is nothing to forget.",
    area_no_memory: "Sorry, I can't remember an area for you at the moment.",
    area_save_failed: "Sorry, I couldn't save your zip code just now. Please try again later.",
    area_failed: "Sorry, I can't reach your stored area just now. Please try again later.",
};

/// British English says "warnings", as the Met Office does, and speaks of the Met Office; a
/// British user's area comes from the device's address.
static EN_GB: Texts = Texts {
    welcome:
        "Welcome to Weather Alerts. I announce severe weather warnings for your area as Alexa \
              notifications: the Met Office's in the United Kingdom, and the national weather \
              services' in Germany and the United States.",
    notifications_on:
        "Notifications are switched on, so you're all set. To try it, say: send me a \
                       test alert.",
    notifications_off: "To get warnings, switch on notifications for this skill. I've sent a card \
                        to your Alexa app: open it and allow notifications.",
    help: "I send you a notification when the Met Office, or the national weather service where \
           you are, issues a severe weather warning for your area. Say: send me a test alert, to \
           get a sample. Or say stop.",
    area_is: "I announce warnings for {area}.",
    postal_code_named: "postcode {code}",
    area_abroad: "Your postcode is in a country I don't serve yet: I announce warnings in the \
                  United Kingdom, Germany and the United States.",
    area_ask: "To know which warnings are yours, I need your postcode: set your device's address \
               in the Alexa app. In the United States, you can also say your zip code, for \
               example: my zip code is 73019.",
    area_permission: "To know which warnings are yours, I need your postcode: allow the skill to \
                      use it in the Alexa app, where I've sent a card. In the United States, you \
                      can also say your zip code, for example: my zip code is 73019.",
    area_none: "I don't know your area yet. Set your device's address in the Alexa app and allow \
                this skill to use your postcode. In the United States, you can also say your zip \
                code, for example: my zip code is 73019.",
    area_forgotten: "Done: I've forgotten your area. I won't announce warnings for a place until \
                     you tell me your area again.",
    ..EN_US
};

static DE: Texts = Texts {
    welcome: "Willkommen bei Unwetterwarnungen. Ich melde dir die Unwetterwarnungen des Deutschen \
              Wetterdienstes für deinen Kreis als Alexa-Benachrichtigung: schwere Gewitter, \
              Orkanböen und starke Schneeverwehungen.",
    notifications_on: "Benachrichtigungen sind eingeschaltet, alles ist bereit. Zum Ausprobieren \
                       sag: schick mir eine Testwarnung.",
    notifications_off: "Damit ich dich warnen kann, schalte die Benachrichtigungen für diesen Skill \
                        ein. Ich habe dir eine Karte in die Alexa-App geschickt: öffne sie und \
                        erlaube Benachrichtigungen.",
    reprompt: "Du kannst sagen: schick mir eine Testwarnung. Oder sag stopp.",
    help: "Ich schicke dir eine Benachrichtigung, sobald der Deutsche Wetterdienst eine \
           Unwetterwarnung für deinen Kreis herausgibt. Sag: schick mir eine Testwarnung, für ein Beispiel. Oder sag stopp.",
    goodbye: "Bis bald.",
    fallback: "Das kann ich leider nicht. Du kannst sagen: schick mir eine Testwarnung, oder: Hilfe.",
    test_alert_sent: "Erledigt: eine Testwarnung ist unterwegs. Sie kommt gleich als \
                      Benachrichtigung; zum Anhören sag: was sind meine Benachrichtigungen.",
    test_alert_not_subscribed: "Das ging nicht, weil die Benachrichtigungen für diesen Skill aus \
                                sind. Schalte sie in der Alexa-App unter Skills, Unwetterwarnungen, \
                                Einstellungen ein und frag mich dann noch einmal.",
    test_alert_failed: "Die Testwarnung konnte gerade nicht verschickt werden. Bitte versuch es \
                        später noch einmal.",
    test_alert_source: "dem Skill Unwetterwarnungen, als Test",
    area_is: "Ich melde dir Warnungen für {area}.",
    postal_code_named: "Postleitzahl {code}",
    and: "und",
    area_saved: "Alles klar.",
    area_moved: "Die Adresse deines Geräts hat sich geändert.",
    area_abroad: "Deine Postleitzahl liegt in einem Land, für das ich noch keine Warnungen habe: \
                  ich melde Warnungen für Deutschland, das Vereinigte Königreich und die USA.",
    area_ask: "Damit ich weiß, welche Warnungen dich betreffen, brauche ich deine Postleitzahl. \
               Sag zum Beispiel: meine Postleitzahl ist 50667.",
    area_permission: "Damit ich weiß, welche Warnungen dich betreffen, brauche ich deine \
                      Postleitzahl. Sag zum Beispiel: meine Postleitzahl ist 50667. Oder erlaube \
                      dem Skill in der Alexa-App, deine Postleitzahl zu verwenden.",
    area_reprompt: "Wie lautet deine fünfstellige Postleitzahl? Sag zum Beispiel: meine \
                    Postleitzahl ist 50667.",
    area_none: "Ich kenne deine Region noch nicht. Sag zum Beispiel: meine Postleitzahl ist 50667.",
    zip_missing: "Entschuldige, das habe ich nicht verstanden. Sag bitte die fünf Ziffern, zum \
                  Beispiel: meine Postleitzahl ist 50667.",
    zip_unknown: "Die Postleitzahl {zip} kenne ich leider nicht. Sag bitte noch einmal deine \
                  fünfstellige Postleitzahl.",
    area_forgotten: "Erledigt: ich habe deine Region vergessen. Ich melde dir keine Warnungen für \
                     einen Ort, bis du mir wieder deine Postleitzahl sagst.",
    area_nothing_to_forget: "Ich habe keine Region für dich gespeichert, also gibt es nichts zu \
                             vergessen.",
    area_no_memory: "Ich kann mir gerade leider keine Region für dich merken.",
    area_save_failed: "Deine Postleitzahl konnte gerade nicht gespeichert werden. Bitte versuch es \
                       später noch einmal.",
    area_failed: "Deine gespeicherte Region ist gerade nicht erreichbar. Bitte versuch es später \
                  noch einmal.",
};

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locales_choose_their_language() {
        assert_eq!(Language::from_locale(Some("en-US")), Language::EnUs);
        assert_eq!(Language::from_locale(Some("en-GB")), Language::EnGb);
        assert_eq!(Language::from_locale(Some("de-DE")), Language::De);
        assert_eq!(Language::from_locale(Some("de-AT")), Language::De);
        assert_eq!(Language::from_locale(Some("en_gb")), Language::EnGb);
    }

    #[test]
    fn other_and_missing_locales_fall_back_to_english() {
        for locale in [Some("fr-FR"), Some("ja-JP"), Some("en-IN"), Some(""), None] {
            assert_eq!(Language::from_locale(locale), Language::EnUs, "{locale:?}");
        }
    }

    #[test]
    fn every_locale_has_its_language() {
        let languages: Vec<Language> = LOCALES
            .iter()
            .map(|l| Language::from_locale(Some(l)))
            .collect();
        assert_eq!(languages, [Language::EnUs, Language::EnGb, Language::De]);
    }

    #[test]
    fn the_languages_really_differ() {
        assert_ne!(EN_US.welcome, DE.welcome);
        assert_ne!(EN_US.welcome, EN_GB.welcome);
        assert!(EN_GB.welcome.contains("warnings") && EN_GB.welcome.contains("Met Office"));
        assert!(DE.welcome.contains("Deutschen Wetterdienstes"));
        assert!(DE.area_ask.contains("50667") && !DE.area_ask.contains("US-"));
    }
}
