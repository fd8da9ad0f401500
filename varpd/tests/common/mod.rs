//! Shared by the tests: building the plugins into a plugin directory.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// `target/<profile>` of the running test.
pub fn target_profile_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current_exe");
    // target/<profile>/deps/<test>
    exe.parent()
        .and_then(Path::parent)
        .expect("test binary in target/<profile>/deps")
        .to_path_buf()
}

fn cargo_build(args: &[&str]) {
    let dir = target_profile_dir();
    let release = dir.file_name().is_some_and(|p| p == "release");
    cargo_build_profile(args, release);
}

fn cargo_build_profile(args: &[&str], release: bool) {
    let dir = target_profile_dir();
    let target_root = dir.parent().unwrap();
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut c = Command::new(cargo);
    c.arg("build").args(args);
    if release {
        c.arg("--release");
    }
    c.env("CARGO_TARGET_DIR", target_root)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let out = c.output().expect("running cargo build");
    assert!(
        out.status.success(),
        "cargo build {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn cc(src: &str, out: &Path) {
    let inc = concat!(env!("CARGO_MANIFEST_DIR"), "/../libvarpd-abi/include");
    let src = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/c")
        .join(src);
    let r = Command::new("cc")
        .args([
            "-std=gnu99",
            "-Wall",
            "-Werror",
            "-shared",
            "-fPIC",
            "-I",
            inc,
            "-o",
        ])
        .arg(out)
        .arg(&src)
        .output()
        .expect("running cc (a C compiler is required)");
    assert!(
        r.status.success(),
        "cc {} failed:\n{}",
        src.display(),
        String::from_utf8_lossy(&r.stderr)
    );
}

/// A directory with the Rust plugins (direct, files), the C plugins
/// (ctest, and itest written as illumos plugins are), a shared object registering nothing, and a broken file.
pub fn plugin_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        cargo_build(&["-p", "varpd-direct", "-p", "varpd-files"]);
        let dir = std::env::temp_dir().join(format!("varpd-plugins-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let t = target_profile_dir();
        for name in ["libvarpd_direct.so", "libvarpd_files.so"] {
            std::fs::copy(t.join(name), dir.join(name))
                .unwrap_or_else(|e| panic!("{}: {e}", t.join(name).display()));
        }
        cc("ctest_plugin.c", &dir.join("libvarpd_ctest.so"));
        cc("illumos_style_plugin.c", &dir.join("libvarpd_itest.so"));
        cc("empty_plugin.c", &dir.join("libvarpd_empty.so"));
        std::fs::write(dir.join("libvarpd_broken.so"), b"this is not an ELF object").unwrap();
        std::fs::write(dir.join("README"), b"not a plugin").unwrap();
        dir
    })
}

/// overlayd, built.
pub fn overlayd() -> PathBuf {
    static BUILT: OnceLock<()> = OnceLock::new();
    BUILT.get_or_init(|| cargo_build(&["-p", "overlay-linux", "--bin", "overlayd"]));
    target_profile_dir().join("overlayd")
}

/// A directory holding the `panicky` test plugin built with the release
/// profile (the profile `tools/install` builds plugins with), whatever
/// profile the tests themselves run in.
pub fn release_panic_plugin_dir() -> PathBuf {
    cargo_build_profile(&["-p", "varpd-test-panic"], true);
    let built = target_profile_dir()
        .parent()
        .unwrap()
        .join("release/libvarpd_test_panic.so");
    let dir = std::env::temp_dir().join(format!("varpd-release-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::copy(&built, dir.join("libvarpd_panicky.so"))
        .unwrap_or_else(|e| panic!("{}: {e}", built.display()));
    dir
}
