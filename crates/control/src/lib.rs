//! mspic-control
