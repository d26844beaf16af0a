//! TLS-RPT (RFC 8460), pure: the `_smtp._tls` TXT record.

use crate::report::is_version;

/// The `_smtp._tls` TXT records: the `rua` URIs of the one `v=TLSRPTv1`
/// record, and what is wrong (no URI is kept when anything is).
pub fn parse(records: &[String]) -> (Vec<String>, Vec<String>) {
    let rpt: Vec<&String> = records
        .iter()
        .filter(|r| is_version(r, "TLSRPTv1"))
        .collect();
    let mut errors = Vec::new();
    match rpt.len() {
        0 => return (Vec::new(), errors),
        1 => {}
        n => {
            errors.push(format!(
                "{n} TXT records start with v=TLSRPTv1; RFC 8460 needs exactly one, and senders send no report otherwise"
            ));
            return (Vec::new(), errors);
        }
    }
    let record = rpt[0];
    let fields: Vec<&str> = record.split(';').map(str::trim).collect();
    let mut rua: Vec<String> = Vec::new();
    let mut seen_rua = false;
    for (i, field) in fields.iter().enumerate() {
        if i == 0 {
            if *field != "v=TLSRPTv1" {
                errors.push(format!(
                    "the record must start with v=TLSRPTv1; it starts with \"{field}\""
                ));
            }
            continue;
        }
        if field.is_empty() {
            if i + 1 < fields.len() {
                errors.push("an empty field between two \";\"".into());
            }
            continue;
        }
        let Some((key, value)) = field.split_once('=') else {
            errors.push(format!("the field \"{field}\" is not name=value"));
            continue;
        };
        if key != "rua" {
            // Extensions are allowed (tlsrpt-extension = ext-name "=" ext-value).
            continue;
        }
        if seen_rua {
            errors.push("rua= appears twice".into());
            continue;
        }
        seen_rua = true;
        for uri in value.split(',').map(str::trim) {
            match uri_error(uri) {
                None => rua.push(uri.to_string()),
                Some(why) => errors.push(why),
            }
        }
    }
    if !seen_rua {
        errors.push(
            "the record has no rua= field (e.g. v=TLSRPTv1; rua=mailto:tlsrpt@example.org)".into(),
        );
    }
    if errors.is_empty() {
        (rua, errors)
    } else {
        (Vec::new(), errors)
    }
}

/// What is wrong with one `rua` URI: only `mailto:` with an address, or
/// `https:` with a host, are reporting URIs (RFC 8460 section 3).
fn uri_error(uri: &str) -> Option<String> {
    if uri.is_empty() {
        return Some("an empty URI in rua=".into());
    }
    if uri.bytes().any(|b| !(0x21..=0x7e).contains(&b)) {
        return Some(format!(
            "the rua URI \"{uri}\" has spaces or other characters a URI cannot hold"
        ));
    }
    let lower = uri.to_ascii_lowercase();
    if let Some(addr) = lower.strip_prefix("mailto:") {
        let ok = addr
            .split_once('@')
            .is_some_and(|(l, d)| !l.is_empty() && d.contains('.') && !d.ends_with('.'));
        return (!ok).then(|| format!("the rua URI \"{uri}\" is not mailto:LOCAL@DOMAIN"));
    }
    if let Some(rest) = lower.strip_prefix("https://") {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        return host
            .is_empty()
            .then(|| format!("the rua URI \"{uri}\" has no host"));
    }
    Some(format!(
        "the rua URI \"{uri}\" is neither mailto: nor https: (RFC 8460 defines only these)"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records() {
        let one = |r: &str| parse(&[r.to_string()]);
        assert_eq!(
            one("v=TLSRPTv1; rua=mailto:tls@example.test").0,
            ["mailto:tls@example.test"]
        );
        assert_eq!(
            one("v=TLSRPTv1;rua=mailto:a@example.test, https://r.example.test/tls;").0,
            ["mailto:a@example.test", "https://r.example.test/tls"]
        );
        assert_eq!(one("v=spf1 -all"), (vec![], vec![]));
        for bad in [
            "v=TLSRPTv1",
            "v=TLSRPTv1; rua=",
            "v=TLSRPTv1; rua=http://r.example.test/",
            "v=TLSRPTv1; rua=mailto:nobody",
            "v=TLSRPTv1; rua=mailto:a@example.test; rua=mailto:b@example.test",
            "v=TLSRPTv1; rua=mailto:a@example.test,,mailto:b@example.test",
            "v=TLSRPTv1; ruf",
        ] {
            let (rua, errors) = one(bad);
            assert!(rua.is_empty() && !errors.is_empty(), "{bad}: {errors:?}");
        }
        let two = parse(&[
            "v=TLSRPTv1; rua=mailto:a@example.test".into(),
            "v=TLSRPTv1; rua=mailto:b@example.test".into(),
        ]);
        assert!(two.0.is_empty() && two.1[0].contains("2 TXT records"));
    }
}
