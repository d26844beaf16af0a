//! Interop suite: the real `mailport` binary against real servers,
//! configured and started by `scripts/interop-up` (run as root;
//! `scripts/test` starts them, runs every test and stops them again):
//! Postfix, Dovecot and nginx on 127.0.0.25 (`mail.interop.test`); a second
//! MTA and a second IMAP/POP3 server, each healthy and misconfigured: Exim
//! on 127.0.0.26 (`exim.interop.test`) and 127.0.0.28
//! (`exim-bad.interop.test`), Courier on 127.0.0.27 (`courier.interop.test`)
//! and 127.0.0.29 (`courier-bad.interop.test`). A verdict that holds on one
//! server kind only is not yet true.
//!
//! Each server presents a certificate for its name issued by one test CA
//! through an intermediate (the misconfigured ones also an expired one, or
//! another name's); the CA is `target/interop/ca.pem` (`MAILPORT_INTEROP_DIR`
//! overrides the directory). mailport is run as `mailport check NAME
//! --resolve NAME:ADDR --ca-file target/interop/ca.pem --json --service ...`.
//!
//! When a server is not up, every test of it fails and says how to start it
//! (`scripts/interop-up SERVICE`): this suite never skips and never passes
//! without them.
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
    pub mod schema;
}

use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use support::cmd::{Mailport, Run};
use support::report::{Probe, Report};

/// The loopback address of Postfix, Dovecot and nginx.
const ADDR: &str = "127.0.0.25";
/// The name their certificate is issued for.
const NAME: &str = "mail.interop.test";

/// One interop host: a name (its certificate's), the loopback address it
/// listens on, and the services of `scripts/interop-up` behind it.
struct Host {
    name: &'static str,
    addr: &'static str,
    services: &'static str,
}

/// Postfix, Dovecot and nginx.
const MAIL: Host = Host {
    name: NAME,
    addr: ADDR,
    services: "postfix dovecot nginx",
};
/// Exim, healthy: 25 with STARTTLS, 587 with AUTH only after STARTTLS, 465.
const EXIM: Host = Host {
    name: "exim.interop.test",
    addr: "127.0.0.26",
    services: "exim",
};
/// Courier, healthy: 143 and 110 with STARTTLS / STLS required, 993, 995.
const COURIER: Host = Host {
    name: "courier.interop.test",
    addr: "127.0.0.27",
    services: "courier",
};
/// Exim, misconfigured: 25 offers no STARTTLS, 587 offers AUTH before
/// STARTTLS, 465 presents an expired certificate.
const EXIM_BAD: Host = Host {
    name: "exim-bad.interop.test",
    addr: "127.0.0.28",
    services: "exim-bad",
};
/// Courier, misconfigured: 143 allows LOGIN before STARTTLS, 110's
/// certificate file is missing, 993 presents mail.interop.test's
/// certificate, 995 an expired one.
const COURIER_BAD: Host = Host {
    name: "courier-bad.interop.test",
    addr: "127.0.0.29",
    services: "courier-bad",
};

static SERVERS: RwLock<()> = RwLock::new(());

fn interop_dir() -> PathBuf {
    match std::env::var_os("MAILPORT_INTEROP_DIR") {
        Some(dir) => PathBuf::from(dir),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("target/interop"),
    }
}

fn not_up(host: &Host, why: &str) -> ! {
    panic!(
        "\n\nthe interop servers are not running: {why}.\n\
         Start them with `sudo scripts/interop-up` (root, Debian 12; all of them),\n\
         or just these with `sudo scripts/interop-up {}`, or run the\n\
         whole suite with `scripts/test`, which starts and stops them.\n\
         This suite never skips: without the real servers it fails.\n",
        host.services
    )
}

/// Fail with a clear message unless something answers on the host's `port`.
fn require_port(host: &Host, port: u16) {
    let addr: SocketAddr = format!("{}:{port}", host.addr).parse().unwrap();
    if let Err(e) = TcpStream::connect_timeout(&addr, Duration::from_secs(3)) {
        not_up(
            host,
            &format!("{addr} ({}) does not answer ({e})", host.services),
        );
    }
}

/// The interop servers, checked to be up; holds the read (or write) side
/// of [`SERVERS`] until dropped.
struct Servers {
    ca: PathBuf,
    host: &'static Host,
    _read: Option<RwLockReadGuard<'static, ()>>,
    _write: Option<RwLockWriteGuard<'static, ()>>,
}

fn check_up(host: &Host, ports: &[u16]) -> PathBuf {
    let ca = interop_dir().join("ca.pem");
    if !ca.is_file() {
        not_up(
            host,
            &format!(
                "{} does not exist (scripts/interop-up writes it)",
                ca.display()
            ),
        );
    }
    for &port in ports {
        require_port(host, port);
    }
    ca
}

/// Postfix, Dovecot and nginx behind `ports`, for a test that only probes them.
fn servers(ports: &[u16]) -> Servers {
    servers_at(&MAIL, ports)
}

/// The servers of `host` behind `ports`, for a test that only probes them.
fn servers_at(host: &'static Host, ports: &[u16]) -> Servers {
    let lock = SERVERS.read().unwrap_or_else(|e| e.into_inner());
    Servers {
        ca: check_up(host, ports),
        host,
        _read: Some(lock),
        _write: None,
    }
}

/// The servers behind `ports`, for a test that stops and starts one of them.
fn servers_exclusive(ports: &[u16]) -> Servers {
    let lock = SERVERS.write().unwrap_or_else(|e| e.into_inner());
    Servers {
        ca: check_up(&MAIL, ports),
        host: &MAIL,
        _read: None,
        _write: Some(lock),
    }
}

impl Servers {
    /// `mailport check NAME --resolve NAME:ADDR --ca-file CA`.
    fn mailport(&self) -> Mailport {
        let Host { name, addr, .. } = *self.host;
        Mailport::check(name).resolve(name, addr).ca(Some(&self.ca))
    }

    /// `mailport check NAME --resolve NAME:ADDR --ca-file CA --json --service SERVICES EXTRA...`
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
    assert_tls_valid_for(p, NAME);
}

/// The same for the host `name`.
fn assert_tls_valid_for(p: &Probe, name: &str) {
    let tls = p.tls();
    assert_eq!(tls.version, "TLSv1.3", "{p:#}");
    assert_eq!(tls.verdict, "valid", "{p:#}");
    assert_eq!(tls.verified_name, name, "{p:#}");
    assert_chain_of(p, name);
    assert!(p.tls().chain[0].days_left > 21, "{p:#}");
}

/// The chain is a leaf for `name` (whatever its dates) and our intermediate.
fn assert_chain_of(p: &Probe, name: &str) {
    let chain = &p.tls().chain;
    assert_eq!(chain.len(), 2, "leaf and intermediate: {p:#}");
    assert!(chain[0].subject.contains(name), "{}", chain[0].subject);
    assert!(
        chain[0].sans.iter().any(|s| s == &format!("DNS:{name}")),
        "{:?}",
        chain[0].sans
    );
    assert!(!chain[0].is_ca);
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
    assert_ok_at(run, p, &MAIL);
}

/// The probe of a port of `host` went through every phase.
fn assert_ok_at(run: &Run, p: &Probe, host: &Host) {
    assert_eq!(p.outcome, "ok", "{p:#}\nstderr:\n{}", run.stderr);
    assert_eq!(p.address.as_deref(), Some(host.addr), "{p:#}");
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

/// r16: `-vv` writes Postfix's real STARTTLS dialogue down, in order.
#[test]
fn postfix_587_transcript_with_vv() {
    let s = servers(&[587]);
    let run = s.check("submission", &["-vv"]);
    let report = run.report();
    let p = report.probe("submission");
    assert_ok(&run, p);
    let t = &p.transcript;
    let at = |prefix: &str| {
        t.iter()
            .position(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no {prefix:?} in {t:#?}"))
    };
    let greeting = at("<- 220 mail.interop.test ESMTP Postfix");
    let starttls = at("-> STARTTLS");
    let tls = at("== TLS started with mail.interop.test (TLSv1.3");
    let auth = at("<- 250-AUTH PLAIN LOGIN");
    assert!(
        greeting < starttls && starttls < tls && tls < auth,
        "{t:#?}"
    );
    assert!(t[starttls + 1].starts_with("<- 220 2.0.0"), "{t:#?}");
    assert_eq!(
        t.iter().filter(|l| l.starts_with("-> EHLO ")).count(),
        2,
        "{t:#?}"
    );
    assert!(
        t.iter()
            .all(|l| !l.contains("AUTH PLAIN ") || l.starts_with("<- ")),
        "{t:#?}"
    );
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

// --------------------------------------------------------------- Exim --

/// The finding with `code` for `port`: its severity, and that its hint is
/// the one for `software` (it names the software or its settings).
#[track_caller]
fn assert_finding(report: &Report, code: &str, port: u16, severity: &str, software: &str) {
    let f = report
        .findings
        .iter()
        .find(|f| f.code == code && f.port == Some(port))
        .unwrap_or_else(|| panic!("no {code} finding for port {port}: {:#?}", report.findings));
    assert_eq!(f.severity, severity, "{f:#?}");
    assert!(f.hint.contains(software), "{f:#?}");
}

fn assert_exit_1(run: &Run, report: &Report) {
    assert_eq!(
        run.code, 1,
        "{:#?}\nstderr:\n{}",
        report.findings, run.stderr
    );
    assert_eq!(report.summary.exit_code, 1);
}

#[test]
fn exim_25_offers_starttls_and_no_auth() {
    let s = servers_at(&EXIM, &[25]);
    let run = s.check("smtp", &[]);
    let report = run.report();
    let p = report.probe("smtp");
    assert_ok_at(&run, p, &EXIM);
    assert_eq!(p.port, 25);
    assert_eq!(p.tls_mode, "opportunistic");
    assert!(
        p.greeting
            .as_deref()
            .unwrap()
            .starts_with("220 exim.interop.test ESMTP Exim 4."),
        "{:?}",
        p.greeting
    );
    assert_eq!(p.greeting_name.as_deref(), Some(EXIM.name));
    assert!(p.software.as_deref().unwrap().starts_with("Exim"), "{p:#}");
    assert_eq!(p.starttls_offered, Some(true));
    assert!(!p.starttls_stripped);
    assert_eq!(p.starttls_reply.as_deref(), Some("220 TLS go ahead"));
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
    // No SASL on the relay port, before or after TLS.
    assert!(
        !has_word(before, "AUTH") && !has_word(after, "AUTH"),
        "{p:#}"
    );
    assert!(p.auth_plain.is_empty() && p.auth_tls.is_empty(), "{p:#}");
    assert_tls_valid_for(p, EXIM.name);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_exit_0(&run, &report);
}

#[test]
fn exim_587_offers_auth_only_after_starttls() {
    let s = servers_at(&EXIM, &[587]);
    let run = s.check("submission", &[]);
    let report = run.report();
    let p = report.probe("submission");
    assert_ok_at(&run, p, &EXIM);
    assert_eq!(p.port, 587);
    assert_eq!(p.tls_mode, "required");
    assert!(p.software.as_deref().unwrap().starts_with("Exim"), "{p:#}");
    assert_eq!(p.greeting_name.as_deref(), Some(EXIM.name));
    assert_eq!(p.starttls_offered, Some(true));
    assert!(p.phase_names().contains(&"starttls"), "{p:#}");
    let before = &p.capabilities_plain;
    assert!(has_word(before, "STARTTLS"), "{before:?}");
    assert!(!has_word(before, "AUTH"), "AUTH before TLS: {before:?}");
    assert!(has_word(&p.capabilities_tls, "AUTH"), "{p:#}");
    assert!(p.auth_plain.is_empty(), "{p:#}");
    assert_eq!(p.auth_tls, ["PLAIN", "LOGIN"], "{p:#}");
    assert_tls_valid_for(p, EXIM.name);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_exit_0(&run, &report);
}

#[test]
fn exim_465_speaks_implicit_tls() {
    let s = servers_at(&EXIM, &[465]);
    let run = s.check("submissions", &[]);
    let report = run.report();
    let p = report.probe("submissions");
    assert_ok_at(&run, p, &EXIM);
    assert_eq!(p.port, 465);
    assert_eq!(p.tls_mode, "implicit");
    assert!(p.software.as_deref().unwrap().starts_with("Exim"), "{p:#}");
    assert_eq!(p.greeting_name.as_deref(), Some(EXIM.name));
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
    assert_eq!(p.auth_tls, ["PLAIN", "LOGIN"], "{p:#}");
    assert_tls_valid_for(p, EXIM.name);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_exit_0(&run, &report);
}

/// Exim's 25, 587 and 465 in one run: every one ok, exit 0; the text
/// report says so too.
#[test]
fn exim_smtp_ports_are_ok_in_json_and_text() {
    let s = servers_at(&EXIM, &[25, 587, 465]);
    let run = s.check("smtp,submission,submissions", &[]);
    let report = run.report();
    for service in ["smtp", "submission", "submissions"] {
        let p = report.probe(service);
        assert_ok_at(&run, p, &EXIM);
        assert_tls_valid_for(p, EXIM.name);
    }
    assert_eq!(report.summary.probes, 3);
    assert_eq!(report.summary.not_ok, 0, "{:#?}", report.summary);
    assert_exit_0(&run, &report);

    let text = s
        .mailport()
        .args(["--service", "smtp,submission,submissions"])
        .run();
    assert_eq!(text.code, 0, "{}\n{}", text.stdout, text.stderr);
    for service in ["smtp", "submission", "submissions"] {
        assert!(
            text.stdout
                .lines()
                .any(|l| l.starts_with(&format!("{service} ")) && l.contains(" ok ")),
            "no ok line for {service}:\n{}",
            text.stdout
        );
    }
}

#[test]
fn exim_bad_25_without_starttls_is_a_warning_that_names_exim() {
    let s = servers_at(&EXIM_BAD, &[25]);
    let run = s.check("smtp", &[]);
    let report = run.report();
    let p = report.probe("smtp");
    assert_eq!(p.outcome, "starttls_unavailable", "{p:#}");
    assert!(
        p.detail().contains("does not offer STARTTLS"),
        "{}",
        p.detail()
    );
    assert!(p.software.as_deref().unwrap().starts_with("Exim"), "{p:#}");
    assert_eq!(p.starttls_offered, Some(false), "{p:#}");
    assert!(!has_word(&p.capabilities_plain, "STARTTLS"), "{p:#}");
    assert!(has_word(&p.capabilities_plain, "PIPELINING"), "{p:#}");
    assert!(p.tls.is_none(), "{p:#}");
    assert!(!p.phase_names().contains(&"tls_handshake"), "{p:#}");
    // Mail still arrives, unencrypted: a warning, not a failure.
    assert_finding(&report, "starttls_not_offered_relay", 25, "warn", "Exim");
    assert!(report.fail_codes().is_empty(), "{:?}", report.fail_codes());
    assert_eq!(run.code, 0, "{:#?}", report.findings);
    // ... that --fail-on warn turns into exit 1.
    let strict = s.check("smtp", &["--fail-on", "warn"]);
    assert_eq!(strict.code, 1, "{:#?}", strict.report().findings);
}

#[test]
fn exim_bad_587_offers_auth_before_starttls_and_fails() {
    let s = servers_at(&EXIM_BAD, &[587]);
    let run = s.check("submission", &[]);
    let report = run.report();
    let p = report.probe("submission");
    // The wire dialog works; the finding is the fault.
    assert_ok_at(&run, p, &EXIM_BAD);
    assert!(p.software.as_deref().unwrap().starts_with("Exim"), "{p:#}");
    assert_eq!(p.starttls_offered, Some(true));
    assert!(has_word(&p.capabilities_plain, "AUTH"), "{p:#}");
    assert_eq!(p.auth_plain, ["PLAIN", "LOGIN"], "{p:#}");
    assert_eq!(p.auth_tls, ["PLAIN", "LOGIN"], "{p:#}");
    assert_tls_valid_for(p, EXIM_BAD.name);
    assert_finding(&report, "auth_before_tls", 587, "fail", "Exim");
    let f = report.finding("auth_before_tls");
    assert!(f.message.contains("PLAIN"), "{f:#?}");
    assert!(f.hint.contains("auth_advertise_hosts"), "{f:#?}");
    assert_exit_1(&run, &report);
}

#[test]
fn exim_bad_465_with_an_expired_certificate_fails() {
    let s = servers_at(&EXIM_BAD, &[465]);
    let run = s.check("submissions", &[]);
    let report = run.report();
    let p = report.probe("submissions");
    // The wire outcome: the SMTP dialog went through; the certificate did not.
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert!(p.software.as_deref().unwrap().starts_with("Exim"), "{p:#}");
    let tls = p.tls();
    assert_eq!(tls.verdict, "expired", "{p:#}");
    assert_eq!(tls.verified_name, EXIM_BAD.name, "{p:#}");
    assert_chain_of(p, EXIM_BAD.name);
    assert!(tls.chain[0].days_left < 0, "{p:#}");
    assert_finding(&report, "cert_expired", 465, "fail", "Exim");
    assert!(
        report.finding("cert_expired").message.contains("expired"),
        "{:#?}",
        report.findings
    );
    assert_exit_1(&run, &report);
}

/// Every fault of the misconfigured Exim in one run, each on its port; the
/// healthy ports of another MTA kind are not blamed for them.
#[test]
fn exim_bad_all_ports_name_each_fault_and_exit_1() {
    let s = servers_at(&EXIM_BAD, &[25, 587, 465]);
    let run = s.check("smtp,submission,submissions", &[]);
    let report = run.report();
    let mut codes: Vec<(&str, Option<u16>, &str)> = report
        .findings
        .iter()
        .map(|f| (f.code.as_str(), f.port, f.severity.as_str()))
        .collect();
    codes.sort();
    assert_eq!(
        codes,
        [
            ("auth_before_tls", Some(587), "fail"),
            ("cert_expired", Some(465), "fail"),
            ("starttls_not_offered_relay", Some(25), "warn"),
        ],
        "{:#?}",
        report.findings
    );
    assert_eq!(report.summary.fail, 2, "{:#?}", report.summary);
    assert_eq!(report.summary.warn, 1, "{:#?}", report.summary);
    assert_exit_1(&run, &report);
}

// ------------------------------------------------------------ Courier --

#[test]
fn courier_143_offers_starttls_with_login_disabled_before_it() {
    let s = servers_at(&COURIER, &[143]);
    let run = s.check("imap", &[]);
    let report = run.report();
    let p = report.probe("imap");
    assert_ok_at(&run, p, &COURIER);
    assert_eq!(p.port, 143);
    assert_eq!(p.protocol, "imap");
    assert_eq!(p.tls_mode, "required");
    let greeting = p.greeting.as_deref().unwrap();
    assert!(
        greeting.starts_with("* OK [CAPABILITY ") && greeting.contains("Courier-IMAP ready"),
        "{greeting:?}"
    );
    assert!(
        p.software.as_deref().unwrap().starts_with("Courier"),
        "{p:#}"
    );
    assert_eq!(p.starttls_offered, Some(true));
    assert_eq!(
        p.starttls_reply
            .as_deref()
            .map(|r| r.ends_with("OK Begin SSL/TLS negotiation now.")),
        Some(true),
        "{p:#}"
    );
    assert!(p.phase_names().contains(&"starttls"), "{p:#}");
    // Courier lists its capabilities in the greeting.
    let before = &p.capabilities_plain;
    let after = &p.capabilities_tls;
    assert!(has_word(before, "STARTTLS"), "{before:?}");
    assert!(has_word(before, "LOGINDISABLED"), "{before:?}");
    assert!(!has_word(before, "AUTH=PLAIN"), "{before:?}");
    assert!(!has_word(after, "LOGINDISABLED"), "{after:?}");
    assert!(!has_word(after, "STARTTLS"), "{after:?}");
    assert!(has_word(after, "AUTH=PLAIN"), "{after:?}");
    assert_eq!(p.login_disabled, Some(true), "{p:#}");
    assert_eq!(p.login_plain, Some(false), "{p:#}");
    assert_eq!(p.login_tls, Some(true), "{p:#}");
    assert!(p.auth_plain.is_empty(), "{p:#}");
    assert_eq!(p.auth_tls, ["PLAIN"], "{p:#}");
    assert_tls_valid_for(p, COURIER.name);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_exit_0(&run, &report);
}

#[test]
fn courier_993_speaks_implicit_tls() {
    let s = servers_at(&COURIER, &[993]);
    let run = s.check("imaps", &[]);
    let report = run.report();
    let p = report.probe("imaps");
    assert_ok_at(&run, p, &COURIER);
    assert_eq!(p.port, 993);
    assert_eq!(p.tls_mode, "implicit");
    assert!(
        p.software.as_deref().unwrap().starts_with("Courier"),
        "{p:#}"
    );
    assert_eq!(
        p.phase_names()[..3],
        ["connect", "tls_handshake", "greeting"],
        "{p:#}"
    );
    // After TLS: LOGIN allowed, no STARTTLS, AUTH=PLAIN.
    assert!(!has_word(&p.capabilities_tls, "LOGINDISABLED"), "{p:#}");
    assert!(!has_word(&p.capabilities_tls, "STARTTLS"), "{p:#}");
    assert_eq!(p.login_tls, Some(true), "{p:#}");
    assert_eq!(p.auth_tls, ["PLAIN"], "{p:#}");
    assert_tls_valid_for(p, COURIER.name);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_exit_0(&run, &report);
}

/// The facts of Courier's POP3 with POP3_TLS_REQUIRED=1: STLS offered and
/// working. (Courier still lists USER before STLS and refuses it with
/// "-ERR TLS required to log in."; what mailport makes of that is a verdict
/// of its own, not asserted here.)
#[test]
fn courier_110_offers_stls_and_it_works() {
    let s = servers_at(&COURIER, &[110]);
    let run = s.check("pop3", &[]);
    let report = run.report();
    let p = report.probe("pop3");
    assert_ok_at(&run, p, &COURIER);
    assert_eq!(p.port, 110);
    assert_eq!(p.protocol, "pop3");
    assert_eq!(p.tls_mode, "required");
    assert_eq!(p.greeting.as_deref(), Some("+OK Hello there."), "{p:#}");
    assert!(
        p.software.as_deref().unwrap().starts_with("Courier"),
        "{p:#}"
    );
    assert_eq!(p.starttls_offered, Some(true));
    assert_eq!(
        p.starttls_reply.as_deref(),
        Some("+OK Begin SSL/TLS negotiation now."),
        "{p:#}"
    );
    let before = &p.capabilities_plain;
    let after = &p.capabilities_tls;
    assert!(has_word(before, "STLS"), "{before:?}");
    assert!(has_word(before, "USER"), "{before:?}");
    assert!(!has_word(after, "STLS"), "{after:?}");
    assert!(has_word(after, "USER"), "{after:?}");
    assert_eq!(p.login_tls, Some(true), "{p:#}");
    // Debian's POP3AUTH and POP3AUTH_TLS are empty: no SASL.
    assert!(p.auth_plain.is_empty() && p.auth_tls.is_empty(), "{p:#}");
    assert_tls_valid_for(p, COURIER.name);
    assert!(
        report.findings.iter().all(|f| f.code == "login_before_tls"),
        "{:#?}",
        report.findings
    );
}

#[test]
fn courier_995_speaks_implicit_tls() {
    let s = servers_at(&COURIER, &[995]);
    let run = s.check("pop3s", &[]);
    let report = run.report();
    let p = report.probe("pop3s");
    assert_ok_at(&run, p, &COURIER);
    assert_eq!(p.port, 995);
    assert_eq!(p.tls_mode, "implicit");
    assert!(
        p.software.as_deref().unwrap().starts_with("Courier"),
        "{p:#}"
    );
    assert_eq!(
        p.phase_names()[..3],
        ["connect", "tls_handshake", "greeting"],
        "{p:#}"
    );
    assert!(has_word(&p.capabilities_tls, "USER"), "{p:#}");
    assert!(!has_word(&p.capabilities_tls, "STLS"), "{p:#}");
    assert_eq!(p.login_tls, Some(true), "{p:#}");
    assert_tls_valid_for(p, COURIER.name);
    assert!(report.findings.is_empty(), "{:#?}", report.findings);
    assert_exit_0(&run, &report);
}

#[test]
fn courier_with_a_wrong_tls_name_is_name_mismatch_on_every_port() {
    let s = servers_at(&COURIER, &[143, 993, 110, 995]);
    let wrong = "wrong.interop.test";
    let run = s.check("imap,imaps,pop3,pop3s", &["--tls-name", wrong]);
    let report = run.report();
    for service in ["imap", "imaps", "pop3", "pop3s"] {
        let p = report.probe(service);
        assert_eq!(p.tls().verdict, "name_mismatch", "{p:#}");
        assert_eq!(p.tls().verified_name, wrong, "{p:#}");
        assert_chain_of(p, COURIER.name);
    }
    assert!(
        report.fail_codes().contains(&"cert_name_mismatch"),
        "{:?}",
        report.fail_codes()
    );
    assert_exit_1(&run, &report);
}

#[test]
fn courier_bad_143_allows_login_before_starttls_and_fails() {
    let s = servers_at(&COURIER_BAD, &[143]);
    let run = s.check("imap", &[]);
    let report = run.report();
    let p = report.probe("imap");
    assert_ok_at(&run, p, &COURIER_BAD);
    assert!(
        p.software.as_deref().unwrap().starts_with("Courier"),
        "{p:#}"
    );
    assert_eq!(p.starttls_offered, Some(true));
    // IMAP_TLS_REQUIRED=0: no LOGINDISABLED before STARTTLS.
    assert!(!has_word(&p.capabilities_plain, "LOGINDISABLED"), "{p:#}");
    assert_eq!(p.login_disabled, Some(false), "{p:#}");
    assert_eq!(p.login_plain, Some(true), "{p:#}");
    assert_tls_valid_for(p, COURIER_BAD.name);
    assert_finding(&report, "login_before_tls", 143, "fail", "Courier");
    let f = report.finding("login_before_tls");
    assert!(f.message.contains("LOGIN"), "{f:#?}");
    assert!(f.hint.contains("IMAP_TLS_REQUIRED=1"), "{f:#?}");
    assert_exit_1(&run, &report);
}

#[test]
fn courier_bad_993_with_another_names_certificate_is_name_mismatch() {
    let s = servers_at(&COURIER_BAD, &[993]);
    let run = s.check("imaps", &[]);
    let report = run.report();
    let p = report.probe("imaps");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert!(
        p.software.as_deref().unwrap().starts_with("Courier"),
        "{p:#}"
    );
    let tls = p.tls();
    assert_eq!(tls.verdict, "name_mismatch", "{p:#}");
    assert_eq!(tls.verified_name, COURIER_BAD.name, "{p:#}");
    // What it presents: mail.interop.test's valid certificate.
    assert_chain_of(p, NAME);
    let f = report.finding("cert_name_mismatch");
    assert_eq!(f.severity, "fail", "{f:#?}");
    assert_eq!(f.port, Some(993), "{f:#?}");
    assert!(f.message.contains(NAME), "{f:#?}");
    assert_exit_1(&run, &report);
}

/// 110's TLS_CERTFILE does not exist: Courier answers STLS with "+OK Begin
/// SSL/TLS negotiation now.", then couriertls fails and the server says why
/// in plain text.
#[test]
fn courier_bad_110_with_a_missing_certificate_file_fails_the_tls_handshake() {
    let s = servers_at(&COURIER_BAD, &[110]);
    let run = s.check("pop3", &[]);
    let report = run.report();
    let p = report.probe("pop3");
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert_eq!(p.failed_phase.as_deref(), Some("tls_handshake"), "{p:#}");
    assert!(
        p.software.as_deref().unwrap().starts_with("Courier"),
        "{p:#}"
    );
    assert_eq!(p.starttls_offered, Some(true));
    assert_eq!(
        p.starttls_reply.as_deref(),
        Some("+OK Begin SSL/TLS negotiation now."),
        "{p:#}"
    );
    assert!(p.tls.is_none(), "{p:#}");
    let f = report
        .findings
        .iter()
        .find(|f| f.code == "tls_failed")
        .unwrap_or_else(|| panic!("{:#?}", report.findings));
    assert_eq!((f.severity.as_str(), f.port), ("fail", Some(110)), "{f:#?}");
    assert_exit_1(&run, &report);
}

#[test]
fn courier_bad_995_with_an_expired_certificate_fails() {
    let s = servers_at(&COURIER_BAD, &[995]);
    let run = s.check("pop3s", &[]);
    let report = run.report();
    let p = report.probe("pop3s");
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert!(
        p.software.as_deref().unwrap().starts_with("Courier"),
        "{p:#}"
    );
    let tls = p.tls();
    assert_eq!(tls.verdict, "expired", "{p:#}");
    assert_chain_of(p, COURIER_BAD.name);
    assert!(tls.chain[0].days_left < 0, "{p:#}");
    assert_finding(&report, "cert_expired", 995, "fail", "Courier");
    assert_exit_1(&run, &report);
}

/// r12: Courier with POP3_TLS_REQUIRED=1 lists USER before STLS but refuses
/// it there: said as advertised (a warning), not a failure.
#[test]
fn courier_110_with_pop3_tls_required_is_no_login_before_tls_failure() {
    let s = servers_at(&COURIER, &[110]);
    let run = s.check("pop3", &[]);
    let report = run.report();
    let p = report.probe("pop3");
    assert_ok_at(&run, p, &COURIER);
    assert!(has_word(&p.capabilities_plain, "USER"), "{p:#}");
    assert!(report.fail_codes().is_empty(), "{:#?}", report.findings);
    let f = report.finding("login_before_tls");
    assert_eq!(f.severity, "warn");
    assert!(f.message.contains("advertised"), "{f:#?}");
    assert!(f.hint.contains("POP3_TLS_REQUIRED"), "{f:#?}");
    assert_exit_0(&run, &report);
}

/// r12: the cause in the server's words: couriertls's own line is quoted.
#[test]
fn courier_bad_110_quotes_why_couriertls_failed() {
    let s = servers_at(&COURIER_BAD, &[110]);
    let run = s.check("pop3", &[]);
    let report = run.report();
    let p = report.probe("pop3");
    assert_eq!(p.outcome, "tls_failed", "{p:#}");
    assert!(
        p.detail().contains("couriertls:") && p.detail().contains("No such file or directory"),
        "{}",
        p.detail()
    );
    assert!(!p.detail().contains('\r'), "{}", p.detail());
    let f = report.finding("tls_failed");
    assert!(f.message.contains("No such file or directory"), "{f:#?}");
}

/// r12: a healthy MTA without IMAP, POP3 or webmail exits 0 in the default sweep.
#[test]
fn exim_default_sweep_without_imap_pop3_and_http_exits_0() {
    let s = servers_at(&EXIM, &[25, 587, 465]);
    let run = s.mailport().json().run();
    let report = run.report();
    for service in ["smtp", "submission", "submissions"] {
        assert_ok_at(&run, report.probe(service), &EXIM);
    }
    for service in ["imap", "imaps", "pop3", "pop3s", "http", "https"] {
        let p = report.probe(service);
        assert_eq!(p.outcome, "refused");
        assert_eq!(p.verdict, "not_offered", "{p:#}");
    }
    assert!(report.fail_codes().is_empty(), "{:#?}", report.findings);
    assert_exit_0(&run, &report);
}

/// r12: a failing certificate is never a green `ok` in the text report.
#[test]
fn a_failing_certificate_is_not_ok_in_the_text_report() {
    for (host, services, ports) in [
        (&EXIM_BAD, "submissions", &[465][..]),
        (&COURIER_BAD, "imaps,pop3s", &[993, 995][..]),
    ] {
        let s = servers_at(host, ports);
        let text = s.mailport().args(["--service", services]).run();
        assert_eq!(text.code, 1, "{}", text.stdout);
        for service in services.split(',') {
            let row = text
                .stdout
                .lines()
                .find(|l| l.starts_with(&format!("{service} ")))
                .unwrap_or_else(|| panic!("no {service} row:\n{}", text.stdout));
            let result = row.split_whitespace().nth(3).unwrap();
            assert_ne!(result, "ok", "{}: {row}\n{}", host.name, text.stdout);
        }
        assert!(
            text.stdout.contains(" probes: 0 ok,"),
            "{}: {}",
            host.name,
            text.stdout
        );
    }
}
