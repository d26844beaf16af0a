//! Renderers: views of a finished report. They compute nothing and write only to `out`.

pub mod json;
pub mod nagios;
pub mod progress;
pub mod term;
pub mod text;
