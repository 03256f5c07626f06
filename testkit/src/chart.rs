//! SVG charts of a benchmark's own figures, written by `make bench` into `docs/` beside the
//! tables of `docs/figures.md`: horizontal bars, one row per measured case, so a reader sees
//! at a glance what the table says. Plain SVG text, no dependency; the same figures in, the
//! same file out.

use std::fmt::Write as _;
use std::path::Path;

/// One bar: its label, its value, and the text printed at its end.
pub struct Bar {
    pub label: String,
    pub value: f64,
    pub text: String,
}

/// A group of bars under a heading (one chart can hold several, each with its own scale).
pub struct Group {
    pub heading: String,
    pub bars: Vec<Bar>,
    /// Bars on a logarithmic scale (values spanning orders of magnitude).
    pub log: bool,
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// The chart as SVG text.
pub fn bars(title: &str, note: &str, groups: &[Group]) -> String {
    const WIDTH: f64 = 900.0;
    const LABEL: f64 = 330.0;
    const ROW: f64 = 22.0;
    let plot = WIDTH - LABEL - 150.0;
    let rows: usize = groups.iter().map(|g| g.bars.len() + 2).sum();
    let height = 70.0 + rows as f64 * ROW + 20.0;
    let mut svg = String::new();
    let _ = write!(
        svg,
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="13">
<rect width="100%" height="100%" fill="white"/>
<text x="10" y="24" font-size="16" font-weight="bold">{}</text>
<text x="10" y="44" fill="#555">{}</text>
"##,
        escape(title),
        escape(note)
    );
    let mut y = 70.0;
    for group in groups {
        let _ = writeln!(
            svg,
            r#"<text x="10" y="{:.0}" font-weight="bold">{}</text>"#,
            y + 14.0,
            escape(&group.heading)
        );
        y += ROW;
        let max = group.bars.iter().map(|b| b.value).fold(0.0_f64, f64::max);
        let min = group
            .bars
            .iter()
            .map(|b| b.value)
            .filter(|v| *v > 0.0)
            .fold(f64::INFINITY, f64::min);
        let scale = |v: f64| -> f64 {
            if v <= 0.0 || max <= 0.0 {
                return 0.0;
            }
            if group.log && max > min {
                // From a tenth of the smallest value, so the smallest bar still shows.
                let floor = (min / 10.0).ln();
                plot * ((v.ln() - floor) / (max.ln() - floor))
            } else {
                plot * v / max
            }
        };
        for bar in &group.bars {
            let w = scale(bar.value).max(1.0);
            let _ = writeln!(
                svg,
                r##"<text x="{:.0}" y="{:.0}" text-anchor="end">{}</text><rect x="{LABEL}" y="{:.0}" width="{w:.1}" height="{:.0}" fill="#3b78b5"/><text x="{:.1}" y="{:.0}">{}</text>"##,
                LABEL - 8.0,
                y + 15.0,
                escape(&bar.label),
                y + 3.0,
                ROW - 6.0,
                LABEL + w + 6.0,
                y + 15.0,
                escape(&bar.text)
            );
            y += ROW;
        }
        y += ROW;
    }
    svg.push_str("</svg>\n");
    svg
}

/// Writes the chart to `path` (a benchmark's side product: a failure is reported, not fatal).
pub fn write(path: &Path, svg: &str) {
    match std::fs::write(path, svg) {
        Ok(()) => println!("chart: {}", path.display()),
        Err(e) => eprintln!("chart {}: {e}", path.display()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_chart_has_a_bar_per_value_and_escapes_text() {
        let svg = bars(
            "t <1>",
            "n & m",
            &[Group {
                heading: "g".into(),
                log: true,
                bars: vec![
                    Bar {
                        label: "a".into(),
                        value: 1.0,
                        text: "1 s".into(),
                    },
                    Bar {
                        label: "b".into(),
                        value: 100.0,
                        text: "100 s".into(),
                    },
                ],
            }],
        );
        assert!(svg.starts_with("<svg"));
        assert_eq!(svg.matches("<rect x=").count(), 2);
        assert!(svg.contains("t &lt;1&gt;") && svg.contains("n &amp; m"));
    }
}
