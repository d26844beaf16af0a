//! `mailport check` with reverse DNS, names and MX, against a real DNS server
//! in the test process (hickory-server with the zones of fixtures/dns/) and,
//! where a port must answer, the scripted fake SMTP server. Every name that
//! is probed resolves to loopback.

use std::time::{Duration, Instant};

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::{Mailport, Run};
use crate::support::dialogs;
use crate::support::dns::DnsServer;
use crate::support::ports::closed_port;
use crate::support::report::{MxOf, MxRecord, Report};
use crate::support::schema::valid_report;
use crate::support::server::FakeServer;

/// `mailport check HOST --dns-server DNS` on `port` spoken as smtp.
fn check_cmd(dns: &DnsServer, host: &str, port: u16) -> Mailport {
    Mailport::check(host)
        .args(["--dns-server", &dns.arg()])
        .at(port, "smtp")
}

/// [`check_cmd`] with `--json` and short timeouts, plus `extra`; the JSON is
/// checked against the schema.
fn check(dns: &DnsServer, host: &str, port: u16, extra: &[&str]) -> (Run, Report) {
    let run = check_cmd(dns, host, port)
        .json()
        .fast_timeouts()
        .args(["--dns-timeout", "2s"])
        .args(extra)
        .run();
    let report = valid_report(&run);
    (run, report)
}

#[test]
fn a_healthy_host_with_confirmed_reverse_dns_has_no_finding() {
    let dns = DnsServer::start();
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(dialogs::smtp_healthy(
        "mx.example.test",
        pki.server_config(CertKind::Good, &["mx.example.test"]),
    ));
    let ca_path = ca.path().display().to_string();
    let (run, v) = check(
        &dns,
        "mx.example.test",
        server.port(),
        &["--ca-file", &ca_path],
    );
    server.finish();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert!(v.codes().is_empty(), "{:#?}", v.findings);
    let t = &v.targets[0];
    assert_eq!(t.resolution.status, "found");
    assert_eq!(t.addresses[0], "127.0.0.1");
    assert_eq!(t.probes[0].outcome, "ok");
    let d = &t.dns.as_ref().unwrap();
    assert_eq!(d.resolver, dns.arg());
    assert_eq!(d.reverse[0].address, "127.0.0.1");
    assert_eq!(d.reverse[0].names[0].name, "mx.example.test");
    assert!(d.reverse[0].names[0].confirmed);
    assert!(d.skipped.is_none());
}

/// The greeting names one host, the PTR another: information only (not a
/// receiver requirement), and the certificate is compared with both names.
#[test]
fn a_greeting_name_other_than_the_ptr_is_information_only() {
    let dns = DnsServer::start();
    let pki = TestPki::new();
    let ca = pki.ca_file();
    // PTR 127.0.0.1 -> mx.example.test; the server greets as mail.example.test;
    // its certificate covers the host checked (mx) but not the greeting name.
    let server = FakeServer::smtp(dialogs::smtp_healthy(
        "mail.example.test",
        pki.server_config(CertKind::Good, &["mx.example.test"]),
    ));
    let ca_path = ca.path().display().to_string();
    let (run, v) = check(
        &dns,
        "mx.example.test",
        server.port(),
        &["--ca-file", &ca_path],
    );
    server.finish();
    assert_eq!(run.code, 0, "info findings do not fail: {}", run.stdout);
    let mut c = v.codes();
    c.sort();
    assert_eq!(c, vec!["cert_name_not_covered", "ptr_greeting_mismatch"]);
    let f = v.finding("ptr_greeting_mismatch");
    assert_eq!(f.severity, "info");
    assert_eq!(f.service.as_deref(), Some("smtp"));
    assert_eq!(f.address.as_deref(), Some("127.0.0.1"));
    let m = f.message.as_str();
    assert!(m.contains("mail.example.test in its greeting"), "{m}");
    assert!(m.contains("names mx.example.test"), "{m}");
    assert!(m.contains("Not a receiver requirement"), "{m}");
    let c = v.finding("cert_name_not_covered");
    assert_eq!(c.severity, "info");
    assert!(c
        .message
        .as_str()
        .contains("mail.example.test (the greeting name)"));
    // And the text view says so, within 80 columns.
    let server = FakeServer::smtp(dialogs::smtp_healthy(
        "mail.example.test",
        pki.server_config(CertKind::Good, &["mx.example.test"]),
    ));
    let text = check_cmd(&dns, "mx.example.test", server.port())
        .ca(Some(ca.path()))
        .run();
    server.finish();
    println!("{}", text.stdout);
    assert_eq!(text.code, 0);
    for line in text.stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    assert!(text.stdout.contains("INFO  ptr_greeting_mismatch"));
    assert!(text
        .stdout
        .contains("127.0.0.1         mx.example.test confirmed (A 127.0.0.1)"));
}

#[test]
fn reverse_dns_verdicts_in_a_check() {
    let dns = DnsServer::start();
    let port = closed_port();
    // noptr.example.test is 127.0.0.3, which has no PTR.
    let (run, v) = check(&dns, "noptr.example.test", port, &[]);
    assert_eq!(run.code, 1);
    assert_eq!(v.targets[0].probes[0].outcome, "refused");
    assert!(v.codes().contains(&"ptr_missing"));
    assert_eq!(
        v.finding("ptr_missing").address.as_deref(),
        Some("127.0.0.3")
    );
    // nomatch.example.test is 127.0.0.40, whose PTR is nothing; 127.0.0.4's
    // PTR names nomatch: checked as a literal address.
    let (_, v) = check(&dns, "127.0.0.4", port, &[]);
    assert!(v.codes().contains(&"ptr_not_confirmed"));
    let (_, v) = check(&dns, "127.0.0.6", port, &[]);
    assert_eq!(v.finding("ptr_generic").severity, "warn");
    let (_, v) = check(&dns, "127.0.0.7", port, &[]);
    assert_eq!(v.finding("ptr_multiple").severity, "warn");
}

#[test]
fn ipv6_reverse_dns_in_a_check() {
    let dns = DnsServer::start();
    // mx6.example.test has only AAAA ::1, whose PTR is mx6.example.test.
    let (_, v) = check(&dns, "mx6.example.test", closed_port(), &[]);
    let t = &v.targets[0];
    assert_eq!(t.addresses, ["::1"]);
    let r = &t.dns.as_ref().unwrap().reverse[0];
    assert_eq!(r.address, "::1");
    assert!(r.query.as_str().ends_with(".ip6.arpa"));
    assert_eq!(r.names[0].name, "mx6.example.test");
    assert_eq!(r.names[0].record_type, "AAAA");
    assert!(r.names[0].confirmed);
    assert!(!v.codes().iter().any(|c| c.starts_with("ptr_")));
}

#[test]
fn a_name_that_does_not_exist_fails_every_probe_with_nxdomain() {
    let dns = DnsServer::start();
    let (run, v) = check(&dns, "missing.example.test", closed_port(), &[]);
    assert_eq!(
        run.code, 1,
        "a target that does not resolve is a failure, not a tool error"
    );
    let t = &v.targets[0];
    assert_eq!(t.resolution.status, "nxdomain");
    assert!(t.addresses.is_empty());
    for p in &t.probes {
        assert_eq!(p.outcome, "dns_failed");
        assert!(p.detail().contains("NXDOMAIN"), "{p}");
    }
    assert_eq!(v.codes(), vec!["dns_failed"]);
}

#[test]
fn servfail_and_timeout_for_the_host_are_told_apart_from_nxdomain() {
    let dns = DnsServer::start();
    let (run, v) = check(&dns, "broken.example.test", closed_port(), &[]);
    assert_eq!(run.code, 1);
    let t = &v.targets[0];
    assert_eq!(t.resolution.status, "servfail");
    assert_eq!(t.probes[0].outcome, "dns_failed");
    assert!(t.probes[0].detail().contains("SERVFAIL"));

    let started = Instant::now();
    let (run, v) = check(
        &dns,
        "slow.example.test",
        closed_port(),
        &["--dns-timeout", "500ms"],
    );
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(run.code, 1);
    let t = &v.targets[0];
    assert_eq!(t.resolution.status, "timeout");
    assert_eq!(t.probes[0].outcome, "dns_failed");
    assert_eq!(v.codes(), vec!["dns_failed"]);
}

#[test]
fn a_mail_domain_without_an_address_points_at_mx() {
    let dns = DnsServer::start();
    let (run, v) = check(&dns, "domain.example.test", closed_port(), &[]);
    assert_eq!(run.code, 1);
    let t = &v.targets[0];
    assert_eq!(t.resolution.status, "no_data");
    let mx = &t.dns.as_ref().unwrap().mx.as_ref().unwrap();
    assert_eq!(mx.status, "found");
    assert_eq!(mx.records[0].exchange, "mx.example.test");
    let m = v.finding("dns_failed").message.as_str();
    assert!(m.contains("mailport check domain.example.test --mx"), "{m}");
    assert!(m.contains("mx.example.test, mail.example.test"), "{m}");
}

#[test]
fn a_name_without_address_or_mx_is_no_data_without_a_hint_at_mx() {
    let dns = DnsServer::start();
    let (run, v) = check(&dns, "noaddr.example.test", closed_port(), &[]);
    assert_eq!(run.code, 1);
    let t = &v.targets[0];
    assert_eq!(t.resolution.status, "no_data");
    assert_eq!(t.probes[0].outcome, "dns_failed");
    assert_eq!(
        t.dns.as_ref().unwrap().mx.as_ref().unwrap().status,
        "no_data"
    );
    let m = v.finding("dns_failed").message.as_str();
    assert!(!m.contains("--mx"), "{m}");
}

#[test]
fn with_mx_the_mx_hosts_are_checked_in_preference_order() {
    let dns = DnsServer::start();
    let (run, v) = check(&dns, "domain.example.test", closed_port(), &["--mx"]);
    assert_eq!(run.code, 1, "nothing listens on the port");
    let d = &v.domains.as_ref().unwrap()[0];
    assert_eq!(d.domain, "domain.example.test");
    assert_eq!(d.status, "found");
    assert_eq!(d.resolver, dns.arg());
    let mx = |preference, exchange: &str| MxRecord {
        preference,
        exchange: exchange.to_string(),
    };
    assert_eq!(
        d.records,
        [mx(10, "mx.example.test"), mx(20, "mail.example.test")]
    );
    let hosts: Vec<&str> = v.targets.iter().map(|t| t.host.as_str()).collect();
    assert_eq!(hosts, vec!["mx.example.test", "mail.example.test"]);
    let t = &v.targets[1];
    assert_eq!(t.tls_name, "mail.example.test");
    assert_eq!(t.addresses[0], "127.0.0.2");
    assert_eq!(
        t.dns.as_ref().unwrap().mx_of,
        Some(MxOf {
            domain: "domain.example.test".to_string(),
            preference: 20,
            implicit: false
        })
    );
    assert!(t.dns.as_ref().unwrap().reverse[0].names[0].confirmed);
    assert!(!v
        .codes()
        .iter()
        .any(|c| c.starts_with("ptr_") || c.starts_with("mx_")));
    // The text names each host's domain.
    let text = check_cmd(&dns, "domain.example.test", closed_port())
        .arg("--mx")
        .run();
    for line in text.stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    println!("{}", text.stdout);
    let flat = text.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.stdout.starts_with("domain.example.test MX (via"),
        "{}",
        text.stdout
    );
    assert!(flat.contains("10 mx.example.test, 20 mail.example.test"));
    assert!(text
        .stdout
        .contains("mail.example.test (MX 20 of domain.example.test) → 127.0.0.2"));
}

#[test]
fn with_mx_resolve_applies_to_the_mx_hosts() {
    let dns = DnsServer::start();
    let (_, v) = check(
        &dns,
        "domain.example.test",
        closed_port(),
        &["--mx", "--resolve", "mail.example.test:127.0.0.1"],
    );
    let t = &v.targets[1];
    assert_eq!(t.host, "mail.example.test");
    assert_eq!(t.resolution.source, "override");
    assert_eq!(t.addresses[0], "127.0.0.1");
    assert_eq!(v.targets[0].resolution.source, "dns");
}

#[test]
fn a_null_mx_is_a_finding_and_leaves_nothing_to_probe() {
    let dns = DnsServer::start();
    let (run, v) = check(&dns, "nullmx.example.test", closed_port(), &["--mx"]);
    assert_eq!(run.code, 1);
    assert_eq!(v.domains.as_ref().unwrap()[0].records[0].exchange, ".");
    assert!(v.targets.is_empty());
    assert_eq!(v.codes(), vec!["mx_null"]);
    assert_eq!(v.finding("mx_null").host, "nullmx.example.test");
}

#[test]
fn a_domain_without_mx_is_checked_itself_as_the_implicit_mx() {
    let dns = DnsServer::start();
    let (_, v) = check(&dns, "nomx.example.test", closed_port(), &["--mx"]);
    assert_eq!(v.domains.as_ref().unwrap()[0].status, "no_data");
    let t = &v.targets[0];
    assert_eq!(t.host, "nomx.example.test");
    assert!(t.dns.as_ref().unwrap().mx_of.as_ref().unwrap().implicit);
    assert_eq!(v.finding("mx_missing").severity, "warn");
}

#[test]
fn a_mail_domain_that_does_not_exist_is_dns_failed() {
    let dns = DnsServer::start();
    let (run, v) = check(&dns, "missing.example.test", closed_port(), &["--mx"]);
    assert_eq!(run.code, 1);
    assert_eq!(v.domains.as_ref().unwrap()[0].status, "nxdomain");
    assert_eq!(v.codes(), vec!["dns_failed"]);
}

#[test]
fn without_dns_server_loopback_addresses_are_not_looked_up() {
    // No --dns-server: the system's resolver would answer 127.0.0.0/8 itself
    // (`localhost`), which says nothing about mail; the address is skipped.
    let run = Mailport::check("127.0.0.1")
        .at(closed_port(), "smtp")
        .json()
        .run();
    let v = valid_report(&run);
    let d = v.targets[0].dns.as_ref().unwrap();
    assert!(d.reverse.is_empty());
    let skipped = d.skipped.as_ref().expect("skipped addresses");
    assert_eq!(skipped[0].address, "127.0.0.1");
    assert!(skipped[0].reason.contains("loopback"));
    assert!(!v.codes().iter().any(|c| c.starts_with("ptr_")));
}

#[test]
fn bad_dns_options_are_usage_errors() {
    for args in [
        &["check", "127.0.0.1", "--mx"][..],
        &["check", "mx.example.test", "--dns-server", "not-an-address"],
        &["check", "mx.example.test", "--dns-server", "127.0.0.1:0"],
    ] {
        let run = Mailport::new().args(args).run();
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
    }
}
