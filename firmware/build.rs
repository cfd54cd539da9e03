//! Puts the board's `memory.x` where the linker finds it.
//!
//! The board files live in `boards/<board>/`, not in the crate root: a
//! `memory.x` in the working directory would win over this copy.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let an385 = env::var_os("CARGO_FEATURE_MPS2_AN385").is_some();
    let lm3s = env::var_os("CARGO_FEATURE_LM3S6965EVB").is_some();
    let board = match (an385, lm3s) {
        (true, false) => "mps2-an385",
        (false, true) => "lm3s6965evb",
        _ => panic!("enable exactly one board feature: mps2-an385 or lm3s6965evb"),
    };
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let src = PathBuf::from("boards").join(board).join("memory.x");
    fs::copy(&src, out.join("memory.x")).expect("copy memory.x");
    println!("cargo:rustc-link-search={}", out.display());
    println!("cargo:rerun-if-changed={}", src.display());
    println!("cargo:rerun-if-changed=build.rs");
}
