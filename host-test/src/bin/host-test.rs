//! `host-test` command line: replay scenario files and benchmark filters.

fn main() {
    std::process::exit(host_test::cli::main(std::env::args().skip(1).collect()));
}
