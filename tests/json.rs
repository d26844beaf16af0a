//! The JSON report as a contract: real `mailport check --json` output is
//! validated against `src/report.schema.json` and read back into types
//! defined here (not the crate's own structs), like ripgrep's tests/json.rs.

use serde_json::Value;

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::Mailport;
use crate::support::dialogs;
use crate::support::ports::closed_port;
use crate::support::report::{Probe, Report};
use crate::support::schema::{assert_valid, errors as schema_errors, schema};
use crate::support::server::FakeServer;
use crate::support::HOST;

/// Run `mailport check ARGS --json`, assert the exit code, validate the
/// output against the schema and read it into the contract types.
#[track_caller]
fn check_json(cmd: Mailport, expected_code: i32) -> (String, Value, Report) {
    let cmd = cmd.json();
    let run = cmd.run();
    let stdout = String::from_utf8(run.stdout_bytes.clone()).expect("stdout is UTF-8");
    assert_eq!(
        run.code,
        expected_code,
        "exit status of mailport {:?}\n--- stdout ---\n{stdout}\n--- stderr ---\n{}",
        cmd.argv(),
        run.stderr
    );
    let value: Value = serde_json::from_str(&stdout)
        .unwrap_or_else(|e| panic!("stdout is not JSON: {e}\n{stdout}"));
    assert_valid(&value, &stdout);
    let report: Report = serde_json::from_value(value.clone())
        .unwrap_or_else(|e| panic!("the report does not fit the contract types: {e}\n{stdout}"));
    assert_common(&stdout, &report);
    (stdout, value, report)
}

/// What holds for every report.
#[track_caller]
fn assert_common(text: &str, report: &Report) {
    assert!(
        text.starts_with("{\n  \"schema_version\": 1,\n"),
        "schema_version must be the first key:\n{text}"
    );
    assert!(text.ends_with("}\n"), "one JSON document and a newline");
    assert_eq!(report.schema_version, 1);
    assert_eq!(report.tool.name, "mailport");
    assert_eq!(report.tool.version, env!("CARGO_PKG_VERSION"));
    assert!(report.started_at.ends_with('Z'), "{}", report.started_at);
    let probes: Vec<&Probe> = report.targets.iter().flat_map(|t| &t.probes).collect();
    assert_eq!(report.summary.probes, probes.len());
    assert_eq!(
        report.summary.ok,
        probes.iter().filter(|p| p.outcome == "ok").count()
    );
    assert_eq!(report.summary.ok + report.summary.not_ok, probes.len());
    assert_eq!(report.summary.fail, report.fail_codes().len());
    for p in &probes {
        assert!(
            report.duration_ms >= p.total_ms,
            "a probe cannot outlast the check"
        );
        for ph in &p.phases {
            assert!(ph.ms <= p.total_ms, "{ph:?} longer than the probe");
        }
        // A failure is explained in words and, once a phase ran, pinned to it.
        assert_eq!(p.outcome == "ok", p.detail.is_none(), "{p:?}");
        match p.outcome.as_str() {
            "ok" => assert!(p.failed_phase.is_none(), "{p:?}"),
            "dns_failed" => assert!(p.phases.is_empty(), "{p:?}"),
            _ => {
                let failed = p.failed_phase.as_deref().expect("failed_phase");
                assert!(
                    p.phases.iter().any(|ph| ph.phase == failed && !ph.ok),
                    "failed_phase {failed} is a failed phase record: {p:?}"
                );
            }
        }
    }
    for f in &report.findings {
        assert!(!f.message.is_empty() && !f.hint.is_empty(), "{f:?}");
    }
}

/// mailport pointed at a fake server on `port` as `HOST`.
fn at(port: u16, service: &str) -> Mailport {
    Mailport::check(HOST)
        .loopback()
        .at(port, service)
        .fast_timeouts()
}

/// A real report of a refused connection, as text (fast and offline).
fn closed_port_report() -> String {
    check_json(at(closed_port(), "smtp"), 1).0
}

// ---- real output --------------------------------------------------------

#[test]
fn healthy_starttls_server_report_is_valid_and_complete() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let server = FakeServer::smtp(dialogs::smtp_healthy(
        HOST,
        pki.server_config(CertKind::Good, &[HOST]),
    ));
    let port = server.port();
    let (text, _, report) = check_json(at(port, "smtp").ca(Some(ca.path())), 0);

    let transcript = server.finish();
    assert_eq!(transcript.len(), 4, "{transcript:?}");
    assert!(transcript[0].starts_with("EHLO "), "{transcript:?}");
    assert_eq!(transcript[1], "STARTTLS");
    assert!(transcript[2].starts_with("EHLO "), "{transcript:?}");
    assert_eq!(transcript[3], "QUIT");

    assert_eq!(report.targets.len(), 1);
    let t = &report.targets[0];
    assert_eq!(t.host, HOST);
    assert_eq!(t.tls_name, HOST);
    assert_eq!(t.addresses, ["127.0.0.1"]);
    assert_eq!(
        (t.resolution.source.as_str(), t.resolution.status.as_str()),
        ("override", "found")
    );
    assert_eq!(t.probes.len(), 1);

    let p = &t.probes[0];
    assert_eq!(p.outcome, "ok", "{text}");
    assert_eq!(p.service, "smtp");
    assert_eq!(p.port, port);
    assert_eq!(p.protocol, "smtp");
    assert_eq!(p.tls_mode, "opportunistic");
    assert_eq!(p.address.as_deref(), Some("127.0.0.1"));
    let phases: Vec<&str> = p.phases.iter().map(|ph| ph.phase.as_str()).collect();
    assert_eq!(
        phases,
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
    assert!(
        p.phases.iter().all(|ph| ph.ok && ph.error.is_none()),
        "{text}"
    );
    let connect = p.connect.as_ref().expect("connect facts");
    assert_eq!(connect.result, "connected");
    assert_eq!(connect.errno, None);
    assert!(connect
        .local_addr
        .as_deref()
        .unwrap_or("")
        .starts_with("127.0.0.1:"));
    assert!(connect.ms <= p.total_ms);
    assert!(p
        .greeting
        .as_deref()
        .unwrap_or("")
        .contains("mail.example.test ESMTP Postfix"));
    assert!(p.greeting_ms.is_some());
    assert_eq!(p.starttls_offered, Some(true));
    assert!(!p.starttls_stripped);
    assert!(p.capabilities_plain.iter().any(|c| c.contains("STARTTLS")));
    assert!(p.capabilities_tls.iter().any(|c| c.contains("AUTH")));
    assert!(p.auth_plain.is_empty(), "{:?}", p.auth_plain);
    assert_eq!(p.auth_tls, ["PLAIN", "LOGIN"]);

    let tls = p.tls.as_ref().expect("tls facts");
    assert_eq!(tls.version, "TLSv1.3");
    assert!(
        tls.cipher_suite.starts_with("TLS13_"),
        "{}",
        tls.cipher_suite
    );
    assert_eq!(tls.verdict, "valid", "{:?}", tls.verdict_detail);
    assert_eq!(tls.verdict_detail, None);
    assert_eq!(tls.verified_name, HOST);
    assert_eq!(tls.chain.len(), 2, "leaf and intermediate");
    let leaf = &tls.chain[0];
    assert!(
        leaf.sans.iter().any(|s| s == "DNS:mail.example.test"),
        "{:?}",
        leaf.sans
    );
    assert!(leaf.subject.contains(HOST), "{}", leaf.subject);
    assert!(
        leaf.issuer.contains("mailport test intermediate"),
        "{}",
        leaf.issuer
    );
    assert!(
        leaf.days_left > 0 && leaf.days_left <= 90,
        "{}",
        leaf.days_left
    );
    assert!(leaf.not_before < leaf.not_after);
    assert!(!leaf.is_ca);
    assert!(tls.chain[1].is_ca);

    assert!(
        report.findings.iter().all(|f| f.severity != "fail"),
        "{:?}",
        report.findings
    );
    assert_eq!(report.summary.probes, 1);
    assert_eq!(report.summary.ok, 1);
    assert_eq!(report.summary.not_ok, 0);
    assert_eq!(report.summary.exit_code, 0);
    assert_eq!(report.summary.fail_on, "fail");
}

#[test]
fn closed_port_report_is_valid_and_names_the_refusal() {
    let port = closed_port();
    let (text, _, report) = check_json(at(port, "submission"), 1);

    let p = &report.targets[0].probes[0];
    assert_eq!(p.outcome, "refused", "{text}");
    assert_eq!((p.service.as_str(), p.port), ("submission", port));
    assert_eq!(p.tls_mode, "required");
    assert_eq!(p.address.as_deref(), Some("127.0.0.1"));
    assert_eq!(p.failed_phase.as_deref(), Some("connect"));
    assert!(!p.detail.as_deref().unwrap_or("").is_empty());
    assert_eq!(p.phases.len(), 1, "{text}");
    assert_eq!(p.phases[0].phase, "connect");
    assert!(!p.phases[0].ok);
    assert!(p.phases[0].error.is_some());
    let connect = p.connect.as_ref().expect("connect facts");
    assert_eq!(connect.result, "ECONNREFUSED");
    assert!(connect.errno.is_some());
    assert_eq!(connect.local_addr, None);
    assert!(p.tls.is_none() && p.greeting.is_none());
    assert!(p.capabilities_plain.is_empty() && p.auth_tls.is_empty());

    let f = report
        .findings
        .iter()
        .find(|f| f.code == "refused")
        .unwrap_or_else(|| panic!("a 'refused' finding:\n{text}"));
    assert_eq!(f.severity, "fail");
    assert_eq!(f.host, HOST);
    assert_eq!(f.service.as_deref(), Some("submission"));
    assert_eq!(f.port, Some(port));
    assert_eq!(report.summary.exit_code, 1);
    assert_eq!(report.summary.not_ok, 1);
}

#[test]
fn unresolvable_host_report_has_every_probe_with_a_null_address() {
    // hickory answers the special-use name .invalid itself: NXDOMAIN, no network.
    let (text, value, report) = check_json(
        Mailport::check("nonexistent.invalid").connect_timeout("1s"),
        1,
    );

    let t = &report.targets[0];
    assert_eq!(t.host, "nonexistent.invalid");
    assert!(t.addresses.is_empty());
    assert_eq!(t.resolution.source, "dns");
    assert_eq!(t.resolution.status, "nxdomain");
    assert!(t.resolution.detail.is_some());
    assert!(t.resolution.ms < 5_000);
    let ports: Vec<(&str, u16)> = t
        .probes
        .iter()
        .map(|p| (p.service.as_str(), p.port))
        .collect();
    assert_eq!(
        ports,
        [
            ("smtp", 25),
            ("submission", 587),
            ("submissions", 465),
            ("imap", 143),
            ("imaps", 993),
            ("pop3", 110),
            ("pop3s", 995),
            ("http", 80),
            ("https", 443)
        ],
        "every default probe is present even though none could run"
    );
    for (i, p) in t.probes.iter().enumerate() {
        assert_eq!(p.outcome, "dns_failed");
        assert!(p.phases.is_empty());
        assert!(p.connect.is_none());
        // `address` is present and null, not left out.
        let raw = &value["targets"][0]["probes"][i];
        assert_eq!(raw.get("address"), Some(&Value::Null), "{text}");
    }
    let codes: Vec<&str> = report.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(
        codes,
        ["dns_failed"],
        "one finding for the name, not one per probe"
    );
    assert_eq!(report.findings[0].port, None);
    assert_eq!(report.summary.exit_code, 1);

    // --format json is the same report.
    let again = Mailport::check("nonexistent.invalid")
        .args(["--format", "json"])
        .run();
    assert_eq!(again.code, 1);
    let mut again = again.json();
    assert_valid(&again, "(--format json)");
    // The same but for how long the lookup took.
    let mut first = value.clone();
    for v in [&mut first, &mut again] {
        v["targets"][0]["resolution"]["ms"] = Value::Null;
    }
    assert_eq!(again["targets"], first["targets"]);
}

// ---- the schema itself --------------------------------------------------

#[test]
fn schema_is_a_valid_draft_2020_12_schema() {
    let schema = schema();
    assert_eq!(
        schema["$schema"],
        "https://json-schema.org/draft/2020-12/schema"
    );
    if let Err(e) = jsonschema::meta::validate(&schema) {
        panic!("src/report.schema.json breaks the 2020-12 meta-schema: {e}");
    }
    // The plain constructor accepts it as well.
    jsonschema::validator_for(&schema).expect("validator_for accepts the schema");
}

#[test]
fn schema_lists_exactly_the_outcomes_mailport_explains() {
    let output = Mailport::new().args(["explain", "--json"]).run();
    assert_eq!(output.code, 0);
    let codes: Vec<Value> = serde_json::from_str(&output.stdout).expect("JSON");
    let mut explained: Vec<&str> = codes
        .iter()
        .filter(|c| c["kind"] == "outcome")
        .map(|c| c["code"].as_str().expect("code"))
        .collect();
    let schema = schema();
    let mut in_schema: Vec<&str> = schema["$defs"]["outcome"]["enum"]
        .as_array()
        .expect("$defs.outcome.enum")
        .iter()
        .map(|v| v.as_str().expect("string"))
        .collect();
    explained.sort_unstable();
    in_schema.sort_unstable();
    assert_eq!(
        in_schema, explained,
        "$defs.outcome.enum in src/report.schema.json and `mailport explain` disagree"
    );
    // Every TLS-RPT result type explained is one the schema names.
    let types = schema["$defs"]["tlsrpt_result"]["enum"]
        .as_array()
        .expect("$defs.tlsrpt_result.enum");
    let with_type: Vec<&Value> = codes
        .iter()
        .filter_map(|c| c.get("tlsrpt_result"))
        .collect();
    assert!(with_type.len() >= 10, "{with_type:?}");
    for t in with_type {
        assert!(types.contains(t), "{t} is not in $defs.tlsrpt_result");
    }
    let pattern = schema["$defs"]["code"].clone();
    let code = jsonschema::validator_for(&pattern).expect("code pattern");
    for c in &codes {
        assert!(code.is_valid(&c["code"]), "{} breaks $defs.code", c["code"]);
    }
}

#[test]
fn validator_is_not_vacuous() {
    let text = closed_port_report();
    let real: Value = serde_json::from_str(&text).expect("JSON");
    assert!(
        schema_errors(&real).is_empty(),
        "the baseline must be valid"
    );

    type Mutation = fn(&mut Value);
    let cases: &[(&str, Mutation, &str)] = &[
        (
            "unknown outcome",
            |v| v["targets"][0]["probes"][0]["outcome"] = "banana".into(),
            "/targets/0/probes/0/outcome",
        ),
        (
            "unknown field in a probe",
            |v| v["targets"][0]["probes"][0]["colour"] = "blue".into(),
            "/targets/0/probes/0",
        ),
        ("unknown top-level field", |v| v["extra"] = true.into(), ""),
        (
            "missing summary",
            |v| {
                v.as_object_mut().unwrap().remove("summary");
            },
            "",
        ),
        (
            "missing address (must be null, not absent)",
            |v| {
                v["targets"][0]["probes"][0]
                    .as_object_mut()
                    .unwrap()
                    .remove("address");
            },
            "/targets/0/probes/0",
        ),
        (
            "schema_version 2",
            |v| v["schema_version"] = 2.into(),
            "/schema_version",
        ),
        (
            "negative milliseconds",
            |v| v["targets"][0]["probes"][0]["total_ms"] = (-1).into(),
            "/targets/0/probes/0/total_ms",
        ),
        (
            "fractional milliseconds",
            |v| v["duration_ms"] = 1.5.into(),
            "/duration_ms",
        ),
        (
            "started_at not RFC 3339",
            |v| v["started_at"] = "yesterday at noon".into(),
            "/started_at",
        ),
        (
            "address not an IP",
            |v| v["targets"][0]["probes"][0]["address"] = "mail.example.test".into(),
            "/targets/0/probes/0/address",
        ),
        (
            "unknown phase",
            |v| v["targets"][0]["probes"][0]["phases"][0]["phase"] = "handshake".into(),
            "/targets/0/probes/0/phases/0/phase",
        ),
        (
            "unknown severity",
            |v| v["findings"][0]["severity"] = "error".into(),
            "/findings/0/severity",
        ),
        (
            "port out of range",
            |v| v["targets"][0]["probes"][0]["port"] = 70000.into(),
            "/targets/0/probes/0/port",
        ),
        (
            "tls_mode in another case",
            |v| v["targets"][0]["probes"][0]["tls_mode"] = "Required".into(),
            "/targets/0/probes/0/tls_mode",
        ),
        (
            "unknown field in the summary",
            |v| v["summary"]["exitCode"] = 1.into(),
            "/summary",
        ),
    ];
    for (what, mutate, path) in cases {
        let mut bad = real.clone();
        mutate(&mut bad);
        let errors = schema_errors(&bad);
        assert!(
            !errors.is_empty(),
            "{what}: the mutated report passed validation:\n{bad:#}"
        );
        assert!(
            errors.iter().any(|e| e.starts_with(&format!("{path}:"))),
            "{what}: expected an error at {path:?}, got {errors:#?}"
        );
    }

    // A TLS block with a bad verdict, grafted from a well-formed one.
    let mut bad = real.clone();
    bad["targets"][0]["probes"][0]["tls"] = serde_json::json!({
        "version": "TLSv1.3",
        "cipher_suite": "TLS13_AES_128_GCM_SHA256",
        "chain": [],
        "verdict": "probably_fine",
        "verified_name": HOST,
    });
    let errors = schema_errors(&bad);
    assert!(
        errors
            .iter()
            .any(|e| e.starts_with("/targets/0/probes/0/tls/verdict:")),
        "{errors:#?}"
    );
    bad["targets"][0]["probes"][0]["tls"]["verdict"] = "valid".into();
    assert!(
        schema_errors(&bad).is_empty(),
        "the well-formed TLS block passes"
    );
}
