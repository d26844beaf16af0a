//! `mailport policy DOMAIN` and `check --mx`: a mail domain's TLS promises
//! (MTA-STS, TLS-RPT) against what its MX serves, with the in-process DNS
//! server (fixtures/dns/policy.test.zone), the fake SMTP server as the MX
//! (`--port smtp=PORT`) and the fake server speaking HTTPS as
//! mta-sts.DOMAIN (its port given by MAILPORT_MTA_STS_PORT, test-only).

use std::net::{Ipv6Addr, SocketAddr};

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::{Mailport, Run};
use crate::support::dialogs::smtp_healthy;
use crate::support::dns::DnsServer;
use crate::support::ports::closed_port;
use crate::support::report::{Finding, Report};
use crate::support::schema::valid_report;
use crate::support::server::{FakeServer, Step};

const MX: &str = "mx.sts.policy.test";

/// A good policy for the domains whose MX is [`MX`].
fn policy_text(mode: &str, mx: &str) -> String {
    format!("version: STSv1\r\nmode: {mode}\r\nmx: {mx}\r\nmax_age: 604800\r\n")
}

/// An answer of 200 text/plain with `body`.
fn ok(body: &str) -> String {
    format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// mta-sts.DOMAIN over HTTPS with a certificate of `kind`: the request as
/// a sender makes it, answered with `response`.
fn https(pki: &TestPki, domain: &str, kind: CertKind, response: String) -> FakeServer {
    https_then(pki, domain, kind, vec![Step::Send(response.into_bytes())])
}

/// mta-sts.DOMAIN over HTTPS: the request as a sender makes it, answered by `answer`, then closed.
fn https_then(pki: &TestPki, domain: &str, kind: CertKind, answer: Vec<Step>) -> FakeServer {
    let host = format!("mta-sts.{domain}");
    let host: &'static str = Box::leak(host.into_boxed_str());
    let expect_host: &'static str = Box::leak(format!("Host: {host}").into_boxed_str());
    FakeServer::one(
        vec![
            Step::StartTls(pki.server_config(kind, &[host])),
            Step::Expect("GET /.well-known/mta-sts.txt HTTP/1.1"),
            Step::Expect(expect_host),
            Step::Expect("User-Agent: mailport/"),
            Step::Expect("Accept: text/plain"),
            Step::Expect("Connection: close"),
            Step::Expect(""),
        ]
        .into_iter()
        .chain(answer)
        .chain([Step::Close])
        .collect(),
    )
}

/// The MX: a healthy SMTP server with a certificate of `kind` for [`MX`].
fn mx(pki: &TestPki, kind: CertKind) -> FakeServer {
    FakeServer::smtp(smtp_healthy(MX, pki.server_config(kind, &[MX])))
}

/// `mailport policy DOMAIN` against `dns`, SMTP on `smtp`, HTTPS on `https`.
fn policy(dns: &DnsServer, domain: &str, smtp: u16, https: u16) -> Mailport {
    Mailport::policy(domain)
        .args(["--dns-server", &dns.arg(), "--dns-timeout", "2s"])
        .port(format!("smtp={smtp}"))
        .env("MAILPORT_MTA_STS_PORT", &https.to_string())
        .fast_timeouts()
}

/// `policy` on `domain` whose MX and MTA-STS web server are both closed
/// ports: what DNS alone says.
fn unreachable(dns: &DnsServer, domain: &str) -> (Run, Report) {
    json(policy(dns, domain, closed_port(), closed_port()))
}

fn json(cmd: Mailport) -> (Run, Report) {
    let run = cmd.json().run();
    let report = valid_report(&run);
    (run, report)
}

/// The one finding of `code`, checked for its severity and TLS-RPT result type.
fn one<'a>(r: &'a Report, code: &str, severity: &str, result: Option<&str>) -> &'a Finding {
    let f = r.finding(code);
    assert_eq!(f.severity, severity, "{f:#?}");
    assert_eq!(f.tlsrpt_result.as_deref(), result, "{f:#?}");
    f
}

/// [`one`], whose message also says each of `words`.
fn one_saying<'a>(
    r: &'a Report,
    code: &str,
    severity: &str,
    result: Option<&str>,
    words: &[&str],
) -> &'a Finding {
    let f = one(r, code, severity, result);
    for w in words {
        assert!(f.message.contains(w), "{w:?} not in {}", f.message);
    }
    f
}

fn policy_codes(r: &Report) -> Vec<&str> {
    r.codes()
        .into_iter()
        .filter(|c| {
            c.starts_with("mta_sts") || c.starts_with("tlsrpt") || *c == "mx_family_mismatch"
        })
        .collect()
}

/// The domain's policy, fetched as a sender fetches it: one MTA-STS run.
fn sts_run(
    domain: &str,
    https_kind: CertKind,
    response: String,
    mx_kind: CertKind,
    extra: &[&str],
) -> (Run, Report) {
    let dns = DnsServer::start();
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let web = https(&pki, domain, https_kind, response);
    let smtp = mx(&pki, mx_kind);
    let (run, r) = json(
        policy(&dns, domain, smtp.port(), web.port())
            .ca(Some(ca.path()))
            .args(extra),
    );
    web.finish();
    smtp.finish();
    (run, r)
}

#[test]
fn a_domain_without_promises_has_an_empty_policy_section() {
    let dns = DnsServer::start();
    let (run, r) = unreachable(&dns, "none.policy.test");
    assert_eq!(r.command, "policy");
    let d = &r.domains.as_ref().unwrap()[0];
    let p = d.policy.as_ref().expect("a policy section");
    assert_eq!(p.mta_sts.txt.name, "_mta-sts.none.policy.test");
    assert_eq!(p.mta_sts.txt.status, "nxdomain");
    assert!(p.mta_sts.fetch.is_none() && p.mta_sts.id.is_none());
    assert_eq!(p.tls_rpt.txt.status, "nxdomain");
    assert!(p.tls_rpt.rua.is_empty());
    // Only port 25 (here: its stand-in) of the MX is probed; nothing about MTA-STS or TLS-RPT.
    assert!(r.targets[0].probes.iter().all(|p| p.service == "smtp"));
    assert!(policy_codes(&r).is_empty(), "{:?}", r.codes());
    assert_eq!(run.code, 1, "nothing listens on the MX's port");
    let text = policy(&dns, "none.policy.test", closed_port(), closed_port()).run();
    assert!(
        text.stdout
            .contains("MTA-STS   none (no v=STSv1 record at _mta-sts.none.policy.test)"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("TLS-RPT   none"), "{}", text.stdout);
}

#[test]
fn a_good_enforce_policy_covering_a_good_mx_passes() {
    let (run, r) = sts_run(
        "sts.policy.test",
        CertKind::Good,
        ok(&policy_text("enforce", "*.sts.policy.test")),
        CertKind::Good,
        &[],
    );
    let p = r.domains.as_ref().unwrap()[0].policy.as_ref().unwrap();
    let sts = &p.mta_sts;
    assert_eq!(sts.id.as_deref(), Some("20261201T000000"));
    let fetch = sts.fetch.as_ref().unwrap();
    assert_eq!(fetch.outcome, "ok", "{fetch:#?}");
    assert_eq!(fetch.status, Some(200));
    assert_eq!(fetch.address.as_deref(), Some("127.0.0.1"));
    let pol = sts.policy.as_ref().unwrap();
    assert_eq!(pol.mode.as_deref(), Some("enforce"));
    assert_eq!(pol.mx, ["*.sts.policy.test"]);
    assert_eq!(pol.max_age, Some(604_800));
    assert_eq!(sts.mx[0].mx, MX);
    assert_eq!(sts.mx[0].pattern.as_deref(), Some("*.sts.policy.test"));
    // Two strings joined; the SPF record beside it is not TLS-RPT's.
    assert_eq!(
        p.tls_rpt.rua,
        ["mailto:tlsrpt@policy.test", "https://tlsrpt.policy.test/v1"]
    );
    assert!(policy_codes(&r).is_empty(), "{:?}", r.codes());
    assert_eq!(run.code, 0, "{:?}", r.codes());
}

#[test]
fn enforce_with_an_uncovered_mx_fails_and_testing_warns() {
    let (run, r) = sts_run(
        "sts.policy.test",
        CertKind::Good,
        ok(&policy_text("enforce", "mail.elsewhere.test")),
        CertKind::Good,
        &[],
    );
    let f = one(
        &r,
        "mta_sts_mx_not_covered",
        "fail",
        Some("validation-failure"),
    );
    assert_eq!(f.host, MX);
    assert!(f.message.contains("stop delivering"), "{}", f.message);
    assert_eq!(run.code, 1);
    let (run, r) = sts_run(
        "sts.policy.test",
        CertKind::Good,
        ok(&policy_text("testing", "mail.elsewhere.test")),
        CertKind::Good,
        &[],
    );
    one(
        &r,
        "mta_sts_mx_not_covered",
        "warn",
        Some("validation-failure"),
    );
    assert_eq!(run.code, 0);
}

#[test]
fn enforce_with_an_mx_certificate_for_another_name_fails() {
    let (run, r) = sts_run(
        "sts.policy.test",
        CertKind::Good,
        ok(&policy_text("enforce", MX)),
        CertKind::WrongName,
        &[],
    );
    let f = one(
        &r,
        "mta_sts_mx_certificate",
        "fail",
        Some("certificate-host-mismatch"),
    );
    assert_eq!(f.address.as_deref(), Some("127.0.0.1"));
    // The certificate finding of the relay port carries the same type.
    let c = r.finding("cert_name_mismatch");
    assert_eq!(
        c.tlsrpt_result.as_deref(),
        Some("certificate-host-mismatch")
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_redirect_is_not_followed() {
    let (run, r) = sts_run(
        "sts.policy.test",
        CertKind::Good,
        "HTTP/1.1 301 Moved Permanently\r\nLocation: https://www.sts.policy.test/mta-sts.txt\r\nContent-Length: 0\r\n\r\n".into(),
        CertKind::Good,
        &[],
    );
    one_saying(
        &r,
        "mta_sts_redirect",
        "fail",
        Some("sts-policy-fetch-error"),
        &["301"],
    );
    let sts = &r.domains.as_ref().unwrap()[0]
        .policy
        .as_ref()
        .unwrap()
        .mta_sts;
    let fetch = sts.fetch.as_ref().unwrap();
    assert_eq!(fetch.outcome, "redirect");
    assert_eq!(
        fetch.location.as_deref(),
        Some("https://www.sts.policy.test/mta-sts.txt")
    );
    assert!(sts.policy.is_none());
    assert_eq!(run.code, 1);
}

#[test]
fn an_oversized_policy_is_refused() {
    // A 1 MiB body, written until mailport stops reading (past its 64 KiB cap)
    // and goes away: a client that leaves early is no problem of the server's.
    let head = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: {}\r\n\r\n{}",
        1 << 20,
        policy_text("enforce", MX)
    );
    let comment = format!("# {}\n", "x".repeat(1021)).into_bytes();
    let dns = DnsServer::start();
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let web = https_then(
        &pki,
        "sts.policy.test",
        CertKind::Good,
        vec![Step::Send(head.into_bytes()), Step::SendForever(comment)],
    );
    let smtp = mx(&pki, CertKind::Good);
    let (run, r) =
        json(policy(&dns, "sts.policy.test", smtp.port(), web.port()).ca(Some(ca.path())));
    web.finish();
    smtp.finish();
    one(
        &r,
        "mta_sts_too_large",
        "fail",
        Some("sts-policy-fetch-error"),
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_policy_served_as_html_is_refused() {
    let body = policy_text("enforce", MX);
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let (run, r) = sts_run(
        "sts.policy.test",
        CertKind::Good,
        response,
        CertKind::Good,
        &[],
    );
    one_saying(
        &r,
        "mta_sts_content_type",
        "fail",
        Some("sts-policy-fetch-error"),
        &["text/html"],
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_policy_host_with_a_bad_certificate_is_not_asked() {
    let dns = DnsServer::start();
    let pki = TestPki::new();
    let ca = pki.ca_file();
    // The handshake completes (the certificate is judged after it); no request follows.
    let web = FakeServer::one(vec![
        Step::StartTls(pki.server_config(CertKind::WrongName, &["mta-sts.sts.policy.test"])),
        Step::ExpectClose,
    ]);
    let smtp = mx(&pki, CertKind::Good);
    let (run, r) =
        json(policy(&dns, "sts.policy.test", smtp.port(), web.port()).ca(Some(ca.path())));
    let lines = web.finish();
    assert!(lines.is_empty(), "a request was sent: {lines:?}");
    smtp.finish();
    one_saying(
        &r,
        "mta_sts_webpki_invalid",
        "fail",
        Some("sts-webpki-invalid"),
        &["mta-sts.sts.policy.test"],
    );
    assert_eq!(run.code, 1);
}

#[test]
fn an_invalid_policy_is_named_with_its_lines() {
    let (run, r) = sts_run(
        "sts.policy.test",
        CertKind::Good,
        ok("version: STSv1\nmode: enforcing\nmx: mx.sts.policy.test\nmax_age: 99999999999\n"),
        CertKind::Good,
        &[],
    );
    one_saying(
        &r,
        "mta_sts_policy_invalid",
        "fail",
        Some("sts-policy-invalid"),
        &["line 2", "max_age"],
    );
    assert_eq!(run.code, 1);
}

#[test]
fn txt_records_two_malformed_and_tlsrpt_missing_or_malformed() {
    let dns = DnsServer::start();
    // Two STSv1 records: senders ignore MTA-STS, so nothing is fetched.
    let (run, r) = unreachable(&dns, "two.policy.test");
    one_saying(
        &r,
        "mta_sts_txt_invalid",
        "fail",
        Some("sts-policy-invalid"),
        &["2 TXT records"],
    );
    let sts = &r.domains.as_ref().unwrap()[0]
        .policy
        .as_ref()
        .unwrap()
        .mta_sts;
    assert!(sts.fetch.is_none());
    assert_eq!(sts.txt.records.len(), 2);
    assert!(!r.codes().contains(&"tlsrpt_missing"));
    assert_eq!(run.code, 1);
    // A malformed id and a TLS-RPT record with an http: URI.
    let (_, r) = unreachable(&dns, "bad.policy.test");
    one_saying(
        &r,
        "mta_sts_txt_invalid",
        "fail",
        Some("sts-policy-invalid"),
        &["not-an-id!"],
    );
    one_saying(
        &r,
        "tlsrpt_invalid",
        "warn",
        None,
        &["http://tlsrpt.policy.test/"],
    );
    // MTA-STS without TLS-RPT (the policy cannot be fetched here: closed port).
    let (_, r) = unreachable(&dns, "norpt.policy.test");
    one(
        &r,
        "mta_sts_fetch_failed",
        "fail",
        Some("sts-policy-fetch-error"),
    );
    one_saying(
        &r,
        "tlsrpt_missing",
        "warn",
        None,
        &["_smtp._tls.norpt.policy.test"],
    );
}

#[test]
fn resolve_gives_the_policy_host_its_address() {
    // mta-sts.unlisted.policy.test has no address in DNS.
    let dns = DnsServer::start();
    let (_, r) = unreachable(&dns, "unlisted.policy.test");
    one_saying(
        &r,
        "mta_sts_fetch_failed",
        "fail",
        Some("sts-policy-fetch-error"),
        &["mta-sts.unlisted.policy.test"],
    );
    let (run, r) = sts_run(
        "unlisted.policy.test",
        CertKind::Good,
        ok(&policy_text("enforce", MX)),
        CertKind::Good,
        &["--resolve", "mta-sts.unlisted.policy.test:127.0.0.1"],
    );
    let sts = &r.domains.as_ref().unwrap()[0]
        .policy
        .as_ref()
        .unwrap()
        .mta_sts;
    assert_eq!(sts.fetch.as_ref().unwrap().outcome, "ok");
    assert!(policy_codes(&r).is_empty(), "{:?}", r.codes());
    assert_eq!(run.code, 0, "{:?}", r.codes());
}

#[test]
fn check_mx_includes_the_policy_section() {
    let dns = DnsServer::start();
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let web = https(
        &pki,
        "sts.policy.test",
        CertKind::Good,
        ok(&policy_text("enforce", "mail.elsewhere.test")),
    );
    let smtp = mx(&pki, CertKind::Good);
    let (run, r) = json(
        Mailport::check("sts.policy.test")
            .args(["--mx", "--dns-server", &dns.arg(), "--dns-timeout", "2s"])
            .port(format!("smtp={}", smtp.port()))
            .args(["--service", "smtp"])
            .env("MAILPORT_MTA_STS_PORT", &web.port().to_string())
            .ca(Some(ca.path()))
            .fast_timeouts(),
    );
    web.finish();
    smtp.finish();
    assert_eq!(r.command, "check");
    assert!(r.domains.as_ref().unwrap()[0].policy.is_some());
    let f = one(
        &r,
        "mta_sts_mx_not_covered",
        "fail",
        Some("validation-failure"),
    );
    assert_eq!(f.host, MX);
    // The MX itself serves well: the policy is what fails it.
    assert_eq!(r.targets[0].probes[0].verdict, "ok");
    assert_eq!(run.code, 1);
}

/// `policy` on dual.policy.test (MTA-STS in `mode`), whose MX
/// mx.dual.policy.test serves well on 127.0.0.1 and the dialog `v6` makes
/// (from the test PKI and the MX's name) on ::1, same port.
fn dual_stack(mode: &str, v6: impl FnOnce(&TestPki, &str) -> Vec<Step>) -> (Run, Report) {
    let dns = DnsServer::start();
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let host = "mx.dual.policy.test";
    let v4 = FakeServer::smtp(smtp_healthy(
        host,
        pki.server_config(CertKind::Good, &[host]),
    ));
    let v6 = FakeServer::start_at(
        SocketAddr::from((Ipv6Addr::LOCALHOST, v4.port())),
        vec![v6(&pki, host)],
    );
    let web = https(
        &pki,
        "dual.policy.test",
        CertKind::Good,
        ok(&policy_text(mode, host)),
    );
    let (run, r) =
        json(policy(&dns, "dual.policy.test", v4.port(), web.port()).ca(Some(ca.path())));
    web.finish();
    v4.finish();
    v6.finish();
    (run, r)
}

#[test]
fn an_mx_whose_ipv6_address_serves_another_certificate() {
    let (run, r) = dual_stack("enforce", |pki, host| {
        smtp_healthy(host, pki.server_config(CertKind::WrongName, &[host]))
    });
    let addrs: Vec<&str> = r.targets[0].addresses.iter().map(String::as_str).collect();
    assert_eq!(addrs, ["127.0.0.1", "::1"]);
    let f = one(
        &r,
        "mta_sts_mx_certificate",
        "fail",
        Some("certificate-host-mismatch"),
    );
    assert_eq!(f.address.as_deref(), Some("::1"));
    assert_eq!(
        r.findings
            .iter()
            .filter(|f| f.code == "mta_sts_mx_certificate")
            .count(),
        1,
        "only the IPv6 address fails"
    );
    one_saying(&r, "mx_family_mismatch", "warn", None, &["serial"]);
    assert_eq!(run.code, 1);
}

#[test]
fn at_verifies_certificates_at_a_chosen_moment() {
    // The test certificates are valid from yesterday for 90 days.
    let (run, r) = sts_run(
        "sts.policy.test",
        CertKind::Good,
        ok(&policy_text("enforce", MX)),
        CertKind::Good,
        &["--at", "+80d"],
    );
    let cert = &r.targets[0].probes[0].tls.as_ref().unwrap().chain[0];
    assert_eq!(cert.lifetime_days, 91, "{cert:#?}");
    assert!((9..=10).contains(&cert.days_left), "{cert:#?}");
    assert!(r.certificates_at.is_some());
    one(&r, "cert_expiring_soon", "warn", None);
    assert!(policy_codes(&r).is_empty(), "{:?}", r.codes());
    assert_eq!(run.code, 0, "{:?}", r.codes());
    // In 100 days both the MX's and the policy host's certificates have expired.
    let (run, r) = sts_run_unfinished(&["--at", "+100d"]);
    let cert = &r.targets[0].probes[0].tls.as_ref().unwrap().chain[0];
    assert!(cert.days_left < 0, "{cert:#?}");
    one(&r, "cert_expired", "fail", Some("certificate-expired"));
    one_saying(
        &r,
        "mta_sts_webpki_invalid",
        "fail",
        Some("sts-webpki-invalid"),
        &["expired"],
    );
    assert_eq!(run.code, 1);
}

/// A run whose policy host's certificate fails: the handshake completes, no request follows.
fn sts_run_unfinished(extra: &[&str]) -> (Run, Report) {
    let dns = DnsServer::start();
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let web = FakeServer::one(vec![
        Step::StartTls(pki.server_config(CertKind::Good, &["mta-sts.sts.policy.test"])),
        Step::ExpectClose,
    ]);
    let smtp = mx(&pki, CertKind::Good);
    let (run, r) = json(
        policy(&dns, "sts.policy.test", smtp.port(), web.port())
            .ca(Some(ca.path()))
            .args(extra),
    );
    web.finish();
    smtp.finish();
    (run, r)
}

#[test]
fn several_domains_in_text_each_with_its_promises() {
    let dns = DnsServer::start();
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let web = https(
        &pki,
        "sts.policy.test",
        CertKind::Good,
        ok(&policy_text("enforce", "mail.elsewhere.test")),
    );
    let cfg = || pki.server_config(CertKind::Good, &[MX]);
    // Both domains have the same MX: the run's cache probes it once.
    let smtp = FakeServer::start(vec![smtp_healthy(MX, cfg())]);
    let run = Mailport::policy("sts.policy.test")
        .arg("none.policy.test")
        .args(["--dns-server", &dns.arg(), "--dns-timeout", "2s"])
        .port(format!("smtp={}", smtp.port()))
        .env("MAILPORT_MTA_STS_PORT", &web.port().to_string())
        .ca(Some(ca.path()))
        .fast_timeouts()
        .run();
    web.finish();
    smtp.finish();
    let out = &run.stdout;
    for line in out.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "MTA-STS id 20261201T000000; mode enforce; max_age 604800; mx: mail.elsewhere.test"
        ),
        "{out}"
    );
    assert!(
        out.contains("MX mx.sts.policy.test: NOT covered by the policy"),
        "{out}"
    );
    assert!(
        out.contains("TLS-RPT   reports to mailto:tlsrpt@policy.test,"),
        "{out}"
    );
    assert!(
        out.contains("MTA-STS   none (no v=STSv1 record at _mta-sts.none.policy.test)"),
        "{out}"
    );
    assert!(
        out.contains("mta_sts_mx_not_covered mx.sts.policy.test"),
        "{out}"
    );
    assert_eq!(run.code, 1, "{out}");
}

#[test]
fn an_mx_offering_starttls_on_one_family_only() {
    let (run, r) = dual_stack("testing", |_, _| {
        crate::support::dialogs::smtp_without_starttls()
    });
    one_saying(
        &r,
        "mx_family_mismatch",
        "warn",
        None,
        &["only 127.0.0.1 offers STARTTLS"],
    );
    // In testing mode the address without STARTTLS is a warning of its own.
    let f = one(
        &r,
        "mta_sts_mx_certificate",
        "warn",
        Some("starttls-not-supported"),
    );
    assert_eq!(f.address.as_deref(), Some("::1"));
    let f = r.finding("starttls_not_offered_relay");
    assert_eq!(f.tlsrpt_result.as_deref(), Some("starttls-not-supported"));
    assert_eq!(run.code, 0, "{:?}", r.codes());
}

#[test]
fn explain_names_the_tlsrpt_result_type() {
    let run = Mailport::new().args(["explain", "mta_sts_redirect"]).run();
    assert_eq!(run.code, 0);
    assert!(
        run.stdout
            .contains("TLS-RPT result type (RFC 8460):\n  sts-policy-fetch-error"),
        "{}",
        run.stdout
    );
    let run = Mailport::new().args(["explain", "cert_expired"]).run();
    assert!(run.stdout.contains("certificate-expired"), "{}", run.stdout);
    let run = Mailport::new().args(["explain", "ptr_missing"]).run();
    assert!(!run.stdout.contains("TLS-RPT"), "{}", run.stdout);
}

#[test]
fn a_chunked_policy_and_one_ended_by_the_close_are_read() {
    let body = policy_text("enforce", MX);
    let (half, rest) = body.split_at(20);
    let chunked = format!(
        "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n{:x}\r\n{half}\r\n{:x}\r\n{rest}\r\n0\r\n\r\n",
        half.len(),
        rest.len()
    );
    let closed = format!("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\n\r\n{body}");
    for response in [chunked, closed] {
        let (run, r) = sts_run(
            "sts.policy.test",
            CertKind::Good,
            response,
            CertKind::Good,
            &[],
        );
        let sts = &r.domains.as_ref().unwrap()[0]
            .policy
            .as_ref()
            .unwrap()
            .mta_sts;
        let fetch = sts.fetch.as_ref().unwrap();
        assert_eq!(fetch.outcome, "ok", "{fetch:#?}");
        assert_eq!(fetch.bytes, body.len() as u64);
        assert_eq!(sts.policy.as_ref().unwrap().mx, [MX]);
        assert!(policy_codes(&r).is_empty(), "{:?}", r.codes());
        assert_eq!(run.code, 0, "{:?}", r.codes());
    }
}
