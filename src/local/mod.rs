//! `mailport local`, and the local facts `check` gathers when a mail port
//! failed to connect: who runs mailport, which mail ports listen where
//! (/proc/net/tcp and tcp6), ConfigServer Firewall's csf.conf, and the
//! firewall rules (iptables-save, ip6tables-save, nft list ruleset) — each
//! from a place the plan names, so that tests can use fixtures. A stage of
//! the pipeline: it reads and returns facts; diagnosis decides what they mean.
//! What cannot be read (firewall rules need root) is recorded as such.

mod csf;
mod listen;
mod nft;
mod rules;

use crate::plan::LocalPaths;
use crate::report::{
    Account, AccountKind, Family, Identity, Listeners, LocalFacts, Outcome, ReadStatus, RuleSource,
    SafeText, SourceRead, TargetReport,
};
use crate::service::{Role, SERVICES};
use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The users mail transfer agents deliver as (cPanel's Exim: mailnull;
/// Debian's: Debian-exim; Postfix: postfix).
pub const MTA_USERS: &[&str] = &["exim", "mailnull", "Debian-exim", "postfix"];

/// The SMTP ports a sending firewall such as CSF's SMTP_BLOCK is about.
pub const SMTP_PORTS: &[u16] = &[25, 465, 587];

/// A firewall listing command gets this long.
const COMMAND_TIME: Duration = Duration::from_secs(5);
/// And this much of its output is read.
const COMMAND_BYTES: u64 = 32 << 20;

/// The mail ports of the services table (no webmail, no obsolete ports).
pub fn mail_ports() -> Vec<u16> {
    SERVICES
        .iter()
        .filter(|s| s.default && s.role != Role::Webmail)
        .map(|s| s.port)
        .collect()
}

/// Whether `check` should read this machine's facts: a probe of 25, 465
/// or 587 of a host to check did not connect.
pub fn wanted(targets: &[TargetReport]) -> bool {
    targets
        .iter()
        .filter(|t| t.role == crate::report::Role::Target)
        .flat_map(|t| &t.probes)
        .any(|p| {
            SMTP_PORTS.contains(&p.port)
                && matches!(
                    p.outcome,
                    Outcome::ConnectTimeout | Outcome::Refused | Outcome::Unreachable
                )
        })
}

/// Read this machine's facts. `listeners`: also the listening sockets
/// (`mailport local`; `check` is about connecting out).
pub fn gather(paths: &LocalPaths, listeners: bool) -> LocalFacts {
    let ports = mail_ports();
    let passwd = read_file(Path::new("/etc/passwd"), 16 << 20)
        .1
        .unwrap_or_default();
    let group = read_file(Path::new("/etc/group"), 16 << 20)
        .1
        .unwrap_or_default();
    let (uid, gid) = (
        nix::unistd::geteuid().as_raw(),
        nix::unistd::getegid().as_raw(),
    );
    let process = Identity {
        uid,
        user: name_of(&passwd, uid),
        gid,
        group: name_of(&group, gid),
    };
    let listeners = listeners.then(|| {
        let (sources, sockets) = listen::read(&paths.proc_net, &ports);
        Listeners { sources, sockets }
    });
    let csf = csf::read(&paths.csf_conf);

    let mut firewall = Vec::new();
    let mut nf_tables_backend = false;
    for (cmd, family, label) in [
        (&paths.iptables_save, Family::Ipv4, "iptables-save"),
        (&paths.ip6tables_save, Family::Ipv6, "ip6tables-save"),
    ] {
        let (read, text) = run(label, cmd);
        let text = text.unwrap_or_default();
        nf_tables_backend |= read.status == ReadStatus::Read && text.contains("nf_tables");
        firewall.push(RuleSource {
            read,
            family,
            rules: rules::parse_iptables(&text, &ports),
        });
    }
    let (read, text) = run("nft", &paths.nft);
    let parsed = nft::parse(&text.unwrap_or_default(), &ports, nf_tables_backend);
    // One source per family, in the order nft listed them.
    let mut by_family: Vec<RuleSource> = Vec::new();
    for (family, rule) in parsed {
        match by_family.iter_mut().find(|s| s.family == family) {
            Some(s) => s.rules.push(rule),
            None => by_family.push(RuleSource {
                read: read.clone(),
                family,
                rules: vec![rule],
            }),
        }
    }
    if by_family.is_empty() {
        by_family.push(RuleSource {
            read,
            family: Family::Any,
            rules: Vec::new(),
        });
    }
    firewall.extend(by_family);

    let mut accounts = Vec::new();
    let mut users: Vec<(String, bool)> = csf
        .list("SMTP_ALLOWUSER")
        .into_iter()
        .map(|u| (u, false))
        .collect();
    for mta in MTA_USERS {
        if entry(&passwd, mta).is_some() {
            match users.iter_mut().find(|(u, _)| u == mta) {
                Some(u) => u.1 = true,
                None => users.push((mta.to_string(), true)),
            }
        }
    }
    for (name, mta) in users {
        let fields = entry(&passwd, &name);
        accounts.push(Account {
            id: fields.as_ref().and_then(|f| f.get(2)?.parse().ok()),
            gid: fields.as_ref().and_then(|f| f.get(3)?.parse().ok()),
            name,
            kind: AccountKind::User,
            mta,
        });
    }
    for name in csf.list("SMTP_ALLOWGROUP") {
        accounts.push(Account {
            id: entry(&group, &name).and_then(|f| f.get(2)?.parse().ok()),
            gid: None,
            name,
            kind: AccountKind::Group,
            mta: false,
        });
    }
    let host = read_file(Path::new("/proc/sys/kernel/hostname"), 256)
        .1
        .map(|h| crate::escape::shown(h.trim()))
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "localhost".into());
    LocalFacts {
        host,
        process,
        listeners,
        csf,
        firewall,
        accounts,
    }
}

/// The fields of the /etc/passwd or /etc/group line for `name`.
fn entry(file: &str, name: &str) -> Option<Vec<String>> {
    file.lines()
        .map(|l| l.split(':').map(str::to_string).collect::<Vec<_>>())
        .find(|f| f.first().map(String::as_str) == Some(name))
}

/// The name of `id` in /etc/passwd or /etc/group.
fn name_of(file: &str, id: u32) -> Option<SafeText> {
    file.lines()
        .map(|l| l.split(':').collect::<Vec<_>>())
        .find(|f| f.get(2).and_then(|v| v.parse::<u32>().ok()) == Some(id))
        .and_then(|f| f.first().map(|n| crate::escape::shown(n)))
}

/// Read at most `max` bytes of a regular file, as text.
pub(crate) fn read_file(path: &Path, max: u64) -> (SourceRead, Option<String>) {
    let mut bytes = Vec::new();
    let result =
        std::fs::File::open(path).and_then(|f| f.take(max).read_to_end(&mut bytes).map(|_| ()));
    match result {
        Ok(()) => (
            SourceRead {
                source: path.display().to_string(),
                status: ReadStatus::Read,
                detail: None,
            },
            Some(String::from_utf8_lossy(&bytes).into_owned()),
        ),
        Err(e) => (listen::unreadable(path, &e), None),
    }
}

/// The program's path: as given when it names a directory, else the first
/// file of that name in PATH that this user can see.
fn which(program: &str) -> Option<std::path::PathBuf> {
    if program.contains('/') {
        return Some(program.into());
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| "/usr/sbin:/usr/bin:/sbin:/bin".into());
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// Run a listing command with a time and size bound. Its stderr words the
/// reason when it fails; "Permission denied" and "Operation not permitted"
/// (not root) are `denied`.
fn run(label: &str, cmd: &[String]) -> (SourceRead, Option<String>) {
    let source = cmd.join(" ");
    let read = |status, detail: Option<String>| SourceRead {
        source: if cmd.is_empty() {
            format!("{label} (none)")
        } else {
            source.clone()
        },
        status,
        // A command's own words (its stderr): escaped as a whole.
        detail: detail.map(|d| crate::escape::escape_str(&d)),
    };
    let Some((program, args)) = cmd.split_first() else {
        return (read(ReadStatus::Skipped, Some("turned off".into())), None);
    };
    let Some(path) = which(program) else {
        return (
            read(
                ReadStatus::NotFound,
                Some(format!("{program}: not installed")),
            ),
            None,
        );
    };
    let child = Command::new(path)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn();
    let mut child = match child {
        Ok(c) => c,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (
                read(
                    ReadStatus::NotFound,
                    Some(format!("{program}: not installed")),
                ),
                None,
            )
        }
        Err(e) => return (read(ReadStatus::Failed, Some(e.to_string())), None),
    };
    let mut stdout = child.stdout.take();
    let mut stderr = child.stderr.take();
    let out = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stdout.as_mut() {
            let _ = s.take(COMMAND_BYTES).read_to_end(&mut buf);
        }
        buf
    });
    let err = std::thread::spawn(move || {
        let mut buf = Vec::new();
        if let Some(s) = stderr.as_mut() {
            let _ = s.take(64 << 10).read_to_end(&mut buf);
        }
        buf
    });
    let started = Instant::now();
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if started.elapsed() < COMMAND_TIME => {
                std::thread::sleep(Duration::from_millis(10))
            }
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let stdout = out.join().unwrap_or_default();
    let stderr = err.join().unwrap_or_default();
    let words = crate::escape::quote(&stderr, 160);
    match status {
        None => (
            read(
                ReadStatus::Failed,
                Some(format!("no answer within {} s", COMMAND_TIME.as_secs())),
            ),
            None,
        ),
        Some(s) if s.success() => (
            read(ReadStatus::Read, None),
            Some(String::from_utf8_lossy(&stdout).into_owned()),
        ),
        Some(s) => {
            let lower = words.to_ascii_lowercase();
            let status = if lower.contains("permission denied")
                || lower.contains("operation not permitted")
                || lower.contains("must be root")
            {
                ReadStatus::Denied
            } else {
                ReadStatus::Failed
            };
            let detail = if words.is_empty() {
                format!("exit status {}", s.code().unwrap_or(-1))
            } else {
                words.into_string()
            };
            (read(status, Some(detail)), None)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mail_ports_are_the_tables_mail_services() {
        assert_eq!(mail_ports(), [25, 587, 465, 143, 993, 110, 995]);
    }

    #[test]
    fn commands_report_how_they_went() {
        let (r, text) = run("x", &["sh".into(), "-c".into(), "echo '*filter'".into()]);
        assert_eq!(r.status, ReadStatus::Read);
        assert_eq!(text.as_deref(), Some("*filter\n"));
        let (r, _) = run(
            "x",
            &[
                "sh".into(),
                "-c".into(),
                "echo 'iptables-save: Permission denied (you must be root)' >&2; exit 4".into(),
            ],
        );
        assert_eq!(r.status, ReadStatus::Denied);
        assert!(r.detail.unwrap().contains("Permission denied"));
        let (r, _) = run("x", &["mailport-no-such-command".into()]);
        assert_eq!(r.status, ReadStatus::NotFound);
        assert_eq!(run("x", &[]).0.status, ReadStatus::Skipped);
    }

    #[test]
    fn names_come_from_the_account_files() {
        let passwd = "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/:/sbin/nologin\n";
        assert_eq!(name_of(passwd, 65534).as_deref(), Some("nobody"));
        assert_eq!(name_of(passwd, 7), None);
        assert_eq!(entry(passwd, "root").unwrap()[2], "0");
    }
}
