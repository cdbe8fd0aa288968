//! The headers a dispatcher and its workers agree on.

/// The job's position in the coordinator's input, on every request.
pub const SEQ_HEADER: &str = "Reorder-Seq";

/// Which attempt this request is for the job (1 for the first), on every request.
pub const ATTEMPT_HEADER: &str = "Reorder-Attempt";

/// On a reply: the worker's handler failed with this message; the payload is empty.
pub const ERROR_HEADER: &str = "Reorder-Error";
