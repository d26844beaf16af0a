//! Peak memory of one mailport run: its `VmHWM`, read from /proc when it is
//! about to exit (a ptrace exit stop). wait4's `ru_maxrss` cannot be used
//! alone: a child's maxrss starts at its parent's peak (exec records the old
//! address space's high-water mark), so a test process bigger than mailport
//! would mask it. Where ptrace is not allowed, `ru_maxrss` is returned
//! instead. The command is built (and so the binary found) by
//! [`super::cmd::Mailport::run_measuring_rss`].

use std::io::Read;
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Command, ExitStatus};

/// Spawn `cmd` (stdout and stderr piped) traced, run it to its end and
/// return its exit status, stdout, stderr and peak RSS in KiB.
// The child is reaped by wait4 below, which std cannot see.
#[allow(clippy::zombie_processes)]
pub fn run_traced(mut cmd: Command) -> (ExitStatus, Vec<u8>, Vec<u8>, i64) {
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
    let stdout = out_thread.join().expect("stdout reader");
    let stderr = err_thread.join().expect("stderr reader");
    let rss = peak.unwrap_or(usage.ru_maxrss);
    (ExitStatus::from_raw(status), stdout, stderr, rss)
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
