//! The documentation cannot drift from the code (r16): docs/codes.md is
//! what `mailport explain --format markdown` prints, docs/json.md names
//! every field of the schemas and no other, the README's install line and
//! quick start are the ones that work, every link resolves; the man page and
//! the shell completions are produced and name every command and option;
//! every command's help has examples and is snapshotted.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::support::cmd::{Mailport, Run};

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &str) -> String {
    std::fs::read_to_string(repo().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

#[track_caller]
fn run_ok(cmd: Mailport) -> Run {
    let args = cmd.argv();
    let run = cmd.run();
    assert_eq!(run.code, 0, "mailport {args:?}\n{}", run.stderr);
    run
}

/// The commands a user sees (not `help`, not the hidden `generate`).
const COMMANDS: &[&str] = &["check", "ptr", "local", "policy", "explain"];

// ---- docs/codes.md -------------------------------------------------------

#[test]
fn r16_docs_codes_md_is_what_explain_prints() {
    let run = run_ok(Mailport::new().args(["explain", "--format", "markdown"]));
    let file = read("docs/codes.md");
    assert!(
        file == run.stdout,
        "docs/codes.md is not what the binary prints: run\n  \
         cargo run -q -- explain --format markdown > docs/codes.md\n\
         first difference at line {}",
        file.lines()
            .zip(run.stdout.lines())
            .position(|(a, b)| a != b)
            .map_or(file.lines().count().min(run.stdout.lines().count()), |i| i)
            + 1
    );
    // Every code, with its three parts, from the JSON of the same table.
    let json = run_ok(Mailport::new().args(["explain", "--json"])).json();
    let rows = json.as_array().expect("a list");
    assert!(rows.len() > 40, "{}", rows.len());
    for row in rows {
        let code = row["code"].as_str().unwrap();
        let section = file
            .split(&format!("\n### {code}\n"))
            .nth(1)
            .unwrap_or_else(|| panic!("no section for {code}"));
        let section = section.split("\n### ").next().unwrap();
        for part in ["meaning", "causes", "action"] {
            let text = row[part].as_str().unwrap();
            assert!(section.contains(text), "{code}: {part} missing");
        }
    }
}

// ---- docs/json.md --------------------------------------------------------

/// Each object of a schema, by the name docs/json.md gives it (`probe`,
/// `summary.verdicts`, `csf.settings[]`; the report itself is `report`,
/// the JSON Lines records `jsonl host` …), with its properties.
fn schema_objects(schema: &Value, prefix: &str) -> BTreeMap<String, BTreeSet<String>> {
    fn walk(v: &Value, path: &str, out: &mut BTreeMap<String, BTreeSet<String>>) {
        let Some(obj) = v.as_object() else { return };
        if let Some(props) = obj.get("properties").and_then(Value::as_object) {
            out.entry(path.to_string())
                .or_default()
                .extend(props.keys().cloned());
            for (name, sub) in props {
                walk(sub, &format!("{path}.{name}"), out);
            }
        }
        if let Some(items) = obj.get("items") {
            walk(items, &format!("{path}[]"), out);
        }
        for key in ["oneOf", "anyOf", "allOf"] {
            for sub in obj.get(key).and_then(Value::as_array).into_iter().flatten() {
                walk(sub, path, out);
            }
        }
    }
    let mut out = BTreeMap::new();
    if schema.get("properties").is_some() {
        let root = serde_json::json!({ "properties": schema["properties"] });
        walk(&root, &format!("{prefix}report"), &mut out);
    }
    for (name, def) in schema["$defs"].as_object().expect("$defs") {
        walk(def, &format!("{prefix}{name}"), &mut out);
    }
    out
}

/// The sections of docs/json.md's field reference (`### \`name\``) and the
/// fields their tables name (`| \`field\` |`).
fn documented_objects(doc: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut out: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in doc.lines() {
        if let Some(title) = line.strip_prefix("### `") {
            let name = title.trim_end_matches('`').to_string();
            assert!(
                out.insert(name.clone(), BTreeSet::new()).is_none(),
                "docs/json.md: section {name} twice"
            );
            current = Some(name);
        } else if line.starts_with("## ") || line.starts_with("### ") {
            current = None;
        } else if let (Some(name), Some(row)) = (&current, line.strip_prefix("| `")) {
            let field = row.split('`').next().unwrap().to_string();
            let fields = out.get_mut(name).unwrap();
            assert!(
                fields.insert(field.clone()),
                "docs/json.md: {name}.{field} twice"
            );
        }
    }
    out
}

#[test]
fn r16_docs_json_md_names_every_schema_field_and_no_other() {
    let report: Value = serde_json::from_str(&read("src/report.schema.json")).unwrap();
    let lines: Value = serde_json::from_str(&read("src/report.jsonl.schema.json")).unwrap();
    let mut schema = schema_objects(&report, "");
    schema.extend(schema_objects(&lines, "jsonl "));
    let documented = documented_objects(&read("docs/json.md"));

    let mut wrong = Vec::new();
    for (object, fields) in &schema {
        match documented.get(object) {
            None => wrong.push(format!("object `{object}` has no section")),
            Some(doc) => {
                for f in fields.difference(doc) {
                    wrong.push(format!("{object}.{f} is in the schema, not in the docs"));
                }
                for f in doc.difference(fields) {
                    wrong.push(format!("{object}.{f} is documented, not in the schema"));
                }
            }
        }
    }
    for object in documented.keys().filter(|o| !schema.contains_key(*o)) {
        wrong.push(format!("section `{object}` is no object of the schemas"));
    }
    assert!(
        wrong.is_empty(),
        "docs/json.md and the schemas differ:\n{}",
        wrong.join("\n")
    );
    // The test itself sees the whole schema: the nested objects too.
    for object in [
        "report",
        "probe",
        "summary.verdicts",
        "csf.settings[]",
        "jsonl summary",
    ] {
        assert!(schema.contains_key(object), "{object}");
    }
}

// ---- README --------------------------------------------------------------

/// The lines of the first ```sh block after `heading`.
fn sh_block<'a>(readme: &'a str, heading: &str) -> Vec<&'a str> {
    let section = readme
        .split(heading)
        .nth(1)
        .unwrap_or_else(|| panic!("README.md has no {heading:?}"));
    section
        .split("```sh\n")
        .nth(1)
        .and_then(|b| b.split("```").next())
        .unwrap_or_else(|| panic!("no sh block under {heading:?}"))
        .lines()
        .collect()
}

#[test]
fn r16_readme_install_and_quick_start_are_the_ones_that_work() {
    let readme = read("README.md");
    let cargo = read("Cargo.toml");
    let msrv = cargo
        .lines()
        .find_map(|l| l.strip_prefix("rust-version = \""))
        .and_then(|v| v.strip_suffix('"'))
        .expect("Cargo.toml has a rust-version");
    assert!(
        readme.contains(&format!("Rust {msrv} or later")),
        "README.md names another Rust version than Cargo.toml's {msrv}"
    );
    assert_eq!(sh_block(&readme, "## Install"), ["cargo install --path ."]);

    // Exactly two commands: the check, and the test command that CI runs.
    let quick: Vec<&str> = sh_block(&readme, "## Quick start")
        .into_iter()
        .map(|l| l.split('#').next().unwrap().trim())
        .collect();
    assert_eq!(quick.len(), 2, "{quick:?}");
    assert_eq!(quick[1], "scripts/test");
    let ci = read(".ci/run");
    assert!(
        ci.lines().any(|l| l.trim() == quick[1]),
        ".ci/run does not run the README's test command"
    );

    // The check, typed literally, gets a real answer (a report, not an
    // error): localhost is this machine, whatever listens on it.
    // In a fresh clone, before `cargo install`: cargo run --release -- ARGS.
    let words: Vec<&str> = quick[0].split_whitespace().collect();
    assert_eq!(
        words[..5],
        ["cargo", "run", "--release", "--", "check"],
        "{quick:?}"
    );
    let run = Mailport::new()
        .args(words[4..].iter().copied())
        .arg("--json")
        .timeouts("2s")
        .run();
    assert!(run.code == 0 || run.code == 1, "{}", run.stderr);
    let report = run.report();
    assert_eq!(report.targets[0].host, "localhost");
    assert!(!report.targets[0].addresses.is_empty());
    assert!(report.targets[0]
        .probes
        .iter()
        .all(|p| p.outcome != "dns_failed"));
}

/// GitHub's anchor for a heading: lower case, punctuation dropped but - and
/// _, spaces as -.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter_map(|c| match c {
            ' ' => Some('-'),
            c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
            _ => None,
        })
        .collect()
}

fn anchors(markdown: &str) -> BTreeSet<String> {
    let mut fenced = false;
    let mut out = BTreeSet::new();
    for line in markdown.lines() {
        if line.starts_with("```") {
            fenced = !fenced;
        } else if !fenced && line.starts_with('#') {
            out.insert(slug(line.trim_start_matches('#')));
        }
    }
    out
}

#[test]
fn r16_every_link_of_the_readme_and_docs_resolves() {
    let mut pages: Vec<PathBuf> = vec![repo().join("README.md")];
    for entry in std::fs::read_dir(repo().join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    assert!(pages.len() >= 10, "{pages:?}");
    let mut broken = Vec::new();
    for page in &pages {
        let text = std::fs::read_to_string(page).unwrap();
        for (i, _) in text.match_indices("](") {
            let target = text[i + 2..].split(')').next().unwrap();
            if target.starts_with("http") || target.contains(' ') {
                continue;
            }
            let (file, anchor) = target.split_once('#').unwrap_or((target, ""));
            let dest = if file.is_empty() {
                page.clone()
            } else {
                page.parent().unwrap().join(file)
            };
            if !dest.exists() {
                broken.push(format!("{}: {target}", page.display()));
            } else if !anchor.is_empty() {
                let dest_text = std::fs::read_to_string(&dest).unwrap_or_default();
                if !anchors(&dest_text).contains(anchor) {
                    broken.push(format!("{}: {target} (no such heading)", page.display()));
                }
            }
        }
    }
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

// ---- man page and completions ----------------------------------------------

/// Every long option of a command, as `--name`.
fn long_options(command: &str) -> Vec<String> {
    let cli = mailport::cli::command();
    let sub = cli.find_subcommand(command).expect(command);
    sub.get_arguments()
        .filter_map(|a| a.get_long())
        .filter(|l| !["help", "version"].contains(l))
        .map(|l| format!("--{l}"))
        .collect()
}

#[test]
fn r16_the_man_page_names_every_command_option_and_heading() {
    let run = run_ok(Mailport::new().args(["generate", "man"]));
    let page = &run.stdout;
    assert!(page.contains(".TH mailport 1"), "{page}");
    // roff writes - as \-.
    let unroff = page.replace("\\-", "-");
    for command in COMMANDS {
        assert!(
            unroff.contains(&format!(".SH \"MAILPORT {}\"", command.to_uppercase())),
            "no section for {command}"
        );
        for option in long_options(command) {
            assert!(
                unroff.contains(&format!("\\fB{option}\\fR")),
                "{command} {option} is not in the man page"
            );
        }
    }
    for heading in [
        "WHAT TO CHECK",
        "TIMEOUTS",
        "TLS",
        "DNS",
        "OUTPUT",
        "FLEETS (MANY HOSTS)",
        "EXAMPLES",
    ] {
        assert!(
            page.contains(&format!(".SS {heading}"))
                || page.contains(&format!(".SS \"{heading}\"")),
            "no {heading} subsection:\n{page}"
        );
    }
    assert!(page.contains(".SH \"EXIT STATUS\""));
    assert!(!unroff.contains("mailport-generate"), "the hidden command");

    // --out: mailport.1 (this page) and one page per command, the
    // directory made if it is missing (a fresh ~/.local/share/man/man1).
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("share/man/man1");
    let run = run_ok(Mailport::new().args(["generate", "man", "--out"]).arg(&dir));
    assert!(run.stdout.is_empty());
    let written = std::fs::read_to_string(dir.join("mailport.1")).unwrap();
    assert_eq!(&written, page);
    for command in COMMANDS {
        let sub = std::fs::read_to_string(dir.join(format!("mailport-{command}.1")))
            .unwrap_or_else(|e| panic!("mailport-{command}.1: {e}"));
        assert!(sub.contains(&format!(".TH mailport-{command} 1")), "{sub}");
    }
}

#[test]
fn r16_completions_name_every_command_and_option() {
    for (shell, file) in [
        ("bash", "mailport.bash"),
        ("zsh", "_mailport"),
        ("fish", "mailport.fish"),
    ] {
        let text = run_ok(Mailport::new().args(["generate", shell])).stdout;
        for command in COMMANDS {
            assert!(text.contains(command), "{shell}: no {command}");
            for option in long_options(command) {
                // fish writes `-l name`, the others `--name`.
                let fish = format!("-l {}", &option[2..]);
                assert!(
                    text.contains(&option) || (shell == "fish" && text.contains(&fish)),
                    "{shell}: {command} {option} missing"
                );
            }
        }
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("completions");
        run_ok(Mailport::new().args(["generate", shell, "--out"]).arg(&dir));
        let written = std::fs::read_to_string(dir.join(file)).unwrap();
        assert_eq!(written, text, "{shell}");
        let path = dir.join(file);
        // The script parses, in its own shell (.ci/run installs zsh and fish).
        let check = match shell {
            "bash" | "zsh" => vec!["-n"],
            _ => vec!["--no-execute"],
        };
        let out = std::process::Command::new(shell)
            .args(&check)
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("{shell}: {e} (.ci/run installs it)"));
        assert!(
            out.status.success(),
            "{shell}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if shell == "fish" {
            // And completes: `mailport ch<TAB>` offers check, with its help.
            let out = std::process::Command::new("fish")
                .arg("-c")
                .arg(format!(
                    "source {}; complete -C 'mailport ch'",
                    path.display()
                ))
                .output()
                .expect("fish");
            let offered = String::from_utf8_lossy(&out.stdout);
            assert!(
                offered.starts_with("check\tProbe the mail ports"),
                "{offered}"
            );
        }
        if shell == "bash" {
            // And completes: `mailport ch<TAB>` offers check.
            let script = format!(
                "source {}; COMP_WORDS=(mailport ch); COMP_CWORD=1; _mailport mailport ch mailport; \
                 printf '%s\\n' \"${{COMPREPLY[@]}}\"",
                path.display()
            );
            let out = std::process::Command::new("bash")
                .args(["-c", &script])
                .output()
                .expect("bash");
            assert_eq!(String::from_utf8_lossy(&out.stdout), "check\n");
        }
    }
}

// ---- help -----------------------------------------------------------------

fn help(args: &[&str]) -> String {
    run_ok(Mailport::new().args(args).env("COLUMNS", "80")).stdout
}

#[test]
fn r16_every_command_has_examples_and_fits_80_columns() {
    let mut all = vec![vec!["--help"]];
    for command in COMMANDS {
        all.push(vec![command, "--help"]);
        all.push(vec![command, "-h"]);
    }
    for args in all {
        let text = help(&args);
        assert!(
            text.contains("Examples:\n  "),
            "{args:?}: no examples\n{text}"
        );
        for line in text.lines() {
            assert!(
                line.chars().count() <= 80,
                "{args:?}: a line over 80 columns:\n{line}"
            );
        }
        let name = args
            .iter()
            .map(|a| match *a {
                "--help" => "long",
                "-h" => "short",
                command => command,
            })
            .collect::<Vec<_>>()
            .join("_");
        insta::assert_snapshot!(format!("help_{name}"), text);
    }
}

#[test]
fn r16_check_help_groups_its_options() {
    let text = help(&["check", "--help"]);
    let headings: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with(' ') && l.ends_with(':'))
        .collect();
    assert_eq!(
        headings,
        [
            "Arguments:",
            "Options:",
            "What to check:",
            "Timeouts:",
            "TLS:",
            "DNS:",
            "Output:",
            "Fleets (many hosts):",
            "Examples:",
        ]
    );
    // Each option under the heading it belongs to.
    let under = |heading: &str, option: &str| {
        let section = text.split(&format!("\n{heading}:\n")).nth(1).unwrap();
        let section = section.split("\n\n").collect::<Vec<_>>();
        let end = section
            .iter()
            .position(|p| !p.starts_with("  "))
            .unwrap_or(section.len());
        section[..end].join("\n").contains(option)
    };
    assert!(under("Timeouts", "--greeting-timeout"));
    assert!(under("TLS", "--ca-file"));
    assert!(under("DNS", "--dns-server"));
    assert!(under("Output", "--format"));
    assert!(under("Fleets (many hosts)", "--shard"));
    assert!(!under("Timeouts", "--ca-file"));
}
