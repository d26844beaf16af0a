//! Terminal-aware text (issue 16): the width from the terminal (`COLUMNS`
//! here; 80 when piped), words wrapped by display width and never cut, the
//! colour rules (NO_COLOR, CLICOLOR_FORCE, an explicit --color), the
//! certificate's colour on the RESULT cell, and `-q`.

use crate::support::certs::{CertKind, TestPki};
use crate::support::cmd::{Mailport, Run};
use crate::support::dialogs::{self, Recorded};
use crate::support::ports::closed_port;
use crate::support::server::FakeServer;
use crate::support::HOST;

/// A check with problems that make long findings: a relay without
/// STARTTLS, a submissions port with an expired certificate, a closed port.
/// `runs`: how many times the servers are ready to answer.
struct Scene {
    _pki: TestPki,
    ca: tempfile::NamedTempFile,
    plain: FakeServer,
    expired: FakeServer,
    closed: u16,
}

impl Scene {
    fn new(runs: usize) -> Scene {
        let pki = TestPki::new();
        let ca = pki.ca_file();
        let plain = FakeServer::start(
            (0..runs)
                .map(|_| dialogs::smtp_without_starttls())
                .collect(),
        );
        let expired = FakeServer::start(
            (0..runs)
                .map(|_| {
                    Recorded::smtp("exim-4.96-smtps")
                        .implicit(pki.server_config(CertKind::Expired, &[HOST]))
                })
                .collect(),
        );
        Scene {
            _pki: pki,
            ca,
            plain,
            expired,
            closed: closed_port(),
        }
    }

    fn cmd(&self) -> Mailport {
        Mailport::check(HOST)
            .loopback()
            .ca(Some(self.ca.path()))
            .fast_timeouts()
            .at(self.plain.port(), "smtp")
            .at(self.expired.port(), "submissions")
            .at(self.closed, "submission")
            .arg("--no-trace")
    }

    fn finish(self) {
        self.plain.finish();
        self.expired.finish();
    }
}

/// The words of the findings (from "Findings" to the summary), in order.
fn finding_words(out: &str) -> Vec<String> {
    let start = out
        .find("\nFindings\n")
        .unwrap_or_else(|| panic!("no findings:\n{out}"));
    let end = out.rfind("\n\n").unwrap_or(out.len());
    out[start..end]
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
fn r16_text_fits_60_80_and_120_columns_without_cutting_a_word() {
    let scene = Scene::new(4);
    let mut words: Vec<(usize, Vec<String>)> = Vec::new();
    for width in [60usize, 80, 120] {
        let run = scene.cmd().env("COLUMNS", &width.to_string()).run();
        assert_eq!(run.code, 1, "{}\n{}", run.stdout, run.stderr);
        for line in run.stdout.lines() {
            assert!(
                line.chars().count() <= width,
                "wider than {width}: {line:?}\n{}",
                run.stdout
            );
        }
        // Every code is whole wherever it is shown (table cells and findings).
        for code in ["starttls_unavailable", "cert_expired", "refused", "EXPIRED"] {
            assert!(
                run.stdout.split_whitespace().any(|w| w == code),
                "{code} cut or missing at {width}:\n{}",
                run.stdout
            );
        }
        words.push((width, finding_words(&run.stdout)));
    }
    // The same words at every width: wrapping moved them, none was cut.
    let (_, widest) = words.last().unwrap().clone();
    for (width, w) in &words {
        assert_eq!(w, &widest, "the findings' words at {width} columns");
    }
    // Without COLUMNS (and not a terminal): 80.
    let run = scene.cmd().env_remove("COLUMNS").run();
    assert!(
        run.stdout.lines().any(|l| l.chars().count() > 60),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.lines().all(|l| l.chars().count() <= 80),
        "{}",
        run.stdout
    );
    scene.finish();
}

#[test]
fn r16_wide_characters_count_two_columns() {
    // An international name whose Unicode form (in the heading) is CJK:
    // each of its characters takes two columns on a terminal.
    let host = "邮件服务器测试邮件服务器测试.example";
    let run = Mailport::check(host)
        .resolve(host, "127.0.0.1")
        .at(closed_port(), "smtp")
        .env("COLUMNS", "60")
        .fast_timeouts()
        .run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let columns = |l: &str| -> usize {
        l.chars()
            .map(|c| {
                if ('\u{4e00}'..='\u{9fff}').contains(&c) {
                    2
                } else {
                    1
                }
            })
            .sum()
    };
    assert!(run.stdout.contains("邮件服务器测试"), "{}", run.stdout);
    for line in run.stdout.lines() {
        assert!(columns(line) <= 60, "{} columns: {line:?}", columns(line));
    }
}

fn colored(run: &Run) -> bool {
    run.stdout.contains('\x1b')
}

#[test]
fn r16_colour_rules() {
    let scene = Scene::new(5);
    // The builder sets NO_COLOR=1: an explicit --color always still wins.
    let run = scene.cmd().args(["--color", "always"]).run();
    assert!(colored(&run), "{}", run.stdout);
    // The RESULT cell of the probe whose certificate expired is red, and so
    // is its CERT cell.
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains("cert_expired") && l.contains(&scene.expired.port().to_string()))
        .unwrap_or_else(|| panic!("no row:\n{}", run.stdout))
        .to_string();
    assert!(row.contains("\x1b[31mcert_expired"), "{row:?}");
    assert!(row.contains("\x1b[31mEXPIRED"), "{row:?}");
    // Under auto, NO_COLOR wins over CLICOLOR_FORCE; without NO_COLOR,
    // CLICOLOR_FORCE colours a pipe; alone, a pipe gets none.
    let run = scene.cmd().env("CLICOLOR_FORCE", "1").run();
    assert!(!colored(&run), "NO_COLOR under auto:\n{}", run.stdout);
    let run = scene
        .cmd()
        .env_remove("NO_COLOR")
        .env("CLICOLOR_FORCE", "1")
        .run();
    assert!(colored(&run), "CLICOLOR_FORCE:\n{}", run.stdout);
    let run = scene
        .cmd()
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env("TERM", "xterm-256color")
        .run();
    assert!(!colored(&run), "a pipe under auto:\n{}", run.stdout);
    let run = scene
        .cmd()
        .env_remove("NO_COLOR")
        .args(["--color", "never"])
        .env("CLICOLOR_FORCE", "1")
        .run();
    assert!(!colored(&run), "--color never:\n{}", run.stdout);
    scene.finish();
}

#[test]
fn r16_quiet_prints_only_the_findings_and_the_summary() {
    let scene = Scene::new(1);
    let run = scene.cmd().arg("-q").run();
    assert_eq!(run.code, 1, "{}", run.stderr);
    let out = &run.stdout;
    assert!(out.starts_with("Findings\n"), "{out}");
    assert!(
        !out.contains("SERVICE") && !out.contains("Reverse DNS"),
        "{out}"
    );
    for code in ["starttls_not_offered_relay", "cert_expired", "refused"] {
        assert!(out.contains(code), "{code}:\n{out}");
    }
    let last = out.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("3 probes: ") && last.ends_with("exit 1"),
        "{out}"
    );
    scene.finish();
    let run = Mailport::check(HOST).args(["-q", "-v"]).run();
    assert_eq!(run.code, 2, "-q and -v conflict: {}", run.stderr);
}
