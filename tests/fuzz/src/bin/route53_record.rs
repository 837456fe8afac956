//! Fuzz target: see `dangle_aws::fuzz::route53_record`. The decoding file is built alone, so the fuzzer
//! needs no AWS SDK.
#[path = "../../../../providers/aws/src/route53/decode.rs"]
#[allow(dead_code)]
mod decode;

fn main() {
    afl::fuzz!(|data: &[u8]| decode::fuzz(data));
}
