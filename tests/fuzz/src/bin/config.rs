//! Fuzz target: see `dangle::fuzz::config`.
fn main() {
    afl::fuzz!(|data: &[u8]| dangle::fuzz::config(data));
}
