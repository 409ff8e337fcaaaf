//! What the tests read off the SDK's model: the members of a request as built.

/// The request's parameters, each with whether it is set, read off the builder's Debug form
/// (one `name: value,` line per parameter at the top level). Redacted ones are unknown.
pub(crate) fn input_parameters(debug: &str) -> Vec<(String, Option<bool>)> {
    debug
        .lines()
        .filter(|l| l.starts_with("    ") && !l.starts_with("     "))
        .filter_map(|l| {
            let (name, value) = l.trim().split_once(": ")?;
            let set = if value.contains("Redacted") {
                None
            } else {
                Some(value != "None,")
            };
            Some((name.to_owned(), set))
        })
        .collect()
}
