//! --shard I/N: which hosts of a list this run checks, so that N runs on N
//! machines split one list without coordination.

use super::host_hash;
use anyhow::{anyhow, bail, Result};

/// --shard I/N: this run checks the hosts whose [`host_hash`] modulo `count` is `index`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    /// From 0 to `count` - 1.
    pub index: u64,
    pub count: u64,
}

/// The environment variable of `--shard env/N`: a Kubernetes Indexed Job's index.
pub const SHARD_INDEX_ENV: &str = "JOB_COMPLETION_INDEX";

impl Shard {
    /// Parse `I/N` or `env/N` (I from `env`: the value of JOB_COMPLETION_INDEX).
    pub fn parse(text: &str, env: Option<&str>) -> Result<Shard> {
        let bad = || {
            anyhow!(
                "--shard '{}': expected I/N (this run's shard I, from 0 to N-1, of N) or env/N (I from ${SHARD_INDEX_ENV})",
                crate::escape::shown(text)
            )
        };
        let (index, count) = text.trim().split_once('/').ok_or_else(bad)?;
        let count: u64 = count.trim().parse().map_err(|_| bad())?;
        let index: u64 = if index.trim() == "env" {
            let value = env.ok_or_else(|| {
                anyhow!(
                    "--shard {}: ${SHARD_INDEX_ENV} is not set (a Kubernetes Indexed Job sets it)",
                    crate::escape::shown(text)
                )
            })?;
            value.trim().parse().map_err(|_| {
                anyhow!(
                    "--shard {}: ${SHARD_INDEX_ENV} is '{}', not a number",
                    crate::escape::shown(text),
                    crate::escape::shown(value)
                )
            })?
        } else {
            index.trim().parse().map_err(|_| bad())?
        };
        if count == 0 || index >= count {
            bail!("--shard {index}/{count}: the shard must be from 0 to N-1, and N at least 1");
        }
        Ok(Shard { index, count })
    }

    /// Whether `host` (as in [`Target::host`]) belongs to this shard.
    pub fn takes(&self, host: &str) -> bool {
        host_hash(host) % self.count == self.index
    }
}
