//! What changed, from a cloud's own event: each provider type of the build reads its cloud's event
//! shapes ([`dangle_model::registry::Factory::read_event`]: EventBridge and CloudTrail in dangle-aws,
//! the Activity Log in dangle-azure); this asks them in registry order. Pure: text in, scopes out.

use serde_json::Value;

pub use dangle_model::events::{Change, Seen};

use crate::providers::Entry;

/// Every change `text` holds, in order, with the provider type that read it (whose providers read the
/// change again). An error when it is not JSON, or not an event any provider type reads.
pub fn parse(text: &str, registry: &[Entry]) -> Result<(&'static str, Vec<Seen>), String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not a JSON event ({e})"))?;
    let built: Vec<_> = registry.iter().filter_map(|e| if let Entry::Built(f) = e { Some(*f) } else { None }).collect();
    for f in &built {
        if let Some(read) = f.read_event(&v) {
            return read.map(|seen| (f.kind(), seen));
        }
    }
    let shapes: Vec<&str> = built.iter().filter_map(|f| f.event_shapes()).collect();
    Err(match shapes.as_slice() {
        [] => "this build has no provider type that reads change events".to_string(),
        [one] => format!("not {one}"),
        many => format!("neither {}", many.join(" nor ")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_event_goes_to_the_provider_type_that_reads_its_shape() {
        let registry = crate::providers::registry();
        let eb = r#"{"source":"aws.ec2","account":"111111111111","region":"eu-west-1","detail":{"eventSource":"ec2.amazonaws.com","eventName":"ReleaseAddress","awsRegion":"eu-west-1","recipientAccountId":"111111111111"}}"#;
        assert_eq!(parse(eb, &registry).unwrap().0, "aws");
        let al = r#"{"operationName":"Microsoft.Network/publicIPAddresses/delete","resourceId":"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/publicIPAddresses/ip1"}"#;
        assert_eq!(parse(al, &registry).unwrap().0, "azure");
        assert!(parse("[1, 2", &registry).unwrap_err().starts_with("not a JSON event"));
        assert!(parse(r#"{"hello":1}"#, &registry).unwrap_err().contains("neither"));
    }
}
