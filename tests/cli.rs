//! The single integration-test binary of mailport.
//!
//! Each test file is a module of this crate, so everything is compiled and
//! linked once. Shared helpers live in `support/`.

mod certificates;
mod dane;
mod dns;
mod docs;
mod exit_codes;
mod findings;
mod fleet;
mod full_check;
mod hostile;
mod hostile_input;
mod hostile_matrix;
mod http;
mod imap;
mod input_forms;
mod json;
mod limits;
mod local;
mod nagios;
mod netns;
mod old_tls;
mod policy;
mod pop3;
mod ptr;
mod run;
mod smtp;
mod support;
mod support_selftest;
mod terminal;
mod text;
mod transcript;
