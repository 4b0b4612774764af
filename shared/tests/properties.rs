//! Property tests for the invariants the README promises.
