//! `dladm-overlay`: dladm's overlay subcommands (see the library).

fn main() {
    let args: Vec<String> = std::env::args().collect();
    std::process::exit(dladm_overlay::main_with_args(&args));
}
