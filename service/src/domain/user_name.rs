/// A user's display name, taken exactly as given: 2 to 100 characters, starting and ending
/// with a visible character, with no control, invisible or direction-changing characters.
///
/// # What is refused, and why
///
/// - Leading or trailing whitespace (so a blank name cannot exist), and leading or trailing
///   zero-width joiners. The name is not trimmed: what is stored is what was sent, and the
///   OpenAPI document can state the rule exactly (its `minLength`/`maxLength` count the same
///   characters as this check and as PostgreSQL's `varchar(100)`).
/// - Anywhere: the characters in [`FORBIDDEN`]. Control characters break logs and terminals;
///   line and paragraph separators break lines; bidirectional marks, embeddings, overrides
///   and isolates reorder what is displayed around them ("Trojan Source" spoofing); and
///   invisible characters (zero-width space, word joiner, byte order mark, Hangul fillers,
///   ...) make names that look blank or look like another user's.
///
/// Allowed on purpose: inner spaces, combining marks, variation selectors and the zero-width
/// joiner and non-joiner between other characters (emoji sequences and several scripts need
/// them), and every character outside the Basic Multilingual Plane (emoji, historic scripts,
/// the tag characters of subdivision flags). The forbidden set stays inside the BMP so that
/// [`UserName::pattern`] uses only `\uXXXX` escapes, which every regex dialect a JSON Schema
/// validator uses understands the same way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

/// Characters a name may not contain anywhere, as inclusive ranges, in ascending order.
pub const FORBIDDEN: &[(char, char)] = &[
    ('\u{0000}', '\u{001F}'), // C0 controls
    ('\u{007F}', '\u{009F}'), // DEL and C1 controls
    ('\u{00AD}', '\u{00AD}'), // soft hyphen (invisible)
    ('\u{034F}', '\u{034F}'), // combining grapheme joiner (invisible)
    ('\u{061C}', '\u{061C}'), // Arabic letter mark (bidi)
    ('\u{115F}', '\u{1160}'), // Hangul choseong and jungseong fillers (blank)
    ('\u{17B4}', '\u{17B5}'), // Khmer inherent vowels (invisible)
    ('\u{180B}', '\u{180F}'), // Mongolian free variation selectors and vowel separator
    ('\u{200B}', '\u{200B}'), // zero width space
    ('\u{200E}', '\u{200F}'), // left-to-right and right-to-left marks
    ('\u{2028}', '\u{2029}'), // line and paragraph separators
    ('\u{202A}', '\u{202E}'), // bidi embeddings, pop and overrides
    ('\u{2060}', '\u{206F}'), // word joiner, invisible operators, bidi isolates, deprecated format
    ('\u{2800}', '\u{2800}'), // braille pattern blank
    ('\u{3164}', '\u{3164}'), // Hangul filler
    ('\u{FEFF}', '\u{FEFF}'), // zero width no-break space (byte order mark)
    ('\u{FFA0}', '\u{FFA0}'), // halfwidth Hangul filler
    ('\u{FFF0}', '\u{FFFB}'), // unassigned specials and interlinear annotation controls
    ('\u{FFFE}', '\u{FFFF}'), // noncharacters
];

/// Characters a name may not start or end with, besides [`FORBIDDEN`] ones: whitespace (what
/// `char::is_whitespace` calls whitespace and `FORBIDDEN` does not already refuse) and the
/// zero-width non-joiner and joiner.
pub const NOT_AT_THE_ENDS: &[(char, char)] = &[
    ('\u{0020}', '\u{0020}'), // space
    ('\u{00A0}', '\u{00A0}'), // no-break space
    ('\u{1680}', '\u{1680}'), // ogham space mark
    ('\u{2000}', '\u{200A}'), // en quad .. hair space
    ('\u{200C}', '\u{200D}'), // zero width non-joiner and joiner
    ('\u{202F}', '\u{202F}'), // narrow no-break space
    ('\u{205F}', '\u{205F}'), // medium mathematical space
    ('\u{3000}', '\u{3000}'), // ideographic space
];

fn in_ranges(ranges: &[(char, char)], c: char) -> bool {
    ranges.iter().any(|&(low, high)| (low..=high).contains(&c))
}

fn is_forbidden(c: char) -> bool {
    in_ranges(FORBIDDEN, c)
}

fn is_allowed_at_an_end(c: char) -> bool {
    !is_forbidden(c) && !in_ranges(NOT_AT_THE_ENDS, c)
}

impl UserName {
    /// Shortest name accepted, in characters.
    pub const MIN_CHARS: usize = 2;
    /// Longest name accepted, in characters (the column is `varchar(100)`).
    pub const MAX_CHARS: usize = 100;

    /// Checks `raw`; the error says what is wrong, for the client.
    pub fn parse(raw: &str) -> Result<Self, String> {
        // Characters, not bytes: PostgreSQL's varchar(100) and JSON Schema count characters.
        let chars = raw.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(format!(
                "must be between {} and {} characters (got {chars})",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        if let Some(c) = raw.chars().find(|&c| is_forbidden(c)) {
            return Err(format!(
                "must not contain control, invisible or direction-changing characters (found U+{:04X})",
                u32::from(c)
            ));
        }
        let (first, last) = (raw.chars().next(), raw.chars().next_back());
        if ![first, last]
            .into_iter()
            .flatten()
            .all(is_allowed_at_an_end)
        {
            return Err("must not start or end with whitespace or a zero-width joiner".to_owned());
        }
        Ok(Self(raw.to_owned()))
    }

    /// The rule as a regular expression (ECMA-262 and Python alike), for the OpenAPI
    /// document: `^[^E][^F]*[^E]$`, where F is [`FORBIDDEN`] and E adds
    /// [`NOT_AT_THE_ENDS`]. With `minLength` and `maxLength` it states exactly what
    /// [`UserName::parse`] accepts.
    pub fn pattern() -> String {
        let class = |ranges: &[&[(char, char)]]| -> String {
            let mut out = String::from("[^");
            for &(low, high) in ranges.iter().copied().flatten() {
                out.push_str(&format!("\\u{:04X}", u32::from(low)));
                if high != low {
                    out.push_str(&format!("-\\u{:04X}", u32::from(high)));
                }
            }
            out.push(']');
            out
        };
        let ends = class(&[FORBIDDEN, NOT_AT_THE_ENDS]);
        let inner = class(&[FORBIDDEN]);
        format!("^{ends}{inner}*{ends}$")
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_names_within_bounds_as_given() {
        assert_eq!(
            UserName::parse("Ada Lovelace").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(UserName::parse("Al").is_ok());
        assert!(UserName::parse(&"x".repeat(100)).is_ok());
        assert!(UserName::parse("Ada  King,\u{00A0}Countess").is_ok());
    }

    #[test]
    fn counts_characters_not_bytes() {
        assert!(UserName::parse("Zoë").is_ok());
        assert!(UserName::parse(&"é".repeat(100)).is_ok());
        assert!(UserName::parse(&"é".repeat(101)).is_err());
        assert!(UserName::parse("é").is_err());
    }

    #[test]
    fn rejects_too_short_too_long_and_blank() {
        for bad in ["", " ", "A", "  ", "\u{3000}\u{3000}", &"x".repeat(101)] {
            assert!(UserName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_surrounding_whitespace_rather_than_trimming_it() {
        for bad in [
            " Ada",
            "Ada ",
            "  Ada Lovelace ",
            "\u{00A0}Ada",
            "Ada\u{2003}",
        ] {
            let err = UserName::parse(bad).unwrap_err();
            assert!(err.contains("whitespace"), "{bad:?}: {err}");
        }
        assert!(UserName::parse("\u{200D}Ada").is_err());
        assert!(UserName::parse("Ada\u{200C}").is_err());
    }

    #[test]
    fn rejects_control_invisible_and_bidi_characters_anywhere() {
        for bad in [
            "Ada\u{0}Lovelace",
            "Ada\nLovelace",
            "Ada\tLovelace",
            "Ada\u{85}Lovelace",
            "Ada\u{200B}Lovelace",
            "Ada\u{FEFF}",
            "\u{202E}evil",
            "Ada\u{2066}x\u{2069}",
            "Ada\u{200F}",
            "\u{3164}\u{3164}",
            "Ada\u{2028}Lovelace",
            "Ada\u{00AD}",
        ] {
            let err = UserName::parse(bad).unwrap_err();
            assert!(err.contains("U+"), "{bad:?}: {err}");
        }
    }

    #[test]
    fn allows_joiners_inside_emoji_and_astral_characters() {
        // Family emoji: ZWJ sequences; a flag of Scotland: tag characters.
        assert!(UserName::parse("Ada 👩\u{200D}👩\u{200D}👧").is_ok());
        assert!(
            UserName::parse("Ada 🏴\u{E0067}\u{E0062}\u{E0073}\u{E0063}\u{E0074}\u{E007F}").is_ok()
        );
        assert!(UserName::parse("می\u{200C}خواهم").is_ok());
        assert!(UserName::parse("❤\u{FE0F}Ada").is_ok());
    }

    #[test]
    fn every_bmp_character_is_classified_once() {
        // The ranges are ordered and disjoint, so the pattern's classes are well-formed.
        for ranges in [FORBIDDEN, NOT_AT_THE_ENDS] {
            for pair in ranges.windows(2) {
                assert!(pair[0].1 < pair[1].0, "{pair:?}");
            }
            assert!(
                ranges
                    .iter()
                    .all(|&(low, high)| low <= high && high <= '\u{FFFF}')
            );
        }
        for &(low, high) in NOT_AT_THE_ENDS {
            assert!(!is_forbidden(low) && !is_forbidden(high));
        }
        // Every whitespace character is either forbidden or kept off the ends.
        for c in (0..=0xFFFFu32).filter_map(char::from_u32) {
            if c.is_whitespace() || c.is_control() {
                assert!(!is_allowed_at_an_end(c), "U+{:04X}", u32::from(c));
            }
        }
    }

    #[test]
    fn the_pattern_spells_the_ranges() {
        let pattern = UserName::pattern();
        assert!(
            pattern.starts_with("^[^\\u0000-\\u001F\\u007F-\\u009F\\u00AD"),
            "{pattern}"
        );
        assert!(pattern.ends_with("\\u3000]$"), "{pattern}");
        assert!(pattern.contains("]*[^"), "{pattern}");
    }
}
