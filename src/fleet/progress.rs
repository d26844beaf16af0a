//! Progress on stderr while a run goes, on a terminal only (never on
//! stdout): units done (of how many, when that is known), probes under way,
//! and the probe that has waited longest with its time. Redrawn in place at
//! most four times a second, erased before anything is written to stdout
//! and at the end. The line itself is `render::progress`.

use super::Event;
use crate::plan::{Plan, Role};
use crate::render::progress::{line, Status};
use crate::runner::Bounds;
use std::io::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

/// The line is redrawn this often at most.
pub const REDRAW: Duration = Duration::from_millis(250);

/// A run's progress, and the line on the terminal.
pub struct Progress {
    done: AtomicU64,
    total: Option<u64>,
    /// Counted in mail domains (--mx, host by host), not hosts.
    domains: bool,
    /// How wide the line on the terminal is now (0: none is shown).
    shown: Mutex<usize>,
}

impl Progress {
    pub fn new(total: Option<u64>, domains: bool) -> Progress {
        Progress {
            done: AtomicU64::new(0),
            total,
            domains,
            shown: Mutex::new(0),
        }
    }

    /// A part of the run is done.
    pub(super) fn event(&self, e: &Event) {
        let unit = match e {
            Event::Host { report, .. } => !self.domains && report.role == Role::Target,
            Event::Domain { .. } => self.domains,
            Event::Lost { .. } => true,
        };
        if unit {
            self.done.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Erase the line and keep it off while the guard lives: write to
    /// stdout (or anything else to the terminal) under it.
    pub fn hold(&self) -> MutexGuard<'_, usize> {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        if *shown > 0 {
            let mut err = std::io::stderr().lock();
            let _ = write!(err, "\r{:w$}\r", "", w = *shown);
            let _ = err.flush();
            *shown = 0;
        }
        shown
    }

    /// Erase the line (at the end of the run).
    pub fn clear(&self) {
        drop(self.hold());
    }

    fn draw(&self, bounds: &Bounds) {
        let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
        let (in_flight, slowest) = bounds.live().snapshot();
        let status = Status {
            done: self.done.load(Ordering::Relaxed),
            total: self.total,
            unit: if self.domains { "domains" } else { "hosts" },
            in_flight,
            slowest: slowest.as_ref(),
        };
        let text = line(&status, width());
        let n = text.chars().count();
        let pad = shown.saturating_sub(n);
        let mut err = std::io::stderr().lock();
        let _ = write!(err, "\r{text}{:pad$}", "");
        let _ = err.flush();
        *shown = n + pad;
    }
}

/// How many units a run has, when that is known before it ends: the HOST
/// arguments (each once, this --shard's), without --hosts-file.
pub fn total(plan: &Plan) -> Option<u64> {
    if plan.hosts_file.is_some() {
        return None;
    }
    let mut seen = std::collections::HashSet::new();
    let n = plan
        .targets
        .iter()
        .filter(|t| t.role == Role::Target)
        .filter(|t| plan.shard.is_none_or(|s| s.takes(&t.host)))
        .filter(|t| seen.insert(t.key()))
        .count();
    Some(n as u64)
}

/// Redraw the line every [`REDRAW`] until this future is dropped.
pub async fn show(progress: Arc<Progress>, bounds: Arc<Bounds>) {
    let start = tokio::time::Instant::now() + REDRAW;
    let mut tick = tokio::time::interval_at(start, REDRAW);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tick.tick().await;
        progress.draw(&bounds);
    }
}

/// The terminal's width in columns, less one (a full line would wrap on
/// some terminals); 79 when it cannot be told.
fn width() -> usize {
    match terminal_size::terminal_size_of(std::io::stderr()) {
        Some((terminal_size::Width(cols), _)) if cols >= 20 => usize::from(cols) - 1,
        _ => 79,
    }
}
