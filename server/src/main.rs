//! The `landpatrol` binary: everything lives in [`landpatrol_server::cli`].

fn main() -> std::process::ExitCode {
    landpatrol_server::cli::main()
}
