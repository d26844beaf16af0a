//! The help around the definitions of `cli.rs`: the examples of each
//! command and the headings its options are grouped under.

use super::Cli;
use clap::CommandFactory;

/// The short help's examples (`-h`); `--help` has more.
pub(super) const CHECK_SHORT_EXAMPLES: &str = "\
Examples:
  mailport check mail.example.org
  mailport check example.org --mx --json

More examples, and the exit status: mailport check --help";

pub(super) const PTR_EXAMPLES: &str = "\
Examples:
  The reverse DNS of a sending server's addresses, IPv4 and IPv6:
    mailport ptr 192.0.2.25 2001:db8::25

  Ask one DNS server directly (no cache, no /etc/hosts), as JSON:
    mailport ptr 192.0.2.25 --dns-server 9.9.9.9 --json

Exit status: 0 every PTR exists and resolves back, 1 one is missing, does not
resolve back or could not be looked up, 2 mailport could not do its job.";

pub(super) const EXPLAIN_EXAMPLES: &str = "\
Examples:
  What a code means and what to do (the code as in a report):
    mailport explain connect_timeout

  Every code, one per line; or all of them as JSON or as Markdown:
    mailport explain
    mailport explain --json
    mailport explain --format markdown > codes.md

Exit status: 0, or 2 for a code that does not exist (the nearest one is
suggested).";

pub(super) const LOCAL_SHORT_EXAMPLES: &str = "\
Examples:
  mailport local
  sudo -u nobody mailport local

More examples, and the environment variables: mailport local --help";

pub(super) const POLICY_SHORT_EXAMPLES: &str = "\
Examples:
  mailport policy example.org
  mailport policy example.org --at +30d --json

More examples, and the exit status: mailport policy --help";

pub(super) const GENERATE_EXAMPLES: &str = "\
Examples:
  mailport generate man --out ~/.local/share/man/man1
  mailport generate bash --out ~/.local/share/bash-completion/completions
  mailport generate zsh --out ~/.zfunc
  mailport generate fish --out ~/.config/fish/completions";

/// The headings the options of each command's help are grouped under, by
/// the option's id (its field name): one table, so that every option gets a
/// heading (a unit test checks it) and the definitions in cli.rs stay plain.
const HEADINGS: &[(&str, &str, &[&str])] = &[
    (
        "check",
        "What to check",
        &[
            "services", "ports", "ipv4", "ipv6", "mx", "control", "ehlo", "trace", "no_trace",
        ],
    ),
    (
        "check",
        "Timeouts",
        &[
            "connect_timeout",
            "greeting_timeout",
            "reply_timeout",
            "sniff_timeout",
            "deadline",
        ],
    ),
    ("check", "TLS", &["tls_name", "ca_file", "at"]),
    (
        "check",
        "DNS",
        &[
            "resolve",
            "dns_server",
            "dns_timeout",
            "trust_anchor",
            "trust_ad",
        ],
    ),
    (
        "check",
        "Output",
        &["format", "json", "verbose", "quiet", "color", "fail_on"],
    ),
    (
        "check",
        "Fleets (many hosts)",
        &["hosts_file", "shard", "max_probes", "max_per_address"],
    ),
    ("ptr", "DNS", &["dns_server", "dns_timeout"]),
    ("ptr", "Output", &["format", "json", "color", "fail_on"]),
    (
        "local",
        "Where to read",
        &[
            "csf_conf",
            "proc_net",
            "iptables_save",
            "ip6tables_save",
            "nft",
        ],
    ),
    ("local", "Output", &["format", "json", "color", "fail_on"]),
    (
        "policy",
        "What to check",
        &["ports", "ipv4", "ipv6", "ehlo"],
    ),
    (
        "policy",
        "Timeouts",
        &[
            "connect_timeout",
            "greeting_timeout",
            "reply_timeout",
            "deadline",
        ],
    ),
    ("policy", "TLS", &["ca_file", "at"]),
    (
        "policy",
        "DNS",
        &[
            "resolve",
            "dns_server",
            "dns_timeout",
            "trust_anchor",
            "trust_ad",
        ],
    ),
    (
        "policy",
        "Output",
        &["format", "json", "verbose", "quiet", "color", "fail_on"],
    ),
];

/// The command line with its help headings: what `main` parses and what
/// the man page and completions are made from.
pub fn command() -> clap::Command {
    let mut cmd = Cli::command();
    // Every subcommand in its order: mut_subcommand moves the one it changes last.
    let names: Vec<String> = cmd
        .get_subcommands()
        .map(|c| c.get_name().to_string())
        .collect();
    for name in names {
        cmd = cmd.mut_subcommand(&name, |mut c| {
            for (_, heading, ids) in HEADINGS.iter().filter(|(sub, _, _)| *sub == name) {
                for id in *ids {
                    c = c.mut_arg(id, |a| a.help_heading(*heading));
                }
            }
            c
        });
    }
    cmd
}

/// Parse the process's arguments; help, a version or a usage error is the error (`main` prints it).
pub fn try_parse() -> Result<Cli, clap::Error> {
    use clap::FromArgMatches;
    Cli::from_arg_matches(&command().try_get_matches()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_command_with_headings_is_consistent() {
        command().debug_assert();
    }

    /// Every option of `check`, `ptr` and `local` is under a heading of its
    /// own command's help (a new option must be given one in HEADINGS).
    #[test]
    fn every_option_has_a_heading() {
        let cmd = command();
        for sub in ["check", "ptr", "local"] {
            let sub = cmd.find_subcommand(sub).unwrap();
            for arg in sub.get_arguments() {
                if arg.is_positional() || ["help", "version"].contains(&arg.get_id().as_str()) {
                    continue;
                }
                assert!(
                    arg.get_help_heading().is_some(),
                    "{} --{}: no heading in cli::help::HEADINGS",
                    sub.get_name(),
                    arg.get_id()
                );
            }
        }
        // And no option is named twice (the last heading would win silently).
        for (i, (sub, _, ids)) in HEADINGS.iter().enumerate() {
            for id in *ids {
                let again = HEADINGS[i + 1..]
                    .iter()
                    .any(|(s, _, more)| s == sub && more.contains(id));
                assert!(!again, "{sub} {id} has two headings");
            }
        }
        // The order of the commands is the definition's.
        let names: Vec<&str> = cmd.get_subcommands().map(|c| c.get_name()).collect();
        assert_eq!(
            names,
            ["check", "ptr", "local", "policy", "explain", "generate"]
        );
    }
}
