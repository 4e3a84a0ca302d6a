//! `cognito-reset`: parse, run, exit. Everything else is in the library.

use clap::Parser;

fn main() {
    let cli = cognito_reset::cli::Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cognito-reset: cannot start the async runtime: {e}");
            std::process::exit(cognito_reset::exit::EXIT_CANNOT_START);
        }
    };
    let code = runtime.block_on(cognito_reset::run::main(cli));
    // Do not wait for a reader blocked on stdin or other detached work.
    runtime.shutdown_background();
    std::process::exit(code);
}
