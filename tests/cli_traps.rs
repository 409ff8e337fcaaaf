//! What a new user trips over, with the real binary and no AWS: flags a command does not
//! take, a closed stdout, and finding opsctl.toml from a subdirectory.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

fn opsctl() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_opsctl"));
    cmd.env_remove("OPSCTL_CONFIG")
        .env("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
        .env("AWS_EC2_METADATA_DISABLED", "true");
    cmd
}

#[test]
fn version_is_the_top_levels_flag_only() {
    let out = opsctl().arg("--version").output().unwrap();
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("opsctl "));
    for command in ["status", "history", "wait-stable", "scale", "retire"] {
        let out = opsctl()
            .args([command, "staging", "--version", "v1.2.0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("unexpected argument '--version'"),
            "{command}: {stderr}"
        );
    }
}

/// Reads one line of the command's stdout, closes it, and returns how the command ended.
fn first_line_then_close(args: &[&str]) -> (String, Option<i32>, String) {
    let mut child = opsctl()
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        line,
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn a_closed_stdout_ends_quietly() {
    for args in [
        &["man"][..],
        &["completions", "fish"],
        &["completions", "bash"],
    ] {
        let (line, code, stderr) = first_line_then_close(args);
        assert!(!line.is_empty(), "{args:?}");
        assert_eq!(code, Some(0), "{args:?}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!stderr.contains("Broken pipe"), "{args:?}: {stderr}");
    }
}

#[test]
fn opsctl_toml_is_found_upwards_to_the_repository_root() {
    let root = tempfile::tempdir().unwrap();
    std::fs::create_dir(root.path().join(".git")).unwrap();
    std::fs::write(
        root.path().join("opsctl.toml"),
        "[env.staging]\ncluster = \"demo\"\nservice = \"web\"\n",
    )
    .unwrap();
    let deep = root.path().join("service/src");
    std::fs::create_dir_all(&deep).unwrap();
    // An unknown env: found the file (it names it), and made no AWS call.
    let out = opsctl()
        .current_dir(&deep)
        .args(["status", "nope"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let found = root.path().join("opsctl.toml");
    assert!(stderr.contains("in ../../opsctl.toml"), "{stderr}");

    // Without one up to the root: the directories searched are named, and it stops there.
    std::fs::remove_file(&found).unwrap();
    let out = opsctl()
        .current_dir(&deep)
        .args(["status", "staging"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains(&deep.display().to_string()), "{stderr}");
    assert!(
        stderr.contains(&root.path().display().to_string()),
        "{stderr}"
    );
    let parent = root.path().parent().unwrap().display().to_string();
    assert!(
        !stderr.contains(&format!("{parent},")),
        "searched past the root: {stderr}"
    );
    assert!(stderr.contains("--config"), "{stderr}");
}

/// Every visible command below `cmd` with its full name (`opsctl db snapshot`).
fn all_commands(cmd: &clap::Command, name: &str) -> Vec<(String, clap::Command)> {
    let mut out = Vec::new();
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let full = format!("{name} {}", sub.get_name());
        out.push((full.clone(), sub.clone()));
        out.extend(all_commands(sub, &full));
    }
    out
}

/// The long options a command takes itself, not the global ones.
fn own_flags(cmd: &clap::Command) -> Vec<String> {
    cmd.get_arguments()
        .filter(|a| !a.is_global_set() && !a.is_hide_set())
        .filter_map(|a| a.get_long())
        .filter(|l| *l != "help")
        .map(|l| format!("\\-\\-{}", l.replace('-', "\\-")))
        .collect()
}

#[test]
fn the_man_page_documents_every_command_and_every_option() {
    use clap::CommandFactory;
    let out = opsctl().arg("man").output().unwrap();
    assert!(out.status.success());
    let page = String::from_utf8(out.stdout).unwrap();
    let top = opsctl::cli::Cli::command();
    let commands = all_commands(&top, "opsctl");
    assert!(commands.len() > 25, "{}", commands.len());
    for (name, cmd) in &commands {
        let heading = format!(".SH \"{}\"", name.to_uppercase());
        let at = page
            .find(&heading)
            .unwrap_or_else(|| panic!("no section {heading}"));
        let section = &page[at + heading.len()..];
        let section = &section[..section.find(".SH ").unwrap_or(section.len())];
        for flag in own_flags(cmd) {
            assert!(section.contains(&flag), "{name}: {flag} undocumented");
        }
    }
    // The global options once, at the top, not again under every command.
    assert_eq!(
        page.matches("\\-\\-endpoint\\-url").count(),
        2,
        "synopsis and options"
    );
    // One page: it sends the reader to no other page.
    assert!(
        !page.contains("opsctl\\-deploy(1)"),
        "refers to a page it did not write"
    );
}

#[test]
fn man_out_dir_writes_every_page_the_top_page_names() {
    let dir = tempfile::tempdir().unwrap();
    let out = opsctl()
        .args(["man", "--out-dir"])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let top = std::fs::read_to_string(dir.path().join("opsctl.1")).unwrap();
    let mut named = 0;
    for word in top.split_whitespace() {
        if let Some(page) = word.strip_suffix("(1)") {
            let file = format!("{}.1", page.replace("\\-", "-"));
            assert!(
                dir.path().join(&file).exists(),
                "{file} is named but not written"
            );
            named += 1;
        }
    }
    assert!(named > 15, "the top page names its commands' pages: {top}");
    let restore = std::fs::read_to_string(dir.path().join("opsctl-db-restore.1")).unwrap();
    assert!(restore.contains("\\-\\-to\\-time"), "{restore}");
    // Listed on stdout, one path a line.
    let listed = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        listed.lines().count(),
        std::fs::read_dir(dir.path()).unwrap().count()
    );
}

/// An endpoint that accepts connections and never answers: within seconds the user is told
/// which call waits on which endpoint and what to check, not left with a silent minute.
#[test]
fn a_silent_endpoint_is_named_while_opsctl_waits_on_it() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    // Accept and hold every connection, writing nothing.
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for stream in listener.incoming() {
            held.push(stream);
        }
    });
    let mut child = opsctl()
        .args(["status", "staging", "--endpoint-url", &endpoint])
        .env("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
        .env("AWS_SECRET_ACCESS_KEY", "secret")
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .unwrap();
    let stderr = BufReader::new(child.stderr.take().unwrap());
    let warned = stderr
        .lines()
        .map_while(Result::ok)
        .find(|line| line.contains("still waiting for ecs:DescribeServices"));
    let _ = child.kill();
    let _ = child.wait();
    let line = warned.expect("no word of the call that waits");
    assert!(line.contains(&endpoint), "{line}");
    assert!(line.contains("--endpoint-url"), "{line}");
}
