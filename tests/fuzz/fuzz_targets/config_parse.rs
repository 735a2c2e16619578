//! Any text as a configuration (braces or set lines): errors, never a panic; what parses
//! compiles or is refused cleanly.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(cfg) = mspic_config::parse(text, "fuzz.conf") {
        let _ = mspic_flow::Policy::compile(&cfg);
        let _ = mspic_config::display::set(&cfg);
    }
});
