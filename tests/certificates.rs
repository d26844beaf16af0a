//! Every certificate verdict, on loopback with certificates made by rcgen:
//! the chain is recorded first, then verified for real, and a bad certificate
//! never cuts the probe short.

use crate::support::certs::{
    CertKind, TestPki, AIA_URL, INTERMEDIATE_CN, PRIVATE_CA_CN, ROOT_CN, UNKNOWN_CA_CN, WRONG_NAME,
};
use crate::support::cmd::Run;
use crate::support::dialogs::{self, Recorded};
use crate::support::report::{Probe, Tls};
use crate::support::server::FakeServer;
use crate::support::{check_fake, HOST};

/// Probe a 465-style server presenting a certificate of `kind`; return the probe and exit code.
fn probe_with(kind: CertKind) -> (Probe, Vec<String>, i32) {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(
        Recorded::smtp("postfix-3.7.11-smtps").implicit(pki.server_config(kind, &[HOST])),
    );
    let run = check_fake(server.port(), "submissions", Some(ca.path())).run();
    server.finish();
    let probe = run.probe();
    // The probe went on after the handshake whatever the verdict.
    assert_eq!(probe.outcome, "ok", "{probe:#}");
    assert!(
        !probe.capabilities_tls.is_empty(),
        "EHLO after TLS is missing: {probe:#}"
    );
    (probe, run.finding_codes(), run.code)
}

/// Every detail of every certificate is present.
fn assert_chain_details(tls: &Tls) {
    assert!(!tls.chain.is_empty());
    for c in &tls.chain {
        for (field, value) in [
            ("subject", &c.subject),
            ("issuer", &c.issuer),
            ("serial", &c.serial),
            ("not_before", &c.not_before),
            ("not_after", &c.not_after),
            ("key_type", &c.key_type),
            ("signature_algorithm", &c.signature_algorithm),
        ] {
            assert!(!value.is_empty(), "{field} missing in {c:#?}");
        }
        assert!(c.key_bits >= 256, "{c:#?}");
        // days_left (an integer) and sans (a list) are typed fields.
    }
}

#[test]
fn good_certificate_is_valid() {
    let (p, findings, code) = probe_with(CertKind::Good);
    let tls = p.tls();
    assert_eq!(tls.verdict, "valid");
    assert!(tls.verdict_detail.is_none());
    assert_eq!(tls.verified_name, HOST);
    assert_chain_details(tls);
    let chain = &tls.chain;
    assert_eq!(chain.len(), 2, "leaf and intermediate");
    assert!(chain[0].sans.contains(&"DNS:mail.example.test".to_string()));
    assert!(chain[0].issuer.contains(INTERMEDIATE_CN));
    assert!(chain[1].issuer.contains(ROOT_CN));
    assert!(chain[0].days_left > 21);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(code, 0);
}

#[test]
fn expired_certificate_is_expired_with_its_dates() {
    let (p, findings, code) = probe_with(CertKind::Expired);
    assert_eq!(p.tls().verdict, "expired");
    assert_chain_details(p.tls());
    assert!(p.tls().chain[0].days_left < 0);
    assert!(p
        .tls()
        .verdict_detail
        .as_deref()
        .unwrap()
        .contains("expired on"));
    assert_eq!(findings, ["cert_expired"]);
    assert_eq!(code, 1);
}

#[test]
fn not_yet_valid_certificate() {
    let (p, findings, code) = probe_with(CertKind::NotYetValid);
    assert_eq!(p.tls().verdict, "not_yet_valid");
    assert_chain_details(p.tls());
    assert_eq!(findings, ["cert_not_yet_valid"]);
    assert_eq!(code, 1);
}

#[test]
fn wrong_name_is_a_name_mismatch_naming_both_names() {
    let (p, findings, code) = probe_with(CertKind::WrongName);
    assert_eq!(p.tls().verdict, "name_mismatch");
    let detail = p.tls().verdict_detail.as_deref().unwrap();
    assert!(
        detail.contains(HOST) && detail.contains(WRONG_NAME),
        "{detail}"
    );
    assert_chain_details(p.tls());
    assert_eq!(findings, ["cert_name_mismatch"]);
    assert_eq!(code, 1);
}

#[test]
fn self_signed_certificate() {
    let (p, findings, _) = probe_with(CertKind::SelfSigned);
    assert_eq!(p.tls().verdict, "self_signed");
    assert_eq!(p.tls().chain.len(), 1);
    assert!(p.tls().chain[0].self_issued);
    assert_eq!(findings, ["cert_self_signed"]);
}

#[test]
fn unknown_ca_is_untrusted() {
    let (p, findings, _) = probe_with(CertKind::UnknownCa);
    assert_eq!(p.tls().verdict, "untrusted");
    assert!(p
        .tls()
        .verdict_detail
        .as_deref()
        .unwrap()
        .contains(UNKNOWN_CA_CN));
    assert_chain_details(p.tls());
    assert_eq!(findings, ["cert_untrusted"]);
}

#[test]
fn leaf_without_its_intermediate_is_an_incomplete_chain() {
    let (p, findings, _) = probe_with(CertKind::MissingIntermediate);
    assert_eq!(p.tls().verdict, "incomplete_chain");
    assert_eq!(p.tls().chain.len(), 1);
    assert!(p
        .tls()
        .verdict_detail
        .as_deref()
        .unwrap()
        .contains(INTERMEDIATE_CN));
    // r12: the leaf says where its issuer is: the chain is incomplete, not the CA private.
    assert!(
        p.tls().verdict_detail.as_deref().unwrap().contains(AIA_URL),
        "{p:#}"
    );
    assert_eq!(findings, ["cert_incomplete_chain"]);
}

/// r12: a private CA without --ca-file is not called an incomplete chain
/// (that sends the admin to reconfigure a correct server): it says both.
#[test]
fn r12_a_leaf_from_a_private_ca_without_the_ca_file_is_an_unknown_issuer() {
    let (p, findings, code) = probe_with(CertKind::PrivateCaLeafOnly);
    let tls = p.tls();
    assert_eq!(tls.verdict, "unknown_issuer", "{p:#}");
    let detail = tls.verdict_detail.as_deref().unwrap();
    for words in [PRIVATE_CA_CN, "private", "--ca-file", "incomplete"] {
        assert!(detail.contains(words), "{words}: {detail}");
    }
    assert_eq!(findings, ["cert_unknown_issuer"]);
    assert_eq!(code, 1);
}

#[test]
fn without_the_ca_file_the_test_ca_is_not_trusted() {
    let pki = TestPki::new();
    let server = FakeServer::smtp(dialogs::smtp_implicit(
        pki.server_config(CertKind::Good, &[HOST]),
    ));
    let run = check_fake(server.port(), "submissions", None).run();
    server.finish();
    // The chain is complete (leaf and intermediate): its root is not trusted.
    assert_eq!(run.probe().tls().verdict, "untrusted", "{:#}", run.probe());
    assert_eq!(run.code, 1);
}

#[test]
fn tls_name_checks_another_name() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(dialogs::smtp_implicit(
        pki.server_config(CertKind::Good, &[HOST]),
    ));
    let run = check_fake(server.port(), "submissions", Some(ca.path()))
        .args(["--tls-name", "smtp.example.test"])
        .run();
    server.finish();
    assert_eq!(run.probe().tls().verdict, "name_mismatch");
    assert_eq!(run.probe().tls().verified_name, "smtp.example.test");
}

fn serve_465(tls: std::sync::Arc<rustls::ServerConfig>) -> FakeServer {
    FakeServer::smtp(dialogs::smtp_implicit(tls))
}

#[test]
fn an_expired_intermediate_is_named_with_its_own_date() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = serve_465(pki.expired_intermediate_config(&[HOST], 30));
    let run = check_fake(server.port(), "submissions", Some(ca.path())).run();
    server.finish();
    let p = run.probe();
    let tls = p.tls();
    assert_eq!(tls.verdict, "expired", "{tls:#}");
    let detail = tls.verdict_detail.as_deref().unwrap();
    assert!(detail.contains("mailport expired intermediate"), "{detail}");
    assert!(
        detail.contains("30 days ago") || detail.contains("29 days ago"),
        "{detail}"
    );
    assert!(detail.contains(&tls.chain[1].not_after), "{detail}");
}

#[test]
fn a_self_signed_ca_certificate_used_as_the_servers_is_self_signed_in_words() {
    let pki = TestPki::new();
    let (tls, pem) = pki.ca_as_leaf_config(&[HOST]);
    // Even when it is the trust anchor itself.
    let mut file = tempfile::NamedTempFile::new().unwrap();
    std::io::Write::write_all(&mut file, pem.as_bytes()).unwrap();
    for ca in [None, Some(file.path())] {
        let server = serve_465(tls.clone());
        let run = check_fake(server.port(), "submissions", ca).run();
        server.finish();
        let p = run.probe();
        let t = p.tls();
        assert_eq!(t.verdict, "self_signed", "{t:#}");
        let detail = t.verdict_detail.as_deref().unwrap();
        assert!(!detail.contains("Other("), "Debug output leaked: {detail}");
        if ca.is_some() {
            assert!(detail.contains("CA:TRUE"), "{detail}");
        }
    }
}

/// `check` of port 465 of a Postfix serving an expired certificate from a
/// CA it is given.
fn expired_on_465() -> Run {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(
        Recorded::smtp("postfix-3.7.11-smtps")
            .implicit(pki.server_config(CertKind::Expired, &[HOST])),
    );
    let run = check_fake(server.port(), "submissions", Some(ca.path())).run();
    server.finish();
    run
}

/// r12: an expired certificate behind a working dialog is `ok` on the wire and
/// `fail` overall, and the summary counts it as a failure.
#[test]
fn r12_a_failing_certificate_is_not_an_ok_probe() {
    let run = expired_on_465();
    let p = run.probe();
    assert_eq!(p.outcome, "ok", "{p:#}");
    assert_eq!(p.verdict, "fail", "{p:#}");
    assert_eq!(p.verdict_code.as_deref(), Some("cert_expired"));
    let summary = run.report().summary;
    assert_eq!((summary.ok, summary.not_ok), (1, 0), "the wire outcome");
    assert_eq!((summary.verdicts.ok, summary.verdicts.fail), (0, 1));
    assert_eq!(run.code, 1);

    let (good, _, code) = probe_with(CertKind::Good);
    assert_eq!((good.verdict.as_str(), good.verdict_code), ("ok", None));
    assert_eq!(code, 0);
}

/// r14: a certificate valid only in 1950–1969 (before the UNIX epoch).
#[test]
fn r14_a_certificate_from_before_1970_is_named_with_its_real_dates() {
    let (p, findings, code) = probe_with(CertKind::Ancient);
    let tls = p.tls();
    let leaf = &tls.chain[0];
    assert!(leaf.not_after.starts_with("1969-12-31"), "{leaf:#?}");
    assert!(leaf.not_before.starts_with("1950-01-01"), "{leaf:#?}");
    assert!(leaf.days_left < -20_000, "{leaf:#?}");
    // webpki calls it malformed (it cannot read the date): it is an expired certificate, with its date.
    assert_eq!(tls.verdict, "expired", "{tls:#?}");
    let detail = tls.verdict_detail.as_deref().unwrap();
    assert!(detail.contains("expired on 1969-12-31"), "{detail}");
    assert_eq!(findings, ["cert_expired"]);
    assert_eq!(code, 1);
}

/// A certificate failure on the SMTP relay port carries its RFC 8460 result
/// type (what a sender's TLS-RPT report says); the same failure on 465 does
/// not, TLS-RPT being about delivery to an MX.
#[test]
fn relay_certificate_failures_carry_their_tlsrpt_result_type() {
    for (kind, code, result) in [
        (CertKind::Expired, "cert_expired", "certificate-expired"),
        (
            CertKind::UnknownCa,
            "cert_untrusted",
            "certificate-not-trusted",
        ),
    ] {
        let pki = TestPki::new();
        let ca = pki.ca_file();
        let server = FakeServer::smtp(
            Recorded::smtp("postfix-3.7.11").starttls(pki.server_config(kind, &[HOST])),
        );
        let ca_path = (kind == CertKind::Expired).then(|| ca.path());
        let run = check_fake(server.port(), "smtp", ca_path).run();
        server.finish();
        let report = run.report();
        let f = report.finding(code);
        assert_eq!(f.tlsrpt_result.as_deref(), Some(result), "{f:#?}");
        assert_eq!(f.severity, "fail");
        assert_eq!(run.code, 1);
    }
    let run = expired_on_465();
    assert_eq!(run.report().finding("cert_expired").tlsrpt_result, None);
}
