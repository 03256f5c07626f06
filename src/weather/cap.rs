//! Reading CAP 1.2 XML (OASIS Common Alerting Protocol), as DWD publishes it and MeteoAlarm
//! links to it: the few elements the poll needs, found by namespace and name, every problem
//! naming the element. A DOM (roxmltree) is enough: one document is at most a few hundred kB,
//! read, mapped to an [`Alert`](super::Alert) and dropped.

use chrono::{DateTime, Utc};
use roxmltree::{Document, Node, ParsingOptions};

/// The CAP 1.2 namespace; a document in another (CAP 1.1, an HTML error page) is refused.
pub const NS: &str = "urn:oasis:names:tc:emergency:cap:1.2";

/// Largest CAP document read (DWD's largest warnings, with a thousand cells, are ~400 kB).
pub const MAX_DOCUMENT: usize = 1024 * 1024;
/// Most XML nodes a document may hold: a DOM is many times its text, and a document of a
/// megabyte of empty elements must not become a tree the function's memory cannot hold.
pub const MAX_NODES: u32 = 200_000;

/// Parses a document with the limits a feed's input needs (no DTDs: entity expansion is the
/// classic XML bomb).
pub fn parse(text: &str) -> Result<Document<'_>, String> {
    if text.len() > MAX_DOCUMENT {
        return Err(format!(
            "is {} bytes; expected at most {MAX_DOCUMENT}",
            text.len()
        ));
    }
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|e| format!("is not XML: {e}"))
}

/// The `<alert>` root, in CAP 1.2's namespace.
pub fn alert<'a, 'input>(doc: &'a Document<'input>) -> Result<Node<'a, 'input>, String> {
    let root = doc.root_element();
    let name = root.tag_name();
    if name.name() != "alert" || name.namespace() != Some(NS) {
        return Err(format!(
            "the root element is {}{}; expected <alert> in the namespace {NS}",
            name.namespace()
                .map(|n| format!("{{{n}}}"))
                .unwrap_or_default(),
            name.name()
        ));
    }
    Ok(root)
}

/// The children of `node` named `name` in `ns`.
pub fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    name: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(move |c| {
        c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
    })
}

/// The trimmed text of the first child `name` in `ns`, if it has any.
pub fn text<'a>(node: Node<'a, '_>, ns: &str, name: &str) -> Option<&'a str> {
    node.children()
        .find(|c| {
            c.is_element() && c.tag_name().name() == name && c.tag_name().namespace() == Some(ns)
        })
        .and_then(|c| c.text())
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// An RFC 3339 time (`2026-07-14T15:05:00+02:00`), or a problem naming `field`.
pub fn time(field: &str, value: Option<&str>) -> Result<Option<DateTime<Utc>>, String> {
    value
        .map(|v| {
            DateTime::parse_from_rfc3339(v)
                .map(|t| t.with_timezone(&Utc))
                .map_err(|_| {
                    format!(
                        "{field}: {v:?} is not a date and time such as 2026-07-14T15:05:00+02:00"
                    )
                })
        })
        .transpose()
}

/// The identifiers CAP `references` names: `sender,identifier,sent` triples separated by
/// spaces. A triple without commas is taken as an identifier (lenient: some feeds send bare
/// identifiers).
pub fn references(text: Option<&str>) -> Vec<String> {
    text.unwrap_or_default()
        .split_whitespace()
        .filter_map(|triple| {
            let mut parts = triple.split(',');
            match (parts.next(), parts.next()) {
                (Some(_), Some(id)) if !id.is_empty() => Some(id.to_owned()),
                (Some(id), None) if !id.is_empty() => Some(id.to_owned()),
                _ => None,
            }
        })
        .collect()
}

/// The `value`s of the `<eventCode>`/`<parameter>`/`<geocode>` pairs named `value_name`.
pub fn pairs<'a>(
    node: Node<'a, '_>,
    ns: &'a str,
    element: &'a str,
    value_name: &'a str,
) -> impl Iterator<Item = &'a str> + 'a {
    children(node, ns, element).filter_map(move |pair| {
        (text(pair, ns, "valueName")? == value_name)
            .then(|| text(pair, ns, "value"))
            .flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_name_identifiers() {
        assert_eq!(
            references(Some(
                " a@b,id.1,2026-07-14T15:05:00+02:00  a@b,id.2,2026-07-14T16:00:00+02:00 "
            )),
            ["id.1", "id.2"]
        );
        assert_eq!(references(Some("bare")), ["bare"]);
        assert!(references(None).is_empty());
    }

    #[test]
    fn documents_are_bounded_and_in_the_cap_namespace() {
        let big = format!("<alert xmlns=\"{NS}\">{}</alert>", " ".repeat(MAX_DOCUMENT));
        assert!(parse(&big).unwrap_err().contains("at most"));
        let old = parse("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.1\"/>").unwrap();
        assert!(alert(&old).unwrap_err().contains("cap:1.2"));
        let bomb = "<?xml version=\"1.0\"?><!DOCTYPE a [<!ENTITY x \"xx\">]><alert/>";
        assert!(parse(bomb).is_err(), "no DTDs");
        assert!(parse("<alert").unwrap_err().contains("not XML"));
    }
}
