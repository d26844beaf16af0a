//! `mailport explain [CODE]`: the codes table, as text or JSON.

use crate::cli::{ExplainArgs, Format};
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
                None => bail!(
                    "unknown code '{}'; `mailport explain` lists every code",
                    escape::shown(code)
                ),
            }
        }
        None => codes::CODES.iter().collect(),
    };
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.json || args.format == Format::Json {
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
