//! How an error reaches a person: one sentence chain, each cause once, nothing that could drive a
//! terminal. `main` prints exactly this.

/// The error and its causes joined by `: `. A cause whose text the chain already holds is left out
/// (an I/O error wrapped by a type that quotes it, SQLite repeating its own message), and control
/// characters are escaped.
pub fn render(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let m = cause.to_string();
        let m = m.trim();
        if m.is_empty() || out.contains(m) {
            continue;
        }
        if !out.is_empty() {
            out.push_str(": ");
        }
        out.push_str(m);
    }
    dangle_model::input::printable(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::render;
    use anyhow::Context;

    #[test]
    fn each_cause_once() {
        let io = std::io::Error::from(std::io::ErrorKind::NotFound);
        let e = Err::<(), _>(io).context("cannot read x.zone: entity not found").context("provider `z`").unwrap_err();
        assert_eq!(render(&e), "provider `z`: cannot read x.zone: entity not found");
    }

    #[test]
    fn control_characters_are_escaped() {
        let e = anyhow::anyhow!("bad \u{1b}]0;title\u{7} name");
        assert_eq!(render(&e), "bad \\u{1b}]0;title\\u{7} name");
    }
}
