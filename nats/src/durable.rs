//! JetStream mode (in progress).
