//! The Debian package's made files (`examples/deb-assets`) and its metadata: the man page
//! and every completion script name each flag of `--help` (and nothing else), the packaged
//! units are the repository's with the packaged binary's path, every asset that Cargo.toml
//! lists exists or is made, and the Debian changelog is at the crate's version. Building,
//! installing, upgrading and purging the package is `deploy/debian/check-package.sh`.

#[path = "../../examples/deb-assets/render.rs"]
#[allow(dead_code)]
mod render;

use std::collections::BTreeSet;
use std::path::Path;

use clap_complete::Shell;

use crate::support::*;

/// The long flags (`--name`) and the short ones (`-x`) that `--help` shows.
fn help_flags() -> (BTreeSet<String>, BTreeSet<String>) {
    let output = exporter().arg("--help").output().expect("the binary runs");
    assert!(output.status.success());
    let help = String::from_utf8(output.stdout).unwrap();
    flags_in(&help)
}

/// The flags written in `text`: `--` or `-` then a name, at the start of a word.
fn flags_in(text: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut long = BTreeSet::new();
    let mut short = BTreeSet::new();
    for word in text.split(|c: char| c.is_whitespace() || "[],|`'\"(){}=<>".contains(c)) {
        if let Some(name) = word.strip_prefix("--") {
            let name = name.trim_end_matches(['.', ':', ';']);
            if name.chars().next().is_some_and(|c| c.is_ascii_lowercase()) {
                long.insert(name.to_owned());
            }
        } else if let Some(name) = word.strip_prefix('-') {
            if name.len() == 1 && name.chars().all(|c| c.is_ascii_alphabetic()) {
                short.insert(name.to_owned());
            }
        }
    }
    (long, short)
}

/// The possible values `--help` lists, e.g. `[possible values: table, json]`.
fn help_values() -> BTreeSet<String> {
    let output = exporter().arg("--help").output().unwrap();
    let help = String::from_utf8(output.stdout).unwrap();
    help.split("[possible values: ")
        .skip(1)
        .flat_map(|rest| rest.split(']').next().unwrap().split(", "))
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_man_page_names_every_flag_of_help_and_no_other() {
    let (long, short) = help_flags();
    assert!(long.len() >= 10, "{long:?}");
    assert!(long.contains("config.file") && long.contains("web.systemd-socket"));
    assert!(short.contains("h") && short.contains("V"), "{short:?}");

    let page = render::man_page();
    assert!(page.contains(".TH tim-account-exporter 1 "), "section 1");
    // roff writes a hyphen as `\-`, and fonts as `\fB` (bold) or `\fI` (italic) to `\fR`.
    let text = page.replace("\\-", "-");
    let words = ["\\fB", "\\fI", "\\fR"]
        .iter()
        .fold(text.clone(), |text, font| text.replace(font, " "));
    let (page_long, page_short) = flags_in(&words);
    let options: String = text
        .split(".SH OPTIONS")
        .nth(1)
        .expect("an OPTIONS section")
        .split(".SH VERSION")
        .next()
        .unwrap()
        .to_owned();
    for flag in &long {
        assert!(
            options.contains(&format!("\\fB--{flag}\\fR")),
            "--{flag} is an option of the man page"
        );
    }
    for flag in &short {
        assert!(options.contains(&format!("\\fB-{flag}\\fR")), "-{flag}");
    }
    assert_eq!(page_long, long, "the man page names no other flag");
    assert_eq!(page_short, short);
    for value in help_values() {
        assert!(
            options.contains(&value),
            "the man page lists the value {value}"
        );
    }
    // The packaged service's files.
    for path in [
        "/etc/tim-account-exporter/config.yaml",
        "/etc/tim-account-exporter/keys/",
        "/etc/default/tim-account-exporter",
        "/usr/share/doc/tim-account-exporter/examples/config.example.yaml",
    ] {
        assert!(text.contains(path), "FILES names {path}");
    }
}

#[test]
fn every_completion_script_completes_every_flag_and_value_of_help() {
    let (long, short) = help_flags();
    let values = help_values();
    assert!(
        values.contains("json") && values.contains("logfmt"),
        "{values:?}"
    );
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish] {
        let script = render::completion(shell);
        assert!(script.contains("tim-account-exporter"), "{shell}");
        for flag in &long {
            let found = match shell {
                // fish: complete -c tim-account-exporter -l config.file ...
                Shell::Fish => script.contains(&format!(" -l {flag} ")),
                _ => script.contains(&format!("--{flag}")),
            };
            assert!(found, "{shell} completes --{flag}");
        }
        for flag in &short {
            let found = match shell {
                Shell::Fish => script.contains(&format!(" -s {flag} ")),
                _ => script.contains(&format!("-{flag}")),
            };
            assert!(found, "{shell} completes -{flag}");
        }
        for value in &values {
            assert!(script.contains(value.as_str()), "{shell} completes {value}");
        }
    }
}

#[test]
fn the_packaged_units_are_the_repositorys_with_the_packaged_binary() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let files: Vec<(&str, String)> = render::all().expect("the files are made");
    for (name, repository_path) in [
        (
            render::SERVICE,
            "deploy/systemd/tim-account-exporter.service",
        ),
        (render::SOCKET, "deploy/systemd/tim-account-exporter.socket"),
    ] {
        let packaged = &files.iter().find(|(n, _)| *n == name).unwrap().1;
        let repository = std::fs::read_to_string(root.join(repository_path)).unwrap();
        let unit = packaged
            .strip_prefix(render::PACKAGED_UNIT_NOTE)
            .expect("the packaged unit starts with its note");
        assert_eq!(
            unit,
            repository.replace(render::MANUAL_BINARY, render::PACKAGED_BINARY),
            "{name}"
        );
    }
    let service = &files.iter().find(|(n, _)| *n == render::SERVICE).unwrap().1;
    assert!(service.contains(&format!(
        "\nExecStart={} --config.file=/etc/tim-account-exporter/config.yaml $WEB_CONFIG $ARGS\n",
        render::PACKAGED_BINARY
    )));
    assert!(!service.contains("/usr/local/"));
    // Installing never leaves a failed unit: without a configuration the service is skipped.
    assert!(service.contains("\nConditionPathExists=/etc/tim-account-exporter/config.yaml\n"));

    // A unit that no longer starts the binary from the manual install's path is refused,
    // rather than packaged with a path that does not exist.
    let moved = service.replace(render::PACKAGED_BINARY, "/opt/bin/tim-account-exporter");
    assert!(matches!(
        render::packaged_service(&moved),
        Err(render::Error::ExecStart(0))
    ));
}

#[test]
fn every_asset_of_the_package_exists_or_is_made_and_the_changelog_is_at_the_crate_version() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let manifest = std::fs::read_to_string(root.join("Cargo.toml")).unwrap();
    let metadata = manifest
        .split("[package.metadata.deb]")
        .nth(1)
        .expect("[package.metadata.deb]");
    let sources: Vec<&str> = metadata
        .lines()
        .filter_map(|line| line.trim().strip_prefix("[\""))
        .map(|rest| rest.split('"').next().unwrap())
        .collect();
    assert!(sources.len() >= 12, "{sources:?}");

    let made = tempfile::tempdir().unwrap();
    let written = render::write_all(made.path()).expect("written");
    assert_eq!(written.len(), render::all().unwrap().len());
    for source in &sources {
        if let Some(made_path) = source.strip_prefix("target/deb-assets/") {
            assert!(made.path().join(made_path).is_file(), "{source} is made");
        } else if source.starts_with("target/release/") {
            // The binary cargo deb builds.
            assert_eq!(*source, "target/release/tim-account-exporter");
        } else {
            assert!(root.join(source).is_file(), "{source} exists");
        }
    }
    for (made_path, _) in render::all().unwrap() {
        assert!(
            sources.contains(&format!("target/deb-assets/{made_path}").as_str()),
            "{made_path} is packaged"
        );
    }
    // The simulator is not part of the package.
    assert!(!metadata.contains("tim-im-sim"));

    let changelog = std::fs::read_to_string(root.join("deploy/debian/changelog")).unwrap();
    let version = changelog
        .lines()
        .next()
        .and_then(|line| line.split(['(', ')']).nth(1))
        .expect("tim-account-exporter (<version>-<revision>) ...");
    let (upstream, revision) = version.rsplit_once('-').expect("a Debian revision");
    assert_eq!(upstream, env!("CARGO_PKG_VERSION"), "{version}");
    assert!(revision.parse::<u32>().is_ok(), "{version}");
    assert!(changelog.starts_with("tim-account-exporter ("));
}
