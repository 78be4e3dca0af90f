fn main() {
    provero::malloc::configure();
    std::process::exit(provero::cli::run());
}
