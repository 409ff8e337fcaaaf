//! `make demo` runs its whole tour on a fresh sandbox, and prints what a user could paste.

mod support;

#[test]
fn the_demo_tours_every_command_and_prints_commands_that_paste() {
    let out = std::process::Command::new("bash")
        .arg(support::repo_root().join("tests/sandbox/demo.sh"))
        .env("OPSCTL", env!("CARGO_BIN_EXE_opsctl"))
        .env_remove("OPSCTL_SANDBOX_URL")
        .env_remove("GITHUB_ACTIONS")
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run the demo");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "the demo failed:\n{text}");
    // Commands are shown as typed: a value with spaces keeps its quotes.
    assert!(
        text.contains("$ opsctl db snapshot staging --reason \"before trying a restore\" --wait"),
        "{text}"
    );
    for shown in [
        "$ opsctl deploy prod --version v1.2.0 --yes",
        "$ opsctl check prod --version v1.2.0",
        "$ opsctl traffic prod --to green --yes",
        "$ opsctl retire prod --yes",
        "$ opsctl iam-policy staging",
        "$ opsctl db restore staging --latest",
    ] {
        assert!(
            text.contains(shown),
            "the demo does not show `{shown}`:\n{text}"
        );
    }
    // Only the steps meant to fail do: the broken deploy and the failing canary (3), bad
    // input and the freeze (2), the failing migration (its exit code, 1).
    let codes: Vec<&str> = text
        .lines()
        .filter_map(|l| l.strip_prefix("(exit code ")?.strip_suffix(')'))
        .collect();
    assert_eq!(codes, ["3", "2", "3", "1", "2"], "{text}");
    // The JSON it shows for CI is whole.
    let json_at = text
        .find("$ opsctl --output json wait-stable staging")
        .expect("the CI step");
    let rest = &text[json_at..];
    let start = rest.find("\n{").expect("a JSON object") + 1;
    let end = rest.find("\n}").expect("its end") + 2;
    let value: serde_json::Value = serde_json::from_str(&rest[start..end])
        .unwrap_or_else(|e| panic!("not whole JSON ({e}):\n{}", &rest[start..end]));
    assert_eq!(value["ok"], true);
}
