//! Input the way people type it (issue 16): `HOST:PORT` and `[IPV6]:PORT`,
//! the ambiguous `::1:25`, durations like `1m30s`, an empty `-s`, and an
//! over-long argument quoted cut short.

use std::net::{IpAddr, Ipv6Addr};

use crate::support::cmd::Mailport;
use crate::support::dialogs;
use crate::support::server::FakeServer;

/// Run mailport with `args` and assert a one-line usage error containing `needle`.
#[track_caller]
fn usage_error(args: &[&str], needle: &str) -> String {
    let run = Mailport::new().args(args).run();
    assert_eq!(run.code, 2, "{args:?}: {}\n{}", run.stdout, run.stderr);
    assert!(run.stdout.is_empty(), "{args:?}: {}", run.stdout);
    assert!(
        run.stderr.contains(needle),
        "{args:?}: {:?} not in {}",
        needle,
        run.stderr
    );
    run.stderr
}

#[test]
fn r16_host_colon_port_probes_only_that_port_on_ipv4_and_ipv6() {
    for ip in [
        IpAddr::from([127, 0, 0, 1]),
        IpAddr::V6(Ipv6Addr::LOCALHOST),
    ] {
        let server = FakeServer::start_on(ip, vec![dialogs::smtp_without_starttls()]);
        let host = match ip {
            IpAddr::V4(_) => format!("{ip}:{}", server.port()),
            IpAddr::V6(_) => format!("[{ip}]:{}", server.port()),
        };
        // A port that is no standard one is spoken as the one -s service.
        let run = Mailport::new()
            .args(["check", &host, "-s", "smtp", "--json", "--timeout", "2s"])
            .run();
        assert_eq!(run.code, 0, "{host}: {}\n{}", run.stdout, run.stderr);
        let report = run.report();
        assert_eq!(report.targets.len(), 1);
        let t = &report.targets[0];
        assert_eq!(t.host, ip.to_string(), "the host without its port");
        assert_eq!(t.probes.len(), 1, "only the port given: {:?}", t.probes);
        let p = &t.probes[0];
        assert_eq!((p.service.as_str(), p.port), ("smtp", server.port()));
        // The SMTP dialog ran on that port: EHLO answered, no STARTTLS offered.
        assert_eq!(p.outcome, "starttls_unavailable");
        assert!(p.requested);
        server.finish();
    }
}

#[test]
fn r16_a_port_that_is_no_standard_one_needs_a_service() {
    let e = usage_error(
        &["check", "127.0.0.1:2525"],
        "is no mail service's standard port",
    );
    assert!(e.contains("25 smtp, 587 submission"), "{e}");
    assert!(e.contains("-s smtp"), "{e}");
    usage_error(&["check", "127.0.0.1:0"], "not a port");
    usage_error(&["check", "[::1]:70000"], "not a port");
    usage_error(
        &["check", "example.org:587", "--mx"],
        "a mail domain is given alone",
    );
}

#[test]
fn r16_bare_ipv6_with_a_port_is_refused_with_the_bracket_form() {
    let e = usage_error(&["check", "::1:25"], "ambiguous");
    assert!(e.contains("write [::1]:25"), "{e}");
    assert_eq!(e.lines().count(), 1, "{e}");
}

#[test]
fn r16_durations_take_humantime_forms() {
    let server = FakeServer::smtp(dialogs::smtp_without_starttls());
    let host = format!("127.0.0.1:{}", server.port());
    let run = Mailport::new()
        .args(["check", &host, "-s", "smtp", "--json"])
        .args([
            "--timeout",
            "1m30s",
            "--deadline",
            "2h",
            "--greeting-timeout",
            "5",
            "--reply-timeout",
            "500ms",
        ])
        .run();
    assert_eq!(run.code, 0, "{}\n{}", run.stdout, run.stderr);
    server.finish();
    let e = usage_error(
        &["check", "example.org", "--timeout", "25h"],
        "out of range (1ms to 24h)",
    );
    assert!(e.contains("'25h'"), "{e}");
    usage_error(
        &["check", "example.org", "--deadline", "5x"],
        "is not a duration",
    );
}

#[test]
fn r16_an_empty_service_is_an_error_not_everything() {
    usage_error(&["check", "example.org", "-s", ""], "empty service name");
    usage_error(
        &["check", "example.org", "-s", "smtp,"],
        "empty service name",
    );
}

#[test]
fn r16_over_long_arguments_are_quoted_cut_short() {
    let long = "a".repeat(5000);
    let with_port = format!("{long}.example:2525");
    for args in [
        vec!["check", long.as_str()],
        vec!["check", with_port.as_str()],
        vec!["check", "example.org", "--timeout", long.as_str()],
        vec!["check", "example.org", "-s", long.as_str()],
        vec!["check", "example.org", "--ca-file", long.as_str()],
    ] {
        let run = Mailport::new().args(&args).run();
        assert_eq!(run.code, 2, "{}", run.stderr);
        assert!(
            run.stderr.len() < 1000,
            "{} bytes: {}",
            run.stderr.len(),
            run.stderr
        );
        assert!(
            run.stderr.contains("aaaa…"),
            "cut with an ellipsis: {}",
            run.stderr
        );
    }
}
