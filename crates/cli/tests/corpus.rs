//! `mspic check` accepts every configuration of the corpus (tests/data/corpus, replayed by
//! tests/tests/corpus.rs), warning only about stanzas that cannot change what a packet
//! meets (docs/configuration.md lists them).

use std::path::Path;
use std::process::Command;

/// The only warnings the corpus may draw: top-level stanzas of the rest of the router.
const HARMLESS: &[&str] = &[
    "warning: ignoring unsupported top-level stanza 'system'",
    "warning: ignoring unsupported top-level stanza 'chassis'",
];

#[test]
fn mspic_check_accepts_the_corpus() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/data/corpus");
    let mut n = 0;
    for e in std::fs::read_dir(&dir).unwrap() {
        let path = e.unwrap().path();
        let out = Command::new(env!("CARGO_BIN_EXE_mspic"))
            .arg("check")
            .arg(&path)
            .output()
            .unwrap();
        let (stdout, stderr) = (
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
        );
        let name = path.display();
        assert!(out.status.success(), "{name}:\n{stdout}{stderr}");
        assert_eq!(stdout, "configuration check succeeds\n", "{name}");
        for line in stderr.lines() {
            assert!(
                HARMLESS.iter().any(|w| line.ends_with(w)),
                "{name}: unexpected diagnostic {line}"
            );
        }
        n += 1;
    }
    assert!(n >= 6, "the corpus has {n} files");
}
