//! Test support: a scripted fake mail server, a throw-away PKI and
//! helpers for closed and filtered ports. Everything talks to loopback only.

pub mod certs;
pub mod dns;
pub mod ports;
pub mod server;

use std::path::PathBuf;

/// Absolute path of `fixtures/<path>` in the package directory.
pub fn fixture_path(path: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures")
        .join(path)
}

/// The bytes of `fixtures/<path>` (relative to `CARGO_MANIFEST_DIR`).
///
/// Panics, naming the full path, if the file cannot be read.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = fixture_path(path);
    match std::fs::read(&full) {
        Ok(bytes) => bytes,
        Err(e) => panic!(
            "test fixture {path:?} could not be read from {}: {e}",
            full.display()
        ),
    }
}

/// The outcome of one run of the real `mailport` binary.
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// The stdout parsed as JSON; panics with the output if it is not.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// The first probe of the first target in the JSON report.
    pub fn probe(&self) -> serde_json::Value {
        self.json()["targets"][0]["probes"][0].clone()
    }

    /// The codes of every finding in the JSON report.
    pub fn finding_codes(&self) -> Vec<String> {
        self.json()["findings"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|f| f["code"].as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default()
    }
}

/// Run `mailport ARGS` with NO_COLOR set; never panics on a non-zero exit.
pub fn mailport(args: &[&str]) -> Run {
    let out = assert_cmd::Command::cargo_bin("mailport")
        .expect("the mailport binary is built")
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("RUST_LOG")
        .output()
        .expect("mailport runs");
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "mailport panicked:\n{}",
        run.stderr
    );
    run
}

/// The test host name; certificates are issued for it.
pub const HOST: &str = "mail.example.test";

/// `mailport check mail.example.test --json` against `port` on 127.0.0.1
/// spoken as `service`, with short timeouts, plus `extra` arguments.
pub fn check(port: u16, service: &str, ca: Option<&std::path::Path>, extra: &[&str]) -> Run {
    let spec = format!("{port}/{service}");
    let resolve = format!("{HOST}:127.0.0.1");
    let mut args = vec![
        "check",
        HOST,
        "--resolve",
        &resolve,
        "--port",
        &spec,
        "--json",
        "--timeout",
        "2s",
        "--greeting-timeout",
        "2s",
        "--reply-timeout",
        "2s",
    ];
    let ca_text;
    if let Some(ca) = ca {
        ca_text = ca.display().to_string();
        args.extend(["--ca-file", &ca_text]);
    }
    args.extend_from_slice(extra);
    mailport(&args)
}

/// Run `mailport ARGS` and also return the peak resident set size of that
/// one process in KiB: its `VmHWM`, read from /proc when it is about to exit
/// (a ptrace exit stop). wait4's `ru_maxrss` cannot be used alone: a child's
/// maxrss starts at its parent's peak (exec records the old address space's
/// high-water mark), so a test process bigger than mailport would mask it.
/// Where ptrace is not allowed, `ru_maxrss` is returned instead.
// The child is reaped by wait4 below, which std cannot see.
#[allow(clippy::zombie_processes)]
pub fn mailport_with_rss(args: &[&str]) -> (Run, i64) {
    use std::io::Read;
    use std::os::unix::process::CommandExt;
    let bin = assert_cmd::cargo::cargo_bin("mailport");
    let mut cmd = std::process::Command::new(bin);
    cmd.args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    // SAFETY: one system call between fork and exec; its failure only means
    // the child runs untraced (and ru_maxrss is used).
    unsafe {
        cmd.pre_exec(|| {
            let null = std::ptr::null_mut::<libc::c_void>();
            libc::ptrace(libc::PTRACE_TRACEME, 0, null, null);
            Ok(())
        });
    }
    let mut child = cmd.spawn().expect("mailport runs");
    let pid = child.id() as libc::pid_t;
    let read_all = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            let _ = pipe.read_to_end(&mut bytes);
            bytes
        })
    };
    let out_thread = read_all(Box::new(child.stdout.take().expect("stdout piped")));
    let err_thread = read_all(Box::new(child.stderr.take().expect("stderr piped")));
    let (status, usage, peak) = trace_until_exit(pid);
    let stdout = String::from_utf8(out_thread.join().expect("stdout reader"))
        .expect("mailport's stdout is UTF-8");
    let stderr = String::from_utf8_lossy(&err_thread.join().expect("stderr reader")).into_owned();
    let rss = peak.unwrap_or(usage.ru_maxrss);
    let code = if libc::WIFEXITED(status) {
        libc::WEXITSTATUS(status)
    } else {
        -1
    };
    let run = Run {
        code,
        stdout,
        stderr,
    };
    assert!(
        !run.stderr.contains("panicked"),
        "mailport panicked:\n{}",
        run.stderr
    );
    (run, rss)
}

/// Let a child that asked to be traced run to its end: at its exit stop
/// read its peak RSS (KiB), pass every other signal on. Returns the wait
/// status, the rusage and the peak (None if the child was not traced).
fn trace_until_exit(pid: libc::pid_t) -> (i32, libc::rusage, Option<i64>) {
    let null = std::ptr::null_mut::<libc::c_void>();
    let mut peak = None;
    let mut started = false;
    loop {
        let mut status = 0;
        let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
        // SAFETY: the child is ours and not yet reaped; wait4 fills status and usage.
        let got = unsafe { libc::wait4(pid, &mut status, 0, usage.as_mut_ptr()) };
        if got == -1 && std::io::Error::last_os_error().kind() == std::io::ErrorKind::Interrupted {
            continue;
        }
        assert_eq!(got, pid, "wait4: {}", std::io::Error::last_os_error());
        if !libc::WIFSTOPPED(status) {
            // SAFETY: initialised by wait4 above.
            return (status, unsafe { usage.assume_init() }, peak);
        }
        let signal = libc::WSTOPSIG(status);
        let event = (status >> 16) & 0xff;
        let pass_on = if signal == libc::SIGTRAP && event == libc::PTRACE_EVENT_EXIT {
            peak = vm_hwm_kib(pid);
            0
        } else if signal == libc::SIGTRAP && event == 0 && !started {
            // The stop after exec: from now on, stop once more at exit.
            started = true;
            let options = (libc::PTRACE_O_TRACEEXIT | libc::PTRACE_O_EXITKILL) as usize;
            // SAFETY: ptrace on our stopped tracee.
            unsafe {
                libc::ptrace(
                    libc::PTRACE_SETOPTIONS,
                    pid,
                    null,
                    options as *mut libc::c_void,
                )
            };
            0
        } else {
            signal
        };
        // SAFETY: ptrace on our stopped tracee.
        unsafe {
            libc::ptrace(
                libc::PTRACE_CONT,
                pid,
                null,
                pass_on as usize as *mut libc::c_void,
            )
        };
    }
}

/// The peak resident set size of a live process, in KiB.
fn vm_hwm_kib(pid: libc::pid_t) -> Option<i64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// The strings of a JSON array; panics with the value if it is not one.
pub fn strings(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not an array: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_default().to_string())
        .collect()
}

/// The names of a JSON probe's phases, in order.
pub fn phases(probe: &serde_json::Value) -> Vec<String> {
    probe["phases"]
        .as_array()
        .unwrap_or_else(|| panic!("no phases: {probe}"))
        .iter()
        .map(|p| p["phase"].as_str().unwrap_or_default().to_string())
        .collect()
}
