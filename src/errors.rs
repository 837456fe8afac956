//! How an error reaches a person: one sentence chain, each cause once, nothing that could drive a
//! terminal. `main` prints exactly this.

/// The error and its causes joined by `: `, each once, control characters escaped
/// ([`dangle_model::errors::chain`]).
pub fn render(e: &anyhow::Error) -> String {
    // anyhow's context layers are the error's sources: one renderer, the model's, for every error.
    dangle_model::errors::chain(e.as_ref())
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
