//! Compiles `bpf/steer.bpf.c` with clang and generates its libbpf-rs skeleton into
//! `OUT_DIR/steer.skel.rs`.
//!
//! Headers: the UAPI headers come from linux-libc-dev (`/usr/include/linux`, plus the
//! multiarch directory `/usr/include/<triple>` for `asm/types.h`, which clang's BPF
//! target does not search by itself), `bpf/bpf_helpers.h` and `bpf/bpf_endian.h` from
//! libbpf-dev (`/usr/include/bpf`), and `steer.h` from `bpf/`. No vmlinux.h.

use std::env;
use std::path::PathBuf;

use libbpf_cargo::SkeletonBuilder;

fn multiarch(arch: &str) -> String {
    let triple = match arch {
        "x86_64" => "x86_64-linux-gnu",
        "aarch64" => "aarch64-linux-gnu",
        "arm" => "arm-linux-gnueabihf",
        "riscv64" => "riscv64-linux-gnu",
        "powerpc64" => "powerpc64le-linux-gnu",
        "s390x" => "s390x-linux-gnu",
        "x86" => "i386-linux-gnu",
        other => return format!("/usr/include/{other}-linux-gnu"),
    };
    format!("/usr/include/{triple}")
}

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let bpf_dir = manifest.join("../../bpf");
    let src = bpf_dir.join("steer.bpf.c");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("steer.skel.rs");
    let arch = env::var("CARGO_CFG_TARGET_ARCH").unwrap_or_else(|_| "x86_64".into());
    let asm_dir = multiarch(&arch);

    for f in ["steer.bpf.c", "steer.h"] {
        println!("cargo:rerun-if-changed={}", bpf_dir.join(f).display());
    }

    for (path, package) in [
        (format!("{asm_dir}/asm/types.h"), "linux-libc-dev"),
        ("/usr/include/linux/bpf.h".to_string(), "linux-libc-dev"),
        ("/usr/include/bpf/bpf_helpers.h".to_string(), "libbpf-dev"),
    ] {
        if !PathBuf::from(&path).exists() {
            println!("cargo:warning={path} is missing: install {package} (`cargo xtask deps`)");
        }
    }

    let result = SkeletonBuilder::new()
        .source(&src)
        .clang_args([
            format!("-I{asm_dir}"),
            format!("-I{}", bpf_dir.display()),
            "-Wall".to_string(),
            "-Werror".to_string(),
        ])
        .build_and_generate(&out);
    if let Err(e) = result {
        panic!(
            "building {}: {e:#}\n(needs clang, libbpf-dev and linux-libc-dev: `cargo xtask deps`)",
            src.display()
        );
    }
}
