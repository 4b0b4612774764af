//! Backends and key servers that stall, trickle, close or reset.
