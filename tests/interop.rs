//! Interop suite against real Postfix, Dovecot and nginx (being written).
