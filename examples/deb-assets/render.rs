//! The files of the Debian package that are made rather than kept: the man page and the
//! shell completions, rendered from the clap definition (`cli::Args`) so they cannot drift
//! from the flags, and the systemd units of `deploy/systemd/` with the packaged binary's path.
//!
//! The `assets` of `[package.metadata.deb]` in Cargo.toml name the files written here;
//! `main.rs` beside this file writes them before `cargo deb`, and `tests/it/package.rs`
//! renders them again and holds them to the binary's `--help` and to the repository's units.

use std::io;
use std::path::{Path, PathBuf};

use clap::CommandFactory;
use clap_complete::Shell;
use clap_mangen::roff::{italic, roman, Roff};
use tim_account_exporter::cli::Args;

/// The command the files describe.
pub const BIN: &str = "tim-account-exporter";

/// The man page, section 1.
pub const MAN_PAGE: &str = "man/tim-account-exporter.1";
/// The completions, each named as its shell looks it up in its folder.
pub const BASH: &str = "completions/tim-account-exporter";
pub const ZSH: &str = "completions/_tim-account-exporter";
pub const FISH: &str = "completions/tim-account-exporter.fish";

/// The units, under the names systemd knows them by.
pub const SERVICE: &str = "systemd/tim-account-exporter.service";
pub const SOCKET: &str = "systemd/tim-account-exporter.socket";

/// Where the manual install puts the binary (README, "Deploy: systemd"), and the package.
pub const MANUAL_BINARY: &str = "/usr/local/bin/tim-account-exporter";
pub const PACKAGED_BINARY: &str = "/usr/bin/tim-account-exporter";

/// The first line of a packaged unit: the file belongs to dpkg.
pub const PACKAGED_UNIT_NOTE: &str = "# Installed by the Debian package tim-account-exporter, \
     and replaced by its upgrades:\n# change settings with `systemctl edit <this unit>`.\n";

/// The files the packaged service reads, for the man page's FILES section.
const FILES: [(&str, &str); 4] = [
    (
        "/etc/tim-account-exporter/config.yaml",
        "The configuration of the service. The service does not start until this file exists; \
         an annotated example is /usr/share/doc/tim-account-exporter/examples/config.example.yaml.",
    ),
    (
        "/etc/tim-account-exporter/keys/",
        "The app keys, one file each, readable by root only. The unit hands them to the \
         service with LoadCredential=, and the configuration names each one as \
         secret_key_file: ${CREDENTIALS_DIRECTORY}/<name>.",
    ),
    (
        "/etc/default/tim-account-exporter",
        "Extra flags for the service, in the variable ARGS.",
    ),
    (
        "/usr/lib/systemd/system/tim-account-exporter.service",
        "The unit; tim-account-exporter.socket beside it serves with socket activation \
         (--web.systemd-socket). Override settings with systemctl edit tim-account-exporter.",
    ),
];

/// The man page, as roff source.
pub fn man_page() -> String {
    let command = Args::command();
    let version = command.get_version().unwrap_or_default().to_owned();
    let mut page = Vec::new();
    clap_mangen::Man::new(command)
        .source(format!("{BIN} {version}"))
        .manual("User Commands")
        .render(&mut page)
        .expect("rendering into memory does not fail");
    let mut extra = Roff::new();
    extra.control("SH", ["FILES"]);
    for (path, what) in FILES {
        extra
            .control("TP", [])
            .text([italic(path)])
            .text([roman(what)]);
    }
    extra.control("SH", ["SEE ALSO"]);
    extra.text([roman(
        "systemctl(1), systemd.exec(5), prometheus(1); the README in \
         /usr/share/doc/tim-account-exporter/.",
    )]);
    let mut page = String::from_utf8(page).expect("clap_mangen writes UTF-8");
    page.push_str(&extra.to_roff());
    page
}

/// The completion script for `shell`.
pub fn completion(shell: Shell) -> String {
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut Args::command(), BIN, &mut script);
    String::from_utf8(script).expect("clap_complete writes UTF-8")
}

/// Why the files could not be made.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}", path = .0.display(), source = .1)]
    Read(PathBuf, io::Error),
    /// The service unit must start the binary where the manual install puts it, once.
    #[error("the service unit names {MANUAL_BINARY} {0} times, not once in ExecStart=")]
    ExecStart(usize),
    #[error("cannot write {path}: {source}", path = .0.display(), source = .1)]
    Write(PathBuf, io::Error),
}

/// A file of the repository's `deploy/systemd/`.
fn repository_unit(name: &str) -> Result<String, Error> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("deploy")
        .join(name);
    std::fs::read_to_string(&path).map_err(|e| Error::Read(path, e))
}

/// A packaged unit from the repository's: one source for the manual install and the package,
/// the binary's path the only difference.
pub fn packaged_service(unit: &str) -> Result<String, Error> {
    let exec_start = format!("ExecStart={MANUAL_BINARY} ");
    let found = unit.matches(MANUAL_BINARY).count();
    if found != 1 || !unit.contains(&exec_start) {
        return Err(Error::ExecStart(found));
    }
    let unit = unit.replace(&exec_start, &format!("ExecStart={PACKAGED_BINARY} "));
    Ok(format!("{PACKAGED_UNIT_NOTE}{unit}"))
}

/// Every file, as (path relative to the output folder, content).
pub fn all() -> Result<Vec<(&'static str, String)>, Error> {
    Ok(vec![
        (MAN_PAGE, man_page()),
        (BASH, completion(Shell::Bash)),
        (ZSH, completion(Shell::Zsh)),
        (FISH, completion(Shell::Fish)),
        (SERVICE, packaged_service(&repository_unit(SERVICE)?)?),
        (
            SOCKET,
            format!("{PACKAGED_UNIT_NOTE}{}", repository_unit(SOCKET)?),
        ),
    ])
}

/// Writes every file under `dir`; the paths written.
pub fn write_all(dir: &Path) -> Result<Vec<PathBuf>, Error> {
    let mut written = Vec::new();
    for (relative, content) in all()? {
        let path = dir.join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| Error::Write(path.clone(), e))?;
        }
        std::fs::write(&path, content).map_err(|e| Error::Write(path.clone(), e))?;
        written.push(path);
    }
    Ok(written)
}
