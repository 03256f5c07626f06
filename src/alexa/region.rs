//! Where the events API is: the stage (development or live) and the region (NA, EU, FE), with
//! their hosts and paths.

/// The skill stage events are sent to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    /// Only the skill's testers get the events: the safe default.
    Development,
    Live,
}

impl Stage {
    pub const ALLOWED: &'static str = "development, live";

    /// As `ALEXA_STAGE` spells it.
    pub fn parse(text: &str) -> Option<Stage> {
        match text.trim() {
            "development" => Some(Stage::Development),
            "live" => Some(Stage::Live),
            _ => None,
        }
    }

    /// The events API path for this stage.
    pub fn path(self) -> &'static str {
        match self {
            Stage::Development => "/v1/proactiveEvents/stages/development",
            Stage::Live => "/v1/proactiveEvents",
        }
    }
}

/// An Alexa API region.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Region {
    Na,
    Eu,
    Fe,
}

impl Region {
    pub const ALL: [Region; 3] = [Region::Na, Region::Eu, Region::Fe];
    pub const ALLOWED: &'static str = "NA, EU, FE";

    pub fn code(self) -> &'static str {
        match self {
            Region::Na => "NA",
            Region::Eu => "EU",
            Region::Fe => "FE",
        }
    }

    /// `NA`, `eu`...: the region a code names, in any case.
    pub fn from_code(code: &str) -> Option<Region> {
        Region::ALL
            .into_iter()
            .find(|r| r.code().eq_ignore_ascii_case(code))
    }

    pub fn host(self) -> &'static str {
        match self {
            Region::Na => "https://api.amazonalexa.com",
            Region::Eu => "https://api.eu.amazonalexa.com",
            Region::Fe => "https://api.fe.amazonalexa.com",
        }
    }

    /// The region of a request's `apiEndpoint`, so a Unicast goes where the user is.
    pub fn from_api_endpoint(endpoint: &str) -> Option<Region> {
        let endpoint = endpoint.trim_end_matches('/');
        Region::ALL.into_iter().find(|r| r.host() == endpoint)
    }
}

/// What the Alexa client needs to know of the deployment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Settings {
    pub stage: Stage,
    /// Replaces the regional hosts (local runs and tests), without a trailing slash; `{region}`
    /// in it becomes `na`, `eu` or `fe`, so a local stand-in for Alexa can tell them apart.
    pub api_url: Option<String>,
    pub lwa_token_url: String,
}

impl Settings {
    /// The events API URL for `region`.
    pub fn events_url(&self, region: Region) -> String {
        format!("{}{}", self.api_base(region), self.stage.path())
    }

    /// Where the Alexa APIs of `region` are: its host, or [`Settings::api_url`] with
    /// `{region}` filled in.
    pub fn api_base(&self, region: Region) -> String {
        match &self.api_url {
            Some(url) => url.replace("{region}", &region.code().to_ascii_lowercase()),
            None => region.host().to_owned(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn regions_are_found_by_code_and_by_endpoint() {
        assert_eq!(Region::from_code("eu"), Some(Region::Eu));
        assert_eq!(Region::from_code("US"), None);
        assert_eq!(
            Region::from_api_endpoint("https://api.fe.amazonalexa.com/"),
            Some(Region::Fe)
        );
        assert_eq!(Region::from_api_endpoint("https://example.com"), None);
    }
}
