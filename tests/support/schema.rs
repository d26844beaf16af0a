//! `src/report.schema.json`: real output is validated against it.

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
