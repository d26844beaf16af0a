//! One whole `mailport check` of a host whose nine standard ports are all
//! fake servers replaying real recordings (the ports mapped with
//! `--port NAME=PORT`): every probe runs at once, and the text and JSON
//! reports are checked whole.

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::{Mailport, Run};
use crate::support::dialogs::{with_alpn, Recorded};
use crate::support::schema::valid_report;
use crate::support::server::{FakeServer, Step};
use crate::support::HOST;

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
        let h2 = with_alpn(tls.clone(), &[b"h2", b"http/1.1"]);
        let mut https = vec![Step::StartTls(h2.clone())];
        https.extend(Recorded::http("nginx-1.22.1").answer("response_443"));
        let starttls = |r: Recorded| vec![r.starttls(tls.clone())];
        let implicit = |r: Recorded| vec![r.implicit(tls.clone())];
        let scripts: Vec<(&'static str, u16, Vec<Vec<Step>>)> = vec![
            ("smtp", 25, starttls(Recorded::smtp("postfix-3.7.11"))),
            (
                "submission",
                587,
                starttls(Recorded::smtp("postfix-3.7.11-submission")),
            ),
            (
                "submissions",
                465,
                implicit(Recorded::smtp("postfix-3.7.11-smtps")),
            ),
            ("imap", 143, starttls(Recorded::imap("courier-imap-5.0.13"))),
            (
                "imaps",
                993,
                implicit(Recorded::imap("dovecot-2.3.19.1-imaps")),
            ),
            ("pop3", 110, starttls(Recorded::pop3("cyrus-3.6.1"))),
            (
                "pop3s",
                995,
                implicit(Recorded::pop3("dovecot-2.3.19.1-pop3s")),
            ),
            (
                "http",
                80,
                vec![Recorded::http("apache-2.4.71").answer("response_80")],
            ),
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
        self.servers
            .iter()
            .fold(
                Mailport::check(HOST).loopback().ca(Some(ca)).timeouts("3s"),
                |cmd, (name, _, s)| cmd.port(format!("{name}={}", s.port())),
            )
            .args(extra)
            .run()
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
    let report = valid_report(&run);
    let probes = report.probes();
    let rows: Vec<(&str, &str, &str, &str)> = probes
        .iter()
        .map(|p| {
            (
                p.service.as_str(),
                p.protocol.as_str(),
                p.tls_mode.as_str(),
                p.outcome.as_str(),
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
            .map(|&(s, p, t)| (s, p, t, "ok"))
            .collect::<Vec<_>>(),
        "{}",
        run.stdout
    );
    for (p, (_, port, server)) in probes.iter().zip(&host.servers) {
        assert_eq!(p.port, server.port(), "{} on {port}", p.service);
        assert_eq!(p.address.as_deref(), Some("127.0.0.1"));
        if p.service != "http" {
            assert_eq!(p.tls().verdict, "valid", "{p:#}");
        }
    }
    let by = |name: &str| report.probe(name);
    assert_eq!(by("smtp").software.as_deref(), Some("Postfix"));
    assert_eq!(by("imap").software.as_deref(), Some("Courier-IMAP"));
    assert_eq!(by("imap").login_plain, Some(true));
    assert_eq!(by("imaps").software.as_deref(), Some("Dovecot"));
    assert_eq!(
        by("pop3").software.as_deref(),
        Some("Cyrus POP3 3.6.1-Debian-3.6.1-4+deb12u5")
    );
    assert_eq!(by("pop3").login_plain, Some(false));
    assert_eq!(by("http").http().status, 200);
    assert_eq!(by("https").tls().alpn.as_deref(), Some("h2"));
    assert_eq!(
        by("https").http().hsts.as_deref(),
        Some("max-age=31536000; includeSubDomains")
    );

    let findings: Vec<(&str, &str, Option<&str>)> = report
        .findings
        .iter()
        .map(|f| (f.severity.as_str(), f.code.as_str(), f.service.as_deref()))
        .collect();
    assert_eq!(
        findings,
        [
            ("fail", "login_before_tls", Some("imap")),
            ("warn", "auth_before_tls_hashed", Some("pop3")),
            ("warn", "http_no_redirect", Some("http")),
        ],
        "{}",
        run.stdout
    );
    let summary = &report.summary;
    assert_eq!(summary.probes, 9);
    assert_eq!(summary.ok, 9);
    assert_eq!(summary.not_ok, 0);
    assert_eq!(summary.fail, 1);
    assert_eq!(summary.warn, 2);
    assert_eq!(summary.exit_code, 1);
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
