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

// ---- Where is it blocked? (issue 13) ------------------------------------

/// A DNS server on 127.0.0.1:53 with a few PTR and A records (argv: pairs
/// of address and name), NXDOMAIN for everything else.
const LAB_DNS: &str = r#"
import socket, sys
pairs = sys.argv[1:]
ptr, a = {}, {}
for i in range(0, len(pairs), 2):
    addr, name = pairs[i], pairs[i + 1]
    ptr[".".join(reversed(addr.split("."))) + ".in-addr.arpa"] = name
    a[name] = addr
def encode(name):
    return b"".join(bytes([len(l)]) + l.encode() for l in name.split(".")) + b"\0"
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 53))
print("ready", flush=True)
while True:
    data, peer = s.recvfrom(512)
    if len(data) < 12:
        continue
    i, labels = 12, []
    while i < len(data) and data[i] != 0:
        labels.append(data[i + 1:i + 1 + data[i]].decode("ascii", "replace"))
        i += 1 + data[i]
    qname = ".".join(labels).lower()
    qtype = int.from_bytes(data[i + 1:i + 3], "big")
    question = data[12:i + 5]
    answer = b""
    if qtype == 12 and qname in ptr:
        rdata = encode(ptr[qname])
        answer = b"\xc0\x0c\x00\x0c\x00\x01\x00\x00\x00\x3c" + len(rdata).to_bytes(2, "big") + rdata
    elif qtype == 1 and qname in a:
        rdata = socket.inet_aton(a[qname])
        answer = b"\xc0\x0c\x00\x01\x00\x01\x00\x00\x00\x3c\x00\x04" + rdata
    known = qname in ptr or qname in a
    flags = b"\x81\x80" if known else b"\x81\x83"
    header = data[:2] + flags + b"\x00\x01" + (b"\x00\x01" if answer else b"\x00\x00") + b"\x00\x00\x00\x00"
    s.sendto(header + question + answer, peer)
"#;

/// client → r1 → r2 → server, each link a /30; the server listens on 25
/// and 587. The client has a DNS server with the routers' PTR names.
struct Chain {
    cli: String,
    r1: String,
    srv: String,
}

const R1: &str = "10.253.1.2";
const R2: &str = "10.253.2.2";
const SRV: &str = "10.253.3.2";

fn chain(lab: &mut Lab) -> Chain {
    let cli = lab.ns("c");
    let r1 = lab.ns("r");
    let r2 = lab.ns("q");
    let srv = lab.ns("s");
    lab.link(&cli, "10.253.1.1/30", &r1, "10.253.1.2/30");
    lab.link(&r1, "10.253.2.1/30", &r2, "10.253.2.2/30");
    lab.link(&r2, "10.253.3.1/30", &srv, "10.253.3.2/30");
    lab.exec(&cli, &["ip", "route", "add", "default", "via", R1]);
    lab.exec(&r1, &["ip", "route", "add", "default", "via", R2]);
    lab.exec(
        &r2,
        &["ip", "route", "add", "10.253.1.0/30", "via", "10.253.2.1"],
    );
    lab.exec(
        &srv,
        &["ip", "route", "add", "default", "via", "10.253.3.1"],
    );
    for r in [&r1, &r2] {
        lab.exec(r, &["sysctl", "-qw", "net.ipv4.ip_forward=1"]);
    }
    lab.server(&srv, &[25, 587]);
    let names: Vec<String> = [
        (R1, "r1.isp.lab.test"),
        (R2, "r2.lab.test"),
        (SRV, "srv.lab.test"),
    ]
    .iter()
    .flat_map(|(a, n)| [a.to_string(), n.to_string()])
    .collect();
    lab.python(&cli, LAB_DNS, &names);
    Chain { cli, r1, srv }
}

/// `check SRV` on 25 and 587 from the client, with the lab's DNS.
fn check_chain(lab: &Lab, c: &Chain, extra: &[&str]) -> (Run, std::time::Duration) {
    let mut args = vec![
        "check",
        SRV,
        "--service",
        "smtp,submission",
        "--timeout",
        "1s",
        "--dns-server",
        "127.0.0.1",
    ];
    args.extend_from_slice(extra);
    let start = std::time::Instant::now();
    let run = lab.mailport(&c.cli, &args);
    (run, start.elapsed())
}

fn drop_25(lab: &Lab, ns: &str, chain: &str) {
    lab.exec(
        ns,
        &[
            "iptables", "-A", chain, "-p", "tcp", "--dport", "25", "-j", "DROP",
        ],
    );
}

/// The trace of port 25, its wall time printed and held to its bound.
fn trace_25(run: &Run, label: &str, wall: std::time::Duration) -> crate::support::report::Trace {
    let report = crate::support::schema::valid_report(run);
    let traces = report.targets[0].traces.clone().unwrap_or_default();
    let t = traces
        .iter()
        .find(|t| t.port == 25)
        .unwrap_or_else(|| panic!("no trace of port 25: {}", run.stdout))
        .clone();
    println!(
        "{label}: trace {} ms (bound {} ms, {} hops of 25, {} of {}), whole run {} ms",
        t.ms,
        t.bound_ms,
        t.hops.len(),
        t.control_hops.len(),
        t.control_port.unwrap_or(0),
        wall.as_millis()
    );
    assert!(t.bound_ms <= 6000, "{t}");
    // The bound, and a little for the last round's bookkeeping.
    assert!(t.ms <= t.bound_ms + 250, "the trace overran its bound: {t}");
    assert_eq!(t.control_port, Some(587), "{t}");
    assert_eq!(t.reason, "auto", "{t}");
    t
}

/// The text report: the finding, the trace table, 80 columns.
fn assert_text(lab: &Lab, c: &Chain, code: &str, rows: &[&str]) {
    let (run, _) = check_chain(lab, c, &["--color", "never"]);
    let text = &run.stdout;
    println!("{text}");
    assert!(text.contains(code), "{text}");
    assert!(
        text.contains(&format!("Trace to {SRV} port 25 (smtp) beside 587")),
        "{text}"
    );
    for row in rows {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().collect::<Vec<_>>().join(" ") == *row),
            "no row {row:?} in:\n{text}"
        );
    }
    for l in text.lines() {
        assert!(l.chars().count() <= 80, "longer than 80 columns: {l}");
    }
}

#[test]
fn trace_a_drop_in_the_clients_output_is_blocked_locally() {
    let mut lab = Lab::new();
    let c = chain(&mut lab);
    drop_25(&lab, &c.cli, "OUTPUT");
    let (run, wall) = check_chain(&lab, &c, &["--json"]);
    let t = trace_25(&run, "blocked_locally", wall);
    assert_eq!(t.hops[0].reply, "silent", "{t}");
    assert!(t.hops.iter().all(|h| h.reply == "silent"), "{t}");
    assert_eq!(t.control_hops[0].reply, "time_exceeded", "{t}");
    assert_eq!(t.control_hops[0].from.as_deref(), Some(R1), "{t}");
    assert_eq!(
        t.control_hops[0].from_name.as_deref(),
        Some("r1.isp.lab.test"),
        "{t}"
    );
    assert_eq!(t.control_hops.last().unwrap().reply, "connected", "{t}");
    assert_eq!(t.control_hops.len(), 3, "{t}");
    let report = run.report();
    let f = report.finding("blocked_locally");
    assert_eq!((f.port, f.severity.as_str()), (Some(25), "fail"));
    assert!(
        f.message.contains("never left this machine"),
        "{}",
        f.message
    );
    assert!(!run.finding_codes().contains(&"blocked_at_hop".to_string()));
    assert_text(
        &lab,
        &c,
        "blocked_locally",
        &[
            "1 * 10.253.1.2 r1.isp.lab.test",
            "2 * 10.253.2.2 r2.lab.test",
            "3 connected",
        ],
    );
}

#[test]
fn trace_a_drop_at_the_first_router_is_blocked_at_hop_1() {
    let mut lab = Lab::new();
    let c = chain(&mut lab);
    drop_25(&lab, &c.r1, "FORWARD");
    let (run, wall) = check_chain(&lab, &c, &["--json"]);
    let t = trace_25(&run, "blocked_at_hop", wall);
    assert_eq!(t.hops[0].reply, "time_exceeded", "{t}");
    assert_eq!(t.hops[0].from.as_deref(), Some(R1), "{t}");
    assert_eq!(t.hops[1].reply, "silent", "{t}");
    assert!(
        t.source_port.is_some() && t.control_source_port.is_some(),
        "{t}"
    );
    let report = run.report();
    let f = report.finding("blocked_at_hop");
    assert!(
        f.message
            .contains("up to hop 1 (10.253.1.2 (r1.isp.lab.test))"),
        "{}",
        f.message
    );
    assert!(f.message.contains("destination at hop 3"), "{}", f.message);
    assert!(f.message.contains("ECMP"), "{}", f.message);
    assert_text(
        &lab,
        &c,
        "blocked_at_hop",
        &[
            "1 10.253.1.2 r1.isp.lab.test 10.253.1.2 r1.isp.lab.test",
            "2 * 10.253.2.2 r2.lab.test",
        ],
    );
}

#[test]
fn trace_a_drop_at_the_server_is_blocked_at_destination() {
    let mut lab = Lab::new();
    let c = chain(&mut lab);
    drop_25(&lab, &c.srv, "INPUT");
    let (run, wall) = check_chain(&lab, &c, &["--json"]);
    let t = trace_25(&run, "blocked_at_destination", wall);
    let replies: Vec<&str> = t.hops.iter().map(|h| h.reply.as_str()).collect();
    assert_eq!(replies, ["time_exceeded", "time_exceeded", "silent"], "{t}");
    assert_eq!(t.end, "done", "{t}");
    let report = run.report();
    let f = report.finding("blocked_at_destination");
    assert!(
        f.message.contains("hop 2 (10.253.2.2 (r2.lab.test))"),
        "{}",
        f.message
    );
    assert!(
        f.message.contains("cannot tell those two apart"),
        "{}",
        f.message
    );
    assert_text(&lab, &c, "blocked_at_destination", &["3 * connected"]);
}

/// A run written host by host traces each host after its own probes:
/// the JSON Lines record of the blocked host has its trace and finding,
/// the router (nothing listens: refused, no trace) has none, and the text
/// shows the trace table under its host.
#[test]
fn trace_in_a_run_of_several_hosts_is_each_hosts_own() {
    let mut lab = Lab::new();
    let c = chain(&mut lab);
    drop_25(&lab, &c.srv, "INPUT");
    let args = |format: &'static str| {
        vec![
            "check",
            SRV,
            R1,
            "--service",
            "smtp,submission",
            "--timeout",
            "1s",
            "--dns-server",
            "127.0.0.1",
            "--format",
            format,
        ]
    };
    let run = lab.mailport(&c.cli, &args("jsonl"));
    let lines = run.lines();
    let hosts = lines.hosts();
    assert_eq!(hosts.len(), 2, "{}", run.stdout);
    let srv = hosts.iter().find(|h| h.target.host == SRV).unwrap();
    let traces = srv.target.traces.clone().unwrap_or_default();
    let t = traces.iter().find(|t| t.port == 25).expect("a trace of 25");
    assert_eq!(t.control_port, Some(587), "{t}");
    assert_eq!(t.hops[1].from_name.as_deref(), Some("r2.lab.test"), "{t}");
    assert!(
        srv.findings
            .iter()
            .any(|f| f.code == "blocked_at_destination"),
        "{:?}",
        srv.findings
    );
    let r1 = hosts.iter().find(|h| h.target.host == R1).unwrap();
    assert!(r1.target.traces.is_none(), "{:?}", r1.target.traces);

    let text = lab.mailport(&c.cli, &args("text")).stdout;
    println!("{text}");
    assert!(
        text.contains(&format!("Trace to {SRV} port 25 (smtp) beside 587")),
        "{text}"
    );
    assert!(text.contains("blocked_at_destination"), "{text}");
}

/// How many SYNs to `port` reached `ns` with an IP TTL of 1 (`ttl1`: the
/// first hop of a trace's walk, on a direct link) or more (a probe's), as
/// counted by the two rules [`count_syns`] adds.
fn syns(ns: &str, port: u16, ttl1: bool) -> u64 {
    let out = Command::new("ip")
        .args([
            "netns", "exec", ns, "iptables", "-L", "INPUT", "-v", "-n", "-x",
        ])
        .output()
        .expect("iptables -L");
    let text = String::from_utf8_lossy(&out.stdout);
    let (dpt, ttl) = (
        format!("dpt:{port} "),
        if ttl1 {
            "TTL match TTL == 1"
        } else {
            "TTL match TTL > 1"
        },
    );
    let line = text
        .lines()
        .find(|l| l.contains(&dpt) && l.contains(ttl))
        .unwrap_or_else(|| panic!("no counting rule for {port} ({ttl}) in:\n{text}"));
    line.split_whitespace()
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no packet count in {line:?}"))
}

/// Two rules with no target that only count the SYNs to `port` reaching
/// `ns`: those with TTL 1 and the others.
fn count_syns(lab: &Lab, ns: &str, port: u16) {
    let port = port.to_string();
    for ttl in [["--ttl-eq", "1"], ["--ttl-gt", "1"]] {
        lab.exec(
            ns,
            &[
                "iptables", "-I", "INPUT", "-p", "tcp", "--dport", &port, "--syn", "-m", "ttl",
                ttl[0], ttl[1],
            ],
        );
    }
}

/// Hosts behind one address whose port 25 is dropped (issue 15): the
/// address is walked once for the run, the hosts that reach their trace at
/// once waiting for that walk, and every host's record carries the trace,
/// all but one marked shared. Counted at the server: one SYN with TTL 1
/// to 587 (the one walk's control port, reached at hop 1), and the probes'
/// SYNs only for the probes made (one, shared: one TLS name).
#[test]
fn r15_hosts_behind_one_filtered_address_share_one_trace() {
    let mut lab = Lab::new();
    let (cli, srv) = client_server(&mut lab);
    lab.exec(
        &srv,
        &[
            "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "25", "-j", "DROP",
        ],
    );
    count_syns(&lab, &srv, 587);
    let hosts = ["a.lab.test", "b.lab.test", "c.lab.test", "d.lab.test"];
    let mut args: Vec<String> = vec!["check".into()];
    args.extend(hosts.iter().map(|h| h.to_string()));
    for h in hosts {
        args.extend(["--resolve".into(), format!("{h}:10.254.1.2")]);
    }
    args.extend(
        [
            "--tls-name",
            "mx.lab.test",
            "--service",
            "smtp,submission",
            "--timeout",
            "1s",
            "--format",
            "jsonl",
        ]
        .map(String::from),
    );
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let run = lab.mailport(&cli, &args);
    let lines = run.lines();
    let records = lines.hosts();
    assert_eq!(records.len(), 4, "{}\n{}", run.stdout, run.stderr);
    let mut walked = 0;
    let mut probed = 0;
    for h in &records {
        let traces = h.target.traces.clone().unwrap_or_default();
        assert_eq!(traces.len(), 1, "{}: {traces:?}", h.target.host);
        let t = &traces[0];
        assert_eq!((t.port, t.control_port), (25, Some(587)), "{t}");
        assert_eq!(t.hops[0].reply, "silent", "{t}");
        assert_eq!(t.control_hops[0].reply, "connected", "{t}");
        walked += usize::from(!t.shared);
        let p587 = h.target.probes.iter().find(|p| p.port == 587).unwrap();
        assert_eq!(p587.outcome, "starttls_unavailable", "{p587}");
        probed += u64::from(!p587.shared);
        assert!(
            h.findings
                .iter()
                .any(|f| f.code == "blocked_at_destination" && f.port == Some(25)),
            "{}: {:?}",
            h.target.host,
            h.findings
        );
    }
    assert_eq!(walked, 1, "one walk made, three shared: {}", run.stdout);
    assert_eq!(syns(&srv, 587, true), 1, "one walk reached 587 at hop 1");
    assert_eq!(syns(&srv, 587, false), probed, "the probes made");
    assert_eq!(probed, 1, "{}", run.stdout);
}

#[test]
fn a_router_rejecting_with_admin_prohibited_is_named_in_the_connect_facts() {
    let mut lab = Lab::new();
    let c = chain(&mut lab);
    lab.exec(
        &c.r1,
        &[
            "iptables",
            "-A",
            "FORWARD",
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
    let (run, _) = check_chain(&lab, &c, &["--json", "--trace"]);
    let report = crate::support::schema::valid_report(&run);
    let p25 = probe_on(&run, 25);
    assert_eq!(p25.outcome, "unreachable", "{p25:#}");
    let connect = p25.connect.as_ref().unwrap();
    assert_eq!(connect.result, "EHOSTUNREACH");
    let icmp = connect.icmp.as_ref().expect("the ICMP error");
    assert_eq!(
        (icmp.protocol.as_str(), icmp.icmp_type, icmp.code),
        ("icmp", 3, 13)
    );
    assert_eq!(icmp.name, "admin-prohibited");
    assert_eq!(icmp.from.as_deref(), Some(R1));
    assert_eq!(icmp.from_name.as_deref(), Some("r1.isp.lab.test"));
    assert!(
        p25.detail()
            .contains("administratively prohibited by 10.253.1.2")
            && p25
                .detail()
                .contains("a device on the path, not the server"),
        "{}",
        p25.detail()
    );
    let f = report
        .findings
        .iter()
        .find(|f| f.code == "unreachable")
        .expect("unreachable finding");
    assert!(
        f.message
            .contains("administratively prohibited by 10.253.1.2 (r1.isp.lab.test)"),
        "{}",
        f.message
    );
    // --trace: the walk shows the reject by hop 1 (its TTL runs out
    // there before its forwarding rules are read: TTL 1 is time-exceeded).
    let t = &report.targets[0].traces.as_ref().expect("a trace")[0];
    assert_eq!(t.reason, "asked", "{t}");
    assert_eq!(t.hops[0].reply, "time_exceeded", "{t}");
    assert_eq!(t.hops[1].reply, "rejected", "{t}");
    assert_eq!(t.hops[1].from.as_deref(), Some(R1), "{t}");
    assert_eq!(t.hops[1].icmp.as_deref(), Some("admin-prohibited"), "{t}");
    assert_eq!(t.hops.len(), 2, "the walk ends at the reject: {t}");
    let hop = report.finding("blocked_at_hop");
    assert!(
        hop.message
            .contains("rejected at hop 1 by 10.253.1.2 (r1.isp.lab.test)"),
        "{}",
        hop.message
    );
    // Text: the detail in --verbose names the sender.
    let (text, _) = check_chain(&lab, &c, &["--verbose", "--no-trace"]);
    println!("{}", text.stdout);
    let words = text.stdout.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        words.contains(
            "connect: EHOSTUNREACH; ICMP admin-prohibited (type 3 code 13) from 10.253.1.2 (r1.isp.lab.test)"
        ),
        "{}",
        text.stdout
    );
    assert!(
        !text.stdout.contains("Trace to"),
        "--no-trace: {}",
        text.stdout
    );
}

#[test]
fn a_reject_on_the_server_is_told_apart_from_nothing_listening() {
    let mut lab = Lab::new();
    let c = chain(&mut lab);
    lab.exec(
        &c.srv,
        &[
            "iptables", "-A", "INPUT", "-p", "tcp", "--dport", "25", "-j", "REJECT",
        ],
    );
    // 25 is rejected (ICMP port-unreachable); nothing listens on 2626 (RST).
    let (run, _) = check_chain(&lab, &c, &["--json", "--port", "2626/smtp"]);
    let _ = crate::support::schema::valid_report(&run);
    let rejected = probe_on(&run, 25);
    let closed = probe_on(&run, 2626);
    assert_eq!(
        (rejected.outcome.as_str(), closed.outcome.as_str()),
        ("refused", "refused")
    );
    let icmp = rejected
        .connect
        .as_ref()
        .unwrap()
        .icmp
        .as_ref()
        .expect("ICMP");
    assert_eq!(
        (icmp.icmp_type, icmp.code, icmp.name.as_str()),
        (3, 3, "port-unreachable")
    );
    assert_eq!(icmp.from.as_deref(), Some(SRV));
    assert_eq!(icmp.from_name.as_deref(), Some("srv.lab.test"));
    assert!(
        rejected
            .detail()
            .contains("refused by a firewall rule (ICMP port-unreachable from 10.253.3.2"),
        "{}",
        rejected.detail()
    );
    assert!(
        closed.connect.as_ref().unwrap().icmp.is_none(),
        "{closed:#}"
    );
    assert!(
        closed.detail().contains("TCP RST, so nothing listens"),
        "{}",
        closed.detail()
    );
    let report = run.report();
    let messages: Vec<&str> = report
        .findings
        .iter()
        .filter(|f| f.code == "refused")
        .map(|f| f.message.as_str())
        .collect();
    assert!(
        messages
            .iter()
            .any(|m| m.contains("refused by a firewall rule")
                && m.contains("10.253.3.2 (srv.lab.test)")),
        "{messages:#?}"
    );
    assert!(
        messages.iter().any(|m| m.contains("TCP RST")),
        "{messages:#?}"
    );
    // No trace: nothing timed out.
    assert!(report.targets[0].traces.is_none(), "{}", run.stdout);
    let (text, _) = check_chain(&lab, &c, &["--port", "2626/smtp", "--color", "never"]);
    println!("{}", text.stdout);
    assert!(
        text.stdout.contains("refused by a firewall rule"),
        "{}",
        text.stdout
    );
    assert!(text.stdout.contains("nothing listens"), "{}", text.stdout);
}

/// The trace keeps the run's --deadline when it comes before its own bound.
#[test]
fn trace_keeps_the_runs_deadline() {
    let mut lab = Lab::new();
    let c = chain(&mut lab);
    drop_25(&lab, &c.r1, "FORWARD");
    let (run, wall) = check_chain(&lab, &c, &["--json", "--deadline", "2s"]);
    let report = crate::support::schema::valid_report(&run);
    let t = &report.targets[0].traces.as_ref().expect("a trace")[0];
    println!(
        "deadline 2s: trace {} ms (bound {} ms, end {}), whole run {} ms",
        t.ms,
        t.bound_ms,
        t.end,
        wall.as_millis()
    );
    assert!(t.bound_ms < 1500, "the deadline, not 6 s, bounds it: {t}");
    assert!(t.ms <= t.bound_ms + 250, "{t}");
    assert!(
        ["time_bound", "done", "no_time"].contains(&t.end.as_str()),
        "{t}"
    );
    // The whole run: its deadline, and slack for starting the process.
    assert!(wall.as_millis() < 3500, "{} ms", wall.as_millis());
}
