//! The terminal the text goes to, asked once before anything is written:
//! its width, and whether to colour.

use super::text::{Style, MIN_WIDTH, WIDTH};
use crate::cli::ColorChoice;
use std::io::IsTerminal;

/// The style of text written to stdout.
pub fn style(choice: ColorChoice, verbose: bool, quiet: bool) -> Style {
    let stdout = std::io::stdout();
    Style {
        color: use_color(choice, &stdout),
        verbose,
        quiet,
        width: width(std::env::var("COLUMNS").ok().as_deref(), &stdout),
    }
}

/// Colour by the usual rules (anstream's): an explicit `--color always` or
/// `never` wins (NO_COLOR's own text: per-invocation flags override it);
/// under `auto`, NO_COLOR set means none, CLICOLOR_FORCE set means colour
/// even into a pipe, CLICOLOR=0 none, else colour only on a terminal whose
/// TERM supports it (not `dumb`).
pub fn use_color(choice: ColorChoice, stdout: &std::io::Stdout) -> bool {
    match choice {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => anstream::AutoStream::choice(stdout) != anstream::ColorChoice::Never,
    }
}

/// The width of the text: `COLUMNS` when set to a number, else the
/// terminal's, else (piped, a file) 80; never below 60.
fn width(columns: Option<&str>, stdout: &std::io::Stdout) -> usize {
    let asked = columns
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|&c| c > 0);
    let terminal = || {
        stdout
            .is_terminal()
            .then(|| terminal_size::terminal_size_of(stdout))
            .flatten()
            .map(|(w, _)| usize::from(w.0))
    };
    asked.or_else(terminal).unwrap_or(WIDTH).max(MIN_WIDTH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_wins_and_the_width_has_a_floor() {
        let out = std::io::stdout();
        assert_eq!(width(Some("120"), &out), 120);
        assert_eq!(width(Some("20"), &out), MIN_WIDTH);
        assert_eq!(width(Some("0"), &out), width(None, &out));
        assert_eq!(width(Some("wide"), &out), width(None, &out));
    }
}
