/// A user's display name: 2 to 100 characters after trimming, no control characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserName(String);

impl UserName {
    /// Shortest name accepted, in characters.
    pub const MIN_CHARS: usize = 2;
    /// Longest name accepted, in characters (the column is `varchar(100)`).
    pub const MAX_CHARS: usize = 100;

    /// Trims `raw` and checks it; the error says what is wrong, for the client.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let name = raw.trim();
        // Characters, not bytes: PostgreSQL's varchar(100) counts characters too.
        let chars = name.chars().count();
        if !(Self::MIN_CHARS..=Self::MAX_CHARS).contains(&chars) {
            return Err(format!(
                "must be between {} and {} characters (got {chars})",
                Self::MIN_CHARS,
                Self::MAX_CHARS
            ));
        }
        if name.chars().any(char::is_control) {
            return Err("must not contain control characters".to_owned());
        }
        Ok(Self(name.to_owned()))
    }

    /// The name as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::UserName;

    #[test]
    fn trims_and_accepts_names_within_bounds() {
        assert_eq!(
            UserName::parse("  Ada Lovelace ").unwrap().as_str(),
            "Ada Lovelace"
        );
        assert!(UserName::parse("Al").is_ok());
        assert!(UserName::parse(&"x".repeat(100)).is_ok());
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
        for bad in ["", " ", "A", "  A  ", &"x".repeat(101)] {
            assert!(UserName::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn rejects_control_characters() {
        assert!(UserName::parse("Ada\u{0}Lovelace").is_err());
        assert!(UserName::parse("Ada\nLovelace").is_err());
    }
}
