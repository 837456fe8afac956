//! The change that takes values out of Azure DNS record sets (`dangle checklist`): the Azure CLI
//! command for each set, by its resource id — a delete when every value goes, else a show to edit.

use dangle_model::change::{Change, ChangeSet, Form, SetChange, SetEdit};
use dangle_model::Location;

/// The edits for `sets` (record sets this provider read).
pub(crate) fn changes(sets: &[SetEdit<'_>]) -> ChangeSet {
    let mut out = ChangeSet::new("azure", Form::Edit, "Azure DNS");
    for (i, set) in sets.iter().enumerate() {
        let Some(Location::Place(id)) = set.location else {
            out.by_hand.push(i);
            continue;
        };
        let kind = set.rtype.as_str().to_ascii_lowercase();
        let (edit, command) = match set.whole() {
            true => ("delete the record set".to_string(), format!("az network dns record-set {kind} delete --ids {id} --yes")),
            false => {
                let gone: Vec<String> = set.going.iter().map(|t| t.to_string()).collect();
                (format!("remove {} from the record set", gone.join(", ")), format!("az network dns record-set {kind} show --ids {id}  # then remove the value(s) and update"))
            }
        };
        out.items.push(Change::Edit(SetChange { record_set: set.label(), edit, command }));
    }
    out
}

#[cfg(test)]
mod tests {
    use dangle_model::change::{Change, SetEdit};
    use dangle_model::{Location, RecordType, Target};

    fn set<'a>(location: Option<&'a Location>, rtype: &'a RecordType, values: Vec<&'a Target>, going: Vec<&'a Target>) -> SetEdit<'a> {
        SetEdit { source: "az", account: "s", zone: "example.com", name: "www.example.com", rtype, set_id: "", location, spec: None, values, going }
    }

    #[test]
    fn a_set_is_deleted_whole_or_shown_to_edit_by_its_resource_id() {
        let id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/dnszones/example.com/A/www";
        let (location, rtype) = (Location::Place(id.into()), RecordType::A);
        let (a, b) = (Target::Ip("192.0.2.1".parse().unwrap()), Target::Ip("192.0.2.2".parse().unwrap()));
        let c = super::changes(&[set(Some(&location), &rtype, vec![&a], vec![&a]), set(Some(&location), &rtype, vec![&a, &b], vec![&a]), set(None, &rtype, vec![&a], vec![&a])]);
        let Change::Edit(whole) = &c.items[0] else { panic!("an edit") };
        assert_eq!(whole.command, format!("az network dns record-set a delete --ids {id} --yes"));
        let Change::Edit(part) = &c.items[1] else { panic!("an edit") };
        assert_eq!(part.edit, "remove 192.0.2.1 from the record set");
        assert!(part.command.starts_with(&format!("az network dns record-set a show --ids {id}")), "{}", part.command);
        assert_eq!(c.by_hand, [2], "a set without its resource id is changed by hand");
    }
}
