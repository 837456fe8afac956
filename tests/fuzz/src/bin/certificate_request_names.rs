//! Fuzz target: see `dangle::fuzz::certificate_request_names`.
fn main() {
    afl::fuzz!(|data: &[u8]| dangle::fuzz::certificate_request_names(data));
}
