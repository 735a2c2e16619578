//! Deterministic traffic generator for mspic tests.
