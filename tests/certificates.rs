//! Every certificate verdict, on loopback with certificates made by rcgen:
//! the chain is recorded first, then verified for real, and a bad certificate
//! never cuts the probe short.

use crate::support::certs::{
    CertKind, TestPki, INTERMEDIATE_CN, ROOT_CN, UNKNOWN_CA_CN, WRONG_NAME,
};
use crate::support::server::{FakeServer, Step};
use crate::support::{check, HOST};
use serde_json::Value;

/// Probe a 465-style server presenting a certificate of `kind`; return the probe and exit code.
fn probe_with(kind: CertKind) -> (Value, Vec<String>, i32) {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(vec![
        Step::StartTls(pki.server_config(kind, &[HOST])),
        Step::Fixture("smtp/postfix-3.7.11-smtps/greeting"),
        Step::Expect("EHLO "),
        Step::Fixture("smtp/postfix-3.7.11-smtps/ehlo"),
        Step::Expect("QUIT"),
        Step::Fixture("smtp/postfix-3.7.11-smtps/quit"),
    ]);
    let run = check(server.port(), "submissions", Some(ca.path()), &[]);
    server.finish();
    let probe = run.probe();
    // The probe went on after the handshake whatever the verdict.
    assert_eq!(probe["outcome"], "ok", "{probe:#}");
    assert!(
        !probe["capabilities_tls"].as_array().unwrap().is_empty(),
        "EHLO after TLS is missing: {probe:#}"
    );
    (probe, run.finding_codes(), run.code)
}

/// Every detail of every certificate is present.
fn assert_chain_details(tls: &Value) {
    let chain = tls["chain"].as_array().unwrap();
    assert!(!chain.is_empty());
    for c in chain {
        for field in [
            "subject",
            "issuer",
            "serial",
            "not_before",
            "not_after",
            "key_type",
            "signature_algorithm",
        ] {
            assert!(
                c[field].as_str().is_some_and(|s| !s.is_empty()),
                "{field} missing in {c:#}"
            );
        }
        assert!(c["key_bits"].as_u64().unwrap() >= 256, "{c:#}");
        assert!(c["days_left"].is_i64());
        assert!(c["sans"].is_array());
    }
}

#[test]
fn good_certificate_is_valid() {
    let (p, findings, code) = probe_with(CertKind::Good);
    let tls = &p["tls"];
    assert_eq!(tls["verdict"], "valid");
    assert!(tls["verdict_detail"].is_null());
    assert_eq!(tls["verified_name"], HOST);
    assert_chain_details(tls);
    let chain = tls["chain"].as_array().unwrap();
    assert_eq!(chain.len(), 2, "leaf and intermediate");
    assert!(chain[0]["sans"]
        .as_array()
        .unwrap()
        .contains(&Value::from("DNS:mail.example.test")));
    assert!(chain[0]["issuer"]
        .as_str()
        .unwrap()
        .contains(INTERMEDIATE_CN));
    assert!(chain[1]["issuer"].as_str().unwrap().contains(ROOT_CN));
    assert!(chain[0]["days_left"].as_i64().unwrap() > 21);
    assert!(findings.is_empty(), "{findings:?}");
    assert_eq!(code, 0);
}

#[test]
fn expired_certificate_is_expired_with_its_dates() {
    let (p, findings, code) = probe_with(CertKind::Expired);
    assert_eq!(p["tls"]["verdict"], "expired");
    assert_chain_details(&p["tls"]);
    assert!(p["tls"]["chain"][0]["days_left"].as_i64().unwrap() < 0);
    assert!(p["tls"]["verdict_detail"]
        .as_str()
        .unwrap()
        .contains("expired on"));
    assert_eq!(findings, ["cert_expired"]);
    assert_eq!(code, 1);
}

#[test]
fn not_yet_valid_certificate() {
    let (p, findings, code) = probe_with(CertKind::NotYetValid);
    assert_eq!(p["tls"]["verdict"], "not_yet_valid");
    assert_chain_details(&p["tls"]);
    assert_eq!(findings, ["cert_not_yet_valid"]);
    assert_eq!(code, 1);
}

#[test]
fn wrong_name_is_a_name_mismatch_naming_both_names() {
    let (p, findings, code) = probe_with(CertKind::WrongName);
    assert_eq!(p["tls"]["verdict"], "name_mismatch");
    let detail = p["tls"]["verdict_detail"].as_str().unwrap();
    assert!(
        detail.contains(HOST) && detail.contains(WRONG_NAME),
        "{detail}"
    );
    assert_chain_details(&p["tls"]);
    assert_eq!(findings, ["cert_name_mismatch"]);
    assert_eq!(code, 1);
}

#[test]
fn self_signed_certificate() {
    let (p, findings, _) = probe_with(CertKind::SelfSigned);
    assert_eq!(p["tls"]["verdict"], "self_signed");
    assert_eq!(p["tls"]["chain"].as_array().unwrap().len(), 1);
    assert_eq!(p["tls"]["chain"][0]["self_issued"], true);
    assert_eq!(findings, ["cert_self_signed"]);
}

#[test]
fn unknown_ca_is_untrusted() {
    let (p, findings, _) = probe_with(CertKind::UnknownCa);
    assert_eq!(p["tls"]["verdict"], "untrusted");
    assert!(p["tls"]["verdict_detail"]
        .as_str()
        .unwrap()
        .contains(UNKNOWN_CA_CN));
    assert_chain_details(&p["tls"]);
    assert_eq!(findings, ["cert_untrusted"]);
}

#[test]
fn leaf_without_its_intermediate_is_an_incomplete_chain() {
    let (p, findings, _) = probe_with(CertKind::MissingIntermediate);
    assert_eq!(p["tls"]["verdict"], "incomplete_chain");
    assert_eq!(p["tls"]["chain"].as_array().unwrap().len(), 1);
    assert!(p["tls"]["verdict_detail"]
        .as_str()
        .unwrap()
        .contains(INTERMEDIATE_CN));
    assert_eq!(findings, ["cert_incomplete_chain"]);
}

#[test]
fn without_the_ca_file_the_test_ca_is_not_trusted() {
    let pki = TestPki::new();
    let server = FakeServer::smtp(vec![
        Step::StartTls(pki.server_config(CertKind::Good, &[HOST])),
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO "),
        Step::send("250 mail.example.test\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let run = check(server.port(), "submissions", None, &[]);
    server.finish();
    // The chain is complete (leaf and intermediate): its root is not trusted.
    assert_eq!(
        run.probe()["tls"]["verdict"],
        "untrusted",
        "{:#}",
        run.probe()
    );
    assert_eq!(run.code, 1);
}

#[test]
fn tls_name_checks_another_name() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(vec![
        Step::StartTls(pki.server_config(CertKind::Good, &[HOST])),
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO "),
        Step::send("250 mail.example.test\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ]);
    let run = check(
        server.port(),
        "submissions",
        Some(ca.path()),
        &["--tls-name", "smtp.example.test"],
    );
    server.finish();
    assert_eq!(run.probe()["tls"]["verdict"], "name_mismatch");
    assert_eq!(run.probe()["tls"]["verified_name"], "smtp.example.test");
}

fn serve_465(tls: std::sync::Arc<rustls::ServerConfig>) -> FakeServer {
    FakeServer::smtp(vec![
        Step::StartTls(tls),
        Step::send("220 mail.example.test ESMTP\r\n"),
        Step::Expect("EHLO "),
        Step::send("250 mail.example.test\r\n"),
        Step::Expect("QUIT"),
        Step::send("221 bye\r\n"),
    ])
}

#[test]
fn an_expired_intermediate_is_named_with_its_own_date() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = serve_465(pki.expired_intermediate_config(&[HOST], 30));
    let run = check(server.port(), "submissions", Some(ca.path()), &[]);
    server.finish();
    let tls = &run.probe()["tls"];
    assert_eq!(tls["verdict"], "expired", "{tls:#}");
    let detail = tls["verdict_detail"].as_str().unwrap();
    assert!(detail.contains("mailport expired intermediate"), "{detail}");
    assert!(
        detail.contains("30 days ago") || detail.contains("29 days ago"),
        "{detail}"
    );
    assert_eq!(
        tls["chain"][1]["not_after"]
            .as_str()
            .map(|d| detail.contains(d)),
        Some(true)
    );
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
        let run = check(server.port(), "submissions", ca, &[]);
        server.finish();
        let t = &run.probe()["tls"];
        assert_eq!(t["verdict"], "self_signed", "{t:#}");
        let detail = t["verdict_detail"].as_str().unwrap();
        assert!(!detail.contains("Other("), "Debug output leaked: {detail}");
        if ca.is_some() {
            assert!(detail.contains("CA:TRUE"), "{detail}");
        }
    }
}
