//! What the command-line tests share: the `mass` binary, and a private
//! scratch directory that is removed when the test ends, pass or fail.

#![allow(dead_code)] // each test binary uses its own part of this

use std::ops::Deref;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// The `mass` binary built for these tests.
pub fn mass() -> Command {
    Command::new(env!("CARGO_BIN_EXE_mass"))
}

/// A directory of mode 0700 under `$TMPDIR`, named for the test and the
/// process, removed on drop.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    pub fn new(suite: &str, name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("mass-{suite}-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
        ScratchDir(dir)
    }
}

impl Deref for ScratchDir {
    type Target = Path;
    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<std::ffi::OsStr> for ScratchDir {
    fn as_ref(&self) -> &std::ffi::OsStr {
        self.0.as_os_str()
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
