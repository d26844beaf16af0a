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
/// one process in KiB (from wait4, so other children do not blur it).
// The child is reaped by wait4 below, which std cannot see.
#[allow(clippy::zombie_processes)]
pub fn mailport_with_rss(args: &[&str]) -> (Run, i64) {
    use std::io::Read;
    let bin = assert_cmd::cargo::cargo_bin("mailport");
    let mut child = std::process::Command::new(bin)
        .args(args)
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("mailport runs");
    let mut stdout = String::new();
    let mut stderr = String::new();
    let mut err_pipe = child.stderr.take().expect("stderr piped");
    let err_thread = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err_pipe.read_to_string(&mut s);
        s
    });
    child
        .stdout
        .take()
        .expect("stdout piped")
        .read_to_string(&mut stdout)
        .expect("read stdout");
    stderr.push_str(&err_thread.join().expect("stderr reader"));
    let mut status = 0;
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: the child is ours and not yet reaped; wait4 fills status and usage.
    let pid = unsafe { libc::wait4(child.id() as i32, &mut status, 0, usage.as_mut_ptr()) };
    assert_eq!(pid, child.id() as i32, "wait4 failed");
    // SAFETY: initialised by wait4 above.
    let rss = unsafe { usage.assume_init() }.ru_maxrss;
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
