//! `mspic check`: errors found while comparing parts of a configuration name the
//! statement's `file:line:col`, like syntax errors.

use std::process::Command;

const MSPIC: &str = env!("CARGO_BIN_EXE_mspic");

#[test]
fn a_services_unit_in_two_next_hop_sets_is_located() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("nh.conf");
    std::fs::write(
        &file,
        "set interfaces ms-1/1/0 unit 1 service-domain inside
set interfaces ms-1/1/0 unit 2 service-domain outside
set interfaces ms-1/1/0 unit 3 service-domain inside
set services service-set a next-hop-service inside-service-interface ms-1/1/0.1
set services service-set a next-hop-service outside-service-interface ms-1/1/0.2
set services service-set b next-hop-service inside-service-interface ms-1/1/0.3
set services service-set b next-hop-service outside-service-interface ms-1/1/0.2
",
    )
    .unwrap();
    let out = Command::new(MSPIC)
        .arg("check")
        .arg(&file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        format!(
            "{}:7:71: error: services unit ms-1/1/0.2 is used by next-hop service sets 'a' and 'b'\n",
            file.display()
        )
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        "error: configuration check-out failed\n"
    );
}
