//! Interop suite: the real `mailport` binary against real Postfix, Dovecot
//! and nginx listening on 127.0.0.25, configured and started by
//! `scripts/interop-up` (run as root; `scripts/test` starts them, runs every
//! test and stops them again).
//!
//! The servers present a certificate for `mail.interop.test` issued by a test
//! CA through an intermediate; the CA is `target/interop/ca.pem`
//! (`MAILPORT_INTEROP_DIR` overrides the directory). mailport is run as
//! `mailport check mail.interop.test --resolve mail.interop.test:127.0.0.25
//! --ca-file target/interop/ca.pem --json --service ...`.
//!
//! When the servers are not up, every test fails and says to run
//! `scripts/interop-up`: this suite never skips and never passes without them.
//!
//! Tests that stop a server take the write side of [`SERVERS`]; every other
//! test holds its read side, so nothing probes a server while one is down.

/// The part of tests/support this binary shares with tests/cli.rs: the one
/// command builder and the test-side report types.
#[allow(
    dead_code,
    reason = "the builder's and the report's other items serve tests/cli.rs, which uses them all"
)]
mod support {
    pub mod cmd;
    pub mod report;
    mod rss;
}

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use support::cmd::{Mailport, Run};
use support::report::{Probe, Report};

/// The loopback address every interop server is bound to.
const ADDR: &str = "127.0.0.25";
/// The name the servers' certificate is issued for.
const NAME: &str = "mail.interop.test";

static SERVERS: RwLock<()> = RwLock::new(());

fn interop_dir() -> PathBuf {
    match std::env::var_os("MAILPORT_INTEROP_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop"),
    }
}

fn not_up(why: &str) -> ! {
    panic!(
        "\n\nthe interop servers are not running: {why}.\n\
         Start them with `sudo scripts/interop-up` (root, Debian 12), or run the\n\
         whole suite with `scripts/test`, which starts and stops them.\n\
         This suite never skips: without the real servers it fails.\n"
    )
}

/// Fail with a clear message unless something answers on 127.0.0.25:`port`.
fn require_port(port: u16) {
    let addr: SocketAddr = format!("{ADDR}:{port}").parse().unwrap();
    if let Err(e) = TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
        not_up(&format!("{addr} does not answer ({e})"));
    }
}

/// The interop servers, checked to be up; holds the read (or write) side
/// of [`SERVERS`] until dropped.
struct Servers {
    ca: PathBuf,
    _read: Option<RwLockReadGuard<'static, ()>>,
    _write: Option<RwLockWriteGuard<'static, ()>>,
}

fn check_up(ports: &[u16]) -> PathBuf {
    let ca = interop_dir().join("ca.pem");
    if !ca.is_file() {
        not_up(&format!(
            "{} does not exist (scripts/interop-up writes it)",
            ca.display()
        ));
    }
    for &port in ports {
        require_port(port);
    }
    ca
}

/// The servers behind `ports`, for a test that only probes them.
fn servers(ports: &[u16]) -> Servers {
    let lock = SERVERS.read().unwrap_or_else(|e| e.into_inner());
    Servers {
        ca: check_up(ports),
        _read: Some(lock),
        _write: None,
    }
}

/// The servers behind `ports`, for a test that stops and starts one of them.
fn servers_exclusive(ports: &[u16]) -> Servers {
    let lock = SERVERS.write().unwrap_or_else(|e| e.into_inner());
    Servers {
        ca: check_up(ports),
        _read: None,
        _write: Some(lock),
    }
}

impl Servers {
    /// `mailport check mail.interop.test --resolve ... --ca-file CA`.
    fn mailport(&self) -> Mailport {
        Mailport::check(NAME).resolve(NAME, ADDR).ca(Some(&self.ca))
    }

    /// `mailport check mail.interop.test --resolve ... --ca-file CA --json --service SERVICES EXTRA...`
    fn check(&self, services: &str, extra: &[&str]) -> Run {
        self.mailport()
            .json()
            .args(["--service", services])
            .args(extra)
            .run()
    }
}

/// Run `scripts/<script> <service>` (interop-up / interop-down); panics with its output on failure.
fn script(script: &str, service: &str) -> Result<(), String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(script);
    let out = Command::new(&path)
        .arg(service)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if out.status.success() {
        Ok(())
    } else {
        Err(format!(
            "`scripts/{script} {service}` failed ({}); it needs root.\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Stops a server now and starts it again when dropped, even if the test fails.
struct Stopped {
    service: &'static str,
    restarted: bool,
}

impl Stopped {
    fn new(service: &'static str) -> Stopped {
        if let Err(e) = script("interop-down", service) {
            panic!("{e}");
        }
        Stopped {
            service,
            restarted: false,
        }
    }

    fn restart(mut self) {
        self.restarted = true;
        if let Err(e) = script("interop-up", self.service) {
            panic!("{e}");
        }
    }
}

impl Drop for Stopped {
    fn drop(&mut self) {
        if !self.restarted {
            if let Err(e) = script("interop-up", self.service) {
                eprintln!("could not start {} again: {e}", self.service);
            }
        }
    }
}

// ------------------------------------------------------------- helpers --

/// Whether any capability line holds `word` as a whole token
/// (`250-STARTTLS`, `* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED`, `STLS` …).
fn has_word(lines: &[String], word: &str) -> bool {
    lines.iter().any(|l| {
        l.split(|c: char| c.is_whitespace() || c == '-' || c == '[' || c == ']')
            .any(|t| t.eq_ignore_ascii_case(word))
    })
}

/// What every TLS session with the interop servers must show: TLS 1.3, the
/// chain leaf + intermediate for mail.interop.test, verified against the test CA.
fn assert_tls_valid(p: &Probe) {
    let tls = p.tls();
    assert_eq!(tls.version, "TLSv1.3", "{p:#}");
    assert_eq!(tls.verdict, "valid", "{p:#}");
    assert_eq!(tls.verified_name, NAME, "{p:#}");
    let chain = &tls.chain;
    assert_eq!(chain.len(), 2, "leaf and intermediate: {p:#}");
    assert!(chain[0].subject.contains(NAME), "{}", chain[0].subject);
    assert!(
        chain[0].sans.iter().any(|s| s.contains(NAME)),
        "{:?}",
        chain[0].sans
    );
    assert!(!chain[0].is_ca);
    assert!(chain[0].days_left > 21, "{p:#}");
    assert!(
        chain[1]
            .subject
            .contains("mailport interop test intermediate CA"),
        "{}",
        chain[1].subject
    );
    assert!(chain[1].is_ca);
}

fn assert_ok(run: &Run, p: &Probe) {
    assert_eq!(p.outcome, "ok", "{p:#}\nstderr:\n{}", run.stderr);
    assert_eq!(p.address.as_deref(), Some(ADDR), "{p:#}");
    assert!(p.detail.is_none(), "{p:#}");
    assert!(p.phases.iter().all(|ph| ph.ok), "{p:#}");
}

fn assert_exit_0(run: &Run, report: &Report) {
    assert_eq!(
        run.code, 0,
        "findings: {:#?}\nstderr:\n{}",
        report.findings, run.stderr
    );
    assert!(report.fail_codes().is_empty(), "{:?}", report.fail_codes());
    assert_eq!(report.summary.exit_code, 0);
}

// ------------------------------------------------------------ Postfix --

#[test]
fn postfix_25_offers_starttls_and_it_works() {
    let s = servers(&[25]);
    let run = s.check("smtp", &[]);
    let report = run.report();
    let p = report.probe("smtp");
    assert_ok(&run, p);
    assert_eq!(p.port, 25);
    assert_eq!(p.tls_mode, "opportunistic");
    assert!(
        p.greeting
            .as_deref()
            .unwrap()
            .starts_with("220 mail.interop.test ESMTP Postfix"),
        "{:?}",
        p.greeting
    );
    assert_eq!(p.greeting_name.as_deref(), Some(NAME));
    assert_eq!(p.software.as_deref(), Some("Postfix"));
    assert_eq!(p.starttls_offered, Some(true));
    assert!(!p.starttls_stripped);
    assert_eq!(
        p.phase_names(),
        [
            "connect",
            "greeting",
            "capabilities",
            "starttls",
            "tls_handshake",
            "capabilities_tls",
            "quit"
        ]
    );
    let before = &p.capabilities_plain;
    let after = &p.capabilities_tls;
    assert!(has_word(before, "STARTTLS"), "{before:?}");
    assert!(has_word(after, "PIPELINING"), "{after:?}");
    assert!(!has_word(after, "STARTTLS"), "{after:?}");
    // No SASL on the relay port.
    assert!(p.auth_plain.is_empty(), "{p:#}");
    assert!(p.auth_tls.is_empty(), "{p:#}");
    assert_tls_valid(p);
    assert_exit_0(&run, &report);
}

#[test]
fn postfix_587_requires_starttls_and_offers_auth_only_after_it() {
    let s = servers(&[587]);
    let run = s.check("submission", &[]);
    let report = run.report();
    let p = report.probe("submission");
    assert_ok(&run, p);
    assert_eq!(p.port, 587);
    assert_eq!(p.tls_mode, "required");
    assert_eq!(p.software.as_deref(), Some("Postfix"));
    assert_eq!(p.greeting_name.as_deref(), Some(NAME));
    assert_eq!(p.starttls_offered, Some(true));
    assert!(p.phase_names().contains(&"starttls"), "{p:#}");
    let before = &p.capabilities_plain;
    let after = &p.capabilities_tls;
    assert!(has_word(before, "STARTTLS"), "{before:?}");
    assert!(!has_word(before, "AUTH"), "AUTH before TLS: {before:?}");
    assert!(has_word(after, "AUTH"), "no AUTH after TLS: {after:?}");
    assert!(p.auth_plain.is_empty(), "{p:#}");
    let auth = &p.auth_tls;
    assert!(auth.contains(&"PLAIN".to_string()), "{auth:?}");
    assert!(auth.contains(&"LOGIN".to_string()), "{auth:?}");
    assert_tls_valid(p);
    let codes = run.finding_codes();
    assert!(
        !codes.iter().any(|c| c.starts_with("auth_before_tls")),
        "{codes:?}"
    );
    assert_exit_0(&run, &report);
}

#[test]
fn postfix_465_speaks_implicit_tls() {
    let s = servers(&[465]);
    let run = s.check("submissions", &[]);
    let report = run.report();
    let p = report.probe("submissions");
    assert_ok(&run, p);
    assert_eq!(p.port, 465);
    assert_eq!(p.tls_mode, "implicit");
    assert_eq!(p.software.as_deref(), Some("Postfix"));
    assert_eq!(p.greeting_name.as_deref(), Some(NAME));
    assert_eq!(
        p.phase_names(),
        [
            "connect",
            "tls_handshake",
            "greeting",
            "capabilities",
            "quit"
        ]
    );
    assert!(p.capabilities_plain.is_empty(), "{p:#}");
    let caps = &p.capabilities_tls;
    assert!(has_word(caps, "AUTH"), "{caps:?}");
    let auth = &p.auth_tls;
    assert!(auth.contains(&"PLAIN".to_string()), "{auth:?}");
    assert_tls_valid(p);
    assert_exit_0(&run, &report);
}

/// `mailport check HOST` with no --service: the default ports (today 25, 587
/// and 465), every one ok, exit 0; and the text report says the same.
#[test]
fn default_check_of_the_interop_host_is_all_ok_and_exits_0() {
    let s = servers(&[25, 587, 465]);
    let run = s.mailport().json().run();
    let report = run.report();
    let probes = report.probes();
    let ports: Vec<u16> = probes.iter().map(|p| p.port).collect();
    for port in [25, 587, 465] {
        assert!(ports.contains(&port), "{ports:?}");
    }
    for p in probes {
        assert_eq!(p.outcome, "ok", "{p:#}");
    }
    assert_eq!(report.summary.not_ok, 0, "{:#?}", report.summary);
    assert_exit_0(&run, &report);

    let text = s.mailport().run();
    assert_eq!(text.code, 0, "{}\n{}", text.stdout, text.stderr);
    for line in ["smtp", "submission", "submissions"] {
        assert!(
            text.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{line} ")) && l.contains(" ok ")),
            "no ok line for {line}:\n{}",
            text.stdout
        );
    }
}

#[test]
fn postfix_with_a_wrong_tls_name_is_name_mismatch_and_exits_1() {
    let s = servers(&[25, 587, 465]);
    let wrong = "wrong.interop.test";
    let run = s.check("smtp,submission,submissions", &["--tls-name", wrong]);
    let report = run.report();
    for service in ["smtp", "submission", "submissions"] {
        let p = report.probe(service);
        assert_eq!(p.tls().verdict, "name_mismatch", "{p:#}");
        assert_eq!(p.tls().verified_name, wrong, "{p:#}");
        // The certificate is still recorded in full.
        assert!(
            p.tls().chain[0].sans.iter().any(|s| s.contains(NAME)),
            "{p:#}"
        );
    }
    let codes = report.fail_codes();
    assert!(codes.contains(&"cert_name_mismatch"), "{codes:?}");
    assert_eq!(run.code, 1, "{:#?}", report.summary);
    assert_eq!(report.summary.exit_code, 1);
}

#[test]
fn postfix_stopped_is_refused_and_exits_1() {
    let s = servers_exclusive(&[25, 587, 465]);
    let stopped = Stopped::new("postfix");
    let run = s.check("smtp,submission,submissions", &[]);
    let report = run.report();
    for service in ["smtp", "submission", "submissions"] {
        let p = report.probe(service);
        assert_eq!(p.outcome, "refused", "{p:#}");
        assert_eq!(p.failed_phase.as_deref(), Some("connect"), "{p:#}");
        assert_eq!(p.connect.as_ref().unwrap().result, "ECONNREFUSED", "{p:#}");
    }
    assert!(
        report.fail_codes().contains(&"no_service_listening"),
        "{:?}",
        report.fail_codes()
    );
    assert_eq!(run.code, 1);
    stopped.restart();
    // And back: the same check is ok again.
    let run = s.check("smtp,submission,submissions", &[]);
    let report = run.report();
    for service in ["smtp", "submission", "submissions"] {
        assert_eq!(report.probe(service).outcome, "ok");
    }
    assert_eq!(run.code, 0);
}

// ------------------------------------------ Dovecot and nginx (IMAP, POP3, HTTP) --
//
// These need mailport's IMAP, POP3 and HTTP probes; until those exist,
// `mailport check --service imap` exits 2 ("not supported yet") and these fail.

#[test]
fn dovecot_143_offers_starttls_with_login_disabled_before_it() {
    let s = servers(&[143]);
    let run = s.check("imap", &[]);
    let report = run.report();
    let p = report.probe("imap");
    assert_ok(&run, p);
    assert_eq!(p.port, 143);
    assert_eq!(p.protocol, "imap");
    assert_eq!(p.tls_mode, "required");
    assert!(
        p.greeting.as_deref().unwrap().starts_with("* OK"),
        "{:?}",
        p.greeting
    );
    assert_eq!(p.software.as_deref(), Some("Dovecot"));
    assert_eq!(p.starttls_offered, Some(true));
    assert!(p.phase_names().contains(&"starttls"), "{p:#}");
    let before = &p.capabilities_plain;
    let after = &p.capabilities_tls;
    assert!(has_word(before, "STARTTLS"), "{before:?}");
    assert!(has_word(before, "LOGINDISABLED"), "{before:?}");
    assert!(!has_word(after, "LOGINDISABLED"), "{after:?}");
    assert_eq!(p.login_disabled, Some(true), "{p:#}");
    assert_eq!(p.login_plain, Some(false), "{p:#}");
    assert_eq!(p.login_tls, Some(true), "{p:#}");
    assert!(has_word(after, "AUTH=PLAIN"), "{after:?}");
    assert!(p.auth_plain.is_empty(), "{p:#}");
    assert!(p.auth_tls.contains(&"PLAIN".to_string()), "{p:#}");
    assert_tls_valid(p);
    assert_exit_0(&run, &report);
}

#[test]
fn dovecot_993_speaks_implicit_tls() {
    let s = servers(&[993]);
    let run = s.check("imaps", &[]);
    let report = run.report();
    let p = report.probe("imaps");
    assert_ok(&run, p);
    assert_eq!(p.port, 993);
    assert_eq!(p.tls_mode, "implicit");
    assert_eq!(p.software.as_deref(), Some("Dovecot"));
    assert_eq!(p.phase_names()[..2], ["connect", "tls_handshake"], "{p:#}");
    assert!(p.auth_tls.contains(&"PLAIN".to_string()), "{p:#}");
    assert_tls_valid(p);
    assert_exit_0(&run, &report);
}

#[test]
fn dovecot_110_offers_stls_with_user_disabled_before_it() {
    let s = servers(&[110]);
    let run = s.check("pop3", &[]);
    let report = run.report();
    let p = report.probe("pop3");
    assert_ok(&run, p);
    assert_eq!(p.port, 110);
    assert_eq!(p.protocol, "pop3");
    assert_eq!(p.tls_mode, "required");
    assert!(
        p.greeting.as_deref().unwrap().starts_with("+OK"),
        "{:?}",
        p.greeting
    );
    assert_eq!(p.software.as_deref(), Some("Dovecot"));
    assert_eq!(p.starttls_offered, Some(true));
    assert!(p.phase_names().contains(&"starttls"), "{p:#}");
    let before = &p.capabilities_plain;
    let after = &p.capabilities_tls;
    assert!(has_word(before, "STLS"), "{before:?}");
    // Plaintext USER/PASS only after STLS.
    assert!(!has_word(before, "USER"), "{before:?}");
    assert!(has_word(after, "USER"), "{after:?}");
    assert_eq!(p.login_plain, Some(false), "{p:#}");
    assert_eq!(p.login_tls, Some(true), "{p:#}");
    assert!(p.auth_plain.is_empty(), "{p:#}");
    assert!(p.auth_tls.contains(&"PLAIN".to_string()), "{p:#}");
    assert_tls_valid(p);
    assert_exit_0(&run, &report);
}

#[test]
fn dovecot_995_speaks_implicit_tls() {
    let s = servers(&[995]);
    let run = s.check("pop3s", &[]);
    let report = run.report();
    let p = report.probe("pop3s");
    assert_ok(&run, p);
    assert_eq!(p.port, 995);
    assert_eq!(p.tls_mode, "implicit");
    assert_eq!(p.software.as_deref(), Some("Dovecot"));
    assert_eq!(p.phase_names()[..2], ["connect", "tls_handshake"], "{p:#}");
    assert_tls_valid(p);
    assert_exit_0(&run, &report);
}

#[test]
fn nginx_80_redirects_to_https() {
    let s = servers(&[80]);
    let run = s.check("http", &[]);
    let report = run.report();
    let p = report.probe("http");
    assert_ok(&run, p);
    assert_eq!(p.port, 80);
    assert_eq!(p.protocol, "http");
    assert_eq!(p.tls_mode, "none");
    assert!(p.tls.is_none(), "{p:#}");
    assert!(p.phase_names().contains(&"http_request"), "{p:#}");
    assert_eq!(p.http().status, 301, "{p:#}");
    assert_eq!(
        p.http().location.as_deref(),
        Some("https://mail.interop.test/"),
        "{p:#}"
    );
    assert!(
        p.software.as_deref().unwrap_or("").starts_with("nginx"),
        "{p:#}"
    );
    assert_exit_0(&run, &report);
}

#[test]
fn nginx_443_serves_the_page() {
    let s = servers(&[443]);
    let run = s.check("https", &[]);
    let report = run.report();
    let p = report.probe("https");
    assert_ok(&run, p);
    assert_eq!(p.port, 443);
    assert_eq!(p.tls_mode, "implicit");
    assert_eq!(p.http().status, 200, "{p:#}");
    // The page is served over HTTP/1.1 even though nginx prefers h2.
    assert_eq!(p.http().version, "HTTP/1.1", "{p:#}");
    // nginx sends no HSTS header unless told to: worth knowing, not a failure.
    assert!(
        run.finding_codes().contains(&"hsts_missing".to_string()),
        "{:?}",
        run.finding_codes()
    );
    assert!(
        p.software.as_deref().unwrap_or("").starts_with("nginx"),
        "{p:#}"
    );
    assert_tls_valid(p);
    assert_exit_0(&run, &report);
}

const ALL: &str = "smtp,submission,submissions,imap,imaps,pop3,pop3s,http,https";
const ALL_PORTS: [u16; 9] = [25, 587, 465, 143, 993, 110, 995, 80, 443];

#[test]
fn every_port_of_the_interop_host_is_ok_and_exits_0() {
    let s = servers(&ALL_PORTS);
    let run = s.check(ALL, &[]);
    let report = run.report();
    for service in ALL.split(',') {
        let p = report.probe(service);
        assert_eq!(p.outcome, "ok", "{p:#}");
        if p.tls_mode != "none" {
            assert_tls_valid(p);
        }
    }
    assert_eq!(report.summary.probes, 9);
    assert_exit_0(&run, &report);
}

#[test]
fn every_tls_port_with_a_wrong_tls_name_is_name_mismatch_and_exits_1() {
    let s = servers(&ALL_PORTS);
    let wrong = "wrong.interop.test";
    let run = s.check(ALL, &["--tls-name", wrong]);
    let report = run.report();
    for service in ALL.split(',').filter(|&s| s != "http") {
        let p = report.probe(service);
        assert_eq!(p.tls().verdict, "name_mismatch", "{p:#}");
    }
    assert!(
        report.fail_codes().contains(&"cert_name_mismatch"),
        "{:?}",
        report.fail_codes()
    );
    assert_eq!(run.code, 1);
}

#[test]
fn dovecot_and_nginx_stopped_are_refused_and_exit_1() {
    let s = servers_exclusive(&ALL_PORTS);
    for (server, services) in [
        ("nginx", &["http", "https"][..]),
        ("dovecot", &["imap", "imaps", "pop3", "pop3s"][..]),
    ] {
        let stopped = Stopped::new(server);
        // Not 587/465 while Dovecot is down: their SASL back end is gone.
        let run = s.check(&format!("smtp,{}", services.join(",")), &[]);
        let report = run.report();
        for &service in services {
            let p = report.probe(service);
            assert_eq!(p.outcome, "refused", "{server} stopped: {p:#}");
            assert_eq!(p.connect.as_ref().unwrap().result, "ECONNREFUSED", "{p:#}");
        }
        assert_eq!(report.probe("smtp").outcome, "ok", "{server} stopped");
        assert_eq!(run.code, 1, "{server} stopped");
        stopped.restart();
    }
    let run = s.check(ALL, &[]);
    let report = run.report();
    assert_exit_0(&run, &report);
}
