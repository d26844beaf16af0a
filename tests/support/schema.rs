//! `src/report.schema.json` and `src/report.jsonl.schema.json`: real output
//! is validated against them.

use std::path::PathBuf;

use serde_json::Value;

use super::cmd::Run;
use super::report::Report;

fn schema_path() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/report.schema.json")
}

/// The schema, as JSON.
pub fn schema() -> Value {
    let path = schema_path();
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// The base URI the JSON Lines schema names the report schema from.
const REPORT_URI: &str = "https://mailport.invalid/schema/report.schema.json";

/// `src/report.jsonl.schema.json`, as JSON.
pub fn jsonl_schema() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("src/report.jsonl.schema.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

/// Hands the report schema to the JSON Lines schema's references, and
/// nothing else: no schema is fetched from the network.
struct ReportSchema;

impl jsonschema::Retrieve for ReportSchema {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        if uri.as_str() == REPORT_URI {
            Ok(schema())
        } else {
            Err(format!("no schema {uri} in the repository").into())
        }
    }
}

/// A validator for one line of `--format jsonl`, with the report schema
/// its references point to, asserting `format` like [`validator`].
pub fn jsonl_validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .with_retriever(ReportSchema)
        .build(&jsonl_schema())
        .unwrap_or_else(|e| panic!("src/report.jsonl.schema.json is not a usable schema: {e}"))
}

/// Assert that every line of `text` is one JSON object matching the JSON
/// Lines schema, and read them.
#[track_caller]
pub fn valid_lines(text: &str) -> super::report::Lines {
    assert!(
        text.ends_with('\n'),
        "every line ends with a newline:\n{text}"
    );
    let validator = jsonl_validator();
    let mut records = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let value: Value = serde_json::from_str(line)
            .unwrap_or_else(|e| panic!("line {} is not JSON ({e}):\n{line}", i + 1));
        let errors: Vec<String> = validator
            .iter_errors(&value)
            .map(|e| format!("{}: {e}", e.instance_path()))
            .collect();
        assert!(
            errors.is_empty(),
            "line {} does not match src/report.jsonl.schema.json:\n  - {}\n{line}",
            i + 1,
            errors.join("\n  - ")
        );
        assert!(
            line.starts_with("{\"schema_version\":1,\"type\":"),
            "schema_version, then type, first: {line}"
        );
        records.push(serde_json::from_value(value).unwrap_or_else(|e| {
            panic!(
                "line {} does not fit the contract types: {e}\n{line}",
                i + 1
            )
        }));
    }
    super::report::Lines { records }
}

/// A validator for the report schema that also asserts `format`
/// (date-time, ipv4, ipv6), which draft 2020-12 only annotates by default.
pub fn validator() -> jsonschema::Validator {
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema())
        .unwrap_or_else(|e| panic!("src/report.schema.json is not a usable schema: {e}"))
}

/// Every schema error of `instance`, as `path: message` lines.
pub fn errors(instance: &Value) -> Vec<String> {
    validator()
        .iter_errors(instance)
        .map(|e| format!("{}: {e}", e.instance_path()))
        .collect()
}

/// Assert that `instance` (printed as `text` on failure) matches the schema.
#[track_caller]
pub fn assert_valid(instance: &Value, text: &str) {
    let errors = errors(instance);
    assert!(
        errors.is_empty(),
        "the report does not match src/report.schema.json ({} error(s)):\n  - {}\n--- report ---\n{text}",
        errors.len(),
        errors.join("\n  - ")
    );
}

/// The run's report, validated against the schema, in the test-side types.
#[track_caller]
pub fn valid_report(run: &Run) -> Report {
    assert_valid(&run.json(), &run.stdout);
    run.report()
}
