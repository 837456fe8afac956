//! Fuzz target: see `dangle_files::fuzz::zone`.
fn main() {
    afl::fuzz!(|data: &[u8]| dangle_files::fuzz::zone(data));
}
