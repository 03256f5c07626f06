//! The names of the environment variables this function reads: a leaf, so that any layer can
//! name the variable to set in an error ("WEATHER_FEED_URL is not set") without depending on
//! the configuration that reads them (`config`, which sits above the modules it configures).

pub const SKILL_ID: &str = "ALEXA_SKILL_ID";
pub const CREDENTIALS_SECRET: &str = "ALEXA_CREDENTIALS_SECRET";
pub const STAGE: &str = "ALEXA_STAGE";
pub const REGIONS: &str = "ALEXA_REGIONS";
pub const API_URL: &str = "ALEXA_API_URL";
pub const LWA_TOKEN_URL: &str = "LWA_TOKEN_URL";
pub const STATE_TABLE: &str = "STATE_TABLE";
pub const WEATHER_FEED_URL: &str = "WEATHER_FEED_URL";
pub const WEATHER_FEEDS: &str = "WEATHER_FEEDS";
pub const WEATHER_MIN_SEVERITY: &str = "WEATHER_MIN_SEVERITY";
pub const WEATHER_FEED_CONTACT: &str = "WEATHER_FEED_CONTACT";
pub const WEATHER_AUDIENCE: &str = "WEATHER_AUDIENCE";
pub const FANOUT_QUEUE_URL: &str = "FANOUT_QUEUE_URL";
pub const FANOUT_SEND_RATE: &str = "FANOUT_SEND_RATE";
