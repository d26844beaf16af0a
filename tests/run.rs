//! The run itself (issue 15): the same probe and the same DNS question are
//! made once per run and shared; a silent port's second look stays within
//! the timeouts the user gave and the deadline.

use std::time::Duration;

use crate::support::check_fake;
use crate::support::cmd::Mailport;
use crate::support::dialogs;
use crate::support::dns::DnsServer;
use crate::support::report::Probe;
use crate::support::server::{FakeServer, Step};

/// An SMTP server's one dialog, its greeting held a moment so that every
/// host asks for it while it is under way.
fn one_slow_smtp_dialog() -> FakeServer {
    FakeServer::smtp(vec![
        Step::Pause(Duration::from_millis(300)),
        Step::send("220 mx.example.test ESMTP\r\n"),
        Step::Expect("EHLO"),
        Step::send("250 mx.example.test\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ])
}

/// Six mail domains behind one MX host: one connection to it for the run
/// (the fake server takes only one), one question for its address; each
/// domain's line still has the MX host with its probe, five of them marked
/// shared.
#[test]
fn r15_domains_behind_one_mx_cost_one_probe_and_one_question() {
    let dns = DnsServer::start();
    let server = one_slow_smtp_dialog();
    let domains: Vec<String> = (1..=6).map(|i| format!("shared{i}.example.test")).collect();
    let run = Mailport::new()
        .arg("check")
        .args(&domains)
        .arg("--mx")
        .args(["--dns-server", &dns.arg(), "--dns-timeout", "2s"])
        .at(server.port(), "smtp")
        .fast_timeouts()
        .jsonl()
        .run();
    let transcript = server.finish();
    assert_eq!(transcript.len(), 2, "one dialog: {transcript:?}");
    let lines = run.lines();
    assert_eq!(lines.domains().len(), 6, "{}", run.stderr);
    let hosts = lines.hosts();
    assert_eq!(hosts.len(), 6, "{:#?}", lines.records);
    let mut shared = 0;
    for h in &hosts {
        assert_eq!(h.target.host, "mx.example.test");
        assert_eq!(h.target.probes.len(), 1, "{h:?}");
        let p = &h.target.probes[0];
        assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
        assert_eq!(p.greeting.as_deref(), Some("220 mx.example.test ESMTP"));
        shared += usize::from(p.shared);
    }
    assert_eq!(shared, 5, "one probe made, five shared");
    assert_eq!(dns.asked("mx.example.test.", "A"), 1);
    for d in &domains {
        assert_eq!(dns.asked(&format!("{d}."), "MX"), 1, "{d}");
    }
}

/// Hosts checked against one TLS name at one address, all at once: the
/// probe is made once (the others wait for it), in one JSON report too.
#[test]
fn r15_hosts_asking_at_once_wait_for_one_probe() {
    let server = one_slow_smtp_dialog();
    let hosts = ["a.example.test", "b.example.test", "c.example.test"];
    let mut cmd = Mailport::new()
        .arg("check")
        .args(hosts)
        .args(["--tls-name", "mx.example.test"]);
    for h in hosts {
        cmd = cmd.resolve(h, "127.0.0.1");
    }
    let run = cmd.at(server.port(), "smtp").fast_timeouts().json().run();
    server.finish();
    let report = run.report();
    let probes: Vec<&Probe> = report.targets.iter().flat_map(|t| &t.probes).collect();
    assert_eq!(probes.len(), 3, "{}", run.stdout);
    assert!(probes.iter().all(|p| p.outcome == "starttls_unavailable"));
    assert_eq!(probes.iter().filter(|p| p.shared).count(), 2);
}

/// How long a phase of `p` took, as the report recorded it.
fn phase_ms(p: &Probe, name: &str) -> u64 {
    p.phases
        .iter()
        .find(|ph| ph.phase == name)
        .unwrap_or_else(|| panic!("no {name} phase: {p:#}"))
        .ms
}

/// Slack for a loaded machine, over the bounds computed from the options.
const SLACK_MS: u64 = 400;

/// `--greeting-timeout 1s` with the default `--sniff-timeout` (2s) and a
/// long `--reply-timeout`: the second look takes its 2 s, not the 5 s it
/// once took whatever the user asked, and the probe ends within connect +
/// greeting + sniff.
#[test]
fn r15_a_silent_port_costs_the_greeting_timeout_plus_the_sniff_timeout() {
    let server = FakeServer::start(dialogs::silent_thrice());
    let run = check_fake(server.port(), "smtp", None)
        .connect_timeout("1s")
        .greeting_timeout("1s")
        .reply_timeout("10s")
        .run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "greeting_timeout", "{p:#}");
    assert_eq!(
        p.phase_names(),
        ["connect", "greeting", "tls_sniff", "http_sniff"],
        "{p:#}"
    );
    assert!(phase_ms(&p, "greeting") <= 1000 + SLACK_MS, "{p:#}");
    let sniff = phase_ms(&p, "tls_sniff");
    // The port never answers: the second look waits out its whole budget.
    assert!(
        (1900..=2000 + SLACK_MS).contains(&sniff),
        "the second look took {sniff} ms; --sniff-timeout is 2s: {p:#}"
    );
    assert!(
        p.total_ms <= 1000 + 1000 + 2000 + SLACK_MS,
        "{} ms: {p:#}",
        p.total_ms
    );
    assert_eq!(run.code, 1);
}

/// The second look never runs past --deadline, even when --sniff-timeout
/// and --reply-timeout would allow more.
#[test]
fn r15_the_second_look_at_a_silent_port_keeps_the_deadline() {
    let server = FakeServer::start(dialogs::silent_thrice());
    let run = check_fake(server.port(), "smtp", None)
        .connect_timeout("1s")
        .greeting_timeout("1s")
        .reply_timeout("10s")
        .args(["--sniff-timeout", "5s", "--deadline", "1500ms"])
        .run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "greeting_timeout", "{p:#}");
    assert!(phase_ms(&p, "tls_sniff") <= 500 + SLACK_MS, "{p:#}");
    assert!(p.total_ms <= 1500 + SLACK_MS, "{} ms: {p:#}", p.total_ms);
}

/// `--sniff-timeout 0`: no second look, one connection only.
#[test]
fn r15_sniff_timeout_0_takes_no_second_look() {
    let server = FakeServer::start(vec![vec![Step::Hang]]);
    let run = check_fake(server.port(), "smtp", None)
        .greeting_timeout("500ms")
        .args(["--sniff-timeout", "0"])
        .run();
    drop(server);
    let p = run.probe();
    assert_eq!(p.outcome, "greeting_timeout", "{p:#}");
    assert_eq!(p.phase_names(), ["connect", "greeting"], "{p:#}");
    assert!(p.total_ms <= 500 + SLACK_MS, "{} ms: {p:#}", p.total_ms);
}

/// Two hosts, one whose port accepts and never speaks (1.5 s), one that
/// refuses: progress while the first waits.
fn one_slow_one_refused(port_of: &std::net::TcpListener) -> Mailport {
    let port = port_of.local_addr().unwrap().port();
    Mailport::new()
        .args(["check", "127.0.0.7", "127.0.0.8"])
        .at(port, "smtp")
        .fast_timeouts()
        .greeting_timeout("1500ms")
        .args(["--sniff-timeout", "0"])
        .jsonl()
}

/// On a terminal, stderr shows the hosts done of how many, the probes
/// under way and the slowest with its time, redrawn in place at most four
/// times a second, and erased at the end; stdout has only the JSON lines.
#[test]
fn r15_progress_is_drawn_on_a_terminal_and_erased_at_the_end() {
    let silent = std::net::TcpListener::bind("127.0.0.7:0").expect("bind 127.0.0.7:0");
    let port = silent.local_addr().unwrap().port();
    let started = std::time::Instant::now();
    let run = one_slow_one_refused(&silent).run_with_stderr_on_terminal();
    let took = started.elapsed();
    drop(silent);
    let term = &run.stderr;
    let expected = "\rmailport: 1/2 hosts done, 1 probe under way, slowest ";
    assert!(term.contains(expected), "{term:?}");
    assert!(
        term.contains(&format!("s: smtp 127.0.0.7:{port}")),
        "{term:?}"
    );
    let draws = term.matches("\rmailport: ").count();
    let most = (took.as_millis() / 250) as usize + 1;
    assert!(
        (2..=most).contains(&draws),
        "{draws} draws in {took:?}: {term:?}"
    );
    // Erased: the last thing on the terminal is a blank line, cursor at its start.
    let tail = term.rsplit("\rmailport: ").next().unwrap();
    let erased = tail.split('\r').nth(1).unwrap_or_default();
    assert!(
        term.ends_with('\r') && !erased.is_empty() && erased.trim().is_empty(),
        "{term:?}"
    );
    assert!(!run.stdout.contains("hosts done"), "{}", run.stdout);
    let lines = run.lines();
    assert_eq!(lines.hosts().len(), 2);
    assert_eq!(run.code, 1);
}

/// stderr not a terminal (a pipe): no progress at all.
#[test]
fn r15_no_progress_when_stderr_is_not_a_terminal() {
    let silent = std::net::TcpListener::bind("127.0.0.7:0").expect("bind 127.0.0.7:0");
    let run = one_slow_one_refused(&silent).run();
    drop(silent);
    assert!(!run.stderr.contains("hosts done"), "{:?}", run.stderr);
    assert!(!run.stdout.contains("hosts done"), "{}", run.stdout);
    assert_eq!(run.lines().hosts().len(), 2);
}

/// -q: no progress either, even on a terminal.
#[test]
fn r15_quiet_shows_no_progress_on_a_terminal() {
    let silent = std::net::TcpListener::bind("127.0.0.7:0").expect("bind 127.0.0.7:0");
    let run = one_slow_one_refused(&silent)
        .arg("-q")
        .run_with_stderr_on_terminal();
    drop(silent);
    assert!(!run.stderr.contains("hosts done"), "{:?}", run.stderr);
    assert_eq!(run.lines().hosts().len(), 2);
}
