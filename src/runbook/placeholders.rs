//! `{{name}}` placeholders: found, validated, and filled into words without ever splitting one.

use std::collections::BTreeMap;

/// The placeholders of a text, in order, each once; an error for a malformed one.
pub fn placeholders_in(text: &str) -> Result<Vec<String>, String> {
    let mut keys = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else {
            return Err(format!("`{{{{` without `}}}}` in `{}`", text.trim()));
        };
        let key = after[..end].trim();
        if !valid_key(key) {
            return Err(format!(
                "`{{{{{key}}}}}` is not a placeholder: use lower-case letters, digits, - and _, starting with a letter"
            ));
        }
        if !keys.iter().any(|k| k == key) {
            keys.push(key.to_owned());
        }
        rest = &after[end + 2..];
    }
    Ok(keys)
}

/// Whether `key` may name a placeholder.
pub fn valid_key(key: &str) -> bool {
    let mut chars = key.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// Replaces the placeholders `values` knows; others stay as they are.
pub fn fill(text: &str, values: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("{{") {
        let after = &rest[start + 2..];
        let Some(end) = after.find("}}") else { break };
        let key = after[..end].trim();
        out.push_str(&rest[..start]);
        match values.get(key) {
            Some(v) => out.push_str(v),
            None => out.push_str(&rest[start..start + 2 + end + 2]),
        }
        rest = &after[end + 2..];
    }
    out.push_str(rest);
    out
}

/// A step's words with every placeholder filled, or the placeholders left unfilled.
pub fn fill_words(
    words: &[String],
    values: &BTreeMap<String, String>,
) -> Result<Vec<String>, Vec<String>> {
    let mut missing = Vec::new();
    let filled = words
        .iter()
        .map(|w| {
            for k in placeholders_in(w).unwrap_or_default() {
                if !values.contains_key(&k) && !missing.contains(&k) {
                    missing.push(k);
                }
            }
            fill(w, values)
        })
        .collect();
    if missing.is_empty() {
        Ok(filled)
    } else {
        Err(missing)
    }
}

/// Checks a value for a placeholder: it must not be empty, nor read as a flag.
pub fn check_value(key: &str, value: &str) -> Result<(), String> {
    if value.is_empty() {
        return Err(format!("{{{{{key}}}}} is empty"));
    }
    if value.starts_with('-') {
        return Err(format!(
            "{{{{{key}}}}} = `{value}` starts with `-` and would read as a flag"
        ));
    }
    if value.chars().any(char::is_control) {
        return Err(format!("{{{{{key}}}}} holds a control character"));
    }
    Ok(())
}
