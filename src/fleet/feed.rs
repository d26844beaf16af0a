//! The hosts of a run, handed to it one by one: the HOST arguments, then
//! --hosts-file line by line, duplicates and other shards skipped.

use super::Unit;
use crate::plan::{HostLine, Plan, Role, Target};
use crate::report::InputCounts;
use std::sync::{Arc, Mutex};
use tokio::sync::mpsc;

/// How many distinct hosts a run remembers to skip a duplicate: the last
/// 65,536, as their 64-bit hash (about 1 MiB). A host seen again after that
/// many others is checked again, never wrongly skipped (but for a collision
/// of the 64-bit hash); `sort -u` the list for an exact count.
pub const SEEN_HOSTS: usize = 1 << 16;

/// The hosts seen lately, to skip duplicates in bounded memory.
struct Seen {
    order: std::collections::VecDeque<u64>,
    set: std::collections::HashSet<u64>,
    cap: usize,
}

impl Seen {
    fn new(cap: usize) -> Seen {
        Seen {
            order: std::collections::VecDeque::new(),
            set: std::collections::HashSet::new(),
            cap,
        }
    }

    /// Remember `host`; false when it was seen lately.
    fn first(&mut self, host: &str) -> bool {
        let h = crate::plan::host_hash(host);
        if self.set.contains(&h) {
            return false;
        }
        if self.order.len() == self.cap {
            if let Some(old) = self.order.pop_front() {
                self.set.remove(&old);
            }
        }
        self.order.push_back(h);
        self.set.insert(h);
        true
    }
}

/// What the feeder has done so far, shared with the run.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fed {
    /// What became of the lines of --hosts-file.
    pub input: InputCounts,
    /// Hosts (mail domains) handed to the run, arguments and lines.
    pub hosts: u64,
}

/// The hosts to check, as units, handed to `units` one by one on a thread
/// of its own (a read of stdin blocks): the HOST arguments, then the lines
/// of --hosts-file, read as the run takes them (the channel's capacity is
/// the lookahead). Each host once (see [`SEEN_HOSTS`]), only this --shard's,
/// a bad line reported on stderr with its number and counted. Returns the
/// control hosts, and the counts (read them when the run is over).
pub fn feed(plan: Arc<Plan>, units: mpsc::Sender<Unit>) -> (Vec<Target>, Arc<Mutex<Fed>>) {
    let controls: Vec<Target> = plan
        .targets
        .iter()
        .filter(|t| t.role == Role::Control)
        .cloned()
        .collect();
    let fed = Arc::new(Mutex::new(Fed::default()));
    let counts = fed.clone();
    let spawned = std::thread::Builder::new()
        .name("mailport-hosts".into())
        .spawn(move || feed_all(&plan, &units, &counts));
    if let Err(e) = spawned {
        eprintln!("mailport: error: cannot start reading the hosts: {e}");
    }
    (controls, fed)
}

fn feed_all(plan: &Plan, units: &mpsc::Sender<Unit>, fed: &Mutex<Fed>) {
    let count = |f: &dyn Fn(&mut Fed)| {
        if let Ok(mut fed) = fed.lock() {
            f(&mut fed)
        }
    };
    let mut seen = Seen::new(SEEN_HOSTS);
    for t in plan.targets.iter().filter(|t| t.role == Role::Control) {
        seen.first(&t.key());
    }
    // Hand one host on; false when the run takes no more.
    let mut send = |t: Target| -> bool {
        if !seen.first(&t.key()) {
            count(&|f| f.input.duplicates += 1);
            return true;
        }
        if plan.shard.is_some_and(|s| !s.takes(&t.host)) {
            count(&|f| f.input.other_shards += 1);
            return true;
        }
        count(&|f| f.hosts += 1);
        let unit = if plan.names.mx {
            Unit::Domain(t)
        } else {
            Unit::Host(t)
        };
        units.blocking_send(unit).is_ok()
    };
    for t in plan.targets.iter().filter(|t| t.role == Role::Target) {
        if !send(t.clone()) {
            return;
        }
    }
    let Some(file) = &plan.hosts_file else {
        return;
    };
    let shown = file.shown();
    let lines = match file.open() {
        Ok(lines) => lines,
        Err(e) => {
            eprintln!("mailport: error: cannot read --hosts-file {shown}: {e}");
            return;
        }
    };
    for line in lines {
        let (number, line) = match line {
            Ok(l) => l,
            Err(e) => {
                eprintln!("mailport: error: cannot read --hosts-file {shown}: {e}");
                return;
            }
        };
        count(&|f| f.input.lines += 1);
        let why = match line {
            HostLine::Skip => continue,
            HostLine::Bad(why) => why,
            HostLine::Host(raw) => match plan.host_of_line(&raw) {
                Ok(t) => {
                    if !send(t) {
                        return;
                    }
                    continue;
                }
                Err(e) => format!("{e:#}"),
            },
        };
        count(&|f| f.input.bad_lines += 1);
        eprintln!("mailport: --hosts-file {shown} line {number}: {why}; skipped");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn duplicates_are_skipped_within_the_window_only() {
        let mut seen = Seen::new(3);
        assert!(seen.first("a.example"));
        assert!(!seen.first("a.example"));
        assert!(seen.first("b.example"));
        assert!(seen.first("c.example"));
        assert!(!seen.first("a.example"), "still in the window");
        assert!(seen.first("d.example"));
        // a.example left the window: checked again, never wrongly skipped.
        assert!(seen.first("a.example"));
        assert!(seen.order.len() <= 3 && seen.set.len() <= 3);
    }
}
