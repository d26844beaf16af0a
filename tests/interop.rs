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

// Not every helper of `support` is used here.
#![allow(dead_code)]

#[path = "support/mod.rs"]
mod support;

use serde_json::Value;
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;
use support::{mailport, Run};

/// The loopback address every interop server is bound to.
const ADDR: &str = "127.0.0.25";
/// The name the servers' certificate is issued for.
const NAME: &str = "mail.interop.test";
const RESOLVE: &str = "mail.interop.test:127.0.0.25";

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

/// The interop servers, checked to be up; holds the read side of [`SERVERS`].
struct Servers {
    ca: PathBuf,
    _lock: Guard,
}

enum Guard {
    Read(RwLockReadGuard<'static, ()>),
    Write(RwLockWriteGuard<'static, ()>),
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
        _lock: Guard::Read(lock),
    }
}

/// The servers behind `ports`, for a test that stops and starts one of them.
fn servers_exclusive(ports: &[u16]) -> Servers {
    let lock = SERVERS.write().unwrap_or_else(|e| e.into_inner());
    Servers {
        ca: check_up(ports),
        _lock: Guard::Write(lock),
    }
}

impl Servers {
    fn ca(&self) -> &str {
        self.ca.to_str().expect("the CA path is UTF-8")
    }

    /// `mailport check mail.interop.test --resolve ... --ca-file CA --json --service SERVICES EXTRA...`
    fn check(&self, services: &str, extra: &[&str]) -> Run {
        let mut args = vec![
            "check",
            NAME,
            "--resolve",
            RESOLVE,
            "--ca-file",
            self.ca(),
            "--json",
            "--service",
            services,
        ];
        args.extend_from_slice(extra);
        mailport(&args)
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

/// The probe of `service` in the report; panics with the whole report if absent.
fn probe(run: &Run, service: &str) -> Value {
    let json = run.json();
    let probes = json["targets"][0]["probes"]
        .as_array()
        .unwrap_or_else(|| panic!("no probes in the report:\n{json:#}"));
    probes
        .iter()
        .find(|p| p["service"] == service)
        .cloned()
        .unwrap_or_else(|| panic!("no {service} probe in the report:\n{json:#}"))
}

fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| {
            s.as_str()
                .unwrap_or_else(|| panic!("not a string: {s}"))
                .to_string()
        })
        .collect()
}

fn phases(p: &Value) -> Vec<String> {
    p["phases"]
        .as_array()
        .unwrap_or_else(|| panic!("no phases: {p:#}"))
        .iter()
        .map(|ph| ph["phase"].as_str().unwrap().to_string())
        .collect()
}

/// Whether any capability line holds `word` as a whole token
/// (`250-STARTTLS`, `* CAPABILITY IMAP4rev1 STARTTLS LOGINDISABLED`, `STLS` …).
fn has_word(lines: &[String], word: &str) -> bool {
    lines.iter().any(|l| {
        l.split(|c: char| c.is_whitespace() || c == '-' || c == '[' || c == ']')
            .any(|t| t.eq_ignore_ascii_case(word))
    })
}

/// The codes of every finding at severity `fail`.
fn fail_codes(run: &Run) -> Vec<String> {
    run.json()["findings"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|f| f["severity"] == "fail")
                .map(|f| f["code"].as_str().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// What every TLS session with the interop servers must show: TLS 1.3, the
/// chain leaf + intermediate for mail.interop.test, verified against the test CA.
fn assert_tls_valid(p: &Value) {
    let tls = &p["tls"];
    assert_eq!(tls["version"], "TLSv1.3", "{p:#}");
    assert_eq!(tls["verdict"], "valid", "{p:#}");
    assert_eq!(tls["verified_name"], NAME, "{p:#}");
    let chain = tls["chain"].as_array().expect("a chain");
    assert_eq!(chain.len(), 2, "leaf and intermediate: {p:#}");
    assert!(
        chain[0]["subject"].as_str().unwrap().contains(NAME),
        "{}",
        chain[0]["subject"]
    );
    assert!(
        strings(&chain[0]["sans"]).iter().any(|s| s.contains(NAME)),
        "{}",
        chain[0]["sans"]
    );
    assert_eq!(chain[0]["is_ca"], false);
    assert!(chain[0]["days_left"].as_i64().unwrap() > 21, "{p:#}");
    assert!(
        chain[1]["subject"]
            .as_str()
            .unwrap()
            .contains("mailport interop test intermediate CA"),
        "{}",
        chain[1]["subject"]
    );
    assert_eq!(chain[1]["is_ca"], true);
}

fn assert_ok(run: &Run, p: &Value) {
    assert_eq!(p["outcome"], "ok", "{p:#}\nstderr:\n{}", run.stderr);
    assert_eq!(p["address"], ADDR, "{p:#}");
    assert!(p["detail"].is_null(), "{p:#}");
    assert!(
        p["phases"]
            .as_array()
            .unwrap()
            .iter()
            .all(|ph| ph["ok"] == true),
        "{p:#}"
    );
}

fn assert_exit_0(run: &Run) {
    assert_eq!(
        run.code,
        0,
        "findings: {:#}\nstderr:\n{}",
        run.json()["findings"],
        run.stderr
    );
    assert!(fail_codes(run).is_empty(), "{:?}", fail_codes(run));
    assert_eq!(run.json()["summary"]["exit_code"], 0);
}

// ------------------------------------------------------------ Postfix --

#[test]
fn postfix_25_offers_starttls_and_it_works() {
    let s = servers(&[25]);
    let run = s.check("smtp", &[]);
    let p = probe(&run, "smtp");
    assert_ok(&run, &p);
    assert_eq!(p["port"], 25);
    assert_eq!(p["tls_mode"], "opportunistic");
    assert!(
        p["greeting"]
            .as_str()
            .unwrap()
            .starts_with("220 mail.interop.test ESMTP Postfix"),
        "{}",
        p["greeting"]
    );
    assert_eq!(p["greeting_name"], NAME);
    assert_eq!(p["software"], "Postfix");
    assert_eq!(p["starttls_offered"], true);
    assert_eq!(p["starttls_stripped"], false);
    assert_eq!(
        phases(&p),
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
    let before = strings(&p["capabilities_plain"]);
    let after = strings(&p["capabilities_tls"]);
    assert!(has_word(&before, "STARTTLS"), "{before:?}");
    assert!(has_word(&after, "PIPELINING"), "{after:?}");
    assert!(!has_word(&after, "STARTTLS"), "{after:?}");
    // No SASL on the relay port.
    assert!(strings(&p["auth_plain"]).is_empty(), "{p:#}");
    assert!(strings(&p["auth_tls"]).is_empty(), "{p:#}");
    assert_tls_valid(&p);
    assert_exit_0(&run);
}

#[test]
fn postfix_587_requires_starttls_and_offers_auth_only_after_it() {
    let s = servers(&[587]);
    let run = s.check("submission", &[]);
    let p = probe(&run, "submission");
    assert_ok(&run, &p);
    assert_eq!(p["port"], 587);
    assert_eq!(p["tls_mode"], "required");
    assert_eq!(p["software"], "Postfix");
    assert_eq!(p["greeting_name"], NAME);
    assert_eq!(p["starttls_offered"], true);
    assert!(phases(&p).contains(&"starttls".to_string()), "{p:#}");
    let before = strings(&p["capabilities_plain"]);
    let after = strings(&p["capabilities_tls"]);
    assert!(has_word(&before, "STARTTLS"), "{before:?}");
    assert!(!has_word(&before, "AUTH"), "AUTH before TLS: {before:?}");
    assert!(has_word(&after, "AUTH"), "no AUTH after TLS: {after:?}");
    assert!(strings(&p["auth_plain"]).is_empty(), "{p:#}");
    let auth = strings(&p["auth_tls"]);
    assert!(auth.contains(&"PLAIN".to_string()), "{auth:?}");
    assert!(auth.contains(&"LOGIN".to_string()), "{auth:?}");
    assert_tls_valid(&p);
    let codes = run.finding_codes();
    assert!(
        !codes.iter().any(|c| c.starts_with("auth_before_tls")),
        "{codes:?}"
    );
    assert_exit_0(&run);
}

#[test]
fn postfix_465_speaks_implicit_tls() {
    let s = servers(&[465]);
    let run = s.check("submissions", &[]);
    let p = probe(&run, "submissions");
    assert_ok(&run, &p);
    assert_eq!(p["port"], 465);
    assert_eq!(p["tls_mode"], "implicit");
    assert_eq!(p["software"], "Postfix");
    assert_eq!(p["greeting_name"], NAME);
    assert_eq!(
        phases(&p),
        [
            "connect",
            "tls_handshake",
            "greeting",
            "capabilities",
            "quit"
        ]
    );
    assert!(strings(&p["capabilities_plain"]).is_empty(), "{p:#}");
    let caps = strings(&p["capabilities_tls"]);
    assert!(has_word(&caps, "AUTH"), "{caps:?}");
    let auth = strings(&p["auth_tls"]);
    assert!(auth.contains(&"PLAIN".to_string()), "{auth:?}");
    assert_tls_valid(&p);
    assert_exit_0(&run);
}

/// `mailport check HOST` with no --service: the default ports (today 25, 587
/// and 465), every one ok, exit 0; and the text report says the same.
#[test]
fn default_check_of_the_interop_host_is_all_ok_and_exits_0() {
    let s = servers(&[25, 587, 465]);
    let run = mailport(&[
        "check",
        NAME,
        "--resolve",
        RESOLVE,
        "--ca-file",
        s.ca(),
        "--json",
    ]);
    let json = run.json();
    let probes = json["targets"][0]["probes"].as_array().unwrap();
    let ports: Vec<u64> = probes.iter().map(|p| p["port"].as_u64().unwrap()).collect();
    for port in [25, 587, 465] {
        assert!(ports.contains(&port), "{ports:?}");
    }
    for p in probes {
        assert_eq!(p["outcome"], "ok", "{p:#}");
    }
    assert_eq!(json["summary"]["not_ok"], 0, "{:#}", json["summary"]);
    assert_exit_0(&run);

    let text = mailport(&["check", NAME, "--resolve", RESOLVE, "--ca-file", s.ca()]);
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
    for service in ["smtp", "submission", "submissions"] {
        let p = probe(&run, service);
        assert_eq!(p["tls"]["verdict"], "name_mismatch", "{p:#}");
        assert_eq!(p["tls"]["verified_name"], wrong, "{p:#}");
        // The certificate is still recorded in full.
        assert!(
            strings(&p["tls"]["chain"][0]["sans"])
                .iter()
                .any(|s| s.contains(NAME)),
            "{p:#}"
        );
    }
    let codes = fail_codes(&run);
    assert!(
        codes.contains(&"cert_name_mismatch".to_string()),
        "{codes:?}"
    );
    assert_eq!(run.code, 1, "{:#}", run.json()["summary"]);
    assert_eq!(run.json()["summary"]["exit_code"], 1);
}

#[test]
fn postfix_stopped_is_refused_and_exits_1() {
    let s = servers_exclusive(&[25, 587, 465]);
    let stopped = Stopped::new("postfix");
    let run = s.check("smtp,submission,submissions", &[]);
    for service in ["smtp", "submission", "submissions"] {
        let p = probe(&run, service);
        assert_eq!(p["outcome"], "refused", "{p:#}");
        assert_eq!(p["failed_phase"], "connect", "{p:#}");
        assert_eq!(p["connect"]["result"], "ECONNREFUSED", "{p:#}");
    }
    assert!(
        fail_codes(&run).contains(&"no_service_listening".to_string()),
        "{:?}",
        fail_codes(&run)
    );
    assert_eq!(run.code, 1);
    stopped.restart();
    // And back: the same check is ok again.
    let run = s.check("smtp,submission,submissions", &[]);
    for service in ["smtp", "submission", "submissions"] {
        assert_eq!(probe(&run, service)["outcome"], "ok");
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
    let p = probe(&run, "imap");
    assert_ok(&run, &p);
    assert_eq!(p["port"], 143);
    assert_eq!(p["protocol"], "imap");
    assert_eq!(p["tls_mode"], "required");
    assert!(
        p["greeting"].as_str().unwrap().starts_with("* OK"),
        "{}",
        p["greeting"]
    );
    assert_eq!(p["software"], "Dovecot");
    assert_eq!(p["starttls_offered"], true);
    assert!(phases(&p).contains(&"starttls".to_string()), "{p:#}");
    let before = strings(&p["capabilities_plain"]);
    let after = strings(&p["capabilities_tls"]);
    assert!(has_word(&before, "STARTTLS"), "{before:?}");
    assert!(has_word(&before, "LOGINDISABLED"), "{before:?}");
    assert!(!has_word(&after, "LOGINDISABLED"), "{after:?}");
    assert_eq!(p["login_disabled"], true, "{p:#}");
    assert_eq!(p["login_plain"], false, "{p:#}");
    assert_eq!(p["login_tls"], true, "{p:#}");
    assert!(has_word(&after, "AUTH=PLAIN"), "{after:?}");
    assert!(strings(&p["auth_plain"]).is_empty(), "{p:#}");
    assert!(
        strings(&p["auth_tls"]).contains(&"PLAIN".to_string()),
        "{p:#}"
    );
    assert_tls_valid(&p);
    assert_exit_0(&run);
}

#[test]
fn dovecot_993_speaks_implicit_tls() {
    let s = servers(&[993]);
    let run = s.check("imaps", &[]);
    let p = probe(&run, "imaps");
    assert_ok(&run, &p);
    assert_eq!(p["port"], 993);
    assert_eq!(p["tls_mode"], "implicit");
    assert_eq!(p["software"], "Dovecot");
    assert_eq!(phases(&p)[..2], ["connect", "tls_handshake"], "{p:#}");
    assert!(
        strings(&p["auth_tls"]).contains(&"PLAIN".to_string()),
        "{p:#}"
    );
    assert_tls_valid(&p);
    assert_exit_0(&run);
}

#[test]
fn dovecot_110_offers_stls_with_user_disabled_before_it() {
    let s = servers(&[110]);
    let run = s.check("pop3", &[]);
    let p = probe(&run, "pop3");
    assert_ok(&run, &p);
    assert_eq!(p["port"], 110);
    assert_eq!(p["protocol"], "pop3");
    assert_eq!(p["tls_mode"], "required");
    assert!(
        p["greeting"].as_str().unwrap().starts_with("+OK"),
        "{}",
        p["greeting"]
    );
    assert_eq!(p["software"], "Dovecot");
    assert_eq!(p["starttls_offered"], true);
    assert!(phases(&p).contains(&"starttls".to_string()), "{p:#}");
    let before = strings(&p["capabilities_plain"]);
    let after = strings(&p["capabilities_tls"]);
    assert!(has_word(&before, "STLS"), "{before:?}");
    // Plaintext USER/PASS only after STLS.
    assert!(!has_word(&before, "USER"), "{before:?}");
    assert!(has_word(&after, "USER"), "{after:?}");
    assert_eq!(p["login_plain"], false, "{p:#}");
    assert_eq!(p["login_tls"], true, "{p:#}");
    assert!(strings(&p["auth_plain"]).is_empty(), "{p:#}");
    assert!(
        strings(&p["auth_tls"]).contains(&"PLAIN".to_string()),
        "{p:#}"
    );
    assert_tls_valid(&p);
    assert_exit_0(&run);
}

#[test]
fn dovecot_995_speaks_implicit_tls() {
    let s = servers(&[995]);
    let run = s.check("pop3s", &[]);
    let p = probe(&run, "pop3s");
    assert_ok(&run, &p);
    assert_eq!(p["port"], 995);
    assert_eq!(p["tls_mode"], "implicit");
    assert_eq!(p["software"], "Dovecot");
    assert_eq!(phases(&p)[..2], ["connect", "tls_handshake"], "{p:#}");
    assert_tls_valid(&p);
    assert_exit_0(&run);
}

#[test]
fn nginx_80_redirects_to_https() {
    let s = servers(&[80]);
    let run = s.check("http", &[]);
    let p = probe(&run, "http");
    assert_ok(&run, &p);
    assert_eq!(p["port"], 80);
    assert_eq!(p["protocol"], "http");
    assert_eq!(p["tls_mode"], "none");
    assert!(p["tls"].is_null(), "{p:#}");
    assert!(phases(&p).contains(&"http_request".to_string()), "{p:#}");
    assert_eq!(p["http"]["status"], 301, "{p:#}");
    assert_eq!(p["http"]["location"], "https://mail.interop.test/", "{p:#}");
    assert!(
        p["software"].as_str().unwrap_or("").starts_with("nginx"),
        "{p:#}"
    );
    assert_exit_0(&run);
}

#[test]
fn nginx_443_serves_the_page() {
    let s = servers(&[443]);
    let run = s.check("https", &[]);
    let p = probe(&run, "https");
    assert_ok(&run, &p);
    assert_eq!(p["port"], 443);
    assert_eq!(p["tls_mode"], "implicit");
    assert_eq!(p["http"]["status"], 200, "{p:#}");
    // The page is served over HTTP/1.1 even though nginx prefers h2.
    assert_eq!(p["http"]["version"], "HTTP/1.1", "{p:#}");
    // nginx sends no HSTS header unless told to: worth knowing, not a failure.
    assert!(
        run.finding_codes().contains(&"hsts_missing".to_string()),
        "{:?}",
        run.finding_codes()
    );
    assert!(
        p["software"].as_str().unwrap_or("").starts_with("nginx"),
        "{p:#}"
    );
    assert_tls_valid(&p);
    assert_exit_0(&run);
}

const ALL: &str = "smtp,submission,submissions,imap,imaps,pop3,pop3s,http,https";
const ALL_PORTS: [u16; 9] = [25, 587, 465, 143, 993, 110, 995, 80, 443];

#[test]
fn every_port_of_the_interop_host_is_ok_and_exits_0() {
    let s = servers(&ALL_PORTS);
    let run = s.check(ALL, &[]);
    for service in ALL.split(',') {
        let p = probe(&run, service);
        assert_eq!(p["outcome"], "ok", "{p:#}");
        if p["tls_mode"] != "none" {
            assert_tls_valid(&p);
        }
    }
    assert_eq!(run.json()["summary"]["probes"], 9);
    assert_exit_0(&run);
}

#[test]
fn every_tls_port_with_a_wrong_tls_name_is_name_mismatch_and_exits_1() {
    let s = servers(&ALL_PORTS);
    let wrong = "wrong.interop.test";
    let run = s.check(ALL, &["--tls-name", wrong]);
    for service in ALL.split(',').filter(|&s| s != "http") {
        let p = probe(&run, service);
        assert_eq!(p["tls"]["verdict"], "name_mismatch", "{p:#}");
    }
    assert!(
        fail_codes(&run).contains(&"cert_name_mismatch".to_string()),
        "{:?}",
        fail_codes(&run)
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
        for &service in services {
            let p = probe(&run, service);
            assert_eq!(p["outcome"], "refused", "{server} stopped: {p:#}");
            assert_eq!(p["connect"]["result"], "ECONNREFUSED", "{p:#}");
        }
        assert_eq!(probe(&run, "smtp")["outcome"], "ok", "{server} stopped");
        assert_eq!(run.code, 1, "{server} stopped");
        stopped.restart();
    }
    let run = s.check(ALL, &[]);
    assert_exit_0(&run);
}
