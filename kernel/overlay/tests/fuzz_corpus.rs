//! Replays the fuzz seed corpora on stable Rust, so that every input the
//! fuzzers start from (and every crash they ever found, once added) is
//! checked by the ordinary test run.

use std::path::Path;

fn corpus(dir: &str) -> Vec<Vec<u8>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join(dir);
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(!files.is_empty(), "empty corpus {}", dir.display());
    files.iter().map(|f| std::fs::read(f).unwrap()).collect()
}

#[test]
fn ioctl_corpus_replays_without_panic() {
    let _ = overlay_encap_vxlan::overlay_vxlan_init();
    for input in corpus("fuzz/corpus/ioctl") {
        overlay::testing::fuzz::ioctl_one(&input);
    }
}
