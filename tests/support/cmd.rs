//! The one place the `mailport` binary is started, the way ripgrep's
//! `tests/util.rs` has its `TestCommand`: a builder for the command line and
//! a [`Run`] with the exit code, the output and the report read into the
//! test-side types of [`super::report`].
//!
//! ```ignore
//! let run = Mailport::check(HOST)
//!     .loopback()
//!     .at(server.port(), "smtp")
//!     .fast_timeouts()
//!     .json()
//!     .run();
//! assert_eq!(run.probe().outcome, "ok");
//! ```
//!
//! Every run has `NO_COLOR=1` and no `RUST_LOG`, and fails the test if
//! mailport panicked. Shared by both test binaries (tests/cli.rs and
//! tests/interop.rs); it uses nothing else of `support` but the report types,
//! the schemas (to read JSON Lines) and [`super::rss`]. The other processes the tests start are not mailport
//! and are started where they are used: `ip`, `iptables` and the lab
//! servers of tests/netns.rs, `scripts/interop-{up,down}` in tests/interop.rs.
//! Running mailport as another user (`setpriv`) is a wrapper here too.

use std::ffi::OsString;
use std::fmt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::report::{Probe, Report};

/// A `mailport` command line, built up and then run.
#[derive(Debug, Clone)]
pub struct Mailport {
    args: Vec<OsString>,
    /// The host of `check HOST`, for [`Mailport::loopback`].
    host: Option<String>,
    timeout: Option<String>,
    greeting_timeout: Option<String>,
    reply_timeout: Option<String>,
    /// `(name, Some(value))` sets, `(name, None)` removes, in order.
    env: Vec<(OsString, Option<OsString>)>,
    /// Run inside this network namespace (`ip netns exec NS mailport ...`).
    netns: Option<String>,
    /// What mailport reads on stdin (none: stdin is /dev/null).
    stdin: Option<Vec<u8>>,
    /// Run as this uid and gid, with no supplementary groups (`setpriv`; needs root).
    user: Option<(u32, u32)>,
}

impl Mailport {
    /// `mailport` with no arguments yet.
    pub fn new() -> Mailport {
        Mailport {
            args: Vec::new(),
            host: None,
            timeout: None,
            greeting_timeout: None,
            reply_timeout: None,
            env: vec![
                ("NO_COLOR".into(), Some("1".into())),
                ("RUST_LOG".into(), None),
            ],
            netns: None,
            stdin: None,
            user: None,
        }
    }

    /// `mailport check HOST`.
    pub fn check(host: &str) -> Mailport {
        let mut cmd = Mailport::new().args(["check", host]);
        cmd.host = Some(host.to_string());
        cmd
    }

    /// `mailport policy DOMAIN`.
    pub fn policy(domain: &str) -> Mailport {
        Mailport::new().args(["policy", domain])
    }

    /// `mailport local`.
    pub fn local() -> Mailport {
        Mailport::new().arg("local")
    }

    /// `mailport ptr ADDR...`.
    pub fn ptr(addrs: &[&str]) -> Mailport {
        Mailport::new().arg("ptr").args(addrs)
    }

    pub fn arg(mut self, arg: impl Into<OsString>) -> Mailport {
        self.args.push(arg.into());
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Mailport
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    /// `--resolve HOST:ADDR`.
    pub fn resolve(self, host: &str, addr: &str) -> Mailport {
        self.arg("--resolve").arg(format!("{host}:{addr}"))
    }

    /// `--resolve HOST:127.0.0.1` for the host of [`Mailport::check`], so
    /// that certificates are still checked against its name.
    pub fn loopback(self) -> Mailport {
        let host = self
            .host
            .clone()
            .expect("loopback() needs Mailport::check(HOST)");
        self.resolve(&host, "127.0.0.1")
    }

    /// `--port SPEC`: `2525/smtp`, `smtp=2525`.
    pub fn port(self, spec: impl fmt::Display) -> Mailport {
        self.arg("--port").arg(spec.to_string())
    }

    /// `--port PORT/SERVICE`: a port spoken as `service`.
    pub fn at(self, port: u16, service: &str) -> Mailport {
        self.port(format!("{port}/{service}"))
    }

    /// `--ca-file PATH`, if there is one.
    pub fn ca(self, path: Option<&Path>) -> Mailport {
        match path {
            Some(path) => self.arg("--ca-file").arg(path),
            None => self,
        }
    }

    /// `--json`.
    pub fn json(self) -> Mailport {
        self.arg("--json")
    }

    /// `--format jsonl`.
    pub fn jsonl(self) -> Mailport {
        self.args(["--format", "jsonl"])
    }

    /// `--hosts-file -` with `input` on stdin.
    pub fn hosts_on_stdin(mut self, input: impl Into<Vec<u8>>) -> Mailport {
        self.stdin = Some(input.into());
        self.args(["--hosts-file", "-"])
    }

    /// `--timeout`, `--greeting-timeout` and `--reply-timeout`, all `value`.
    pub fn timeouts(mut self, value: &str) -> Mailport {
        self.timeout = Some(value.to_string());
        self.greeting_timeout = Some(value.to_string());
        self.reply_timeout = Some(value.to_string());
        self
    }

    /// Every phase timeout 2 s: enough for loopback on a loaded machine.
    pub fn fast_timeouts(self) -> Mailport {
        self.timeouts("2s")
    }

    /// `--timeout` (the connect timeout) alone.
    pub fn connect_timeout(mut self, value: &str) -> Mailport {
        self.timeout = Some(value.to_string());
        self
    }

    /// `--greeting-timeout`, replacing any value set before.
    pub fn greeting_timeout(mut self, value: &str) -> Mailport {
        self.greeting_timeout = Some(value.to_string());
        self
    }

    /// `--reply-timeout`, replacing any value set before.
    pub fn reply_timeout(mut self, value: &str) -> Mailport {
        self.reply_timeout = Some(value.to_string());
        self
    }

    pub fn env(mut self, name: &str, value: &str) -> Mailport {
        self.env.push((name.into(), Some(value.into())));
        self
    }

    pub fn env_remove(mut self, name: &str) -> Mailport {
        self.env.push((name.into(), None));
        self
    }

    /// Run inside the network namespace `ns` (`ip netns exec`; needs root).
    pub fn in_netns(mut self, ns: &str) -> Mailport {
        self.netns = Some(ns.to_string());
        self
    }

    /// Run as `uid`/`gid` with no supplementary groups (`setpriv --reuid
    /// --regid --clear-groups`, inside the namespace if there is one; needs root).
    pub fn run_as(mut self, uid: u32, gid: u32) -> Mailport {
        self.user = Some((uid, gid));
        self
    }

    /// Run as user nobody (65534) and group nogroup (65534).
    pub fn run_as_nobody(self) -> Mailport {
        self.run_as(65534, 65534)
    }

    /// The arguments as they are passed (for messages).
    pub fn argv(&self) -> Vec<OsString> {
        let mut argv = self.args.clone();
        for (flag, value) in [
            ("--timeout", &self.timeout),
            ("--greeting-timeout", &self.greeting_timeout),
            ("--reply-timeout", &self.reply_timeout),
        ] {
            if let Some(value) = value {
                argv.push(flag.into());
                argv.push(value.into());
            }
        }
        argv
    }

    fn command(&self) -> Command {
        let bin = assert_cmd::cargo::cargo_bin("mailport");
        let mut argv: Vec<OsString> = Vec::new();
        if let Some(ns) = &self.netns {
            argv.extend(["ip", "netns", "exec", ns].map(OsString::from));
        }
        if let Some((uid, gid)) = self.user {
            argv.push("setpriv".into());
            argv.push(format!("--reuid={uid}").into());
            argv.push(format!("--regid={gid}").into());
            argv.push("--clear-groups".into());
        }
        argv.push(bin.into());
        let mut cmd = Command::new(&argv[0]);
        cmd.args(&argv[1..]);
        cmd.args(self.argv());
        for (name, value) in &self.env {
            match value {
                Some(value) => cmd.env(name, value),
                None => cmd.env_remove(name),
            };
        }
        cmd
    }

    /// Run to the end; never panics on a non-zero exit, only on a panic of
    /// mailport's.
    #[track_caller]
    pub fn run(&self) -> Run {
        let mut child = self
            .command()
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run mailport {:?}: {e}", self.argv()));
        let writer = self.stdin.clone().map(|input| {
            let mut pipe = child.stdin.take().expect("stdin piped");
            std::thread::spawn(move || {
                use std::io::Write;
                // mailport may stop reading early (a bad usage): not an error here.
                let _ = pipe.write_all(&input);
            })
        });
        let out = child
            .wait_with_output()
            .unwrap_or_else(|e| panic!("cannot run mailport {:?}: {e}", self.argv()));
        if let Some(w) = writer {
            w.join().expect("stdin writer");
        }
        Run::new(out.status, out.stdout, out.stderr)
    }

    /// Start mailport and hand it to `during` while it runs (to write to its
    /// stdin, read its stdout as it comes, send it a signal), then close its
    /// stdin and wait for its end.
    #[track_caller]
    pub fn run_with(&self, during: impl FnOnce(&mut std::process::Child)) -> Run {
        let mut child = self
            .command()
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run mailport {:?}: {e}", self.argv()));
        during(&mut child);
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("wait for mailport");
        Run::new(out.status, out.stdout, out.stderr)
    }

    /// Run with stderr on a terminal (the secondary side of a new
    /// pseudo-terminal, 100 columns wide) and stdout a pipe: a person at a
    /// terminal writing the output to a file. The [`Run`]'s stderr is what
    /// the terminal got, as written (carriage returns and all).
    #[track_caller]
    pub fn run_with_stderr_on_terminal(&self) -> Run {
        let (primary, secondary) = open_pty(100);
        let mut terminal = std::fs::File::from(primary);
        let reader = std::thread::spawn(move || {
            use std::io::Read;
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // Linux ends the primary side's reads with EIO once every
            // secondary descriptor is closed: that is the end.
            while let Ok(n) = terminal.read(&mut buf) {
                if n == 0 {
                    break;
                }
                seen.extend_from_slice(&buf[..n]);
            }
            seen
        });
        let child = self
            .command()
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(secondary))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run mailport {:?}: {e}", self.argv()));
        let out = child.wait_with_output().expect("wait for mailport");
        let seen = reader.join().expect("the terminal's reader");
        Run::new(out.status, out.stdout, seen)
    }

    /// Run with stdout a pipe whose reader is gone before mailport writes
    /// (like `mailport ... | head -0`).
    #[track_caller]
    pub fn run_with_stdout_closed(&self) -> Run {
        let mut child = self
            .command()
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run mailport {:?}: {e}", self.argv()));
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait for mailport");
        Run::new(out.status, Vec::new(), out.stderr)
    }

    /// Run to the end and also return the peak resident set size of that
    /// one process in KiB (see [`super::rss`]). Its stdout must be UTF-8.
    #[track_caller]
    pub fn run_measuring_rss(&self) -> (Run, i64) {
        let mut cmd = self.command();
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        let (status, stdout, stderr, rss) = super::rss::run_traced(cmd);
        assert!(
            std::str::from_utf8(&stdout).is_ok(),
            "mailport's stdout is not UTF-8: {stdout:?}"
        );
        (Run::new(status, stdout, stderr), rss)
    }
}

/// A new pseudo-terminal `columns` wide: (primary, secondary).
fn open_pty(columns: u16) -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    use std::os::fd::FromRawFd;
    let (mut primary, mut secondary) = (-1, -1);
    let size = libc::winsize {
        ws_row: 24,
        ws_col: columns,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: openpty writes two descriptors, which are then owned here.
    let rc = unsafe {
        libc::openpty(
            &mut primary,
            &mut secondary,
            std::ptr::null_mut(),
            std::ptr::null(),
            &size,
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both are open descriptors that nothing else owns.
    unsafe {
        (
            std::os::fd::OwnedFd::from_raw_fd(primary),
            std::os::fd::OwnedFd::from_raw_fd(secondary),
        )
    }
}

/// The outcome of one run of the real `mailport` binary.
pub struct Run {
    pub code: i32,
    /// stdout, lossily decoded; [`Run::stdout_bytes`] holds it as written.
    pub stdout: String,
    pub stdout_bytes: Vec<u8>,
    pub stderr: String,
}

impl Run {
    /// The text output's finding `code`: its line and the wrapped lines after
    /// it (message and hint), up to the next finding, whitespace collapsed.
    #[track_caller]
    pub fn text_finding(&self, code: &str) -> String {
        let lines: Vec<&str> = self.stdout.lines().collect();
        let i = lines
            .iter()
            .position(|l| l.split_whitespace().nth(1) == Some(code))
            .unwrap_or_else(|| panic!("no {code} in the text output:\n{}", self.stdout));
        let rest = lines[i + 1..]
            .iter()
            .take_while(|l| l.starts_with(' '))
            .copied();
        std::iter::once(lines[i])
            .chain(rest)
            .flat_map(str::split_whitespace)
            .collect::<Vec<_>>()
            .join(" ")
    }

    #[track_caller]
    fn new(status: std::process::ExitStatus, stdout: Vec<u8>, stderr: Vec<u8>) -> Run {
        let run = Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stdout_bytes: stdout,
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        };
        assert!(
            !run.stderr.contains("panicked"),
            "mailport panicked:\n{}",
            run.stderr
        );
        run
    }

    /// The stdout parsed as JSON; panics with the output if it is not.
    #[track_caller]
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The JSON report read into the test-side types; panics with the
    /// output if it does not fit them.
    #[track_caller]
    pub fn report(&self) -> Report {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not a report ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The stdout read as JSON Lines, each line validated against
    /// `src/report.jsonl.schema.json`.
    #[track_caller]
    pub fn lines(&self) -> super::report::Lines {
        super::schema::valid_lines(&self.stdout)
    }

    /// The first probe of the first target.
    #[track_caller]
    pub fn probe(&self) -> Probe {
        self.report().first_probe().clone()
    }

    /// The codes of every finding, in report order.
    #[track_caller]
    pub fn finding_codes(&self) -> Vec<String> {
        self.report().findings.into_iter().map(|f| f.code).collect()
    }
}
