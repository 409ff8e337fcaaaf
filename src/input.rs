//! What a value from the command line or `opsctl.toml` must look like before it reaches a
//! workflow: durations within bounds, versions AWS accepts as image tags, and no control
//! characters anywhere. One rule each, used by `cli` and `config` alike.

use std::time::Duration;

/// The longest wait, bake or step interval opsctl accepts. Longer values are typing
/// mistakes, and bounding them keeps every deadline computable.
pub const MAX_DURATION: Duration = Duration::from_secs(24 * 60 * 60);

/// Parses `90s`, `5m`, `1h30m`, up to [`MAX_DURATION`]; `0s` is allowed (no bake, no pause).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let shown = escape(text);
    let d = humantime::parse_duration(text.trim()).map_err(|_| {
        format!(
            "invalid duration `{shown}`: expected a number with a unit, such as 90s, 5m or 1h30m"
        )
    })?;
    if d > MAX_DURATION {
        return Err(format!(
            "duration `{shown}` is longer than the 24h opsctl accepts: use a value such as 15m or 2h"
        ));
    }
    Ok(d)
}

/// A timeout: a duration of at least one second (a zero timeout would give up at once, and
/// leave a rollback no time either).
pub fn parse_timeout(text: &str) -> Result<Duration, String> {
    let d = parse_duration(text)?;
    if d < Duration::from_secs(1) {
        return Err(format!(
            "timeout `{}` would give up before anything could happen: use at least 1s, such as 15m",
            escape(text)
        ));
    }
    Ok(d)
}

/// A version is an image tag: 1 to 128 characters of letters, digits, `_`, `.` and `-`, not
/// starting with `.` or `-` (the OCI and ECR tag rule).
pub fn parse_version(text: &str) -> Result<String, String> {
    let shown = escape(text);
    if text.is_empty() {
        return Err("the version is empty: give an image tag such as v1.2.3".into());
    }
    if text.len() > 128 {
        return Err(format!(
            "version `{}…` is {} characters long; an image tag has at most 128",
            escape(&text.chars().take(20).collect::<String>()),
            text.len()
        ));
    }
    let ok_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if let Some(bad) = text.chars().find(|&c| !ok_char(c)) {
        return Err(format!(
            "version `{shown}` has `{}`, which an image tag cannot hold: use letters, digits, _, . and -",
            escape(&bad.to_string())
        ));
    }
    if text.starts_with(['.', '-']) {
        return Err(format!(
            "version `{shown}` starts with `{}`; an image tag starts with a letter, digit or _",
            &text[..1]
        ));
    }
    Ok(text.to_owned())
}

/// An AWS region name: lower-case letters and digits in parts joined by `-`, such as
/// `us-west-2` or `eu-central-1`.
pub fn parse_region(text: &str) -> Result<String, String> {
    let shown = escape(text);
    let parts: Vec<&str> = text.split('-').collect();
    let ok = parts.len() >= 3
        && text.len() <= 32
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        })
        && parts
            .last()
            .is_some_and(|p| p.chars().all(|c| c.is_ascii_digit()));
    if ok {
        Ok(text.to_owned())
    } else {
        Err(format!(
            "`{shown}` is not an AWS region name (such as us-west-2 or eu-central-1)"
        ))
    }
}

/// Refuses text holding control characters (escape sequences would reach the terminal).
pub fn no_control_chars(what: &str, text: &str) -> Result<(), String> {
    if text.chars().any(char::is_control) {
        return Err(format!(
            "{what} `{}` holds control characters: remove them",
            escape(text)
        ));
    }
    Ok(())
}

/// Text with its control characters written as `\u{1b}` escapes, newlines and tabs kept:
/// what opsctl prints of any text it did not write itself.
pub fn escape(text: &str) -> String {
    if !text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        return text.to_owned();
    }
    text.chars()
        .map(|c| {
            if c.is_control() && c != '\n' && c != '\t' {
                c.escape_unicode().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_bounded_and_timeouts_are_not_zero() {
        assert_eq!(parse_duration("5m").unwrap(), Duration::from_secs(300));
        assert_eq!(parse_duration("0s").unwrap(), Duration::ZERO);
        let huge = parse_duration("10000000000000000000s").unwrap_err();
        assert!(
            huge.contains("invalid duration") || huge.contains("longer"),
            "{huge}"
        );
        assert!(parse_duration("25h").unwrap_err().contains("24h"));
        assert!(parse_timeout("0s").unwrap_err().contains("at least 1s"));
        assert!(parse_timeout("500ms").is_err());
        assert_eq!(parse_timeout("1s").unwrap(), Duration::from_secs(1));
    }

    #[test]
    fn versions_follow_the_image_tag_rule() {
        for good in ["v1.2.3", "1.0", "_x", "release-2026.12.01_rc1"] {
            assert_eq!(parse_version(good).unwrap(), good);
        }
        for (bad, says) in [
            ("", "empty"),
            ("v1 2", "`v1 2` has ` `"),
            ("-v1", "starts with `-`"),
            (".v1", "starts with `.`"),
            ("v1/2", "has `/`"),
            ("v1:2", "has `:`"),
            ("v\u{1b}[31m", "\\u{1b}"),
        ] {
            let err = parse_version(bad).unwrap_err();
            assert!(err.contains(says), "{bad:?}: {err}");
        }
        assert!(parse_version(&"a".repeat(129)).unwrap_err().contains("128"));
    }

    #[test]
    fn control_characters_are_refused_and_escaped() {
        assert!(no_control_chars("cluster", "demo").is_ok());
        let err = no_control_chars("cluster", "de\u{1b}[2Jmo").unwrap_err();
        assert!(err.contains("de\\u{1b}[2Jmo"), "{err}");
        assert_eq!(escape("a\u{7}b\nc"), "a\\u{7}b\nc");
    }
}
