//! `mailport ptr ADDR...`: the reverse-DNS check of addresses on their own,
//! against a real DNS server in the test process (hickory-server with the
//! zones of fixtures/dns/), asked with --dns-server. Every verdict, IPv4 and
//! IPv6, text and JSON, and the exit codes.

use std::time::{Duration, Instant};

use crate::support::cmd::{Mailport, Run};
use crate::support::dns::DnsServer;
use crate::support::report::{Report, ReverseDns};
use crate::support::schema::valid_report;

/// `mailport ptr ADDRS --dns-server DNS --json` plus `extra`; the JSON is
/// checked against src/report.schema.json.
pub(crate) fn ptr_json(dns: &DnsServer, addrs: &[&str], extra: &[&str]) -> (Run, Report) {
    let run = Mailport::ptr(addrs)
        .args(["--dns-server", &dns.arg(), "--json", "--dns-timeout", "2s"])
        .args(extra)
        .run();
    let report = valid_report(&run);
    (run, report)
}

/// The reverse-DNS entry of the `i`th address.
fn reverse(v: &Report, i: usize) -> &ReverseDns {
    &v.targets[i]
        .dns
        .as_ref()
        .expect("reverse DNS facts")
        .reverse[0]
}

/// (code, severity) of every finding.
fn findings(v: &Report) -> Vec<(String, String)> {
    v.findings
        .iter()
        .map(|f| (f.code.clone(), f.severity.clone()))
        .collect()
}

fn names(r: &ReverseDns) -> Vec<&str> {
    r.names.iter().map(|n| n.name.as_str()).collect()
}

#[test]
fn a_forward_confirmed_ptr_passes() {
    let dns = DnsServer::start();
    let (run, v) = ptr_json(&dns, &["127.0.0.2"], &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(v.command, "ptr");
    assert_eq!(v.summary.probes, 0);
    let t = &v.targets[0];
    assert_eq!(t.probes.len(), 0);
    assert_eq!(t.dns.as_ref().unwrap().resolver, dns.arg());
    let r = reverse(&v, 0);
    assert_eq!(r.address, "127.0.0.2");
    assert_eq!(r.query, "2.0.0.127.in-addr.arpa");
    assert_eq!(r.status, "found");
    let n = &r.names[0];
    assert_eq!(n.name, "mail.example.test");
    assert_eq!(n.record_type, "A");
    assert_eq!(n.addresses[0], "127.0.0.2");
    assert!(n.confirmed);
    assert!(findings(&v).is_empty(), "{}", run.stdout);
}

/// The trap of hickory-resolver's caching layer (RFC 6761): asked through it,
/// any PTR under 127.in-addr.arpa is `localhost.` and no query is sent. With
/// --dns-server mailport reports the server's own answer.
#[test]
fn loopback_ptrs_come_from_the_server_not_from_special_use_rules() {
    let dns = DnsServer::start();
    let (run, v) = ptr_json(&dns, &["127.0.0.1"], &[]);
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(names(reverse(&v, 0)), vec!["mx.example.test"]);
    assert!(!run.stdout.contains("localhost"), "{}", run.stdout);
}

#[test]
fn no_ptr_is_ptr_missing_with_the_450_hint() {
    let dns = DnsServer::start();
    let (run, v) = ptr_json(&dns, &["127.0.0.3"], &[]);
    assert_eq!(run.code, 1);
    let r = reverse(&v, 0);
    assert_eq!(r.status, "nxdomain");
    assert!(names(r).is_empty());
    assert_eq!(findings(&v), vec![("ptr_missing".into(), "fail".into())]);
    let f = &v.findings[0];
    assert_eq!(f.address.as_deref(), Some("127.0.0.3"));
    assert!(
        f.hint
            .contains("450 4.7.1 Client host rejected: cannot find your hostname"),
        "{f:?}"
    );
}

#[test]
fn a_ptr_that_does_not_resolve_back_is_not_confirmed() {
    let dns = DnsServer::start();
    // 127.0.0.4: the name's A is another address; 127.0.0.5: the name has no
    // A (NODATA); 127.0.0.9: the name does not exist (NXDOMAIN).
    let (run, v) = ptr_json(&dns, &["127.0.0.4", "127.0.0.5", "127.0.0.9"], &[]);
    assert_eq!(run.code, 1);
    let expect = [
        ("nomatch.example.test", "found", Some("127.0.0.40")),
        ("noaddr.example.test", "no_data", None),
        ("gone.example.test", "nxdomain", None),
    ];
    for (i, (name, status, addr)) in expect.iter().enumerate() {
        let n = &reverse(&v, i).names[0];
        assert_eq!(n.name, *name);
        assert_eq!(n.status, *status, "{n:?}");
        assert!(!n.confirmed);
        match addr {
            Some(a) => assert_eq!(n.addresses[0], *a),
            None => assert!(n.addresses.is_empty()),
        }
    }
    assert_eq!(
        findings(&v),
        vec![("ptr_not_confirmed".to_string(), "fail".to_string()); 3]
    );
    let messages: Vec<&str> = v.findings.iter().map(|f| f.message.as_str()).collect();
    assert!(messages
        .iter()
        .any(|m| m.contains("resolves to 127.0.0.40, not to 127.0.0.4")));
    assert!(messages.iter().any(|m| m.contains("NXDOMAIN")));
}

#[test]
fn a_generic_pool_name_warns() {
    let dns = DnsServer::start();
    let (run, v) = ptr_json(&dns, &["127.0.0.6"], &[]);
    assert_eq!(run.code, 0, "a warning alone does not fail");
    assert_eq!(findings(&v), vec![("ptr_generic".into(), "warn".into())]);
    assert!(v.findings[0].message.contains("127-0-0-6.dyn.example.test"));
    let (run, _) = ptr_json(&dns, &["127.0.0.6"], &["--fail-on", "warn"]);
    assert_eq!(run.code, 1);
}

#[test]
fn an_address_with_two_ptrs_warns() {
    let dns = DnsServer::start();
    let (run, v) = ptr_json(&dns, &["127.0.0.7"], &[]);
    assert_eq!(run.code, 0);
    let r = reverse(&v, 0);
    assert_eq!(names(r), vec!["alias.example.test", "multi.example.test"]);
    assert!(r.names.iter().all(|n| n.confirmed));
    assert_eq!(findings(&v), vec![("ptr_multiple".into(), "warn".into())]);
}

#[test]
fn ipv6_ptrs_are_looked_up_in_ip6_arpa_and_confirmed_with_aaaa() {
    let dns = DnsServer::start();
    let (run, v) = ptr_json(&dns, &["2001:db8::25", "[2001:db8::26]", "::1"], &[]);
    assert_eq!(run.code, 1, "2001:db8::26 has no PTR");
    let r = reverse(&v, 0);
    assert_eq!(
        r.query,
        "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
    );
    assert_eq!(r.names[0].name, "smtp6.example.test");
    assert_eq!(r.names[0].record_type, "AAAA");
    assert!(r.names[0].confirmed);
    assert_eq!(reverse(&v, 1).address, "2001:db8::26");
    assert_eq!(reverse(&v, 1).status, "nxdomain");
    assert_eq!(names(reverse(&v, 2)), vec!["mx6.example.test"]);
    assert!(reverse(&v, 2).names[0].confirmed);
    assert_eq!(findings(&v), vec![("ptr_missing".into(), "fail".into())]);
}

#[test]
fn a_documentation_address_with_a_confirmed_ptr() {
    let dns = DnsServer::start();
    let (run, v) = ptr_json(&dns, &["192.0.2.25", "192.0.2.26"], &[]);
    assert_eq!(run.code, 1);
    assert!(reverse(&v, 0).names[0].confirmed);
    assert_eq!(reverse(&v, 1).status, "nxdomain");
}

#[test]
fn a_server_that_never_answers_is_a_timeout_not_a_missing_ptr() {
    let dns = DnsServer::start();
    let started = Instant::now();
    let (run, v) = ptr_json(&dns, &["127.0.0.77"], &["--dns-timeout", "500ms"]);
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "bounded by --dns-timeout"
    );
    assert_eq!(run.code, 1);
    let r = reverse(&v, 0);
    assert_eq!(r.status, "timeout");
    assert!(r.detail.as_deref().unwrap().contains(&dns.arg()), "{r:?}");
    assert_eq!(
        findings(&v),
        vec![("ptr_lookup_failed".into(), "fail".into())]
    );
    assert!(!run.stdout.contains("ptr_missing"));
}

#[test]
fn servfail_and_refused_are_reported_as_such() {
    let dns = DnsServer::start();
    // 127.0.0.66 is answered SERVFAIL; 198.51.100.0/24 is in no zone of the
    // server, which refuses to answer for it.
    let (run, v) = ptr_json(&dns, &["127.0.0.66", "198.51.100.7"], &[]);
    assert_eq!(run.code, 1);
    assert_eq!(reverse(&v, 0).status, "servfail");
    assert_eq!(reverse(&v, 1).status, "refused");
    assert_eq!(
        findings(&v),
        vec![("ptr_lookup_failed".to_string(), "fail".to_string()); 2]
    );
}

#[test]
fn a_forward_lookup_that_fails_leaves_the_confirmation_open() {
    let dns = DnsServer::start();
    // 127.0.0.8 -> slow.example.test (never answered); 127.0.0.10 ->
    // broken.example.test (SERVFAIL).
    let (run, v) = ptr_json(
        &dns,
        &["127.0.0.8", "127.0.0.10"],
        &["--dns-timeout", "500ms"],
    );
    assert_eq!(run.code, 1);
    assert_eq!(reverse(&v, 0).names[0].status, "timeout");
    assert_eq!(reverse(&v, 1).names[0].status, "servfail");
    assert_eq!(
        findings(&v),
        vec![("ptr_lookup_failed".to_string(), "fail".to_string()); 2]
    );
}

#[test]
fn no_dns_server_listening_is_a_failed_lookup() {
    let closed = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
    let server = closed.local_addr().unwrap().to_string();
    drop(closed);
    let run = Mailport::new()
        .args(["ptr", "127.0.0.2", "--dns-server", &server, "--json"])
        .run();
    assert_eq!(run.code, 1);
    let v = valid_report(&run);
    assert_eq!(reverse(&v, 0).status, "failed");
    assert!(reverse(&v, 0)
        .detail
        .as_deref()
        .unwrap()
        .contains("nothing answers DNS"));
}

#[test]
fn the_text_report_has_a_row_per_address_within_80_columns() {
    let dns = DnsServer::start();
    let server = dns.arg();
    let run = Mailport::new()
        .args([
            "ptr",
            "127.0.0.2",
            "127.0.0.3",
            "127.0.0.4",
            "127.0.0.7",
            "2001:db8::25",
            "--dns-server",
            &server,
        ])
        .run();
    println!("{}", run.stdout);
    assert_eq!(run.code, 1);
    for line in run.stdout.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    let out = &run.stdout;
    assert!(out.contains(&format!("Reverse DNS via {server}")), "{out}");
    assert!(out.contains("127.0.0.2         mail.example.test confirmed (A 127.0.0.2)"));
    assert!(out.contains("127.0.0.3         no PTR"));
    assert!(out.contains("NOT confirmed: A 127.0.0.40"));
    assert!(out.contains("smtp6.example.test confirmed (AAAA 2001:db8::25)"));
    for code in ["ptr_missing", "ptr_not_confirmed", "ptr_multiple"] {
        assert!(out.contains(code), "{code}:\n{out}");
    }
    assert!(
        out.contains("5 addresses; findings: 2 fail, 1 warn, 0 info"),
        "{out}"
    );
}

#[test]
fn bad_input_is_a_usage_error() {
    for args in [
        &["ptr", "mail.example.test"][..],
        &["ptr", "127.0.0.1", "--dns-server", "dns.example.test"],
        &["ptr", "127.0.0.1", "--dns-timeout", "0"],
        &["ptr"],
    ] {
        let run = Mailport::new().args(args).run();
        assert_eq!(run.code, 2, "{args:?}: {}", run.stderr);
        assert!(run.stdout.is_empty());
    }
    let run = Mailport::new().args(["ptr", "mail.example.test"]).run();
    assert!(run.stderr.contains("mailport check NAME"), "{}", run.stderr);
}
