/// An email address, lower-cased, at most 255 characters.
///
/// Lower-casing makes uniqueness case-insensitive with a plain unique index: `Ada@Example.com`
/// and `ada@example.com` are one user. The check is deliberately conservative (ASCII, a dotted
/// domain whose last label starts with a letter, no quoted local parts, no IP literals): it
/// accepts what mail systems deliver in practice and rejects what is almost certainly a typo.
/// The address is not trimmed: surrounding spaces are refused like inner ones, so that
/// [`UserEmail::PATTERN`] states the rule exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserEmail(String);

impl UserEmail {
    /// Longest address accepted, in characters (the column is `varchar(255)`).
    pub const MAX_CHARS: usize = 255;

    /// The rule as a regular expression (ECMA-262 and Python alike), for the OpenAPI
    /// document; with `maxLength` 255 it states exactly what [`UserEmail::parse`] accepts. The
    /// lookahead bounds the local part to 64 characters (RFC 5321); the domain needs no bound
    /// of its own, because 255 characters in all leave it at most 253.
    pub const PATTERN: &'static str = concat!(
        "^(?=[^@]{1,64}@)",
        "[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*",
        "@(?:[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?\\.)+",
        "[A-Za-z](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])$"
    );

    /// Checks `raw` and lower-cases it; the error says what is wrong, for the client.
    pub fn parse(raw: &str) -> Result<Self, String> {
        let email = raw.to_ascii_lowercase();
        if email.chars().count() > Self::MAX_CHARS {
            return Err(format!("must be at most {} characters", Self::MAX_CHARS));
        }
        if !is_well_formed(&email) {
            return Err("must be a valid email address, such as name@example.com".to_owned());
        }
        Ok(Self(email))
    }

    /// The address as stored.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_well_formed(email: &str) -> bool {
    let Some((local, domain)) = email.split_once('@') else {
        return false;
    };
    is_local_part(local) && is_domain(domain)
}

/// RFC 5321 dot-atom: printable specials allowed, dots only between atoms, 64 octets at most.
fn is_local_part(local: &str) -> bool {
    const SPECIALS: &str = "!#$%&'*+/=?^_`{|}~-";
    !local.is_empty()
        && local.len() <= 64
        && local.split('.').all(|atom| {
            !atom.is_empty()
                && atom
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || SPECIALS.contains(c))
        })
}

/// At least two labels of letters, digits and inner hyphens; a top-level label of at least
/// two characters that starts with a letter (so an IP address is not a domain; every real
/// top-level domain, `xn--` ones included, starts with a letter).
fn is_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    domain.len() <= 253
        && labels.len() >= 2
        && labels.iter().all(|label| {
            (1..=63).contains(&label.len())
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        })
        && labels
            .last()
            .is_some_and(|tld| tld.len() >= 2 && tld.starts_with(|c: char| c.is_ascii_alphabetic()))
}

#[cfg(test)]
mod tests {
    use super::UserEmail;

    #[test]
    fn accepts_ordinary_addresses_and_normalises_them() {
        for ok in [
            "ada@example.com",
            "ada.lovelace+test@mail.example.co.uk",
            "o'brien@example.ie",
            "x_y-z@sub-domain.example.org",
            "1234@123.example.com",
        ] {
            assert_eq!(UserEmail::parse(ok).unwrap().as_str(), ok);
        }
        assert_eq!(
            UserEmail::parse("Ada@Example.COM").unwrap().as_str(),
            "ada@example.com"
        );
        assert!(UserEmail::parse("ada@example.xn--p1ai").is_ok());
    }

    #[test]
    fn rejects_malformed_addresses() {
        for bad in [
            "",
            "ada",
            "ada@",
            "@example.com",
            "ada@example",
            "ada@@example.com",
            "ada@exa@mple.com",
            "ada lovelace@example.com",
            ".ada@example.com",
            "ada.@example.com",
            "ada..lovelace@example.com",
            "ada@-example.com",
            "ada@example-.com",
            "ada@example..com",
            "ada@example.c",
            "ada@127.0.0.1",
            "ada@[127.0.0.1]",
            "\"ada\"@example.com",
            "adä@example.com",
            "ada@exämple.com",
            " ada@example.com",
            "ada@example.com ",
            "ada@example.1com",
            "ada@example.-com",
            "ada@example.com-",
            "ada@example.com\n",
        ] {
            assert!(UserEmail::parse(bad).is_err(), "{bad:?} was accepted");
        }
    }

    #[test]
    fn enforces_the_length_limits() {
        let local = "a".repeat(64);
        let domain = format!(
            "{}.{}.{}.com",
            "b".repeat(63),
            "c".repeat(63),
            "d".repeat(58)
        );
        let longest = format!("{local}@{domain}");
        assert_eq!(longest.len(), 255);
        assert!(UserEmail::parse(&longest).is_ok());
        let too_long = format!("{local}@e.{domain}");
        assert!(UserEmail::parse(&too_long).unwrap_err().contains("255"));
        assert!(UserEmail::parse(&format!("{}@example.com", "a".repeat(65))).is_err());
        assert!(UserEmail::parse(&format!("a@{}.com", "b".repeat(64))).is_err());
    }
}
