//! DNSSEC for DANE: who decides whether TLSA records are secure, and the
//! `--trust-anchor` file (DS or DNSKEY records in zone-file presentation
//! format), read and checked here, once: a bad file is a usage error.

use crate::cli::DaneArgs;
use anyhow::{anyhow, bail, Context, Result};
use std::path::{Path, PathBuf};

/// Most bytes read from a --trust-anchor file.
const ANCHOR_FILE_MAX_BYTES: u64 = 1 << 20;
/// Most records kept from a --trust-anchor file.
pub const MAX_ANCHORS: usize = 64;

/// Who decides whether an answer is DNSSEC-secure.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Validation {
    /// mailport validates the signatures itself, from the root's key (built in).
    #[default]
    RootAnchor,
    /// mailport validates from the keys of a --trust-anchor file.
    Anchors { path: PathBuf, anchors: Vec<Anchor> },
    /// The AD bit of the --dns-server, a validating resolver (--trust-ad).
    AdBit,
}

/// One record of a --trust-anchor file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchor {
    /// The zone it is the key of, lower case, with its trailing dot.
    pub zone: String,
    pub key: AnchorKey,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnchorKey {
    /// A DS record: the digest of the zone's key (what the parent publishes).
    Ds {
        key_tag: u16,
        algorithm: u8,
        digest_type: u8,
        digest: Vec<u8>,
    },
    /// A DNSKEY record: the key itself.
    Dnskey {
        flags: u16,
        protocol: u8,
        algorithm: u8,
        key: Vec<u8>,
    },
}

/// --trust-anchor (read now, once) or --trust-ad, or the root's key.
pub(super) fn validation(args: &DaneArgs) -> Result<Validation> {
    if args.trust_ad {
        return Ok(Validation::AdBit);
    }
    Ok(match &args.trust_anchor {
        Some(path) => Validation::Anchors {
            anchors: read_anchor_file(path)?,
            path: path.clone(),
        },
        None => Validation::RootAnchor,
    })
}

/// Read and check a --trust-anchor file.
pub fn read_anchor_file(path: &Path) -> Result<Vec<Anchor>> {
    let shown = path.display();
    let bytes = super::input::read_bounded(path, "--trust-anchor", ANCHOR_FILE_MAX_BYTES)?;
    let text = String::from_utf8(bytes)
        .map_err(|_| anyhow!("--trust-anchor {shown} is not text (UTF-8)"))?;
    parse_anchors(&text).with_context(|| format!("--trust-anchor {shown}"))
}

/// The DS and DNSKEY records of zone-file text (comments after `;`,
/// records spread over lines inside parentheses).
pub fn parse_anchors(text: &str) -> Result<Vec<Anchor>> {
    let mut anchors = Vec::new();
    for (line_no, record) in logical_lines(text)? {
        let tokens: Vec<&str> = record.split_whitespace().collect();
        if tokens.is_empty() {
            continue;
        }
        let anchor = parse_record(&tokens)
            .with_context(|| format!("line {line_no}: {}", crate::escape::shown(&record)))?;
        if anchors.len() == MAX_ANCHORS {
            bail!("more than {MAX_ANCHORS} records");
        }
        anchors.push(anchor);
    }
    if anchors.is_empty() {
        bail!("holds no DS or DNSKEY record (expected e.g. `lab.test. IN DS 12345 13 2 AB12…`)");
    }
    Ok(anchors)
}

/// Records as one line each, with the number of the line each starts on.
fn logical_lines(text: &str) -> Result<Vec<(usize, String)>> {
    let mut out = Vec::new();
    let mut current = String::new();
    let mut start = 0;
    let mut depth = 0usize;
    for (i, raw) in text.lines().enumerate() {
        let line = raw.split(';').next().unwrap_or("");
        if depth == 0 {
            start = i + 1;
        }
        for c in line.chars() {
            match c {
                '(' => depth += 1,
                ')' => {
                    depth = depth
                        .checked_sub(1)
                        .ok_or_else(|| anyhow!("line {}: a ')' without '('", i + 1))?
                }
                c => current.push(c),
            }
        }
        current.push(' ');
        if depth == 0 {
            out.push((start, std::mem::take(&mut current)));
        }
    }
    if depth > 0 {
        bail!("line {start}: a '(' that is never closed");
    }
    Ok(out)
}

fn parse_record(tokens: &[&str]) -> Result<Anchor> {
    let owner = tokens[0];
    if owner.starts_with('$') {
        bail!("directives ({owner}) are not supported: write each record with its full name");
    }
    let zone = zone_name(owner)?;
    // TTL and class, in either order, both optional.
    let mut rest = &tokens[1..];
    while let Some(t) = rest.first() {
        if t.eq_ignore_ascii_case("IN") || t.chars().all(|c| c.is_ascii_digit()) {
            rest = &rest[1..];
        } else {
            break;
        }
    }
    let (rtype, rdata) = rest
        .split_first()
        .ok_or_else(|| anyhow!("no record type (DS or DNSKEY)"))?;
    let number = |i: usize, what: &str| -> Result<u64> {
        rdata
            .get(i)
            .ok_or_else(|| anyhow!("no {what}"))?
            .parse::<u64>()
            .map_err(|_| anyhow!("the {what} is not a number"))
    };
    let key = if rtype.eq_ignore_ascii_case("DS") {
        let digest = hex(&rdata.get(3..).unwrap_or_default().concat())?;
        if digest.is_empty() {
            bail!("no digest");
        }
        AnchorKey::Ds {
            key_tag: u16::try_from(number(0, "key tag")?)
                .map_err(|_| anyhow!("key tag too large"))?,
            algorithm: u8::try_from(number(1, "algorithm")?)
                .map_err(|_| anyhow!("algorithm too large"))?,
            digest_type: u8::try_from(number(2, "digest type")?)
                .map_err(|_| anyhow!("digest type too large"))?,
            digest,
        }
    } else if rtype.eq_ignore_ascii_case("DNSKEY") {
        let b64 = rdata.get(3..).unwrap_or_default().concat();
        let key = data_encoding::BASE64
            .decode(b64.as_bytes())
            .map_err(|_| anyhow!("the key is not base64"))?;
        if key.is_empty() {
            bail!("no key");
        }
        AnchorKey::Dnskey {
            flags: u16::try_from(number(0, "flags")?).map_err(|_| anyhow!("flags too large"))?,
            protocol: u8::try_from(number(1, "protocol")?)
                .map_err(|_| anyhow!("protocol too large"))?,
            algorithm: u8::try_from(number(2, "algorithm")?)
                .map_err(|_| anyhow!("algorithm too large"))?,
            key,
        }
    } else {
        bail!("a {rtype} record: only DS and DNSKEY records are trust anchors");
    };
    Ok(Anchor { zone, key })
}

/// A zone name as written: absolute (`lab.test.`), lower-cased.
fn zone_name(owner: &str) -> Result<String> {
    if owner == "." {
        return Ok(".".into());
    }
    if !owner.ends_with('.') {
        bail!("the name {owner} is not absolute (end it with a dot)");
    }
    let ok = owner.len() <= 254
        && owner[..owner.len() - 1].split('.').all(|l| {
            !l.is_empty()
                && l.len() <= 63
                && l.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !ok {
        bail!("{owner} is not a DNS name");
    }
    Ok(owner.to_ascii_lowercase())
}

fn hex(text: &str) -> Result<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        bail!("the digest has an odd number of hex digits");
    }
    (0..text.len())
        .step_by(2)
        .map(|i| {
            u8::from_str_radix(text.get(i..i + 2).unwrap_or("x"), 16)
                .map_err(|_| anyhow!("the digest is not hex"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ds_and_dnskey_records_are_read_in_any_layout() {
        let text = "; the lab's keys\n\
            lab.test. 3600 IN DS 4711 13 2 ( AB01\n  cd02 ) ; split digest\n\
            Lab.Test. IN 300 DNSKEY 257 3 13 AQID BA==\n\
            . DS 20326 8 2 E06D44B80B8F1D39A95C0B0D7C65D08458E880409BBC683457104237C7F8EC8D\n";
        let a = parse_anchors(text).unwrap();
        assert_eq!(a.len(), 3);
        assert_eq!(a[0].zone, "lab.test.");
        assert_eq!(
            a[0].key,
            AnchorKey::Ds {
                key_tag: 4711,
                algorithm: 13,
                digest_type: 2,
                digest: vec![0xab, 0x01, 0xcd, 0x02]
            }
        );
        assert_eq!(
            a[1].key,
            AnchorKey::Dnskey {
                flags: 257,
                protocol: 3,
                algorithm: 13,
                key: vec![1, 2, 3, 4]
            }
        );
        assert_eq!(a[1].zone, "lab.test.");
        assert_eq!(a[2].zone, ".");
    }

    #[test]
    fn bad_files_are_named_precisely() {
        let err = |t: &str| format!("{:#}", parse_anchors(t).unwrap_err());
        assert!(err("").contains("holds no DS or DNSKEY"));
        assert!(err("lab.test. IN A 192.0.2.1").contains("only DS and DNSKEY"));
        assert!(err("lab.test IN DS 1 13 2 AB").contains("not absolute"));
        assert!(err("lab.test. IN DS 1 13 2 XY").contains("not hex"));
        assert!(err("lab.test. IN DS 1 13 2").contains("no digest"));
        assert!(err("lab.test. IN DS 99999 13 2 AB").contains("key tag too large"));
        assert!(err("lab.test. IN DNSKEY 257 3 13 !!").contains("not base64"));
        assert!(err("lab.test. IN DS ( 1 13 2 AB").contains("never closed"));
        assert!(err("$ORIGIN lab.test.").contains("directives"));
        assert!(err("x\nlab.test. IN DS 1 13 2 AB").starts_with("line 1:"));
    }
}
