//! What a greeting names: the server's host and its software, read the same
//! way for every protocol from a table each protocol gives.

/// Where a greeting names the server's host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum NameSlot {
    /// SMTP: RFC 5321 puts the server's domain or address literal first;
    /// a trailing dot is dropped.
    Domain,
    /// IMAP, POP3: free text, so only a first word that clearly is a host
    /// name counts (one that ends in a dot ends a sentence).
    FreeText,
}

/// The host name a greeting announces: its first word, when it looks like one.
pub(crate) fn greeting_name(text: &str, slot: NameSlot) -> Option<String> {
    let word = text.split_ascii_whitespace().next()?;
    let literal = match slot {
        NameSlot::Domain => &['[', ']', ':'][..],
        NameSlot::FreeText if word.ends_with('.') => return None,
        NameSlot::FreeText => &[][..],
    };
    let looks_like_name = word.contains('.')
        && word.chars().all(|c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_') || literal.contains(&c)
        });
    looks_like_name.then(|| word.trim_end_matches('.').to_ascii_lowercase())
}

/// The software a greeting names: the first of `known` (`(words, name)`,
/// matched word by word, case-insensitively) found in `text`, with the version
/// that follows it when the next word starts with a digit.
pub(crate) fn software(text: &str, known: &[(&str, &str)]) -> Option<String> {
    let words: Vec<&str> = text
        .split_ascii_whitespace()
        .map(|w| w.trim_matches(|c: char| !c.is_alphanumeric() && c != '-'))
        .collect();
    for (needle, name) in known {
        let needle: Vec<&str> = needle.split(' ').collect();
        let Some(i) = words.windows(needle.len()).position(|w| {
            w.iter()
                .zip(&needle)
                .all(|(a, b)| a.eq_ignore_ascii_case(b))
        }) else {
            continue;
        };
        let version = words
            .get(i + needle.len())
            .filter(|v| v.chars().next().is_some_and(|c| c.is_ascii_digit()));
        return Some(match version {
            Some(v) => format!("{name} {v}"),
            None => name.to_string(),
        });
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_in_each_slot() {
        use NameSlot::*;
        assert_eq!(
            greeting_name("mail.example.test ESMTP", Domain).as_deref(),
            Some("mail.example.test")
        );
        assert_eq!(
            greeting_name("Mail.Example.Test. ESMTP", Domain).as_deref(),
            Some("mail.example.test")
        );
        assert_eq!(
            greeting_name("[192.0.2.1] ESMTP", Domain).as_deref(),
            Some("[192.0.2.1]")
        );
        assert_eq!(greeting_name("welcome", Domain), None);
        assert_eq!(greeting_name("", Domain), None);
        assert_eq!(
            greeting_name("mail.example.test Cyrus", FreeText).as_deref(),
            Some("mail.example.test")
        );
        assert_eq!(greeting_name("Ready.", FreeText), None);
        assert_eq!(greeting_name("[192.0.2.1] hi", FreeText), None);
    }

    #[test]
    fn software_and_its_version() {
        const KNOWN: &[(&str, &str)] = &[("Cyrus IMAP", "Cyrus IMAP"), ("Exim", "Exim")];
        assert_eq!(
            software("x Cyrus IMAP 3.6.1-Debian server", KNOWN).as_deref(),
            Some("Cyrus IMAP 3.6.1-Debian")
        );
        assert_eq!(
            software("mx ESMTP exim 4.96, Mon", KNOWN).as_deref(),
            Some("Exim 4.96")
        );
        assert_eq!(software("Cyrus POP3 ready", KNOWN), None);
    }
}
