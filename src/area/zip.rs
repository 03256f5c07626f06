//! A ZIP code as text. The table is keyed by the ZIP as a number, so every caller goes through
//! `parse`: exactly five ASCII digits, nothing else (no ZIP+4, no spaces), so that a typo
//! is refused rather than matched to a neighbour. Alexa's `AMAZON.NUMBER` slot drops leading
//! zeros ("zero two one three four" arrives as "2134"): [`zip_from_number`] puts them back.

/// The ZIP `text` names, as a number (`"02134"` → 2134), if it is exactly five ASCII digits.
pub(crate) fn parse(text: &str) -> Option<u32> {
    let bytes = text.as_bytes();
    if bytes.len() != 5 || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(bytes.iter().fold(0, |n, b| n * 10 + u32::from(b - b'0')))
}

/// The five-digit ZIP for what an `AMAZON.NUMBER` slot holds: one to five ASCII digits
/// (surrounding spaces ignored), left-padded with zeros (`"2134"` → `"02134"`). `None` for
/// anything else: empty, `"?"` (Alexa's value when it did not understand), signs, decimals,
/// or more than five digits. Whether the ZIP exists is [`counties`](super::counties)' answer.
pub fn zip_from_number(slot: &str) -> Option<String> {
    let digits = slot.trim();
    if digits.is_empty() || digits.len() > 5 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(format!("{digits:0>5}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_takes_exactly_five_digits() {
        assert_eq!(parse("73019"), Some(73019));
        assert_eq!(parse("02134"), Some(2134));
        assert_eq!(parse("00000"), Some(0));
        assert_eq!(parse("99999"), Some(99999));
        for bad in [
            "",
            "2134",
            "730190",
            "7301a",
            " 73019",
            "73019 ",
            "73019-1234",
            "-7301",
            "+7301",
            "7301.",
            "７３０１９",
            "٧٣٠١٩",
        ] {
            assert_eq!(parse(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn a_number_slot_becomes_a_zip() {
        assert_eq!(zip_from_number("2134").as_deref(), Some("02134"));
        assert_eq!(zip_from_number("601").as_deref(), Some("00601"));
        assert_eq!(zip_from_number("73019").as_deref(), Some("73019"));
        assert_eq!(zip_from_number(" 73019 ").as_deref(), Some("73019"));
        assert_eq!(zip_from_number("02134").as_deref(), Some("02134"));
        assert_eq!(zip_from_number("7").as_deref(), Some("00007"));
        for bad in [
            "", " ", "?", "123456", "-2134", "+2134", "21.34", "2 134", "1e4", "٢١٣٤",
        ] {
            assert_eq!(zip_from_number(bad), None, "{bad:?}");
        }
    }
}
