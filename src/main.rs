fn main() {
    std::process::exit(provero::cli::run());
}
