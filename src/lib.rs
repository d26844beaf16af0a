//! mailport: diagnose a host's mail ports.
//!
//! `run` is the whole program, one stage after the other, each a module that
//! takes values and returns new ones: plan → resolve → probe (and the DNS
//! checks beside it) → trace → report → diagnose → render → exit status,
//! host by host (`fleet.rs`). Failures of
//! the target are data in the report; only failures of the tool itself are
//! errors (exit status 2). ARCHITECTURE.md maps the stages to their files.

// No `unsafe`: system calls go through nix (issue 16); the one exception is
// `one_heap`'s mallopt, which nix does not wrap.
#![deny(unsafe_code)]

pub mod cache;
pub mod cert;
pub mod cli;
pub mod codes;
pub mod diagnose;
pub mod dns;
pub mod escape;
pub mod exit;
pub mod explain;
pub mod fleet;
pub mod generate;
pub mod local;
pub mod net;
pub mod phase;
pub mod plan;
pub mod policy;
pub mod probe;
pub mod rdns;
pub mod render;
pub mod report;
pub mod resolve;
pub mod runner;
pub mod service;
pub mod sink;
pub mod tls;
pub mod trace;

use anyhow::{bail, Context as _, Result};
use cli::{
    CheckArgs, CheckFormat, Cli, ColorChoice, Command, Format, LocalArgs, PolicyArgs, PtrArgs,
};
use report::Report;
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};

/// Parse the command line, run, and turn the result into an exit status.
pub fn main() -> ExitCode {
    one_heap();
    // In the monitoring plugins' format even bad input is a plugin answer:
    // UNKNOWN (3) on stdout, not clap's usage error (2).
    let nagios = exit::nagios_asked(std::env::args_os());
    let cli = match cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => return exit::refused_command_line(e, nagios),
    };
    match run(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            if is_broken_pipe(&e) {
                return ExitCode::from(exit::OK);
            }
            if nagios {
                return exit::nagios_unknown(&format!("{e:#}"));
            }
            eprintln!("mailport: error: {e:#}");
            ExitCode::from(exit::ERROR)
        }
    }
}

/// With glibc, one malloc arena for all threads. Its default (up to 8 per
/// core) lets each runtime thread keep its own partly used heap, and a run
/// of many hosts grew in resident memory that way while its live heap
/// stayed flat (measured with massif and scripts/bench-fleet: 21 MB at
/// 1,000 silent hosts, 28 MB at 10,000, against 20 MB for both with one
/// arena; the two runtime threads do not contend for it noticeably).
fn one_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only sets a parameter of the allocator; this runs
    // first in main, before any thread is started.
    #[allow(unsafe_code)]
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
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
        Command::Policy(args) => policy(&args),
        Command::Explain(args) => explain::explain(&args),
        Command::Generate(args) => generate::generate(&args),
    }
}

/// How a report is shown.
struct Output {
    format: CheckFormat,
    color: ColorChoice,
    verbose: bool,
    /// `-q`: only the findings and the summary line.
    quiet: bool,
    /// Host by host, each as soon as it is done (JSON Lines, or text for several hosts).
    stream: bool,
}

fn check(args: &CheckArgs) -> Result<u8> {
    let plan = plan::Plan::from_args(args)?;
    let format = if args.json {
        CheckFormat::Json
    } else {
        args.format
    };
    let several = plan
        .targets
        .iter()
        .filter(|t| t.role == plan::Role::Target)
        .count()
        > 1
        || args.hosts_file.is_some();
    let output = Output {
        format,
        color: args.color,
        verbose: args.verbose > 0,
        quiet: args.quiet,
        // The monitoring plugins' format is one answer for all the hosts.
        stream: format == CheckFormat::Jsonl || (format == CheckFormat::Text && several),
    };
    execute(plan, &output)
}

impl Output {
    /// One report, as JSON or text, without details: `ptr` and `local`.
    fn report(json: bool, color: ColorChoice) -> Output {
        Output {
            format: if json {
                CheckFormat::Json
            } else {
                CheckFormat::Text
            },
            color,
            verbose: false,
            quiet: false,
            stream: false,
        }
    }
}

/// `mailport policy`: `check --mx --service smtp` with each domain's TLS promises.
fn policy(args: &PolicyArgs) -> Result<u8> {
    let plan = plan::Plan::for_policy(args)?;
    let format = if args.json || args.format == Format::Json {
        CheckFormat::Json
    } else {
        CheckFormat::Text
    };
    let output = Output {
        format,
        color: args.color,
        verbose: args.verbose > 0,
        quiet: args.quiet,
        stream: format == CheckFormat::Text && args.domains.len() > 1,
    };
    execute(plan, &output)
}

/// `mailport ptr`: the same flow with no probes, every address's reverse DNS.
fn ptr(args: &PtrArgs) -> Result<u8> {
    let plan = plan::Plan::for_ptr(args)?;
    let output = Output::report(args.json || args.format == Format::Json, args.color);
    execute(plan, &output)
}

/// `mailport local`: this machine's facts, diagnosed, with no probes.
fn local(args: &LocalArgs) -> Result<u8> {
    let plan = plan::Plan::for_local(args)?;
    let output = Output::report(args.json || args.format == Format::Json, args.color);
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
    let trust = Arc::new(tls::Trust::load_at(ca, plan.at)?);
    let started = time::OffsetDateTime::now_utc();
    let clock = std::time::Instant::now();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let (stop_tx, stop) = watch::channel(false);
    if matches!(plan.command, plan::Command::Check | plan::Command::Policy) {
        runtime.spawn(interrupt(stop_tx));
    }
    let plan = Arc::new(plan);
    let result = if output.stream {
        stream(&runtime, plan, trust, output, stop, (started, clock))
    } else {
        collect(&runtime, plan, trust, output, stop, (started, clock))
    };
    // Probes that outlive the deadline are cut off here rather than awaited.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    result
}

/// On Ctrl-C: tell the run to stop (it ends within a second); on a second one, quit at once.
async fn interrupt(stop: watch::Sender<bool>) {
    if tokio::signal::ctrl_c().await.is_ok() {
        let _ = stop.send(true);
        eprintln!(
            "mailport: interrupted: ending the probes under way (Ctrl-C again to quit at once)"
        );
        if tokio::signal::ctrl_c().await.is_ok() {
            std::process::exit(i32::from(exit::INTERRUPTED));
        }
    }
}

/// When the run started: the wall clock for the report, the monotonic clock for its duration.
type Started = (time::OffsetDateTime, std::time::Instant);

/// A run that prints one report: every host is kept until the end.
fn collect(
    runtime: &tokio::runtime::Runtime,
    plan: Arc<plan::Plan>,
    trust: Arc<tls::Trust>,
    output: &Output,
    stop: watch::Receiver<bool>,
    (started, clock): Started,
) -> Result<u8> {
    let watch = progress_wanted(&plan, output);
    let (domains, events, ended, fed, policies) = runtime.block_on(async {
        // One deadline for the whole check: the MX lookups, the probes and the DNS checks share it.
        let deadline = tokio::time::Instant::now() + plan.limits.deadline;
        let dns = dns::Dns::new(&plan.names.dns);
        // The hosts, all of them: this run keeps them all anyway.
        let (tx, mut rx) = mpsc::channel(fleet::Run::units_in_flight(&plan));
        let (controls, fed) = fleet::feed(plan.clone(), tx);
        let mut units = Vec::new();
        while let Some(u) = rx.recv().await {
            units.push(u);
        }
        let mut domains = Vec::new();
        if plan.names.mx {
            let subjects: Vec<plan::Target> = units
                .into_iter()
                .map(|u| match u {
                    fleet::Unit::Host(t) | fleet::Unit::Domain(t) => t,
                })
                .collect();
            let (targets, lookups) = resolve::expand_mx(&plan, &subjects, &dns, deadline).await;
            units = targets.into_iter().map(fleet::Unit::Host).collect();
            domains = lookups;
        }
        let fed = fed.lock().map(|f| *f).unwrap_or_default();
        let progress =
            watch.then(|| Arc::new(fleet::Progress::new(Some(units.len() as u64), false)));
        let bounds = Arc::new(bounds(&plan, progress.is_some()));
        let ticker = progress
            .clone()
            .map(|p| tokio::spawn(fleet::progress::show(p, bounds.clone())));
        let run = Arc::new(fleet::Run {
            progress: progress.clone(),
            plan: plan.clone(),
            dns,
            trust,
            bounds,
            local: Arc::new(net::local_addresses()),
            deadline: Some(deadline),
            domains: Arc::new(domains),
            local_facts: Default::default(),
            traces: trace::Traces::new(),
        });
        let (units_tx, units_rx) = mpsc::channel(units.len().max(1));
        for u in units {
            let _ = units_tx.try_send(u);
        }
        drop(units_tx);
        let (events_tx, mut events_rx) = mpsc::channel(64);
        let engine = tokio::spawn(fleet::run(run.clone(), controls, units_rx, events_tx, stop));
        let events = async {
            let mut events = Vec::new();
            while let Some(e) = events_rx.recv().await {
                events.push(e);
            }
            events
        };
        // The domains' TLS promises, fetched while their MX hosts are probed.
        let policies = async {
            let mut out = Vec::new();
            for d in run.domains.iter() {
                out.push(policy::for_domain(&plan, &run.dns, &run.trust, d, deadline).await);
            }
            out
        };
        let (events, policies) = tokio::join!(events, policies);
        let ended = engine.await.unwrap_or_default();
        if let Some(t) = ticker {
            t.abort();
        }
        if let Some(p) = &progress {
            p.clear();
        }
        (run.domains.clone(), events, ended, fed, policies)
    });
    no_host(&plan, &fed)?;
    let mut domains = Arc::try_unwrap(domains).unwrap_or_else(|shared| (*shared).clone());
    for (d, p) in domains.iter_mut().zip(policies) {
        d.policy = p.map(Box::new);
    }
    let mut hosts = Vec::new();
    let mut lost = false;
    for e in events {
        match e {
            fleet::Event::Host {
                order,
                report,
                findings,
                local,
                ..
            } => hosts.push((order, *report, findings, local)),
            fleet::Event::Domain { .. } => {}
            fleet::Event::Lost { host, why } => {
                eprintln!("mailport: error: {host}: {why}");
                lost = true;
            }
        }
    }
    hosts.sort_by_key(|(order, ..)| *order);
    let mut findings = diagnose::mail_domains(&domains);
    let mut targets = Vec::with_capacity(hosts.len());
    // This machine's facts, gathered once for the run, shown when a host's
    // failed SMTP probe is explained by them (`smtp_blocked_for_user`).
    let mut local = None;
    for (_, report, f, facts) in hosts {
        findings.extend(f);
        targets.push(report);
        local = local.or(facts);
    }
    for d in &mut domains {
        d.policy.iter_mut().for_each(|p| p.match_dane(&targets));
        findings.extend(diagnose::policy_findings(d, &targets));
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
    report.local = local.map(Arc::unwrap_or_clone);
    let status = if ended.interrupted {
        exit::INTERRUPTED
    } else if lost {
        exit::ERROR
    } else {
        code
    };
    if output.format == CheckFormat::Nagios {
        let state = exit::nagios(&report.findings, status);
        let mut out = std::io::stdout().lock();
        render::nagios::render(&report, state, &mut out)?;
        out.flush()?;
        return Ok(state.code());
    }
    show(&report, output)?;
    Ok(status)
}

/// Write the report as the user asked.
fn show(report: &Report, output: &Output) -> Result<()> {
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if output.format == CheckFormat::Text {
        let style = render::term::style(output.color, output.verbose, output.quiet);
        render::text::render(report, &mut out, style)?;
    } else {
        render::json::render(report, &mut out)?;
    }
    out.flush()?;
    Ok(())
}

/// A run that prints host by host: each host is written when it is done, then dropped.
fn stream(
    runtime: &tokio::runtime::Runtime,
    plan: Arc<plan::Plan>,
    trust: Arc<tls::Trust>,
    output: &Output,
    stop: watch::Receiver<bool>,
    (started, clock): Started,
) -> Result<u8> {
    let stdout = std::io::stdout();
    let style = render::term::style(output.color, output.verbose, output.quiet);
    let progress = progress_wanted(&plan, output).then(|| {
        Arc::new(fleet::Progress::new(
            fleet::progress::total(&plan),
            plan.names.mx,
        ))
    });
    let mut sink = sink::Sink {
        progress: progress.clone(),
        out: stdout.lock(),
        jsonl: output.format == CheckFormat::Jsonl,
        style,
        hinted: Vec::new(),
        written: 0,
        hosts: 0,
        domains: 0,
        lost: 0,
        failed: false,
        local_shown: false,
        summary: report::Summary::new(exit::OK, plan.fail_on),
    };
    let (ended, fed) = runtime.block_on(async {
        let (units_tx, units_rx) = mpsc::channel(fleet::Run::units_in_flight(&plan));
        let (controls, fed) = fleet::feed(plan.clone(), units_tx);
        let bounds = Arc::new(bounds(&plan, progress.is_some()));
        let ticker = progress
            .clone()
            .map(|p| tokio::spawn(fleet::progress::show(p, bounds.clone())));
        let run = Arc::new(fleet::Run {
            progress: progress.clone(),
            plan: plan.clone(),
            dns: dns::Dns::new(&plan.names.dns),
            trust,
            bounds,
            local: Arc::new(net::local_addresses()),
            deadline: None,
            domains: Arc::new(Vec::new()),
            local_facts: Default::default(),
            traces: trace::Traces::new(),
        });
        let (events_tx, mut events_rx) = mpsc::channel(16);
        let engine = tokio::spawn(fleet::run(run, controls, units_rx, events_tx, stop));
        while let Some(e) = events_rx.recv().await {
            sink.event(e)?;
        }
        let ended = engine.await.unwrap_or_default();
        if let Some(t) = ticker {
            t.abort();
        }
        // Read when the run is over; the feeder may still wait on stdin after Ctrl-C.
        let fed = fed.lock().map(|f| *f).unwrap_or_default();
        anyhow::Ok((ended, fed))
    })?;
    no_host(&plan, &fed)?;
    sink.finish(&plan, ended, fed.input, started, clock)
}

/// Progress on stderr: a check, with stderr on a terminal, not --quiet.
fn progress_wanted(plan: &plan::Plan, output: &Output) -> bool {
    plan.command == plan::Command::Check && !output.quiet && std::io::stderr().is_terminal()
}

/// The run's bounds, keeping the probes under way when progress is shown.
fn bounds(plan: &plan::Plan, watched: bool) -> runner::Bounds {
    if watched {
        runner::Bounds::watched(plan.limits)
    } else {
        runner::Bounds::new(plan.limits)
    }
}

/// A --hosts-file that gave no host, with no HOST argument: a usage error.
fn no_host(plan: &plan::Plan, fed: &fleet::Fed) -> Result<()> {
    let given = fed.hosts + fed.input.duplicates + fed.input.other_shards;
    match &plan.hosts_file {
        Some(file) if given == 0 && plan.command == plan::Command::Check => bail!(
            "--hosts-file {} lists no host (one per line; # starts a comment)",
            file.shown()
        ),
        _ => Ok(()),
    }
}

/// The pipeline's shape, checked: each module lives on a floor and imports
/// only modules on lower floors (`crate::x` in its production code). A new
/// module must be given a floor here, which is the moment to decide where
/// it belongs.
#[cfg(test)]
mod layers {
    /// Lowest first. The report model sits low because every stage fills it.
    const FLOORS: &[&[&str]] = &[
        &["codes", "escape", "cache"],
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
        &["runner", "policy"],
        &["trace"],
        &["diagnose"],
        &["render"],
        &["exit"],
        &["fleet", "explain", "generate"],
        &["sink"],
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
