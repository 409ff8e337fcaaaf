//! The runbook format: parsing, words, placeholders and checks.

use super::*;

const GOOD: &str = "\
# Roll back a failed deploy

Intro for the reader.

## When to use
A deploy of {{version}} failed.

## Steps

### 1. Look at the service
Shows the revision.

```opsctl
opsctl status {{env}}
```

### 2. Roll back
```sh
echo not a step
### not a heading either
```

```opsctl
opsctl rollback {{env}} \\
  --to '{{version}}'
```

### 3. Tell the team
By hand: post in the channel.

## See also
Nothing here is a step.
";

fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn words(ws: &[&str]) -> Vec<String> {
    ws.iter().map(|w| (*w).to_owned()).collect()
}

#[test]
fn parses_title_when_and_numbered_steps() {
    let rb = Runbook::parse("failed", GOOD).unwrap();
    assert_eq!(rb.title, "Roll back a failed deploy");
    assert_eq!(rb.when, "A deploy of {{version}} failed.");
    assert_eq!(rb.steps.len(), 3);
    let s1 = &rb.steps[0];
    assert_eq!((s1.number, s1.title.as_str()), (1, "Look at the service"));
    assert_eq!(s1.text, "Shows the revision.");
    assert_eq!(
        s1.command.as_ref().unwrap().words,
        words(&["status", "{{env}}"])
    );
    assert_eq!(s1.command.as_ref().unwrap().line, 14);
    let s2 = &rb.steps[1];
    assert!(s2.text.contains("echo not a step"), "{}", s2.text);
    assert!(s2.text.contains("### not a heading"), "{}", s2.text);
    assert_eq!(
        s2.command.as_ref().unwrap().words,
        words(&["rollback", "{{env}}", "--to", "{{version}}"])
    );
    let s3 = &rb.steps[2];
    assert!(s3.command.is_none());
    assert_eq!(s3.text, "By hand: post in the channel.");
    assert_eq!(rb.placeholders(), vec!["version", "env"]);
}

#[test]
fn mistakes_name_their_line() {
    let cases: &[(&str, usize, &str)] = &[
        (
            "# T\n## When to use\nx\n## Steps\n### 2. Two\n",
            5,
            "### 1. Title",
        ),
        (
            "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nstatus prod\n```\n",
            7,
            "start with `opsctl`",
        ),
        (
            "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status a\nopsctl status b\n```\n",
            8,
            "second command",
        ),
        (
            "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status a\n```\nmore\n",
            9,
            "text after the opsctl block",
        ),
        (
            "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status 'a\n```\n",
            7,
            "unclosed '",
        ),
        (
            "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status {{Env}}\n```\n",
            7,
            "not a placeholder",
        ),
        (
            "# T\n## When to use\nx\n## Steps\n### 1. A\n```opsctl\nopsctl status a\n",
            6,
            "never closed",
        ),
        (
            "# T\n## When to use\nx\n```opsctl\nopsctl status a\n```\n## Steps\n### 1. A\n",
            4,
            "outside a step",
        ),
        ("# T\n## Steps\n### 1. A\n", 1, "When to use"),
        ("# T\n## When to use\nx\n", 1, "no steps"),
        ("## When to use\nx\n## Steps\n### 1. A\n", 1, "no title"),
    ];
    for (text, line, needle) in cases {
        let e = Runbook::parse("t", text).unwrap_err();
        assert_eq!(e.line, *line, "{text:?}: {e}");
        assert!(e.message.contains(needle), "{text:?}: {e}");
    }
}

#[test]
fn words_split_like_a_shell_without_expanding() {
    let w = split_words(r#"deploy prod --reason "before the \"fix\"" 'it''s' a\ b $HOME"#).unwrap();
    assert_eq!(
        w,
        words(&[
            "deploy",
            "prod",
            "--reason",
            "before the \"fix\"",
            "its",
            "a b",
            "$HOME"
        ])
    );
    assert_eq!(split_words("  ").unwrap(), Vec::<String>::new());
    assert_eq!(split_words("''").unwrap(), words(&[""]));
    assert!(split_words("\"open").is_err());
}

#[test]
fn quoting_round_trips() {
    for w in ["plain", "two words", "it's", "", "--to=v1.2.3", "{{env}}"] {
        let line = quote(w);
        assert_eq!(split_words(&line).unwrap(), vec![w.to_owned()], "{line}");
    }
    assert_eq!(
        display_words(&words(&["status", "a b"])),
        "opsctl status 'a b'"
    );
}

#[test]
fn filling_keeps_each_placeholder_inside_its_word() {
    let v = values(&[("env", "prod"), ("version", "v1 --yes")]);
    let filled = fill_words(
        &words(&["deploy", "{{env}}", "--version={{ version }}"]),
        &v,
    );
    assert_eq!(
        filled.unwrap(),
        words(&["deploy", "prod", "--version=v1 --yes"])
    );
    let missing = fill_words(
        &words(&["restore", "{{env}}", "{{target}}", "{{time}}"]),
        &v,
    );
    assert_eq!(missing.unwrap_err(), words(&["target", "time"]));
    assert_eq!(
        fill("to {{target}} in {{env}}", &v),
        "to {{target}} in prod"
    );
}

#[test]
fn values_that_would_read_as_flags_are_refused() {
    assert!(check_value("version", "v1.2.3").is_ok());
    assert!(check_value("version", "--yes").is_err());
    assert!(check_value("version", "").is_err());
    assert!(check_value("version", "a\nb").is_err());
    assert!(valid_key("target-db_2"));
    assert!(!valid_key("2x") && !valid_key("Env") && !valid_key(""));
}

#[test]
fn steps_are_checked_by_the_real_parser() {
    let ok = check_command(&words(&["deploy", "prod", "--version", "v1"])).unwrap();
    assert!(ok.has_dry_run && !ok.is_dry_run);
    let dry = check_command(&words(&["rollback", "prod", "--dry-run"])).unwrap();
    assert!(dry.is_dry_run);
    let status = check_command(&words(&["status", "prod"])).unwrap();
    assert!(!status.has_dry_run);
    let e = check_command(&words(&["deploy", "prod"])).unwrap_err();
    assert!(e.contains("--version"), "{e}");
    let e = check_command(&words(&["deploy", "prod", "--version", "v1", "--yes"])).unwrap_err();
    assert!(e.contains("--yes is a global option"), "{e}");
    let e = check_command(&words(&["status", "prod", "--output", "json"])).unwrap_err();
    assert!(e.contains("--output is a global option"), "{e}");
    let e = check_command(&words(&["runbook", "list"])).unwrap_err();
    assert!(e.contains("cannot run runbooks"), "{e}");
    let e = check_command(&words(&["deplyo", "prod"])).unwrap_err();
    assert!(e.contains("deplyo"), "{e}");
}

#[test]
fn builtin_runbooks_parse() {
    for (name, text) in BUILTIN {
        Runbook::parse(name, text).unwrap_or_else(|e| panic!("runbooks/{name}.md: {e}"));
    }
}
