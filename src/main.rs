//! The `tim-account-exporter` binary: everything lives in the library's `cli` module.

fn main() -> std::process::ExitCode {
    tim_account_exporter::cli::main()
}
