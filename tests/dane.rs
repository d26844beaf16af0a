//! DANE (RFC 7672) with `check --mx`: TLSA records at `_25._tcp.MX`,
//! validated with DNSSEC from a trust anchor made in the test, against the
//! certificate each address of the MX presents. A signed zone `dane.test.`
//! (keys generated here, signed by hickory-server on load) with an unsigned
//! child zone `plain.dane.test.` (an insecure delegation: no DS), served by
//! the in-process DNS server; the MX hosts are fake SMTP servers on loopback.

use std::io::Write as _;
use std::sync::Arc;

use rustls::pki_types::CertificateDer;

use crate::support::certs::{server_config_from, CertKind, TestPki};
use crate::support::cmd::{Mailport, Run};
use crate::support::dialogs;
use crate::support::dns::DnsServer;
use crate::support::dnssec::{self, hex, Zone, ZoneKey};
use crate::support::report::{DaneMx, Report};
use crate::support::schema::valid_report;
use crate::support::server::FakeServer;

/// The SHA-256 of a certificate's SubjectPublicKeyInfo: a `3 1 1` record's data.
fn spki_sha256(der: &[u8]) -> String {
    let (_, cert) = x509_parser::parse_x509_certificate(der).expect("a certificate");
    hex(ring::digest::digest(&ring::digest::SHA256, cert.public_key().raw).as_ref())
}

/// The SHA-256 of a whole certificate: a `2 0 1` record's data.
fn cert_sha256(der: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, der).as_ref())
}

/// The signed tree: `dane.test.` (signed with `key`, plus `records`) and
/// `plain.dane.test.` (unsigned, plus `plain`); TLSA sets at the names of
/// `broken` get a signature that no longer verifies.
struct Lab {
    dns: DnsServer,
    anchor: tempfile::NamedTempFile,
    key: Arc<ZoneKey>,
}

fn lab(records: &str, plain: &str, broken: &[&str]) -> Lab {
    let key = Arc::new(ZoneKey::generate());
    let soa = |zone: &str| {
        format!(
            "@ 3600 IN SOA ns.dane.test. hostmaster.{zone}. 1 3600 600 86400 60\n\
             @ 3600 IN NS ns.dane.test.\n"
        )
    };
    let signed = Zone {
        origin: "dane.test".into(),
        text: format!(
            "{}ns 3600 IN A 127.0.0.1\ntwo 3600 IN A 127.0.0.2\n\
             plain 3600 IN NS ns.dane.test.\n{records}",
            soa("dane.test")
        ),
        key: Some(key.clone()),
        broken: broken.iter().map(|s| s.to_string()).collect(),
    };
    let unsigned = Zone {
        origin: "plain.dane.test".into(),
        text: format!("{}{plain}", soa("plain.dane.test")),
        key: None,
        broken: Vec::new(),
    };
    // The reverse zone of the MX addresses, so that their PTR checks pass.
    let reverse = Zone {
        origin: "0.0.127.in-addr.arpa".into(),
        text: format!(
            "{}1 3600 IN PTR ns.dane.test.\n2 3600 IN PTR two.dane.test.\n",
            soa("0.0.127.in-addr.arpa")
        ),
        key: None,
        broken: Vec::new(),
    };
    let dns = dnssec::serve(vec![signed, unsigned, reverse]);
    let mut anchor = tempfile::Builder::new()
        .prefix("mailport-anchor-")
        .tempfile()
        .expect("anchor file");
    writeln!(anchor, "; the test's key, as its parent would publish it").unwrap();
    writeln!(anchor, "{}", key.ds_line("dane.test")).unwrap();
    anchor.flush().unwrap();
    Lab { dns, anchor, key }
}

impl Lab {
    /// `check --mx DOMAIN` on `port` spoken as smtp, trusting the test CA
    /// and the lab's DS as the trust anchor.
    fn check(&self, domain: &str, port: u16, pki: &TestPki) -> (Run, Report) {
        let anchor = self.anchor.path().display().to_string();
        self.check_with(domain, port, pki, &["--trust-anchor", &anchor])
    }

    /// [`Lab::check`] with `dnssec` as the DNSSEC options.
    fn check_with(&self, domain: &str, port: u16, pki: &TestPki, dnssec: &[&str]) -> (Run, Report) {
        let ca = pki.ca_file();
        let run = Mailport::check(domain)
            .arg("--mx")
            .args(["--dns-server", &self.dns.arg(), "--dns-timeout", "3s"])
            .args(dnssec)
            .at(port, "smtp")
            .ca(Some(ca.path()))
            .json()
            .fast_timeouts()
            .run();
        let report = valid_report(&run);
        (run, report)
    }

    /// The text report of `check --mx DOMAIN` (nothing listens: the TLSA part only).
    fn text(&self, domain: &str, pki: &TestPki) -> String {
        let ca = pki.ca_file();
        let run = Mailport::check(domain)
            .arg("--mx")
            .args(["--dns-server", &self.dns.arg(), "--dns-timeout", "3s"])
            .arg("--trust-anchor")
            .arg(self.anchor.path())
            .at(crate::support::ports::closed_port(), "smtp")
            .ca(Some(ca.path()))
            .fast_timeouts()
            .run();
        run.stdout
    }
}

/// A fake MX on `127.0.0.1:<port>` presenting a good chain for `name`
/// (leaf + intermediate); its chain, to write records from.
fn mx(pki: &TestPki, name: &str) -> (Vec<CertificateDer<'static>>, FakeServer) {
    let (chain, key) = pki.chain(CertKind::Good, &[name]);
    let server = FakeServer::smtp(dialogs::smtp_healthy(
        name,
        server_config_from(chain.clone(), key),
    ));
    (chain, server)
}

/// The DANE facts of the first MX host of the report's domain.
fn dane(v: &Report) -> &DaneMx {
    let domain = &v.domains.as_ref().expect("--mx domains")[0];
    let policy = domain.policy.as_ref().expect("the domain's promises");
    &policy.dane.as_ref().expect("DANE facts").mx[0]
}

fn dane_codes(v: &Report) -> Vec<&str> {
    v.codes()
        .into_iter()
        .filter(|c| c.starts_with("dane_"))
        .collect()
}

#[test]
fn r17_a_dane_ee_record_for_the_key_in_use_is_secure_and_passes() {
    let pki = TestPki::new();
    let (chain, server) = mx(&pki, "mx.dane.test");
    let lab = lab(
        &format!(
            "ok 3600 IN MX 10 mx.dane.test.\nmx 3600 IN A 127.0.0.1\n\
             _25._tcp.mx 3600 IN TLSA 3 1 1 {}\n",
            spki_sha256(&chain[0])
        ),
        "",
        &[],
    );
    let (run, v) = lab.check("ok.dane.test", server.port(), &pki);
    server.finish();
    let d = dane(&v);
    assert_eq!(d.tlsa.name, "_25._tcp.mx.dane.test");
    assert_eq!(d.tlsa.status, "found");
    assert_eq!(d.tlsa.dnssec, "secure", "{v}");
    assert_eq!(d.tlsa.validated_by.validator, "trust_anchor");
    assert_eq!(
        d.tlsa.validated_by.source.as_deref(),
        Some(lab.anchor.path().to_str().unwrap())
    );
    let a = &d.addresses.as_ref().unwrap()[0];
    assert_eq!(
        (a.address.as_str(), a.result.as_str()),
        ("127.0.0.1", "match")
    );
    assert_eq!((a.matching.clone(), a.not_matching), (vec![0], 0));
    assert!(dane_codes(&v).is_empty(), "{:#?}", v.findings);
    assert_eq!(run.code, 0, "{}", run.stdout);
    // The text says who decided.
    let text = lab.text("ok.dane.test", &pki);
    for line in text.lines() {
        assert!(line.chars().count() <= 80, "too wide: {line:?}");
    }
    let flat = text.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        flat.contains(
            "DANE MX mx.dane.test: _25._tcp.mx.dane.test TLSA 1 record, DNSSEC secure \
             (validated by mailport with --trust-anchor"
        ),
        "{text}"
    );
}

#[test]
fn r17_the_current_and_the_next_key_published_pass_and_count_the_next_one() {
    let pki = TestPki::new();
    let (chain, server) = mx(&pki, "mx.dane.test");
    let (next, _) = pki.chain(CertKind::Good, &["mx.dane.test"]);
    let lab = lab(
        &format!(
            "ok 3600 IN MX 10 mx.dane.test.\nmx 3600 IN A 127.0.0.1\n\
             _25._tcp.mx 3600 IN TLSA 3 1 1 {}\n_25._tcp.mx 3600 IN TLSA 3 1 1 {}\n",
            spki_sha256(&next[0]),
            spki_sha256(&chain[0]),
        ),
        "",
        &[],
    );
    let (run, v) = lab.check("ok.dane.test", server.port(), &pki);
    server.finish();
    let a = &dane(&v).addresses.as_ref().unwrap()[0];
    assert_eq!(a.result, "match");
    assert_eq!((a.matching.len(), a.not_matching), (1, 1), "{v}");
    assert!(dane_codes(&v).is_empty(), "{:#?}", v.findings);
    assert_eq!(run.code, 0);
}

#[test]
fn r17_a_record_for_the_next_key_only_fails_with_the_record_to_publish() {
    let pki = TestPki::new();
    let (chain, server) = mx(&pki, "mx.dane.test");
    let (next, _) = pki.chain(CertKind::Good, &["mx.dane.test"]);
    let lab = lab(
        &format!(
            "ok 3600 IN MX 10 mx.dane.test.\nmx 3600 IN A 127.0.0.1\n\
             _25._tcp.mx 3600 IN TLSA 3 1 1 {}\n",
            spki_sha256(&next[0])
        ),
        "",
        &[],
    );
    let (run, v) = lab.check("ok.dane.test", server.port(), &pki);
    server.finish();
    assert_eq!(dane_codes(&v), ["dane_tlsa_mismatch"], "{:#?}", v.findings);
    let f = v.finding("dane_tlsa_mismatch");
    assert_eq!(f.severity, "fail");
    assert_eq!(f.tlsrpt_result.as_deref(), Some("tlsa-invalid"));
    assert_eq!(f.host, "mx.dane.test");
    assert_eq!(f.address.as_deref(), Some("127.0.0.1"));
    assert!(f.message.contains("mx.dane.test"), "{}", f.message);
    assert!(f.message.contains("next key"), "{}", f.message);
    let spki = spki_sha256(&chain[0]);
    assert!(
        f.hint.contains(&format!(
            "_25._tcp.mx.dane.test. IN TLSA 3 1 1 {}",
            spki.to_lowercase()
        )),
        "{}",
        f.hint
    );
    let a = &dane(&v).addresses.as_ref().unwrap()[0];
    assert_eq!((a.result.as_str(), a.not_matching), ("mismatch", 1));
    assert_eq!(run.code, 1);
}

#[test]
fn r17_a_dane_ta_record_names_the_issuer_and_a_wrong_one_matches_nothing() {
    let pki = TestPki::new();
    let (chain, server) = mx(&pki, "mx.dane.test");
    let (_, other) = mx(&pki, "mx.dane.test");
    // 2 0 1: the intermediate that issued the leaf; and a digest of nothing.
    let lab = lab(
        &format!(
            "ta 3600 IN MX 10 mx.dane.test.\nmx 3600 IN A 127.0.0.1\n\
             _25._tcp.mx 3600 IN TLSA 2 0 1 {}\n\
             bad 3600 IN MX 10 mx2.dane.test.\nmx2 3600 IN A 127.0.0.1\n\
             _25._tcp.mx2 3600 IN TLSA 2 0 1 {}\n",
            cert_sha256(&chain[1]),
            cert_sha256(b"no certificate at all"),
        ),
        "",
        &[],
    );
    let (run, v) = lab.check("ta.dane.test", server.port(), &pki);
    server.finish();
    assert_eq!(
        dane(&v).addresses.as_ref().unwrap()[0].result,
        "match",
        "{v}"
    );
    assert_eq!(run.code, 0, "{:#?}", v.findings);

    let (run, v) = lab.check("bad.dane.test", other.port(), &pki);
    other.finish();
    assert_eq!(dane_codes(&v), ["dane_tlsa_mismatch"], "{:#?}", v.findings);
    let f = v.finding("dane_tlsa_mismatch");
    assert_eq!(f.severity, "fail");
    assert_eq!(f.tlsrpt_result.as_deref(), Some("tlsa-invalid"));
    assert_eq!(run.code, 1);
}

/// A fake MX presenting a leaf of `pki` for `name` sent with `other`'s
/// intermediate: the same subject name as its issuer's, another key.
fn impostor_mx(
    pki: &TestPki,
    other: &TestPki,
    name: &str,
) -> (Vec<CertificateDer<'static>>, FakeServer) {
    let (mut chain, key) = pki.chain(CertKind::Good, &[name]);
    let (theirs, _) = other.chain(CertKind::Good, &[name]);
    chain[1] = theirs[1].clone();
    let server = FakeServer::smtp(dialogs::smtp_healthy(
        name,
        server_config_from(chain.clone(), key),
    ));
    (chain, server)
}

#[test]
fn r17c_a_dane_ta_record_for_an_intermediate_that_did_not_sign_the_leaf_fails() {
    let pki = TestPki::new();
    let other = TestPki::new();
    let (chain, server) = impostor_mx(&pki, &other, "mx.dane.test");
    let (_, by_key) = impostor_mx(&pki, &other, "mx2.dane.test");
    let (theirs, _) = other.chain(CertKind::Good, &["x.dane.test"]);
    // The issuer's name is right (the old check by names said "match"); its
    // key is not the one that signed the leaf. 2 0 1 names the certificate,
    // 2 1 1 its key.
    let lab = lab(
        &format!(
            "ta 3600 IN MX 10 mx.dane.test.\nmx 3600 IN A 127.0.0.1\n\
             _25._tcp.mx 3600 IN TLSA 2 0 1 {}\n\
             key 3600 IN MX 10 mx2.dane.test.\nmx2 3600 IN A 127.0.0.1\n\
             _25._tcp.mx2 3600 IN TLSA 2 1 1 {}\n",
            cert_sha256(&chain[1]),
            spki_sha256(&theirs[1]),
        ),
        "",
        &[],
    );
    for (domain, server) in [("ta.dane.test", server), ("key.dane.test", by_key)] {
        let (run, v) = lab.check(domain, server.port(), &pki);
        server.finish();
        let a = &dane(&v).addresses.as_ref().unwrap()[0];
        assert_eq!((a.result.as_str(), a.not_matching), ("mismatch", 1), "{v}");
        let detail = a.detail.as_deref().unwrap_or_default();
        assert!(
            detail.contains(
                "the leaf does not chain by signatures to the DANE-TA certificate (certificate 2)"
            ) && detail.contains("a signature does not verify"),
            "{detail}"
        );
        assert_eq!(dane_codes(&v), ["dane_tlsa_mismatch"], "{:#?}", v.findings);
        let f = v.finding("dane_tlsa_mismatch");
        assert!(f.message.contains(detail), "{}", f.message);
        assert_eq!(f.severity, "fail");
        assert_eq!(run.code, 1);
    }
}

#[test]
fn r17_tlsa_records_in_an_unsigned_zone_are_not_usable_and_never_pass() {
    let pki = TestPki::new();
    let (chain, server) = mx(&pki, "mx.plain.dane.test");
    let lab = lab(
        "",
        &format!(
            "@ 3600 IN MX 10 mx.plain.dane.test.\nmx 3600 IN A 127.0.0.1\n\
             _25._tcp.mx 3600 IN TLSA 3 1 1 {}\n",
            spki_sha256(&chain[0])
        ),
        &[],
    );
    let (run, v) = lab.check("plain.dane.test", server.port(), &pki);
    server.finish();
    let d = dane(&v);
    assert_eq!(d.tlsa.status, "found");
    assert_eq!(d.tlsa.dnssec, "insecure", "{v}");
    assert_eq!(dane_codes(&v), ["dane_tlsa_insecure"], "{:#?}", v.findings);
    let f = v.finding("dane_tlsa_insecure");
    assert_eq!(f.severity, "warn");
    assert_eq!(
        f.tlsrpt_result, None,
        "not a failure senders report: they ignore the records"
    );
    assert!(f.message.contains("not usable"), "{}", f.message);
    assert_eq!(
        run.code, 0,
        "a warning does not fail at the default --fail-on"
    );
}

#[test]
fn r17_a_broken_signature_on_the_tlsa_records_is_bogus_and_fails() {
    let pki = TestPki::new();
    let (chain, server) = mx(&pki, "mx.dane.test");
    let lab = lab(
        &format!(
            "ok 3600 IN MX 10 mx.dane.test.\nmx 3600 IN A 127.0.0.1\n\
             _25._tcp.mx 3600 IN TLSA 3 1 1 {}\n",
            spki_sha256(&chain[0])
        ),
        "",
        &["_25._tcp.mx.dane.test"],
    );
    let (run, v) = lab.check("ok.dane.test", server.port(), &pki);
    server.finish();
    let d = dane(&v);
    assert_eq!(d.tlsa.dnssec, "bogus", "{v}");
    assert_eq!(d.tlsa.records.len(), 1, "the records are shown as served");
    assert_eq!(dane_codes(&v), ["dane_tlsa_bogus"], "{:#?}", v.findings);
    let f = v.finding("dane_tlsa_bogus");
    assert_eq!(f.severity, "fail");
    assert_eq!(f.tlsrpt_result.as_deref(), Some("dnssec-invalid"));
    assert!(f.message.contains("defer"), "{}", f.message);
    assert_eq!(run.code, 1);
}

#[test]
fn r17_of_two_addresses_only_the_one_with_another_key_fails() {
    let pki = TestPki::new();
    let (chain, good) = mx(&pki, "two.dane.test");
    let (other_chain, other_key) = pki.chain(CertKind::Good, &["two.dane.test"]);
    let at = std::net::SocketAddr::from(([127, 0, 0, 2], good.port()));
    let stale = FakeServer::start_at(
        at,
        vec![dialogs::smtp_healthy(
            "two.dane.test",
            server_config_from(other_chain, other_key),
        )],
    );
    let lab = lab(
        &format!(
            "pair 3600 IN MX 10 two.dane.test.\ntwo 3600 IN A 127.0.0.1\n\
             _25._tcp.two 3600 IN TLSA 3 1 1 {}\n",
            spki_sha256(&chain[0])
        ),
        "",
        &[],
    );
    let (run, v) = lab.check("pair.dane.test", good.port(), &pki);
    good.finish();
    stale.finish();
    let results: Vec<(&str, &str)> = dane(&v)
        .addresses
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| (a.address.as_str(), a.result.as_str()))
        .collect();
    assert_eq!(
        results,
        [("127.0.0.1", "match"), ("127.0.0.2", "mismatch")],
        "{v}"
    );
    let mismatches: Vec<_> = v
        .findings
        .iter()
        .filter(|f| f.code == "dane_tlsa_mismatch")
        .collect();
    assert_eq!(mismatches.len(), 1, "{:#?}", v.findings);
    assert_eq!(mismatches[0].address.as_deref(), Some("127.0.0.2"));
    assert_eq!(mismatches[0].severity, "fail");
    assert_eq!(mismatches[0].tlsrpt_result.as_deref(), Some("tlsa-invalid"));
    assert!(mismatches[0]
        .message
        .contains("127.0.0.2 of MX two.dane.test"));
    assert_eq!(run.code, 1);
}

#[test]
fn r17_a_dnskey_anchor_works_as_a_ds_does_and_an_authoritative_servers_ad_bit_proves_nothing() {
    let pki = TestPki::new();
    let (chain, server) = mx(&pki, "mx.dane.test");
    let (_, second) = mx(&pki, "mx.dane.test");
    let lab = lab(
        &format!(
            "ok 3600 IN MX 10 mx.dane.test.\nmx 3600 IN A 127.0.0.1\n\
             _25._tcp.mx 3600 IN TLSA 3 1 1 {}\n",
            spki_sha256(&chain[0])
        ),
        "",
        &[],
    );
    let mut dnskey = tempfile::NamedTempFile::new().unwrap();
    writeln!(dnskey, "{}", lab.key.dnskey_line("dane.test")).unwrap();
    let path = dnskey.path().display().to_string();
    let (run, v) = lab.check_with(
        "ok.dane.test",
        server.port(),
        &pki,
        &["--trust-anchor", &path],
    );
    server.finish();
    assert_eq!(dane(&v).tlsa.dnssec, "secure", "{v}");
    assert_eq!(run.code, 0, "{:#?}", v.findings);

    // hickory-server answers with authority but does not validate: no AD
    // bit, so with --trust-ad the records are not secure, and not usable.
    let (run, v) = lab.check_with("ok.dane.test", second.port(), &pki, &["--trust-ad"]);
    second.finish();
    let d = dane(&v);
    assert_eq!(d.tlsa.validated_by.validator, "ad_bit");
    assert_eq!(
        d.tlsa.validated_by.source.as_deref(),
        Some(lab.dns.arg().as_str())
    );
    assert_eq!(d.tlsa.dnssec, "insecure", "{v}");
    assert!(d
        .tlsa
        .detail
        .as_deref()
        .unwrap_or("")
        .contains("did not set the AD bit"));
    assert_eq!(dane_codes(&v), ["dane_tlsa_insecure"], "{:#?}", v.findings);
    assert_eq!(run.code, 0);
}

#[test]
fn r17_trust_anchor_and_trust_ad_are_checked_before_anything_runs() {
    let mut bad = tempfile::NamedTempFile::new().unwrap();
    writeln!(bad, "dane.test. IN A 192.0.2.1").unwrap();
    let run = Mailport::check("example.test")
        .arg("--mx")
        .arg("--trust-anchor")
        .arg(bad.path())
        .run();
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(
        run.stderr
            .contains("only DS and DNSKEY records are trust anchors"),
        "{}",
        run.stderr
    );
    let run = Mailport::check("example.test")
        .args(["--mx", "--trust-ad"])
        .run();
    assert_eq!(run.code, 2);
    assert!(run.stderr.contains("--dns-server"), "{}", run.stderr);
}

#[test]
fn r17_policy_and_json_lines_carry_dane_too() {
    let pki = TestPki::new();
    let (_, server) = mx(&pki, "mx.dane.test");
    let (_, streamed) = mx(&pki, "mx.dane.test");
    let (next, _) = pki.chain(CertKind::Good, &["mx.dane.test"]);
    let lab = lab(
        &format!(
            "ok 3600 IN MX 10 mx.dane.test.\nmx 3600 IN A 127.0.0.1\n\
             _25._tcp.mx 3600 IN TLSA 3 1 1 {}\n",
            spki_sha256(&next[0])
        ),
        "",
        &[],
    );
    let ca = pki.ca_file();
    let anchor = lab.anchor.path().display().to_string();
    let port = server.port();
    let run = Mailport::policy("ok.dane.test")
        .args(["--dns-server", &lab.dns.arg(), "--trust-anchor", &anchor])
        .at(port, "smtp")
        .ca(Some(ca.path()))
        .json()
        .fast_timeouts()
        .run();
    server.finish();
    let v = valid_report(&run);
    assert_eq!(v.command, "policy");
    // `policy` probes port 25 besides the stand-in: nothing there, not checked.
    let results: Vec<(u16, &str)> = dane(&v)
        .addresses
        .as_ref()
        .unwrap()
        .iter()
        .map(|a| (a.port, a.result.as_str()))
        .collect();
    assert!(results.contains(&(port, "mismatch")), "{results:?}");
    assert!(
        results
            .iter()
            .all(|(p, r)| *p == port || *r == "not_checked"),
        "{results:?}"
    );
    let f = v.finding("dane_tlsa_mismatch");
    assert_eq!(
        (f.severity.as_str(), f.tlsrpt_result.as_deref()),
        ("fail", Some("tlsa-invalid"))
    );
    let t = v.finding("tlsrpt_missing");
    assert!(t.message.contains("publishes DANE"), "{}", t.message);
    assert_eq!(run.code, 1);

    // Host by host (JSON Lines): the domain's line has the matched addresses,
    // the MX host's line the finding.
    let run = Mailport::check("ok.dane.test")
        .arg("--mx")
        .args(["--dns-server", &lab.dns.arg(), "--trust-anchor", &anchor])
        .at(streamed.port(), "smtp")
        .ca(Some(ca.path()))
        .jsonl()
        .fast_timeouts()
        .run();
    streamed.finish();
    let lines = run.lines();
    let domain = &lines.domains()[0].lookup;
    let dane = domain.policy.as_ref().unwrap().dane.as_ref().unwrap();
    assert_eq!(dane.mx[0].addresses.as_ref().unwrap()[0].result, "mismatch");
    let host = lines.hosts()[0];
    assert!(
        host.findings.iter().any(|f| f.code == "dane_tlsa_mismatch"),
        "{:#?}",
        host.findings
    );
    assert_eq!(run.code, 1);
}
