//! Fuzz target: see `dangle_files::fuzz::static_list`.
fn main() {
    afl::fuzz!(|data: &[u8]| dangle_files::fuzz::static_list(data));
}
