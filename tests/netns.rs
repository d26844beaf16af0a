//! "Connection timed out" made for real: network namespaces built by the
//! test, with real iptables rules, a router between client and server, and a
//! control host. They need root (CI and developer machines are root); without
//! it they fail loudly, they never skip. Everything stays inside namespaces
//! the test creates and deletes.

use crate::support::cmd::{Mailport, Run};
use crate::support::report::Probe;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};

/// A tiny SMTP-ish server: greets, answers EHLO without STARTTLS, QUIT; exits after 60 s.
const SERVER: &str = r#"
import socket, sys, threading, time
def serve(conn):
    try:
        conn.settimeout(10)
        conn.sendall(b"220 srv.lab.test ESMTP lab\r\n")
        buf = b""
        while True:
            data = conn.recv(1024)
            if not data:
                return
            buf += data
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                word = line.strip().upper()
                if word.startswith(b"EHLO"):
                    conn.sendall(b"250-srv.lab.test\r\n250 8BITMIME\r\n")
                elif word.startswith(b"QUIT"):
                    conn.sendall(b"221 bye\r\n")
                    return
                else:
                    conn.sendall(b"502 no\r\n")
    except Exception:
        pass
    finally:
        conn.close()
def listen(port):
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", port))
    s.listen(16)
    return s
socks = [listen(int(p)) for p in sys.argv[1:]]
for s in socks:
    def loop(s=s):
        while True:
            c, _ = s.accept()
            threading.Thread(target=serve, args=(c,), daemon=True).start()
    threading.Thread(target=loop, daemon=True).start()
print("ready", flush=True)
time.sleep(60)
"#;

/// A DNS server on 127.0.0.1:53 that answers every question NXDOMAIN.
const NXDOMAIN_DNS: &str = r#"
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(512)
    if len(data) < 12:
        continue
    i = 12
    while i < len(data) and data[i] != 0:
        i += 1 + data[i]
    question = data[12:i + 5]
    # QR, RD, RA, rcode 3 (NXDOMAIN); one question, no records.
    header = data[:2] + b"\x81\x83" + b"\x00\x01" + b"\x00" * 6
    s.sendto(header + question, peer)
"#;

static LABS: AtomicUsize = AtomicUsize::new(0);

/// A set of namespaces and the servers inside them, removed on drop.
pub(crate) struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    servers: Vec<Child>,
    links: usize,
}

fn run_ok(args: &[&str]) {
    let out = Command::new(args[0])
        .args(&args[1..])
        .output()
        .unwrap_or_else(|e| panic!("cannot run {args:?}: {e}"));
    assert!(
        out.status.success(),
        "{args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Lab {
    pub(crate) fn new() -> Lab {
        // SAFETY: geteuid has no preconditions.
        let euid = unsafe { libc::geteuid() };
        assert_eq!(
            euid, 0,
            "this test needs root: it builds network namespaces with iptables rules (run the suite as root, as CI does)"
        );
        for tool in ["ip", "iptables", "python3"] {
            let found = Command::new("sh")
                .args(["-c", &format!("command -v {tool}")])
                .output()
                .is_ok_and(|o| o.status.success());
            assert!(
                found,
                "this test needs `{tool}` (apt-get install iproute2 iptables python3)"
            );
        }
        let n = LABS.fetch_add(1, Ordering::SeqCst);
        Lab {
            prefix: format!("mp{}x{n}", std::process::id()),
            namespaces: Vec::new(),
            servers: Vec::new(),
            links: 0,
        }
    }

    pub(crate) fn ns(&mut self, name: &str) -> String {
        let full = format!("{}{name}", self.prefix);
        run_ok(&["ip", "netns", "add", &full]);
        self.namespaces.push(full.clone());
        self.exec(&full, &["ip", "link", "set", "lo", "up"]);
        full
    }

    pub(crate) fn exec(&self, ns: &str, cmd: &[&str]) {
        let mut args = vec!["ip", "netns", "exec", ns];
        args.extend_from_slice(cmd);
        run_ok(&args);
    }

    /// A veth link between two namespaces with a /30 on each end.
    fn link(&mut self, a: &str, a_addr: &str, b: &str, b_addr: &str) {
        self.links += 1;
        let n = self.links;
        let (va, vb) = (
            format!("{}a{n}", self.prefix),
            format!("{}b{n}", self.prefix),
        );
        let (va, vb) = (
            &va[va.len().saturating_sub(15)..],
            &vb[vb.len().saturating_sub(15)..],
        );
        run_ok(&[
            "ip", "link", "add", va, "netns", a, "type", "veth", "peer", "name", vb, "netns", b,
        ]);
        self.exec(a, &["ip", "addr", "add", a_addr, "dev", va]);
        self.exec(b, &["ip", "addr", "add", b_addr, "dev", vb]);
        self.exec(a, &["ip", "link", "set", va, "up"]);
        self.exec(b, &["ip", "link", "set", vb, "up"]);
    }

    /// Start the lab server in `ns` on `ports` and wait until it listens.
    fn server(&mut self, ns: &str, ports: &[u16]) {
        let ports: Vec<String> = ports.iter().map(u16::to_string).collect();
        self.python(ns, SERVER, &ports);
    }

    /// A file of `/etc` as seen inside `ns` (`ip netns exec` mounts
    /// /etc/netns/NS/FILE over /etc/FILE), removed on drop.
    fn etc(&self, ns: &str, file: &str, content: &str) {
        let dir = std::path::Path::new("/etc/netns").join(ns);
        std::fs::create_dir_all(&dir).expect("create /etc/netns/NS");
        std::fs::write(dir.join(file), content).expect("write /etc/netns/NS/FILE");
    }

    /// Run a python `script` with `args` in `ns` and wait for its "ready" line.
    pub(crate) fn python(&mut self, ns: &str, script: &str, args: &[String]) {
        let mut child = Command::new("ip")
            .args(["netns", "exec", ns, "python3", "-c", script])
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start the lab server");
        let mut line = String::new();
        BufReader::new(child.stdout.take().expect("stdout"))
            .read_line(&mut line)
            .expect("read the server's ready line");
        assert_eq!(line.trim(), "ready", "the lab server did not start");
        self.servers.push(child);
    }

    /// Run mailport inside `ns`.
    fn mailport(&self, ns: &str, args: &[&str]) -> Run {
        Mailport::new().args(args).in_netns(ns).run()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for s in &mut self.servers {
            let _ = s.kill();
            let _ = s.wait();
        }
        for ns in &self.namespaces {
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
            let _ = std::fs::remove_dir_all(std::path::Path::new("/etc/netns").join(ns));
        }
    }
}

/// A client and a server namespace on one link, the server on 25, 587, 465.
pub(crate) fn client_server(lab: &mut Lab) -> (String, String) {
    let cli = lab.ns("c");
    let srv = lab.ns("s");
    lab.link(&cli, "10.254.1.1/30", &srv, "10.254.1.2/30");
    lab.server(&srv, &[25, 587, 465]);
    (cli, srv)
}

pub(crate) fn probe_on(run: &Run, port: u16) -> Probe {
    run.report()
        .probes()
        .iter()
        .find(|p| p.port == port)
        .unwrap_or_else(|| panic!("no probe of {port}: {}", run.stdout))
        .clone()
}

const CHECK: &[&str] = &["check", "10.254.1.2", "--json", "--timeout", "1s"];

#[test]
fn a_drop_of_port_25_at_the_server_is_port25_blocked() {
    let mut lab = Lab::new();
    let (cli, srv) = client_server(&mut lab);
    lab.exec(
        &srv,
        &[
            "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "25", "-j", "DROP",
        ],
    );
    let run = lab.mailport(&cli, CHECK);
    let p25 = probe_on(&run, 25);
    assert_eq!(p25.outcome, "connect_timeout", "{p25:#}");
    assert_eq!(p25.connect.as_ref().unwrap().result, "timeout");
    assert_eq!(
        probe_on(&run, 587).connect.as_ref().unwrap().result,
        "connected"
    );
    assert!(
        run.finding_codes().contains(&"port25_blocked".to_string()),
        "{}",
        run.stdout
    );
    assert_eq!(run.code, 1);
}

#[test]
fn a_reject_with_admin_prohibited_is_unreachable_not_a_timeout() {
    let mut lab = Lab::new();
    let (cli, srv) = client_server(&mut lab);
    lab.exec(
        &srv,
        &[
            "iptables",
            "-A",
            "INPUT",
            "-p",
            "tcp",
            "--dport",
            "25",
            "-j",
            "REJECT",
            "--reject-with",
            "icmp-admin-prohibited",
        ],
    );
    let run = lab.mailport(&cli, CHECK);
    let p25 = probe_on(&run, 25);
    assert_eq!(p25.outcome, "unreachable", "{p25:#}");
    assert_eq!(p25.connect.as_ref().unwrap().result, "EHOSTUNREACH");
    assert!(
        p25.connect.as_ref().unwrap().ms < 900,
        "an ICMP answer is immediate"
    );
}

#[test]
fn a_default_reject_is_refused() {
    let mut lab = Lab::new();
    let (cli, srv) = client_server(&mut lab);
    lab.exec(
        &srv,
        &[
            "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "25", "-j", "REJECT",
        ],
    );
    let run = lab.mailport(&cli, CHECK);
    let p25 = probe_on(&run, 25);
    assert_eq!(p25.outcome, "refused", "{p25:#}");
    assert_eq!(p25.connect.as_ref().unwrap().result, "ECONNREFUSED");
}

/// client → router → server, and a control host behind the same router.
/// The router drops forwarded port 25, like an ISP's or VPS provider's egress filter.
#[test]
fn a_router_dropping_25_is_a_timeout_and_the_control_host_puts_the_block_on_our_side() {
    let mut lab = Lab::new();
    let cli = lab.ns("c");
    let rtr = lab.ns("r");
    let srv = lab.ns("s");
    let ctl = lab.ns("k");
    lab.link(&cli, "10.254.2.1/30", &rtr, "10.254.2.2/30");
    lab.link(&rtr, "10.254.3.1/30", &srv, "10.254.3.2/30");
    lab.link(&rtr, "10.254.4.1/30", &ctl, "10.254.4.2/30");
    lab.exec(
        &cli,
        &["ip", "route", "add", "default", "via", "10.254.2.2"],
    );
    lab.exec(
        &srv,
        &["ip", "route", "add", "default", "via", "10.254.3.1"],
    );
    lab.exec(
        &ctl,
        &["ip", "route", "add", "default", "via", "10.254.4.1"],
    );
    lab.exec(&rtr, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    lab.exec(
        &rtr,
        &[
            "iptables", "-A", "FORWARD", "-p", "tcp", "--dport", "25", "-j", "DROP",
        ],
    );
    lab.server(&srv, &[25, 587, 465]);
    lab.server(&ctl, &[25, 587, 465]);

    let run = lab.mailport(&cli, &["check", "10.254.3.2", "--json", "--timeout", "1s"]);
    assert_eq!(
        probe_on(&run, 25).outcome,
        "connect_timeout",
        "{}",
        run.stdout
    );
    let codes = run.finding_codes();
    assert!(codes.contains(&"port25_blocked".to_string()), "{codes:?}");
    assert!(!codes.contains(&"outbound_port25_blocked".to_string()));

    let run = lab.mailport(
        &cli,
        &[
            "check",
            "10.254.3.2",
            "--control",
            "10.254.4.2",
            "--json",
            "--timeout",
            "1s",
        ],
    );
    let codes = run.finding_codes();
    assert!(
        codes.contains(&"outbound_port25_blocked".to_string()),
        "{codes:?}\n{}",
        run.stdout
    );
    assert!(!codes.contains(&"port25_blocked".to_string()), "{codes:?}");
    assert_eq!(run.report().targets[1].role, "control");
    assert_eq!(run.code, 1);
}

#[test]
fn a_drop_on_this_machine_is_the_local_firewall() {
    let mut lab = Lab::new();
    let ns = lab.ns("l");
    lab.server(&ns, &[25, 587, 465]);
    lab.exec(
        &ns,
        &[
            "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "25", "-j", "DROP",
        ],
    );
    let run = lab.mailport(&ns, &["check", "127.0.0.1", "--json", "--timeout", "1s"]);
    assert_eq!(
        probe_on(&run, 25).outcome,
        "connect_timeout",
        "{}",
        run.stdout
    );
    assert!(
        run.finding_codes().contains(&"local_firewall".to_string()),
        "{}",
        run.stdout
    );
}

/// r12: a mail server that runs no POP3, IMAP or webmail is not a failure on
/// those ports in the default sweep; the same port asked for by name is.
#[test]
fn r12_ports_of_the_default_sweep_that_refuse_are_not_offered() {
    let mut lab = Lab::new();
    let (cli, _srv) = client_server(&mut lab);
    let run = lab.mailport(&cli, CHECK);
    let report = run.report();
    for port in [143, 993, 110, 995, 80, 443] {
        let p = probe_on(&run, port);
        assert_eq!(p.outcome, "refused", "{p:#}");
        assert!(!p.requested, "{p:#}");
        let f = report
            .findings
            .iter()
            .find(|f| f.port == Some(port))
            .unwrap_or_else(|| panic!("no finding for {port}: {}", run.stdout));
        assert_eq!(f.code, "service_not_offered", "{}", run.stdout);
        assert_eq!(f.severity, "info");
        assert!(
            f.message.contains("if it should run here, it is down"),
            "{}",
            f.message
        );
    }
    assert!(
        !run.finding_codes().contains(&"refused".to_string()),
        "{}",
        run.stdout
    );
    // Asked for by name, a refused port is a failure.
    let asked = lab.mailport(
        &cli,
        &[
            "check",
            "10.254.1.2",
            "--json",
            "--timeout",
            "1s",
            "--service",
            "smtp",
            "--service",
            "pop3",
        ],
    );
    let p = probe_on(&asked, 110);
    assert!(p.requested);
    let f = asked
        .report()
        .findings
        .iter()
        .find(|f| f.port == Some(110))
        .cloned()
        .unwrap();
    assert_eq!((f.code.as_str(), f.severity.as_str()), ("refused", "fail"));
    assert_eq!(asked.code, 1);
}

/// r12: reverse DNS and its forward confirmation come from DNS only: neither
/// /etc/hosts nor the resolver's own answer for 127.0.0.1 passes for a PTR.
#[test]
fn r12_ptr_asks_dns_not_the_hosts_file() {
    let mut lab = Lab::new();
    let ns = lab.ns("d");
    lab.etc(&ns, "resolv.conf", "nameserver 127.0.0.1\n");
    lab.etc(
        &ns,
        "hosts",
        "127.0.0.1 localhost\n10.254.9.9 private.lab.test\n",
    );
    lab.python(&ns, NXDOMAIN_DNS, &[]);
    let run = lab.mailport(&ns, &["ptr", "10.254.9.9", "127.0.0.1", "--json"]);
    let report = run.report();
    assert_eq!(report.targets.len(), 2, "{}", run.stdout);
    for t in &report.targets {
        let dns = t.dns.as_ref().expect("reverse DNS");
        assert!(dns.resolver.contains("127.0.0.1"), "{}", dns.resolver);
        let r = &dns.reverse[0];
        assert_eq!(r.status, "nxdomain", "{}: {}", t.host, run.stdout);
        assert!(r.names.is_empty(), "{}", run.stdout);
    }
    let codes = run.finding_codes();
    assert_eq!(codes, ["ptr_missing", "ptr_missing"], "{}", run.stdout);
    assert_eq!(run.code, 1);
}
