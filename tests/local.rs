//! `mailport local` and `check` on this machine's facts (issue 13): fixture
//! csf.conf files for each case, real listeners in a namespace read from
//! the real /proc/net/tcp, and the seed's case end to end: a CSF-like owner
//! rule in a namespace's OUTPUT, a csf.conf with SMTP_BLOCK = "1" and
//! SMTP_ALLOWLOCAL = "0", mailport run as nobody and as root. Running as
//! another user (setpriv) and namespaces need root, as tests/netns.rs does.

use crate::netns::{client_server, probe_on, Lab};
use crate::support::cmd::{Mailport, Run};
use crate::support::fixture_path;
use crate::support::report::Finding;
use crate::support::schema::valid_report;

fn csf(name: &str) -> String {
    fixture_path(&format!("csf/{name}"))
        .to_string_lossy()
        .into_owned()
}

/// `mailport local --json` with a fixture csf.conf and the fixture socket
/// tables, no firewall commands.
fn local_with(csf_conf: &str) -> Mailport {
    Mailport::local()
        .args(["--json", "--csf-conf", &csf(csf_conf), "--proc-net"])
        .arg(fixture_path("local"))
        .args([
            "--iptables-save",
            "none",
            "--ip6tables-save",
            "none",
            "--nft",
            "none",
        ])
}

fn findings(run: &Run, code: &str) -> Vec<Finding> {
    valid_report(run)
        .findings
        .into_iter()
        .filter(|f| f.code == code)
        .collect()
}

fn one(run: &Run, code: &str) -> Finding {
    let all = findings(run, code);
    assert_eq!(all.len(), 1, "one {code} expected:\n{}", run.stdout);
    all[0].clone()
}

fn codes(run: &Run) -> Vec<String> {
    valid_report(run)
        .findings
        .into_iter()
        .map(|f| f.code)
        .collect()
}

#[test]
fn smtp_block_on_and_allowlocal_off_blocks_nobody_and_names_the_two_lines() {
    let run = local_with("block1-local0.conf").run_as_nobody().run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = valid_report(&run);
    assert_eq!(report.command, "local");
    let local = report.local.as_ref().expect("the local section");
    assert_eq!((local.process.uid, local.process.gid), (65534, 65534));
    assert_eq!(local.csf.status, "read");

    let f = one(&run, "csf_smtp_blocked_user");
    assert_eq!(f.severity, "fail");
    for words in [
        "uid 65534 (nobody)",
        "line 22: SMTP_BLOCK = \"1\"",
        "line 27: SMTP_ALLOWLOCAL = \"0\"",
        "SMTP_ALLOWUSER = \"cpanel,nobody\"",
        "Root would pass",
        "--uid-owner 0",
        "Connection timed out",
    ] {
        assert!(f.message.contains(words), "{words:?} not in {}", f.message);
    }
    let f = one(&run, "csf_smtp_allowlocal_off");
    assert!(
        f.message.contains("line 27: SMTP_ALLOWLOCAL = \"0\""),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("Can't open SMTP stream"),
        "{}",
        f.message
    );

    // As root the same file is a block root passes, and still the local one.
    let run = local_with("block1-local0.conf").run();
    let c = codes(&run);
    assert!(c.contains(&"csf_smtp_block".into()), "{c:?}");
    assert!(c.contains(&"csf_smtp_allowlocal_off".into()), "{c:?}");
    assert!(!c.contains(&"csf_smtp_blocked_user".into()), "{c:?}");
    assert!(one(&run, "csf_smtp_block")
        .message
        .contains("uid 0 (root) and passes"));
}

#[test]
fn smtp_block_with_allowlocal_blocks_only_connections_out() {
    let run = local_with("block1-local1.conf").run_as_nobody().run();
    let f = one(&run, "csf_smtp_blocked_user");
    assert!(
        !f.message.contains("SMTP_ALLOWLOCAL = \"0\")"),
        "{}",
        f.message
    );
    assert!(f.message.contains("rejected") || f.message.contains("dropped"));
    assert!(!codes(&run).contains(&"csf_smtp_allowlocal_off".into()));
    assert_eq!(run.code, 1);
}

#[test]
fn smtp_block_off_blocks_no_one_whatever_allowlocal_says() {
    for conf in ["block0-local0.conf", "block0-local1.conf"] {
        let run = local_with(conf).run_as_nobody().run();
        let c = codes(&run);
        for code in [
            "csf_smtp_block",
            "csf_smtp_blocked_user",
            "csf_smtp_allowlocal_off",
            "csf_mta_blocked",
        ] {
            assert!(!c.contains(&code.to_string()), "{conf}: {c:?}");
        }
    }
}

#[test]
fn an_allowed_user_or_group_passes_smtp_block() {
    let run = local_with("allowuser-nobody.conf").run_as_nobody().run();
    let f = one(&run, "csf_smtp_block");
    assert!(
        f.message.contains("SMTP_ALLOWUSER lists nobody"),
        "{}",
        f.message
    );
    assert!(!codes(&run).contains(&"csf_smtp_blocked_user".into()));

    let run = local_with("allowgroup-nogroup.conf").run_as_nobody().run();
    let f = one(&run, "csf_smtp_block");
    assert!(
        f.message.contains("SMTP_ALLOWGROUP lists nogroup"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("rejected (DROP_OUT = \"REJECT\""),
        "{}",
        f.message
    );

    // Another group does not pass (users, gid 100).
    let run = local_with("allowgroup-nogroup.conf")
        .run_as(65534, 100)
        .run();
    assert!(
        codes(&run).contains(&"csf_smtp_blocked_user".into()),
        "{}",
        run.stdout
    );
}

#[test]
fn tcp_out_without_587_is_named_with_its_line() {
    let run = local_with("tcp-out-no-587.conf").run();
    let closed = findings(&run, "csf_port_closed");
    let f = closed
        .iter()
        .find(|f| f.port == Some(587))
        .unwrap_or_else(|| panic!("no csf_port_closed for 587:\n{}", run.stdout));
    assert_eq!(f.severity, "warn");
    assert!(
        f.message.contains("line 9: TCP_OUT does not list port 587"),
        "{}",
        f.message
    );
    assert!(f.message.contains("root included"), "{}", f.message);
    // 25 is listed.
    assert!(!closed.iter().any(|f| f.port == Some(25)), "{}", run.stdout);
}

#[test]
fn listeners_from_the_socket_tables_and_text_output() {
    let run = local_with("block0-local1.conf").run();
    let report = valid_report(&run);
    let sockets = &report
        .local
        .as_ref()
        .unwrap()
        .listeners
        .as_ref()
        .unwrap()
        .sockets;
    let on = |port: u16| -> Vec<&str> {
        sockets
            .iter()
            .filter(|s| s.port == port)
            .map(|s| s.address.as_str())
            .collect()
    };
    assert_eq!(on(25), ["127.0.0.1", "::1"]);
    assert_eq!(on(587), ["0.0.0.0"]);
    assert!(on(22).is_empty(), "not a mail port");
    let lo = one(&run, "local_loopback_only");
    assert_eq!(lo.port, Some(25));
    assert!(findings(&run, "local_not_listening")
        .iter()
        .any(|f| f.port == Some(110)));
    assert_eq!(run.code, 0, "warnings only:\n{}", run.stdout);

    // The text view: the facts, then the findings, within 80 columns.
    let text = Mailport::local()
        .args(["--csf-conf", &csf("block0-local1.conf"), "--proc-net"])
        .arg(fixture_path("local"))
        .args([
            "--iptables-save",
            "none",
            "--ip6tables-save",
            "none",
            "--nft",
            "none",
        ])
        .run();
    assert_eq!(text.code, 0);
    for words in [
        "smtp           25  127.0.0.1, ::1",
        "line 22 SMTP_BLOCK = \"0\"",
        "iptables-save (none): skipped",
        "WARN  local_loopback_only smtp/25",
        "findings: 0 fail,",
    ] {
        assert!(
            text.stdout.contains(words),
            "{words:?} not in:\n{}",
            text.stdout
        );
    }
    assert!(
        text.stdout.lines().all(|l| l.chars().count() <= 80),
        "{}",
        text.stdout
    );
}

#[test]
fn missing_files_are_said_not_guessed() {
    let run = Mailport::local()
        .args([
            "--json",
            "--csf-conf",
            "/nonexistent/csf.conf",
            "--proc-net",
            "/nonexistent",
        ])
        .args([
            "--iptables-save",
            "mailport-no-such-tool",
            "--ip6tables-save",
            "none",
            "--nft",
            "none",
        ])
        .run();
    assert_eq!(run.code, 0, "{}", run.stdout);
    let report = valid_report(&run);
    let local = report.local.unwrap();
    assert_eq!(local.csf.status, "not_found");
    assert!(local
        .listeners
        .unwrap()
        .sources
        .iter()
        .all(|s| s.status == "not_found"));
    assert_eq!(local.firewall[0].read.status, "not_found");
    assert!(report.findings.is_empty(), "{}", run.stdout);
}

#[test]
fn firewall_rules_from_a_saved_listing_name_the_owner_rule() {
    let rules = fixture_path("local/csf-smtp-block.rules");
    let run = Mailport::local()
        .args([
            "--json",
            "--csf-conf",
            &csf("block1-local1.conf"),
            "--proc-net",
        ])
        .arg(fixture_path("local"))
        .arg("--iptables-save")
        .arg(format!("cat {}", rules.display()))
        .args(["--ip6tables-save", "none", "--nft", "none"])
        .run();
    // Root passes the SMTPOUTPUT chain; other users do not.
    let f = one(&run, "firewall_blocks_other_users");
    assert!(
        f.message
            .contains("-A SMTPOUTPUT -p tcp -m multiport --dports 25,465,587 -j DROP"),
        "{}",
        f.message
    );
    // The INPUT rule drops 993, which listens on 0.0.0.0.
    let f = findings(&run, "firewall_blocks_mail");
    assert!(
        f.iter()
            .any(|f| f.port == Some(993) && f.message.contains("--dport 993 -j DROP")),
        "{}",
        run.stdout
    );

    // As nobody the same saved listing drops its SMTP, and root would pass.
    let run = Mailport::local()
        .args([
            "--json",
            "--csf-conf",
            &csf("block1-local1.conf"),
            "--proc-net",
        ])
        .arg(fixture_path("local"))
        .arg("--iptables-save")
        .arg(format!("cat {}", rules.display()))
        .args(["--ip6tables-save", "none", "--nft", "none"])
        .run_as_nobody()
        .run();
    let f = findings(&run, "firewall_blocks_mail");
    let out = f
        .iter()
        .find(|f| f.port.is_none())
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        out.message.contains("port 25, 465, 587; root would pass"),
        "{}",
        out.message
    );
}

#[test]
fn explain_knows_every_new_code() {
    for code in [
        "local_loopback_only",
        "local_not_listening",
        "csf_smtp_block",
        "csf_smtp_blocked_user",
        "csf_smtp_allowlocal_off",
        "csf_mta_blocked",
        "csf_port_closed",
        "firewall_blocks_mail",
        "firewall_blocks_other_users",
        "firewall_unreadable",
        "smtp_blocked_for_user",
    ] {
        let run = Mailport::new().args(["explain", code]).run();
        assert_eq!(run.code, 0, "{code}: {}", run.stderr);
        assert!(run.stdout.starts_with(code), "{}", run.stdout);
    }
}

/// Listens on each `ADDR:PORT` argument; exits after 60 s.
const LISTEN: &str = r#"
import socket, sys, time
socks = []
for spec in sys.argv[1:]:
    addr, port = spec.rsplit(":", 1)
    s = socket.socket(socket.AF_INET6 if ":" in addr else socket.AF_INET)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind((addr, int(port)))
    s.listen(4)
    socks.append(s)
print("ready", flush=True)
time.sleep(60)
"#;

/// Real sockets, read from the namespace's real /proc/net/tcp.
#[test]
fn real_listeners_on_loopback_and_on_every_address() {
    let mut lab = Lab::new();
    let ns = lab.ns("l");
    lab.python(
        &ns,
        LISTEN,
        &[
            "127.0.0.1:25".into(),
            "0.0.0.0:587".into(),
            "::1:993".into(),
        ],
    );
    let run = Mailport::local()
        .args(["--json", "--csf-conf", "/nonexistent", "--nft", "none"])
        .in_netns(&ns)
        .run_as_nobody()
        .run();
    let report = valid_report(&run);
    let listeners = report.local.as_ref().unwrap().listeners.clone().unwrap();
    assert!(
        listeners.sources.iter().all(|s| s.status == "read"),
        "{}",
        run.stdout
    );
    let got: Vec<(u16, &str)> = listeners
        .sockets
        .iter()
        .map(|s| (s.port, s.address.as_str()))
        .collect();
    assert_eq!(got, [(25, "127.0.0.1"), (587, "0.0.0.0"), (993, "::1")]);
    let lo: Vec<Option<u16>> = findings(&run, "local_loopback_only")
        .iter()
        .map(|f| f.port)
        .collect();
    assert_eq!(lo, [Some(25), Some(993)], "{}", run.stdout);
    assert!(!findings(&run, "local_not_listening")
        .iter()
        .any(|f| f.port == Some(587)));
    // Not root: the rules are not read, and that is said.
    assert_eq!(one(&run, "firewall_unreadable").severity, "info");
}

/// The seed: webmail (any user but root) cannot send because of a CSF-like
/// owner rule; `check` and `local` as nobody name the block, the rule and the
/// two lines; as root the same check passes.
#[test]
fn r13_the_seeds_csf_smtp_block_end_to_end() {
    let mut lab = Lab::new();
    let (cli, _srv) = client_server(&mut lab);
    lab.exec(
        &cli,
        &[
            "iptables",
            "-A",
            "OUTPUT",
            "-p",
            "tcp",
            "--dport",
            "25",
            "-m",
            "owner",
            "!",
            "--uid-owner",
            "0",
            "-j",
            "DROP",
        ],
    );
    let conf = csf("block1-local0.conf");
    let check = |services: &str| {
        Mailport::check("10.254.1.2")
            .args(["--json", "--service", services])
            .connect_timeout("1s")
            .env("MAILPORT_CSF_CONF", &conf)
            .env("MAILPORT_NFT", "none")
            .in_netns(&cli)
    };

    let run = check("smtp").run_as_nobody().run();
    assert_eq!(run.code, 1, "{}", run.stdout);
    let report = valid_report(&run);
    assert_eq!(
        probe_on(&run, 25).outcome,
        "connect_timeout",
        "{}",
        run.stdout
    );
    let f = one(&run, "smtp_blocked_for_user");
    assert_eq!(f.port, Some(25));
    for words in [
        "port 25 of 10.254.1.2 timed out because this machine blocks SMTP for uid 65534 (nobody)",
        "SMTP_BLOCK does not exempt this user",
        "--uid-owner 0",
        "line 22: SMTP_BLOCK = \"1\"",
        "line 27: SMTP_ALLOWLOCAL = \"0\"",
        "root would pass",
    ] {
        assert!(f.message.contains(words), "{words:?} not in {}", f.message);
    }
    assert!(
        !codes(&run).contains(&"connect_timeout".into()),
        "{}",
        run.stdout
    );
    let local = report.local.expect("check reads this machine's facts");
    assert!(local.listeners.is_none());
    assert_eq!(local.firewall[0].read.status, "denied");
    let p25 = probe_on(&run, 25);
    assert_eq!(p25.verdict_code.as_deref(), Some("smtp_blocked_for_user"));
    assert!(
        run.stdout.contains("smtp_blocked_for_user"),
        "the JSON names it: {}",
        run.stdout
    );

    // With 587 connecting, the path is not blamed for 25 (no port25_blocked).
    let run = check("smtp,submission").run_as_nobody().run();
    let c = codes(&run);
    assert!(c.contains(&"smtp_blocked_for_user".into()), "{c:?}");
    assert!(!c.contains(&"port25_blocked".into()), "{c:?}");
    assert_eq!(
        probe_on(&run, 587).connect.as_ref().unwrap().result,
        "connected"
    );

    // The text report says the same.
    let text = Mailport::check("10.254.1.2")
        .args(["--service", "smtp"])
        .connect_timeout("1s")
        .env("MAILPORT_CSF_CONF", &conf)
        .env("MAILPORT_NFT", "none")
        .in_netns(&cli)
        .run_as_nobody()
        .run();
    assert!(
        text.stdout.contains("FAIL  smtp_blocked_for_user smtp/25"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("This machine"), "{}", text.stdout);

    let run = Mailport::local()
        .args(["--json", "--csf-conf", &conf, "--nft", "none"])
        .in_netns(&cli)
        .run_as_nobody()
        .run();
    let f = one(&run, "csf_smtp_blocked_user");
    for words in [
        "line 22: SMTP_BLOCK = \"1\"",
        "line 27: SMTP_ALLOWLOCAL = \"0\"",
        "--uid-owner 0",
    ] {
        assert!(f.message.contains(words), "{words:?} not in {}", f.message);
    }
    assert!(codes(&run).contains(&"csf_smtp_allowlocal_off".into()));
    assert!(codes(&run).contains(&"firewall_unreadable".into()));

    // Root reads the live rule: it spares root and drops everyone else.
    let run = Mailport::local()
        .args(["--json", "--csf-conf", &conf, "--nft", "none"])
        .in_netns(&cli)
        .run();
    let f = one(&run, "firewall_blocks_other_users");
    assert!(
        f.message
            .contains("-A OUTPUT -p tcp -m tcp --dport 25 -m owner ! --uid-owner 0 -j DROP"),
        "{}",
        f.message
    );

    // As root the same check passes (the lab server offers no STARTTLS: a
    // warning) and reads nothing local.
    let run = check("smtp").run();
    assert_eq!(run.code, 0, "{}", run.stdout);
    assert_eq!(
        probe_on(&run, 25).connect.as_ref().unwrap().result,
        "connected"
    );
    assert!(!codes(&run).contains(&"smtp_blocked_for_user".into()));
    assert!(valid_report(&run).local.is_none());
}

/// With the rules readable (root), a rule that drops root's own SMTP is
/// named by `check` from the live rules, not from csf.conf.
#[test]
fn r13_check_names_the_live_rule_when_it_can_read_it() {
    let mut lab = Lab::new();
    let (cli, _srv) = client_server(&mut lab);
    lab.exec(
        &cli,
        &[
            "iptables", "-A", "OUTPUT", "-p", "tcp", "--dport", "25", "-j", "DROP",
        ],
    );
    let run = Mailport::check("10.254.1.2")
        .args(["--json", "--service", "smtp,submission"])
        .connect_timeout("1s")
        .env("MAILPORT_CSF_CONF", "/nonexistent")
        .env("MAILPORT_NFT", "none")
        .in_netns(&cli)
        .run();
    let f = one(&run, "smtp_blocked_for_user");
    assert!(
        f.message.contains("the rule `-A OUTPUT -p tcp -m tcp --dport 25 -j DROP` (iptables-save, filter OUTPUT rule 1) drops it"),
        "{}",
        f.message
    );
    assert!(!f.message.contains("root would pass"), "{}", f.message);
    assert!(valid_report(&run).local.is_some());
}

/// A closed port 25 that this machine's firewall does not explain shows no
/// local facts: they would only repeat `mailport local`.
#[test]
fn r13_a_refused_port_25_not_explained_here_shows_no_local_facts() {
    let mut lab = Lab::new();
    let ns = lab.ns("e");
    let run = Mailport::check("127.0.0.1")
        .args(["--json", "--service", "smtp"])
        .env("MAILPORT_CSF_CONF", "/nonexistent")
        .env("MAILPORT_NFT", "none")
        .in_netns(&ns)
        .run();
    assert_eq!(probe_on(&run, 25).outcome, "refused", "{}", run.stdout);
    assert!(valid_report(&run).local.is_none(), "{}", run.stdout);
    assert!(!codes(&run).contains(&"smtp_blocked_for_user".into()));
}

/// A run of several hosts reads this machine's facts once, when the first
/// host has a failed SMTP probe, explains every such host by them, and
/// shows them once: on the first host's JSON Lines record, once in the
/// text written host by host, once in the JSON report.
#[test]
fn r13_a_run_of_several_hosts_reads_this_machine_once_and_shows_it_once() {
    let mut lab = Lab::new();
    let (cli, _srv) = client_server(&mut lab);
    lab.exec(
        &cli,
        &[
            "iptables", "-A", "OUTPUT", "-p", "tcp", "--dport", "25", "-j", "DROP",
        ],
    );
    // `nft` is a script that counts its runs: one per reading of the facts.
    let dir = tempfile::tempdir().unwrap();
    let counter = dir.path().join("runs");
    let script = dir.path().join("nft.sh");
    std::fs::write(&script, format!("echo run >> {}\n", counter.display())).unwrap();
    let runs = || {
        std::fs::read_to_string(&counter)
            .unwrap_or_default()
            .lines()
            .count()
    };
    let check = || {
        Mailport::new()
            .args(["check", "10.254.1.2", "127.0.0.1", "--service", "smtp"])
            .connect_timeout("1s")
            .env("MAILPORT_CSF_CONF", "/nonexistent")
            .env("MAILPORT_NFT", &format!("sh {}", script.display()))
            .in_netns(&cli)
    };
    let blocked = |findings: &[Finding]| {
        findings
            .iter()
            .filter(|f| f.code == "smtp_blocked_for_user")
            .count()
    };

    let run = check().jsonl().run();
    assert_eq!(run.code, 1, "{}{}", run.stdout, run.stderr);
    let lines = run.lines();
    let hosts = lines.hosts();
    assert_eq!(hosts.len(), 2, "{}", run.stdout);
    for h in &hosts {
        assert_eq!(blocked(&h.findings), 1, "{h:?}");
        let p25 = &h.target.probes[0];
        assert_eq!(p25.verdict_code.as_deref(), Some("smtp_blocked_for_user"));
    }
    let with_local: Vec<_> = hosts.iter().filter(|h| h.local.is_some()).collect();
    assert_eq!(with_local.len(), 1, "the facts once: {}", run.stdout);
    assert_eq!(
        with_local[0].target.host, hosts[0].target.host,
        "on the first host written"
    );
    let local = with_local[0].local.as_ref().unwrap();
    assert!(local.listeners.is_none());
    assert_eq!(runs(), 1, "read once for the run");

    let text = check().run();
    assert_eq!(
        text.stdout.matches("This machine").count(),
        1,
        "{}",
        text.stdout
    );
    assert_eq!(
        text.stdout
            .matches("FAIL  smtp_blocked_for_user smtp/25")
            .count(),
        2,
        "{}",
        text.stdout
    );
    assert_eq!(runs(), 2);

    let json = check().arg("--json").run();
    let report = valid_report(&json);
    assert!(report.local.is_some(), "{}", json.stdout);
    assert_eq!(blocked(&report.findings), 2, "{}", json.stdout);
    assert_eq!(runs(), 3);
}
