//! `mailport generate man|bash|zsh|fish [--out DIR]` (hidden): the man page
//! (one page with every command, and with --out one page per command too)
//! and the shell completions, made from the same command definition that
//! parses the arguments (`cli::command`), so they cannot drift from it.

use crate::cli::{self, GenerateArgs, Generated};
use anyhow::{Context as _, Result};
use clap_complete::Shell;
use std::io::Write;

pub fn generate(args: &GenerateArgs) -> Result<u8> {
    let mut cmd = cli::command().disable_help_subcommand(true);
    cmd.build();
    if let Some(dir) = &args.out {
        std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
        if args.what == Generated::Man {
            // mailport-check.1 and the others too, for `man mailport-check`.
            clap_mangen::generate_to(cmd.clone(), dir)
                .with_context(|| format!("cannot write the man pages into {}", dir.display()))?;
        }
    }
    let (name, text) = match args.what {
        Generated::Man => ("mailport.1".to_string(), man(&cmd)?),
        Generated::Bash => completions(Shell::Bash, &mut cmd),
        Generated::Zsh => completions(Shell::Zsh, &mut cmd),
        Generated::Fish => completions(Shell::Fish, &mut cmd),
    };
    match &args.out {
        Some(dir) => {
            let path = dir.join(&name);
            std::fs::write(&path, &text)
                .with_context(|| format!("cannot write {}", path.display()))?;
            eprintln!("mailport: wrote {}", path.display());
        }
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&text)?;
            out.flush()?;
        }
    }
    Ok(crate::exit::OK)
}

/// A shell's completions and the file name that shell looks for.
fn completions(shell: Shell, cmd: &mut clap::Command) -> (String, Vec<u8>) {
    let mut text = Vec::new();
    clap_complete::generate(shell, cmd, "mailport", &mut text);
    let name = match shell {
        Shell::Zsh => "_mailport".to_string(),
        _ => format!("mailport.{shell}"),
    };
    (name, text)
}

/// One page, mailport(1): the top command's page, then each visible
/// command's synopsis, description, options (under their help headings)
/// and examples as subsections, then the exit status.
fn man(cmd: &clap::Command) -> Result<Vec<u8>> {
    let page = |c: clap::Command| {
        clap_mangen::Man::new(c)
            .source(format!("mailport {}", env!("CARGO_PKG_VERSION")))
            .manual("User Commands")
    };
    let mut out = Vec::new();
    let top = page(cmd.clone());
    top.render_title(&mut out)?;
    top.render_name_section(&mut out)?;
    top.render_synopsis_section(&mut out)?;
    top.render_description_section(&mut out)?;
    top.render_options_section(&mut out)?;
    top.render_subcommands_section(&mut out)?;
    for sub in cmd.get_subcommands().filter(|s| !s.is_hide_set()) {
        let name = sub.get_display_name().unwrap_or(sub.get_name());
        let sub_page = page(sub.clone());
        let mut text = Vec::new();
        sub_page.render_synopsis_section(&mut text)?;
        sub_page.render_description_section(&mut text)?;
        sub_page.render_options_section(&mut text)?;
        if sub.get_after_long_help().is_some() || sub.get_after_help().is_some() {
            sub_page.render_extra_section(&mut text)?;
        }
        writeln!(out, ".SH \"{}\"", name.replace('-', " ").to_uppercase())?;
        // The command's own sections become subsections of its section.
        for line in String::from_utf8_lossy(&text).lines() {
            match line.strip_prefix(".SH ") {
                Some("EXTRA") => writeln!(out, ".SS EXAMPLES")?,
                Some(title) => writeln!(out, ".SS {title}")?,
                None => writeln!(out, "{line}")?,
            }
        }
    }
    out.extend_from_slice(EXIT_STATUS.as_bytes());
    top.render_version_section(&mut out)?;
    Ok(out)
}

/// The exit status, as in the README and docs/exit-status.md.
const EXIT_STATUS: &str = r#".SH "EXIT STATUS"
.TP
\fB0\fR
Nothing failed at the \fB\-\-fail\-on\fR level (default fail; \fB\-\-fail\-on warn\fR also fails on warnings).
.TP
\fB1\fR
At least one finding at or above that level, including a host that does not resolve.
.TP
\fB2\fR
mailport could not do its job: a usage error, bad input, or an internal error.
.TP
\fB130\fR
Interrupted by Ctrl\-C: what was done is printed, the rest was not checked.
.SH "SEE ALSO"
\fBmailport explain\fR prints what each outcome and finding code means; the docs/ folder of the source holds the whole reference.
"#;
