//! The README's command reference and configuration reference match the binary.

use clap::CommandFactory;
use opsctl::cli::Cli;
use opsctl::config::Config;

fn readme() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).unwrap()
}

#[test]
fn every_command_is_documented_and_every_documented_command_exists() {
    let readme = readme();
    let commands: Vec<String> = Cli::command()
        .get_subcommands()
        .map(|c| c.get_name().to_owned())
        .collect();
    for name in &commands {
        assert!(
            readme.contains(&format!("### `opsctl {name}`")),
            "README has no section for `opsctl {name}`"
        );
    }
    for line in readme.lines() {
        if let Some(rest) = line.strip_prefix("### `opsctl ") {
            let name = rest.trim_end_matches('`');
            assert!(
                commands.iter().any(|c| c == name),
                "README documents `opsctl {name}`, which does not exist"
            );
        }
    }
}

#[test]
fn every_documented_flag_exists() {
    let readme = readme();
    let cmd = Cli::command();
    for sub in cmd.get_subcommands() {
        let section = format!("### `opsctl {}`", sub.get_name());
        let Some(start) = readme.find(&section) else {
            continue;
        };
        let body = &readme[start + section.len()..];
        let end = [body.find("\n### "), body.find("\n## ")]
            .into_iter()
            .flatten()
            .min();
        let body = &body[..end.unwrap_or(body.len())];
        for word in body.split(|c: char| c.is_whitespace() || "[]()`,".contains(c)) {
            let Some(flag) = word.strip_prefix("--") else {
                continue;
            };
            // A bare `--` ends the options (`opsctl run ENV -- COMMAND`): not a flag.
            if flag.is_empty() {
                continue;
            }
            let flag = flag.split('=').next().unwrap();
            // Flags of nested subcommands (`runbook run --env`) count too.
            let mut commands = vec![sub];
            let mut i = 0;
            while i < commands.len() {
                commands.extend(commands[i].get_subcommands());
                i += 1;
            }
            let known = commands
                .iter()
                .flat_map(|c| c.get_arguments())
                .chain(cmd.get_arguments())
                .any(|a| {
                    a.get_long() == Some(flag)
                        || a.get_visible_aliases()
                            .is_some_and(|aliases| aliases.contains(&flag))
                });
            assert!(
                known,
                "README's `opsctl {}` section mentions --{flag}, which it does not take",
                sub.get_name()
            );
        }
    }
}

#[test]
fn the_configuration_example_parses() {
    let readme = readme();
    let start = readme.find("```toml\n").expect("a TOML example") + "```toml\n".len();
    let end = start + readme[start..].find("```").unwrap();
    Config::parse("README.md".as_ref(), &readme[start..end])
        .expect("the README's example config is valid");
}

#[test]
fn every_key_of_the_repo_config_is_documented() {
    let readme = readme();
    let text =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/opsctl.toml")).unwrap();
    let value: toml::Value = toml::from_str(&text).unwrap();
    let mut keys = Vec::new();
    for env in value["env"].as_table().unwrap().values() {
        for (k, v) in env.as_table().unwrap() {
            if k == "bluegreen" {
                keys.extend(
                    v.as_table()
                        .unwrap()
                        .keys()
                        .map(|k2| format!("bluegreen.{k2}")),
                );
            } else {
                keys.push(k.clone());
            }
        }
    }
    for key in keys {
        let documented = readme
            .lines()
            .any(|l| l.starts_with("| `") && l.contains(&format!("`{key}`")));
        assert!(documented, "README's configuration reference lacks `{key}`");
    }
}

/// `make help` is read and pasted: every command it quotes must be one a shell accepts as
/// printed (no make escapes such as `$$` left in).
#[test]
fn make_help_prints_commands_that_paste() {
    let out = std::process::Command::new("make")
        .args(["-s", "--no-print-directory", "help"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("make runs");
    assert!(out.status.success());
    let help = String::from_utf8(out.stdout).unwrap();
    assert!(help.contains("make test"), "{help}");
    assert!(
        !help.contains("$$"),
        "a make escape in `make help`:\n{help}"
    );
    for line in help.lines() {
        if let Some((_, quoted)) = line.split_once("(then: ") {
            let command = quoted.trim_end_matches(')');
            let check = std::process::Command::new("bash")
                .args(["-n", "-c", command])
                .output()
                .unwrap();
            assert!(
                check.status.success(),
                "`{command}` from `make help` is not valid shell: {}",
                String::from_utf8_lossy(&check.stderr)
            );
        }
    }
}
