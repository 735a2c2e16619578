//! mspic-wire
