//! The bindings and `tools/kmod/illumos-kernel-exports.txt` (the list of
//! kernel symbols `build-and-check` lets a module leave undefined) must name
//! the same kernel symbols: a binding missing from the list would make a
//! correct module fail the check, and a list entry with no binding is a
//! symbol nobody can call.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

/// Symbols on the list that are not ours to bind: calls the compiler emits,
/// and the overlay driver's own exports (defined by drv/overlay itself).
const NOT_BOUND: &[&str] = &["memcpy", "memmove", "memset", "memcmp", "bcmp", "strlen"];
const NOT_BOUND_PROVIDERS: &[&str] = &["drv/overlay"];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Every symbol declared in an `unsafe extern "C"` block under `src/`,
/// using `#[link_name]` where present.
fn bound_symbols() -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let src = crate_dir().join("src");
    let mut files: Vec<_> = fs::read_dir(&src)
        .expect("read src/")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "rs"))
        .collect();
    files.sort();
    for file in files {
        let text = fs::read_to_string(&file).expect("read source");
        let mut in_extern = false;
        let mut link_name: Option<String> = None;
        for line in text.lines() {
            let t = line.trim();
            if t.starts_with("unsafe extern \"C\" {") {
                in_extern = true;
                continue;
            }
            if !in_extern {
                continue;
            }
            if line.starts_with('}') {
                in_extern = false;
                continue;
            }
            if let Some(rest) = t.strip_prefix("#[link_name = \"") {
                link_name = Some(rest.trim_end_matches("\"]").to_string());
                continue;
            }
            let decl = t
                .strip_prefix("pub fn ")
                .or_else(|| t.strip_prefix("pub safe fn "))
                .or_else(|| t.strip_prefix("pub static "));
            if let Some(decl) = decl {
                let name: String = decl
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                assert!(!name.is_empty(), "{}: cannot parse {t}", file.display());
                out.insert(link_name.take().unwrap_or(name));
            }
        }
    }
    out
}

/// (symbol, provider) pairs of the allow-list; prefix rules are skipped.
fn allow_list() -> Vec<(String, Option<String>)> {
    let path: &Path = &crate_dir().join("../../tools/kmod/illumos-kernel-exports.txt");
    let text = fs::read_to_string(path).expect("read the allow-list");
    text.lines()
        .filter_map(|l| {
            let l = l.split('#').next().unwrap_or("");
            let mut words = l.split_whitespace();
            let sym = words.next()?;
            let provider = words.next().map(str::to_string);
            assert!(words.next().is_none(), "malformed allow-list line: {l}");
            (!sym.ends_with('*')).then(|| (sym.to_string(), provider))
        })
        .collect()
}

#[test]
fn every_binding_is_on_the_allow_list() {
    let listed: BTreeSet<String> = allow_list().into_iter().map(|(s, _)| s).collect();
    let missing: Vec<_> = bound_symbols()
        .into_iter()
        .filter(|s| !listed.contains(s))
        .collect();
    assert!(
        missing.is_empty(),
        "declared in illumos-sys-hdrs but not in tools/kmod/illumos-kernel-exports.txt: {missing:?}"
    );
}

#[test]
fn every_kernel_entry_of_the_allow_list_is_bound() {
    let bound = bound_symbols();
    let missing: Vec<_> = allow_list()
        .into_iter()
        .filter(|(s, p)| {
            !NOT_BOUND.contains(&s.as_str())
                && !p
                    .as_deref()
                    .is_some_and(|p| NOT_BOUND_PROVIDERS.contains(&p))
                && !bound.contains(s)
        })
        .map(|(s, _)| s)
        .collect();
    assert!(
        missing.is_empty(),
        "on the allow-list but not declared in illumos-sys-hdrs: {missing:?}"
    );
}

#[test]
fn allow_list_has_no_duplicates() {
    let mut seen = BTreeSet::new();
    for (s, _) in allow_list() {
        assert!(seen.insert(s.clone()), "duplicate allow-list entry {s}");
    }
}
