//! Build metadata for `tim_exporter_build_info`: the git revision (or the
//! `TIM_EXPORTER_REVISION` set by a packager) and the rustc version.

use std::process::Command;

fn output_of(program: &str, args: &[&str]) -> Option<String> {
    let output = Command::new(program).args(args).output().ok()?;
    let text = String::from_utf8(output.stdout).ok()?.trim().to_owned();
    (output.status.success() && !text.is_empty()).then_some(text)
}

fn main() {
    println!("cargo:rerun-if-env-changed=TIM_EXPORTER_REVISION");
    // Rebuild when HEAD moves; in a worktree `.git` is a file, so ask git where things are.
    // Only the checked-out branch's ref is watched, so a commit on another branch does not
    // rebuild this one.
    let git_dir = output_of("git", &["rev-parse", "--git-dir"]);
    let common_dir = output_of("git", &["rev-parse", "--git-common-dir"]);
    let branch = output_of("git", &["symbolic-ref", "-q", "HEAD"]);
    let watched = [
        git_dir.as_ref().map(|d| format!("{d}/HEAD")),
        common_dir
            .as_ref()
            .zip(branch.as_ref())
            .map(|(d, b)| format!("{d}/{b}")),
        common_dir.as_ref().map(|d| format!("{d}/packed-refs")),
    ];
    for path in watched.into_iter().flatten() {
        if std::path::Path::new(&path).exists() {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let revision = std::env::var("TIM_EXPORTER_REVISION")
        .ok()
        .filter(|r| !r.is_empty())
        .or_else(|| output_of("git", &["rev-parse", "--short=12", "HEAD"]))
        .unwrap_or_else(|| "unknown".to_owned());
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_owned());
    let rustc_version = output_of(&rustc, &["--version"])
        .and_then(|v| v.split_whitespace().nth(1).map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned());
    println!("cargo:rustc-env=TIM_EXPORTER_REVISION={revision}");
    println!("cargo:rustc-env=TIM_EXPORTER_RUSTC_VERSION={rustc_version}");
}
