//! mailport: diagnose a host's mail ports.
//!
//! `run` is the whole program, one stage after the other, each a module that
//! takes values and returns new ones: plan → resolve → probe (and the DNS
//! checks beside it) → report → diagnose → render → exit status. Failures of
//! the target are data in the report; only failures of the tool itself are
//! errors (exit status 2). ARCHITECTURE.md maps the stages to their files.

pub mod cert;
pub mod cli;
pub mod codes;
pub mod diagnose;
pub mod dns;
pub mod escape;
pub mod exit;
pub mod local;
pub mod net;
pub mod phase;
pub mod plan;
pub mod probe;
pub mod rdns;
pub mod render;
pub mod report;
pub mod resolve;
pub mod runner;
pub mod service;
pub mod tls;
pub mod trace;

use anyhow::{bail, Context as _, Result};
use clap::Parser;
use cli::{CheckArgs, Cli, ColorChoice, Command, ExplainArgs, Format, LocalArgs, PtrArgs};
use report::Report;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;

/// Parse the command line, run, and turn the result into an exit status.
pub fn main() -> ExitCode {
    let cli = Cli::parse();
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(exit::OK);
            }
            eprintln!("mailport: error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

pub fn run(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Check(args) => check(&args),
        Command::Ptr(args) => ptr(&args),
        Command::Local(args) => local(&args),
        Command::Explain(args) => explain(&args),
    }
}

/// How a report is shown.
struct Output {
    json: bool,
    color: ColorChoice,
    verbose: bool,
}

fn check(args: &CheckArgs) -> Result<u8> {
    let plan = plan::Plan::from_args(args)?;
    let output = Output {
        json: args.json || args.format == Format::Json,
        color: args.color,
        verbose: args.verbose,
    };
    execute(plan, &output)
}

/// `mailport ptr`: the same flow with no probes, every address's reverse DNS.
fn ptr(args: &PtrArgs) -> Result<u8> {
    let plan = plan::Plan::for_ptr(args)?;
    let output = Output {
        json: args.json || args.format == Format::Json,
        color: args.color,
        verbose: false,
    };
    execute(plan, &output)
}

/// `mailport local`: this machine's facts, diagnosed, with no probes.
fn local(args: &LocalArgs) -> Result<u8> {
    let plan = plan::Plan::for_local(args)?;
    let output = Output {
        json: args.json || args.format == Format::Json,
        color: args.color,
        verbose: false,
    };
    let started = time::OffsetDateTime::now_utc();
    let clock = std::time::Instant::now();
    let facts = local::gather(&plan.local, true);
    let mut findings = diagnose::local::findings(&facts);
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let code = exit::status(&findings, plan.fail_on);
    let mut report = Report::assemble(
        &plan,
        started,
        clock.elapsed(),
        Vec::new(),
        Vec::new(),
        findings,
        code,
    );
    report.local = Some(facts);
    show(&report, &output)?;
    Ok(code)
}

fn execute(plan: plan::Plan, output: &Output) -> Result<u8> {
    let ca = plan.ca.as_ref().filter(|_| plan.needs_tls());
    let trust = Arc::new(tls::Trust::load(ca)?);
    let progress = std::io::stderr().is_terminal();
    let started = time::OffsetDateTime::now_utc();
    let clock = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (domains, mut targets, names, paths) = runtime.block_on(async {
        // One deadline for the whole check: the MX lookups, the probes and the DNS checks share it.
        let deadline = tokio::time::Instant::now() + plan.limits.deadline;
        let dns = dns::Dns::new(&plan.names.dns);
        let resolved = resolve::resolve(&plan, &dns, deadline).await;
        let questions = rdns::questions(&plan.names, plan.family, &resolved.targets);
        let (targets, names) = tokio::join!(
            runner::probe_all(&plan, resolved.targets, trust, progress, deadline),
            rdns::ask(questions, &dns, deadline),
        );
        // Where a failing port is blocked, after the probes found it failing.
        let paths = trace::paths(&plan, &targets, &dns, deadline).await;
        (resolved.domains, targets, names, paths)
    });
    // Probes that outlive the deadline are cut off here rather than awaited.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    for (i, t) in targets.iter_mut().enumerate() {
        t.dns = names.for_target(t, &domains);
        paths.fill(i, t);
    }

    // A mail port that did not connect: what this machine's own firewall says.
    let local = local::wanted(&targets).then(|| local::gather(&plan.local, false));

    let mut findings = diagnose::mail_domains(&domains);
    findings.extend(diagnose::diagnose(&targets));
    if let Some(facts) = &local {
        findings = diagnose::local::explain_failures(findings, &targets, facts);
    }
    findings.sort_by_key(|f| std::cmp::Reverse(f.severity));
    let code = exit::status(&findings, plan.fail_on);
    let mut report = Report::assemble(
        &plan,
        started,
        clock.elapsed(),
        domains,
        targets,
        findings,
        code,
    );
    // The facts are shown when they explain a failure; otherwise they would
    // only repeat, on every check with a closed port 25, what `mailport local` says.
    report.local = local.filter(|_| {
        report
            .findings
            .iter()
            .any(|f| f.code == codes::Code::SmtpBlockedForUser)
    });
    show(&report, output)?;
    Ok(code)
}

/// Write the report as the user asked.
fn show(report: &Report, output: &Output) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if output.json {
        render::json::render(report, &mut out)?;
    } else {
        let style = render::text::Style {
            color: use_color(output.color, stdout.is_terminal()),
            verbose: output.verbose,
        };
        render::text::render(report, &mut out, style)?;
    }
    out.flush()?;
    Ok(())
}

/// Colour only on a terminal, never with NO_COLOR set (https://no-color.org).
pub fn use_color(choice: ColorChoice, tty: bool) -> bool {
    let no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
    match choice {
        _ if no_color => false,
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => tty,
    }
}

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

fn explain(args: &ExplainArgs) -> Result<u8> {
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

/// The pipeline's shape, checked: each module lives on a floor and imports
/// only modules on lower floors (`crate::x` in its production code). A new
/// module must be given a floor here, which is the moment to decide where
/// it belongs.
#[cfg(test)]
mod layers {
    /// Lowest first. The report model sits low because every stage fills it.
    const FLOORS: &[&[&str]] = &[
        &["codes", "escape"],
        &["service"],
        &["cli"],
        &["plan"],
        &["report"],
        &["phase"],
        &["net"],
        &["cert"],
        &["tls"],
        &["dns"],
        &["resolve"],
        &["probe", "rdns", "local"],
        &["runner"],
        &["trace"],
        &["diagnose"],
        &["render"],
        &["exit"],
    ];

    fn floor(module: &str) -> Option<usize> {
        FLOORS.iter().position(|f| f.contains(&module))
    }

    /// The top-level modules that `text` (production code only) names as `crate::x`.
    fn imports(text: &str) -> Vec<String> {
        let code = text.split("#[cfg(test)]").next().unwrap_or("");
        let mut out = Vec::new();
        for (i, _) in code.match_indices("crate::") {
            let rest = &code[i + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(inner) => inner
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(|s| s.trim().split("::").next().unwrap_or(""))
                    .collect(),
                None => vec![rest
                    .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .next()
                    .unwrap_or("")],
            };
            out.extend(
                names
                    .into_iter()
                    .filter(|n| !n.is_empty())
                    .map(String::from),
            );
        }
        out
    }

    fn rust_files(dir: &std::path::Path, out: &mut Vec<std::path::PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap().flatten() {
            let path = entry.path();
            if path.is_dir() {
                rust_files(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }

    #[test]
    fn no_module_imports_a_later_stage() {
        let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
        let mut files = Vec::new();
        rust_files(&src, &mut files);
        let mut wrong = Vec::new();
        for path in files {
            let rel = path.strip_prefix(&src).unwrap();
            let unit = rel
                .components()
                .next()
                .unwrap()
                .as_os_str()
                .to_string_lossy()
                .trim_end_matches(".rs")
                .to_string();
            if unit == "lib" || unit == "main" {
                continue;
            }
            let own = floor(&unit).unwrap_or_else(|| panic!("src/{unit} has no floor in FLOORS"));
            let text = std::fs::read_to_string(&path).unwrap();
            for target in imports(&text) {
                if target == unit {
                    continue;
                }
                match floor(&target) {
                    Some(f) if f < own => {}
                    _ => wrong.push(format!("{} imports crate::{target}", rel.display())),
                }
            }
        }
        assert!(
            wrong.is_empty(),
            "imports that run up the pipeline:\n{}",
            wrong.join("\n")
        );
    }
}
