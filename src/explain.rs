//! `mailport explain [CODE]`: the codes table, as text, JSON or Markdown
//! (docs/codes.md is this command's Markdown, and a test keeps it so).

use crate::cli::{ExplainArgs, ExplainFormat};
use crate::{codes, escape, exit, render};
use anyhow::{bail, Result};
use std::io::Write;

#[derive(serde::Serialize)]
struct Explained<'a> {
    code: &'a str,
    kind: &'a str,
    severity: &'a str,
    meaning: &'a str,
    causes: &'a str,
    action: &'a str,
    /// The RFC 8460 (TLS-RPT) result type of this failure, if it is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    tlsrpt_result: Option<&'a str>,
    /// The hint for each server software that has its own.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    software_hints: Vec<SoftwareHint<'a>>,
}

#[derive(serde::Serialize)]
struct SoftwareHint<'a> {
    software: &'a str,
    hint: &'a str,
}

fn explained(c: &'static codes::CodeInfo) -> Explained<'static> {
    Explained {
        code: c.code.as_str(),
        kind: match c.kind {
            codes::Kind::Outcome => "outcome",
            codes::Kind::Finding => "finding",
        },
        severity: c.severity.as_str(),
        meaning: c.meaning,
        causes: c.causes,
        action: c.action,
        tlsrpt_result: c.tlsrpt.map(codes::TlsRptResult::as_str),
        software_hints: c
            .code
            .software_hints()
            .map(|(software, hint)| SoftwareHint { software, hint })
            .collect(),
    }
}

pub fn explain(args: &ExplainArgs) -> Result<u8> {
    let rows: Vec<&'static codes::CodeInfo> = match &args.code {
        Some(code) => {
            let wanted = code.trim().to_ascii_lowercase().replace('-', "_");
            match codes::Code::parse(&wanted) {
                Some(c) => vec![c.info()],
                None => match nearest(&wanted) {
                    Some(near) => bail!(
                        "unknown code '{}'; did you mean `{near}`?",
                        escape::shown(code)
                    ),
                    None => bail!(
                        "unknown code '{}'; `mailport explain` lists every code",
                        escape::shown(code)
                    ),
                },
            }
        }
        None => codes::CODES.iter().collect(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.format == ExplainFormat::Markdown {
        markdown(&rows, &mut out)?;
    } else if args.json || args.format == ExplainFormat::Json {
        let list: Vec<_> = rows.into_iter().map(explained).collect();
        render::json::render(&list, &mut out)?;
    } else if args.code.is_none() {
        for c in rows {
            let e = explained(c);
            writeln!(out, "{:<28} {:<8} {}", e.code, e.kind, e.severity)?;
        }
        writeln!(
            out,
            "\n`mailport explain CODE` tells what a code means and what to do."
        )?;
    } else {
        let e = explained(rows[0]);
        writeln!(out, "{} ({}, {})", e.code, e.kind, e.severity)?;
        for (title, text) in [
            ("What it means", e.meaning),
            ("Usual causes", e.causes),
            ("What to do", e.action),
        ] {
            writeln!(out, "\n{title}:")?;
            for line in render::text::wrap(text, 2, render::text::WIDTH) {
                writeln!(out, "{line}")?;
            }
        }
        if let Some(t) = e.tlsrpt_result {
            writeln!(out, "\nTLS-RPT result type (RFC 8460):\n  {t}")?;
        }
        if !e.software_hints.is_empty() {
            writeln!(out, "\nFor the server software mailport recognises:")?;
            for h in &e.software_hints {
                for line in render::text::wrap(
                    &if h.hint.to_ascii_lowercase().starts_with(h.software) {
                        format!("- {}", h.hint)
                    } else {
                        format!("- {}: {}", h.software, h.hint)
                    },
                    2,
                    render::text::WIDTH,
                ) {
                    writeln!(out, "{line}")?;
                }
            }
        }
    }
    out.flush()?;
    Ok(exit::OK)
}

/// The code nearest to a misspelt one, if one is near enough: the closest
/// by edit distance (a transposition counts once), within a third of the
/// code's length (at least 2); else the one code that the text (4 letters
/// or more) starts; else the one code whose words the text has all of, or
/// that has all the text's words (`tls_handshake_failed`: `tls_failed`).
fn nearest(wanted: &str) -> Option<&'static str> {
    let codes = codes::CODES.iter().map(|c| c.code.as_str());
    let (best, distance) = codes
        .clone()
        .map(|c| (c, strsim::damerau_levenshtein(wanted, c)))
        .min_by_key(|(_, d)| *d)?;
    if distance <= (best.len() / 3).max(2) {
        return Some(best);
    }
    let only = |mut found: Vec<&'static str>| match found.len() {
        1 => found.pop(),
        _ => None,
    };
    if wanted.len() >= 4 {
        if let Some(code) = only(codes.clone().filter(|c| c.starts_with(wanted)).collect()) {
            return Some(code);
        }
    }
    let words = |text: &str| -> Vec<String> {
        text.split('_')
            .filter(|w| !w.is_empty())
            .map(str::to_string)
            .collect()
    };
    let typed = words(wanted);
    if typed.is_empty() {
        return None;
    }
    only(
        codes
            .filter(|c| {
                let code = words(c);
                code.iter().all(|w| typed.contains(w)) || typed.iter().all(|w| code.contains(w))
            })
            .collect(),
    )
}

/// One cell of a Markdown table: no line break, no column break.
fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace('\n', " ")
}

/// The reference of every code (docs/codes.md): an index table, then each
/// code with its meaning, causes, action and software hints.
fn markdown(rows: &[&'static codes::CodeInfo], out: &mut dyn Write) -> Result<()> {
    writeln!(
        out,
        "<!-- Generated by `mailport explain --format markdown`: do not edit. \
         The codes table is src/codes.rs; a test checks that this file is what \
         the binary prints. -->\n"
    )?;
    writeln!(out, "# Outcome and finding codes\n")?;
    writeln!(
        out,
        "Every probe ends with one **outcome**, decided by the first phase that \
         failed; **findings** are what mailport concludes from one probe or from \
         several (a finding's severity is `info`, `warn` or `fail`; a failed \
         probe is a finding with its outcome's code). `mailport explain CODE` \
         prints one of these in the terminal.\n"
    )?;
    for (kind, title) in [
        (codes::Kind::Outcome, "Outcomes"),
        (codes::Kind::Finding, "Findings"),
    ] {
        writeln!(out, "## {title}\n")?;
        writeln!(out, "| code | severity | meaning |")?;
        writeln!(out, "|---|---|---|")?;
        for c in rows.iter().filter(|c| c.kind == kind) {
            writeln!(
                out,
                "| [`{code}`](#{code}) | {} | {} |",
                c.severity.as_str(),
                cell(c.meaning),
                code = c.code.as_str()
            )?;
        }
        writeln!(out)?;
    }
    writeln!(out, "## Every code in full")?;
    for c in rows {
        let e = explained(c);
        writeln!(out, "\n### {}\n", e.code)?;
        writeln!(out, "{}, severity `{}`.\n", e.kind, e.severity)?;
        writeln!(out, "- **What it means:** {}", e.meaning)?;
        writeln!(out, "- **Usual causes:** {}", e.causes)?;
        writeln!(out, "- **What to do:** {}", e.action)?;
        if let Some(t) = e.tlsrpt_result {
            writeln!(out, "- **TLS-RPT result type (RFC 8460):** `{t}`")?;
        }
        for h in &e.software_hints {
            writeln!(out, "- **{}:** {}", h.software, h.hint)?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::nearest;

    #[test]
    fn a_misspelt_code_gets_the_nearest_one() {
        assert_eq!(nearest("conect_timeout"), Some("connect_timeout"));
        assert_eq!(nearest("connect_timout"), Some("connect_timeout"));
        assert_eq!(nearest("tls_fialed"), Some("tls_failed"));
        assert_eq!(nearest("cert_expird"), Some("cert_expired"));
        assert_eq!(nearest("port_25_blocked"), Some("port25_blocked"));
        assert_eq!(nearest("hsts"), Some("hsts_missing"));
        // By words: all of the code's, or all of the text's.
        assert_eq!(nearest("tls_handshake_failed"), Some("tls_failed"));
        assert_eq!(nearest("expired"), Some("cert_expired"));
        assert_eq!(nearest("ptr_confirmed_not"), Some("ptr_not_confirmed"));
        // Three codes end in timeout: no guess.
        assert_eq!(nearest("timeout"), None);
        // Several codes start with it: no guess.
        assert_eq!(nearest("starttls"), None);
        assert_eq!(nearest("nope"), None);
        assert_eq!(nearest("zzzzzzzzzzzz"), None);
    }
}
