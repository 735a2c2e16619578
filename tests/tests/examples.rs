//! The configurations in docs/examples load, and the set form says what the braces say.

use std::fs;
use std::path::{Path, PathBuf};

fn examples_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("tests/ lives in the workspace")
        .join("docs/examples")
}

fn load(name: &str) -> mspic_config::Config {
    let path = examples_dir().join(name);
    let text = fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    mspic_config::parse(&text, name).unwrap_or_else(|e| panic!("{name} does not load:\n{e}"))
}

#[test]
fn every_example_loads() {
    let mut n = 0;
    for entry in fs::read_dir(examples_dir()).unwrap() {
        let path = entry.unwrap().path();
        if matches!(
            path.extension().and_then(|e| e.to_str()),
            Some("conf" | "set")
        ) {
            load(path.file_name().unwrap().to_str().unwrap());
            n += 1;
        }
    }
    assert!(n >= 3, "expected the example configs, found {n}");
}

#[test]
fn set_form_matches_the_braces() {
    let braces = load("testbed.conf");
    let set = load("testbed.set");
    assert_eq!(
        mspic_config::display::set(&braces),
        mspic_config::display::set(&set)
    );
    assert_eq!(
        mspic_config::display::braces(&braces),
        mspic_config::display::braces(&set)
    );
}
