//! Fuzz target: see `dangle::fuzz::certificate_chain`.
fn main() {
    afl::fuzz!(|data: &[u8]| dangle::fuzz::certificate_chain(data));
}
