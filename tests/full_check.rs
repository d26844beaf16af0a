//! One whole `mailport check` of a host whose nine standard ports are all
//! fake servers replaying real recordings (the ports mapped with
//! `--port NAME=PORT`): every probe runs at once, and the text and JSON
//! reports are checked whole.

use crate::support::certs::{CertKind, TestPki};
use crate::support::server::{FakeServer, Step};
use crate::support::{mailport, Run, HOST};
use serde_json::Value;
use std::sync::Arc;

fn fx(path: &str) -> Step {
    Step::Fixture(Box::leak(path.to_string().into_boxed_str()))
}

fn smtp_starttls(dir: &str, tls: &Arc<rustls::ServerConfig>) -> Vec<Step> {
    let f = |file: &str| fx(&format!("smtp/{dir}/{file}"));
    vec![
        f("greeting"),
        Step::Expect("EHLO "),
        f("ehlo"),
        Step::Expect("STARTTLS"),
        f("starttls"),
        Step::StartTls(tls.clone()),
        Step::Expect("EHLO "),
        f("ehlo_tls"),
        Step::Expect("QUIT"),
        f("quit"),
    ]
}

fn smtps(dir: &str, tls: &Arc<rustls::ServerConfig>) -> Vec<Step> {
    let f = |file: &str| fx(&format!("smtp/{dir}/{file}"));
    vec![
        Step::StartTls(tls.clone()),
        f("greeting"),
        Step::Expect("EHLO "),
        f("ehlo"),
        Step::Expect("QUIT"),
        f("quit"),
    ]
}

fn imap_starttls(dir: &str, tls: &Arc<rustls::ServerConfig>) -> Vec<Step> {
    let f = |file: &str| fx(&format!("imap/{dir}/{file}"));
    vec![
        f("greeting"),
        Step::Expect("a2 STARTTLS"),
        f("starttls"),
        Step::StartTls(tls.clone()),
        Step::Expect("a3 CAPABILITY"),
        f("capability_tls"),
        Step::Expect("a4 LOGOUT"),
        f("logout"),
    ]
}

fn imaps(dir: &str, tls: &Arc<rustls::ServerConfig>) -> Vec<Step> {
    let f = |file: &str| fx(&format!("imap/{dir}/{file}"));
    vec![
        Step::StartTls(tls.clone()),
        f("greeting"),
        Step::Expect("a4 LOGOUT"),
        f("logout"),
    ]
}

fn pop3_stls(dir: &str, tls: &Arc<rustls::ServerConfig>) -> Vec<Step> {
    let f = |file: &str| fx(&format!("pop3/{dir}/{file}"));
    vec![
        f("greeting"),
        Step::Expect("CAPA"),
        f("capa"),
        Step::Expect("STLS"),
        f("stls"),
        Step::StartTls(tls.clone()),
        Step::Expect("CAPA"),
        f("capa_tls"),
        Step::Expect("QUIT"),
        f("quit"),
    ]
}

fn pop3s(dir: &str, tls: &Arc<rustls::ServerConfig>) -> Vec<Step> {
    let f = |file: &str| fx(&format!("pop3/{dir}/{file}"));
    vec![
        Step::StartTls(tls.clone()),
        f("greeting"),
        Step::Expect("CAPA"),
        f("capa"),
        Step::Expect("QUIT"),
        f("quit"),
    ]
}

fn http_get(response: &str) -> Vec<Step> {
    vec![
        Step::Expect("GET / HTTP/1.1"),
        Step::Expect("Host: mail.example.test"),
        fx(response),
        Step::ExpectClose,
    ]
}

/// The host: Postfix on 25/587/465, Courier IMAP on 143 (logins before TLS),
/// Dovecot on 993 and 995, Cyrus POP3 on 110 (challenge-response SASL before
/// TLS), Apache's default page on 80 (no redirect), nginx with h2 and HSTS on
/// 443. Each script is served `runs` times.
struct Host {
    servers: Vec<(&'static str, u16, FakeServer)>,
}

impl Host {
    fn start(pki: &TestPki, runs: usize) -> Host {
        let tls = pki.server_config(CertKind::Good, &[HOST]);
        let mut h2 = (*tls).clone();
        h2.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        let h2 = Arc::new(h2);
        let mut https = vec![Step::StartTls(h2.clone())];
        https.extend(http_get("http/nginx-1.22.1/response_443"));
        let scripts: Vec<(&'static str, u16, Vec<Vec<Step>>)> = vec![
            ("smtp", 25, vec![smtp_starttls("postfix-3.7.11", &tls)]),
            (
                "submission",
                587,
                vec![smtp_starttls("postfix-3.7.11-submission", &tls)],
            ),
            (
                "submissions",
                465,
                vec![smtps("postfix-3.7.11-smtps", &tls)],
            ),
            (
                "imap",
                143,
                vec![imap_starttls("courier-imap-5.0.13", &tls)],
            ),
            ("imaps", 993, vec![imaps("dovecot-2.3.19.1-imaps", &tls)]),
            ("pop3", 110, vec![pop3_stls("cyrus-3.6.1", &tls)]),
            ("pop3s", 995, vec![pop3s("dovecot-2.3.19.1-pop3s", &tls)]),
            ("http", 80, vec![http_get("http/apache-2.4.71/response_80")]),
            // nginx chooses h2: one connection to learn it, one for the GET.
            (
                "https",
                443,
                vec![vec![Step::StartTls(h2), Step::ExpectClose], https],
            ),
        ];
        let servers = scripts
            .into_iter()
            .map(|(name, port, conns)| {
                let all: Vec<Vec<Step>> = (0..runs).flat_map(|_| conns.clone()).collect();
                (name, port, FakeServer::start(all))
            })
            .collect();
        Host { servers }
    }

    fn run(&self, ca: &std::path::Path, extra: &[&str]) -> Run {
        let resolve = format!("{HOST}:127.0.0.1");
        let ca = ca.display().to_string();
        let ports: Vec<String> = self
            .servers
            .iter()
            .map(|(name, _, s)| format!("{name}={}", s.port()))
            .collect();
        let mut args = vec![
            "check",
            HOST,
            "--resolve",
            &resolve,
            "--ca-file",
            &ca,
            "--timeout",
            "3s",
            "--greeting-timeout",
            "3s",
            "--reply-timeout",
            "3s",
        ];
        for p in &ports {
            args.extend(["--port", p.as_str()]);
        }
        args.extend_from_slice(extra);
        mailport(&args)
    }

    /// The text with each fake server's port replaced by the standard one
    /// and what varies from run to run masked, so that it can be compared whole.
    fn normalise(&self, text: &str) -> String {
        let mut out = text.to_string();
        for (_, std, s) in &self.servers {
            // The table's PORT column is right-aligned in five characters.
            out = out.replace(&format!(" {}  ", s.port()), &format!(" {std:>5}  "));
            out = out.replace(&s.port().to_string(), &std.to_string());
        }
        out.lines()
            .map(normalise_line)
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn finish(self) {
        for (_, _, s) in self.servers {
            s.finish();
        }
    }
}

fn is_duration(word: &str) -> bool {
    let core = word.strip_suffix(';').unwrap_or(word);
    let number = |s: &str| !s.is_empty() && s.chars().all(|c| c.is_ascii_digit() || c == '.');
    core.strip_suffix("ms").is_some_and(number) || core.strip_suffix('s').is_some_and(number)
}

/// Durations (`12ms`, `1.3s;`) become `<time>`; certificate days (`89d`)
/// keep their width with digits masked.
fn mask_word(word: &str) -> String {
    if is_duration(word) {
        return if word.ends_with(';') {
            "<time>;"
        } else {
            "<time>"
        }
        .to_string();
    }
    match word.strip_suffix('d') {
        Some(n) if !n.is_empty() && n.chars().all(|c| c.is_ascii_digit()) => {
            format!("{}d", "#".repeat(n.len()))
        }
        _ => word.to_string(),
    }
}

/// Mask one line; a table row keeps its width, its TIME cell right-aligned.
/// The system resolver's address (in the reverse-DNS heading) is masked too.
fn normalise_line(line: &str) -> String {
    if let Some(rest) = line.strip_prefix("Reverse DNS via system (") {
        if let Some(end) = rest.find(')') {
            return format!("Reverse DNS via system (<resolver>){}", &rest[end + 1..]);
        }
    }
    let masked: String = line.split(' ').map(mask_word).collect::<Vec<_>>().join(" ");
    if !line.split(' ').next_back().is_some_and(is_duration) {
        return masked;
    }
    let head = masked.trim_end_matches("<time>").trim_end();
    let width = line.chars().count() - head.chars().count();
    format!("{head}{:>width$}", "<time>")
}

#[test]
fn a_host_with_all_nine_ports_gives_one_whole_report() {
    let pki = TestPki::new();
    let ca = pki.ca_file();
    let host = Host::start(&pki, 2);

    // ---- JSON -------------------------------------------------------------
    let started = std::time::Instant::now();
    let run = host.run(ca.path(), &["--json"]);
    let elapsed = started.elapsed();
    let report = run.json();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/report.schema.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the schema compiles");
    let errors: Vec<String> = validator
        .iter_errors(&report)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}\n{}", run.stdout);

    let probes = report["targets"][0]["probes"].as_array().unwrap();
    let rows: Vec<(String, String, String, String)> = probes
        .iter()
        .map(|p| {
            (
                p["service"].as_str().unwrap().to_string(),
                p["protocol"].as_str().unwrap().to_string(),
                p["tls_mode"].as_str().unwrap().to_string(),
                p["outcome"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("smtp", "smtp", "opportunistic"),
        ("submission", "smtp", "required"),
        ("submissions", "smtp", "implicit"),
        ("imap", "imap", "required"),
        ("imaps", "imap", "implicit"),
        ("pop3", "pop3", "required"),
        ("pop3s", "pop3", "implicit"),
        ("http", "http", "none"),
        ("https", "http", "implicit"),
    ];
    assert_eq!(
        rows,
        expected
            .iter()
            .map(|(s, p, t)| (
                s.to_string(),
                p.to_string(),
                t.to_string(),
                "ok".to_string()
            ))
            .collect::<Vec<_>>(),
        "{}",
        run.stdout
    );
    for (p, (_, port, server)) in probes.iter().zip(&host.servers) {
        assert_eq!(p["port"], server.port(), "{} on {port}", p["service"]);
        assert_eq!(p["address"], "127.0.0.1");
        if p["service"] != "http" {
            assert_eq!(p["tls"]["verdict"], "valid", "{p:#}");
        }
    }
    let by = |name: &str| probes.iter().find(|p| p["service"] == name).unwrap();
    assert_eq!(by("smtp")["software"], "Postfix");
    assert_eq!(by("imap")["software"], "Courier-IMAP");
    assert_eq!(by("imap")["login_plain"], true);
    assert_eq!(by("imaps")["software"], "Dovecot");
    assert_eq!(
        by("pop3")["software"],
        "Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5"
    );
    assert_eq!(by("pop3")["login_plain"], false);
    assert_eq!(by("http")["http"]["status"], 200);
    assert_eq!(by("https")["tls"]["alpn"], "h2");
    assert_eq!(
        by("https")["http"]["hsts"],
        "max-age=31536000; includeSubDomains"
    );

    let findings: Vec<(String, String, Option<String>)> = report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["severity"].as_str().unwrap().to_string(),
                f["code"].as_str().unwrap().to_string(),
                f["service"].as_str().map(str::to_string),
            )
        })
        .collect();
    let own = |s: &str, c: &str, svc: &str| (s.to_string(), c.to_string(), Some(svc.to_string()));
    assert_eq!(
        findings,
        [
            own("fail", "login_before_tls", "imap"),
            own("warn", "auth_before_tls_hashed", "pop3"),
            own("warn", "http_no_redirect", "http"),
        ],
        "{}",
        run.stdout
    );
    let summary = &report["summary"];
    assert_eq!(summary["probes"], 9);
    assert_eq!(summary["ok"], 9);
    assert_eq!(summary["not_ok"], 0);
    assert_eq!(summary["fail"], 1);
    assert_eq!(summary["warn"], 2);
    assert_eq!(summary["exit_code"], 1);
    assert_eq!(run.code, 1);
    // All at once: nine dialogs take about as long as the slowest one.
    assert!(elapsed.as_secs() < 10, "took {elapsed:?}");

    // ---- text -------------------------------------------------------------
    let run = host.run(ca.path(), &[]);
    assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
    for line in run.stdout.lines() {
        assert!(
            line.chars().count() <= 80,
            "wider than 80 columns: {line:?}"
        );
    }
    assert!(!run.stdout.contains('\x1b'), "colour with NO_COLOR set");
    insta::assert_snapshot!("full_check_text", host.normalise(&run.stdout));
    host.finish();
}

#[test]
fn masking_keeps_rows_aligned() {
    assert_eq!(mask_word("12ms"), "<time>");
    assert_eq!(mask_word("1.3s;"), "<time>;");
    assert_eq!(mask_word("89d"), "##d");
    assert_eq!(mask_word("imaps"), "imaps");
    assert_eq!(mask_word("ok"), "ok");
    assert_eq!(
        normalise_line("smtp    25  ok  89d         12ms"),
        "smtp    25  ok  ##d       <time>"
    );
    assert_eq!(
        normalise_line("smtp    25  ok  89d        123ms"),
        "smtp    25  ok  ##d       <time>"
    );
    assert_eq!(
        normalise_line("9 probes; 0.1s; exit 1"),
        "9 probes; <time>; exit 1"
    );
    assert_eq!(
        normalise_line("Reverse DNS via system (192.0.2.53)"),
        "Reverse DNS via system (<resolver>)"
    );
}
