//! CAP severity, as the NWS feed gives it.

/// In increasing order, so a floor is a comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    Unknown,
    Minor,
    Moderate,
    Severe,
    Extreme,
}

impl Severity {
    pub const ALL: [Severity; 5] = [
        Severity::Unknown,
        Severity::Minor,
        Severity::Moderate,
        Severity::Severe,
        Severity::Extreme,
    ];
    /// The values a floor may take (`Unknown` is no floor).
    pub const ALLOWED: &'static str = "Minor, Moderate, Severe, Extreme";

    pub fn name(self) -> &'static str {
        match self {
            Severity::Unknown => "Unknown",
            Severity::Minor => "Minor",
            Severity::Moderate => "Moderate",
            Severity::Severe => "Severe",
            Severity::Extreme => "Extreme",
        }
    }

    /// Case-insensitive, as people type it into a template parameter.
    pub fn parse(text: &str) -> Option<Severity> {
        Severity::ALL
            .into_iter()
            .find(|s| s.name().eq_ignore_ascii_case(text.trim()))
    }
}
